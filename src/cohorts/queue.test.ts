import { describe, expect, it } from 'vitest';
import { groupWithFallback, KeyedQueue, Turn, type Batch } from './queue.js';

const tick = () => new Promise((r) => setTimeout(r, 5));

/** A batch that records the groups it was given and answers each item doubled. */
function recordingBatch(maxItems: number, gate?: Promise<void>) {
  const groups: number[][] = [];
  const batch: Batch<number, number> = {
    maxItems,
    async apply(items) {
      groups.push(items);
      await gate;
      return items.map((i) => ({ ok: true as const, value: i * 2 }));
    },
  };
  return { batch, groups };
}

describe('KeyedQueue', () => {
  it('runs work for one key one at a time, in arrival order', async () => {
    const q = new KeyedQueue();
    const seen: string[] = [];
    let running = 0;
    const job = (name: string) => async () => {
      running++;
      expect(running).toBe(1);
      seen.push(name);
      await tick();
      running--;
      return name;
    };
    expect(await Promise.all([q.run('c', job('a')), q.run('c', job('b')), q.run('c', job('c'))])).toEqual(['a', 'b', 'c']);
    expect(seen).toEqual(['a', 'b', 'c']);
    expect(q.size('c')).toBe(0);
  });

  it('a failing job rejects only its caller', async () => {
    const q = new KeyedQueue();
    const failed = q.run('c', async () => {
      throw new Error('boom');
    });
    const next = q.run('c', async () => 'fine');
    await expect(failed).rejects.toThrow('boom');
    expect(await next).toBe('fine');
  });

  it('groups batched items waiting next to each other, in order, up to maxItems', async () => {
    const q = new KeyedQueue();
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const { batch, groups } = recordingBatch(3, gate);
    const results = [1, 2, 3, 4, 5, 6, 7].map((i) => q.runBatched('c', batch, i));
    await tick();
    open();
    expect(await Promise.all(results)).toEqual([2, 4, 6, 8, 10, 12, 14]);
    expect(groups).toEqual([
      [1, 2, 3],
      [4, 5, 6],
      [7],
    ]);
  });

  it('single work keeps its place between batched items; other keys and batches do not mix', async () => {
    const q = new KeyedQueue();
    const order: string[] = [];
    const a = recordingBatch(10);
    const b = recordingBatch(10);
    const wrap = (batch: Batch<number, number>, name: string): Batch<number, number> => ({
      maxItems: batch.maxItems,
      async apply(items, turn) {
        order.push(`${name}${items.join('')}`);
        return batch.apply(items, turn);
      },
    });
    const A = wrap(a.batch, 'A');
    const B = wrap(b.batch, 'B');
    const done = [
      q.runBatched('c', A, 1),
      q.runBatched('c', A, 2),
      q.run('c', async () => order.push('single')),
      q.runBatched('c', A, 3),
      q.runBatched('c', B, 4),
      q.runBatched('c', A, 5),
      q.runBatched('other', A, 9),
    ];
    await Promise.all(done);
    expect(order.filter((o) => o !== 'A9')).toEqual(['A12', 'single', 'A3', 'B4', 'A5']);
    expect(order).toContain('A9');
  });

  it('answers each item of a batch its own result or error', async () => {
    const q = new KeyedQueue();
    const batch: Batch<number, number> = {
      maxItems: 10,
      async apply(items) {
        return items.map((i) => (i % 2 ? { ok: true as const, value: i } : { ok: false as const, error: new Error(`even ${i}`) }));
      },
    };
    const [one, two, three] = [1, 2, 3].map((i) => q.runBatched('c', batch, i));
    expect(await one).toBe(1);
    await expect(two).rejects.toThrow('even 2');
    expect(await three).toBe(3);
  });
});

describe('groupWithFallback', () => {
  it('applies a group whole; when it fails, applies each item alone so only the bad one fails', async () => {
    const calls: number[][] = [];
    const batch = groupWithFallback(10, async (items: number[]) => {
      calls.push(items);
      if (items.includes(2)) throw new Error('bad item 2');
      return items.map((i) => i * 10);
    });
    expect(await batch.apply([1, 3], new Turn(undefined))).toEqual([
      { ok: true, value: 10 },
      { ok: true, value: 30 },
    ]);
    const settled = await batch.apply([1, 2, 3], new Turn(undefined));
    expect(settled.map((s) => (s.ok ? s.value : (s.error as Error).message))).toEqual([10, 'bad item 2', 30]);
    expect(calls).toEqual([[1, 3], [1, 2, 3], [1], [2], [3]]);
  });

  it('fails every item at once when the error would only repeat alone', async () => {
    const calls: number[][] = [];
    const locked = new Error('locked');
    const batch = groupWithFallback(
      10,
      async (items: number[]) => {
        calls.push(items);
        throw locked;
      },
      (err) => err === locked,
    );
    const settled = await batch.apply([1, 2], new Turn(undefined));
    expect(settled).toEqual([
      { ok: false, error: locked },
      { ok: false, error: locked },
    ]);
    expect(calls).toEqual([[1, 2]]);
  });
});

