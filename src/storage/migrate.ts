import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Db } from './db.js';

/** `migrations/` at the repository root, reached the same way from `src/` (tsx, tests) and `dist/`. */
export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url));

// An arbitrary constant: the advisory lock that serialises migrations and first-start seeding of
// every process on one server. Older versions took it per migration, so a process of an older
// version migrating at the same time waits for this one's whole start, and the other way round.
const MIGRATION_LOCK_ID = 7_313_001;

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export async function loadMigrations(dir = MIGRATIONS_DIR): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => /^\d{3,}_[\w-]+\.sql$/.test(f)).sort();
  const migrations: Migration[] = [];
  for (const file of files) {
    const version = Number(file.slice(0, file.indexOf('_')));
    if (migrations.some((m) => m.version === version)) throw new Error(`duplicate migration version ${version}`);
    migrations.push({ version, name: file.replace(/\.sql$/, ''), sql: await readFile(dir + file, 'utf8') });
  }
  return migrations;
}

/**
 * Runs `work` while this process holds the migration lock, so processes that start at once on one
 * PostgreSQL migrate and seed one after the other: the lock is the first thing taken, before any
 * table (`schema_migrations` included) is looked at or created.
 *
 * On PostgreSQL the lock is a transaction-level advisory lock held by one pooled connection for the
 * whole of `work`, which runs on the pool's other connections (each migration commits on its own);
 * it is let go when `work` ends, or by the server when the process dies. So the pool needs at least
 * two connections (the server's has 20). PGlite is one process per data directory, and its single
 * connection cannot both hold a transaction and run `work`: there `work` runs as is.
 */
export async function withMigrationLock<T>(db: Db, work: () => Promise<T>): Promise<T> {
  if (db.kind === 'pglite') return work();
  return db.transaction(async (holder) => {
    // Another process may hold the lock for as long as its migrations take: wait without a timeout.
    await holder.query(`SELECT set_config('statement_timeout', '0', true)`);
    await holder.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_ID]);
    return work();
  });
}

/**
 * Applies every migration not yet recorded, each in its own transaction, in version order.
 * Returns the names applied. Safe to run from several processes at once (it takes the migration
 * lock first). Inside `withMigrationLock`, call `applyMigrations` instead.
 */
export async function migrate(db: Db, migrations?: Migration[]): Promise<string[]> {
  return withMigrationLock(db, () => applyMigrations(db, migrations));
}

/** `migrate` for a caller that already holds the migration lock (`withMigrationLock`). */
export async function applyMigrations(db: Db, migrations?: Migration[]): Promise<string[]> {
  const all = migrations ?? (await loadMigrations());
  await db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version integer PRIMARY KEY,
    name text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
  )`);
  const seen = new Set((await db.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version));
  const applied: string[] = [];
  for (const m of all) {
    if (seen.has(m.version)) continue;
    await db.transaction(async (tx) => {
      // A migration may run long: no statement timeout for it (RIVULET_STORE_TIMEOUT_MS bounds requests).
      await tx.query(`SELECT set_config('statement_timeout', '0', true)`);
      await tx.exec(m.sql);
      await tx.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
    });
    applied.push(m.name);
  }
  return applied;
}
