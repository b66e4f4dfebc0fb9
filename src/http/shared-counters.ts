/**
 * Fixed-window counters in PostgreSQL (`rate_limit_counters`, migration 015), shared by every
 * process on the database: the REST rate limits, the failed-authentication throttle and the
 * sign-in throttle count here, so a limit holds for the whole deployment, not per process
 * (docs/access-control.md#limits).
 *
 * Exact, and one round trip per batch rather than per request: while one statement is in flight,
 * the increments that arrive wait and go together in the next one (at most one in flight per
 * process). Each caller still gets its own position in its bucket's window (the counter after its
 * own increment), so "allowed when position <= limit" admits at most `limit` per window at any
 * concurrency. Windows are aligned to the epoch on the database's clock, so every process agrees
 * on them.
 *
 * While the store cannot take the write (a full disk, PostgreSQL unreachable), hits are counted in
 * this process instead, in the same aligned windows, so the limits and throttles keep holding per
 * process and a valid key can still authenticate for reads; the shared count resumes with the store.
 */
import { isStoreUnavailable, type Db } from '../storage/index.js';

export interface CounterValue {
  /** The bucket's count in the current window after this change. */
  count: number;
  /** When the window ends, epoch milliseconds (the database's clock). */
  resetAt: number;
}

interface PendingOp {
  resolve(value: CounterValue): void;
  reject(err: unknown): void;
}

interface PendingBucket {
  windowMs: number;
  ops: PendingOp[];
}

const PRUNE_EVERY_MS = 60_000;
/** Buckets kept by the in-process fallback at most (the oldest windows go first). */
const LOCAL_BUCKETS_MAX = 10_000;

const ADD_SQL = `
  INSERT INTO rate_limit_counters AS c (bucket, window_end, hits)
  SELECT t.bucket, (floor(extract(epoch FROM clock_timestamp()) * 1000 / t.window_ms)::int8 + 1) * t.window_ms, t.n
    FROM unnest($1::text[], $2::int8[], $3::int8[]) AS t(bucket, window_ms, n)
  ON CONFLICT (bucket) DO UPDATE
     SET hits = CASE WHEN c.window_end = EXCLUDED.window_end THEN c.hits ELSE 0 END + EXCLUDED.hits,
         window_end = EXCLUDED.window_end
  RETURNING bucket, window_end, hits`;

// Rows are locked in bucket order (the ORDER BY under FOR UPDATE), as ADD_SQL does, so the two
// statements cannot deadlock across processes.
const RETURN_SQL = `
  WITH t AS (SELECT * FROM unnest($1::text[], $2::int8[], $3::int8[]) AS t(bucket, window_end, n)),
       locked AS (SELECT c.bucket FROM rate_limit_counters c JOIN t ON t.bucket = c.bucket AND t.window_end = c.window_end ORDER BY c.bucket FOR UPDATE OF c)
  UPDATE rate_limit_counters c SET hits = greatest(c.hits - t.n, 0)
    FROM t WHERE c.bucket = t.bucket AND c.window_end = t.window_end AND c.bucket IN (SELECT bucket FROM locked)`;

export class SharedCounters {
  private pending = new Map<string, PendingBucket>();
  private flushing = false;
  /** Slots given back and not yet written, by `${resetAt} ${bucket}`. */
  private returns = new Map<string, { bucket: string; resetAt: number; ops: Array<{ resolve(): void; reject(err: unknown): void }> }>();
  private returning = false;
  private readonly pruneTimer: NodeJS.Timeout;
  /** The in-process fallback's counts, while the store refuses the write. */
  private readonly local = new Map<string, { windowEnd: number; hits: number }>();

  constructor(private readonly db: Db) {
    this.pruneTimer = setInterval(() => {
      this.pruneLocal();
      void this.prune().catch(() => {});
    }, PRUNE_EVERY_MS);
    this.pruneTimer.unref();
  }

  /**
   * Counts one hit in `bucket`'s current window of `windowMs`; resolves to this hit's position.
   * A bucket name must always be used with the same window.
   */
  hit(bucket: string, windowMs: number): Promise<CounterValue> {
    return new Promise((resolve, reject) => {
      let entry = this.pending.get(bucket);
      if (!entry) {
        entry = { windowMs, ops: [] };
        this.pending.set(bucket, entry);
      }
      entry.ops.push({ resolve, reject });
      if (!this.flushing) {
        this.flushing = true;
        queueMicrotask(() => void this.flush());
      }
    });
  }

