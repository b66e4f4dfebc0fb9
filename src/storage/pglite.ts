import { PGlite, types as pgliteTypes } from '@electric-sql/pglite';
import type { Db, NotificationHandlers, Queryable, QueryResult, Subscription } from './db.js';

/**
 * The embedded store. PGlite runs a single PostgreSQL backend in this process, so it executes one
 * statement (or one transaction) at a time; its own mutex queues the rest.
 * `dataDir` undefined means an in-memory database (tests).
 */
export async function openPglite(dataDir?: string): Promise<Db> {
  const db = await PGlite.create({
    dataDir,
    parsers: {
      [pgliteTypes.INT8]: (v: string) => Number(v),
      [pgliteTypes.NUMERIC]: (v: string) => Number(v),
    },
  });
  let closed = false;
  const subscriptions = new Set<() => Promise<void>>();
  const wrap = (q: Pick<PGlite, 'query' | 'exec'>): Queryable => ({
    async query<Row>(sql: string, params?: readonly unknown[]): Promise<QueryResult<Row>> {
      if (closed) throw Object.assign(new Error('PGlite is closed'), { code: '57P01' });
      const res = await q.query<Row>(sql, params as unknown[] | undefined);
      return { rows: res.rows, rowCount: res.affectedRows ?? res.rows.length };
    },
    async exec(sql: string): Promise<void> {
      if (closed) throw Object.assign(new Error('PGlite is closed'), { code: '57P01' });
      await q.exec(sql);
    },
  });
  const direct = wrap(db);
  return {
    kind: 'pglite',
    query: direct.query,
    exec: direct.exec,
    transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T> {
      return db.transaction((tx) => work(wrap(tx)));
    },
    // One backend in this process: a NOTIFY is delivered to every listener here when its statement
    // (or transaction) completes, so the connection never drops.
    async listen(channel: string, handlers: NotificationHandlers): Promise<Subscription> {
      const unlisten = await db.listen(channel, (payload) => handlers.onNotify(payload));
      const stop = async () => {
        if (!subscriptions.delete(stop) || closed) return;
        await unlisten();
      };
      subscriptions.add(stop);
      handlers.onConnectionChange?.(true);
      return { close: stop };
    },
    async close() {
      if (closed) return;
      for (const stop of [...subscriptions]) await stop().catch(() => {});
      closed = true;
      await db.close();
    },
  };
}
