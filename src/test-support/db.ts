/**
 * Test databases. Each test file gets its own: an in-memory PGlite, or a fresh PostgreSQL
 * database created on the local server and dropped afterwards, so files run in parallel and leave
 * nothing behind. `RIVULET_TEST_BACKEND` (set by the vitest project) chooses.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { migrate, openPglite, openPostgres, type BackendKind, type Db } from '../storage/index.js';

export const TEST_BACKEND: BackendKind = process.env.RIVULET_TEST_BACKEND === 'postgres' ? 'postgres' : 'pglite';
export const TEST_PG_ADMIN_URL = process.env.RIVULET_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface TestDb {
  db: Db;
  /** Connection string of the test database (PostgreSQL only), for a second process or client. */
  url?: string;
  drop(): Promise<void>;
}

async function adminQuery(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: TEST_PG_ADMIN_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

export async function createTestDatabaseUrl(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `rivulet_t_${randomBytes(6).toString('hex')}`;
  await adminQuery(`CREATE DATABASE ${name}`);
  const url = new URL(TEST_PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: () => adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}

export async function openTestDb(opts: { migrate?: boolean } = {}): Promise<TestDb> {
  if (TEST_BACKEND === 'pglite') {
    const db = await openPglite();
    if (opts.migrate !== false) await migrate(db);
    return { db, drop: () => db.close() };
  }
  const created = await createTestDatabaseUrl();
  const db = openPostgres({ connectionString: created.url, maxConnections: 10 });
  if (opts.migrate !== false) await migrate(db);
  return {
    db,
    url: created.url,
    async drop() {
      await db.close();
      await created.drop();
    },
  };
}
