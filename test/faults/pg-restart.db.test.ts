/**
 * PostgreSQL restarted under Rivulet (through a proxy that cuts every connection and refuses new
 * ones): requests in flight or arriving meanwhile fail with a clean 503, nothing is half-applied,
 * and the same request succeeds once the store is back. PostgreSQL only: PGlite runs in-process.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createRivulet, type Rivulet } from '../../src/server.js';
import { openPostgres, type Db } from '../../src/storage/index.js';
import { createTestDatabaseUrl, TEST_BACKEND } from '../../src/test-support/db.js';
import { createApiKey, ensureWorkspace, PERMISSIONS } from '../../src/workspaces/index.js';
import { PgOutageProxy } from './pg-proxy.js';

const PARTNER_KEY = 'pk_fault_partner';
let proxy: PgOutageProxy;
let direct: Db;
let rivulet: Rivulet;
let url: string;
let key: string;
let secret: string;
let drop: () => Promise<void>;

describe.skipIf(TEST_BACKEND !== 'postgres')('PostgreSQL restart under load', () => {
  beforeAll(async () => {
    const created = await createTestDatabaseUrl();
    drop = created.drop;
    proxy = new PgOutageProxy();
    await proxy.start();
    direct = openPostgres({ connectionString: created.url });
    const config = loadConfig({ LOG_LEVEL: 'silent', RIVULET_PARTNER_API_KEY_MIXPANEL: PARTNER_KEY, RIVULET_DATA_DIR: '/tmp/rivulet-pg-restart-test' });
    rivulet = await createRivulet(config, { db: openPostgres({ connectionString: proxy.url(created.url), maxConnections: 5 }), logger: false, workers: false });
    await rivulet.app.listen({ port: 0, host: '127.0.0.1' });
    url = `http://127.0.0.1:${(rivulet.app.server.address() as { port: number }).port}`;
    const ws = await ensureWorkspace(direct, 'default');
    key = (await createApiKey(direct, { workspaceId: ws.id, name: 't', permissions: [...PERMISSIONS] })).key;
    secret = (await post('/admin/import-keys', { partner: 'mixpanel' })).body.key;
    await post('/users/track', { attributes: Array.from({ length: 50 }, (_, i) => ({ external_id: `pg-${i}` })) });
    await post('/partners/mixpanel/cohorts', { partner_api_key: PARTNER_KEY, client_secret: secret, cohort_id: 'c', name: 'C', created_at: '2024-01-01T00:00:00Z' }, false);
  });
  afterAll(async () => {
    await rivulet?.close().catch(() => {});
    await proxy?.close();
    await direct?.close();
    await drop?.();
  });

  async function post(path: string, body: unknown, withKey = true): Promise<{ status: number; body: any }> {
    const res = await fetch(url + path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(withKey ? { authorization: `Bearer ${key}` } : {}) },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: await res.json() };
  }

  const counts = async () =>
    (
      await direct.query<{ members: number; points: number; events: number; users: number }>(
        `SELECT (SELECT count(*) FROM cohort_members)::int8 AS members, (SELECT coalesce(sum(added + removed), 0) FROM data_points)::int8 AS points,
                (SELECT count(*) FROM event_log)::int8 AS events, (SELECT count(*) FROM users)::int8 AS users`,
      )
    ).rows[0]!;

  it('answers 503 while the store is down, applies nothing, and succeeds on retry', async () => {
    const importBody = {
      partner_api_key: PARTNER_KEY,
      client_secret: secret,
      cohort_id: 'c',
      cohort_changes: [{ user_ids: Array.from({ length: 50 }, (_, i) => `pg-${i}`) }],
    };
    const trackBody = { events: Array.from({ length: 75 }, (_, i) => ({ external_id: `pg-${i % 50}`, name: 'x', time: '2024-01-01T00:00:00Z' })) };
    const before = await counts();

    // Requests already in flight when the connections drop, and requests arriving while it is down.
    const inFlight = [post('/partners/mixpanel/cohorts/users', importBody, false), post('/users/track', trackBody)];
    proxy.cut();
    const results = await Promise.all([...inFlight, post('/partners/mixpanel/cohorts/users', importBody, false), post('/users/track', trackBody)]);
    for (const r of results) {
      expect([201, 503]).toContain(r.status);
      if (r.status === 503) expect(r.body).toMatchObject({ message: 'Service temporarily unavailable' });
    }
    expect(results.slice(2).map((r) => r.status)).toEqual([503, 503]);
    const ready = await fetch(`${url}/readyz`);
    expect(ready.status).toBe(503);

    // Nothing half-applied: each request either fully applied (201) or not at all (503).
    const during = await counts();
    const importApplied = results.filter((r, i) => i % 2 === 0 && r.status === 201).length > 0;
    const tracked = results.filter((r, i) => i % 2 === 1 && r.status === 201).length;
    expect(during.members).toBe(importApplied ? 50 : before.members);
    expect(during.events).toBe(before.events + 75 * tracked);

    proxy.restore();
    let retried = await post('/partners/mixpanel/cohorts/users', importBody, false);
    for (let i = 0; retried.status === 503 && i < 20; i++) {
      await new Promise((r) => setTimeout(r, 250));
      retried = await post('/partners/mixpanel/cohorts/users', importBody, false);
    }
    expect(retried.status).toBe(201);
    expect((await post('/users/track', trackBody)).status).toBe(201);
    const after = await counts();
    expect(after.members).toBe(50);
    expect(after.events).toBe(during.events + 75);
    expect(after.users).toBe(before.users);
    // Ready again once the store probe has seen the server back (it runs on its own interval).
    let readyStatus = 0;
    for (const deadline = Date.now() + 30_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 200))) {
      readyStatus = (await fetch(`${url}/readyz`)).status;
      if (readyStatus === 200) break;
    }
    expect(readyStatus).toBe(200);
  });
});
