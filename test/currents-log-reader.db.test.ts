/**
 * The exporter's log reader: (txid, seq) order even where txids cross a power of ten (where text
 * order would put '10000' before '9999' and move the cursor past an unread event), rows of other
 * workspaces moving the cursor without being returned, and nothing above the horizon.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendEvents, LOG_START, readLogPage, type LogCursor, type LogEvent } from '../src/events/log.js';
import { openTestDb, TEST_BACKEND, type TestDb } from '../src/test-support/db.js';
import { ensureWorkspace } from '../src/workspaces/index.js';
import { waitFor } from './currents-support.js';

let t: TestDb;
let ws: string;
let other: string;
beforeAll(async () => {
  t = await openTestDb();
  ws = (await ensureWorkspace(t.db, 'default')).id;
  other = (await ensureWorkspace(t.db, 'other')).id;
});
afterAll(() => t.drop());

const event = (name: string): LogEvent => ({
  event_type: 'users.behaviors.CustomEvent',
  id: randomUUID(),
  time: 1_700_000_000,
  user: { user_id: randomUUID(), external_user_id: 'u1' },
  properties: { name },
});

async function readAll(from: LogCursor, limit: number): Promise<{ names: string[]; cursor: LogCursor; pages: number }> {
  const names: string[] = [];
  let cursor = from;
  let pages = 0;
  for (;;) {
    const page = await readLogPage(t.db, cursor, limit, ws);
    if (page.scanned === 0) return { names, cursor, pages };
    pages++;
    names.push(...page.events.map((e) => String(e.properties['name'])));
    cursor = page.end;
  }
}

describe(`the exporter's log reader on ${TEST_BACKEND}`, () => {
  it('pages in (txid, seq) order and moves past other workspaces without returning them', async () => {
    const { cursor: start } = await readAll(LOG_START, 100);
    await t.db.transaction((tx) => appendEvents(tx, ws, [event('a'), event('b')]));
    await t.db.transaction((tx) => appendEvents(tx, other, [event('x1'), event('x2'), event('x3')]));
    await t.db.transaction((tx) => appendEvents(tx, ws, [event('c')]));
    // On a shared PostgreSQL server the horizon is cluster-wide: wait until another database's
    // transactions let these rows settle.
    const { names, pages } = await waitFor(async () => {
      const r = await readAll(start, 2);
      return r.names.length === 3 ? r : undefined;
    }, 'the events to settle below the horizon', 120_000);
    expect(names).toEqual(['a', 'b', 'c']);
    expect(pages).toBe(3);
    const [page] = [await readLogPage(t.db, start, 2, ws)];
    expect(page!.events.map((e) => e.workspace_id)).toEqual([ws, ws]);
  });

  // PostgreSQL's txids on a shared server are far from the next power of ten; PGlite's start small.
  it.skipIf(TEST_BACKEND !== 'pglite')('keeps numeric order where txids cross a power of ten', async () => {
    const { cursor: start } = await readAll(LOG_START, 100);
    let txid = Number((await t.db.query<{ x: string }>('SELECT txid_current()::text AS x')).rows[0]!.x);
    const boundary = 10 ** Math.ceil(Math.log10(txid + 3));
    while (txid < boundary - 2) txid = Number((await t.db.query<{ x: string }>('SELECT txid_current()::text AS x')).rows[0]!.x);
    await t.db.transaction((tx) => appendEvents(tx, ws, [event('below')]));
    await t.db.transaction((tx) => appendEvents(tx, ws, [event('at')]));
    const { rows } = await t.db.query<{ txid: string }>("SELECT txid::text FROM event_log WHERE body->'properties'->>'name' IN ('below', 'at') ORDER BY seq");
    expect(rows.map((r) => r.txid)).toEqual([String(boundary - 1), String(boundary)]);
    // One event per page: text order would return "at" first and then never "below".
    expect((await readAll(start, 1)).names).toEqual(['below', 'at']);
  });
});
