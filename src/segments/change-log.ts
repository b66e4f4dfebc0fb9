/**
 * Keeps the user change log (segment_user_changes) short. A row may go once every snapshot that
 * could still need it is gone — which no process can know of the others — so the pruner deletes
 * only below the oldest running transaction as it was `retentionMs` ago, and raises
 * `segment_change_horizon` in the same transaction. A cache whose snapshot is older than the
 * horizon reloads (see evaluator.ts); one refreshed within the retention never needs to.
 */
import type { Db } from '../storage/index.js';

export interface PrunerOptions {
  retentionMs?: number;
  everyMs?: number;
}

export class ChangeLogPruner {
  private readonly retentionMs: number;
  private readonly everyMs: number;
  /** xmin horizons seen, oldest first. */
  private seen: Array<{ atMs: number; xmin: string }> = [];
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly db: Db,
    opts: PrunerOptions = {},
  ) {
    this.retentionMs = opts.retentionMs ?? 5 * 60_000;
    this.everyMs = opts.everyMs ?? 30_000;
  }

  start(onError: (err: unknown) => void): void {
    this.timer = setInterval(() => {
      this.running ??= this.pruneOnce()
        .then(() => undefined, onError)
        .finally(() => (this.running = undefined));
    }, this.everyMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** Notes the current horizon and prunes below the newest one at least `retentionMs` old. Returns rows deleted. */
  async pruneOnce(nowMs = Date.now()): Promise<number> {
    const { rows } = await this.db.query<{ xmin: string }>('SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS xmin');
    this.seen.push({ atMs: nowMs, xmin: rows[0]!.xmin });
    const due = this.seen.filter((s) => s.atMs <= nowMs - this.retentionMs);
    const cut = due.at(-1);
    if (!cut) return 0;
    this.seen = this.seen.filter((s) => s.atMs > cut.atMs);
    return this.db.transaction(async (tx) => {
      await tx.query(
        `INSERT INTO segment_change_horizon (pruned_below) VALUES ($1::xid8)
         ON CONFLICT (singleton) DO UPDATE SET pruned_below = greatest(segment_change_horizon.pruned_below, EXCLUDED.pruned_below)`,
        [cut.xmin],
      );
      return (await tx.query('DELETE FROM segment_user_changes WHERE txid < $1::xid8', [cut.xmin])).rowCount;
    });
  }
}
