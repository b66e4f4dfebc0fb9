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
  /**
   * Linger: while a group of the key is in flight, a further group starts only once the queued
   * weight reaches `lingerWeight` or its oldest job has waited `lingerMs`. A lane with nothing in
   * flight starts at once, so an idle server adds no wait. 0 (the default) turns it off. It keeps
   * groups large when the load is split over several processes (each sees a part of it): fewer,
   * larger transactions for the same events.
   */
  lingerMs?: number;
  /** The queued weight that ends a linger at once (default: half of `maxGroupWeight`). */
  lingerWeight?: number;
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
  /** Summed weight of `queue`. */
  queuedWeight: number;
  /** The linger's timer, while one runs. */
  timer?: ReturnType<typeof setTimeout>;
}

export interface GroupCommitStats {
  groups: number;
  jobs: number;
  /** Groups that failed and were re-run job by job. */
  splits: number;
  /** Groups whose start waited for the linger (see `lingerMs`). */
  lingered: number;
}

export class GroupCommitter<Job, Result> {
  private readonly lanes = new Map<string, Lane<Job, Result>>();
  readonly stats: GroupCommitStats = { groups: 0, jobs: 0, splits: 0, lingered: 0 };

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
      if (!lane) this.lanes.set(key, (lane = { queue: [], inFlight: 0, queuedWeight: 0 }));
      const weight = this.weigh(job);
      lane.queue.push({ job, weight, resolve, reject });
      lane.queuedWeight += weight;
      this.pump(key, lane);
    });
  }

  private pump(key: string, lane: Lane<Job, Result>, lingerOver = false): void {
    const lingerMs = this.opts.lingerMs ?? 0;
    const lingerWeight = this.opts.lingerWeight ?? Math.max(1, Math.floor(this.opts.maxGroupWeight / 2));
    while (lane.queue.length && lane.inFlight < this.opts.maxInFlight) {
      if (lingerMs > 0 && lane.inFlight > 0 && !lingerOver && lane.queuedWeight < lingerWeight) {
        // Another group is in flight: let this one fill up a little (bounded by the timer).
        lane.timer ??= setTimeout(() => {
          lane.timer = undefined;
          this.pump(key, lane, true);
        }, lingerMs);
        return;
      }
      if (lane.timer || lingerOver) this.stats.lingered++;
      if (lane.timer) clearTimeout(lane.timer);
      lane.timer = undefined;
      lingerOver = false;
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
    lane.queuedWeight -= weight;
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
