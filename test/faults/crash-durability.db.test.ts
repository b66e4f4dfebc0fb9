/**
 * Durability under a crash: `rivulet serve` is killed with SIGKILL in the middle of `/users/track`
 * load. After a restart on the same store, every request that was answered 2xx is there — its user
 * and each of its events, exactly once, in the event log. Runs on both backends (PGlite under a data
 * dir, PostgreSQL through DATABASE_URL).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPglite, openPostgres, type Db } from '../../src/storage/index.js';
import { createTestDatabaseUrl, TEST_BACKEND } from '../../src/test-support/db.js';
import { serve } from '../cli-process.js';

const KEY = 'crash-test-seeded-key-0123456789abcdef';
let env: Record<string, string>;
let dataDir: string;
let cleanup: () => Promise<void>;
let pgUrl: string | undefined;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'rivulet-crash-'));
  env = { RIVULET_DATA_DIR: dataDir, RIVULET_API_KEY: KEY, RIVULET_PARTNER_API_KEY_MIXPANEL: 'pk', RIVULET_RATE_LIMIT_TRACK: '1000000', LOG_LEVEL: 'warn' };
  if (TEST_BACKEND === 'postgres') {
    const created = await createTestDatabaseUrl();
    pgUrl = created.url;
    env.DATABASE_URL = created.url;
    cleanup = created.drop;
  } else {
    env.DATABASE_URL = '';
    cleanup = async () => {};
  }
});
afterAll(async () => {
  await cleanup();
  await rm(dataDir, { recursive: true, force: true });
});

interface Acknowledged {
  request: number;
  externalId: string;
}

describe(`SIGKILL during /users/track load on ${TEST_BACKEND}`, { timeout: 180_000 }, () => {
  it('keeps every acknowledged request: its user and each event exactly once', async () => {
    const server = await serve(env);
    const pool = new Pool(server.url, { connections: 8 });
    const acknowledged: Acknowledged[] = [];
    let sent = 0;
    let stop = false;
    const client = async (c: number) => {
      while (!stop) {
        const request = sent++;
        const externalId = `crash-${c}-${request}`;
        const body = JSON.stringify({
          attributes: [{ external_id: externalId, request }],
          events: Array.from({ length: 20 }, (_, i) => ({ external_id: externalId, name: 'load', time: '2024-01-01T00:00:00Z', properties: { request, i } })),
        });
        try {
          const res = await pool.request({
            path: '/users/track',
            method: 'POST',
            headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
            body,
          });
          await res.body.text();
          if (res.statusCode === 201) acknowledged.push({ request, externalId });
        } catch {
          return; // the server died: this request was never acknowledged
        }
      }
    };
    const clients = Array.from({ length: 6 }, (_, c) => client(c));
    while (acknowledged.length < 40) await new Promise((r) => setTimeout(r, 20));
    server.child.kill('SIGKILL');
    stop = true;
    await Promise.all(clients);
    await pool.destroy().catch(() => {});
    await server.exited;
    expect(acknowledged.length).toBeGreaterThanOrEqual(40);

    // A restart recovers the store (PGlite replays its WAL; PostgreSQL never went down).
    const again = await serve(env);
    again.child.kill('SIGTERM');
    await again.exited;

    const db: Db = pgUrl ? openPostgres({ connectionString: pgUrl }) : await openPglite(join(dataDir, 'pglite'));
    try {
      const ids = acknowledged.map((a) => a.externalId);
      const users = await db.query<{ external_id: string; request: number }>(
        `SELECT external_id, (custom_attributes->>'request')::int AS request FROM users WHERE external_id = ANY($1::text[])`,
        [ids],
      );
      expect(users.rows.length).toBe(ids.length);
      const events = await db.query<{ external_user_id: string; n: number; distinct_i: number }>(
        `SELECT external_user_id, count(*)::int8 AS n, count(DISTINCT body->'properties'->'custom_properties'->>'i')::int8 AS distinct_i
           FROM event_log WHERE external_user_id = ANY($1::text[]) GROUP BY external_user_id`,
        [ids],
      );
      expect(events.rows.length).toBe(ids.length);
      for (const row of events.rows) expect({ user: row.external_user_id, n: row.n, distinct: row.distinct_i }).toEqual({ user: row.external_user_id, n: 20, distinct: 20 });
      // Nothing half-applied: every logged event of the load belongs to a user that exists.
      const orphans = await db.query<{ n: number }>(
        `SELECT count(*)::int8 AS n FROM event_log e WHERE e.external_user_id LIKE 'crash-%'
           AND NOT EXISTS (SELECT 1 FROM users u WHERE u.external_id = e.external_user_id)`,
      );
      expect(orphans.rows[0]!.n).toBe(0);
    } finally {
      await db.close();
    }
  });
});
