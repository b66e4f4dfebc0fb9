/**
 * The exporter's read of the event log: settled events after a cursor, below the
 * `pg_snapshot_xmin` horizon, in (txid, seq) order — the contract of `readEvents` in events/log.ts,
 * with two differences that matter at export rates:
 *
 * - The ORDER BY names the table's columns. `readEvents` selects `txid::text AS txid` and orders by
 *   `txid`, which PostgreSQL resolves to that text alias: pages come in *text* order of txid
 *   ('100000' before '99999'), which can move a cursor past unread events when txids cross a power
 *   of ten, and every page sorts all remaining rows instead of walking the index.
 * - The scan walks the (txid, seq) index alone and filters the workspace afterwards, so no planner
 *   estimate (stale statistics favour a bitmap scan on the workspace index and a full sort) can
 *   turn paging quadratic. Rows of other workspaces cost an index entry each and move the cursor.
 */
import type { LogCursor, LogEvent, StoredEvent } from '../../events/log.js';
import type { Queryable } from '../../storage/index.js';

export interface LogPage {
  /** This workspace's events among the rows scanned. */
  events: StoredEvent[];
  /** The position after the last row scanned (of any workspace); `cursor` when nothing was. */
  end: LogCursor;
  scanned: number;
}

export async function readLogPage(db: Queryable, cursor: LogCursor, limit: number, workspaceId: string): Promise<LogPage> {
  const { rows } = await db.query<{ seq: number; txid_text: string; body: LogEvent | null }>(
    `WITH scanned AS (
       SELECT seq, txid, workspace_id, body FROM event_log
        WHERE (txid, seq) > ($1::xid8, $2::bigint) AND txid < pg_snapshot_xmin(pg_current_snapshot())
        ORDER BY txid, seq
        LIMIT $3)
     SELECT seq, txid::text AS txid_text, CASE WHEN workspace_id = $4 THEN body END AS body
       FROM scanned ORDER BY txid, seq`,
    [cursor.txid, cursor.seq, limit, workspaceId],
  );
  const events: StoredEvent[] = [];
  for (const r of rows) {
    if (r.body === null) continue;
    const e = r.body as StoredEvent;
    e.seq = r.seq;
    e.txid = r.txid_text;
    e.workspace_id = workspaceId;
    events.push(e);
  }
  const last = rows[rows.length - 1];
  return { events, end: last ? { txid: last.txid_text, seq: last.seq } : cursor, scanned: rows.length };
}
