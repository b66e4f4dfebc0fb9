/**
 * When a failed webhook is tried again (docs/reference/webhooks.md §3): five tries within about 30
 * minutes, jittered, then hourly until 24 hours after the first; a `Retry-After` of up to an hour
 * is honoured. Pure: the caller passes the clock and the random source.
 */

/** Delays after the 1st, 2nd, 3rd and 4th tries: 1, 3, 8 and 18 minutes (30 in all). */
const EARLY_DELAYS_MS = [60_000, 180_000, 480_000, 1_080_000];
const HOURLY_MS = 3_600_000;
export const WEBHOOK_RETRY_WINDOW_MS = 24 * HOURLY_MS;
const MAX_RETRY_AFTER_MS = HOURLY_MS;

/**
 * `attempts`: tries made so far (≥ 1). Returns when to try next, or `exhausted` once the next try
 * would fall past 24 hours after the first.
 */
export function nextWebhookAttempt(input: { attempts: number; firstAttemptAt: number; now: number; retryAfterMs?: number; random?: () => number }): { at: number } | 'exhausted' {
  const random = input.random ?? Math.random;
  const base = input.attempts <= EARLY_DELAYS_MS.length ? EARLY_DELAYS_MS[input.attempts - 1]! : HOURLY_MS;
  const jittered = base * (0.8 + 0.4 * random()); // ±20 %
  const delay = input.retryAfterMs !== undefined ? Math.min(Math.max(input.retryAfterMs, 1_000), MAX_RETRY_AFTER_MS) : jittered;
  const at = input.now + delay;
  return at - input.firstAttemptAt > WEBHOOK_RETRY_WINDOW_MS ? 'exhausted' : { at: Math.round(at) };
}
