/**
 * Group commit of the send path's writes (docs/reference/campaigns.md §3, "Batched send path").
 *
 * An attempt writes twice: when it starts (attempts + 1 and, on the first, the channel's Send event:
 * recorded before the message leaves) and when it ends (the outcome, its attempt record and its
 * event, or the time of the next try). One transaction each cost several round trips per send; here
 * every write an attempt asks for while the previous flush is under way joins the next flush, which
 * is one transaction for all of them: one statement locks the rows this worker still holds (the
 * fence), one statement per kind of write updates them, and the events go to the log in one append
 * per workspace. A write whose row this worker no longer holds (its lease was taken over) changes
 * nothing and appends nothing, exactly as the one-row transaction did; its caller learns it (false).
 */
import { appendEvents, type LogEvent } from '../events/index.js';
import type { AttemptRecord } from '../channels/index.js';
import type { Db, Queryable } from '../storage/index.js';

export type SendWrite =
  | { kind: 'start'; sendKey: string; workspaceId: string; events: LogEvent[] }
  | { kind: 'finish'; sendKey: string; workspaceId: string; state: string; reason: string | null; events: LogEvent[]; attempt?: AttemptRecord; delivered: boolean }
  | { kind: 'retry'; sendKey: string; workspaceId: string; at: number; events: LogEvent[]; attempt?: AttemptRecord };

interface Pending {
  write: SendWrite;
  resolve(held: boolean): void;
  reject(err: unknown): void;
}

/** Writes per flush at most (a flush is one transaction; its statements stay a few MB). */
const MAX_FLUSH = 2000;

/** Applies `writes` in one transaction, fenced by `owner`'s leases; per write, whether the row was held. */
export async function applySendWrites(tx: Queryable, owner: string, writes: SendWrite[]): Promise<boolean[]> {
  const keys = [...new Set(writes.map((w) => w.sendKey))].sort();
  const { rows } = await tx.query<{ send_key: string }>(
    `SELECT send_key FROM campaign_sends WHERE send_key = ANY($1::uuid[]) AND lease_owner = $2 AND state = 'queued' ORDER BY send_key FOR UPDATE`,
    [keys, owner],
  );
  const held = new Set(rows.map((r) => r.send_key));
  const mine = writes.filter((w) => held.has(w.sendKey));
  const starts = mine.filter((w) => w.kind === 'start').map((w) => w.sendKey);
  if (starts.length) {
    await tx.query(`UPDATE campaign_sends SET attempts = attempts + 1, first_attempt_at = coalesce(first_attempt_at, now()) WHERE send_key = ANY($1::uuid[])`, [starts]);
  }
  const finishes = mine.flatMap((w) => (w.kind === 'finish' ? [{ send_key: w.sendKey, state: w.state, reason: w.reason, attempt: w.attempt ? [w.attempt] : null, delivered: w.delivered }] : []));
  if (finishes.length) {
    await tx.query(
      `UPDATE campaign_sends s SET state = v.state, reason = v.reason, lease_owner = NULL, lease_until = NULL,
              attempt_log = CASE WHEN v.attempt IS NULL THEN s.attempt_log ELSE s.attempt_log || v.attempt END,
              delivered_at = CASE WHEN v.delivered THEN now() ELSE s.delivered_at END
         FROM jsonb_to_recordset($1::jsonb) AS v(send_key uuid, state text, reason text, attempt jsonb, delivered boolean)
        WHERE s.send_key = v.send_key`,
      [JSON.stringify(finishes)],
    );
  }
  const retries = mine.flatMap((w) => (w.kind === 'retry' ? [{ send_key: w.sendKey, at: w.at, attempt: w.attempt ? [w.attempt] : null }] : []));
  if (retries.length) {
    await tx.query(
      `UPDATE campaign_sends s SET next_attempt_at = to_timestamp(v.at / 1000), lease_owner = NULL, lease_until = NULL,
              attempt_log = CASE WHEN v.attempt IS NULL THEN s.attempt_log ELSE s.attempt_log || v.attempt END
         FROM jsonb_to_recordset($1::jsonb) AS v(send_key uuid, at float8, attempt jsonb)
        WHERE s.send_key = v.send_key`,
      [JSON.stringify(retries)],
    );
  }
  // The events in the order their writes were asked for, one append per workspace.
  const byWorkspace = new Map<string, LogEvent[]>();
  for (const w of mine) {
    if (!w.events.length) continue;
    const list = byWorkspace.get(w.workspaceId);
    if (list) list.push(...w.events);
    else byWorkspace.set(w.workspaceId, [...w.events]);
  }
  for (const [ws, events] of byWorkspace) await appendEvents(tx, ws, events);
  return writes.map((w) => held.has(w.sendKey));
}

/** One worker's group-commit queue: `write` resolves once the flush holding it has committed. */
export class SendWriter {
  private queue: Pending[] = [];
  private draining: Promise<void> | undefined;

  constructor(
    private readonly db: Db,
    private readonly owner: string,
  ) {}

  write(write: SendWrite): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      this.queue.push({ write, resolve, reject });
      this.draining ??= this.drain();
    });
  }

  /** Resolves once every write asked for so far has been flushed. */
  async idle(): Promise<void> {
    while (this.draining) await this.draining;
  }

  private async drain(): Promise<void> {
    // Lets the attempts that are ready in this turn of the event loop join the first flush.
    await new Promise((resolve) => setImmediate(resolve));
    while (this.queue.length) {
      const batch = this.queue.splice(0, MAX_FLUSH);
      try {
        const held = await this.db.transaction((tx) => applySendWrites(tx, this.owner, batch.map((p) => p.write)));
        batch.forEach((p, i) => p.resolve(held[i]!));
      } catch (err) {
        batch.forEach((p) => p.reject(err));
      }
    }
    this.draining = undefined;
  }
}
