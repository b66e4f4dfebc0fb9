/**
 * The send workers of one process (docs/reference/campaigns.md §3): every `pollMs` (and when woken
 * by a launch) resolve queued dispatches, then claim due sends with leases and attempt them,
 * `concurrency` at a time. Several processes on one PostgreSQL share the work through the leases.
 */
import { randomUUID } from 'node:crypto';
import { Ticker } from '../leases/index.js';
import { attemptSend, prefetch, type AttemptDeps } from './attempt.js';
import { resolveNextDispatch, type AudienceSource } from './resolve.js';
import type { Channel } from './definition.js';
import { claimSends, releaseSends } from './store.js';
import { takeRateSlot } from './limits.js';
import { passGates } from './gates.js';

export interface WorkerTiming {
  pollMs: number;
  /** How long a claimed send or dispatch stays this worker's (an attempt must end within it). */
  leaseMs: number;
  concurrency: number;
}

export const DEFAULT_WORKER_TIMING: WorkerTiming = { pollMs: 500, leaseMs: 5 * 60_000, concurrency: 16 };

export class SendWorker {
  readonly owner = randomUUID();
  private readonly ticker: Ticker;

  constructor(
    private readonly deps: Omit<AttemptDeps, 'owner'>,
    private readonly audience: AudienceSource,
    private readonly channelOf: (campaignId: string) => Promise<{ channel: Channel; name: string } | undefined>,
    private readonly timing: WorkerTiming,
    private readonly onError: (err: unknown) => void,
  ) {
    this.ticker = new Ticker(() => this.tick(), timing.pollMs, onError);
  }

  private get stopped(): boolean {
    return this.ticker.isStopped;
  }

  start(): void {
    this.ticker.start();
  }

  /** Looks for work now (coalesced with a look already under way). */
  wake(): void {
    this.ticker.wake();
  }

  async stop(): Promise<void> {
    await this.ticker.stop();
    await releaseSends(this.deps.db, this.owner).catch(this.onError);
  }

  private async tick(): Promise<void> {
    const deps = { ...this.deps, owner: this.owner };
    while (!this.stopped && (await resolveNextDispatch(deps.db, this.audience, this.channelOf, this.owner, this.timing.leaseMs, deps.now)));
    for (;;) {
      if (this.stopped) return;
      const rows = await claimSends(deps.db, this.owner, this.timing.concurrency * 4, this.timing.leaseMs);
      if (!rows.length) return;
      const pre = await prefetch(deps.db, rows);
      let next = 0;
      const lane = async () => {
        while (next < rows.length && !this.stopped) {
          const row = rows[next++]!;
          // Quiet hours and the global frequency cap (gates.ts), then the campaign's rate limit: a send over it waits for a free slot instead (limits.ts).
          if (!(await passGates(deps.db, row, this.owner, deps.now()).catch((err) => (this.onError(err), false)))) continue;
          if (!(await takeRateSlot(deps.db, row, this.owner).catch((err) => (this.onError(err), false)))) continue;
          await attemptSend(deps, row, pre).catch(this.onError);
        }
      };
      await Promise.all(Array.from({ length: Math.min(this.timing.concurrency, rows.length) }, lane));
    }
  }
}
