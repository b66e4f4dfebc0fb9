/**
 * The lease module on a table of its own: claims exclude each other, renewal reports which leases
 * are still held, a lost lease is noticed within one renewal period, a fenced write of a stale
 * holder commits nothing, batch claims split rows between claimers, and fair shares follow the
 * processes that beat.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestDb, TEST_BACKEND, type TestDb } from '../test-support/db.js';
import { fairShare, LeaseKeeper, LeaseLost, leaseStore, leaveHeartbeats } from './index.js';

let t: TestDb;
const leases = leaseStore({ table: 'lease_work', key: 'id', owner: 'owner', until: 'until' });

beforeAll(async () => {
  t = await openTestDb();
  await t.db.exec(`CREATE TABLE lease_work (id text PRIMARY KEY, owner text, until timestamptz, done int NOT NULL DEFAULT 0, ready boolean NOT NULL DEFAULT true)`);
  await t.db.exec(`INSERT INTO lease_work (id) SELECT 'w' || g FROM generate_series(1, 10) g`);
});
afterAll(() => t.drop());

const expire = (id: string) => t.db.query(`UPDATE lease_work SET until = now() - interval '1 second' WHERE id = $1`, [id]);

/** A write for the work, fenced by the lease as every user of the module does it. */
const fencedWrite = (id: string, owner: string) =>
  t.db.transaction(async (tx) => {
    if (!(await leases.holds(tx, id, owner))) throw new LeaseLost(id);
    await tx.query('UPDATE lease_work SET done = done + 1 WHERE id = $1', [id]);
  });
const done = async (id: string) => (await t.db.query<{ done: number }>('SELECT done FROM lease_work WHERE id = $1', [id])).rows[0]!.done;

describe(`leases on ${TEST_BACKEND}`, () => {
  it('claims exclusively, renews what it holds, and reports a lease taken over as lost; the stale holder commits nothing', async () => {
    expect(await leases.claim(t.db, 'w1', 'a', 60_000)).toBe(true);
    expect(await leases.claim(t.db, 'w1', 'b', 60_000)).toBe(false);
    expect(await leases.claim(t.db, 'w2', 'b', 60_000, 'NOT ready')).toBe(false);
    expect([...(await leases.renew(t.db, ['w1'], 'a', 60_000))]).toEqual(['w1']);
    await fencedWrite('w1', 'a');
    // a pauses past its lease; b takes the work over.
    await expire('w1');
    expect(await leases.claim(t.db, 'w1', 'b', 60_000)).toBe(true);
    expect([...(await leases.renew(t.db, ['w1'], 'a', 60_000))]).toEqual([]);
    await expect(fencedWrite('w1', 'a')).rejects.toBeInstanceOf(LeaseLost);
    await fencedWrite('w1', 'b');
    expect(await done('w1')).toBe(2);
    expect(await leases.release(t.db, 'w1', 'a')).toBe(false);
    expect(await leases.release(t.db, 'w1', 'b')).toBe(true);
  });

  it('tells the keeper of a lost lease within one renewal period', async () => {
    expect(await leases.claim(t.db, 'w3', 'a', 60_000)).toBe(true);
    const lost: Array<{ id: string; at: number }> = [];
    const keeper = new LeaseKeeper((ids) => leases.renew(t.db, ids, 'a', 60_000), 100, (id) => lost.push({ id, at: Date.now() }));
    keeper.track('w3');
    await keeper.renewNow();
    expect(lost).toEqual([]);
    await expire('w3');
    expect(await leases.claim(t.db, 'w3', 'b', 60_000)).toBe(true);
    const takenAt = Date.now();
    for (let i = 0; i < 100 && !lost.length; i++) await new Promise((r) => setTimeout(r, 20));
    keeper.stop();
    expect(lost.map((l) => l.id)).toEqual(['w3']);
    // One period (100 ms) plus the renewal's own round trip, with room for a busy machine.
    expect(lost[0]!.at - takenAt).toBeLessThan(1500);
  });

  it('splits a batch claim between claimers (SKIP LOCKED), and shares work among the processes that beat', async () => {
    await t.db.exec(`UPDATE lease_work SET owner = NULL, until = NULL`);
    const [x, y] = await Promise.all([
      leases.claimBatch(t.db, 'x', 60_000, 6, 'ready', 'id'),
      leases.claimBatch(t.db, 'y', 60_000, 6, 'ready', 'id'),
    ]);
    expect(new Set([...x, ...y]).size).toBe(x.length + y.length);
    expect(x.length + y.length).toBe(10);

    expect(await fairShare(t.db, 'test', 'p1', 10, 60_000)).toBe(10);
    expect(await fairShare(t.db, 'test', 'p2', 10, 60_000)).toBe(5);
    expect(await fairShare(t.db, 'test', 'p3', 10, 60_000)).toBe(4);
    expect(await fairShare(t.db, 'other', 'p1', 10, 60_000)).toBe(10);
    await leaveHeartbeats(t.db, 'test', 'p3');
    expect(await fairShare(t.db, 'test', 'p1', 10, 60_000)).toBe(5);
  });
});
