/**
 * The send workers of one process (docs/reference/campaigns.md §3): every `pollMs` (and when woken
 * by a launch) resolve queued dispatches, then claim due sends with leases and attempt them,
 * `concurrency` at a time. Several processes on one PostgreSQL share the work through the leases.
 */
import { randomUUID } from 'node:crypto';
import { attemptSend, type AttemptDeps } from './attempt.js';
import { resolveNextDispatch, type AudienceSource } from './resolve.js';
import { claimSends, releaseSends } from './store.js';

export interface WorkerTiming {
  pollMs: number;
  /** How long a claimed send or dispatch stays this worker's (an attempt must end within it). */
  leaseMs: number;
  concurrency: number;
}

export const DEFAULT_WORKER_TIMING: WorkerTiming = { pollMs: 500, leaseMs: 5 * 60_000, concurrency: 16 };

export class SendWorker {
  readonly owner = randomUUID();
  private timer: NodeJS.Timeout | null = null;
  private ticking: Promise<void> | null = null;
  private again = false;
  private stopped = false;

  constructor(
    private readonly deps: Omit<AttemptDeps, 'owner'>,
    private readonly audience: AudienceSource,
    private readonly channelOf: (campaignId: string) => Promise<{ channel: 'email' | 'webhook'; name: string } | undefined>,
    private readonly timing: WorkerTiming,
    private readonly onError: (err: unknown) => void,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.wake(), this.timing.pollMs);
    this.timer.unref();
    this.wake();
  }

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

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.ticking;
    await releaseSends(this.deps.db, this.owner).catch(this.onError);
  }

  private async tick(): Promise<void> {
    const deps = { ...this.deps, owner: this.owner };
    while (!this.stopped && (await resolveNextDispatch(deps.db, this.audience, this.channelOf, this.owner, this.timing.leaseMs, deps.now)));
    for (;;) {
      if (this.stopped) return;
      const rows = await claimSends(deps.db, this.owner, this.timing.concurrency * 4, this.timing.leaseMs);
      if (!rows.length) return;
      let next = 0;
      const lane = async () => {
        while (next < rows.length && !this.stopped) {
          const row = rows[next++]!;
          await attemptSend(deps, row).catch(this.onError);
        }
      };
      await Promise.all(Array.from({ length: Math.min(this.timing.concurrency, rows.length) }, lane));
    }
  }
}
