/**
 * Group commit: jobs that arrive while earlier work is in flight are applied together, in arrival
 * order, in one transaction. A burst of concurrent requests then costs one BEGIN … COMMIT (one WAL
 * flush) and one statement per kind of write, instead of one each. At low load a job starts at
 * once, alone, so nothing waits for a group to fill.
 *
 * A group is all-or-nothing. When it fails for a reason other than the store being unavailable,
 * each of its jobs runs again alone (in order), so one failing job never fails its neighbours and
 * every caller gets the answer it would have had without grouping.
 *
 * Why cohort import has its own engine (`KeyedQueue` and `Turn` in src/cohorts/queue.ts) instead of
 * this one: the two promise different orders. Here, groups of one key run side by side
 * (`maxInFlight`) and may commit in any order; /users/track needs no more, because its requests
 * promise nothing about each other and per-user locks order the rows. A cohort's changes must
 * apply in arrival order (an add then a remove of the same user is not a remove then an add), with
 * single work (a rename, a replacement) keeping its place between groups, and a group may only
 * commit after the group before it committed (the `Turn` protocol), while still overlapping its
 * lock-free matching with that group's writes. Folding that into this engine would put a
 * commit-order dependency on the track path, or lose the order on the cohort path. What both
 * need alike, re-running a failed group item by item, is shared: `applyWithFallback` below.
 */
import { isStoreUnavailable, transactionWithRetry, type Db, type Queryable } from './db.js';

export interface GroupCommitOptions {
  /** Groups of one key in flight at once (each holds a connection). */
  maxInFlight: number;
  /** A group takes queued jobs while their summed weight stays at or under this (always at least one job). */
  maxGroupWeight: number;
}

/** Applies `jobs` in order inside `tx`; returns one result per job, in the same order. */
export type ApplyGroup<Job, Result> = (tx: Queryable, jobs: Job[]) => Promise<Result[]>;

interface Pending<Job, Result> {
  job: Job;
  weight: number;
  resolve(result: Result): void;
  reject(err: unknown): void;
}

interface Lane<Job, Result> {
  queue: Pending<Job, Result>[];
  inFlight: number;
}

export interface GroupCommitStats {
  groups: number;
  jobs: number;
  /** Groups that failed and were re-run job by job. */
  splits: number;
}

export class GroupCommitter<Job, Result> {
  private readonly lanes = new Map<string, Lane<Job, Result>>();
  readonly stats: GroupCommitStats = { groups: 0, jobs: 0, splits: 0 };

  constructor(
    private readonly db: Db,
    private readonly apply: ApplyGroup<Job, Result>,
    private readonly weigh: (job: Job) => number,
    private readonly opts: GroupCommitOptions,
  ) {}

  /** Applies `job` in a group of jobs with the same key (jobs of different keys never share a transaction). */
  submit(key: string, job: Job): Promise<Result> {
    return new Promise<Result>((resolve, reject) => {
      let lane = this.lanes.get(key);
      if (!lane) this.lanes.set(key, (lane = { queue: [], inFlight: 0 }));
      lane.queue.push({ job, weight: this.weigh(job), resolve, reject });
      this.pump(key, lane);
    });
  }

  private pump(key: string, lane: Lane<Job, Result>): void {
    while (lane.queue.length && lane.inFlight < this.opts.maxInFlight) {
      const group = this.take(lane);
      lane.inFlight++;
      void this.run(group).finally(() => {
        lane.inFlight--;
        if (lane.queue.length) this.pump(key, lane);
        else if (lane.inFlight === 0) this.lanes.delete(key);
      });
    }
  }

  private take(lane: Lane<Job, Result>): Pending<Job, Result>[] {
    let weight = lane.queue[0]!.weight;
    let n = 1;
    while (n < lane.queue.length && weight + lane.queue[n]!.weight <= this.opts.maxGroupWeight) weight += lane.queue[n++]!.weight;
    return lane.queue.splice(0, n);
  }

  private async run(group: Pending<Job, Result>[]): Promise<void> {
    this.stats.groups++;
    this.stats.jobs += group.length;
    const settled = await applyWithFallback(group.map((p) => p.job), (jobs) => this.transact(jobs), isStoreUnavailable, () => this.stats.splits++);
    group.forEach((p, i) => {
      const r = settled[i]!;
      if (r.ok) p.resolve(r.value);
      else p.reject(r.error);
    });
  }

  private async transact(jobs: Job[]): Promise<Result[]> {
    const results = await transactionWithRetry(this.db, (tx) => this.apply(tx, jobs));
    if (results.length !== jobs.length) throw new Error(`group apply returned ${results.length} results for ${jobs.length} jobs`);
    return results;
  }
}

export type Settled<R> = { ok: true; value: R } | { ok: false; error: unknown };

/**
 * Applies `items` together with `applyGroup` (all or nothing). When a group of several fails, each
 * item is applied again alone, in order, so every item gets its own result and one failing item
 * does not fail the others; unless `failsEachAlone(err)` says the same error would only repeat
 * (then every item gets it at once). `onSplit` is told when a group is re-run item by item.
 */
export async function applyWithFallback<I, R>(
  items: I[],
  applyGroup: (items: I[]) => Promise<R[]>,
  failsEachAlone: (err: unknown) => boolean = () => false,
  onSplit: () => void = () => {},
): Promise<Array<Settled<R>>> {
  try {
    const values = await applyGroup(items);
    return values.map((value) => ({ ok: true as const, value }));
  } catch (err) {
    if (items.length === 1 || failsEachAlone(err)) return items.map(() => ({ ok: false as const, error: err }));
  }
  onSplit();
  const out: Array<Settled<R>> = [];
  for (const item of items) {
    try {
      const [value] = await applyGroup([item]);
      out.push({ ok: true, value: value as R });
    } catch (error) {
      out.push({ ok: false, error });
    }
  }
  return out;
}
