import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../config.js';
import { createRivulet, prepareStore } from '../server.js';
import { trackingRoutes } from '../tracking/index.js';
import { createApiKey, ensureWorkspace } from '../workspaces/index.js';
import { workspaceRoutes } from './key-routes.js';
import { buildApp, loggerOptions } from './app.js';
import { openTestDb, TEST_BACKEND } from '../test-support/db.js';
import { stateCounts, startTestServer, type TestServer } from '../test-support/server.js';

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer({ RIVULET_RATE_LIMIT_EXPORT_IDS: '3', RIVULET_RATE_WINDOW_MS_EXPORT_IDS: '60000' });
});
afterAll(() => s.close());

const ok = { events: [{ external_id: 'h-1', name: 'x', time: '2024-01-01T00:00:00Z' }] };

describe(`HTTP contract on ${TEST_BACKEND}`, () => {
  it('answers every bad request with a 4xx JSON body that names the problem, and changes nothing', async () => {
    const before = await stateCounts(s);
    const cases: Array<[string, Promise<{ status: number; body: any }>, number, string]> = [
      ['invalid JSON', s.call('POST', '/users/track', undefined, { raw: '{"events": [' }), 400, 'Invalid JSON'],
      ['empty body', s.call('POST', '/users/track', undefined, { raw: '' }), 400, 'Invalid JSON'],
      ['not an object', s.call('POST', '/users/track', 'text'), 400, 'Invalid JSON'],
      ['prototype poisoning', s.call('POST', '/users/track', undefined, { raw: '{"__proto__": {"x": 1}, "events": []}' }), 400, 'Invalid JSON'],
      ['wrong content type', s.call('POST', '/users/track', undefined, { raw: JSON.stringify(ok), headers: { 'content-type': 'text/plain' } }), 415, 'Content-Type must be application/json'],
      ['no key', s.call('POST', '/users/track', ok, { key: null }), 401, 'Unknown or missing REST API key'],
      ['wrong key', s.call('POST', '/users/track', ok, { key: 'rvk_nope' }), 401, 'Unknown or missing REST API key'],
      ['key in body is not accepted', s.call('POST', '/users/track', { api_key: s.key, ...ok }, { key: null }), 401, 'Unknown or missing REST API key'],
      ['wrong type', s.call('POST', '/users/track', { attributes: 'x' }), 400, 'attributes must be an array'],
      ['schema route, wrong type', s.call('POST', '/sdk/sessions/start', { app_id: 'a', device_id: 5, session_id: 's' }), 400, 'device_id must be a string'],
      ['schema route, unknown field', s.call('POST', '/sdk/sessions/start', { app_id: 'a', device_id: 'd', session_id: 's', extra: 1 }), 400, 'extra is not allowed'],
      ['unknown route', s.call('POST', '/users/nope', ok), 404, 'Not found'],
    ];
    for (const [name, pending, status, message] of cases) {
      const r = await pending;
      expect({ name, status: r.status, message: r.body?.message }).toEqual({ name, status, message });
      expect(Array.isArray(r.body.errors) && r.body.errors.length > 0, name).toBe(true);
    }
    expect(await stateCounts(s)).toEqual(before);
  });

  it('rejects an oversized body with 413', async () => {
    const big = JSON.stringify({ events: [{ external_id: 'x', name: 'x', time: '2024-01-01T00:00:00Z', properties: { pad: 'x'.repeat(4 * 1024 * 1024) } }] });
    const r = await s.call('POST', '/users/track', undefined, { raw: big });
    expect(r.status).toBe(413);
    expect(r.body.message).toBe('Request body too large');
  });

  it('checks permissions per endpoint and honours revocation at once', async () => {
    const trackOnly = await s.createKey(['users.track']);
    expect((await s.call('POST', '/users/track', ok, { key: trackOnly })).status).toBe(201);
    const denied = await s.call('POST', '/users/export/ids', { external_ids: ['h-1'] }, { key: trackOnly });
    expect(denied.status).toBe(403);
    expect(denied.body.message).toBe('REST API key lacks the users.export.ids permission');
    expect((await s.call('GET', '/admin/keys', undefined, { key: trackOnly })).status).toBe(403);

    const created = await s.call('POST', '/admin/keys', { name: 'ci', permissions: ['users.track'] });
    expect(created.status).toBe(201);
    expect(created.body.key).toMatch(/^rvk_[0-9a-f]{10}_[A-Za-z0-9_-]{43}$/);
    expect(created.body.key.startsWith(created.body.prefix)).toBe(true);
    const list = await s.call('GET', '/admin/keys');
    expect(JSON.stringify(list.body)).not.toContain(created.body.key);
    expect((await s.call('POST', '/users/track', ok, { key: created.body.key })).status).toBe(201);
    const revoked = await s.call('POST', `/admin/keys/${created.body.prefix}/revoke`);
    expect(revoked.body.state).toBe('revoked');
    expect((await s.call('POST', '/users/track', ok, { key: created.body.key })).status).toBe(401);
    const { rows } = await s.testDb.db.query<{ n: number }>('SELECT count(*)::int8 AS n FROM api_keys WHERE key_hash::text LIKE $1', [
      `%${Buffer.from(created.body.key).toString('hex')}%`,
    ]);
    expect(rows[0]!.n).toBe(0);
  });

  it('limits requests per key with the documented headers and a 429 with Retry-After', async () => {
    const key = await s.createKey(['users.export.ids']);
    const body = { external_ids: ['h-1'] };
    const seen = [];
    for (let i = 0; i < 4; i++) seen.push(await s.call('POST', '/users/export/ids', body, { key }));
    expect(seen.map((r) => r.status)).toEqual([200, 200, 200, 429]);
    expect(seen.map((r) => r.headers['x-ratelimit-remaining'])).toEqual(['2', '1', '0', '0']);
    expect(seen[0]!.headers['x-ratelimit-limit']).toBe('3');
    const reset = Number(seen[0]!.headers['x-ratelimit-reset']);
    expect(reset).toBeGreaterThan(Date.now() / 1000);
    expect(reset).toBeLessThanOrEqual(Date.now() / 1000 + 61);
    expect(seen[3]!.body.message).toBe('Over rate limit');
    expect(Number(seen[3]!.headers['retry-after'])).toBeGreaterThan(0);
    // Another key has its own window.
    expect((await s.call('POST', '/users/export/ids', body)).status).toBe(200);
  });

  it('serves health, readiness, the OpenAPI document, its docs page and metrics', async () => {
    expect((await s.call('GET', '/healthz', undefined, { key: null })).body).toEqual({ status: 'ok' });
    expect((await s.call('GET', '/readyz', undefined, { key: null })).body).toEqual({ status: 'ready', store: TEST_BACKEND });
    const doc = await s.call('GET', '/openapi.json', undefined, { key: null });
    expect(doc.body.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.body.paths)).toEqual(expect.arrayContaining(['/users/track', '/users/identify', '/users/alias/new', '/users/export/ids', '/sdk/sessions/start']));
    const docs = await s.call('GET', '/docs/', undefined, { key: null });
    expect(docs.status).toBe(200);
    expect(String(docs.body)).toContain('<html');
    const metrics = await s.call('GET', '/metrics', undefined, { key: null });
    expect(String(metrics.body)).toMatch(/rivulet_http_requests_total\{method="POST",route="\/users\/track",status="201"\} \d+/);
    expect(String(metrics.body)).not.toContain(s.key);
  });
});

