/**
 * The send workers of one process (docs/reference/campaigns.md §3): every `pollMs` (and when woken
 * by a launch) resolve queued dispatches, and — at the same time, so that the first messages of a
 * large audience leave while the rest is still being resolved — claim due sends with leases and
 * attempt them, `concurrency` at a time. The claimed sends flow through a queue that is refilled
 * before it runs dry, so no lane waits for the slowest send of a batch; the attempts' writes are
 * group-committed (send-writer.ts). While it holds sends, the worker renews their leases, so a
 * short lease only matters after a crash. Several processes on one PostgreSQL share the work
 * through the leases.
 */
import { randomUUID } from 'node:crypto';
import { Ticker } from '../leases/index.js';
import { attemptSend, prefetch, type AttemptDeps, type Prefetched } from './attempt.js';
import { resolveNextDispatch, type AudienceSource } from './resolve.js';
import { claimSends, releaseSends, renewSendLeases, type SendRow } from './store.js';
import { SendWriter } from './send-writer.js';
import { takeRateSlot } from './limits.js';
import { passGatesBatch } from './gates.js';
import type { Channel } from './definition.js';

export interface WorkerTiming {
  pollMs: number;
  /** How long a claimed send or dispatch stays this worker's unless renewed (it is, every third of it, while held). */
  leaseMs: number;
  concurrency: number;
}

export const DEFAULT_WORKER_TIMING: WorkerTiming = { pollMs: 500, leaseMs: 30_000, concurrency: 16 };

export class SendWorker {
  readonly owner = randomUUID();
  private readonly ticker: Ticker;
  private readonly writer: SendWriter;
  private resolving: Promise<void> | undefined;
  /** Sends claimed and not yet finished by this worker (a re-claim of one of them is ignored). */
  private readonly inFlight = new Set<string>();
  private renewTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly deps: Omit<AttemptDeps, 'owner'>,
    private readonly audience: AudienceSource,
    private readonly channelOf: (campaignId: string) => Promise<{ channel: Channel; name: string } | undefined>,
    private readonly timing: WorkerTiming,
    private readonly onError: (err: unknown) => void,
  ) {
    this.ticker = new Ticker(() => this.tick(), timing.pollMs, onError);
    this.writer = new SendWriter(deps.db, this.owner);
  }

  private get stopped(): boolean {
    return this.ticker.isStopped;
  }

  start(): void {
    this.ticker.start();
    this.renewTimer = setInterval(() => {
      if (this.inFlight.size) renewSendLeases(this.deps.db, this.owner, [...this.inFlight], this.timing.leaseMs).catch(this.onError);
    }, Math.max(200, Math.floor(this.timing.leaseMs / 3)));
    this.renewTimer.unref();
  }

  /** Looks for work now (coalesced with a look already under way). */
  wake(): void {
    this.ticker.wake();
  }

  async stop(): Promise<void> {
    await this.ticker.stop();
    await this.resolving;
    await this.writer.idle();
    if (this.renewTimer) clearInterval(this.renewTimer);
    await releaseSends(this.deps.db, this.owner).catch(this.onError);
  }

  /** Resolves queued dispatches in the background; every chunk of send rows written wakes the senders. */
  private startResolving(): void {
    if (this.resolving || this.stopped) return;
    const run = async () => {
      const opts = { onChunk: () => this.wake(), stopped: () => this.stopped };
      while (!this.stopped && (await resolveNextDispatch(this.deps.db, this.audience, this.channelOf, this.owner, this.timing.leaseMs, this.deps.now, opts))) this.wake();
    };
    this.resolving = run()
      .catch(this.onError)
      .finally(() => {
        this.resolving = undefined;
      });
  }

  private async tick(): Promise<void> {
    const deps: AttemptDeps = { ...this.deps, owner: this.owner, writer: this.writer };
    this.startResolving();
    const batch = this.timing.concurrency * 4;
    const queue: Array<{ row: SendRow; pre: Prefetched }> = [];
    let head = 0;
    let exhausted = false;
    let refilling: Promise<void> | undefined;
    const refill = (): Promise<void> =>
      (refilling ??= (async () => {
        const claimed = await claimSends(deps.db, this.owner, batch, this.timing.leaseMs);
        const rows = claimed.filter((r) => !this.inFlight.has(r.send_key));
        if (!claimed.length) exhausted = true;
        if (!rows.length) return;
        for (const r of rows) this.inFlight.add(r.send_key);
        // The batch's users and flags, then quiet hours and the global frequency cap for the whole batch (gates.ts).
        const { pre, passed } = await (async () => {
          const pre = await prefetch(deps.db, rows);
          return { pre, passed: await passGatesBatch(deps.db, rows, this.owner, deps.now(), pre.users) };
        })().catch((err) => {
          for (const r of rows) this.inFlight.delete(r.send_key);
          throw err;
        });
        if (head > 1024) {
          queue.splice(0, head);
          head = 0;
        }
        for (const row of rows) {
          if (passed.has(row.send_key)) queue.push({ row, pre });
          else this.inFlight.delete(row.send_key);
        }
      })()
        .catch((err) => {
          this.onError(err);
          exhausted = true;
        })
        .finally(() => {
          refilling = undefined;
        }));
    const lane = async () => {
      for (;;) {
        if (this.stopped) return;
        // Claim the next batch while this one still has work for every lane.
        if (!exhausted && queue.length - head < this.timing.concurrency * 2) void refill();
        const item = queue[head];
        if (!item) {
          if (exhausted) return;
          await refill();
          continue;
        }
        queue[head++] = undefined as never;
        const { row, pre } = item;
        try {
          // The campaign's rate limit: a send over it waits for a free slot instead (limits.ts).
          if (!(await takeRateSlot(deps.db, row, this.owner).catch((err) => (this.onError(err), false)))) continue;
          await attemptSend(deps, row, pre).catch(this.onError);
        } finally {
          this.inFlight.delete(row.send_key);
        }
      }
    };
    await Promise.all(Array.from({ length: this.timing.concurrency }, lane));
    await refilling;
  }
}
