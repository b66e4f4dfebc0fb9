/**
 * The per-campaign rate limit (docs/reference/campaigns.md, "Rate limit"), enforced where a send is
 * attempted, so it holds across every process sharing one PostgreSQL: before an attempt, a worker
 * takes a slot under the campaign's transaction-scoped advisory lock; when the last
 * `RATE_WINDOW_MS` already hold `limit` slots, the send waits (its lease given back, its next
 * attempt moved to when the oldest slot leaves the window).
 *
 * The window is 61 s, a second longer than the minute of the rule, so that a message's time on the
 * wire cannot put more than `limit` arrivals into any 60 s window at the receiver.
 */
import type { Db, Queryable } from '../storage/index.js';
import { MAX_RATE_LIMIT, MIN_RATE_LIMIT } from './contract.js';

export const RATE_WINDOW_MS = 61_000;
export { MAX_RATE_LIMIT, MIN_RATE_LIMIT };

/** Checks `rate_limit_per_minute` (absent: unlimited). */
export function checkRateLimit(raw: unknown, problems: Array<{ field: string; message: string }>): number | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (!Number.isInteger(raw) || (raw as number) < MIN_RATE_LIMIT || (raw as number) > MAX_RATE_LIMIT) {
    problems.push({ field: 'rate_limit_per_minute', message: `must be a whole number from ${MIN_RATE_LIMIT} to ${MAX_RATE_LIMIT}` });
    return undefined;
  }
  return raw as number;
}

const limits = new Map<string, Promise<number | null>>();
/** The rate limit of a dispatch's definition (cached: a dispatch's definition never changes; one read however many lanes ask at once). */
function limitOf(db: Queryable, dispatchId: string): Promise<number | null> {
  let l = limits.get(dispatchId);
  if (l === undefined) {
    if (limits.size > 10_000) limits.clear();
    l = db.query<{ limit: number | null }>(`SELECT (definition->>'rate_limit_per_minute')::int AS "limit" FROM campaign_dispatches WHERE id = $1`, [dispatchId]).then(({ rows }) => rows[0]?.limit ?? null);
    limits.set(dispatchId, l);
    l.catch(() => limits.delete(dispatchId));
  }
  return l;
}

/**
 * Takes a rate slot for the send `owner` holds; true: attempt it now. False: the send was put back
 * to wait for a free slot (or the lease was gone), and must not be attempted.
 */
export async function takeRateSlot(db: Db, send: { send_key: string; campaign_id: string; dispatch_id: string }, owner: string): Promise<boolean> {
  const limit = await limitOf(db, send.dispatch_id);
  if (limit === null) return true;
  return db.transaction(async (tx) => {
    await tx.query(`SELECT pg_advisory_xact_lock(hashtextextended('campaign-rate:' || $1, 0))`, [send.campaign_id]);
    // clock_timestamp(), not now(): the lock may have been waited for, and a slot's time is when it was taken.
    const { rows } = await tx.query<{ taken: string; oldest: Date | null; now: Date }>(
      `WITH pruned AS (DELETE FROM campaign_rate_slots WHERE campaign_id = $1 AND taken_at < clock_timestamp() - make_interval(secs => $2::float8 / 1000))
       SELECT count(*)::text AS taken, min(taken_at) AS oldest, clock_timestamp() AS now
         FROM campaign_rate_slots WHERE campaign_id = $1 AND taken_at >= clock_timestamp() - make_interval(secs => $2::float8 / 1000)`,
      [send.campaign_id, RATE_WINDOW_MS],
    );
    const { taken, oldest } = rows[0]!;
    if (Number(taken) < limit) {
      await tx.query(`INSERT INTO campaign_rate_slots (campaign_id, taken_at, send_key) VALUES ($1, clock_timestamp(), $2)`, [send.campaign_id, send.send_key]);
      return true;
    }
    await tx.query(
      `UPDATE campaign_sends SET next_attempt_at = $3::timestamptz + make_interval(secs => $4::float8 / 1000), lease_owner = NULL, lease_until = NULL
        WHERE send_key = $1 AND lease_owner = $2 AND state = 'queued'`,
      [send.send_key, owner, oldest, RATE_WINDOW_MS],
    );
    return false;
  });
}
