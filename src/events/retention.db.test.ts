/**
 * The event log's window under a test clock (one hour, partitions of ten minutes): expired
 * partitions past every connector's cursor are dropped whole; a connector held behind keeps the
 * partition it needs for one more window and reports the gap, then the partition goes and the
 * connector says what it missed; idempotency ids expire with the window. Positions and readers
 * keep working over what remains. Migration 022 carries an existing log over.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadMigrations, migrate, openPglite, openPostgres, type Db } from '../storage/index.js';
import { createTestDatabaseUrl, openTestDb, TEST_BACKEND, type TestDb } from '../test-support/db.js';
import { ensureWorkspace } from '../workspaces/index.js';
import { appendEvents, BATCH_SLOTS, LOG_START, logHead, readLogPage, type LogEvent } from './log.js';
import { enforceRetention, ensurePartitions, logKeptSince } from './retention.js';

const HOUR = 3_600_000;
const window = { windowMs: HOUR, partitionMs: 10 * 60_000 };
let t: TestDb;
let ws: string;
beforeAll(async () => {
  t = await openTestDb();
  ws = (await ensureWorkspace(t.db, 'default')).id;
});
afterAll(() => t.drop());

const event = (name: string): LogEvent => ({ event_type: 'users.behaviors.CustomEvent', id: randomUUID(), time: 1_700_000_000, user: { user_id: randomUUID() }, properties: { name } });

/** A batch recorded at `at` (the test clock), in its own transaction. */
async function batchAt(db: Db, at: Date, name: string): Promise<{ txid: string; seq: number }> {
  const { rows } = await db.query<{ txid: string; seq: number }>(
    `INSERT INTO event_batches (workspace_id, count, min_time, max_time, events, recorded_at) VALUES ($1, 2, 1, 1, $2::json, $3)
     RETURNING txid::text AS txid, seq * ${BATCH_SLOTS} + 1 AS seq`,
    [ws, JSON.stringify([event(`${name}-1`), event(`${name}-2`)]), at],
  );
  return rows[0]!;
}

async function connector(db: Db, cursor: { txid: string; seq: number }): Promise<string> {
  const id = randomUUID();
  await db.query(
    `INSERT INTO currents_connectors (id, workspace_id, name, contact_email, credential_kind, credentials, credential_hints,
       region, event_types, batch_byte_cap, max_in_flight, cursor_txid, cursor_seq)
     VALUES ($1, $2, 'c', 'ops@example.com', 'api_secret', '\\x00', '{}', 'US', '{}', 1000000, 1, $3::xid8, $4)`,
    [id, ws, cursor.txid, cursor.seq],
  );
  return id;
}

const partitions = async () => (await t.db.query<{ name: string }>(`SELECT name FROM event_log_partitions WHERE parent = 'event_batches' ORDER BY ends_at`)).rows.map((r) => r.name);
const state = async (id: string) =>
  (await t.db.query<{ health: string; last_error: string | null }>('SELECT health, last_error FROM currents_connectors WHERE id = $1', [id])).rows[0]!;

