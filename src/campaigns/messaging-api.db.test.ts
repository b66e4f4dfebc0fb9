/**
 * The Braze-shaped messaging API over real HTTP (docs/reference/messaging-api.md): `/messages/send`
 * through the `braze-api` client unchanged, email over SMTP to the mail sink and a webhook to a local
 * server; bad input answered 400 naming the field with nothing dispatched; scheduled sends and a
 * daily campaign schedule fired by the send workers on an injected clock; and a one-click
 * unsubscribe and a hard bounce shown by `/subscription/status/get`, `/email/unsubscribes` and
 * `/email/hard_bounces`.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Braze } from 'braze-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMailSink, type RunningMailSink } from '../emulator/mail-sink/index.js';
import { LOG_START, readEvents } from '../events/log.js';
import { TEST_BACKEND } from '../test-support/db.js';
import { freePort, jsonApi, untilWithin } from '../test-support/net.js';
import { startTestServer, type TestServer } from '../test-support/server.js';

let s: TestServer;
let sink: RunningMailSink;
let hooks: Server;
let hookPort: number;
const hookCalls: Array<{ url: string; method: string; body: string }> = [];
/** The clock the campaign schedules read: real time plus what the test moved it on. */
let offsetMs = 0;
const clock = () => Date.now() + offsetMs;
const HOUR = 3_600_000;

const until = untilWithin(60_000);

const sinkApi = jsonApi(() => sink.url);

const sendStates = async (dispatchId: string) =>
  (await s.testDb.db.query<{ external_id: string; state: string; reason: string | null }>(
    `SELECT u.external_id, s.state, s.reason FROM campaign_sends s JOIN users u ON u.id = s.user_id WHERE s.dispatch_id = $1 ORDER BY u.external_id`,
    [dispatchId],
  )).rows;
/** The send rows of a dispatch once none is queued any more. */
const settled = (dispatchId: string, n: number) =>
  until(async () => {
    const rows = await sendStates(dispatchId);
    return rows.length === n && !rows.some((r) => r.state === 'queued') ? rows : undefined;
  }, `dispatch ${dispatchId}`);
const dispatchCount = async () => Number((await s.testDb.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM campaign_dispatches`)).rows[0]!.n);

const email = (over: Record<string, unknown> = {}) => ({ app_id: 'web', from: 'Rivulet <news@rivulet.example>', subject: 'Hi {{${first_name}}}', body: '<p>Hello {{${first_name} | default: "there"}}</p>', ...over });

beforeAll(async () => {
  sink = await startMailSink();
  hooks = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      hookCalls.push({ url: req.url!, method: req.method!, body });
      res.writeHead(200).end('{}');
    });
  });
  await new Promise<void>((r) => hooks.listen(0, '127.0.0.1', r));
  hookPort = (hooks.address() as AddressInfo).port;
  const port = await freePort();
  s = await startTestServer(
    { PORT: String(port), RIVULET_PUBLIC_URL: `http://127.0.0.1:${port}`, SMTP_URL: sink.smtpUrl, RIVULET_WEBHOOK_ALLOW: '127.0.0.1', RIVULET_SEND_POLL_MS: '50' },
    { campaigns: { now: clock } },
  );
  const attributes = Array.from({ length: 10 }, (_, i) => ({ external_id: `m${i}`, first_name: `Name${i}`, email: `m${i}@example.com`, plan: i < 5 ? 'pro' : 'free' }));
  expect((await s.call('POST', '/users/track', { attributes })).status).toBe(201);
});
afterAll(async () => {
  await s?.close();
  await sink?.close();
  await new Promise((r) => hooks?.close(r));
});

