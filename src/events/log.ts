/**
 * The event log: the durable, ordered record of every Currents-format event. Writers append inside
 * the transaction that made the change. Readers page by (txid, seq) and only see rows whose
 * transaction id is below the oldest transaction still running (`pg_snapshot_xmin`). Every row
 * below that horizon is final, so a cursor that only moves forward never skips an event whose
 * transaction started earlier but committed later.
 */
import type { Queryable } from '../storage/index.js';

export interface LogEventUser {
  user_id?: string | null;
  external_user_id?: string | null;
  device_id?: string | null;
  timezone?: string | null;
}

/** An event in the Currents HTTP format (currents.md §4). */
export interface LogEvent {
  event_type: string;
  id: string;
  time: number;
  user: LogEventUser;
  properties: Record<string, unknown>;
}

export interface StoredEvent extends LogEvent {
  seq: number;
  txid: string;
  workspace_id: string;
}

export interface AppendOptions {
  /** Skip events whose id is already in the workspace's log (the publish API's idempotency). */
  skipDuplicateIds?: boolean;
}

/** Appends events; returns the ids actually written (all of them unless skipDuplicateIds). */
export async function appendEvents(tx: Queryable, workspaceId: string, events: LogEvent[], opts: AppendOptions = {}): Promise<string[]> {
  if (!events.length) return [];
  const rows = events.map((e, n) => ({
    n,
    id: e.id,
    event_type: e.event_type,
    time: e.time,
    user_id: e.user.user_id ?? null,
    external_user_id: e.user.external_user_id ?? null,
    body: e,
  }));
  // json_to_recordset reads the parameter as text and hands each `body` over as the slice of JSON
  // it is, without building a jsonb tree: the cheapest way in for the log's hottest statement.
  const { rows: written } = await tx.query<{ id: string }>(
    `INSERT INTO event_log (workspace_id, id, event_type, time, user_id, external_user_id, body)
     SELECT $1, r.id, r.event_type, r.time, r.user_id, r.external_user_id, r.body
       FROM json_to_recordset($2::json) AS r(n int, id text, event_type text, time bigint,
            user_id uuid, external_user_id text, body json)
      ORDER BY r.n
     ${opts.skipDuplicateIds ? 'ON CONFLICT (workspace_id, id) DO NOTHING' : ''}
     RETURNING id`,
    [workspaceId, JSON.stringify(rows)],
  );
  return written.map((r) => r.id);
}

export interface LogCursor {
  txid: string;
  seq: number;
}

export const LOG_START: LogCursor = { txid: '0', seq: 0 };

/** Reads up to `limit` settled events after `cursor`, in log order, optionally for one workspace. */
export async function readEvents(
  db: Queryable,
  cursor: LogCursor,
  limit: number,
  workspaceId?: string,
): Promise<StoredEvent[]> {
  const { rows } = await db.query<{ seq: number; txid: string; workspace_id: string; body: LogEvent }>(
    // ORDER BY names the table's columns: the output alias `txid` is text, and text order is wrong.
    `SELECT seq, txid::text AS txid, workspace_id, body FROM event_log
      WHERE (txid, seq) > ($1::xid8, $2::bigint)
        AND txid < pg_snapshot_xmin(pg_current_snapshot())
        ${workspaceId ? 'AND workspace_id = $4' : ''}
      ORDER BY event_log.txid, event_log.seq
      LIMIT $3`,
    workspaceId ? [cursor.txid, cursor.seq, limit, workspaceId] : [cursor.txid, cursor.seq, limit],
  );
  return rows.map((r) => ({ ...r.body, seq: r.seq, txid: r.txid, workspace_id: r.workspace_id }));
}

export function cursorAfter(event: Pick<StoredEvent, 'txid' | 'seq'>): LogCursor {
  return { txid: event.txid, seq: event.seq };
}
