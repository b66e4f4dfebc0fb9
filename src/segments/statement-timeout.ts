/**
 * Segment queries run with a statement timeout (RIVULET_SEGMENT_STATEMENT_TIMEOUT_MS), so one
 * expensive filter (a `contains` over millions of attribute documents) cannot hold a connection
 * for long: PostgreSQL cancels the statement and the route answers 503 with a message that says
 * why (docs/reference/segments.md#limits). Other requests run on other pooled connections meanwhile.
 *
 * Each query runs in its own short transaction with `SET LOCAL statement_timeout`, which ends with
 * it: the pooled connection goes back with the server's default, and nothing else in the process
 * inherits the limit.
 *
 * PGlite cannot honour it: its one backend runs inside this process's thread, and PostgreSQL's
 * timeout needs a timer signal that never fires while the WebAssembly call runs. On the embedded
 * store the wrapper is a no-op; a server with large segments runs on PostgreSQL (docs/scaling.md).
 */
import { ApiError } from '../http/index.js';
import type { Db, QueryResult } from '../storage/index.js';

/** PostgreSQL's `query_canceled`, raised by statement_timeout (and by pg_cancel_backend). */
const QUERY_CANCELED = '57014';

export function segmentTimedOut(timeoutMs: number): ApiError {
  const message =
    `The segment query ran longer than ${timeoutMs} ms and was stopped; narrow the filter (fewer or more specific contains conditions) ` +
    'or raise RIVULET_SEGMENT_STATEMENT_TIMEOUT_MS';
  return new ApiError(503, message, [{ type: 'segment query timed out', timeout_ms: timeoutMs }], { 'retry-after': '5' });
}

export function isQueryCanceled(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === QUERY_CANCELED;
}

/** `db` with every `query` bounded by `timeoutMs` (PostgreSQL only; see above). */
export function withStatementTimeout(db: Db, timeoutMs: number): Db {
  if (db.kind !== 'postgres') return db;
  const ms = Math.max(1, Math.floor(timeoutMs));
  const query = async <Row>(sql: string, params?: readonly unknown[]): Promise<QueryResult<Row>> => {
    try {
      return await db.transaction(async (tx) => {
        await tx.query(`SET LOCAL statement_timeout = ${ms}`);
        return tx.query<Row>(sql, params);
      });
    } catch (err) {
      if (isQueryCanceled(err)) throw segmentTimedOut(ms);
      throw err;
    }
  };
  return Object.assign(Object.create(db) as Db, { query });
}
