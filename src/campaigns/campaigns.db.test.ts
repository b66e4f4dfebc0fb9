/**
 * Campaigns end to end with real parts: users tracked over HTTP, a segment, an email campaign sent
 * over SMTP to the mail sink with a control group, opens, clicks and a one-click unsubscribe fetched
 * over HTTP, a hard bounce; a webhook campaign whose rendered URL is refused for one user. The event
 * log must then hold exactly the expected events, each valid against the Currents catalogue.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Braze } from 'braze-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMailSink, type RunningMailSink } from '../emulator/mail-sink/index.js';
import { assignVariant } from './assignment.js';
import { validateCurrentsEvent } from '../events/catalogue.js';
import { LOG_START, readEvents, type StoredEvent } from '../events/log.js';
import { TEST_BACKEND } from '../test-support/db.js';
import { freePort, jsonApi, untilWithin } from '../test-support/net.js';
import { startTestServer, type TestServer } from '../test-support/server.js';

let s: TestServer;
let sink: RunningMailSink;
let hooks: Server;
let hookPort: number;
const hookCalls: Array<{ url: string; headers: Record<string, unknown>; body: string }> = [];

const until = untilWithin(45_000);

const sinkApi = jsonApi(() => sink.url);

async function events(): Promise<StoredEvent[]> {
  return readEvents(s.testDb.db, LOG_START, 100_000, s.workspaceId);
}

beforeAll(async () => {
  sink = await startMailSink();
  hooks = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      hookCalls.push({ url: req.url!, headers: req.headers, body });
      res.writeHead(200).end('{}');
    });
  });
  await new Promise<void>((r) => hooks.listen(0, '127.0.0.1', r));
  hookPort = (hooks.address() as AddressInfo).port;
  const port = await freePort();
  s = await startTestServer({ PORT: String(port), RIVULET_PUBLIC_URL: `http://127.0.0.1:${port}`, SMTP_URL: sink.smtpUrl, RIVULET_WEBHOOK_ALLOW: '127.0.0.1', RIVULET_SEND_POLL_MS: '50' });
  const attributes = Array.from({ length: 30 }, (_, i) => ({
    external_id: `u${i}`,
    first_name: `Name${i}`,
    email: i === 29 ? undefined : `u${i}@example.com`,
    plan: i < 20 ? 'pro' : 'free',
    ...(i === 1 ? { email_subscribe: 'unsubscribed' } : {}),
    hook: i === 3 ? `http://127.0.0.2:${hookPort}/x` : `http://127.0.0.1:${hookPort}/in`,
  }));
  expect((await s.call('POST', '/users/track', { attributes })).status).toBe(201);
});
afterAll(async () => {
  await s?.close();
  await sink?.close();
  await new Promise((r) => hooks?.close(r));
});

describe(`campaigns on ${TEST_BACKEND}`, () => {
  let segmentId: string;
  const emailCampaign = (over: Record<string, unknown> = {}) => ({
    name: 'Spring',
    channel: 'email',
    audience: { segment_id: segmentId },
    from: { address: 'news@rivulet.test', name: 'Rivulet' },
    control_percent: 30,
    variants: [{ id: 'a', name: 'A', percent: 70, email: { subject: 'Hi {{${first_name}}}', html: '<p>Hello {{${first_name}}}, <a href="https://shop.example/spring">shop</a></p>' } }],
    ...over,
  });

  it('refuses a campaign that cannot launch, naming the field (and line and column)', async () => {
    segmentId = (await s.call('POST', '/admin/segments', { name: 'Pro', filter: { filter: 'custom_attribute', attribute: 'plan', op: 'equals', value: 'pro' } })).body.id;
    const bad = await s.call('POST', '/admin/campaigns', emailCampaign({ variants: [{ id: 'a', percent: 70, email: { subject: 'Hi', html: 'x\n{% if ${first_name} %}' } }] }));
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0]).toMatchObject({ path: 'variants[0].email.html', type: expect.stringContaining('line 2, column 1') });
    const noSegment = await s.call('POST', '/admin/campaigns', emailCampaign({ audience: { segment_id: '00000000-0000-4000-8000-000000000000' } }));
    expect(noSegment.status).toBe(400);
    expect(noSegment.body.errors).toEqual([{ type: 'unknown segment', path: 'audience.segment_id' }]);
    const split = await s.call('POST', '/admin/campaigns', emailCampaign({ control_percent: 40 }));
    expect(split.body.errors).toEqual([{ type: expect.stringContaining('add up to 100'), path: 'variants' }]);
    expect((await s.call('GET', '/admin/campaigns')).body.campaigns).toEqual([]);
  });

  it('sends one personalized email per reachable user through SMTP, with a control group, and logs every moment', async () => {
    const created = await s.call('POST', '/admin/campaigns', emailCampaign());
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ state: 'draft', channel: 'email', control_percent: 30 });
    const id = created.body.id;

    // Who is in control is a stable hash of campaign and user: computed here the same way. One user
    // outside it (not u1, who unsubscribed) gets a 550 from the sink: a hard bounce.
    const { rows: users } = await s.testDb.db.query<{ id: string; external_id: string }>(
      `SELECT id, external_id FROM users WHERE workspace_id = $1 AND custom_attributes->>'plan' = 'pro' ORDER BY external_id`,
      [s.workspaceId],
    );
    expect(users).toHaveLength(20);
    const inControl = new Set(users.filter((u) => assignVariant({ variants: [{ id: 'a', name: 'A', percent: 70 }], control_percent: 30 }, id, u.id) === 'control').map((u) => u.external_id));
    const control = inControl.size;
    const bouncer = users.find((u) => !inControl.has(u.external_id) && u.external_id !== 'u1')!.external_id;
    await sinkApi('PUT', '/rules', { rules: [{ address: `${bouncer}@example.com`, code: 550, message: 'No such user' }] });
    const unsubscribedSkipped = inControl.has('u1') ? 0 : 1;
    const expected = { delivered: 20 - control - unsubscribedSkipped - 1, bounced: 1, skipped: unsubscribedSkipped };

    const launched = await s.call('POST', `/admin/campaigns/${id}/launch`);
    expect(launched.status).toBe(201);
    expect(launched.body.audience_size).toBe(20);
    const dispatchId = launched.body.dispatch_id;

    // Everyone considered ends in a state: u1 unsubscribed is skipped; one bounces; the rest delivered or in control.
    const stats = await until(async () => {
      const st = (await s.call('GET', `/admin/campaigns/${id}/stats`)).body.variants;
      const done = Object.values(st as Record<string, Record<string, number>>).reduce((n, v) => n + v.considered! - (v.queued ?? 0), 0);
      return done === 20 ? st : undefined;
    }, 'the dispatch to finish');
    expect(stats.control?.control ?? 0).toBe(control);
    expect({ delivered: stats.a.delivered ?? 0, bounced: stats.a.bounced ?? 0, skipped: stats.a.skipped ?? 0 }).toEqual(expected);

    const list = await sinkApi('GET', '/messages?limit=100');
    expect(list.total).toBe(expected.delivered);
    // Personalized: each subject names its own recipient.
    for (const m of list.messages) expect(`${m.subject} ${m.to[0]}`).toMatch(/^Hi Name(\d+) u\1@example\.com$/);
    expect((await sinkApi('GET', '/stats')).duplicate_send_ids).toBe(0);

    // The recipient opens, clicks and unsubscribes in one click.
    const first = list.messages[0];
    expect((await sinkApi('POST', `/messages/${first.id}/open`)).fetched[0].status).toBe(200);
    expect(await sinkApi('POST', `/messages/${first.id}/click`, { index: 0 })).toMatchObject({ status: 302, location: 'https://shop.example/spring' });
    expect((await sinkApi('POST', `/messages/${first.id}/unsubscribe`)).status).toBe(200);

    const after = (await s.call('GET', `/admin/campaigns/${id}/stats`)).body.variants.a;
    expect(after).toMatchObject({ unique_opens: 1, unique_clicks: 1, unsubscribes: 1 });

    const logged = await until(async () => {
      const all = (await events()).filter((e) => e.properties.campaign_id === id);
      return all.some((e) => e.event_type.endsWith('GlobalStateChange')) ? all : undefined;
    }, 'the unsubscribe events');
    const count = (t: string) => logged.filter((e) => e.event_type === t).length;
    const delivered = expected.delivered;
    expect(count('users.campaigns.EnrollInControl')).toBe(control);
    expect(count('users.messages.email.Send')).toBe(delivered + expected.bounced);
    expect(count('users.messages.email.Delivery')).toBe(delivered);
    expect(count('users.messages.email.Bounce')).toBe(expected.bounced);
    expect(count('users.messages.email.Open')).toBe(1);
    expect(count('users.messages.email.Click')).toBe(1);
    expect(count('users.messages.email.Unsubscribe')).toBe(1);
    expect(count('users.behaviors.subscription.GlobalStateChange')).toBe(1);
    for (const e of logged) {
      const { seq: _s, txid: _t, workspace_id: _w, ...wire } = e;
      expect(validateCurrentsEvent(wire, Math.floor(Date.now() / 1000) + 60)).toMatchObject({ ok: true });
    }
    const send = logged.find((e) => e.event_type === 'users.messages.email.Send')!;
    expect(send.properties).toMatchObject({ campaign_id: id, campaign_name: 'Spring', message_variation_id: 'a', dispatch_id: dispatchId, email_address: expect.stringMatching(/@example\.com$/), send_id: expect.any(String) });
    const bounce = logged.find((e) => e.event_type === 'users.messages.email.Bounce')!;
    expect(bounce.properties).toMatchObject({ email_address: `${bouncer}@example.com`, bounce_reason: expect.stringContaining('No such user') });

    // A second launch: the unsubscribed and the hard-bounced addresses are skipped, nobody is sent twice a dispatch.
    const again = await s.call('POST', `/admin/campaigns/${id}/launch`);
    const st2 = await until(async () => {
      const rows = await s.testDb.db.query<{ state: string; reason: string | null; n: number }>(
        `SELECT state, reason, count(*)::int AS n FROM campaign_sends WHERE dispatch_id = $1 GROUP BY state, reason`,
        [again.body.dispatch_id],
      );
      const total = rows.rows.reduce((n, r) => n + r.n, 0);
      return total === 20 && !rows.rows.some((r) => r.state === 'queued') ? rows.rows : undefined;
    }, 'the second dispatch');
    expect(st2).toEqual(expect.arrayContaining([{ state: 'skipped', reason: 'hard_bounced', n: 1 }, expect.objectContaining({ state: 'skipped', reason: 'unsubscribed' })]));
    await sinkApi('PUT', '/rules', { rules: [] });
  });

  it('sends webhooks rendered per user and aborts the one whose URL names a refused address', async () => {
    const created = await s.call('POST', '/admin/campaigns', {
      name: 'Hook',
      channel: 'webhook',
      audience: { segment_id: segmentId },
      variants: [{ id: 'w', percent: 100, webhook: { url: '{{custom_attribute.${hook}}}', method: 'POST', headers: { 'x-user': '{{${user_id}}}' }, body: '{"name":"{{${first_name} | json_escape}}"}' } }],
    });
    expect(created.status).toBe(201);
    hookCalls.length = 0;
    const launched = await s.call('POST', `/admin/campaigns/${created.body.id}/launch`);
    const stats = await until(async () => {
      const st = (await s.call('GET', `/admin/campaigns/${created.body.id}/stats`)).body.variants.w;
      return st && st.considered === 20 && !st.queued ? st : undefined;
    }, 'the webhook dispatch');
    expect(stats).toMatchObject({ sent: 19, aborted: 1 });
    expect(hookCalls).toHaveLength(19);
    expect(hookCalls.every((c) => c.url === '/in' && c.headers['idempotency-key'] && /^u\d+$/.test(String(c.headers['x-user'])))).toBe(true);
    expect(JSON.parse(hookCalls[0]!.body).name).toMatch(/^Name\d+$/);
    // The log shows a transaction once every older one on the server has ended (docs/architecture.md#the-event-log).
    const logged = await until(async () => {
      const mine = (await events()).filter((e) => e.properties.dispatch_id === launched.body.dispatch_id);
      return mine.length >= 20 ? mine : undefined;
    }, 'the webhook events to be readable');
    expect(logged.filter((e) => e.event_type === 'users.messages.webhook.Send')).toHaveLength(19);
    const abort = logged.filter((e) => e.event_type === 'users.messages.webhook.Abort');
    expect(abort).toHaveLength(1);
    expect(abort[0]!.properties).toMatchObject({ abort_type: 'blocked_webhook_url', abort_log: expect.stringContaining('127.0.0.2') });
    expect(abort[0]!.user.external_user_id).toBe('u3');
  });

  it('sends an API-triggered campaign to named recipients with their trigger properties, through the braze-api client unchanged', async () => {
    const created = await s.call('POST', '/admin/campaigns', {
      name: 'Receipt',
      channel: 'email',
      delivery: 'api_triggered',
      audience: { segment_id: segmentId },
      from: { address: 'orders@rivulet.test' },
      send_to: 'all',
      variants: [{ id: 'r', percent: 100, email: { subject: 'Order {{api_trigger_properties.${order}}} for {{${first_name}}}', html: '<p>Use {{api_trigger_properties.${coupon} | default: "NONE"}}</p>' } }],
    });
    expect(created.status).toBe(201);
    const id = created.body.id;
    const braze = new Braze(s.url, s.key);
    // Not launched yet: a trigger is refused and sends nothing.
    await expect(braze.campaigns.trigger.send({ campaign_id: id, recipients: [{ external_user_id: 'u0' }] })).rejects.toThrow(/Invalid Campaign ID/);
    expect((await s.call('POST', `/admin/campaigns/${id}/launch`)).body).toEqual({ dispatch_id: null, state: 'active' });

    const before = (await sinkApi('GET', '/messages?limit=1')).total;
    const answer = (await braze.campaigns.trigger.send({
      campaign_id: id,
      trigger_properties: { order: 'A-1', coupon: 'TOP' },
      recipients: [{ external_user_id: 'u2', trigger_properties: { order: 'B-2' } }, { external_user_id: 'u2' }, { external_user_id: 'u25' }, { external_user_id: 'nobody' }],
    })) as any;
    expect(answer).toMatchObject({ message: 'success', dispatch_id: expect.any(String), errors: [{ type: 'user not found', path: 'recipients[3]' }] });

    const rows = await until(async () => {
      const r = await s.testDb.db.query<{ state: string; reason: string | null }>(`SELECT state, reason FROM campaign_sends WHERE dispatch_id = $1 ORDER BY state`, [answer.dispatch_id]);
      return r.rows.length === 2 && !r.rows.some((x) => x.state === 'queued') ? r.rows : undefined;
    }, 'the trigger dispatch');
    // u25 is not in the campaign's segment (plan = free): considered and skipped. u2 named twice: one message.
    expect(rows).toEqual([{ state: 'delivered', reason: null }, { state: 'skipped', reason: 'not_in_audience' }]);
    const list = await sinkApi('GET', '/messages?to=u2@example.com&limit=5');
    const receipt = list.messages.find((m: any) => m.subject.startsWith('Order'));
    expect(receipt.subject).toBe('Order B-2 for Name2');
    expect((await sinkApi('GET', `/messages/${receipt.id}`)).html).toContain('Use TOP');
    expect((await sinkApi('GET', '/messages?limit=1')).total).toBe(before + 1);

    // Bad requests: each a 400 naming the field, and no dispatch.
    const dispatches = async () => Number((await s.testDb.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM campaign_dispatches WHERE campaign_id = $1`, [id])).rows[0]!.n);
    const count = await dispatches();
    const trigger = (body: unknown) => s.call('POST', '/campaigns/trigger/send', body);
    expect((await trigger({ campaign_id: id })).body).toMatchObject({ message: 'No Recipients' });
    expect((await trigger({ campaign_id: id, broadcast: true, recipients: [{ external_user_id: 'u0' }] })).body.errors).toEqual([{ type: 'broadcast cannot be combined with recipients', path: 'broadcast' }]);
    expect((await trigger({ campaign_id: id, recipients: Array.from({ length: 51 }, (_, i) => ({ external_user_id: `u${i}` })) })).body.message).toBe('The max number of external_ids and aliases per request was exceeded');
    expect((await trigger({ campaign_id: id, recipients: [{ external_user_id: 'u0', braze_id: 'x' }] })).body.errors[0].path).toBe('recipients[0]');
    expect((await trigger({ campaign_id: id, recipients: [{ external_user_id: 'u0' }], trigger_properties: { big: 'x'.repeat(51 * 1024) } })).body.errors).toEqual([{ type: 'trigger_properties is larger than 51200 bytes', path: 'trigger_properties' }]);
    const launchType = (await s.call('GET', '/admin/campaigns')).body.campaigns.find((c: any) => c.name === 'Spring').id;
    expect((await trigger({ campaign_id: launchType, recipients: [{ external_user_id: 'u0' }] })).body.message).toBe('Invalid Campaign ID');
    const limited = await s.call('POST', '/campaigns/trigger/send', { campaign_id: id, broadcast: true }, { key: await s.createKey(['users.track']) });
    expect(limited.status).toBe(403);
    expect(await dispatches()).toBe(count);
  });
});
