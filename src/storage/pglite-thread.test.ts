/**
 * The embedded store in its thread: same answers as in-process PGlite (rows, counts, errors with
 * their SQLSTATE, transactions, LISTEN), and the write gate of a full disk (reads still run).
 * The blocked-backend path is exercised on a real full filesystem by test/faults/full-disk.test.ts.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isStoreUnavailable } from './db.js';
import { StoreHealth, meansCannotWrite } from './health.js';
import { isReadOnlyStatement, openPgliteThread, type PgliteThreadDb } from './pglite-thread.js';

let dir: string;
let db: PgliteThreadDb;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rivulet-thread-'));
  db = await openPgliteThread(join(dir, 'pglite'), { callTimeoutMs: 30_000, minFreeBytes: 0 });
  await db.exec('CREATE TABLE t (id int PRIMARY KEY, n int8, at timestamptz, b bytea)');
}, 120_000);
afterAll(async () => {
  await db?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('the embedded store in a worker thread', () => {
  it('answers queries, keeps types, and reports errors with their SQLSTATE', async () => {
    const at = new Date('2026-01-02T03:04:05Z');
    const ins = await db.query('INSERT INTO t VALUES (1, 9007199254740991, $1, $2), (2, 5, now(), NULL)', [at, Buffer.from('hi')]);
    expect(ins.rowCount).toBe(2);
    const { rows } = await db.query<{ n: number; at: Date; b: Uint8Array }>('SELECT n, at, b FROM t WHERE id = 1');
    expect(rows[0]!.n).toBe(9007199254740991);
    expect(rows[0]!.at.toISOString()).toBe(at.toISOString());
    expect(Buffer.from(rows[0]!.b).toString()).toBe('hi');
    await expect(db.query('INSERT INTO t VALUES (1)')).rejects.toMatchObject({ code: '23505' });
  });

  it('runs a transaction alone: committed whole, or rolled back whole, with no other call inside it', async () => {
    const outside = [] as Promise<unknown>[];
    await db.transaction(async (tx) => {
      await tx.query('INSERT INTO t (id) VALUES (10)');
      // A call from outside waits for the COMMIT instead of landing in this transaction.
      outside.push(db.query('SELECT count(*)::int8 AS n FROM t WHERE id = 10'));
      await tx.query('INSERT INTO t (id) VALUES (11)');
    });
    expect(((await outside[0]) as { rows: Array<{ n: number }> }).rows[0]!.n).toBe(1);
    await expect(
      db.transaction(async (tx) => {
        await tx.query('INSERT INTO t (id) VALUES (12)');
        throw new Error('changed my mind');
      }),
    ).rejects.toThrow('changed my mind');
    expect((await db.query('SELECT id FROM t WHERE id >= 10 ORDER BY id')).rows).toEqual([{ id: 10 }, { id: 11 }]);
  });

  it('delivers NOTIFY to a listener', async () => {
    const got: string[] = [];
    const sub = await db.listen!('thread_test', { onNotify: (p) => got.push(p) });
    await db.query(`SELECT pg_notify('thread_test', 'hello')`);
    for (let i = 0; i < 50 && got.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(got).toEqual(['hello']);
    await sub.close();
  });

  it('refuses writes at once while the disk is full, and still reads', async () => {
    db.health.set('lowSpace', 'the disk under test is full');
    try {
      const refused = db.query('INSERT INTO t (id) VALUES (20)');
      await expect(refused).rejects.toMatchObject({ code: 'RIVULET_STORE_UNAVAILABLE' });
      await expect(refused.catch((e: unknown) => isStoreUnavailable(e))).resolves.toBe(true);
      await expect(db.transaction(async () => 1)).rejects.toThrow(/not taking writes: the disk under test is full/);
      expect((await db.query('SELECT count(*)::int8 AS n FROM t')).rows[0]).toEqual({ n: 4 });
    } finally {
      db.health.clear('lowSpace');
    }
    await db.query('INSERT INTO t (id) VALUES (20)');
  });
});

describe('store health', () => {
  it('tells reads from writes', () => {
    expect(isReadOnlyStatement('SELECT 1')).toBe(true);
    expect(isReadOnlyStatement('  select * from users where id = $1')).toBe(true);
    expect(isReadOnlyStatement('SELECT * FROM users FOR UPDATE')).toBe(false);
    expect(isReadOnlyStatement(`SELECT nextval('s')`)).toBe(false);
    expect(isReadOnlyStatement('SELECT pg_advisory_xact_lock(1)')).toBe(false);
    expect(isReadOnlyStatement('WITH x AS (INSERT INTO t VALUES (1) RETURNING *) SELECT * FROM x')).toBe(false);
    expect(isReadOnlyStatement('INSERT INTO t VALUES (1)')).toBe(false);
    expect(isReadOnlyStatement('SELECT * INTO copy FROM t')).toBe(false);
  });

  it('is not ready while a condition holds, and a probe write clears a failure', async () => {
    const h = new StoreHealth();
    const changes: boolean[] = [];
    h.onChange((c) => changes.push(c.ready));
    expect(meansCannotWrite({ code: '53100' })).toBe(true);
    expect(meansCannotWrite({ code: '23505' })).toBe(false);
    h.noteError(Object.assign(new Error('could not extend file: No space left on device'), { code: '53100' }));
    expect(h.ready).toBe(false);
    expect(h.writable).toBe(true); // a failure alone does not close the gate: the next write may work
    expect(h.reason).toMatch(/53100/);
    let probes = 0;
    const stop = h.startProbe(async () => {
      if (++probes < 2) throw new Error('still full');
    }, 20);
    for (let i = 0; i < 100 && !h.ready; i++) await new Promise((r) => setTimeout(r, 20));
    stop();
    expect(h.ready).toBe(true);
    expect(probes).toBeGreaterThanOrEqual(2);
    expect(changes).toEqual([false, true]);
  });
});
