/**
 * Web push end to end with real parts: browsers' devices uploaded through the SDK endpoint, their
 * subscriptions handed out by the push emulator (made for the workspace's VAPID key, as a browser
 * subscribes with it) and registered through the SDK; a pushnotification campaign launched. The
 * emulator must decrypt exactly the payload rendered for each user; a 410 removes the subscription
 * and logs Bounce; a 429 is retried; a user without a subscription aborts; the service worker's
 * report of a click (the token in the payload posted to its open URL) logs one Open. Malformed
 * subscriptions are refused with 400 naming the field, and nothing is stored.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handleNotificationClick, handlePush, type FetchLike, type ShownNotification } from '../../../packages/web-sdk/src/sw.js';
import { startPushEmulator, type RunningPushEmulator } from '../../emulator/push/index.js';
import { validateCurrentsEvent } from '../../events/catalogue.js';
import { LOG_START, readEvents, type StoredEvent } from '../../events/log.js';
import { TEST_BACKEND } from '../../test-support/db.js';
import { startTestServer, type TestServer } from '../../test-support/server.js';

const ORIGIN = 'https://shop.example.com';
let s: TestServer;
let emu: RunningPushEmulator;
let sdkKey: string;
let sdkAppId: string;
let vapidKey: string;
const subs: Record<string, { id: string; subscription: { endpoint: string; keys: { p256dh: string; auth: string } } }> = {};

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as AddressInfo;
  await new Promise((r) => srv.close(r));
  return port;
}

async function until<T>(probe: () => Promise<T | undefined>, what: string, ms = 120_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const emuCall = async (method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, json?: unknown) => {
  const res = await request(emu.url + path, { method, headers: json ? { 'content-type': 'application/json' } : {}, body: json ? JSON.stringify(json) : undefined });
  const text = await res.body.text();
  return text ? (JSON.parse(text) as any) : undefined;
};
const sdk = (method: string, path: string, body?: unknown, origin: string | null = ORIGIN) =>
  s.call(method, path, body, { key: null, headers: { 'x-rivulet-sdk-key': sdkKey, ...(origin ? { origin } : {}) } });

async function pushEvents(): Promise<StoredEvent[]> {
  return (await readEvents(s.testDb.db, LOG_START, 100_000, s.workspaceId)).filter((e) => e.event_type.startsWith('users.messages.pushnotification.'));
}
let ids: Map<string, string>;
async function byUser(): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const e of await pushEvents()) (out[ids.get(String(e.user.user_id)) ?? 'none'] ??= []).push(e.event_type.slice('users.messages.pushnotification.'.length));
  return Object.fromEntries(Object.keys(out).sort().map((k) => [k, out[k]!.sort()]));
}
function valid(e: StoredEvent) {
  const { seq: _s, txid: _t, workspace_id: _w, ...wire } = e as StoredEvent & { workspace_id?: string };
  return validateCurrentsEvent(wire, Math.floor(Date.now() / 1000) + 60);
}
const subscriptionCount = async () => Number((await s.testDb.db.query<{ n: string }>('SELECT count(*) AS n FROM push_subscriptions')).rows[0]!.n);

beforeAll(async () => {
  emu = await startPushEmulator();
  const port = await freePort();
  s = await startTestServer({ PORT: String(port), RIVULET_PUBLIC_URL: `http://127.0.0.1:${port}`, RIVULET_SEND_POLL_MS: '50', RIVULET_WEBHOOK_ALLOW: '127.0.0.1' });
  const app = await s.call('POST', '/sdk/apps', { name: 'shop', allowed_origins: [ORIGIN] });
  sdkKey = app.body.api_key;
  sdkAppId = app.body.id;
  const t = new Date(Date.now() - 60_000).toISOString();
  for (let i = 0; i < 4; i++) {
    const r = await sdk('POST', '/sdk/v1/batch', {
      device_id: `dev-${i}`,
      events: [
        { id: `evt-${i}-start`, type: 'session_start', session_id: `sess-${i}`, time: t },
        { id: `evt-${i}-user`, type: 'change_user', external_id: `p${i}`, time: t },
        { id: `evt-${i}-attr`, type: 'attributes', attributes: { first_name: `Name${i}`, push_test: 'yes' }, time: t },
      ],
    });
    expect(r.body).toMatchObject({ accepted: 3, errors: [] });
  }
  const { rows } = await s.testDb.db.query<{ id: string; external_id: string }>(`SELECT id, external_id FROM users WHERE workspace_id = $1`, [s.workspaceId]);
  ids = new Map(rows.map((r) => [r.id, r.external_id]));
}, 120_000);
afterAll(async () => {
  await s?.close();
  await emu?.close();
});

describe(`web push on ${TEST_BACKEND}`, () => {
  it('gives the SDK the workspace VAPID key, made once, its private half sealed', async () => {
    expect((await sdk('GET', '/sdk/v1/push/vapid-key', undefined, 'https://evil.example.net')).status).toBe(403);
    const first = await sdk('GET', '/sdk/v1/push/vapid-key');
    expect(first.status).toBe(200);
    vapidKey = first.body.public_key;
    expect(Buffer.from(vapidKey, 'base64url')).toHaveLength(65);
    expect((await sdk('GET', '/sdk/v1/push/vapid-key')).body.public_key).toBe(vapidKey);
    const { rows } = await s.testDb.db.query<{ private_key_sealed: Buffer }>('SELECT private_key_sealed FROM push_vapid_keys');
    expect(rows).toHaveLength(1);
    expect(rows[0]!.private_key_sealed.length).toBeGreaterThan(29 + 40);
  });

  it('refuses malformed subscriptions with 400 naming the field, an unknown device and a foreign origin, storing nothing', async () => {
    const good = (await emuCall('POST', '/emulator/subscriptions', { application_server_key: vapidKey })).subscription;
    const cases: Array<[unknown, string]> = [
      [{ ...good, endpoint: 'http://127.0.0.2:9/push/x' }, 'subscription.endpoint'],
      [{ ...good, endpoint: 'ftp://push.example.net/x' }, 'subscription.endpoint'],
      [{ ...good, endpoint: 'not a url' }, 'subscription.endpoint'],
      [{ ...good, keys: { ...good.keys, p256dh: Buffer.concat([Buffer.from([4]), Buffer.alloc(64, 1)]).toString('base64url') } }, 'subscription.keys.p256dh'],
      [{ ...good, keys: { ...good.keys, p256dh: 'not*base64' } }, 'subscription.keys.p256dh'],
      [{ ...good, keys: { ...good.keys, auth: Buffer.alloc(15).toString('base64url') } }, 'subscription.keys.auth'],
      [{ endpoint: good.endpoint }, 'subscription.keys.p256dh'],
    ];
    for (const [subscription, path] of cases) {
      const r = await sdk('POST', '/sdk/v1/push/subscriptions', { device_id: 'dev-0', subscription });
      expect(r.status, JSON.stringify(subscription)).toBe(400);
      expect(r.body.errors[0].path).toBe(path);
      expect(r.body.message).toContain(path);
    }
    const unknown = await sdk('POST', '/sdk/v1/push/subscriptions', { device_id: 'dev-nobody', subscription: good });
    expect(unknown.status).toBe(404);
    expect(unknown.body.errors[0].path).toBe('device_id');
    expect((await sdk('POST', '/sdk/v1/push/subscriptions', { device_id: 'dev-0', subscription: good }, 'https://evil.example.net')).status).toBe(403);
    expect(await subscriptionCount()).toBe(0);
  });

  it('registers subscriptions for SDK devices; the same endpoint again updates it', async () => {
    for (const i of [0, 1, 2]) {
      subs[`p${i}`] = await emuCall('POST', '/emulator/subscriptions', { application_server_key: vapidKey });
      const r = await sdk('POST', '/sdk/v1/push/subscriptions', { device_id: `dev-${i}`, subscription: { ...subs[`p${i}`]!.subscription, expirationTime: null } });
      expect(r.status).toBe(201);
      expect(r.body).toMatchObject({ message: 'success', created: true });
      expect(r.headers['access-control-allow-origin']).toBe(ORIGIN);
    }
    const again = await sdk('POST', '/sdk/v1/push/subscriptions', { device_id: 'dev-0', subscription: subs.p0!.subscription });
    expect(again.status).toBe(200);
    expect(again.body.created).toBe(false);
    expect(await subscriptionCount()).toBe(3);
    // Forgetting an endpoint, then registering it again.
    expect((await sdk('POST', '/sdk/v1/push/unsubscribe', { endpoint: subs.p2!.subscription.endpoint })).body).toEqual({ message: 'success', removed: true });
    expect(await subscriptionCount()).toBe(2);
    expect((await sdk('POST', '/sdk/v1/push/subscriptions', { device_id: 'dev-2', subscription: subs.p2!.subscription })).status).toBe(201);
  });

  it('sends a push campaign: the emulator decrypts the exact payload, a 410 removes the subscription (Bounce), a 429 is retried, no subscription aborts; a click logs one Open', async () => {
    const segmentId = (await s.call('POST', '/admin/segments', { name: 'Push', filter: { filter: 'custom_attribute', attribute: 'push_test', op: 'equals', value: 'yes' } })).body.id;
    const bad = await s.call('POST', '/admin/campaigns', { name: 'x', channel: 'pushnotification', audience: { segment_id: segmentId }, variants: [{ id: 'a', percent: 100, pushnotification: { title: 'Hi {% if x %}', body: 'b' } }] });
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0]).toMatchObject({ path: 'variants[0].pushnotification.title' });
    const created = await s.call('POST', '/admin/campaigns', {
      name: 'Sale push',
      channel: 'pushnotification',
      audience: { segment_id: segmentId },
      variants: [{ id: 'a', name: 'A', percent: 100, pushnotification: { title: 'Hi {{${first_name}}}', body: 'Sale today ✓', url: `${ORIGIN}/sale?u={{\${user_id}}}`, icon: `${ORIGIN}/icon.png` } }],
    });
    expect(created.status).toBe(201);
    const campaignId = created.body.id;
    await emuCall('PUT', '/emulator/faults', { rules: [{ subscription: subs.p1!.id, status: 410 }, { subscription: subs.p2!.id, status: 429, times: 1, retry_after: 1 }] });
    expect((await s.call('POST', `/admin/campaigns/${campaignId}/launch`)).status).toBe(201);

    const expected = { p0: ['Send'], p1: ['Bounce'], p2: ['Send'], p3: ['Abort'] };
    let last: unknown;
    await until(async () => {
      last = await byUser();
      return JSON.stringify(last) === JSON.stringify(expected) ? true : undefined;
    }, 'the push events').catch((err: Error) => {
      throw new Error(`${err.message}; last seen ${JSON.stringify(last)}`);
    });
    const events = await pushEvents();
    for (const e of events) expect(valid(e), e.event_type).toMatchObject({ ok: true });
    const send0 = events.find((e) => e.event_type.endsWith('.Send') && ids.get(String(e.user.user_id)) === 'p0')!;
    expect(send0.properties).toMatchObject({ app_id: sdkAppId, platform: 'web', campaign_id: campaignId, message_variation_id: 'a' });
    expect(send0.user.device_id).toBe('dev-0');
    const bounce = events.find((e) => e.event_type.endsWith('.Bounce'))!;
    expect(bounce.properties).toMatchObject({ app_id: sdkAppId, platform: 'web', campaign_id: campaignId });
    expect(events.find((e) => e.event_type.endsWith('.Abort'))!.properties).toMatchObject({ abort_type: 'no_push_subscription', platform: 'web' });

    // The 410 removed p1's subscription; the others stay.
    const { rows: left } = await s.testDb.db.query<{ device_id: string }>('SELECT device_id FROM push_subscriptions ORDER BY device_id');
    expect(left.map((r) => r.device_id)).toEqual(['dev-0', 'dev-2']);
    expect((await emuCall('GET', `/emulator/requests?subscription=${subs.p2!.id}`)).requests.map((r: any) => r.status)).toEqual([429, 201]);

    // What the browser would receive: decrypted by the emulator with the subscription's own key.
    const [message] = (await emuCall('GET', `/emulator/messages?subscription=${subs.p0!.id}`)).messages;
    const payload = JSON.parse(message.payload);
    expect(payload).toEqual({ title: 'Hi Name0', body: 'Sale today ✓', url: `${ORIGIN}/sale?u=p0`, icon: `${ORIGIN}/icon.png`, rivulet: { open_url: `${s.url}/sdk/v1/push/open`, token: expect.any(String) } });
    expect(message.vapid).toMatchObject({ aud: emu.url, public_key: vapidKey });
    expect(message.ttl).toBeGreaterThan(0);

    // The service worker reports the click: one Open however many times it is posted.
    const open = async (token: string) => {
      const res = await request(payload.rivulet.open_url, { method: 'POST', headers: { 'content-type': 'application/json', origin: ORIGIN }, body: JSON.stringify({ token }) });
      return { status: res.statusCode, body: (await res.body.json()) as any, cors: res.headers['access-control-allow-origin'] };
    };
    // The SDK's service worker handlers: the decrypted payload shown, then a simulated click.
    const shown: ShownNotification[] = [];
    const waits: Promise<unknown>[] = [];
    const waitUntil = (p: Promise<unknown>) => void waits.push(p);
    expect(handlePush({ data: { json: () => JSON.parse(message.payload), text: () => message.payload }, waitUntil }, { registration: { showNotification: async (title, options) => void shown.push({ title, options }) } })).toBe(true);
    await Promise.all(waits.splice(0));
    expect(shown).toEqual([{ title: 'Hi Name0', options: { body: 'Sale today ✓', icon: `${ORIGIN}/icon.png`, data: { url: `${ORIGIN}/sale?u=p0`, open_url: payload.rivulet.open_url, token: payload.rivulet.token } } }]);
    const windows: string[] = [];
    const answers: Array<{ status: number; body: unknown }> = [];
    const fetchFn: FetchLike = async (url, init) => {
      const res = await request(url, { method: 'POST', headers: { ...init.headers, origin: ORIGIN }, body: init.body });
      answers.push({ status: res.statusCode, body: await res.body.json() });
      return { ok: res.statusCode < 300, status: res.statusCode };
    };
    const clients = { matchAll: async () => [], openWindow: async (url: string) => void windows.push(url) };
    expect(handleNotificationClick({ notification: { data: shown[0]!.options.data, close: () => undefined }, waitUntil }, { clients }, fetchFn)).toBe(true);
    await Promise.all(waits.splice(0));
    expect(answers).toEqual([{ status: 200, body: { message: 'success', logged: true } }]);
    expect(windows).toEqual([`${ORIGIN}/sale?u=p0`]);
    expect(await open(payload.rivulet.token)).toEqual({ status: 200, body: { message: 'success', logged: false }, cors: ORIGIN });
    // Another MAC (its first character changed), and the same MAC spelled non-canonically (last character's unused bits).
    const token: string = payload.rivulet.token;
    const dot = token.lastIndexOf('.') + 1;
    const forged = await open(token.slice(0, dot) + (token[dot] === 'A' ? 'B' : 'A') + token.slice(dot + 1));
    expect((await open(token.replace(/.$/, (c: string) => String.fromCharCode(c.charCodeAt(0) ^ 1)))).status).toBe(400);
    expect(forged.status).toBe(400);
    expect(forged.body.errors[0].path).toBe('token');
    const opened = await until(async () => (await pushEvents()).find((e) => e.event_type.endsWith('.Open')), 'the Open event');
    expect(ids.get(String(opened.user.user_id))).toBe('p0');
    expect(opened.user.device_id).toBe('dev-0');
    expect(opened.properties).toMatchObject({ app_id: sdkAppId, platform: 'web', campaign_id: campaignId, send_id: send0.properties.send_id });
    expect(valid(opened)).toMatchObject({ ok: true });
    expect((await pushEvents()).filter((e) => e.event_type.endsWith('.Open'))).toHaveLength(1);
  }, 180_000);

  it('aborts a message whose template aborts, and one for a user whose subscription bounced before', async () => {
    const segmentId = (await s.call('POST', '/admin/segments', { name: 'Push 2', filter: { filter: 'custom_attribute', attribute: 'push_test', op: 'equals', value: 'yes' } })).body.id;
    const created = await s.call('POST', '/admin/campaigns', {
      name: 'Abort push',
      channel: 'pushnotification',
      audience: { segment_id: segmentId },
      variants: [{ id: 'b', name: 'B', percent: 100, pushnotification: { title: "{% if \${first_name} == 'Name0' %}{% abort_message('not for Name0') %}{% endif %}Hello", body: 'again' } }],
    });
    expect(created.status).toBe(201);
    await emuCall('PUT', '/emulator/faults', { rules: [] });
    expect((await s.call('POST', `/admin/campaigns/${created.body.id}/launch`)).status).toBe(201);
    const mine = async () => (await pushEvents()).filter((e) => e.properties.campaign_id === created.body.id);
    const events = await until(async () => {
      const found = await mine();
      return found.length === 4 ? found : undefined;
    }, 'the second campaign to finish');
    const kinds = Object.fromEntries(events.map((e) => [ids.get(String(e.user.user_id)), `${e.event_type.split('.').at(-1)}${e.properties.abort_type ? `:${e.properties.abort_type}` : ''}`]));
    expect(kinds).toEqual({ p0: 'Abort:liquid_abort_message', p1: 'Abort:no_push_subscription', p2: 'Send', p3: 'Abort:no_push_subscription' });
    expect(events.find((e) => ids.get(String(e.user.user_id)) === 'p0')!.properties.abort_log).toContain('not for Name0');
    for (const e of events) expect(valid(e), e.event_type).toMatchObject({ ok: true });
  }, 180_000);
});
