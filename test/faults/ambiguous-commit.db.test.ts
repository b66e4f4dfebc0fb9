/**
 * The connection lost between PostgreSQL applying a COMMIT and the client hearing of it: the
 * exporter's checkpoint (cursor + counters) is then in doubt, and retrying it must not count its
 * events twice. The store is wrapped so that, once, the checkpoint transaction commits and then
 * throws a connection error, exactly what a cut at that moment looks like to the exporter (seen in
 * test/faults/pg-restart-export.db.test.ts as sent 7,579 for 7,510 delivered before the fix).
 * Deterministic, both backends.
 */
process.env.RIVULET_CURRENTS_DELAY_SCALE = '0.002';
process.env.RIVULET_CURRENTS_RECONCILE_MS = '200';
process.env.RIVULET_CURRENTS_IDLE_POLL_MS = '50';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import type { RunningMixpanelEmulator } from '../../src/emulator/mixpanel/index.js';
import { createRivulet, type Rivulet } from '../../src/server.js';
import type { Db, Queryable } from '../../src/storage/index.js';
import { openTestDb, TEST_BACKEND, type TestDb } from '../../src/test-support/db.js';
import { createApiKey, ensureWorkspace, PERMISSIONS } from '../../src/workspaces/index.js';
import { allLogEvents, byInsertId, connectorBody, expectedFor, projectCreds, jsonCall, startEmulator, waitFor } from '../currents-support.js';

const P = projectCreds('7401');
const TYPES = ['users.behaviors.CustomEvent'];
const CHECKPOINT = /UPDATE currents_connectors SET cursor_txid/;

/** A Db whose next `armed` checkpoint transactions commit, then throw as if the connection dropped. */
function ambiguousCommits(inner: Db): Db & { arm(n: number): void; fired: number } {
  let armed = 0;
  const wrapped = {
    kind: inner.kind,
    fired: 0,
    arm(n: number) {
      armed = n;
    },
    query: inner.query.bind(inner),
    exec: inner.exec.bind(inner),
    close: inner.close.bind(inner),
    async transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T> {
      let checkpoint = false;
      const result = await inner.transaction((tx) =>
        work({
          query: (sql, params) => {
            if (CHECKPOINT.test(sql)) checkpoint = true;
            return tx.query(sql, params);
          },
          exec: (sql) => tx.exec(sql),
        } as Queryable),
      );
      if (checkpoint && armed > 0) {
        armed--;
        wrapped.fired++;
        throw Object.assign(new Error('Connection terminated unexpectedly'), { code: 'ECONNRESET' });
      }
      return result;
    },
  };
  return wrapped;
}

let testDb: TestDb;
let db: ReturnType<typeof ambiguousCommits>;
let rivulet: Rivulet;
let mp: RunningMixpanelEmulator;
let url: string;
let key: string;
let workspaceId: string;

const call = (method: string, path: string, body?: unknown) => jsonCall(url, key, method, path, body);

describe(`a checkpoint whose COMMIT answer is lost (${TEST_BACKEND})`, () => {
  beforeAll(async () => {
    testDb = await openTestDb({ migrate: false });
    db = ambiguousCommits(testDb.db);
    mp = await startEmulator([P], { seed: 5 });
    rivulet = await createRivulet(loadConfig({ LOG_LEVEL: 'silent', RIVULET_DATA_DIR: '/tmp/rivulet-ambiguous-commit-test', RIVULET_RATE_LIMIT_TRACK: '100000' }), { db, logger: false });
    await rivulet.app.listen({ port: 0, host: '127.0.0.1' });
    url = `http://127.0.0.1:${(rivulet.app.server.address() as { port: number }).port}`;
    const ws = await ensureWorkspace(testDb.db, 'default');
    workspaceId = ws.id;
    key = (await createApiKey(testDb.db, { workspaceId: ws.id, name: 't', permissions: [...PERMISSIONS] })).key;
  });
  afterAll(async () => {
    await rivulet?.close().catch(() => {});
    await mp?.close();
    await testDb?.drop();
  });

  it('is retried without counting its events twice; the dedup view is exact', { timeout: 90_000 }, async () => {
    const connector = await call('POST', '/admin/currents/mixpanel', connectorBody(mp.url, P, { name: 'Ambiguous', event_types: TYPES, batch_byte_cap: 8 * 1024 }));
    expect(connector.status).toBe(201);
    const id = connector.body.id as string;
    // Every checkpoint for a while is in doubt: some with new runs merged into the retry, some not.
    db.arm(3);
    const time = new Date(Date.now() - 60_000).toISOString();
    let tracked = 0;
    for (let i = 0; i < 3000; i += 75) {
      const events = Array.from({ length: 75 }, (_, j) => ({ external_id: `amb-${(i + j) % 30}`, name: 'ambiguous', time, properties: { n: i + j } }));
      expect((await call('POST', '/users/track', { events })).status).toBe(201);
      tracked += 75;
      if (i === 1500) await waitFor(async () => db.fired >= 1, 'a checkpoint in doubt', 30_000, 5);
    }
    const status = await waitFor(async () => {
      const st = (await call('GET', `/admin/currents/${id}/status`)).body;
      return st.lag?.events === 0 && st.in_flight === 0 && db.fired === 3 ? st : undefined;
    }, 'the exporter to catch up', 60_000, 100);

    const log = (await allLogEvents(testDb.db, workspaceId)).filter((e) => TYPES.includes(e.event_type));
    expect(log).toHaveLength(tracked);
    const expected = expectedFor(log, TYPES, P.token);
    expect(mp.emulator.events(P.projectId).sort(byInsertId)).toEqual(expected.events.sort(byInsertId));
    expect({ sent: status.sent, read: status.read }).toEqual({ sent: tracked, read: tracked });
  });
});
