/**
 * Several Rivulet instances on one PostgreSQL (issue 21 §2): three app instances, each with its own
 * connection pool, as three processes behind a balancer would be.
 *
 * - 1,200 parallel `/users/track` requests, each naming 75 ids drawn from 300 (new to the workspace
 *   at first, then shared), spread over the three: every answer 2xx, no deadlock in PostgreSQL's own
 *   count (`pg_stat_database.deadlocks` of the test database, before and after) nor among the
 *   retries, and each id stored once.
 * - A cohort change is applied before it is acknowledged: add-then-remove pairs, the add sent to one
 *   instance and the remove to another once the add has answered, end with the user out, 100 of 100.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { createRivulet, type Rivulet } from '../src/server.js';
import { migrate, openPostgres, retryStats, type Db } from '../src/storage/index.js';
import { createTestDatabaseUrl, TEST_BACKEND } from '../src/test-support/db.js';
import { TEST_PARTNER_KEY } from '../src/test-support/server.js';

const KEY = 'scale-out-test-key-0123456789abcdef0123';
const INSTANCES = 3;

interface Instance {
  rivulet: Rivulet;
  db: Db;
  url: string;
  pool: Pool;
}

let database: { url: string; drop(): Promise<void> };
let dataDir: string;

async function deadlocks(): Promise<number> {
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  try {
    const { rows } = await client.query<{ deadlocks: string }>('SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()');
    return Number(rows[0]!.deadlocks);
  } finally {
    await client.end();
  }
}

async function post(instance: Instance, path: string, body: unknown, auth = true): Promise<{ status: number; body: any }> {
  const res = await instance.pool.request({
    path,
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(auth ? { authorization: `Bearer ${KEY}` } : {}) },
    body: JSON.stringify(body),
  });
  const text = await res.body.text();
  return { status: res.statusCode, body: text ? JSON.parse(text) : undefined };
}

/** A small deterministic generator, so a failure can be replayed. */
function rng(seed: number) {
  return (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
}

async function startInstances(): Promise<Instance[]> {
  const config = loadConfig({
    LOG_LEVEL: 'silent',
    RIVULET_DATA_DIR: dataDir,
    RIVULET_API_KEY: KEY,
    RIVULET_PARTNER_API_KEY_MIXPANEL: TEST_PARTNER_KEY,
    RIVULET_RATE_LIMIT_TRACK: '1000000',
    DATABASE_URL: database.url,
  });
  // All at once, as a deployment's processes start (the migration lock serialises their seeding).
  return Promise.all(
    Array.from({ length: INSTANCES }, async () => {
      const db = openPostgres({ connectionString: database.url, maxConnections: 8 });
      const rivulet = await createRivulet(config, { db, logger: false, workers: false });
      await rivulet.app.listen({ port: 0, host: '127.0.0.1' });
      const address = rivulet.app.server.address();
      const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
      return { rivulet, db, url, pool: new Pool(url, { connections: 64 }) };
    }),
  );
}

async function closeInstances(list: Instance[]): Promise<void> {
  await Promise.all(
    list.map(async (i) => {
      await i.pool.close().catch(() => undefined);
      await i.rivulet.close().catch(() => undefined);
      await i.db.close().catch(() => undefined);
    }),
  );
}

describe.skipIf(TEST_BACKEND !== 'postgres')('three instances on one PostgreSQL', { timeout: 240_000 }, () => {
  let instances: Instance[] = [];
  beforeAll(async () => {
    database = await createTestDatabaseUrl();
    dataDir = await mkdtemp(join(tmpdir(), 'rivulet-scale-out-'));
    const first = openPostgres({ connectionString: database.url, maxConnections: 2 });
    await migrate(first);
    await first.close();
  });

  afterAll(async () => {
    await closeInstances(instances);
    await database?.drop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('answers 1,200 parallel /users/track requests of new-or-shared ids with 2xx, no deadlock, each id stored once', async () => {
    instances = await startInstances();
    const before = await deadlocks();
    const retriedBefore = retryStats.deadlock;
    const random = rng(21);
    const IDS = 300;
    const time = new Date(Date.now() - 3_600_000).toISOString();
    const bodies = Array.from({ length: 1200 }, (_, r) => {
      const ids = new Set<number>();
      while (ids.size < 75) ids.add(random(IDS));
      const list = [...ids];
      return {
        // Profiles too, so requests lock existing rows as well as create new ones.
        attributes: list.slice(0, 25).map((i) => ({ external_id: `so-${i}`, last_request: r, visits: { inc: 1 } })),
        events: list.map((i) => ({ external_id: `so-${i}`, name: 'scale_out', time, properties: { r } })),
      };
    });
    let answered = 0;
    let next = 0;
    // 96 requests in flight at a time, spread over the instances in turn.
    await Promise.all(
      Array.from({ length: 96 }, async () => {
        while (next < bodies.length) {
          const n = next++;
          const res = await post(instances[n % INSTANCES]!, '/users/track', bodies[n]);
          if (res.status !== 201) throw new Error(`request ${n}: ${res.status} ${JSON.stringify(res.body)}`);
          answered++;
        }
      }),
    );
    expect(answered).toBe(1200);

    const check = instances[0]!.db;
    const used = new Set(bodies.flatMap((b) => b.events.map((e) => e.external_id)));
    const { rows } = await check.query<{ external_id: string; n: number }>(
      `SELECT external_id, count(*)::int8 AS n FROM users WHERE external_id LIKE 'so-%' GROUP BY external_id`,
    );
    expect(rows.length).toBe(used.size);
    expect(rows.filter((r) => r.n !== 1)).toEqual([]);
    const events = await check.query<{ n: number }>(`SELECT coalesce(sum(count), 0)::int8 AS n FROM user_event_stats WHERE name = 'scale_out'`);
    expect(events.rows[0]!.n).toBe(1200 * 75);
    const visits = await check.query<{ n: number }>(`SELECT coalesce(sum((custom_attributes ->> 'visits')::int), 0)::int8 AS n FROM users WHERE external_id LIKE 'so-%'`);
    expect(visits.rows[0]!.n).toBe(1200 * 25);
    expect(retryStats.deadlock - retriedBefore).toBe(0);

    // A backend reports its deadlocks to the statistics when its transaction ends and at the
    // latest when it exits: the instances are closed before the count is read again.
    await closeInstances(instances);
    instances = [];
    let after = before;
    for (let i = 0; i < 20 && after === before; i++) {
      await new Promise((r) => setTimeout(r, 100));
      after = await deadlocks();
    }
    expect(after - before).toBe(0);
  });

  it('applies a cohort change before answering: add-then-remove pairs split across instances end with the user out, 100 of 100', async () => {
    instances = await startInstances();
    const [a] = instances;
    const key = await post(a!, '/admin/import-keys', { partner: 'mixpanel' });
    expect(key.status).toBe(201);
    const auth = { partner_api_key: TEST_PARTNER_KEY, client_secret: key.body.key };
    const users = Array.from({ length: 100 }, (_, i) => `pair-${i}`);
    expect((await post(a!, '/users/track', { attributes: users.slice(0, 50).map((external_id) => ({ external_id })) })).status).toBe(201);
    expect((await post(a!, '/users/track', { attributes: users.slice(50).map((external_id) => ({ external_id })) })).status).toBe(201);
    expect((await post(a!, '/partners/mixpanel/cohorts', { ...auth, cohort_id: 'pairs', name: 'Pairs', created_at: '2024-01-01T00:00:00Z' }, false)).status).toBe(201);
    const change = (i: number, user: string, remove: boolean) =>
      post(instances[i % INSTANCES]!, '/partners/mixpanel/cohorts/users', { ...auth, cohort_id: 'pairs', cohort_changes: [{ user_ids: [user], should_remove: remove }] }, false);
    let next = 0;
    const outcomes: string[] = [];
    await Promise.all(
      Array.from({ length: 10 }, async () => {
        while (next < users.length) {
          const i = next++;
          const added = await change(i, users[i]!, false);
          const removed = await change(i + 1, users[i]!, true);
          outcomes.push(`${added.status}:${added.body.added} ${removed.status}:${removed.body.removed}`);
        }
      }),
    );
    expect(outcomes).toEqual(users.map(() => '201:1 201:1'));
    const { rows } = await instances[0]!.db.query<{ n: number; count: number }>(
      `SELECT (SELECT count(*) FROM cohort_members m WHERE m.cohort_id = c.id)::int8 AS n, c.member_count AS count FROM cohorts c WHERE c.partner_cohort_id = 'pairs'`,
    );
    expect(rows[0]).toEqual({ n: 0, count: 0 });
  });
});
