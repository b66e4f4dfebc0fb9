import { describe, expect, it } from 'vitest';
import type { Db } from '../storage/index.js';
import { SharedCounters } from './shared-counters.js';

/** A store whose every statement fails with `error`, counting the statements it was sent. */
function failingDb(error: Error & { code: string }): { db: Db; statements: () => number } {
  let statements = 0;
  const db = {
    kind: 'postgres',
    async query() {
      statements++;
      throw error;
    },
  } as unknown as Db;
  return { db, statements: () => statements };
}

const unavailable = () => Object.assign(new Error('the store is not taking writes: the disk is full'), { code: 'RIVULET_STORE_UNAVAILABLE', name: 'StoreUnavailableError' });

describe('SharedCounters while the store refuses the write', () => {
  it('counts in the process, in the same aligned windows, and gives hits back there', async () => {
    const { db, statements } = failingDb(unavailable());
    const counters = new SharedCounters(db);
    try {
      const burst = await Promise.all(Array.from({ length: 5 }, () => counters.hit('authfail:1.2.3.4:rk', 60_000)));
      expect(burst.map((v) => v.count).sort()).toEqual([1, 2, 3, 4, 5]);
      const resetAt = burst[0]!.resetAt;
      expect(resetAt % 60_000).toBe(0);
      expect(resetAt).toBeGreaterThan(Date.now());
      expect(statements()).toBeGreaterThan(0);

      const before = statements();
      await counters.giveBack('authfail:1.2.3.4:rk', resetAt);
      expect(statements()).toBe(before); // given back in the process, no statement sent
      expect((await counters.hit('authfail:1.2.3.4:rk', 60_000)).count).toBe(5);
      // Another bucket counts on its own.
      expect((await counters.hit('rl:key-2:track', 60_000)).count).toBe(1);
    } finally {
      counters.close();
    }
  });

  it('still rejects on any other error', async () => {
    const { db } = failingDb(Object.assign(new Error('syntax error'), { code: '42601' }));
    const counters = new SharedCounters(db);
    try {
      await expect(counters.hit('b', 1_000)).rejects.toThrow('syntax error');
    } finally {
      counters.close();
    }
  });
});
