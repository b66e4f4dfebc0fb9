/**
 * A FIFO queue per key (a cohort): work for one cohort runs one at a time, in arrival order,
 * within this process. The cohort's row lock does the same across processes; this queue keeps
 * arrival order, which a lock alone does not promise.
 *
 * Group commit: items queued with `runBatched` under the same `Batch` that wait next to each other
 * are handed to `batch.apply` together (up to `maxItems`), still in arrival order. A batch runs
 * only when it reaches the head of the queue, so single work queued before or after it keeps its
 * place.
 *
 * Pipelining: a group may let the next group of the same key start before it has finished, by
 * calling `turn.proceeding()` once its transaction holds the key's lock (see Turn). The next group
 * then does what it can without that lock (matching its identifiers) while this one writes, and
 * queues behind it for the lock. At most two groups of a key are under way at once; single work
 * waits for every group before it to settle.
 */
import { applyWithFallback, type Settled } from '../storage/index.js';

export type { Settled };

export interface Batch<I, R> {
  readonly maxItems: number;
  /** Applies `items` in order; answers one settled result per item, in the same order. */
  apply(items: I[], turn: Turn): Promise<Array<Settled<R>>>;
}

function deferred<T>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/**
 * A group's place in its key's pipeline. The group that started before it (`previous`) may still
 * be running; this group must not write before that one's first transaction has ended, nor commit
 * anything if that transaction did not commit (the previous group then retries or falls back to
 * its items one by one, and those must come first). The protocol, for a batch that pipelines:
 *
 * 1. Do what needs no lock; take the key's lock (queued behind the previous group's transaction).
 * 2. `await previousCommitted()`: false means roll back, `await previousSettled()`, start again.
 * 3. `proceeding()`: from now on the next group may start.
 * 4. After the first transaction ends, `firstAttemptEnded(committed)`, always (also on failure).
 *
 * Any later attempt (a retry, the items one by one) must first `await previousSettled()`. A batch
 * that ignores the turn is applied after the previous group has settled, as without pipelining.
 */
export class Turn {
  private readonly proceeded = deferred<void>();
  private readonly firstEnded = deferred<boolean>();
  private readonly done = deferred<void>();
  private isSettled = false;
  private didProceed = false;

  constructor(private readonly previous: Turn | undefined) {}

  /** Whether a group of this key was still running when this one started. */
  get pipelined(): boolean {
    return this.previous !== undefined;
  }

  previousCommitted(): Promise<boolean> {
    return this.previous ? this.previous.firstEnded.promise : Promise.resolve(true);
  }

  previousSettled(): Promise<void> {
    return this.previous ? this.previous.done.promise : Promise.resolve();
  }

  proceeding(): void {
    this.didProceed = true;
    this.proceeded.resolve();
  }

  firstAttemptEnded(committed: boolean): void {
    this.firstEnded.resolve(committed && this.didProceed);
  }

  /** @internal the queue's side */
  settle(): void {
    this.isSettled = true;
    this.firstEnded.resolve(false);
    this.proceeded.resolve();
    this.done.resolve();
  }

  /** @internal resolves when the next group may start: this one proceeds or settles. */
  get mayStartNext(): Promise<void> {
    return Promise.race([this.proceeded.promise, this.done.promise]);
  }

  /** @internal */
  get settled(): boolean {
    return this.isSettled;
  }

  /** @internal */
  get whenSettled(): Promise<void> {
    return this.done.promise;
  }
}

type Entry =
  | { kind: 'single'; work: () => Promise<unknown>; resolve(v: unknown): void; reject(e: unknown): void }
  | { kind: 'batched'; batch: Batch<unknown, unknown>; item: unknown; resolve(v: unknown): void; reject(e: unknown): void };

interface KeyState {
  queue: Entry[];
  /** Items taken into groups that have not settled yet. */
  running: number;
  /** Wakes the drain loop when an entry arrives while it waits for a running group. */
  wake?: () => void;
}

export class KeyedQueue {
  private readonly keys = new Map<string, KeyState>();

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
    const state = this.keys.get(key);
    return state ? state.queue.length + state.running : 0;
  }

  private push(key: string, entry: Entry): void {
    const state = this.keys.get(key);
    if (state) {
      state.queue.push(entry);
      state.wake?.();
      return;
    }
    const fresh: KeyState = { queue: [entry], running: 0 };
    this.keys.set(key, fresh);
    void Promise.resolve().then(() => this.drain(key, fresh));
  }

  private async drain(key: string, state: KeyState): Promise<void> {
    const queue = state.queue;
    let last: Turn | undefined;
    for (;;) {
      if (!queue.length) {
        if (!last || last.settled) break;
        // A group is still running: wait for it to settle, or for new work that may start beside it.
        await new Promise<void>((r) => {
          state.wake = r;
          void last!.whenSettled.then(r);
        });
        state.wake = undefined;
        continue;
      }
      const head = queue[0]!;
      if (head.kind === 'single') {
        if (last && !last.settled) await last.whenSettled;
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
      const taken = queue.splice(0, n) as Array<Extract<Entry, { kind: 'batched' }>>;
      const turn = new Turn(last && !last.settled ? last : undefined);
      last = turn;
      state.running += taken.length;
      void head.batch
        .apply(
          taken.map((e) => e.item),
          turn,
        )
        .then(
          (results) =>
            taken.forEach((e, i) => {
              const r = results[i];
              if (!r) e.reject(new Error('batch answered fewer results than items'));
              else if (r.ok) e.resolve(r.value);
              else e.reject(r.error);
            }),
          (err) => {
            for (const e of taken) e.reject(err);
          },
        )
        .finally(() => {
          state.running -= taken.length;
          turn.settle();
        });
      await turn.mayStartNext;
    }
    this.keys.delete(key);
  }
}

/**
 * A batch whose items are applied together by `applyGroup`, falling back to one by one (see
 * applyWithFallback). It does not pipeline: it starts once the group before it has settled.
 */
export function groupWithFallback<I, R>(
  maxItems: number,
  applyGroup: (items: I[]) => Promise<R[]>,
  failsEachAlone: (err: unknown) => boolean = () => false,
): Batch<I, R> {
  return {
    maxItems,
    apply: async (items, turn) => {
      await turn.previousSettled();
      return applyWithFallback(items, applyGroup, failsEachAlone);
    },
  };
}
