/**
 * Campaigns end to end (issue 18's acceptance) with real parts only, over HTTP and SMTP on
 * 127.0.0.1: the Mixpanel emulator's webhook sender pushes a cohort → a segment "in the cohort"
 * with the email channel's `subscribed_or_opted_in` rule (so: in the cohort and subscribed) → an
 * email campaign with a control group and a conversion event → one SMTP delivery per reachable
 * user to the mail sink with a personalized subject → opens and clicks fetched over HTTP by the
 * sink → a conversion event tracked → a Mixpanel Current exports → the Mixpanel emulator holds
 * exactly the expected Send, Delivery, Open, Click, Conversion and EnrollInControl, with the right
 * campaign_id, message_variation_id, send_id and (on message and Conversion events, per the catalogue) dispatch_id.
 */
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMailSink, type RunningMailSink } from '../src/emulator/mail-sink/index.js';
import type { RunningMixpanelEmulator } from '../src/emulator/mixpanel/index.js';
import { TEST_BACKEND } from '../src/test-support/db.js';
import { freePort } from '../src/test-support/net.js';
import { startTestServer, type TestServer } from '../src/test-support/server.js';
import { allLogEvents, byInsertId, connectorBody, expectedFor, projectCreds, startEmulator, waitFor } from './currents-support.js';

const P = projectCreds('5301');
const TYPES = [
  'users.messages.email.Send',
  'users.messages.email.Delivery',
  'users.messages.email.Open',
  'users.messages.email.Click',
  'users.campaigns.Conversion',
  'users.campaigns.EnrollInControl',
];
let s: TestServer;
let sink: RunningMailSink;
let mp: RunningMixpanelEmulator;

const json = async (base: string, method: 'GET' | 'POST', path: string, body?: unknown): Promise<any> =>
  (await (await request(base + path, { method, headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) })).body.json());

beforeAll(async () => {
  sink = await startMailSink();
  mp = await startEmulator([P]);
  const port = await freePort();
  s = await startTestServer({ PORT: String(port), RIVULET_PUBLIC_URL: `http://127.0.0.1:${port}`, SMTP_URL: sink.smtpUrl, RIVULET_SEND_POLL_MS: '50', RIVULET_CURRENTS_IDLE_POLL_MS: '50' });
  const attributes = Array.from({ length: 12 }, (_, i) => ({
    external_id: `u${i}`,
    first_name: `Name${i}`,
    email: `u${i}@example.com`,
    ...(i === 1 ? { email_subscribe: 'unsubscribed' } : {}),
  }));
  expect((await s.call('POST', '/users/track', { attributes })).status).toBe(201);
}, 120_000);
afterAll(async () => {
  await s?.close();
  await sink?.close();
  await mp?.close();
});

