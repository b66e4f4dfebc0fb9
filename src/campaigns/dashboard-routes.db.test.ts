/**
 * The dashboard's campaign routes through real HTTP: preview renders for a chosen user and names a
 * bad template's field, line and column; a test send reaches the mail sink over SMTP (and a refusal
 * is a 502); overview, progress and a user's messages follow a real send.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMailSink, type RunningMailSink } from '../emulator/mail-sink/index.js';
import { TEST_BACKEND } from '../test-support/db.js';
import { startTestServer, type TestServer } from '../test-support/server.js';

let s: TestServer;
let sink: RunningMailSink;

async function until<T>(probe: () => Promise<T | undefined>, what: string, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  sink = await startMailSink();
  s = await startTestServer({ SMTP_URL: sink.smtpUrl, RIVULET_SEND_POLL_MS: '50' });
  const attributes = Array.from({ length: 5 }, (_, i) => ({ external_id: `d${i}`, first_name: `Dee${i}`, email: `d${i}@example.com`, group: 'dash' }));
  expect((await s.call('POST', '/users/track', { attributes })).status).toBe(201);
});
afterAll(async () => {
  await s?.close();
  await sink?.close();
});

const email = { subject: 'Hi {{${first_name} | default: "you"}}', html: '<p>Hello {{${first_name}}}</p>' };

describe(`dashboard campaign routes on ${TEST_BACKEND}`, () => {
  it('previews a variant for a chosen user, or an empty profile, and names a bad template field', async () => {
    const r = await s.call('POST', '/admin/campaigns/preview', { channel: 'email', variant: { email }, external_id: 'd2' });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ ok: true, user: { external_id: 'd2', email: 'd2@example.com' }, email: { subject: 'Hi Dee2', html: '<p>Hello Dee2</p>' } });
    expect((await s.call('POST', '/admin/campaigns/preview', { channel: 'email', variant: { email } })).body.email.subject).toBe('Hi you');
    const hook = await s.call('POST', '/admin/campaigns/preview', { channel: 'webhook', variant: { webhook: { url: 'https://x.example/{{${first_name}}}', body: '{"n":"{{${first_name}}}"}' } }, external_id: 'd1' });
    expect(hook.body.webhook).toEqual({ url: 'https://x.example/Dee1', method: 'POST', headers: {}, body: '{"n":"Dee1"}' });
    const bad = await s.call('POST', '/admin/campaigns/preview', { channel: 'email', variant: { email: { subject: 'ok', html: 'a\n{% if x %}' } } });
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0]).toMatchObject({ path: 'variant.email.html', type: expect.stringContaining('line 2, column 1') });
    const nobody = await s.call('POST', '/admin/campaigns/preview', { channel: 'email', variant: { email }, external_id: 'nobody' });
    expect(nobody.status).toBe(400);
    expect(nobody.body.errors).toEqual([{ type: 'unknown user', path: 'external_id' }]);
    expect((await s.call('POST', '/admin/campaigns/preview', { channel: 'sms', variant: { email } })).status).toBe(400);
  });

  it('test-sends to an address through SMTP; a refusal is a 502 naming the address field', async () => {
    const r = await s.call('POST', '/admin/campaigns/test-send', { to: 'qa@example.com', from: { address: 'news@rivulet.test' }, email, external_id: 'd3' });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ delivered: true });
    const got = await until(async () => sink.store.list({ to: 'qa@example.com', limit: 5 }).messages[0], 'the test message');
    expect(got.subject).toBe('[Test] Hi Dee3');
    sink.store.setRules([{ address: 'gone@example.com', code: 550, message: 'No such user' }]);
    const refused = await s.call('POST', '/admin/campaigns/test-send', { to: 'gone@example.com', from: { address: 'news@rivulet.test' }, email });
    expect(refused.status).toBe(502);
    expect(refused.body.errors[0].path).toBe('to');
    expect((await s.call('POST', '/admin/campaigns/test-send', { to: 'not-an-address', from: { address: 'news@rivulet.test' }, email })).status).toBe(400);
  });

  it('reports overview, progress per dispatch and a user\'s messages after a real send', async () => {
    const segment = (await s.call('POST', '/admin/segments', { name: 'Dash', filter: { filter: 'custom_attribute', attribute: 'group', op: 'equals', value: 'dash' } })).body;
    const c = (await s.call('POST', '/admin/campaigns', { name: 'Dash', channel: 'email', audience: { segment_id: segment.id }, from: { address: 'news@rivulet.test' }, variants: [{ id: 'a', percent: 100, email }] })).body;
    expect((await s.call('GET', `/admin/campaigns/${c.id}/progress`)).body).toEqual({ campaign_id: c.id, state: 'draft', dispatches: [] });
    expect((await s.call('POST', `/admin/campaigns/${c.id}/launch`)).status).toBe(201);
    const done = await until(async () => {
      const d = (await s.call('GET', `/admin/campaigns/${c.id}/progress`)).body.dispatches[0];
      return d?.state === 'resolved' && d.queued === 0 ? d : undefined;
    }, 'the dispatch to end');
    expect(done).toMatchObject({ total: 5, sent: 5, failed: 0, aborted: 0 });
    const overview = (await s.call('GET', '/admin/campaigns/overview')).body.campaigns.find((x: { id: string }) => x.id === c.id);
    expect(overview.totals).toMatchObject({ sent: 5, delivered: 5, unique_opens: 0, bounces: 0, conversions: null });
    expect(overview.variants).toHaveLength(1);
    const user = (await s.call('GET', '/admin/users/lookup?external_id=d4')).body.profile;
    const mine = (await s.call('GET', `/admin/campaigns/recipients/${user.braze_id}`)).body;
    expect(mine.subscriptions).toMatchObject({ email_hard_bounced: false, email_spam_reported: false });
    expect(mine.messages).toEqual([expect.objectContaining({ campaign_id: c.id, campaign_name: 'Dash', state: 'delivered', variant_id: 'a' })]);
    expect((await s.call('GET', '/admin/campaigns/00000000-0000-4000-8000-000000000000/progress')).status).toBe(404);
    expect((await s.call('GET', '/admin/campaigns/recipients/00000000-0000-4000-8000-000000000000')).status).toBe(404);
  });
});
