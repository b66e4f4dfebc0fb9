/**
 * The event log: the durable, ordered record of every Currents-format event. Writers append inside
 * the transaction that made the change; readers page in log order and only see what is settled.
 *
 * Storage is a log of record batches (migration 011): each append writes one `event_batches` row per
 * workspace holding its events as a JSON array, so the per-event cost of a row and its index entries
 * is paid once per batch. An event's position is still a pair (txid, seq), with
 * seq = batch seq × BATCH_SLOTS + the event's index in its batch: cursors keep one shape and order.
 *
 * Readers only see batches whose transaction id is below the oldest transaction still running
 * (`pg_snapshot_xmin`). Every row below that horizon is final, so a cursor that only moves forward
 * never skips an event whose transaction started earlier but committed later.
 */
import type { Queryable } from '../storage/index.js';

export interface LogEventUser {
  user_id?: string | null;
  external_user_id?: string | null;
  device_id?: string | null;
  timezone?: string | null;
}

/** An event in the Currents HTTP format (docs/reference/currents.md §4). */
export interface LogEvent {
  event_type: string;
  id: string;
  time: number;
  user: LogEventUser;
  properties: Record<string, unknown>;
}

export interface StoredEvent extends LogEvent {
  /** The event's position within its transaction's batches (see BATCH_SLOTS). */
  seq: number;
  txid: string;
  workspace_id: string;
}

/** Positions one batch row spans: an event's seq is batch seq × BATCH_SLOTS + its index. */
export const BATCH_SLOTS = 65536;
/** Events per batch row; a larger append writes several rows (rows stay a few MB at most). */
export const MAX_BATCH_EVENTS = 4096;

export interface AppendOptions {
  /** Skip events whose id the publish API has already logged for this workspace (its idempotency). */
  skipDuplicateIds?: boolean;
}

/**
 * Appends events in order; returns the ids actually written (all of them unless skipDuplicateIds).
 * Event ids are unique by construction (the core generates UUIDs); only published events, whose ids
 * come from outside, are checked, against the ids published before.
 */
export async function appendEvents(tx: Queryable, workspaceId: string, events: LogEvent[], opts: AppendOptions = {}): Promise<string[]> {
  if (!events.length) return [];
  let toWrite = events;
  if (opts.skipDuplicateIds) {
    // published_event_ids is partitioned by time (its ids expire with the log's window, migration
    // 022), so no unique key spans it: the ids' advisory locks (sorted, until the transaction ends)
    // make a concurrent publish of the same id wait, then this statement's snapshot sees it.
    const ids = [...new Set(events.map((e) => e.id))];
    await tx.query(
      `SELECT count(*) FROM (
         SELECT pg_advisory_xact_lock(s.h) FROM (SELECT DISTINCT hashtextextended($1 || ':' || i, 1) AS h FROM unnest($2::text[]) AS i ORDER BY h) s
       ) taken`,
      [workspaceId, ids],
    );
    const { rows } = await tx.query<{ id: string }>(
      `INSERT INTO published_event_ids (workspace_id, id)
       SELECT $1, i FROM unnest($2::text[]) AS i
        WHERE NOT EXISTS (SELECT 1 FROM published_event_ids p WHERE p.workspace_id = $1 AND p.id = i)
       RETURNING id`,
      [workspaceId, ids],
    );
    const fresh = new Set(rows.map((r) => r.id));
    // Within one call the first event with an id is the one written.
    toWrite = events.filter((e) => fresh.delete(e.id));
    if (!toWrite.length) return [];
  }
  for (let from = 0; from < toWrite.length; from += MAX_BATCH_EVENTS) {
    const part = from === 0 && toWrite.length <= MAX_BATCH_EVENTS ? toWrite : toWrite.slice(from, from + MAX_BATCH_EVENTS);
    let min = part[0]!.time;
    let max = min;
    for (const e of part) {
      if (e.time < min) min = e.time;
      else if (e.time > max) max = e.time;
    }
    await tx.query(
      'INSERT INTO event_batches (workspace_id, count, min_time, max_time, events) VALUES ($1, $2, $3, $4, $5::json)',
      [workspaceId, part.length, min, max, JSON.stringify(part)],
    );
  }
  return toWrite.map((e) => e.id);
}

export interface LogCursor {
  txid: string;
  seq: number;
}

export const LOG_START: LogCursor = { txid: '0', seq: 0 };

export interface LogPage {
  /** The matching events among those scanned, in log order. */
  events: StoredEvent[];
  /** The position after the last event scanned (of any workspace); `cursor` when none was. */
  end: LogCursor;
  /** Events scanned (0 means nothing settled after `cursor` yet). */
  scanned: number;
}

interface BatchRow {
  txid: string;
  seq: number;
  workspace_id: string;
  count: number;
  events: LogEvent[] | null;
}

