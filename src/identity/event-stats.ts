/** Per user, event name and UTC day counters (user_event_stats), written beside the event log (step 4 of the lock order, locks.ts). */
import type { Queryable } from '../storage/index.js';

export interface StatOccurrence {
  userId: string;
  kind: 'event' | 'purchase';
  name: string;
  timeMs: number;
  count: number;
}

const DAY_MS = 86_400_000;
/** `YYYY-MM-DD` of a UTC day number, cached: a group's events fall on few days. */
const dayNames = new Map<number, string>();
function dayName(timeMs: number): string {
  const day = Math.floor(timeMs / DAY_MS);
  let name = dayNames.get(day);
  if (name === undefined) {
    name = new Date(day * DAY_MS).toISOString().slice(0, 10);
    if (dayNames.size > 10_000) dayNames.clear();
    dayNames.set(day, name);
  }
  return name;
}

interface StatRow {
  key: string;
  user_id: string;
  kind: string;
  name: string;
  day: string;
  count: number;
  first_at: number;
  last_at: number;
}

/** Aggregates occurrences, then upserts in key order so concurrent writers lock rows in one order. */
export async function recordEventStats(tx: Queryable, occurrences: StatOccurrence[]): Promise<void> {
  if (!occurrences.length) return;
  const rows = new Map<string, StatRow>();
  for (const o of occurrences) {
    const day = dayName(o.timeMs);
    const key = o.userId + '\u0000' + o.kind + '\u0000' + o.name + '\u0000' + day;
    const row = rows.get(key);
    if (row) {
      row.count += o.count;
      if (o.timeMs < row.first_at) row.first_at = o.timeMs;
      if (o.timeMs > row.last_at) row.last_at = o.timeMs;
    } else {
      rows.set(key, { key, user_id: o.userId, kind: o.kind, name: o.name, day, count: o.count, first_at: o.timeMs, last_at: o.timeMs });
    }
  }
  const sorted = [...rows.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  // Parallel arrays (one per column) cost far less to build and send than one object per row.
  const cols = { user_id: [] as string[], kind: [] as string[], name: [] as string[], day: [] as string[], count: [] as number[], first_at: [] as number[], last_at: [] as number[] };
  for (const r of sorted) {
    cols.user_id.push(r.user_id);
    cols.kind.push(r.kind);
    cols.name.push(r.name);
    cols.day.push(r.day);
    cols.count.push(r.count);
    cols.first_at.push(r.first_at);
    cols.last_at.push(r.last_at);
  }
  await tx.query(
    `INSERT INTO user_event_stats (user_id, kind, name, day, count, first_at, last_at)
     SELECT r.user_id, r.kind, r.name, r.day, r.count, to_timestamp(r.first_at / 1000.0), to_timestamp(r.last_at / 1000.0)
       FROM json_to_record($1::json) AS c(user_id uuid[], kind text[], name text[], day date[], count bigint[], first_at bigint[], last_at bigint[]),
            unnest(c.user_id, c.kind, c.name, c.day, c.count, c.first_at, c.last_at) WITH ORDINALITY AS r(user_id, kind, name, day, count, first_at, last_at, n)
      ORDER BY r.n
     ON CONFLICT (user_id, kind, name, day) DO UPDATE SET
       count = user_event_stats.count + EXCLUDED.count,
       first_at = least(user_event_stats.first_at, EXCLUDED.first_at),
       last_at = greatest(user_event_stats.last_at, EXCLUDED.last_at)`,
    [JSON.stringify(cols)],
  );
}
