import { PGlite, types as pgliteTypes } from '@electric-sql/pglite';
import type { Db, Queryable, QueryResult } from './db.js';

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
    async close() {
      if (closed) return;
      closed = true;
      await db.close();
    },
  };
}
