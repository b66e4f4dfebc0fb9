/**
 * Revocation across two Rivulet instances on one database (two processes behind a balancer; on
 * PGlite the second instance shares the in-process store): a REST key revoked through one
 * instance's admin API, or straight in the database as the CLI does, answers 401 on the other
 * within 100 ms although the other had it cached, and still after the other restarts. On
 * PostgreSQL, a dropped notification connection is reopened, and meanwhile the cache's TTL bounds
 * the staleness (docs/access-control.md, "Revocation").
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../config.js';
import { createRivulet, type Rivulet } from '../server.js';
import { openPostgres, type Db } from '../storage/index.js';
import { TEST_BACKEND } from '../test-support/db.js';
import { startTestServer, TEST_PARTNER_KEY, type TestServer } from '../test-support/server.js';
import { revokeApiKey } from './store.js';

describe(`REST key revocation across two instances on one database (${TEST_BACKEND})`, () => {
  let a: TestServer;
  let b: { rivulet: Rivulet; url: string };
  let bDb: Db;
  let dataDir: string;

  const startB = async () => {
    const rivulet = await createRivulet(loadConfig({ LOG_LEVEL: 'silent', RIVULET_DATA_DIR: dataDir, RIVULET_PARTNER_API_KEY_MIXPANEL: TEST_PARTNER_KEY }), {
      db: bDb,
      logger: false,
      workers: false,
    });
    await rivulet.app.listen({ port: 0, host: '127.0.0.1' });
    return { rivulet, url: `http://127.0.0.1:${(rivulet.app.server.address() as { port: number }).port}` };
  };

  beforeAll(async () => {
    a = await startTestServer();
    bDb = TEST_BACKEND === 'postgres' ? openPostgres({ connectionString: a.testDb.url!, maxConnections: 4 }) : a.testDb.db;
    dataDir = await mkdtemp(join(tmpdir(), 'rivulet-test-b-'));
    b = await startB();
  }, 240_000);
  afterAll(async () => {
    await b.rivulet.close();
    if (bDb !== a.testDb.db) await bDb.close();
    await a.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  const trackOnB = async (key: string) => {
    const res = await request(`${b.url}/users/track`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ attributes: [{ external_id: 'rev-1' }] }),
    });
    await res.body.dump();
    return res.statusCode;
  };

  /** Milliseconds from now until B first refuses the key (polling B; gives up after `limitMs`). */
  const untilRefusedOnB = async (key: string, limitMs = 10_000) => {
    const t0 = performance.now();
    for (;;) {
      const status = await trackOnB(key);
      const elapsed = performance.now() - t0;
      if (status === 401) return elapsed;
      expect(status).toBe(201);
      if (elapsed > limitMs) return elapsed;
      await new Promise((r) => setTimeout(r, 2));
    }
  };

  const newKey = async () => {
    const created = await a.call('POST', '/admin/keys', { name: 'rev', permissions: ['users.track'] });
    expect(created.status).toBe(201);
    // B has it cached: without a notification it would keep answering 201 for the cache's 2 s.
    expect(await trackOnB(created.body.key)).toBe(201);
    expect(await trackOnB(created.body.key)).toBe(201);
    return created.body as { key: string; prefix: string };
  };

  it('refuses on one instance within 100 ms a key revoked through the other, or in the database, and after a restart', async () => {
    const viaApi = await newKey();
    expect((await a.call('POST', `/admin/keys/${viaApi.prefix}/revoke`)).status).toBe(200);
    expect(await untilRefusedOnB(viaApi.key)).toBeLessThan(100);

    const viaCli = await newKey();
    expect(await revokeApiKey(a.testDb.db, viaCli.prefix)).toBeDefined();
    expect(await untilRefusedOnB(viaCli.key)).toBeLessThan(100);

    await b.rivulet.close();
    b = await startB();
    expect(await trackOnB(viaApi.key)).toBe(401);
    expect(await trackOnB(viaCli.key)).toBe(401);
    expect((await a.call('POST', '/users/track', { attributes: [{ external_id: 'x' }] }, { key: viaApi.key })).status).toBe(401);
  });

  it.runIf(TEST_BACKEND === 'postgres')('reopens a dropped notification connection; meanwhile the cache TTL (2 s) bounds the staleness', async () => {
    const listeners = async () =>
      (await a.testDb.db.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'rivulet-listen'`))
        .rows;
    expect((await listeners()).length).toBe(2); // A's and B's
    const key = await newKey();
    await a.testDb.db.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'rivulet-listen'`);
    expect(await revokeApiKey(a.testDb.db, key.prefix)).toBeDefined();
    expect(await untilRefusedOnB(key.key)).toBeLessThan(2_000 + 1_000);
    for (let i = 0; i < 500 && (await listeners()).length < 2; i++) await new Promise((r) => setTimeout(r, 20));
    expect((await listeners()).length).toBe(2);
    // Listening again: the next revocation is fast again.
    const next = await newKey();
    expect((await a.call('POST', `/admin/keys/${next.prefix}/revoke`)).status).toBe(200);
    expect(await untilRefusedOnB(next.key)).toBeLessThan(100);
  });
});
