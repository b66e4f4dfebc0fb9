/**
 * A FIFO queue per key (a cohort): work for one cohort runs one at a time, in arrival order,
 * within this process. The cohort's row lock does the same across processes; this queue keeps
 * arrival order, which a lock alone does not promise.
 *
 * Group commit: items queued with `runBatched` under the same `Batch` that wait next to each other
 * are handed to `batch.apply` together (up to `maxItems`), still in arrival order. A batch runs
 * only when it reaches the head of the queue, so single work queued before or after it keeps its
 * place.
 */
import { applyWithFallback, type Settled } from '../storage/group-commit.js';

export type { Settled };

export interface Batch<I, R> {
  readonly maxItems: number;
  /** Applies `items` in order; answers one settled result per item, in the same order. */
  apply(items: I[]): Promise<Array<Settled<R>>>;
}

type Entry =
  | { kind: 'single'; work: () => Promise<unknown>; resolve(v: unknown): void; reject(e: unknown): void }
  | { kind: 'batched'; batch: Batch<unknown, unknown>; item: unknown; resolve(v: unknown): void; reject(e: unknown): void };

export class KeyedQueue {
  private readonly queues = new Map<string, Entry[]>();

  run<T>(key: string, work: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => this.push(key, { kind: 'single', work, resolve: resolve as (v: unknown) => void, reject }));
  }

  runBatched<I, R>(key: string, batch: Batch<I, R>, item: I): Promise<R> {
    return new Promise<R>((resolve, reject) =>
      this.push(key, { kind: 'batched', batch: batch as Batch<unknown, unknown>, item, resolve: resolve as (v: unknown) => void, reject }),
    );
  }

  /** Entries waiting or running for `key` (for tests and metrics). */
  size(key: string): number {
    return this.queues.get(key)?.length ?? 0;
  }

  private push(key: string, entry: Entry): void {
    const queue = this.queues.get(key);
    if (queue) {
      queue.push(entry);
      return;
    }
    const fresh = [entry];
    this.queues.set(key, fresh);
    void Promise.resolve().then(() => this.drain(key, fresh));
  }

  private async drain(key: string, queue: Entry[]): Promise<void> {
    while (queue.length) {
      const head = queue[0]!;
      if (head.kind === 'single') {
        try {
          head.resolve(await head.work());
        } catch (err) {
          head.reject(err);
        }
        queue.shift();
        continue;
      }
      let n = 1;
      while (n < queue.length && n < head.batch.maxItems) {
        const next = queue[n]!;
        if (next.kind !== 'batched' || next.batch !== head.batch) break;
        n++;
      }
      const taken = queue.slice(0, n) as Array<Extract<Entry, { kind: 'batched' }>>;
      try {
        const results = await head.batch.apply(taken.map((e) => e.item));
        taken.forEach((e, i) => {
          const r = results[i];
          if (!r) e.reject(new Error('batch answered fewer results than items'));
          else if (r.ok) e.resolve(r.value);
          else e.reject(r.error);
        });
      } catch (err) {
        for (const e of taken) e.reject(err);
      }
      queue.splice(0, n);
    }
    this.queues.delete(key);
  }
}

/** A batch whose items are applied together by `applyGroup`, falling back to one by one (see applyWithFallback). */
export function groupWithFallback<I, R>(
  maxItems: number,
  applyGroup: (items: I[]) => Promise<R[]>,
  failsEachAlone: (err: unknown) => boolean = () => false,
): Batch<I, R> {
  return { maxItems, apply: (items) => applyWithFallback(items, applyGroup, failsEachAlone) };
}
