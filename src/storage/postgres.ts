import pg from 'pg';
import type { Db, NotificationHandlers, Queryable, QueryResult, Subscription } from './db.js';
import { StoreHealth } from './health.js';

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
  /**
   * PostgreSQL's statement_timeout for every connection (0 or unset: the server's). A statement
   * cut by it fails with 57014, answered as 503. Migrations lift it for themselves.
   */
  statementTimeoutMs?: number;
}

export function openPostgres(opts: PostgresOptions): Db {
  const pool = new pg.Pool({
    connectionString: opts.connectionString,
    max: opts.maxConnections ?? 20,
    application_name: opts.applicationName ?? 'rivulet',
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
    ...(opts.statementTimeoutMs ? { statement_timeout: opts.statementTimeoutMs } : {}),
    types,
  });
  const health = new StoreHealth();
  // An idle client that loses its connection emits 'error' on the pool; without a listener
  // Node would crash the process. The next query will see the failure and answer 503.
  pool.on('error', () => {});

  const wrap = (client: pg.PoolClient | pg.Pool): Queryable => ({
    async query<Row>(sql: string, params?: readonly unknown[]): Promise<QueryResult<Row>> {
      try {
        const res = await client.query(sql, params as unknown[] | undefined);
        return { rows: res.rows as Row[], rowCount: res.rowCount ?? 0 };
      } catch (err) {
        health.noteError(err);
        throw err;
      }
    },
    async exec(sql: string): Promise<void> {
      try {
        await client.query(sql);
      } catch (err) {
        health.noteError(err);
        throw err;
      }
    },
  });
  const direct = wrap(pool);
  const subscriptions = new Set<Subscription>();

  return {
    kind: 'postgres',
    health,
    query: direct.query,
    exec: direct.exec,
    async transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T> {
      const client = await pool.connect().catch((err: unknown) => {
        health.noteError(err);
        throw err;
      });
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
    async listen(channel: string, handlers: NotificationHandlers): Promise<Subscription> {
      const subscription = await listenWithReconnect(opts, channel, handlers, () => subscriptions.delete(subscription));
      subscriptions.add(subscription);
      return subscription;
    },
    async close() {
      for (const s of [...subscriptions]) await s.close();
      await pool.end();
    },
  };
}

const RECONNECT_MIN_MS = 100;
const RECONNECT_MAX_MS = 5_000;

/**
 * LISTEN on a dedicated connection (a pooled one would be handed to other work). When it drops,
 * it is reopened with backoff (0.1 s doubling to 5 s) and the owner is told both times, since
 * notifications sent in between are lost. Resolves after the first attempt, connected or not.
 */
async function listenWithReconnect(opts: PostgresOptions, channel: string, handlers: NotificationHandlers, onClosed: () => void): Promise<Subscription> {
  if (!/^[a-z_]+$/.test(channel)) throw new Error(`invalid channel name: ${channel}`);
  let current: pg.Client | undefined;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let delay = RECONNECT_MIN_MS;
  const ended = new WeakSet<pg.Client>();
  const end = async (client: pg.Client) => {
    ended.add(client);
    await client.end().catch(() => {});
  };

  const lost = (client: pg.Client) => {
    if (ended.has(client)) return;
    void end(client);
    if (current === client) {
      current = undefined;
      handlers.onConnectionChange?.(false);
    }
    if (closed || timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      void connect();
    }, delay);
    timer.unref();
    delay = Math.min(delay * 2, RECONNECT_MAX_MS);
  };

  const connect = async () => {
    const client = new pg.Client({
      connectionString: opts.connectionString,
      application_name: `${opts.applicationName ?? 'rivulet'}-listen`,
      keepAlive: true,
      connectionTimeoutMillis: 5_000,
    });
    client.on('error', () => lost(client));
    client.on('end', () => lost(client));
    client.on('notification', (n) => {
      if (n.channel === channel) handlers.onNotify(n.payload ?? '');
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${channel}`);
    } catch {
      lost(client);
      return;
    }
    if (closed) {
      await end(client);
      return;
    }
    current = client;
    delay = RECONNECT_MIN_MS;
    handlers.onConnectionChange?.(true);
  };

  await connect();
  return {
    async close() {
      if (closed) return;
      closed = true;
      onClosed();
      if (timer) clearTimeout(timer);
      const client = current;
      current = undefined;
      if (client) await end(client);
    },
  };
}