describe(`campaign end to end on ${TEST_BACKEND}`, () => {
  it('cohort → segment → email campaign → sink, opens, clicks, conversion → Mixpanel holds exactly the expected events', { timeout: 300_000 }, async () => {
    // 1. The emulator pushes cohort 42 (u0–u9; u1 unsubscribed, u10 and u11 outside) to Rivulet.
    const importKey = (await s.call('POST', '/admin/import-keys', { partner: 'mixpanel' })).body.key;
    await json(mp.url, 'POST', '/_emulator/cohorts', { project_id: P.projectId, id: 42, name: 'Buyers', members: Array.from({ length: 10 }, (_, i) => `u${i}`) });
    const sync = await json(mp.url, 'POST', '/_emulator/webhook-syncs', { project_id: P.projectId, url: `${s.url}/partners/mixpanel/webhook`, username: 'mixpanel', password: importKey, cohort_ids: [42], schedule: { every_seconds: 86_400 }, start: false });
    expect((await json(mp.url, 'POST', `/_emulator/webhook-syncs/${sync.id}/run`)).status).toBe('succeeded');
    const { rows: cohorts } = await s.testDb.db.query<{ id: string }>(`SELECT id FROM cohorts WHERE partner_cohort_id = $1`, [`${P.projectId}:42`]);
    expect(cohorts).toHaveLength(1);

    // 2. The Current, exporting the campaign's events to the emulated Mixpanel.
    const connector = await s.call('POST', '/admin/currents/mixpanel', connectorBody(mp.url, P, { name: 'Campaign events', event_types: TYPES }));
    expect(connector.status).toBe(201);

    // 3. Segment and campaign: 70 % variant, 30 % control, conversion on "upgraded".
    const segment = await s.call('POST', '/admin/segments', { name: 'Buyers cohort', filter: { filter: 'Mixpanel_Cohorts', op: 'includes', value: cohorts[0]!.id } });
    expect(segment.status).toBe(201);
    const created = await s.call('POST', '/admin/campaigns', {
      name: 'Upgrade',
      channel: 'email',
      audience: { segment_id: segment.body.id },
      send_to: 'subscribed_or_opted_in',
      from: { address: 'news@rivulet.test', name: 'Rivulet' },
      control_percent: 30,
      variants: [{ id: 'offer', name: 'Offer', percent: 70, email: { subject: 'Hi {{${first_name}}}, upgrade today', html: '<p>Hello {{${first_name}}} <a href="https://shop.example/upgrade">upgrade</a></p>' } }],
      conversion_behaviors: [{ type: 'performs_custom_event', custom_event_name: 'upgraded', window: 3600 }],
    });
    expect(created.status).toBe(201);
    const campaignId = created.body.id;
    const launched = await s.call('POST', `/admin/campaigns/${campaignId}/launch`);
    expect(launched.status).toBe(201);
    const dispatchId = launched.body.dispatch_id;

    const sends = await waitFor(async () => {
      const { rows } = await s.testDb.db.query<{ send_key: string; external_id: string; variant_id: string; state: string }>(
        `SELECT s.send_key, u.external_id, s.variant_id, s.state FROM campaign_sends s JOIN users u ON u.id = s.user_id WHERE s.campaign_id = $1 ORDER BY u.external_id`,
        [campaignId],
      );
      return rows.length === 10 && rows.every((r) => r.state !== 'queued') ? rows : undefined;
    }, 'every send to end', 120_000);
    const delivered = sends.filter((r) => r.state === 'delivered');
    const control = sends.filter((r) => r.state === 'control');
    expect(sends.filter((r) => r.external_id === 'u1')[0]!.state).toMatch(/skipped|control/);
    expect(delivered.length + control.length + sends.filter((r) => r.state === 'skipped').length).toBe(10);
    expect(delivered.length).toBeGreaterThan(0);

    // 4. One SMTP delivery per reachable user, subject personalized.
    const box = await json(sink.url, 'GET', '/messages?limit=1000');
    expect(box.total).toBe(delivered.length);
    expect(box.messages.map((m: any) => `${m.to[0]} ${m.subject} ${m.send_id}`).sort()).toEqual(
      delivered.map((r) => `${r.external_id}@example.com Hi Name${r.external_id.slice(1)}, upgrade today ${r.send_key}`).sort(),
    );
    // 5. The first recipient opens and clicks; through the sink, over HTTP.
    const first = box.messages.find((m: any) => m.send_id === delivered[0]!.send_key);
    expect((await json(sink.url, 'POST', `/messages/${first.id}/open`)).fetched[0].status).toBe(200);
    expect((await json(sink.url, 'POST', `/messages/${first.id}/click`, { index: 0 })).status).toBe(302);

    // 6. The clicker and (if any) a control user convert.
    const converters = [delivered[0]!, ...(control.length ? [control[0]!] : [])];
    const time = new Date().toISOString();
    expect((await s.call('POST', '/users/track', { events: converters.map((c) => ({ external_id: c.external_id, name: 'upgraded', time })) })).status).toBe(201);
    await waitFor(async () => {
      const log = await allLogEvents(s.testDb.db, s.workspaceId);
      return log.filter((e) => e.event_type === 'users.campaigns.Conversion').length === converters.length;
    }, 'the conversions', 120_000);

    // 7. The Mixpanel emulator holds exactly the mapping of those log events.
    const log = (await allLogEvents(s.testDb.db, s.workspaceId)).filter((e) => TYPES.includes(e.event_type));
    const count = (t: string) => log.filter((e) => e.event_type === t).length;
    expect(count('users.messages.email.Send')).toBe(delivered.length);
    expect(count('users.messages.email.Delivery')).toBe(delivered.length);
    expect(count('users.messages.email.Open')).toBe(1);
    expect(count('users.messages.email.Click')).toBe(1);
    expect(count('users.campaigns.EnrollInControl')).toBe(control.length);
    expect(count('users.campaigns.Conversion')).toBe(converters.length);
    const bySend = new Map(sends.map((r) => [r.send_key, r]));
    for (const e of log) {
      const send = bySend.get(e.properties.send_id as string)!;
      expect(send).toBeDefined();
      expect(e.properties).toMatchObject({ campaign_id: campaignId, message_variation_id: send.variant_id });
      // The catalogue gives dispatch_id to message events and Conversion; EnrollInControl has none.
      if (e.event_type.startsWith('users.messages.') || e.event_type === 'users.campaigns.Conversion') expect(e.properties.dispatch_id).toBe(dispatchId);
      else expect(e.properties.dispatch_id).toBeUndefined();
    }
    const expected = expectedFor(log, TYPES, P.token).events.sort(byInsertId);
    expect(expected).toHaveLength(log.length);
    const exported = await waitFor(async () => {
      const got = mp.emulator.events(P.projectId);
      return got.length >= expected.length ? got.sort(byInsertId) : undefined;
    }, 'the Current to export', 120_000);
    expect(exported).toEqual(expected);
    for (const e of exported) expect(e.properties).toMatchObject({ campaign_id: campaignId });
  });
});
