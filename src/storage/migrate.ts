import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Db } from './db.js';

/** `migrations/` at the repository root, reached the same way from `src/` (tsx, tests) and `dist/`. */
export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url));

// An arbitrary constant: the advisory lock that serialises concurrent `migrate` runs on one server.
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
 * Applies every migration not yet recorded, each in its own transaction, in version order.
 * Returns the names applied. Safe to run from several processes at once.
 */
export async function migrate(db: Db, migrations?: Migration[]): Promise<string[]> {
  const all = migrations ?? (await loadMigrations());
  await db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version integer PRIMARY KEY,
    name text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
  )`);
  const applied: string[] = [];
  for (const m of all) {
    const done = await db.transaction(async (tx) => {
      // A migration may wait for another process's and run long: no statement timeout for it.
      await tx.query(`SELECT set_config('statement_timeout', '0', true)`);
      await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_ID]);
      const seen = await tx.query('SELECT 1 FROM schema_migrations WHERE version = $1', [m.version]);
      if (seen.rows.length > 0) return false;
      await tx.exec(m.sql);
      await tx.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
      return true;
    });
    if (done) applied.push(m.name);
  }
  return applied;
}
