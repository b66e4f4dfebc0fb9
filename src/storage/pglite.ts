import { PGlite, types as pgliteTypes } from '@electric-sql/pglite';
import type { Db, NotificationHandlers, Queryable, QueryResult, Subscription } from './db.js';

export interface PgliteOptions {
  /** Start from this data directory tarball (see dumpPglite) instead of an empty cluster: the tests' migrated template. */
  loadDataDir?: Blob;
}

const backends = new WeakMap<Db, PGlite>();

/**
 * The embedded store. PGlite runs a single PostgreSQL backend in this process, so it executes one
 * statement (or one transaction) at a time; its own mutex queues the rest.
 * `dataDir` undefined means an in-memory database (tests).
 */
export async function openPglite(dataDir?: string, opts: PgliteOptions = {}): Promise<Db> {
  const db = await PGlite.create({
    dataDir,
    ...(opts.loadDataDir ? { loadDataDir: opts.loadDataDir } : {}),
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
  const store: Db = {
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
  backends.set(store, db);
  return store;
}

/** The whole data directory of a store opened by openPglite, as an uncompressed tarball for `loadDataDir`. */
export async function dumpPglite(store: Db): Promise<Blob> {
  const db = backends.get(store);
  if (!db) throw new Error('dumpPglite: not a store opened by openPglite');
  return db.dumpDataDir('none');
}
