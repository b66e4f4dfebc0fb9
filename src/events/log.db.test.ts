import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPostgres } from '../storage/index.js';
import { openTestDb, TEST_BACKEND, type TestDb } from '../test-support/db.js';
import { ensureWorkspace } from '../workspaces/index.js';
import { appendEvents, cursorAfter, LOG_START, MAX_BATCH_EVENTS, readEvents, readLogPage, type LogCursor, type LogEvent } from './log.js';

let t: TestDb;
let ws: string;
beforeAll(async () => {
  t = await openTestDb();
  ws = (await ensureWorkspace(t.db, 'default')).id;
});
afterAll(() => t.drop());

const event = (name: string): LogEvent => ({
  event_type: 'users.behaviors.CustomEvent',
  id: randomUUID(),
  time: 1_700_000_000,
  user: { user_id: randomUUID(), external_user_id: 'u1' },
  properties: { name },
});

/**
 * Reads until at least `atLeast` events have come back. Readers see a commit only once every older
 * write transaction in the whole PostgreSQL cluster has ended, and other test files write meanwhile.
 */
async function readAtLeast(from: LogCursor, atLeast: number, pageSize = 2): Promise<{ names: string[]; cursor: LogCursor }> {
  // Generous: on a busy shared server another file's long write transaction holds the horizon back.
  const deadline = Date.now() + 60_000;
  let result = await readAll(from, pageSize);
  while (result.names.length < atLeast && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    const more = await readAll(result.cursor, pageSize);
    result = { names: [...result.names, ...more.names], cursor: more.cursor };
  }
  return result;
}

async function readAll(from: LogCursor, pageSize = 2): Promise<{ names: string[]; cursor: LogCursor }> {
  const names: string[] = [];
  let cursor = from;
  for (;;) {
    const page = await readEvents(t.db, cursor, pageSize, ws);
    if (!page.length) return { names, cursor };
    names.push(...page.map((e) => String(e.properties.name)));
    cursor = cursorAfter(page[page.length - 1]!);
  }
}

describe(`event log on ${TEST_BACKEND}`, { timeout: 150_000 }, () => {
  it('reads appended events back in order, page by page, as stored', async () => {
    const written = [event('a'), event('b'), event('c')];
    await t.db.transaction((tx) => appendEvents(tx, ws, written));
    await t.db.transaction((tx) => appendEvents(tx, ws, [event('d'), event('e')]));
    const { names } = await readAtLeast(LOG_START, 5);
    expect(names).toEqual(['a', 'b', 'c', 'd', 'e']);
    const [first] = await readEvents(t.db, LOG_START, 1, ws);
    expect(first).toMatchObject({ ...written[0], workspace_id: ws });
  });

  it('ends a page inside a batch at the limit and resumes after the last event read', async () => {
    const { cursor: start } = await readAtLeast(LOG_START, 0);
    const names = ['p1', 'p2', 'p3', 'p4', 'p5'];
    await t.db.transaction((tx) => appendEvents(tx, ws, names.map(event)));
    await readAtLeast(start, 5);
    const pages: string[][] = [];
    let cursor = start;
    for (;;) {
      const page = await readLogPage(t.db, cursor, 2, ws);
      if (page.scanned === 0) break;
      pages.push(page.events.map((e) => String(e.properties.name)));
      expect(page.end).toEqual(cursorAfter(page.events[page.events.length - 1]!));
      cursor = page.end;
    }
    expect(pages).toEqual([['p1', 'p2'], ['p3', 'p4'], ['p5']]);
  });

  it('writes an append larger than one batch as several batches, in order', async () => {
    const { cursor: start } = await readAtLeast(LOG_START, 0);
    const many = Array.from({ length: MAX_BATCH_EVENTS + 10 }, (_, i) => event(`m${i}`));
    await t.db.transaction((tx) => appendEvents(tx, ws, many));
    const { names } = await readAtLeast(start, many.length, 5000);
    expect(names).toEqual(many.map((e) => e.properties.name));
    const { rows } = await t.db.query<{ count: number }>(
      `SELECT count FROM event_batches WHERE workspace_id = $1 AND count > 1000 ORDER BY txid, seq`,
      [ws],
    );
    expect(rows.map((r) => r.count)).toEqual([MAX_BATCH_EVENTS, 10].filter((n) => n > 1000));
  });

  it('skips ids already published when asked to (publish idempotency), first occurrence wins within a call', async () => {
    const e = event('dup');
    expect(await t.db.transaction((tx) => appendEvents(tx, ws, [e], { skipDuplicateIds: true }))).toEqual([e.id]);
    const fresh = event('fresh');
    const written = await t.db.transaction((tx) => appendEvents(tx, ws, [e, fresh, { ...fresh, properties: { name: 'again' } }], { skipDuplicateIds: true }));
    expect(written).toEqual([fresh.id]);
    const { rows } = await t.db.query<{ name: string }>(
      `SELECT body->'properties'->>'name' AS name FROM event_log WHERE workspace_id = $1 AND id = ANY($2::text[]) ORDER BY seq`,
      [ws, [e.id, fresh.id]],
    );
    expect(rows.map((r) => r.name)).toEqual(['dup', 'fresh']);
  });

  it.skipIf(TEST_BACKEND !== 'postgres')('never lets a reader skip a transaction that began earlier but committed later', async () => {
    // Past every event logged so far (over 4,000), once all are below the horizon (another file's
    // transaction can hold the last ones back), read in large pages, not 2,000 round trips.
    const { rows } = await t.db.query<{ n: number }>('SELECT coalesce(sum(count), 0)::int8 AS n FROM event_batches WHERE workspace_id = $1', [ws]);
    const logged = Number(rows[0]!.n);
    const { names: before, cursor } = await readAtLeast(LOG_START, logged, 5000);
    expect(before).toHaveLength(logged);
    const slow = openPostgres({ connectionString: t.url!, maxConnections: 1 });
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let begun!: () => void;
    const started = new Promise<void>((r) => (begun = r));
    const slowTx = slow.transaction(async (tx) => {
      await appendEvents(tx, ws, [event('early-begun')]);
      begun();
      await held;
    });
    await started;
    await t.db.transaction((tx) => appendEvents(tx, ws, [event('late-begun')]));
    // The earlier transaction is still open: the reader must not move past it.
    const whileOpen = await readAll(cursor);
    expect(whileOpen.names).toEqual([]);
    release();
    await slowTx;
    const after = await readAtLeast(whileOpen.cursor, 2);
    expect(after.names).toEqual(['early-begun', 'late-begun']);
    await slow.close();
  });
});
