/**
 * `currents_history` (migration 080): per-minute rows written by each process's recorder, hourly
 * roll-ups made by the retention job, and the reads behind `GET /admin/currents/:id/history`.
 * Writes are upserts that add (or raise, for `*_max` metrics), so processes exporting different
 * connectors, or one handing a connector over to another within a minute, share rows safely.
 */
import type { Queryable } from '../../storage/index.js';
import { HOUR_MS, type HistoryRow } from './minutes.js';

/** Minute rows are kept this long, then rolled into hours. */
export const MINUTES_KEPT_MS = 48 * HOUR_MS;
/** Hour rows (and so the whole history) are kept this long. */
export const HISTORY_KEPT_MS = 30 * 24 * HOUR_MS;

const MERGE = `CASE WHEN currents_history.metric LIKE '%\\_max' THEN greatest(currents_history.value, EXCLUDED.value)
                    ELSE currents_history.value + EXCLUDED.value END`;
const AGGREGATE = `CASE WHEN metric LIKE '%\\_max' THEN max(value) ELSE sum(value) END`;
const HOUR_OF = (col: string) => `to_timestamp(floor(extract(epoch FROM ${col}) / 3600) * 3600)`;

/** Adds minute rows (one statement). Rows of a connector deleted meanwhile are dropped. */
export async function writeMinutes(db: Queryable, rows: readonly HistoryRow[]): Promise<void> {
  if (rows.length === 0) return;
  // ON CONFLICT cannot touch one row twice in a statement: rows are unique per key by construction
  // (the aggregator holds one value per connector, minute and metric).
  await db.query(
    `INSERT INTO currents_history (connector_id, resolution, bucket, metric, value)
     SELECT r.c::uuid, 'm', to_timestamp(r.b / 1000.0), r.m, r.v
       FROM jsonb_to_recordset($1::jsonb) AS r(c text, b bigint, m text, v double precision)
      WHERE EXISTS (SELECT 1 FROM currents_connectors WHERE id = r.c::uuid)
     ON CONFLICT (connector_id, resolution, bucket, metric) DO UPDATE SET value = ${MERGE}`,
    [JSON.stringify(rows.map((r) => ({ c: r.connectorId, b: r.bucket, m: r.metric, v: r.value })))],
  );
}

/**
 * Rolls minute rows older than `MINUTES_KEPT_MS` into hour rows and deletes hour rows older than
 * `HISTORY_KEPT_MS`. Safe to run from several processes at once: the minutes are moved by one
 * DELETE … RETURNING, so each is added to its hour exactly once.
 */
export async function applyRetention(db: Queryable, now = Date.now()): Promise<{ rolled: number; deleted: number }> {
  const rolled = await db.query(
    `WITH moved AS (DELETE FROM currents_history WHERE resolution = 'm' AND bucket < $1 RETURNING connector_id, bucket, metric, value)
     INSERT INTO currents_history (connector_id, resolution, bucket, metric, value)
     SELECT connector_id, 'h', ${HOUR_OF('bucket')}, metric, ${AGGREGATE}
       FROM moved GROUP BY connector_id, ${HOUR_OF('bucket')}, metric
     ON CONFLICT (connector_id, resolution, bucket, metric) DO UPDATE SET value = ${MERGE}`,
    [new Date(now - MINUTES_KEPT_MS)],
  );
  const deleted = await db.query(`DELETE FROM currents_history WHERE resolution = 'h' AND bucket < $1`, [new Date(now - HISTORY_KEPT_MS)]);
  return { rolled: rolled.rowCount ?? 0, deleted: deleted.rowCount ?? 0 };
}

export type Resolution = 'minute' | 'hour';

/**
 * The history of one connector in [from, to): at `minute`, the minute rows (the last 48 h); at
 * `hour`, hour rows together with minute rows summed into their hours.
 */
export async function readHistory(db: Queryable, connectorId: string, from: Date, to: Date, resolution: Resolution) {
  const bucket = resolution === 'hour' ? HOUR_OF('bucket') : 'bucket';
  const { rows } = await db.query<{ bucket: Date; metric: string; value: number }>(
    `SELECT b AS bucket, metric, ${AGGREGATE} AS value
       FROM (SELECT ${bucket} AS b, metric, value FROM currents_history
              WHERE connector_id = $1 AND bucket >= $2 AND bucket < $3 ${resolution === 'minute' ? "AND resolution = 'm'" : ''}) s
      GROUP BY b, metric ORDER BY b`,
    [connectorId, from, to],
  );
  return rows.map((r) => ({ bucket: new Date(r.bucket).getTime(), metric: r.metric, value: Number(r.value) }));
}

/** Events delivered per connector of a workspace since `since` (the Currents list's "last 24 h"). */
export async function sentSince(db: Queryable, workspaceId: string, since: Date): Promise<Map<string, number>> {
  const { rows } = await db.query<{ connector_id: string; sent: number }>(
    `SELECT h.connector_id, sum(h.value)::float8 AS sent
       FROM currents_history h JOIN currents_connectors c ON c.id = h.connector_id
      WHERE c.workspace_id = $1 AND h.metric = 'sent' AND h.bucket >= $2
      GROUP BY h.connector_id`,
    [workspaceId, since],
  );
  return new Map(rows.map((r) => [r.connector_id, Number(r.sent)]));
}