  /**
   * Gives back a hit counted in the window ending at `resetAt` (the credential was valid, the try was
   * not made). A window that has ended is left alone: a slot never moves into the next window.
   */
  async giveBack(bucket: string, resetAt: number): Promise<void> {
    const local = this.local.get(bucket);
    if (local && local.windowEnd === resetAt && local.hits > 0) {
      local.hits--;
      return;
    }
    // Coalesced like hits: every request of a busy key gives its slot back, and one statement per
    // row lock (rather than one per request, queued on the same row) keeps that off the hot path.
    const key = `${resetAt} ${bucket}`;
    return new Promise((resolve, reject) => {
      let entry = this.returns.get(key);
      if (!entry) this.returns.set(key, (entry = { bucket, resetAt, ops: [] }));
      entry.ops.push({ resolve, reject });
      if (!this.returning) {
        this.returning = true;
        queueMicrotask(() => void this.flushReturns());
      }
    });
  }

  private async flushReturns(): Promise<void> {
    try {
      while (this.returns.size > 0) {
        const batch = this.returns;
        this.returns = new Map();
        const entries = [...batch.values()];
        try {
          await this.db.query(RETURN_SQL, [entries.map((e) => e.bucket), entries.map((e) => e.resetAt), entries.map((e) => e.ops.length)]);
          for (const e of entries) for (const op of e.ops) op.resolve();
        } catch (err) {
          for (const e of entries) for (const op of e.ops) op.reject(err);
        }
      }
    } finally {
      this.returning = false;
    }
  }

  close(): void {
    clearInterval(this.pruneTimer);
  }

  private async flush(): Promise<void> {
    try {
      while (this.pending.size > 0) {
        const batch = this.pending;
        this.pending = new Map();
        // Rows are locked in bucket order, so two processes' statements cannot deadlock.
        const buckets = [...batch.keys()].sort();
        const entries = buckets.map((b) => batch.get(b)!);
        try {
          const { rows } = await this.db.query<{ bucket: string; window_end: number; hits: number }>(ADD_SQL, [
            buckets,
            entries.map((e) => e.windowMs),
            entries.map((e) => e.ops.length),
          ]);
          const byBucket = new Map(rows.map((r) => [r.bucket, r]));
          for (const [i, bucket] of buckets.entries()) {
            const row = byBucket.get(bucket)!;
            const ops = entries[i]!.ops;
            // Positions in arrival order: the last hit of the batch is the stored total.
            const first = Number(row.hits) - ops.length;
            for (const [n, op] of ops.entries()) op.resolve({ count: first + n + 1, resetAt: Number(row.window_end) });
          }
        } catch (err) {
          if (!isStoreUnavailable(err)) {
            for (const entry of entries) for (const op of entry.ops) op.reject(err);
            continue;
          }
          for (const [i, bucket] of buckets.entries()) {
            const { windowMs, ops } = entries[i]!;
            for (const op of ops) op.resolve(this.countLocally(bucket, windowMs));
          }
        }
      }
    } finally {
      this.flushing = false;
    }
  }

  private countLocally(bucket: string, windowMs: number): CounterValue {
    const windowEnd = (Math.floor(Date.now() / windowMs) + 1) * windowMs;
    let entry = this.local.get(bucket);
    if (!entry || entry.windowEnd !== windowEnd) {
      if (!entry && this.local.size >= LOCAL_BUCKETS_MAX) this.pruneLocal(LOCAL_BUCKETS_MAX / 10);
      entry = { windowEnd, hits: 0 };
      this.local.set(bucket, entry);
    }
    entry.hits++;
    return { count: entry.hits, resetAt: windowEnd };
  }

  /** Forgets the fallback's ended windows, then the oldest buckets until `room` are free. */
  private pruneLocal(room = 0): void {
    const now = Date.now();
    for (const [bucket, e] of this.local) if (e.windowEnd < now) this.local.delete(bucket);
    for (const bucket of this.local.keys()) {
      if (LOCAL_BUCKETS_MAX - this.local.size >= room) break;
      this.local.delete(bucket);
    }
  }

  /** Drops buckets whose window ended more than a minute ago. */
  private async prune(): Promise<void> {
    await this.db.query('DELETE FROM rate_limit_counters WHERE window_end < (extract(epoch FROM clock_timestamp()) * 1000)::int8 - 60000');
  }
}