/** A FIFO lock, as the cohort's row lock behaves for waiters in one process. */
class FifoLock {
  private tail = Promise.resolve();
  acquire(): Promise<() => void> {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const ready = this.tail.then(() => release);
    this.tail = this.tail.then(() => held);
    return ready;
  }
}

/**
 * A batch that follows the Turn protocol like the partner API's: "match" without the lock, take
 * the lock, check the group before, proceed, "write" (commit = append to the log). Items named in
 * `failOnce` make their group's first attempt fail after it proceeded; the batch then applies its
 * items one by one (as applyWithFallback does), each taking the lock.
 */
function pipelinedBatch(failOnce: Set<number>) {
  const lock = new FifoLock();
  const committed: number[] = [];
  const events: string[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  let matches = 0;
  let waiters: Array<() => void> = [];
  const batch: Batch<number, number> = {
    maxItems: 2,
    async apply(items, turn) {
      const name = items.join('+');
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      try {
        try {
          events.push(`match ${name}`);
          matches++;
          for (const w of waiters) w();
          waiters = [];
          await tick();
          const release = await lock.acquire();
          try {
            if (!(await turn.previousCommitted())) throw new Error('restart');
            const matchesBefore = matches;
            turn.proceeding();
            events.push(`write ${name}`);
            await tick();
            if (items.some((i) => failOnce.has(i))) {
              // Fail only once the next group is under way (pipelined), so that it must start again.
              if (matches === matchesBefore) await new Promise<void>((r) => waiters.push(r));
              throw new Error('group failed');
            }
            committed.push(...items);
          } finally {
            release();
          }
          turn.firstAttemptEnded(true);
          return items.map((i) => ({ ok: true as const, value: i }));
        } catch {
          turn.firstAttemptEnded(false);
          await turn.previousSettled();
        }
        const out = [];
        for (const i of items) {
          const release = await lock.acquire();
          try {
            events.push(`alone ${i}`);
            await tick();
            if (failOnce.has(i)) out.push({ ok: false as const, error: new Error(`bad ${i}`) });
            else (committed.push(i), out.push({ ok: true as const, value: i }));
          } finally {
            release();
          }
        }
        return out;
      } finally {
        inFlight--;
      }
    },
  };
  return { batch, committed, events, maxInFlight: () => maxInFlight };
}

describe('KeyedQueue pipelining (Turn)', () => {
  it('starts the next group once the one before holds the lock, and commits in arrival order', async () => {
    const q = new KeyedQueue();
    const p = pipelinedBatch(new Set());
    const results: Array<Promise<number>> = [];
    for (let i = 1; i <= 6; i++) {
      results.push(q.runBatched('c', p.batch, i));
      await tick(); // arrivals spread out, so that groups form while others run
    }
    expect(await Promise.all(results)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(p.committed).toEqual([1, 2, 3, 4, 5, 6]);
    expect(p.maxInFlight()).toBe(2);
    // Some group matched while the one before it was writing.
    expect(p.events.some((e, i) => e.startsWith('write') && p.events[i + 1]?.startsWith('match'))).toBe(true);
    expect(q.size('c')).toBe(0);
  });

  it('a group whose predecessor failed after proceeding waits for its retries, then starts again: order kept', async () => {
    const q = new KeyedQueue();
    const p = pipelinedBatch(new Set([3]));
    const results: Array<Promise<number>> = [];
    for (let i = 1; i <= 8; i++) {
      const r = q.runBatched('c', p.batch, i);
      r.catch(() => {}); // looked at below, with the others
      results.push(r);
      await tick();
    }
    const settled = await Promise.allSettled(results);
    expect(settled.map((s) => (s.status === 'fulfilled' ? s.value : (s.reason as Error).message))).toEqual([1, 2, 'bad 3', 4, 5, 6, 7, 8]);
    expect(p.committed).toEqual([1, 2, 4, 5, 6, 7, 8]);
    // The group after the failed one was under way before the failure (pipelined), and wrote nothing
    // itself: it started again after the failed group's items, one by one.
    const at = (e: string) => p.events.indexOf(e);
    expect(at('match 4')).toBeGreaterThan(-1);
    expect(at('match 4')).toBeLessThan(at('alone 3'));
    expect(p.events.filter((e) => e.startsWith('write') && e.split(' ')[1]!.split('+').includes('4'))).toEqual([]);
    expect(at('alone 3')).toBeLessThan(at('alone 4'));
  });

  it('single work waits for every group under way before it', async () => {
    const q = new KeyedQueue();
    const p = pipelinedBatch(new Set());
    const order: string[] = [];
    const a = q.runBatched('c', p.batch, 1).then(() => order.push('g1'));
    await tick();
    const b = q.runBatched('c', p.batch, 2).then(() => order.push('g2'));
    const s = q.run('c', async () => order.push(`single after ${p.committed.join(',')}`));
    await Promise.all([a, b, s]);
    expect(order).toEqual(['g1', 'g2', 'single after 1,2']);
  });
});
