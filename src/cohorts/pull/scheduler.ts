/**
 * Runs due Mixpanel connections (docs/reference/cohort-import.md §5). The schedule is the database's: a
 * connection is due when `next_run_at` has passed, and a run holds a renewed lease so that one
 * process at a time runs it. The scheduler looks at start, every `pollMs`, and when woken (a new
 * connection, "run now"). Stopping aborts runs in flight and gives their leases back without
 * moving `next_run_at`, so the next start restarts them from page 0 at once; a crashed process's
 * lease simply runs out.
 */
import { randomUUID } from 'node:crypto';
import { claimRun, dueConnections, finishRun, releaseRun, renewLease, type ClaimedRun } from './connections.js';
import { runConnection, type PullDeps } from './run.js';

const CLAIM_BATCH = 20;

export class PullScheduler {
  readonly owner = randomUUID();
  private readonly running = new Map<string, { abort: AbortController; done: Promise<void> }>();
  private timer: NodeJS.Timeout | null = null;
  private ticking: Promise<void> | null = null;
  private again = false;
  private stopped = false;

  constructor(
    private readonly deps: PullDeps,
    private readonly onError: (err: unknown) => void,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.wake(), this.deps.timing.pollMs);
    this.timer.unref();
    this.wake();
  }

  /** Looks for due runs now (coalesced with a look already under way). */
  wake(): void {
    if (this.stopped) return;
    if (this.ticking) {
      this.again = true;
      return;
    }
    this.ticking = this.tick()
      .catch(this.onError)
      .finally(() => {
        this.ticking = null;
        if (this.again) {
          this.again = false;
          this.wake();
        }
      });
  }

  /** Connection ids with a run in progress in this process. */
  runningIds(): string[] {
    return [...this.running.keys()];
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.ticking;
    for (const r of this.running.values()) r.abort.abort();
    await Promise.allSettled([...this.running.values()].map((r) => r.done));
  }

  private async tick(): Promise<void> {
    const { db, timing } = this.deps;
    for (const id of await dueConnections(db, CLAIM_BATCH)) {
      if (this.stopped) return;
      if (this.running.has(id)) continue;
      const claimed = await claimRun(db, id, this.owner, timing.leaseMs);
      if (claimed) this.launch(claimed);
    }
  }

  private launch(claimed: ClaimedRun): void {
    const { db, timing } = this.deps;
    const abort = new AbortController();
    const heartbeat = setInterval(() => renewLease(db, claimed.id, this.owner, timing.leaseMs).catch(this.onError), Math.max(10, timing.leaseMs / 3));
    heartbeat.unref();
    const done = (async () => {
      try {
        const end = await runConnection(this.deps, claimed, abort.signal);
        await finishRun(db, claimed, this.owner, end);
      } catch (err) {
        if (abort.signal.aborted) {
          await releaseRun(db, claimed.id, this.owner).catch(this.onError);
        } else {
          this.onError(err);
          const error = `run failed unexpectedly: ${err instanceof Error ? err.message : String(err)}`.slice(0, 2000);
          await finishRun(db, claimed, this.owner, { state: claimed.state, nextRunInMs: timing.retryLaterMs, error, succeeded: false }).catch(this.onError);
        }
      } finally {
        clearInterval(heartbeat);
        this.running.delete(claimed.id);
      }
      // A "run now" may have arrived during the run.
      this.wake();
    })();
    this.running.set(claimed.id, { abort, done });
  }
}
