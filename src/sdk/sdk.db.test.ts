import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../test-support/server.js';
import { TEST_BACKEND } from '../test-support/db.js';

let s: TestServer;
let sdkKey: string;
const ORIGIN = 'https://shop.example.com';

beforeAll(async () => {
  s = await startTestServer();
  const r = await s.call('POST', '/sdk/apps', { name: 'web shop', allowed_origins: [`${ORIGIN}/`, 'http://127.0.0.1:8080'] });
  expect(r.status).toBe(201);
  expect(r.body.allowed_origins).toEqual([ORIGIN, 'http://127.0.0.1:8080']);
  sdkKey = r.body.api_key;
});
afterAll(() => s.close());

const upload = (body: unknown, opts: { origin?: string | null; key?: string } = {}) => {
  const headers: Record<string, string> = { 'x-rivulet-sdk-key': opts.key ?? sdkKey };
  if (opts.origin !== null) headers.origin = opts.origin ?? ORIGIN;
  return s.call('POST', '/sdk/v1/batch', body, { key: null, headers });
};
const t = (offsetMs = 0) => new Date(Date.now() - 60_000 + offsetMs).toISOString();
const logOf = async (userId: string) =>
  (await s.testDb.db.query<{ body: any }>('SELECT body FROM event_log WHERE user_id = $1 ORDER BY seq', [userId])).rows.map((r) => r.body);
const deviceUser = async (deviceId: string) =>
  (await s.testDb.db.query<{ user_id: string }>('SELECT user_id FROM user_devices WHERE device_id = $1', [deviceId])).rows[0]?.user_id;
const until = async <T>(f: () => Promise<T | undefined | false>, ms = 60_000): Promise<T> => {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 100));
  }
};

describe(`SDK ingestion on ${TEST_BACKEND}`, () => {
  it('refuses an origin that is not allowed, a missing origin and an unknown key, storing nothing', async () => {
    const body = { device_id: 'dev-refused', events: [{ id: 'evt-refused-1', type: 'session_start', session_id: 's1', time: t() }] };
    const bad = await upload(body, { origin: 'https://evil.example.net' });
    expect(bad.status).toBe(403);
    expect(bad.body.message).toBe('Origin https://evil.example.net is not allowed for this SDK key');
    expect(bad.body.errors[0].path).toBe('headers.origin');
    expect((await upload(body, { origin: null })).status).toBe(403);
    const unknown = await upload(body, { key: 'rsk_0000000000_nope' });
    expect(unknown.status).toBe(401);
    expect(await deviceUser('dev-refused')).toBeUndefined();
    const ledger = await s.testDb.db.query('SELECT 1 FROM sdk_uploaded_events WHERE client_event_id = $1', ['evt-refused-1']);
    expect(ledger.rows).toHaveLength(0);
  });

  it('does not accept the SDK key on REST routes, nor a REST key on the SDK route', async () => {
    const r = await s.call('POST', '/users/track', { events: [] }, { key: sdkKey });
    expect(r.status).toBe(401);
    const rest = await s.call('POST', '/sdk/v1/batch', { device_id: 'd', events: [] }, { headers: { origin: ORIGIN } });
    expect(rest.status).toBe(401);
  });

  it('answers the CORS preflight and echoes an allowed origin', async () => {
    const pre = await s.call('OPTIONS', '/sdk/v1/batch', undefined, { key: null, headers: { origin: ORIGIN, 'access-control-request-method': 'POST' } });
    expect(pre.status).toBe(204);
    expect(pre.headers['access-control-allow-headers']).toContain('x-rivulet-sdk-key');
  });

  it('refuses a malformed upload whole, naming the field', async () => {
    const r = await upload({
      device_id: 'dev-bad',
      events: [
        { id: 'evt-bad-0001', type: 'session_start', session_id: 's', time: t() },
        { id: 'evt-bad-0002', type: 'custom_event', time: t() },
      ],
    });
    expect(r.status).toBe(400);
    expect(r.body.errors).toEqual([{ type: 'name is required for this event type', path: 'events[1].name' }]);
    expect(await deviceUser('dev-bad')).toBeUndefined();
  });

  it('applies sessions, a change of user, events, purchases and attributes; a retried upload is not doubled', async () => {
    const body = {
      device_id: 'dev-1',
      sdk_version: '1.0.0',
      events: [
        { id: 'evt-0000001', type: 'session_start', session_id: 'sess-1', time: t(0) },
        { id: 'evt-0000002', type: 'custom_event', name: 'viewed_item', properties: { sku: 'A1' }, time: t(1000) },
        { id: 'evt-0000003', type: 'change_user', external_id: 'sdk-user-1', time: t(2000) },
        { id: 'evt-0000004', type: 'purchase', product_id: 'A1', currency: 'EUR', price: 9.5, time: t(3000) },
        { id: 'evt-0000005', type: 'attributes', attributes: { first_name: 'Ada', plan: 'pro' }, time: t(3500) },
        { id: 'evt-0000006', type: 'session_end', session_id: 'sess-1', duration: 5, time: t(4000) },
      ],
    };
    const first = await upload(body);
    expect(first.status).toBe(200);
    expect(first.body).toEqual({ message: 'success', accepted: 6, duplicates: 0, errors: [] });
    expect(first.headers['access-control-allow-origin']).toBe(ORIGIN);
    const again = await upload(body);
    expect(again.body).toEqual({ message: 'success', accepted: 0, duplicates: 6, errors: [] });

    const userId = (await deviceUser('dev-1'))!;
    const expected = [
      'users.behaviors.app.FirstSession',
      'users.behaviors.app.SessionStart',
      'users.behaviors.CustomEvent',
      'users.behaviors.Purchase',
      'users.behaviors.app.SessionEnd',
    ];
    const names = await until(async () => {
      const log = await logOf(userId);
      return log.length >= expected.length && log.map((e) => e.event_type);
    });
    expect(names).toEqual(expected);
    const profile = (await s.call('POST', '/users/export/ids', { external_ids: ['sdk-user-1'] })).body.users[0];
    expect(profile).toMatchObject({ external_id: 'sdk-user-1', first_name: 'Ada', custom_attributes: { plan: 'pro' } });
  });

  it('reports an event for a device without a session and lets a later retry apply it', async () => {
    const lone = { id: 'evt-lone-0001', type: 'custom_event', name: 'early', time: t() };
    const r = await upload({ device_id: 'dev-2', events: [lone] });
    expect(r.body).toMatchObject({ accepted: 0, duplicates: 0, errors: [{ id: 'evt-lone-0001', index: 0, status: 404 }] });
    const retry = await upload({ device_id: 'dev-2', events: [{ id: 'evt-lone-0002', type: 'session_start', session_id: 's2', time: t() }, lone] });
    expect(retry.body).toEqual({ message: 'success', accepted: 2, duplicates: 0, errors: [] });
  });
});
