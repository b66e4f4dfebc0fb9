/**
 * Each process's history recorder (docs/reference/currents.md §3, "History"). The live exports call
 * `outcomes`, `request` and `failure` on their hot path (in-memory only); once a minute the recorder
 * samples the lag of the connectors it delivers for, writes everything aggregated in one upsert,
 * and, once an hour, runs the retention job. A failed write keeps its rows for the next flush.
 */
import type { Db } from '../../storage/index.js';
import type { Tally } from '../delivery/ack-window.js';
import type { CurrentsLog } from '../log.js';
import { MinuteAggregator } from './minutes.js';
import { applyRetention, writeMinutes } from './store.js';

export interface RecorderOptions {
  flushMs: number;
  retentionMs: number;
  /** The lag of every connector this process delivers for, sampled at each flush. */
  sampleLag: () => Promise<Array<{ connectorId: string; events: number; seconds: number }>>;
  now?: () => number;
}

export class HistoryRecorder {
  private readonly minutes: MinuteAggregator;
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();
  private lastRetention = 0;
  private readonly now: () => number;

  constructor(
    private readonly db: Db,
    private readonly log: CurrentsLog,
    private readonly opts: RecorderOptions,
  ) {
    this.now = opts.now ?? Date.now;
    this.minutes = new MinuteAggregator(this.now);
  }

  /** Counters of a committed run: sent, skipped by reason, dead-lettered, fitted. */
  outcomes(connectorId: string, tallies: readonly Tally[]): void {
    for (const t of tallies) {
      const metric = t.outcome === 'skipped' ? `skipped:${t.reason}` : t.outcome;
      this.minutes.add(connectorId, metric, t.count);
    }
  }

  /** One request to Mixpanel answered (whatever the answer) after `latencyMs`. */
  request(connectorId: string, latencyMs: number): void {
    this.minutes.add(connectorId, 'requests', 1);
    this.minutes.add(connectorId, 'latency_ms_sum', latencyMs);
    this.minutes.max(connectorId, 'latency_ms_max', Math.round(latencyMs * 10) / 10);
  }

  /** A request that failed (auth or transient: its events go out again). */
  failure(connectorId: string): void {
    this.minutes.add(connectorId, 'failed', 1);
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.flush(), this.opts.flushMs);
    this.timer.unref();
  }

  /** Writes what was aggregated (serialized with any flush under way). */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(() => this.flushOnce());
    return this.flushing;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.flush();
  }

  private async flushOnce(): Promise<void> {
    try {
      for (const l of await this.opts.sampleLag()) {
        this.minutes.max(l.connectorId, 'lag_seconds_max', l.seconds);
        this.minutes.max(l.connectorId, 'lag_events_max', l.events);
      }
    } catch (err) {
      this.log.warn({ err: { message: (err as Error).message } }, 'could not sample the Currents lag for the history');
    }
    const rows = this.minutes.drain();
    try {
      await writeMinutes(this.db, rows);
    } catch (err) {
      this.minutes.restore(rows);
      this.log.warn({ err: { message: (err as Error).message }, rows: rows.length }, 'could not write the Currents history (kept for the next flush)');
    }
    const now = this.now();
    if (now - this.lastRetention >= this.opts.retentionMs) {
      this.lastRetention = now;
      try {
        const { rolled, deleted } = await applyRetention(this.db, now);
        if (rolled + deleted > 0) this.log.info({ rolled, deleted }, 'Currents history rolled up');
      } catch (err) {
        this.log.warn({ err: { message: (err as Error).message } }, 'Currents history retention failed');
      }
    }
  }
}