export interface PageFilter {
  /** Only events with `fromTime <= time < toTime` (seconds) are returned; others are scanned past. */
  fromTime?: number;
  toTime?: number;
  /** Read every committed batch, not only those below the settled horizon (backfill of a past range). */
  includeUnsettled?: boolean;
  /**
   * Scan past the page without reading its events (none are returned): for a reader with nothing
   * to react to, which only moves its cursor. The event payloads are most of a page's cost.
   */
  positionsOnly?: boolean;
}

/**
 * Reads settled events after `cursor`, in log order: about `limit` of them (a page ends at a
 * batch boundary or at the limit, whichever comes first). With `workspaceId` (and a time range),
 * the events of other workspaces (and times) are scanned, move `end` and are not returned.
 *
 * The scan walks the (txid, seq) key alone, bounded by `limit` + 1 rows (every batch but a partly
 * read first one adds at least one event); a window sum keeps only the batches needed, so the
 * events of the others are never read out of storage. ORDER BY names the table's columns: the
 * `txid` output alias is text, and text order would put '10000' before '9999'.
 */
export async function readLogPage(db: Queryable, cursor: LogCursor, limit: number, workspaceId?: string, filter: PageFilter = {}): Promise<LogPage> {
  const firstBatch = Math.floor(cursor.seq / BATCH_SLOTS);
  const skipInFirst = cursor.seq - firstBatch * BATCH_SLOTS + 1;
  const fromTime = filter.fromTime ?? Number.MIN_SAFE_INTEGER;
  const toTime = filter.toTime ?? Number.MAX_SAFE_INTEGER;
  const { rows } = await db.query<BatchRow>(
    `SELECT txid::text AS txid, seq, workspace_id, count, events FROM (
       SELECT txid, seq, workspace_id, count,
              CASE WHEN NOT $8::boolean AND ($4::uuid IS NULL OR workspace_id = $4::uuid) AND max_time >= $6::bigint AND min_time < $7::bigint THEN events END AS events,
              sum(count) OVER (ORDER BY txid, seq ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS before
         FROM (SELECT * FROM event_batches
                WHERE (txid, seq) >= ($1::xid8, $2::bigint)${filter.includeUnsettled ? '' : ' AND txid < pg_snapshot_xmin(pg_current_snapshot())'}
                ORDER BY txid, seq
                LIMIT $3 + 1) page
     ) counted
     WHERE coalesce(before, 0) < $3 + $5
     ORDER BY counted.txid, counted.seq`,
    [cursor.txid, firstBatch, limit, workspaceId ?? null, skipInFirst, fromTime, toTime, filter.positionsOnly === true],
  );
  const events: StoredEvent[] = [];
  let end = cursor;
  let scanned = 0;
  for (const r of rows) {
    const first = r.txid === cursor.txid && r.seq === firstBatch ? skipInFirst : 0;
    if (first >= r.count) continue;
    // Another workspace's batch is passed whole; this workspace's stops at the limit.
    const take = r.events ? Math.min(r.count - first, Math.max(1, limit - scanned)) : r.count - first;
    const base = r.seq * BATCH_SLOTS;
    if (r.events) {
      for (let i = first; i < first + take; i++) {
        const e = r.events[i] as StoredEvent;
        if (e.time < fromTime || e.time >= toTime) continue;
        e.seq = base + i;
        e.txid = r.txid;
        e.workspace_id = r.workspace_id;
        events.push(e);
      }
    }
    scanned += take;
    end = { txid: r.txid, seq: base + first + take - 1 };
    if (scanned >= limit) break;
  }
  return { events, end, scanned };
}

/** Reads up to `limit` settled events after `cursor`, in log order, optionally for one workspace. */
export async function readEvents(db: Queryable, cursor: LogCursor, limit: number, workspaceId?: string): Promise<StoredEvent[]> {
  return (await readLogPage(db, cursor, limit, workspaceId)).events;
}

export function cursorAfter(event: Pick<StoredEvent, 'txid' | 'seq'>): LogCursor {
  return { txid: event.txid, seq: event.seq };
}

/**
 * The newest committed position of the log (not limited to the settled horizon: a write transaction
 * open elsewhere must not make committed history count as new). ORDER BY names the xid8 column.
 */
export async function logHead(db: Queryable): Promise<LogCursor> {
  const { rows } = await db.query<{ txid: string; seq: number; count: number }>(
    `SELECT txid::text AS txid, seq, count FROM event_batches ORDER BY event_batches.txid DESC, event_batches.seq DESC LIMIT 1`,
  );
  const r = rows[0];
  return r ? { txid: r.txid, seq: r.seq * BATCH_SLOTS + r.count - 1 } : LOG_START;
}
