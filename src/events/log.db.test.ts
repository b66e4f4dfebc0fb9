import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPostgres } from '../storage/index.js';
import { openTestDb, TEST_BACKEND, type TestDb } from '../test-support/db.js';
import { ensureWorkspace } from '../workspaces/index.js';
import { appendEvents, cursorAfter, LOG_START, readEvents, type LogCursor, type LogEvent } from './log.js';

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
async function readAtLeast(from: LogCursor, atLeast: number): Promise<{ names: string[]; cursor: LogCursor }> {
  const deadline = Date.now() + 20_000;
  let result = await readAll(from);
  while (result.names.length < atLeast && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    const more = await readAll(result.cursor);
    result = { names: [...result.names, ...more.names], cursor: more.cursor };
  }
  return result;
}

async function readAll(from: LogCursor): Promise<{ names: string[]; cursor: LogCursor }> {
  const names: string[] = [];
  let cursor = from;
  for (;;) {
    const page = await readEvents(t.db, cursor, 2, ws);
    if (!page.length) return { names, cursor };
    names.push(...page.map((e) => String(e.properties.name)));
    cursor = cursorAfter(page[page.length - 1]!);
  }
}

describe(`event log on ${TEST_BACKEND}`, () => {
  it('reads appended events back in order, page by page, as stored', async () => {
    const written = [event('a'), event('b'), event('c')];
    await t.db.transaction((tx) => appendEvents(tx, ws, written));
    await t.db.transaction((tx) => appendEvents(tx, ws, [event('d'), event('e')]));
    const { names } = await readAtLeast(LOG_START, 5);
    expect(names).toEqual(['a', 'b', 'c', 'd', 'e']);
    const [first] = await readEvents(t.db, LOG_START, 1, ws);
    expect(first).toMatchObject({ ...written[0], workspace_id: ws });
  });

  it('skips ids already logged when asked to (publish idempotency), and fails on them otherwise', async () => {
    const e = event('dup');
    await t.db.transaction((tx) => appendEvents(tx, ws, [e]));
    const written = await t.db.transaction((tx) => appendEvents(tx, ws, [e, event('fresh')], { skipDuplicateIds: true }));
    expect(written).toHaveLength(1);
    await expect(t.db.transaction((tx) => appendEvents(tx, ws, [e]))).rejects.toThrow();
  });

  it.skipIf(TEST_BACKEND !== 'postgres')('never lets a reader skip a transaction that began earlier but committed later', async () => {
    const { cursor } = await readAtLeast(LOG_START, 7);
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
