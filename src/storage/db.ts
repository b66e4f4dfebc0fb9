/**
 * One client interface over the two backends Rivulet runs on: PGlite (PostgreSQL compiled to
 * WebAssembly, in-process, the embedded default) and a PostgreSQL server through `pg`.
 * Every capability writes plain PostgreSQL against `Queryable`; nothing above this folder knows
 * which backend it talks to.
 */
import type { StoreHealth } from './health.js';

export interface QueryResult<Row> {
  rows: Row[];
  rowCount: number;
}

export interface Queryable {
  query<Row = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<QueryResult<Row>>;
  /** Runs a script of several statements without parameters (migrations). */
  exec(sql: string): Promise<void>;
}

export type BackendKind = 'pglite' | 'postgres';

/** What a LISTEN subscription tells its owner. */
export interface NotificationHandlers {
  onNotify(payload: string): void;
  /**
   * The notification connection came up (true) or went down (false). Notifications sent while it
   * was down are lost: on `true` the owner must treat everything as possibly changed.
   */
  onConnectionChange?(connected: boolean): void;
}

export interface Subscription {
  close(): Promise<void>;
}

export interface Db extends Queryable {
  readonly kind: BackendKind;
  /** Runs `work` in one transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T>;
  /**
   * PostgreSQL LISTEN on `channel` (lower-case letters and underscores): NOTIFYs from any session
   * on the database, this process's included. Optional: a wrapper without it leaves its owner on
   * its fallback (caches that expire).
   */
  listen?(channel: string, handlers: NotificationHandlers): Promise<Subscription>;
  /**
   * Whether the store takes writes (`/readyz`); set by the stores `openStorage` opens, absent on
   * in-memory test stores and wrappers.
   */
  readonly health?: StoreHealth;
  close(): Promise<void>;
}

/**
 * Errors that mean "the store is unreachable or going away", answered as 503 so the client retries.
 * SQLSTATE classes 08 (connection exception), 53 (insufficient resources: disk full), 58 (I/O
 * error), 57P0x (operator intervention: shutdown, crash), 57014 (statement timeout), plus Node
 * socket errors from the pg driver and the embedded store's own refusals (`StoreUnavailableError`:
 * disk full, a call that did not return in time).
 */
export function isStoreUnavailable(err: unknown): boolean {
  if (!err || typeof err !== 'object') return false;
  const e = err as { code?: unknown; message?: unknown };
  const code = typeof e.code === 'string' ? e.code : '';
  if (code.startsWith('08') || code.startsWith('53') || code.startsWith('58') || /^57P0[1-4]$/.test(code) || code === '57014') return true;
  if (code === 'RIVULET_STORE_UNAVAILABLE') return true;
  if (['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH'].includes(code)) return true;
  const message = typeof e.message === 'string' ? e.message : '';
  return /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|Cannot use a pool after calling end|PGlite is closed/i.test(
    message,
  );
}

/** PostgreSQL's serialization failure and deadlock codes: the transaction may be retried whole. */
export function isRetryableConflict(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === '40001' || code === '40P01';
}

/** A unique constraint lost to a concurrent writer: re-running the transaction sees the winner. */
export function isUniqueViolation(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === '23505';
}

/** Why a transaction was run again, as counted in `retryStats` and `/metrics`. */
export type RetryReason = 'deadlock' | 'serialization' | 'unique_violation' | 'other';

export function retryReason(err: unknown): RetryReason {
  const code = (err as { code?: unknown } | null)?.code;
  return code === '40P01' ? 'deadlock' : code === '40001' ? 'serialization' : code === '23505' ? 'unique_violation' : 'other';
}

/**
 * Transactions run again by `transactionWithRetry` in this process, by reason (read by `/metrics`
 * as rivulet_transaction_retries_total), and who to tell of each (the server logs them).
 */
export const retryStats: Record<RetryReason, number> & { listener: ((reason: RetryReason, attempt: number, err: unknown) => void) | null } = {
  deadlock: 0,
  serialization: 0,
  unique_violation: 0,
  other: 0,
  listener: null,
};

/**
 * Runs `work` in a transaction, retrying it whole (up to `attempts` times in all) on deadlock or
 * serialization failure, after a jittered exponential back-off (full jitter: a random wait up to
 * 10 ms × 2^attempt, at most 500 ms), so transactions that collided do not collide again in step.
 * A safety net: the lock order (identity/locks.ts) keeps deadlocks from happening at all; each
 * retry is counted and logged.
 */
export async function transactionWithRetry<T>(
  db: Db,
  work: (tx: Queryable) => Promise<T>,
  opts: { attempts?: number; retryOn?: (err: unknown) => boolean } = {},
): Promise<T> {
  const attempts = opts.attempts ?? 5;
  const retryOn = opts.retryOn ?? isRetryableConflict;
  for (let attempt = 1; ; attempt++) {
    try {
      return await db.transaction(work);
    } catch (err) {
      if (attempt >= attempts || !retryOn(err)) throw err;
      const reason = retryReason(err);
      retryStats[reason]++;
      retryStats.listener?.(reason, attempt, err);
      await new Promise((r) => setTimeout(r, Math.random() * Math.min(500, 10 * 2 ** attempt)));
    }
  }
}
