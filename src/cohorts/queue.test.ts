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
