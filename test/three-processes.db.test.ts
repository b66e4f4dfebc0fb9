/**
 * Three real `rivulet serve` processes on one PostgreSQL (issue 21): started at once, mixed load
 * (/users/track with overlapping new ids, cohort add/remove pairs split across processes, a Currents
 * export to the Mixpanel emulator), the process delivering the export killed with `kill -9`, more
 * load on the two left; then the counts come out exact: each id stored once, every event logged
 * once, every pair ends with the user out, and the export delivered every event (after dedup)
 * and counted each exactly once.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningMixpanelEmulator } from '../src/emulator/mixpanel/index.js';
import { openPostgres, type Db } from '../src/storage/index.js';
import { createTestDatabaseUrl, TEST_BACKEND } from '../src/test-support/db.js';
import { serve, type ServeProcess } from './cli-process.js';
import { connectorBody, projectCreds, startEmulator, waitFor } from './currents-support.js';

const PARTNER_KEY = 'pk_three_processes_partner_key';
const P = projectCreds('3003');
const IDS = 120;

describe.skipIf(TEST_BACKEND !== 'postgres')('three rivulet serve processes on one PostgreSQL', { timeout: 180_000 }, () => {
  let database: { url: string; drop(): Promise<void> };
  let db: Db;
  let dataDir: string;
  let mp: RunningMixpanelEmulator;
  let procs: ServeProcess[] = [];
  const key = 'three-processes-seeded-rest-key-0123456789';

  beforeAll(async () => {
    database = await createTestDatabaseUrl();
    // Nothing beforehand: the three start at once on an empty database (the migration lock and
    // first-start seeding), with the REST key seeded from RIVULET_API_KEY by each of them.
    db = openPostgres({ connectionString: database.url, maxConnections: 3 });
    dataDir = await mkdtemp(join(tmpdir(), 'rivulet-three-'));
    mp = await startEmulator([P]);
  });

  afterAll(async () => {
    for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL');
    await Promise.all(procs.map((p) => p.exited));
    await mp?.close();
    await db?.close();
    await database?.drop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  const post = async (p: ServeProcess, path: string, body: unknown, auth = true) => {
    const res = await fetch(p.url + path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(auth ? { authorization: `Bearer ${key}` } : {}) },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  };

  /** `count` track requests of 40 events each over ids drawn from a shared pool, spread over `targets`. */
  async function trackLoad(targets: ServeProcess[], count: number, seed: number): Promise<number> {
    let next = 0;
    let events = 0;
    const time = new Date(Date.now() - 60_000).toISOString();
    await Promise.all(
      Array.from({ length: 12 }, async () => {
        while (next < count) {
          const n = next++;
          const ids = Array.from({ length: 40 }, (_, i) => `tp-${(n * 7 + i * 13 + seed) % IDS}`);
          const res = await post(targets[n % targets.length]!, '/users/track', { events: ids.map((external_id) => ({ external_id, name: 'three', time, properties: { n } })) });
          if (res.status !== 201) throw new Error(`track ${n}: ${res.status} ${JSON.stringify(res.body)}`);
          events += res.body.events_processed;
        }
      }),
    );
    return events;
  }

  async function cohortPairs(targets: ServeProcess[], auth: Record<string, string>, users: string[]): Promise<string[]> {
    const outcomes: string[] = [];
    for (let i = 0; i < users.length; i++) {
      const change = (p: ServeProcess, remove: boolean) =>
        post(p, '/partners/mixpanel/cohorts/users', { ...auth, cohort_id: 'three', cohort_changes: [{ user_ids: [users[i]], should_remove: remove }] }, false);
      const added = await change(targets[i % targets.length]!, false);
      const removed = await change(targets[(i + 1) % targets.length]!, true);
      outcomes.push(`${added.status}:${added.body.added} ${removed.status}:${removed.body.removed}`);
    }
    return outcomes;
  }

  it('start at once, take mixed load, lose one to kill -9, and the counts come out exact', async () => {
    const env = {
      DATABASE_URL: database.url,
      RIVULET_DATA_DIR: dataDir,
      RIVULET_API_KEY: key,
      RIVULET_MASTER_KEY: 'three-processes-master-key-0123456789abcdef',
      RIVULET_ADMIN_PASSWORD: 'three-processes-admin-password',
      RIVULET_PARTNER_API_KEY_MIXPANEL: PARTNER_KEY,
      RIVULET_RATE_LIMIT_TRACK: '1000000',
      RIVULET_CURRENTS_LEASE_MS: '2000',
      RIVULET_CURRENTS_RECONCILE_MS: '200',
      RIVULET_CURRENTS_IDLE_POLL_MS: '50',
      RIVULET_CURRENTS_DELAY_SCALE: '0.01',
      LOG_LEVEL: 'warn',
    };
    procs = await Promise.all([serve(env), serve(env), serve(env)]);

    const created = await post(procs[0]!, '/admin/currents/mixpanel', connectorBody(mp.url, P, { name: 'Three', event_types: ['users.behaviors.CustomEvent'] }));
    expect(created.status).toBe(201);
    const importKey = await post(procs[1]!, '/admin/import-keys', { partner: 'mixpanel' });
    const auth = { partner_api_key: PARTNER_KEY, client_secret: importKey.body.key };
    const pairUsers = Array.from({ length: 24 }, (_, i) => `pair-${i}`);
    expect((await post(procs[2]!, '/users/track', { attributes: pairUsers.map((external_id) => ({ external_id })) })).status).toBe(201);
    expect((await post(procs[0]!, '/partners/mixpanel/cohorts', { ...auth, cohort_id: 'three', name: 'Three', created_at: '2024-01-01T00:00:00Z' }, false)).status).toBe(201);
    // Mixpanel slows down, so the export is still under way when its process is killed.
    mp.emulator.setFaults({ latencyMs: 150 });

    // Phase 1: all three.
    const [events1, pairs1] = await Promise.all([trackLoad(procs, 90, 0), cohortPairs(procs, auth, pairUsers.slice(0, 12))]);

    // Kill the process that delivers the export, mid-stream.
    const holder = await waitFor(async () => {
      const { rows } = await db.query<{ lease_owner: string | null }>('SELECT lease_owner FROM currents_connectors WHERE id = $1', [created.body.id]);
      const pid = Number(rows[0]?.lease_owner?.split(':')[1]);
      return procs.find((p) => p.child.pid === pid);
    }, 'a process to hold the connector');
    holder.child.kill('SIGKILL');
    await holder.exited;
    const left = procs.filter((p) => p !== holder);
    mp.emulator.setFaults({});

    // Phase 2: the two left.
    const [events2, pairs2] = await Promise.all([trackLoad(left, 60, 5), cohortPairs(left, auth, pairUsers.slice(12))]);
    const tracked = events1 + events2;
    expect(tracked).toBe(150 * 40);
    expect([...pairs1, ...pairs2]).toEqual(pairUsers.map(() => '201:1 201:1'));

    // Each id stored once; every event logged once.
    const users = await db.query<{ ids: number; rows: number }>(`SELECT count(DISTINCT external_id)::int8 AS ids, count(*)::int8 AS rows FROM users WHERE external_id LIKE 'tp-%'`);
    expect(users.rows[0]).toEqual({ ids: IDS, rows: IDS });
    const logged = await db.query<{ n: number }>(`SELECT count(*)::int8 AS n FROM event_log WHERE body -> 'properties' ->> 'name' = 'three'`);
    expect(logged.rows[0]!.n).toBe(tracked);
    const members = await db.query<{ n: number; count: number }>(
      `SELECT (SELECT count(*) FROM cohort_members m WHERE m.cohort_id = c.id)::int8 AS n, c.member_count AS count FROM cohorts c WHERE c.partner_cohort_id = 'three'`,
    );
    expect(members.rows[0]).toEqual({ n: 0, count: 0 });

    // The export went on from another process: every CustomEvent delivered (after Mixpanel's
    // dedup), and counted exactly once in the connector's counters.
    const customEvents = (await db.query<{ n: number }>(`SELECT count(*)::int8 AS n FROM event_log WHERE event_type = 'users.behaviors.CustomEvent'`)).rows[0]!.n;
    await waitFor(async () => mp.emulator.events(P.projectId).length === customEvents, 'the export to catch up', 90_000, 250);
    const sent = await waitFor(async () => {
      const { rows } = await db.query<{ n: number }>(`SELECT coalesce(sum(count), 0)::int8 AS n FROM currents_counters WHERE connector_id = $1 AND outcome = 'sent'`, [created.body.id]);
      return rows[0]!.n === customEvents ? rows[0]!.n : undefined;
    }, 'the counters to settle', 30_000, 250);
    expect(sent).toBe(customEvents);
    const { rows: owner } = await db.query<{ lease_owner: string }>('SELECT lease_owner FROM currents_connectors WHERE id = $1', [created.body.id]);
    expect(left.map((p) => p.child.pid)).toContain(Number(owner[0]!.lease_owner.split(':')[1]));

    for (const p of left) p.child.kill('SIGTERM');
    expect(await Promise.all(left.map((p) => p.exited))).toEqual([0, 0]);
  });
});