describe(`authentication throttling on ${TEST_BACKEND}`, () => {
  it('answers 429 after repeated failures from an address with one key prefix, before looking at the key, on every kind of secret; never to a valid key', async () => {
    const t = await startTestServer({ RIVULET_AUTH_FAILURES_PER_MINUTE: '3' });
    try {
      // Malformed keys, a partner request with a malformed client secret and a webhook without one share the `*` bucket.
      const bad = () => t.call('POST', '/users/track', ok, { key: 'rvk_wrong' });
      expect((await bad()).status).toBe(401);
      const partnerBad = await t.call('POST', '/partners/mixpanel/cohorts/users', { partner_api_key: 'x', client_secret: 'y', cohort_id: 'c', cohort_changes: [] }, { key: null });
      expect(partnerBad.status).toBe(401);
      expect((await bad()).status).toBe(401);
      const throttled = await bad();
      expect(throttled.status).toBe(429);
      expect(Number(throttled.headers['retry-after'])).toBeGreaterThan(0);
      const webhook = await t.call('POST', '/partners/mixpanel/webhook', { action: 'members' }, { key: null });
      expect(webhook.status).toBe(429);
      expect(webhook.body).toMatchObject({ status: 'failure', error: { code: 429 } });
      // A valid key from the same address is not limited by those failures, cached or not.
      expect((await t.call('POST', '/users/track', ok)).status).toBe(201);
      expect((await t.call('POST', '/users/track', ok, { key: await t.createKey(['users.track']) })).status).toBe(201);
    } finally {
      await t.close();
    }
  });
});

describe(`operations on ${TEST_BACKEND}`, () => {
  it('answers 503 when the store is unreachable, and readiness says so', async () => {
    const t = await openTestDb({ migrate: false });
    const rivulet = await createRivulet(loadConfig({ RIVULET_PARTNER_API_KEY_MIXPANEL: 'pk' }), { db: t.db, logger: false, workers: false });
    const ws = await ensureWorkspace(t.db, 'default');
    const created = await createApiKey(t.db, { workspaceId: ws.id, name: 't', permissions: ['users.track'] });
    const inject = (path: string) =>
      rivulet.app.inject({ method: 'POST', url: path, headers: { authorization: `Bearer ${created.key}`, 'content-type': 'application/json' }, payload: ok });
    expect((await inject('/users/track')).statusCode).toBe(201);
    await t.drop();
    const r = await inject('/users/track');
    expect(r.statusCode).toBe(503);
    expect(r.json()).toMatchObject({ message: 'Service temporarily unavailable' });
    expect((await rivulet.app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(503);
    await rivulet.app.close();
  });

  it('never writes a secret to the logs', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const t = await openTestDb({ migrate: false });
    const seed = 'seeded-secret-key-value-0123456789';
    await prepareStore(t.db, loadConfig({ RIVULET_API_KEY: seed }));
    const app = await buildApp({
      db: t.db,
      config: loadConfig({}),
      capabilities: [workspaceRoutes, trackingRoutes({ mergeParticipants: [], profileExtensions: [] })],
      logger: { ...(loggerOptions('trace') as object), stream: sink } as never,
    });
    const created = await app.inject({ method: 'POST', url: '/admin/keys', headers: { authorization: `Bearer ${seed}` }, payload: { name: 'x', permissions: ['users.track'] } });
    expect(created.statusCode).toBe(201);
    const newKey = created.json().key as string;
    await app.inject({ method: 'POST', url: '/users/track', headers: { authorization: `Bearer ${newKey}` }, payload: { api_key: newKey, events: 'x' } });
    await app.inject({ method: 'POST', url: '/users/track', headers: { authorization: `Bearer ${seed}x` }, payload: ok });
    await app.close();
    await t.drop();
    const all = lines.join('');
    expect(all.length).toBeGreaterThan(0);
    expect(all).not.toContain(seed);
    expect(all).not.toContain(newKey);
  });
});
