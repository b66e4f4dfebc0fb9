import pg from 'pg';
import type { Db, Queryable, QueryResult } from './db.js';

const INT8_OID = 20;
const NUMERIC_OID = 1700;

/** int8 (counts, sequences) parse to numbers on both backends; values stay far below 2^53. */
const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === INT8_OID) return (v: string) => Number(v);
    if (oid === NUMERIC_OID) return (v: string) => Number(v);
    return pg.types.getTypeParser(oid, format as 'text');
  },
};

export interface PostgresOptions {
  connectionString: string;
  maxConnections?: number;
  applicationName?: string;
}

export function openPostgres(opts: PostgresOptions): Db {
  const pool = new pg.Pool({
    connectionString: opts.connectionString,
    max: opts.maxConnections ?? 20,
    application_name: opts.applicationName ?? 'rivulet',
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
    types,
  });
  // An idle client that loses its connection emits 'error' on the pool; without a listener
  // Node would crash the process. The next query will see the failure and answer 503.
  pool.on('error', () => {});

  const wrap = (client: pg.PoolClient | pg.Pool): Queryable => ({
    async query<Row>(sql: string, params?: readonly unknown[]): Promise<QueryResult<Row>> {
      const res = await client.query(sql, params as unknown[] | undefined);
      return { rows: res.rows as Row[], rowCount: res.rowCount ?? 0 };
    },
    async exec(sql: string): Promise<void> {
      await client.query(sql);
    },
  });
  const direct = wrap(pool);

  return {
    kind: 'postgres',
    query: direct.query,
    exec: direct.exec,
    async transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T> {
      const client = await pool.connect();
      let broken = false;
      // A connection lost while this client is checked out is emitted as 'error' on the client;
      // unheard, Node would crash the process. The pending or next query fails instead (503).
      const onLost = () => {
        broken = true;
      };
      client.on('error', onLost);
      try {
        await client.query('BEGIN');
        const result = await work(wrap(client));
        await client.query('COMMIT');
        return result;
      } catch (err) {
        try {
          await client.query('ROLLBACK');
        } catch {
          broken = true;
        }
        throw err;
      } finally {
        client.off('error', onLost);
        client.release(broken);
      }
    },
    async close() {
      await pool.end();
    },
  };
}
