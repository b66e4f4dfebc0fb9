/**
 * The clock constants of pull mode (docs/reference/cohort-import.md §5), in one place so tests can scale them
 * down: how often the scheduler looks for due runs, the run lease, the back-off on 429/5xx
 * (60 s doubling to 300 s), the retry of a connection whose credentials were refused (15 min) and
 * the query budget's window (one hour).
 */
export interface PullTiming {
  /** How often the scheduler looks for due connections (it also looks at once when woken). */
  pollMs: number;
  /** A run's lease; renewed every third of it while the run lasts. */
  leaseMs: number;
  backoffStartMs: number;
  backoffMaxMs: number;
  /** Attempts at one query (429/5xx/network) before the run gives the cohort up until next time. */
  transientAttempts: number;
  /** When a 401/403 marked the connection failed, it is tried again after this long. */
  authRetryMs: number;
  /** The rolling window of the per-project query budget. */
  budgetWindowMs: number;
  /** A query must answer within this long. */
  requestTimeoutMs: number;
  /** After a transient give-up, a one-time connection is retried after this long. */
  retryLaterMs: number;
}

export const DEFAULT_PULL_TIMING: Readonly<PullTiming> = {
  pollMs: 5_000,
  leaseMs: 60_000,
  backoffStartMs: 60_000,
  backoffMaxMs: 300_000,
  transientAttempts: 6,
  authRetryMs: 15 * 60_000,
  budgetWindowMs: 3_600_000,
  requestTimeoutMs: 30_000,
  retryLaterMs: 15 * 60_000,
};

/** The back-off before attempt `attempt + 1` after `attempt` transient failures (1-based). */
export function backoffMs(timing: Pick<PullTiming, 'backoffStartMs' | 'backoffMaxMs'>, attempt: number): number {
  return Math.min(timing.backoffMaxMs, timing.backoffStartMs * 2 ** Math.max(0, attempt - 1));
}
