/**
 * Migration 011 on a database that already has events: the rows of the old one-row-per-event log
 * become one-event batches in the same order, readers return them with positions seq × 65536,
 * a connector's cursor moves with them (nothing re-sent, nothing skipped), and published ids keep
 * deduplicating.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadMigrations, migrate, openPglite, openPostgres, type Db } from '../storage/index.js';
import { createTestDatabaseUrl, TEST_BACKEND } from '../test-support/db.js';
import { ensureWorkspace } from '../workspaces/index.js';
import { appendEvents, BATCH_SLOTS, LOG_START, readLogPage, type LogEvent } from './log.js';

let db: Db;
let drop: () => Promise<void> = async () => {};
beforeAll(async () => {
  if (TEST_BACKEND === 'postgres') {
    const t = await createTestDatabaseUrl();
    drop = t.drop;
    db = openPostgres({ connectionString: t.url, maxConnections: 2 });
  } else {
    db = await openPglite();
  }
});
afterAll(async () => {
  await db.close();
  await drop();
});

const event = (name: string, time: number): LogEvent => ({
  event_type: 'users.behaviors.CustomEvent',
  id: randomUUID(),
  time,
  user: { user_id: randomUUID(), external_user_id: `u-${name}` },
  properties: { name },
});

describe(`migration 011 over an existing event log on ${TEST_BACKEND}`, () => {
  it('carries events, their order, a connector cursor and published ids over', async () => {
    const all = await loadMigrations();
    await migrate(db, all.filter((m) => m.version < 11));
    const ws = (await ensureWorkspace(db, 'default')).id;
    const old = ['a', 'b', 'c', 'd'].map((n, i) => event(n, 1_700_000_000 + i));
    for (const e of old) {
      await db.query(
        `INSERT INTO event_log (workspace_id, id, event_type, time, user_id, external_user_id, body)
         VALUES ($1, $2, $3, $4, $5, $6, $7::json)`,
        [ws, e.id, e.event_type, e.time, e.user.user_id, e.user.external_user_id, JSON.stringify(e)],
      );
    }
    const seqs = (await db.query<{ seq: number; txid: string }>('SELECT seq, txid::text AS txid FROM event_log ORDER BY txid, seq')).rows;
    // A connector that has delivered a and b.
    const connector = randomUUID();
    await db.query(
      `INSERT INTO currents_connectors (id, workspace_id, name, contact_email, credential_kind, credentials, credential_hints,
         region, event_types, batch_byte_cap, max_in_flight, cursor_txid, cursor_seq)
       VALUES ($1, $2, 'm', 'ops@example.com', 'api_secret', '\\x00', '{}', 'US', '{}', 1000000, 1, $3::xid8, $4)`,
      [connector, ws, seqs[1]!.txid, seqs[1]!.seq],
    );

    await migrate(db, all);

    const { rows } = await db.query<{ cursor_txid: string; cursor_seq: number }>(
      'SELECT cursor_txid::text AS cursor_txid, cursor_seq FROM currents_connectors WHERE id = $1',
      [connector],
    );
    const cursor = { txid: rows[0]!.cursor_txid, seq: rows[0]!.cursor_seq };
    expect(cursor.seq).toBe(seqs[1]!.seq * BATCH_SLOTS);
    const whole = await readLogPage(db, LOG_START, 100, ws, { includeUnsettled: true });
    expect(whole.events.map((e) => e.properties.name)).toEqual(['a', 'b', 'c', 'd']);
    expect(whole.events.map((e) => e.seq)).toEqual(seqs.map((s) => s.seq * BATCH_SLOTS));
    expect(whole.events[0]).toMatchObject(old[0]!);
    const rest = await readLogPage(db, cursor, 100, ws, { includeUnsettled: true });
    expect(rest.events.map((e) => e.properties.name)).toEqual(['c', 'd']);

    // New appends go after the carried-over events; an old id is still known to the publish API.
    await db.transaction((tx) => appendEvents(tx, ws, [event('e', 1_700_000_010)]));
    const after = await readLogPage(db, cursor, 100, ws, { includeUnsettled: true });
    expect(after.events.map((e) => e.properties.name)).toEqual(['c', 'd', 'e']);
    expect(await db.transaction((tx) => appendEvents(tx, ws, [old[2]!], { skipDuplicateIds: true }))).toEqual([]);
  });
});
