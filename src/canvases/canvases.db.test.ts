/**
 * Canvases end to end with real parts: users and a segment over HTTP, an API-triggered Canvas
 * entered through `/canvas/trigger/send`, a welcome email over SMTP to the mail sink, a one-day
 * Delay passed on the test clock, an Action Paths step routed by an event tracked over HTTP (read
 * from the event log), a branch email, an exit on a purchase, and the Everyone Else path when the
 * window ends. The event log must then hold exactly the expected Canvas and message events with the
 * right ids, each valid against the Currents catalogue. Also: launch validation naming the step,
 * versioning of a live Canvas, and the Braze-shaped list and details.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMailSink, type RunningMailSink } from '../emulator/mail-sink/index.js';
import { validateCurrentsEvent } from '../events/catalogue.js';
import { LOG_START, readEvents, type StoredEvent } from '../events/log.js';
import { TEST_BACKEND } from '../test-support/db.js';
import { startTestServer, type TestServer } from '../test-support/server.js';

let s: TestServer;
let sink: RunningMailSink;
let clock = Date.now();
const DAY = 86_400_000;

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as AddressInfo;
  await new Promise((r) => srv.close(r));
  return port;
}

async function until<T>(probe: () => Promise<T | undefined | false>, what: string, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const sinkApi = async (path: string) => (await (await request(sink.url + path)).body.json()) as any;
const mails = async () => (await sinkApi('/messages?limit=100')).messages as Array<{ subject: string; to: string[] }>;
const events = async (): Promise<StoredEvent[]> => readEvents(s.testDb.db, LOG_START, 100_000, s.workspaceId);
const userIds = new Map<string, string>();
const entries = async (canvasId: string) =>
  (await s.testDb.db.query<{ user_id: string; step_id: string | null; phase: string; state: string; version: number; end_reason: string | null }>(`SELECT user_id, step_id, phase, state, version, end_reason FROM canvas_entries WHERE canvas_id = $1`, [canvasId])).rows;

beforeAll(async () => {
  sink = await startMailSink();
  const port = await freePort();
  s = await startTestServer(
    { PORT: String(port), RIVULET_PUBLIC_URL: `http://127.0.0.1:${port}`, SMTP_URL: sink.smtpUrl, RIVULET_SEND_POLL_MS: '50' },
    { canvases: { now: () => clock, timing: { pollMs: 50 } } },
  );
  const attributes = ['a', 'b', 'c', 'd'].map((n) => ({ external_id: n, first_name: n.toUpperCase(), email: `${n}@example.com`, plan: n === 'd' ? 'free' : 'pro' }));
  expect((await s.call('POST', '/users/track', { attributes })).status).toBe(201);
  const { rows } = await s.testDb.db.query<{ id: string; external_id: string }>(`SELECT id, external_id FROM users WHERE workspace_id = $1`, [s.workspaceId]);
  for (const r of rows) userIds.set(r.external_id, r.id);
});
afterAll(async () => {
  await s?.close();
  await sink?.close();
});

describe(`canvases on ${TEST_BACKEND}`, () => {
  let pro: string;
  const journey = (over: Record<string, unknown> = {}) => ({
    name: 'Welcome journey',
    entry: { type: 'api', segment_id: pro },
    exit: { events: [{ kind: 'purchase' }] },
    from: { address: 'hello@rivulet.test', name: 'Rivulet' },
    conversions: [{ kind: 'custom_event', name: 'browse', window_seconds: 7 * 86_400 }],
    steps: [
      { id: 'welcome', name: 'Welcome', type: 'message', message_variation_id: 'mv-welcome', email: { subject: 'Welcome {{${first_name}}} {{canvas_entry_properties.${coupon}}}', html: '<p>Hi</p>' }, next: 'wait' },
      { id: 'wait', name: 'One day', type: 'delay', delay: { seconds: 86_400 }, next: 'act' },
      { id: 'act', name: 'Browsed?', type: 'action_paths', window_seconds: 2 * 86_400, paths: [{ name: 'Browsed', event: { kind: 'custom_event', name: 'browse' }, next: 'promo' }], everyone_else: null },
      { id: 'promo', name: 'Promo', type: 'message', message_variation_id: 'mv-promo', email: { subject: 'Still looking at {{event_properties.${item}}}, {{${first_name}}}?', html: '<p>10% off</p>' }, next: null },
    ],
    ...over,
  });

  it('refuses a Canvas that cannot launch, naming the step', async () => {
    pro = (await s.call('POST', '/admin/segments', { name: 'Pro', filter: { filter: 'custom_attribute', attribute: 'plan', op: 'equals', value: 'pro' } })).body.id;
    const base = journey();
    const steps = base.steps as Array<Record<string, unknown>>;
    const cycle = await s.call('POST', '/admin/canvases', { ...base, steps: [{ ...steps[0], next: 'update' }, { id: 'update', type: 'user_update', attributes: { seen: true }, next: 'welcome' }] });
    expect(cycle.status).toBe(400);
    expect(cycle.body.errors[0]).toMatchObject({ path: expect.stringMatching(/id "(welcome|update)"/), type: expect.stringContaining('cycle without a delay') });
    const noEnd = await s.call('POST', '/admin/canvases', { ...base, steps: [{ ...steps[0], next: undefined }] });
    expect(noEnd.status).toBe(400);
    expect(noEnd.body.errors[0]).toMatchObject({ path: 'steps[0] (id "welcome").next', type: expect.stringContaining('no end') });
    const dangling = await s.call('POST', '/admin/canvases', { ...base, steps: [{ ...steps[0], next: 'nowhere' }] });
    expect(dangling.body.errors[0]).toMatchObject({ path: 'steps[0] (id "welcome")', type: expect.stringContaining('"nowhere"') });
    const noContent = await s.call('POST', '/admin/canvases', { ...base, steps: [{ id: 'm', type: 'message', next: null }] });
    expect(noContent.body.errors[0]).toMatchObject({ path: 'steps[0] (id "m").email', type: expect.stringContaining('missing content') });
    const split = await s.call('POST', '/admin/canvases', { ...base, steps: [{ id: 'd', type: 'decision_split', segment_id: '00000000-0000-4000-8000-000000000000', yes: null, no: null }] });
    expect(split.status).toBe(400);
    expect(split.body.errors).toEqual([{ type: 'unknown segment', path: 'steps[0] (id "d").segment_id' }]);
    expect((await s.call('GET', '/canvas/list')).body.canvases).toEqual([]);
  });

  it('runs entry → email → one day on the test clock → action path on a tracked event → branch email, exits on a purchase, and logs every moment', async () => {
    const created = await s.call('POST', '/admin/canvases', journey());
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    expect(created.body).toMatchObject({ state: 'draft', version: 1 });
    // A draft takes no triggers.
    expect((await s.call('POST', '/canvas/trigger/send', { canvas_id: id, recipients: [{ external_user_id: 'a' }] })).status).toBe(400);
    expect((await s.call('POST', `/admin/canvases/${id}/launch`)).body.state).toBe('active');
    const both = await s.call('POST', '/canvas/trigger/send', { canvas_id: id, context: {}, canvas_entry_properties: {}, recipients: [{ external_user_id: 'a' }] });
    expect(both.body.errors).toEqual([{ type: 'give context or canvas_entry_properties, not both', path: 'context' }]);

    const sent = await s.call('POST', '/canvas/trigger/send', {
      canvas_id: id,
      canvas_entry_properties: { coupon: 'C10' },
      recipients: [{ external_user_id: 'a' }, { external_user_id: 'b' }, { external_user_id: 'c', context: { coupon: 'C20' } }, { external_user_id: 'd' }, { external_user_id: 'zz' }],
    });
    expect(sent.status).toBe(201);
    expect(sent.body.errors).toEqual([
      { type: 'not in the Canvas audience', path: 'recipients[3]' },
      { type: 'user not found', path: 'recipients[4]' },
    ]);

    const welcome = await until(async () => {
      const m = await mails();
      return m.length === 3 && m;
    }, 'three welcome emails');
    expect(welcome.map((m) => `${m.to[0]} ${m.subject}`).sort()).toEqual(['a@example.com Welcome A C10', 'b@example.com Welcome B C10', 'c@example.com Welcome C C20']);
    await until(async () => (await entries(id)).every((e) => e.phase === 'wait'), 'everyone in the delay');

    // Nothing happens before the day is over; then everyone reaches the Action Paths window.
    clock += DAY - 60_000;
    await new Promise((r) => setTimeout(r, 500));
    expect((await entries(id)).every((e) => e.step_id === 'wait')).toBe(true);
    clock += 61_000;
    await until(async () => (await entries(id)).every((e) => e.step_id === 'act' && e.phase === 'listen'), 'everyone listening at the action paths');

    const now = new Date().toISOString();
    expect((await s.call('POST', '/users/track', { events: [{ external_id: 'a', name: 'browse', time: now, properties: { item: 'boots' } }] })).status).toBe(201);
    expect((await s.call('POST', '/users/track', { purchases: [{ external_id: 'b', product_id: 'boots', currency: 'USD', price: 10, time: now }] })).status).toBe(201);
    const promo = await until(async () => (await mails()).find((m) => m.to[0] === 'a@example.com' && m.subject.startsWith('Still')), 'the branch email');
    expect(promo.subject).toBe('Still looking at boots, A?');
    await until(async () => (await entries(id)).find((e) => e.user_id === userIds.get('b'))?.state === 'exited', 'b exits on the purchase');

    // c did nothing: when the window ends, Everyone Else (an end) finishes the entry.
    clock += 2 * DAY + 1000;
    await until(async () => (await entries(id)).every((e) => e.state !== 'active'), 'every entry ended');
    const byUser = Object.fromEntries((await entries(id)).map((e) => [[...userIds].find(([, v]) => v === e.user_id)![0], `${e.state}:${e.end_reason}`]));
    expect(byUser).toEqual({ a: 'done:completed', b: 'exited:performed_event', c: 'done:completed' });
    expect((await mails()).length).toBe(4);

    const log = await until(async () => {
      const all = (await events()).filter((e) => e.properties.canvas_id === id);
      return all.filter((e) => e.event_type === 'users.canvas.Conversion').length === 1 && all.length >= 13 && all;
    }, 'the canvas events on the log');
    // Canvas moments are timed by the test clock (days ahead): validated as of that clock.
    expect(log.map((e) => ({ type: e.event_type, check: validateCurrentsEvent({ event_type: e.event_type, id: e.id, time: e.time, user: e.user, properties: e.properties }, Math.floor(clock / 1000)) })).filter((x) => !x.check.ok)).toEqual([]);
    const count = (type: string) => log.filter((e) => e.event_type === type).length;
    expect({
      entry: count('users.canvas.Entry'),
      send: count('users.messages.email.Send'),
      delivery: count('users.messages.email.Delivery'),
      exit: count('users.canvas.exit.PerformedEvent'),
      conversion: count('users.canvas.Conversion'),
      matched: count('users.canvas.exit.MatchedAudience'),
    }).toEqual({ entry: 3, send: 4, delivery: 4, exit: 1, conversion: 1, matched: 0 });
    for (const e of log.filter((x) => x.event_type === 'users.canvas.Entry')) expect(e.properties).toMatchObject({ canvas_variation_id: 'variant-1', canvas_step_id: 'welcome', in_control_group: false });
    const promoSend = log.find((e) => e.event_type === 'users.messages.email.Send' && e.properties.canvas_step_id === 'promo')!;
    expect(promoSend.user.user_id).toBe(userIds.get('a'));
    expect(promoSend.properties).toMatchObject({ canvas_id: id, canvas_variation_id: 'variant-1', canvas_step_id: 'promo', message_variation_id: 'mv-promo', dispatch_id: expect.any(String) });
    expect(promoSend.properties.campaign_id).toBeUndefined();
    expect(log.find((e) => e.event_type === 'users.canvas.exit.PerformedEvent')).toMatchObject({ user: { user_id: userIds.get('b') }, properties: { canvas_step_id: 'act', canvas_id: id } });
    // Ids are unique: nothing was written twice.
    expect(new Set(log.map((e) => e.id)).size).toBe(log.length);

    const details = await s.call('GET', `/canvas/details?canvas_id=${id}`);
    expect(details.body).toMatchObject({ name: 'Welcome journey', enabled: true, schedule_type: 'api_triggered', variants: [{ id: 'variant-1', first_step_ids: ['welcome'] }] });
    expect(details.body.steps.find((x: { id: string }) => x.id === 'act')).toMatchObject({ next_step_ids: ['promo'], next_paths: [{ name: 'Browsed', next_step_id: 'promo' }, { name: 'Everyone Else', next_step_id: null }] });
    expect((await s.call('GET', '/canvas/details?canvas_id=nope')).body.errors).toEqual([{ type: 'Invalid Canvas ID', path: 'canvas_id' }]);
    expect((await s.call('GET', '/canvas/list')).body.canvases.map((c: { id: string }) => c.id)).toEqual([id]);
  }, 180_000);

  it('editing a live Canvas makes a new version; entries under way stay on theirs', async () => {
    const id = (await s.call('POST', '/admin/canvases', journey({ name: 'Versions', exit: { events: [] } }))).body.id as string;
    await s.call('POST', `/admin/canvases/${id}/launch`);
    await s.call('POST', '/canvas/trigger/send', { canvas_id: id, recipients: [{ external_user_id: 'a' }] });
    await until(async () => (await entries(id))[0]?.phase === 'wait', 'a waiting on version 1');
    const v1 = journey({ name: 'Versions', exit: { events: [] } });
    const edited = await s.call('PUT', `/admin/canvases/${id}`, { ...v1, steps: (v1.steps as Array<Record<string, unknown>>).map((st) => (st.id === 'act' ? { ...st, paths: [{ name: 'Browsed', event: { kind: 'custom_event', name: 'browse' }, next: null }], everyone_else: 'promo' } : st)) });
    expect(edited.status).toBe(200);
    expect(edited.body.version).toBe(2);
    await s.call('POST', '/canvas/trigger/send', { canvas_id: id, recipients: [{ external_user_id: 'b' }] });
    await until(async () => (await entries(id)).length === 2 && (await entries(id)).every((e) => e.phase === 'wait'), 'b waiting on version 2');
    expect(Object.fromEntries((await entries(id)).map((e) => [e.user_id, e.version]))).toEqual({ [userIds.get('a')!]: 1, [userIds.get('b')!]: 2 });
    // Past the delay and the window: on version 1 Everyone Else ends; on version 2 it sends the promo.
    const before = (await mails()).length;
    clock += DAY + 1000;
    await until(async () => (await entries(id)).every((e) => e.phase === 'listen'), 'both listening');
    clock += 2 * DAY + 1000;
    await until(async () => (await entries(id)).every((e) => e.state === 'done'), 'both done');
    // Only b (version 2) gets the promo.
    const after = await mails();
    expect(after.length).toBe(before + 1);
    expect(after.filter((m) => m.to[0] === 'b@example.com' && m.subject.startsWith('Still')).length).toBe(1);
  }, 180_000);

  it('enters a scheduled audience at launch and an action-based Canvas on a tracked event; splits, paths and user updates run on arrival', async () => {
    const free = (await s.call('POST', '/admin/segments', { name: 'Free', filter: { filter: 'custom_attribute', attribute: 'plan', op: 'equals', value: 'free' } })).body.id;
    const scheduled = await s.call('POST', '/admin/canvases', {
      name: 'Scheduled',
      entry: { type: 'scheduled', segment_id: pro },
      from: { address: 'hello@rivulet.test' },
      steps: [
        { id: 'split', type: 'decision_split', segment_id: free, yes: 'tag-free', no: 'paths' },
        { id: 'tag-free', type: 'user_update', attributes: { journey: 'free' }, next: null },
        { id: 'paths', type: 'audience_paths', paths: [{ name: 'Free', segment_id: free, next: 'tag-free' }, { name: 'Everyone Else', segment_id: null, next: 'tag-pro' }] },
        { id: 'tag-pro', type: 'user_update', attributes: { journey: 'pro' }, next: null },
      ],
    });
    expect(scheduled.status).toBe(201);
    const sid = scheduled.body.id as string;
    expect((await s.call('POST', `/admin/canvases/${sid}/launch`)).status).toBe(200);
    await until(async () => (await entries(sid)).length === 3 && (await entries(sid)).every((e) => e.state === 'done'), 'the scheduled audience done');
    const { rows } = await s.testDb.db.query<{ external_id: string; journey: string | null }>(`SELECT external_id, custom_attributes->>'journey' AS journey FROM users WHERE workspace_id = $1 ORDER BY external_id`, [s.workspaceId]);
    expect(rows.map((r) => `${r.external_id}:${r.journey}`)).toEqual(['a:pro', 'b:pro', 'c:pro', 'd:null']);
    // Launching again is refused; the audience is entered once.
    expect((await s.call('POST', `/admin/canvases/${sid}/launch`)).status).toBe(409);

    const action = await s.call('POST', '/admin/canvases', {
      name: 'On signup',
      entry: { type: 'action', event: { kind: 'custom_event', name: 'signup', properties: { source: 'ad' } } },
      from: { address: 'hello@rivulet.test' },
      steps: [{ id: 'hello', type: 'message', email: { subject: 'Signed up from {{canvas_entry_properties.${source}}}', html: '<p>x</p>' }, next: null }],
    });
    const aid = action.body.id as string;
    await s.call('POST', `/admin/canvases/${aid}/launch`);
    const now = new Date().toISOString();
    await s.call('POST', '/users/track', { events: [{ external_id: 'd', name: 'signup', time: now, properties: { source: 'ad' } }, { external_id: 'c', name: 'signup', time: now, properties: { source: 'web' } }] });
    const mail = await until(async () => (await mails()).find((m) => m.subject.startsWith('Signed up')), 'the action-based email');
    expect(`${mail.to[0]} ${mail.subject}`).toBe('d@example.com Signed up from ad');
    await until(async () => (await entries(aid)).length === 1 && (await entries(aid))[0]!.state === 'done', 'the action entry done');
    expect((await entries(aid))[0]!.user_id).toBe(userIds.get('d'));
  }, 180_000);
});