describe(`the event log's window on ${TEST_BACKEND}`, () => {
  it('drops expired partitions past every cursor, keeps one a connector still needs for a window while it reports the gap, then drops it', async () => {
    const T0 = new Date(Math.ceil((Date.now() + 80 * HOUR) / (10 * 60_000)) * 10 * 60_000); // the test clock, on a partition boundary
    await ensurePartitions(t.db, window, T0);
    const old = await batchAt(t.db, new Date(T0.getTime() - 150 * 60_000), 'old'); // expired
    const behind = await batchAt(t.db, new Date(T0.getTime() - 75 * 60_000), 'behind'); // expired
    const recent = await batchAt(t.db, new Date(T0.getTime() - 5 * 60_000), 'recent'); // in the window
    const upToDate = await connector(t.db, recent);
    const heldBack = await connector(t.db, old); // has delivered 'old', not 'behind'

    const before = await partitions();
    const first = await enforceRetention(t.db, window, T0);
    const after = await partitions();
    // Every partition ending an hour or more before T0 is gone, but the one holding 'behind'.
    const behindPartition = first.gaps[0]?.partition;
    expect(first.gaps.map((g) => [g.connectorId, g.dropped])).toEqual([[heldBack, false]]);
    expect(after).toContain(behindPartition);
    expect(first.dropped.length).toBeGreaterThan(5);
    expect(first.dropped).not.toContain(behindPartition);
    expect(after.length).toBe(before.length - first.dropped.filter((n) => n.startsWith('event_batches_')).length);
    expect(await state(upToDate)).toEqual({ health: 'ok', last_error: null });
    const held = await state(heldBack);
    expect(held.health).toBe('failed');
    expect(held.last_error).toMatch(/^behind the event log's 1 h retention window: events recorded from .* \(up to 2 events, partitions event_batches_p\d+t\d+\) are older than the window and are kept for this connector only until /);

    // Readers keep their positions over what remains.
    const page = await readLogPage(t.db, LOG_START, 100, ws, { includeUnsettled: true });
    expect(page.events.map((e) => e.properties.name)).toEqual(['behind-1', 'behind-2', 'recent-1', 'recent-2']);
    expect(page.events.at(-1)!.seq).toBe(recent.seq);
    expect(await logHead(t.db)).toEqual(recent);
    expect((await readLogPage(t.db, behind, 100, ws, { includeUnsettled: true })).events.map((e) => e.properties.name)).toEqual(['recent-1', 'recent-2']);
    expect(new Date((await logKeptSince(t.db))!).getTime()).toBe(T0.getTime() - 75 * 60_000);

    // A window later the partition goes all the same, and the connector says what it missed.
    const later = new Date(T0.getTime() + HOUR);
    await ensurePartitions(t.db, window, later);
    const second = await enforceRetention(t.db, window, later);
    expect(second.dropped).toContain(behindPartition);
    expect((await state(heldBack)).last_error).toMatch(/^missed events: fell behind the event log's 1 h retention window; events recorded from .* were dropped before this connector delivered them/);
    expect((await readLogPage(t.db, LOG_START, 100, ws, { includeUnsettled: true })).events.map((e) => e.properties.name)).toEqual(['recent-1', 'recent-2']);
  });

  it('expires idempotency ids with the window and deduplicates within it', async () => {
    const own = await openTestDb();
    try {
      const w = (await ensureWorkspace(own.db, 'default')).id;
      const e = event('published');
      expect(await own.db.transaction((tx) => appendEvents(tx, w, [e, e], { skipDuplicateIds: true }))).toEqual([e.id]);
      expect(await own.db.transaction((tx) => appendEvents(tx, w, [e], { skipDuplicateIds: true }))).toEqual([]);
      const far = new Date(Date.now() + 100 * HOUR);
      await ensurePartitions(own.db, window, far);
      await enforceRetention(own.db, window, far);
      const { rows } = await own.db.query<{ n: number }>('SELECT count(*)::int8 AS n FROM published_event_ids');
      // Gone with their partitions: the id would be taken as new again.
      expect(rows[0]!.n).toBe(0);
    } finally {
      await own.drop();
    }
  });
});

describe(`migration 022 over an existing batch log on ${TEST_BACKEND}`, () => {
  it('carries batches, positions, a cursor and published ids into the partitioned tables', async () => {
    let db: Db;
    let drop = async () => {};
    if (TEST_BACKEND === 'postgres') {
      const created = await createTestDatabaseUrl();
      drop = created.drop;
      db = openPostgres({ connectionString: created.url, maxConnections: 2 });
    } else db = await openPglite();
    try {
      const all = await loadMigrations();
      await migrate(db, all.filter((m) => m.version < 22));
      const w = (await ensureWorkspace(db, 'default')).id;
      const published = event('p');
      await db.transaction((tx) => appendEvents(tx, w, [event('a'), event('b')]));
      await db.transaction((tx) => appendEvents(tx, w, [published], { skipDuplicateIds: true }));
      const before = await readLogPage(db, LOG_START, 100, w, { includeUnsettled: true });
      await migrate(db, all);
      const after = await readLogPage(db, LOG_START, 100, w, { includeUnsettled: true });
      expect(after.events.map((e) => [e.txid, e.seq, e.properties.name])).toEqual(before.events.map((e) => [e.txid, e.seq, e.properties.name]));
      expect(await db.transaction((tx) => appendEvents(tx, w, [published], { skipDuplicateIds: true }))).toEqual([]);
      await ensurePartitions(db, { windowMs: 7 * 24 * HOUR, partitionMs: 24 * HOUR });
      await db.transaction((tx) => appendEvents(tx, w, [event('c')]));
      const next = await readLogPage(db, before.end, 100, w, { includeUnsettled: true });
      expect(next.events.map((e) => e.properties.name)).toEqual(['c']);
      expect(next.events[0]!.seq).toBeGreaterThan(before.end.seq);
    } finally {
      await db.close();
      await drop();
    }
  });
});
