/**
 * The Canvas workers of one process (docs/reference/canvases.md §2): every `pollMs` (and when woken)
 * read the event log for actions, then claim due entries with leases and run them, `concurrency`
 * at a time. Several processes on one PostgreSQL share the work through the leases.
 */
import { randomUUID } from 'node:crypto';
import { Ticker } from '../leases/index.js';
import { runEntries, type EngineDeps } from './engine.js';
import { ensureCursor, listenOnce } from './listener.js';
import { claimDue, releaseEntries } from './store.js';

export interface CanvasWorkerTiming {
  pollMs: number;
  /** How long a claimed entry stays this worker's (a step, a message included, must end within it). */
  leaseMs: number;
  concurrency: number;
  /** Entries claimed at a time. */
  batch: number;
}

export const DEFAULT_CANVAS_TIMING: CanvasWorkerTiming = { pollMs: 500, leaseMs: 5 * 60_000, concurrency: 16, batch: 500 };

export class CanvasWorker {
  readonly owner = randomUUID();
  private readonly ticker: Ticker;
  private cursorReady = false;

  constructor(
    private readonly deps: EngineDeps,
    private readonly timing: CanvasWorkerTiming,
    private readonly onError: (err: unknown) => void,
    private readonly listen = true,
  ) {
    this.ticker = new Ticker(async () => void (await this.tick()), timing.pollMs, onError);
  }

  start(): void {
    this.ticker.start();
  }

  wake(): void {
    this.ticker.wake();
  }

  async stop(): Promise<void> {
    await this.ticker.stop();
    await releaseEntries(this.deps.db, this.owner).catch(this.onError);
  }

  /** One pass: the log, then every due entry (tests and benchmarks call it directly). */
  async tick(): Promise<number> {
    if (this.listen) {
      if (!this.cursorReady) {
        await ensureCursor(this.deps.db);
        this.cursorReady = true;
      }
      while (!this.ticker.isStopped && (await listenOnce(this.deps, this.deps.db)) > 0);
    }
    let ran = 0;
    for (;;) {
      if (this.ticker.isStopped) return ran;
      const rows = await claimDue(this.deps.db, this.owner, this.deps.now(), this.timing.batch, this.timing.leaseMs);
      if (!rows.length) return ran;
      ran += await runEntries(this.deps, this.owner, rows, this.timing.concurrency, this.onError, () => this.ticker.isStopped);
    }
  }
}
