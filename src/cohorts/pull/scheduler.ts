/**
 * Runs due Mixpanel connections (docs/reference/cohort-import.md §5). The schedule is the database's: a
 * connection is due when `next_run_at` has passed, and a run holds a renewed lease so that one
 * process at a time runs it. The scheduler looks at start, every `pollMs`, and when woken (a new
 * connection, "run now"). Stopping aborts runs in flight and gives their leases back without
 * moving `next_run_at`, so the next start restarts them from page 0 at once; a crashed process's
 * lease simply runs out.
 *
 * Leases (src/leases): every run's lease is renewed each third of `leaseMs`; a run whose renewal
 * says the lease is gone (another process took it over after this one paused past it) is aborted
 * at once, and every write of a run is fenced by the lease, so it commits nothing more. Each look
 * claims at most this process's fair share of the runs in progress and due, so processes that
 * share a database share the runs.
 */
import { randomUUID } from 'node:crypto';
import { fairShare, LeaseKeeper, LeaseLost, leaveHeartbeats, Ticker } from '../../leases/index.js';
import { claimRun, dueConnections, finishRun, pullWorkload, releaseRun, renewLeases, runLeases, type ClaimedRun } from './connections.js';
import { runConnection, type PullDeps } from './run.js';

const CLAIM_BATCH = 20;

export class PullScheduler {
  readonly owner = randomUUID();
  private readonly running = new Map<string, { abort: AbortController; done: Promise<void> }>();
  private readonly leases: LeaseKeeper;
  private readonly ticker: Ticker;

  constructor(
    private readonly deps: Omit<PullDeps, 'fence'>,
    private readonly onError: (err: unknown) => void,
  ) {
    const { db, timing } = deps;
    this.leases = new LeaseKeeper(
      (ids) => renewLeases(db, ids, this.owner, timing.leaseMs),
      Math.max(10, timing.leaseMs / 3),
      (id) => this.running.get(id)?.abort.abort(new LeaseLost(id)),
      onError,
    );
    this.ticker = new Ticker(() => this.tick(), timing.pollMs, onError);
  }

  private get stopped(): boolean {
    return this.ticker.isStopped;
  }

  start(): void {
    this.ticker.start();
  }

  /** Looks for due runs now (coalesced with a look already under way). */
  wake(): void {
    this.ticker.wake();
  }

  /** Connection ids with a run in progress in this process. */
  runningIds(): string[] {
    return [...this.running.keys()];
  }

  async stop(): Promise<void> {
    await this.ticker.stop();
    for (const r of this.running.values()) r.abort.abort();
    await Promise.allSettled([...this.running.values()].map((r) => r.done));
    this.leases.stop();
    await leaveHeartbeats(this.deps.db, 'pull', this.owner).catch(this.onError);
  }

  /** Renews the leases of the runs in progress now (tests; the timer does it every third of the lease). */
  renewLeases(): Promise<void> {
    return this.leases.renewNow();
  }

  private async tick(): Promise<void> {
    const { db, timing } = this.deps;
    const share = await fairShare(db, 'pull', this.owner, await pullWorkload(db), timing.leaseMs);
    for (const id of await dueConnections(db, CLAIM_BATCH)) {
      if (this.stopped || this.running.size >= share) return;
      if (this.running.has(id)) continue;
      const claimed = await claimRun(db, id, this.owner, timing.leaseMs);
      if (claimed) this.launch(claimed);
    }
  }

  private launch(claimed: ClaimedRun): void {
    const { db, timing } = this.deps;
    const abort = new AbortController();
    const fence: PullDeps['fence'] = async (tx) => {
      if (!(await runLeases.holds(tx, claimed.id, this.owner))) throw new LeaseLost(claimed.id);
    };
    this.leases.track(claimed.id);
    const done = (async () => {
      try {
        const end = await runConnection({ ...this.deps, fence }, claimed, abort.signal);
        await finishRun(db, claimed, this.owner, end);
      } catch (err) {
        const lost = err instanceof LeaseLost || abort.signal.reason instanceof LeaseLost;
        if (lost) {
          // Another process runs it now; nothing of this run was committed after the loss.
          this.onError(abort.signal.reason instanceof LeaseLost ? abort.signal.reason : err);
        } else if (abort.signal.aborted) {
          await releaseRun(db, claimed.id, this.owner).catch(this.onError);
        } else {
          this.onError(err);
          const error = `run failed unexpectedly: ${err instanceof Error ? err.message : String(err)}`.slice(0, 2000);
          await finishRun(db, claimed, this.owner, { state: claimed.state, nextRunInMs: timing.retryLaterMs, error, succeeded: false }).catch(this.onError);
        }
      } finally {
        this.leases.untrack(claimed.id);
        this.running.delete(claimed.id);
      }
      // A "run now" may have arrived during the run.
      this.wake();
    })();
    this.running.set(claimed.id, { abort, done });
  }
}
