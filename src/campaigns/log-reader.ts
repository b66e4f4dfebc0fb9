/**
 * A leased reader of the event log with its cursor in `campaign_log_readers` (the conversion reader
 * and the action-based trigger reader): one process at a time holds a reader's lease; a page is
 * read and prepared outside any transaction, then applied in the transaction that moves the
 * cursor, fenced by the lease and the cursor it was read from, so a page is applied exactly once.
 * A new reader starts at the log's head: what it reacts to needs something that happens after it.
 */
import { logHead, readLogPage, type LogCursor, type StoredEvent } from '../events/index.js';
import type { Db, Queryable } from '../storage/index.js';

/** Takes (or keeps) the reader's lease; answers its cursor, or undefined while another process holds it. */
async function claimReader(db: Queryable, name: string, owner: string, leaseMs: number): Promise<LogCursor | undefined> {
  const { rows: existing } = await db.query(`SELECT 1 FROM campaign_log_readers WHERE name = $1`, [name]);
  if (!existing.length) {
    const head = await logHead(db);
    await db.query(`INSERT INTO campaign_log_readers (name, cursor_txid, cursor_seq) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING`, [name, head.txid, head.seq]);
  }
  const { rows } = await db.query<{ cursor_txid: string; cursor_seq: string }>(
    `UPDATE campaign_log_readers SET lease_owner = $2, lease_until = now() + make_interval(secs => $3::float8 / 1000)
      WHERE name = $1 AND (lease_owner IS NULL OR lease_owner = $2 OR lease_until < now())
      RETURNING cursor_txid, cursor_seq`,
    [name, owner, leaseMs],
  );
  const r = rows[0];
  return r ? { txid: r.cursor_txid, seq: Number(r.cursor_seq) } : undefined;
}

/**
 * Reads the next page for reader `name` and applies it; answers whether it moved (false: another
 * process holds the reader, the log has nothing new, or the lease was lost before the commit).
 */
export async function advanceLogReader<T>(
  db: Db,
  name: string,
  owner: string,
  opts: { leaseMs: number; pageSize: number },
  prepare: (events: StoredEvent[]) => Promise<T>,
  apply: (tx: Queryable, prepared: T) => Promise<void>,
  /** Whether anything could react to an event now; when not, the page is scanned past unread (its events are most of its cost). */
  listens: () => Promise<boolean> = async () => true,
): Promise<boolean> {
  const cursor = await claimReader(db, name, owner, opts.leaseMs);
  if (!cursor) return false;
  const page = await readLogPage(db, cursor, opts.pageSize, undefined, { positionsOnly: !(await listens()) });
  if (page.scanned === 0) return false;
  const prepared = await prepare(page.events);
  return db.transaction(async (tx) => {
    const { rows } = await tx.query(
      `SELECT 1 FROM campaign_log_readers WHERE name = $1 AND lease_owner = $2 AND lease_until > now() AND cursor_txid = $3 AND cursor_seq = $4 FOR UPDATE`,
      [name, owner, cursor.txid, cursor.seq],
    );
    if (!rows.length) return false;
    await apply(tx, prepared);
    await tx.query(`UPDATE campaign_log_readers SET cursor_txid = $2, cursor_seq = $3 WHERE name = $1`, [name, page.end.txid, page.end.seq]);
    return true;
  });
}

/** Gives the reader's lease back (a stopping process), so another takes it over at once. */
export async function releaseLogReader(db: Queryable, name: string, owner: string): Promise<void> {
  await db.query(`UPDATE campaign_log_readers SET lease_owner = NULL, lease_until = NULL WHERE name = $1 AND lease_owner = $2`, [name, owner]);
}