describe(`messaging API on ${TEST_BACKEND}`, () => {
  it('sends API-only email and webhook messages to named users through the braze-api client unchanged', async () => {
    const braze = new Braze(s.url, s.key);
    const answer = (await braze.messages.send({
      external_user_ids: ['m0', 'm1', 'm0', 'nobody'],
      messages: {
        email: email() as any,
        webhook: { url: `http://127.0.0.1:${hookPort}/hook/{{\${user_id}}}`, request_method: 'POST', body: '{"name":"{{${first_name}}}"}' } as any,
      },
    })) as any;
    expect(answer).toMatchObject({ message: 'success', dispatch_id: expect.any(String), errors: [{ type: 'user not found', path: 'external_user_ids[3]' }] });
    expect(await settled(answer.dispatch_id, 2)).toEqual([
      { external_id: 'm0', state: 'delivered', reason: null },
      { external_id: 'm1', state: 'delivered', reason: null },
    ]);
    const got = await sinkApi('GET', '/messages?to=m0@example.com&limit=5');
    expect(got.messages.map((m: any) => m.subject)).toEqual(['Hi Name0']);
    const hookFor = await until(async () => (hookCalls.filter((c) => c.url.startsWith('/hook/m')).length === 2 ? hookCalls : undefined), 'two webhook calls');
    expect(hookFor.map((c) => JSON.parse(c.body).name).sort()).toEqual(['Name0', 'Name1']);
    // Each message's Send event carries its dispatch.
    const sends = await until(async () => {
      const ev = (await readEvents(s.testDb.db, LOG_START, 10_000, s.workspaceId)).filter((e) => e.event_type === 'users.messages.email.Send' && e.properties.dispatch_id === answer.dispatch_id);
      return ev.length === 2 ? ev : undefined;
    }, 'the Send events');
    expect(sends.map((e) => e.user.external_user_id).sort()).toEqual(['m0', 'm1']);
    // Sent without a campaign_id: the events name no campaign (spec: campaign_id null).
    expect(sends.map((e) => [e.properties.campaign_id, e.properties.campaign_name])).toEqual([
      [null, undefined],
      [null, undefined],
    ]);
    // The hidden API campaign does not show in /campaigns/list.
    expect((await s.call('GET', '/campaigns/list')).body.campaigns).toEqual([]);
  });

  it('answers bad input with a 400 naming the field and dispatches nothing', async () => {
    const before = await dispatchCount();
    const send = (body: unknown) => s.call('POST', '/messages/send', body);
    const cases: Array<[unknown, string, string?]> = [
      [{ messages: { email: email() } }, 'external_user_ids', 'No Recipients'],
      [{ external_user_ids: Array.from({ length: 51 }, (_, i) => `m${i}`), messages: { email: email() } }, 'external_user_ids', 'The max number of external_ids and aliases per request was exceeded'],
      [{ external_user_ids: ['m0'], messages: {} }, 'messages', 'No message to send'],
      [{ external_user_ids: ['m0'], messages: { sms: { body: 'x' } } }, 'messages.sms', 'Channel not enabled: sms'],
      [{ external_user_ids: ['m0'], messages: { email: email({ subject: 'Hi {% if x %}' }) } }, 'messages.email.subject'],
      [{ external_user_ids: ['m0'], messages: { email: email({ from: undefined }) } }, 'messages.email.from'],
      [{ external_user_ids: ['m0'], messages: { webhook: { url: 'http://127.0.0.1/x' } } }, 'messages.webhook.request_method'],
      [{ segment_id: '00000000-0000-4000-8000-000000000000', messages: { email: email() } }, 'segment_id'],
      [{ segment_id: 'not-a-uuid', messages: { email: email() } }, 'segment_id'],
      [{ external_user_ids: ['m0'], campaign_id: '00000000-0000-4000-8000-000000000000', messages: { email: email() } }, 'campaign_id', 'Invalid Campaign ID'],
      // A valid webhook with a broken email: nothing of the request is sent.
      [{ external_user_ids: ['m0'], messages: { webhook: { url: `http://127.0.0.1:${hookPort}/no`, request_method: 'POST' }, email: email({ body: '<p>{% for %}</p>' }) } }, 'messages.email.body'],
    ];
    for (const [body, path, message] of cases) {
      const r = await send(body);
      expect({ status: r.status, path: r.body.errors?.[0]?.path }, JSON.stringify(body).slice(0, 120)).toEqual({ status: 400, path });
      if (message) expect(r.body.message).toBe(message);
    }
    const sched = (schedule: unknown) => s.call('POST', '/messages/schedule/create', { external_user_ids: ['m0'], messages: { email: email() }, schedule });
    expect((await sched({ time: new Date(clock() - 60_000).toISOString() })).body.errors).toEqual([{ type: 'schedule.time is in the past', path: 'schedule.time' }]);
    expect((await sched({ time: 'tomorrow' })).body.errors[0].path).toBe('schedule.time');
    expect((await sched(undefined)).body.errors[0].path).toBe('schedule');
    expect((await sched({ time: new Date(clock() + HOUR).toISOString(), at_optimal_time: true })).body.errors[0].path).toBe('schedule.at_optimal_time');
    const limited = await s.call('POST', '/messages/send', { external_user_ids: ['m0'], messages: { email: email() } }, { key: await s.createKey(['campaigns.trigger.send']) });
    expect(limited.status).toBe(403);
    expect(await dispatchCount()).toBe(before);
    expect((await s.testDb.db.query(`SELECT 1 FROM campaign_schedules`)).rows).toEqual([]);
  });

  it('runs a scheduled message at its time (updated, one deleted) and a daily campaign schedule once a day, on the injected clock', async () => {
    const braze = new Braze(s.url, s.key);
    const at = (ms: number) => new Date(clock() + ms).toISOString();
    const created = (await braze.messages.schedule.create({ external_user_ids: ['m2'], messages: { email: email({ subject: 'Later {{${first_name}}}' }) as any }, schedule: { time: at(HOUR) } } as any)) as any;
    expect(created).toMatchObject({ message: 'success', dispatch_id: expect.any(String), schedule_id: expect.any(String) });
    const doomed = (await braze.messages.schedule.create({ external_user_ids: ['m3'], messages: { email: email({ subject: 'Never' }) as any }, schedule: { time: at(HOUR) } } as any)) as any;
    expect((await s.call('POST', '/messages/schedule/update', { schedule_id: created.schedule_id, schedule: { time: at(2 * HOUR) } })).status).toBe(201);
    expect((await s.call('POST', '/messages/schedule/delete', { schedule_id: doomed.schedule_id })).status).toBe(201);
    expect((await s.call('POST', '/messages/schedule/delete', { schedule_id: doomed.schedule_id })).body.errors[0].path).toBe('schedule_id');

    offsetMs += HOUR + 1000; // the first time it had: nothing yet
    await new Promise((r) => setTimeout(r, 500));
    const dispatched = async (id: string) => (await s.testDb.db.query(`SELECT 1 FROM campaign_dispatches WHERE id = $1`, [id])).rows.length === 1;
    expect(await dispatched(created.dispatch_id)).toBe(false);
    offsetMs += HOUR;
    expect(await settled(created.dispatch_id, 1)).toEqual([{ external_id: 'm2', state: 'delivered', reason: null }]);
    expect(await dispatched(doomed.dispatch_id)).toBe(false);
    expect((await sinkApi('GET', '/messages?to=m3@example.com&limit=5')).messages.filter((m: any) => m.subject === 'Never')).toEqual([]);
    // Started: no longer updatable.
    expect((await s.call('POST', '/messages/schedule/update', { schedule_id: created.schedule_id, schedule: { time: at(HOUR) } })).status).toBe(400);

    // A campaign sent to its segment every day.
    const segmentId = (await s.call('POST', '/admin/segments', { name: 'Free', filter: { filter: 'custom_attribute', attribute: 'plan', op: 'equals', value: 'free' } })).body.id;
    const campaign = await s.call('POST', '/admin/campaigns', {
      name: 'Daily digest',
      channel: 'email',
      audience: { segment_id: segmentId },
      from: { address: 'news@rivulet.example' },
      variants: [{ id: 'd', percent: 100, email: { subject: 'Digest for {{${first_name}}}', html: '<p>News</p>' } }],
    });
    expect(campaign.status).toBe(201);
    const path = `/admin/campaigns/${campaign.body.id}/schedules`;
    expect((await s.call('POST', path, { time: at(-HOUR), recurrence: 'day' })).body.errors[0].path).toBe('time');
    expect((await s.call('POST', path, { time: at(HOUR), recurrence: 'hourly' })).body.errors[0].path).toBe('recurrence');
    const schedule = await s.call('POST', path, { time: at(HOUR), recurrence: 'day' });
    expect(schedule.status).toBe(201);
    offsetMs += HOUR + 1000;
    expect(await settled(schedule.body.dispatch_id, 5)).toHaveLength(5);
    expect((await s.call('GET', `/campaigns/details?campaign_id=${campaign.body.id}`)).body).toMatchObject({ name: 'Daily digest', schedule_type: 'recurring', channels: ['email'], enabled: true });
    offsetMs += 24 * HOUR;
    const runs = await until(async () => {
      const r = await s.testDb.db.query<{ id: string }>(`SELECT id FROM campaign_dispatches WHERE campaign_id = $1`, [campaign.body.id]);
      return r.rows.length === 2 ? r.rows : undefined;
    }, 'the second daily run');
    const second = runs.find((r) => r.id !== schedule.body.dispatch_id)!.id;
    await settled(second, 5);
    // Several pollers, one database: a run is fired once; the schedule now waits for the third day.
    await new Promise((r) => setTimeout(r, 500));
    const row = (await s.testDb.db.query<{ runs: number; state: string; run_at: Date }>(`SELECT runs, state, run_at FROM campaign_schedules WHERE id = $1`, [schedule.body.schedule_id])).rows[0]!;
    expect({ runs: row.runs, state: row.state }).toEqual({ runs: 2, state: 'scheduled' });
    expect(new Date(row.run_at).getTime()).toBeGreaterThan(clock());
    const digests = (await sinkApi('GET', '/messages?to=m5@example.com&limit=20')).messages.filter((m: any) => m.subject === 'Digest for Name5');
    expect(digests).toHaveLength(2);
  });

  it('shows a one-click unsubscribe and a hard bounce in the subscription and email-list endpoints, and later sends skip them', async () => {
    const braze = new Braze(s.url, s.key);
    await sinkApi('PUT', '/rules', { rules: [{ address: 'm7@example.com', code: 550, message: 'No such user' }] });
    const first = (await braze.messages.send({ external_user_ids: ['m6', 'm7'], messages: { email: email({ subject: 'Welcome' }) as any } })) as any;
    expect(await settled(first.dispatch_id, 2)).toEqual([
      { external_id: 'm6', state: 'delivered', reason: null },
      { external_id: 'm7', state: 'bounced', reason: expect.any(String) },
    ]);
    const mail = (await sinkApi('GET', '/messages?to=m6@example.com&limit=5')).messages.find((m: any) => m.subject === 'Welcome');
    expect((await sinkApi('POST', `/messages/${mail.id}/unsubscribe`)).status).toBe(200);

    const today = new Date(clock()).toISOString().slice(0, 10);
    const tomorrow = new Date(clock() + 24 * HOUR).toISOString().slice(0, 10);
    const status = await s.call('GET', '/subscription/status/get?subscription_group_id=news&external_id=m6&external_id=m8');
    expect(status.body).toEqual({ status: { m6: 'Unsubscribed', m8: 'Unknown' }, message: 'success' });
    const unsubscribes = await s.call('GET', `/email/unsubscribes?email=m6@example.com`);
    expect(unsubscribes.body.emails).toEqual([{ email: 'm6@example.com', unsubscribed_at: expect.any(String) }]);
    const bounces = await s.call('GET', `/email/hard_bounces?start_date=2000-01-01&end_date=${tomorrow}`);
    expect(bounces.body.emails).toEqual([{ email: 'm7@example.com', hard_bounced_at: expect.any(String) }]);
    expect((await s.call('GET', `/email/hard_bounces?start_date=${tomorrow}&end_date=${tomorrow}`)).body.emails).toEqual([]);
    expect((await s.call('GET', `/email/hard_bounces?end_date=${today}`)).body.errors[0].path).toBe('start_date');
    expect((await s.call('GET', `/email/hard_bounces?email=m7@example.com&limit=501`)).body.errors[0].path).toBe('limit');

    // Later sends skip both; clearing the bounce lets the address be sent again.
    const again = (await braze.messages.send({ external_user_ids: ['m6', 'm7'], messages: { email: email({ subject: 'Again' }) as any } })) as any;
    expect(await settled(again.dispatch_id, 2)).toEqual([
      { external_id: 'm6', state: 'skipped', reason: 'unsubscribed' },
      { external_id: 'm7', state: 'skipped', reason: 'hard_bounced' },
    ]);
    await sinkApi('PUT', '/rules', { rules: [] });
    expect((await s.call('POST', '/email/bounce/remove', { email: ['m7@example.com'] })).status).toBe(201);
    expect((await s.call('GET', `/email/hard_bounces?email=m7@example.com`)).body.emails).toEqual([]);
    // Subscribing again through /email/status; the address leaves the unsubscribe list.
    expect((await s.call('POST', '/email/status', { email: 'm6@example.com', subscription_state: 'subscribed' })).status).toBe(201);
    expect((await s.call('GET', `/email/unsubscribes?email=m6@example.com`)).body.emails).toEqual([]);
    const third = (await braze.messages.send({ external_user_ids: ['m6', 'm7'], messages: { email: email({ subject: 'Third' }) as any } })) as any;
    expect((await settled(third.dispatch_id, 2)).map((r) => r.state)).toEqual(['delivered', 'delivered']);
    expect((await s.call('POST', '/email/status', { email: 'm6@example.com', subscription_state: 'maybe' })).body.errors[0].path).toBe('subscription_state');
  });

  it('sets and reads subscription group states, registers send ids and lists API campaigns', async () => {
    const set = await s.call('POST', '/subscription/status/set', { subscription_group_id: 'weekly', subscription_state: 'subscribed', external_id: ['m8'], email: ['m9@example.com'] });
    expect(set.body).toEqual({ message: 'success' });
    expect((await s.call('GET', '/subscription/status/get?subscription_group_id=weekly&external_id[]=m8&external_id[]=m0')).body.status).toEqual({ m8: 'Subscribed', m0: 'Unknown' });
    expect((await s.call('GET', '/subscription/status/get?subscription_group_id=weekly&email=m9@example.com')).body.status).toEqual({ 'm9@example.com': 'Subscribed' });
    const both = await s.call('POST', '/subscription/status/set', { subscription_group_id: 'weekly', subscription_state: 'subscribed', email: 'm9@example.com', phone: '+15555550100' });
    expect(both.body.message).toBe('Either an email address or a phone number should be provided, but not both.');
    const changes = await until(async () => {
      const ev = (await readEvents(s.testDb.db, LOG_START, 10_000, s.workspaceId)).filter((e) => e.event_type === 'users.behaviors.subscriptiongroup.StateChange');
      return ev.length === 2 ? ev : undefined;
    }, 'two group state changes');
    expect(changes.map((e) => e.properties.subscription_status)).toEqual(['Subscribed', 'Subscribed']);

    // An API campaign: variants without content; /messages/send names one.
    const api = await s.call('POST', '/admin/campaigns', { name: 'Receipts', channel: 'email', delivery: 'api_campaign', from: { address: 'news@rivulet.example' }, variants: [{ id: 'receipt', name: 'Receipt', percent: 100 }] });
    expect(api.status).toBe(201);
    const id = api.body.id;
    const body = (over: Record<string, unknown>) => ({ campaign_id: id, external_user_ids: ['m8'], messages: { email: email({ subject: 'Receipt', message_variation_id: 'receipt' }) }, ...over });
    expect((await s.call('POST', '/messages/send', body({}))).body.message).toMatch(/Invalid Campaign ID/);
    expect((await s.call('POST', `/admin/campaigns/${id}/launch`)).status).toBe(201);
    expect((await s.call('POST', '/messages/send', body({ messages: { email: email() } }))).body.message).toBe('Message Variant Unspecified');
    expect((await s.call('POST', '/messages/send', body({ messages: { webhook: { url: 'http://127.0.0.1/x', request_method: 'POST', message_variation_id: 'receipt' } } }))).body.message).toBe('Mismatched Message Type');
    expect((await s.call('POST', '/messages/send', body({ send_id: 'batch-1' }))).body.errors[0].path).toBe('send_id');
    const sendId = await s.call('POST', '/sends/id/create', { campaign_id: id, send_id: 'batch-1' });
    expect(sendId.body).toEqual({ message: 'success', send_id: 'batch-1' });
    const sent = await s.call('POST', '/messages/send', body({ send_id: 'batch-1' }));
    expect(sent.body).toMatchObject({ message: 'success', send_id: 'batch-1' });
    expect(await settled(sent.body.dispatch_id, 1)).toEqual([{ external_id: 'm8', state: 'delivered', reason: null }]);
    expect((await s.call('POST', '/sends/id/create', { campaign_id: id, send_id: 'x'.repeat(65) })).body.errors[0].path).toBe('send_id');

    const list = (await s.call('GET', '/campaigns/list?sort_direction=asc')).body.campaigns;
    expect(list.map((c: any) => [c.name, c.is_api_campaign])).toEqual([
      ['Daily digest', false],
      ['Receipts', true],
    ]);
    const details = (await s.call('GET', `/campaigns/details?campaign_id=${id}`)).body;
    expect(details).toMatchObject({ name: 'Receipts', schedule_type: 'api_campaign', channels: ['email'], messages: { receipt: { channel: 'email', name: 'Receipt' } }, first_sent: expect.any(String) });
    expect((await s.call('GET', '/campaigns/details?campaign_id=nope')).body.errors[0].path).toBe('campaign_id');
  });

  it('sends a scheduled message in each recipient\'s local time zone', async () => {
    expect((await s.call('POST', '/users/track', { attributes: [{ external_id: 'm0', time_zone: 'Asia/Tokyo' }, { external_id: 'm1', time_zone: 'America/New_York' }] })).status).toBe(201);
    const d = new Date(clock() + 3 * 24 * HOUR);
    const wall = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), 10);
    const time = new Date(wall).toISOString().slice(0, 19);
    offsetMs = wall - 9 * HOUR - 10 * 60_000 - Date.now();
    const body = (schedule: unknown, over: Record<string, unknown> = {}) => ({ external_user_ids: ['m0', 'm1', 'm2'], messages: { email: email({ subject: 'Local {{${first_name}}}' }) }, schedule, ...over });
    const segmentId = (await s.testDb.db.query<{ id: string }>(`SELECT id FROM segments WHERE workspace_id = $1 LIMIT 1`, [s.workspaceId])).rows[0]!.id;
    expect((await s.call('POST', '/messages/schedule/create', body({ time, in_local_time: true }, { external_user_ids: undefined, segment_id: segmentId }))).body.errors[0].path).toBe('schedule.in_local_time');
    expect((await s.call('POST', '/messages/schedule/create', body({ time: new Date(wall - 4 * 24 * HOUR).toISOString().slice(0, 19), in_local_time: true }))).body.errors).toEqual([{ type: 'schedule.time has passed in every time zone', path: 'schedule.time' }]);
    const created = await s.call('POST', '/messages/schedule/create', body({ time, in_local_time: true }));
    expect(created.status).toBe(201);
    const localMails = async (who: string) => (await sinkApi('GET', `/messages?to=${who}@example.com&limit=50`)).messages.filter((m: any) => m.subject.startsWith('Local '));

    offsetMs = wall - 9 * HOUR + 60_000 - Date.now(); // 10:01 in Tokyo
    expect(await settled(created.body.dispatch_id, 1)).toEqual([{ external_id: 'm0', state: 'delivered', reason: null }]);
    expect(await localMails('m2')).toEqual([]);
    offsetMs = wall + 60_000 - Date.now(); // 10:01 UTC (m2 has no zone)
    await until(async () => ((await localMails('m2')).length === 1 ? true : undefined), 'the UTC recipient');
    expect(await localMails('m1')).toEqual([]);
    offsetMs = wall + 5 * HOUR + 60_000 - Date.now(); // 10:01 in New York (December: UTC-5)
    await until(async () => ((await localMails('m1')).length === 1 ? true : undefined), 'the New York recipient');
    await until(async () => {
      const r = await s.testDb.db.query<{ state: string }>(`SELECT state FROM campaign_schedules WHERE id = $1`, [created.body.schedule_id]);
      return r.rows[0]?.state === 'done' ? true : undefined;
    }, 'the local-time schedule to finish');
    expect((await localMails('m0')).length).toBe(1);
  });

  it('schedules an API-triggered campaign send through the braze-api client (create, update, delete)', async () => {
    const segmentId = (await s.testDb.db.query<{ id: string }>(`SELECT id FROM segments WHERE workspace_id = $1 LIMIT 1`, [s.workspaceId])).rows[0]!.id;
    const created = await s.call('POST', '/admin/campaigns', {
      name: 'Order shipped',
      channel: 'email',
      delivery: 'api_triggered',
      audience: { segment_id: segmentId },
      from: { address: 'news@rivulet.example' },
      variants: [{ id: 't', percent: 100, email: { subject: 'Shipped {{api_trigger_properties.${order}}}', html: '<p>On its way</p>' } }],
    });
    expect(created.status).toBe(201);
    const id = created.body.id;
    expect((await s.call('POST', `/admin/campaigns/${id}/launch`)).status).toBe(201);
    const braze = new Braze(s.url, s.key);
    const at = (ms: number) => new Date(clock() + ms).toISOString();
    const one = (await braze.campaigns.trigger.schedule.create({ campaign_id: id, recipients: [{ external_user_id: 'm5', trigger_properties: { order: 'S-1' } }], schedule: { time: at(HOUR) } } as any)) as any;
    expect(one).toMatchObject({ message: 'success', dispatch_id: expect.any(String), schedule_id: expect.any(String) });
    const two = (await braze.campaigns.trigger.schedule.create({ campaign_id: id, recipients: [{ external_user_id: 'm6', trigger_properties: { order: 'S-2' } }], schedule: { time: at(HOUR) } } as any)) as any;
    expect((await s.call('POST', '/campaigns/trigger/schedule/update', { campaign_id: id, schedule_id: one.schedule_id, schedule: { time: at(2 * HOUR) } })).status).toBe(201);
    expect((await s.call('POST', '/campaigns/trigger/schedule/delete', { campaign_id: id, schedule_id: two.schedule_id })).status).toBe(201);
    expect((await s.call('POST', '/campaigns/trigger/schedule/create', { campaign_id: id, recipients: [{ external_user_id: 'm5' }], schedule: { time: at(-HOUR) } })).body.errors[0].path).toBe('schedule.time');
    expect((await s.call('POST', '/campaigns/trigger/schedule/create', { campaign_id: id, schedule: { time: at(HOUR) } })).body.message).toBe('No Recipients');
    offsetMs += 2 * HOUR + 1000;
    expect(await settled(one.dispatch_id, 1)).toEqual([{ external_id: 'm5', state: 'delivered', reason: null }]);
    expect((await s.testDb.db.query(`SELECT 1 FROM campaign_dispatches WHERE id = $1`, [two.dispatch_id])).rows).toEqual([]);
    expect((await sinkApi('GET', '/messages?to=m5@example.com&limit=50')).messages.filter((m: any) => m.subject === 'Shipped S-1')).toHaveLength(1);
  });
});
