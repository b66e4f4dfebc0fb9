/**
 * Crash safety and secrecy with the real `rivulet serve` process (docs/reference/currents.md §3): the exporting
 * process is killed with SIGKILL mid-stream and restarted on the same store; afterwards the
 * emulator's deduplicated view holds exactly the expected events and the counters are exact (a
 * re-sent batch is never counted twice). The process logs, at debug level, through both runs —
 * including a connector with a wrong secret that fails on 401 — never contain a credential.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningMixpanelEmulator } from '../src/emulator/mixpanel/index.js';
import { openPglite, openPostgres, type Db } from '../src/storage/index.js';
import { createTestDatabaseUrl, TEST_BACKEND } from '../src/test-support/db.js';
import { serve, type ServeProcess } from './cli-process.js';
import { allLogEvents, byInsertId, connectorBody, expectedFor, projectCreds, jsonCall, startEmulator, waitFor } from './currents-support.js';

const P = projectCreds('7101');
const WRONG = { ...projectCreds('7101'), secret: 'WRONG-SECRET-zzTopSecret-0042' };
const KEY = 'crash-test-seeded-key-0123456789abcdef';
const EVENTS = 10_000;
let mp: RunningMixpanelEmulator;
let env: Record<string, string>;
let dataDir: string;
let dropDb: () => Promise<void> = async () => {};

beforeAll(async () => {
  mp = await startEmulator([P]);
  dataDir = await mkdtemp(join(tmpdir(), 'rivulet-crash-'));
  env = {
    RIVULET_DATA_DIR: dataDir,
    RIVULET_API_KEY: KEY,
    LOG_LEVEL: 'debug',
    RIVULET_RATE_LIMIT_TRACK: '100000',
    RIVULET_CURRENTS_DELAY_SCALE: '0.002',
    RIVULET_CURRENTS_RECONCILE_MS: '200',
    RIVULET_CURRENTS_IDLE_POLL_MS: '50',
    RIVULET_CURRENTS_LEASE_MS: '1500',
    RIVULET_CURRENTS_NOTIFICATION_POLL_MS: '200',
    DATABASE_URL: '',
  };
  if (TEST_BACKEND === 'postgres') {
    const created = await createTestDatabaseUrl();
    env.DATABASE_URL = created.url;
    dropDb = created.drop;
  }
});
afterAll(async () => {
  await mp?.close();
  await dropDb();
  await rm(dataDir, { recursive: true, force: true });
});

const call = (server: ServeProcess, method: string, path: string, body?: unknown) => jsonCall(server.url, KEY, method, path, body);

async function openStore(): Promise<Db> {
  return TEST_BACKEND === 'postgres' ? openPostgres({ connectionString: env.DATABASE_URL! }) : openPglite(join(dataDir, 'pglite'));
}

describe(`kill -9 of the exporting process on ${TEST_BACKEND}`, () => {
  it('resumes at the cursor after a restart: the dedup view and the counters are exact; no credential is ever logged', { timeout: 300_000 }, async () => {
    const first = await serve(env);
    let second: ServeProcess | undefined;
    try {
      const users = Array.from({ length: 100 }, (_, i) => ({ external_id: `crash-${i}` }));
      for (let i = 0; i < users.length; i += 75) expect((await call(first, 'POST', '/users/track', { attributes: users.slice(i, i + 75) })).status).toBe(201);
      const good = await call(first, 'POST', '/admin/currents/mixpanel', connectorBody(mp.url, P, { name: 'Crash', batch_byte_cap: 16 * 1024 }));
      expect(good.status).toBe(201);
      const bad = await call(first, 'POST', '/admin/currents/mixpanel', connectorBody(mp.url, WRONG, { name: 'Wrong secret' }));
      expect(bad.status).toBe(201);
      expect((await call(first, 'POST', `/admin/currents/${bad.body.id}/test`)).body).toMatchObject({ ok: false, status: 401 });

      // The kill must land mid-stream. Tracked while the export runs, the events were exported as
      // fast as they came (the export kept pace with the test's requests, and the kill found 99.75 %
      // or all of them delivered): so the export is paused while they are tracked, then resumed
      // against a slowed Mixpanel.
      expect((await call(first, 'POST', `/admin/currents/${good.body.id}/pause`)).status).toBeLessThan(300);
      mp.emulator.setFaults({ latencyMs: 100, rate429: 0.05 }, P.projectId);
      const time = new Date(Date.now() - 600_000).toISOString();
      for (let i = 0; i < EVENTS; i += 75) {
        const events = Array.from({ length: Math.min(75, EVENTS - i) }, (_, j) => ({ external_id: `crash-${(i + j) % 100}`, name: 'crash_event', time, properties: { n: i + j } }));
        expect((await call(first, 'POST', '/users/track', { events })).status).toBe(201);
      }
      expect((await call(first, 'POST', `/admin/currents/${good.body.id}/resume`)).status).toBeLessThan(300);
      await waitFor(async () => mp.emulator.store.count(P.projectId, 'dedup') >= EVENTS * 0.3, 'a third of the events to land', 120_000, 5);
      first.child.kill('SIGKILL');
      await first.exited;
      const atKill = mp.emulator.store.count(P.projectId, 'dedup');
      expect(atKill).toBeLessThan(EVENTS);

      second = await serve(env);
      const status = await waitFor(
        async () => {
          const st = (await call(second!, 'GET', `/admin/currents/${good.body.id}/status`)).body;
          return st.lag.events === 0 && st.in_flight === 0 && st.delivering_here ? st : undefined;
        },
        'the restarted exporter to catch up',
        180_000,
        200,
      );
      const badStatus = (await call(second, 'GET', `/admin/currents/${bad.body.id}/status`)).body;
      expect(badStatus.state).toBe('failed');
      await waitFor(async () => {
        const n = (await call(second!, 'GET', `/admin/currents/${bad.body.id}/notifications`)).body.notifications as Array<{ sent_at: string | null }>;
        return n.length === 1 && n[0]!.sent_at !== null;
      }, 'the failure notice of the wrong-secret connector to be logged');
      second.child.kill('SIGTERM');
      expect(await second.exited).toBe(0);

      const db = await openStore();
      let log;
      try {
        const ws = (await db.query<{ id: string }>("SELECT id FROM workspaces WHERE name = 'default'")).rows[0]!.id;
        // Before the connectors existed only attributes were tracked: every custom event is theirs.
        log = (await allLogEvents(db, ws)).filter((e) => e.event_type === 'users.behaviors.CustomEvent');
      } finally {
        await db.close();
      }
      expect(log).toHaveLength(EVENTS);
      const expected = expectedFor(log, ['users.behaviors.CustomEvent', 'users.behaviors.Purchase'], P.token);
      const delivered = mp.emulator.events(P.projectId).sort(byInsertId);
      console.log(`[${TEST_BACKEND}] killed at ${atKill}/${EVENTS} in the dedup view; after restart ${delivered.length} dedup, ${mp.emulator.store.count(P.projectId, 'raw')} raw`);
      expect(delivered).toEqual(expected.events.sort(byInsertId));
      expect(status.sent).toBe(EVENTS);
      expect(status.read).toBe(status.sent + status.skipped_total + status.dead_lettered_total);

      const logs = first.output() + second.output();
      expect(logs).toContain('Mixpanel export started');
      expect(logs).toContain('notification (SMTP_URL is unset');
      const masterKey = (await readFile(join(dataDir, 'master.key'), 'utf8')).trim();
      for (const secret of [P.secret, P.token, P.username, P.apiSecret, WRONG.secret, masterKey, KEY]) {
        expect(logs.includes(secret), `a credential appeared in the logs`).toBe(false);
      }
      // The failure notice names the credential by its last four characters only.
      expect(logs).toContain(`…${WRONG.secret.slice(-4)}`);
    } finally {
      if (first.child.exitCode === null) first.child.kill('SIGKILL');
      if (second && second.child.exitCode === null) second.child.kill('SIGKILL');
    }
  });
});
