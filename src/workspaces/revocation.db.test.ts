/**
 * Revocation across two Rivulet instances on one database (two processes behind a balancer; on
 * PGlite the second instance shares the in-process store): a REST key revoked through one
 * instance's admin API, or straight in the database as the CLI does, answers 401 on the other
 * within 100 ms although the other had it cached, and still after the other restarts. On
 * PostgreSQL, a dropped notification connection is reopened, and meanwhile the cache's TTL bounds
 * the staleness (docs/access-control.md#revocation).
 */
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_BACKEND } from '../test-support/db.js';
import { startSecondInstance, type SecondInstance } from '../test-support/second-instance.js';
import { startTestServer, type TestServer } from '../test-support/server.js';
import { revokeApiKey } from './store.js';

describe(`REST key revocation across two instances on one database (${TEST_BACKEND})`, () => {
  let a: TestServer;
  let b: SecondInstance;

  beforeAll(async () => {
    a = await startTestServer();
    b = await startSecondInstance(a);
  }, 240_000);
  afterAll(async () => {
    await b?.close();
    await a?.close();
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

  /**
   * Milliseconds from now until the first request that B refuses was sent (polling B; gives up after
   * `limitMs`). Measured at sending, so a slow answer on a loaded machine does not count as staleness.
   */
  const untilRefusedOnB = async (key: string, limitMs = 10_000) => {
    const t0 = performance.now();
    for (;;) {
      const sentAt = performance.now() - t0;
      const status = await trackOnB(key);
      if (status === 401) return sentAt;
      expect(status).toBe(201);
      if (sentAt > limitMs) return sentAt;
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

    await b.restart();
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
