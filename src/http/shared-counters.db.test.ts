/**
 * The shared counters on a real store: hits and give-backs from many requests at once are each
 * written in few statements (one per batch, not one per request queued on the bucket's row lock),
 * and the counts stay exact.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Db, Queryable } from '../storage/index.js';
import { openTestDb, type TestDb } from '../test-support/db.js';
import { SharedCounters } from './shared-counters.js';

let t: TestDb;

beforeAll(async () => {
  t = await openTestDb();
});

afterAll(async () => {
  await t?.drop();
});

function recording(db: Db, statements: string[]): Db {
  const wrap = (q: Queryable): Queryable => ({
    query: (sql, params) => (statements.push(sql), q.query(sql, params)),
    exec: (sql) => q.exec(sql),
  });
  return { kind: db.kind, ...wrap(db), transaction: (work) => db.transaction((tx) => work(wrap(tx))), close: () => db.close() };
}

it('gives back a burst of slots in one or two statements and keeps the count exact', async () => {
  const statements: string[] = [];
  const counters = new SharedCounters(recording(t.db, statements));
  try {
    const taken = await Promise.all(Array.from({ length: 40 }, () => counters.hit('authfail:127.0.0.1:rk', 3_600_000)));
    expect(taken.map((v) => v.count).sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    statements.length = 0;
    await Promise.all(taken.map((v) => counters.giveBack('authfail:127.0.0.1:rk', v.resetAt)));
    expect(statements.length).toBeGreaterThanOrEqual(1);
    expect(statements.length).toBeLessThanOrEqual(2);
    // Every slot came back: the next hit is the first of the window again (hour-long windows: the test cannot straddle two but once an hour, and then it still holds).
    expect((await counters.hit('authfail:127.0.0.1:rk', 3_600_000)).count).toBe(1);
    // A slot of a window that has ended is not given back into the current one.
    await counters.giveBack('authfail:127.0.0.1:rk', taken[0]!.resetAt - 3_600_000);
    expect((await counters.hit('authfail:127.0.0.1:rk', 3_600_000)).count).toBe(2);
  } finally {
    counters.close();
  }
});
