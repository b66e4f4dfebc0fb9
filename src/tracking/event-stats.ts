/** Per user, event name and UTC day counters (user_event_stats), written beside the event log. */
import type { Queryable } from '../storage/index.js';

export interface StatOccurrence {
  userId: string;
  kind: 'event' | 'purchase';
  name: string;
  timeMs: number;
  count: number;
}

/** Aggregates occurrences, then upserts in key order so concurrent writers lock rows in one order. */
export async function recordEventStats(tx: Queryable, occurrences: StatOccurrence[]): Promise<void> {
  if (!occurrences.length) return;
  const rows = new Map<string, { user_id: string; kind: string; name: string; day: string; count: number; first_at: number; last_at: number }>();
  for (const o of occurrences) {
    const day = new Date(o.timeMs).toISOString().slice(0, 10);
    const key = `${o.userId}\u0000${o.kind}\u0000${o.name}\u0000${day}`;
    const row = rows.get(key);
    if (row) {
      row.count += o.count;
      row.first_at = Math.min(row.first_at, o.timeMs);
      row.last_at = Math.max(row.last_at, o.timeMs);
    } else {
      rows.set(key, { user_id: o.userId, kind: o.kind, name: o.name, day, count: o.count, first_at: o.timeMs, last_at: o.timeMs });
    }
  }
  const sorted = [...rows.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, r], n) => ({ n, ...r }));
  await tx.query(
    `INSERT INTO user_event_stats (user_id, kind, name, day, count, first_at, last_at)
     SELECT r.user_id, r.kind, r.name, r.day, r.count, to_timestamp(r.first_at / 1000.0), to_timestamp(r.last_at / 1000.0)
       FROM json_to_recordset($1::json) AS r(n int, user_id uuid, kind text, name text, day date, count bigint,
            first_at bigint, last_at bigint)
      ORDER BY r.n
     ON CONFLICT (user_id, kind, name, day) DO UPDATE SET
       count = user_event_stats.count + EXCLUDED.count,
       first_at = least(user_event_stats.first_at, EXCLUDED.first_at),
       last_at = greatest(user_event_stats.last_at, EXCLUDED.last_at)`,
    [JSON.stringify(sorted)],
  );
}
