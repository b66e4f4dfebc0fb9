import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestDb, TEST_BACKEND, type TestDb } from '../test-support/db.js';
import { GroupCommitter } from './group-commit.js';
import type { Queryable } from './index.js';

let t: TestDb;
beforeAll(async () => {
  t = await openTestDb({ migrate: false });
  await t.db.exec('CREATE TABLE gc (k int PRIMARY KEY, job int NOT NULL)');
});
afterAll(() => t.drop());

/** Each job inserts its keys; the result is the number of rows the group held before it. */
async function insertJobs(tx: Queryable, jobs: Array<{ id: number; keys: number[] }>): Promise<number[]> {
  const out: number[] = [];
  for (const job of jobs) {
    out.push(Number((await tx.query<{ n: number }>('SELECT count(*)::int8 AS n FROM gc')).rows[0]!.n));
    for (const k of job.keys) await tx.query('INSERT INTO gc (k, job) VALUES ($1, $2)', [k, job.id]);
  }
  return out;
}

describe(`group commit on ${TEST_BACKEND}`, () => {
  it('applies queued jobs together in arrival order and answers each with its own result', async () => {
    await t.db.exec('TRUNCATE gc');
    const sizes: number[] = [];
    const committer = new GroupCommitter(t.db, async (tx, jobs: Array<{ id: number; keys: number[] }>) => {
      sizes.push(jobs.length);
      return insertJobs(tx, jobs);
    }, (j) => j.keys.length, { maxInFlight: 1, maxGroupWeight: 12 });
    const jobs = Array.from({ length: 10 }, (_, i) => ({ id: i, keys: [i * 10, i * 10 + 1] }));
    const results = await Promise.all(jobs.map((j) => committer.submit('w', j)));
    // The first job starts alone; the next nine queue behind it and are taken 6 at a time (weight 12).
    expect(sizes).toEqual([1, 6, 3]);
    expect(results).toEqual([0, 2, 4, 6, 8, 10, 12, 14, 16, 18]);
    expect(committer.stats).toEqual({ groups: 3, jobs: 10, splits: 0, lingered: 0 });
  });

  it('re-runs a failed group job by job: only the failing job fails, the others apply once', async () => {
    await t.db.exec('TRUNCATE gc');
    const committer = new GroupCommitter(t.db, insertJobs, (j) => j.keys.length, { maxInFlight: 1, maxGroupWeight: 100 });
    const jobs = Array.from({ length: 6 }, (_, i) => ({ id: i, keys: i === 4 ? [100, 31] : [100 + i * 10] }));
    const settled = await Promise.allSettled(jobs.map((j) => committer.submit('w', j)));
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    expect((settled[4] as PromiseRejectedResult).reason).toMatchObject({ code: '23505' });
    const { rows } = await t.db.query<{ k: number; job: number }>('SELECT k, job FROM gc ORDER BY k');
    expect(rows).toEqual([
      { k: 100, job: 0 },
      { k: 110, job: 1 },
      { k: 120, job: 2 },
      { k: 130, job: 3 },
      { k: 150, job: 5 },
    ]);
    expect(committer.stats.splits).toBe(1);
  });

  it('fails every job of a group at once when the store is unavailable, without re-running them', async () => {
    let calls = 0;
    const committer = new GroupCommitter(t.db, async (_tx, jobs: number[]) => {
      calls++;
      if (jobs.length > 1 || jobs[0] !== 0) throw Object.assign(new Error('Connection terminated'), { code: '08006' });
      return [0];
    }, () => 1, { maxInFlight: 1, maxGroupWeight: 100 });
    const settled = await Promise.allSettled([0, 1, 2, 3].map((j) => committer.submit('w', j)));
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'rejected']);
    expect(calls).toBe(2);
    expect(committer.stats.splits).toBe(0);
  });

  it('keeps keys apart: jobs of different keys never share a transaction', async () => {
    await t.db.exec('TRUNCATE gc');
    const groups: string[][] = [];
    const committer = new GroupCommitter(t.db, async (_tx, jobs: string[]) => {
      groups.push(jobs);
      return jobs;
    }, () => 1, { maxInFlight: 1, maxGroupWeight: 100 });
    await Promise.all(['a1', 'b1', 'a2', 'b2', 'a3'].map((j) => committer.submit(j[0]!, j)));
    // Each key's lane runs on its own; the order between lanes is up to the connections.
    expect(groups.sort((x, y) => x[0]!.localeCompare(y[0]!))).toEqual([['a1'], ['a2', 'a3'], ['b1'], ['b2']]);
  });

  describe('linger (a further group waits to fill while one is in flight)', () => {
    const HOUR = 3_600_000;
    const recorder = (groups: number[][]) =>
      async (_tx: Queryable, jobs: number[]) => {
        groups.push(jobs);
        return jobs;
      };

    it('starts the further group as soon as its queued weight reaches the bound', async () => {
      const groups: number[][] = [];
      const committer = new GroupCommitter(t.db, recorder(groups), () => 1, { maxInFlight: 2, maxGroupWeight: 100, lingerMs: HOUR, lingerWeight: 4 });
      // 0 starts alone (nothing in flight); 1–3 wait (weight 3 < 4); 4 brings the weight to 4.
      const results = await Promise.all([0, 1, 2, 3, 4].map((j) => committer.submit('w', j)));
      expect(results).toEqual([0, 1, 2, 3, 4]);
      expect(groups).toEqual([[0], [1, 2, 3, 4]]);
    });

    it('adds no wait when nothing is in flight: the lingering jobs start when the group before them ends', async () => {
      const groups: number[][] = [];
      const committer = new GroupCommitter(t.db, recorder(groups), () => 1, { maxInFlight: 2, maxGroupWeight: 100, lingerMs: HOUR, lingerWeight: 50 });
      // With an hour's linger, only the end of group [0] can start [1, 2] before the test times out.
      await Promise.all([0, 1, 2].map((j) => committer.submit('w', j)));
      expect(groups).toEqual([[0], [1, 2]]);
    });

    it('starts the further group when the linger runs out, while the first is still in flight', async () => {
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      const groups: number[][] = [];
      const committer = new GroupCommitter(t.db, async (_tx, jobs: number[]) => {
        groups.push(jobs);
        if (jobs.includes(0)) await held;
        return jobs;
      }, () => 1, { maxInFlight: 2, maxGroupWeight: 100, lingerMs: 20, lingerWeight: 50 });
      const first = committer.submit('w', 0);
      const rest = Promise.all([1, 2].map((j) => committer.submit('w', j)));
      // Group [0] is held open, so only the linger's timer can take [1, 2] (taken = counted in stats.groups).
      const deadline = Date.now() + 120_000;
      while (committer.stats.groups < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      expect(committer.stats).toMatchObject({ groups: 2, jobs: 3, lingered: 1 });
      release();
      expect(await first).toBe(0);
      expect(await rest).toEqual([1, 2]);
      expect(groups.map((g) => [...g].sort())).toEqual(expect.arrayContaining([[0], [1, 2]]));
    });
  });
});
