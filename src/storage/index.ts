import { mkdir } from 'node:fs/promises';
import type { Db } from './db.js';
import { openPglite } from './pglite.js';
import { openPostgres } from './postgres.js';

export type { Db, Queryable, QueryResult, BackendKind, NotificationHandlers, Subscription } from './db.js';
export { isStoreUnavailable, isRetryableConflict, isUniqueViolation, retryReason, retryStats, transactionWithRetry, type RetryReason } from './db.js';
export { migrate, loadMigrations } from './migrate.js';
export { openPglite } from './pglite.js';
export { openPostgres } from './postgres.js';
export { GroupCommitter, applyWithFallback, type GroupCommitOptions, type GroupCommitStats, type Settled } from './group-commit.js';

export interface StorageConfig {
  databaseUrl?: string | undefined;
  dataDir: string;
}

/** `DATABASE_URL` selects a PostgreSQL server; otherwise the embedded store lives under the data dir. */
export async function openStorage(cfg: StorageConfig): Promise<Db> {
  if (cfg.databaseUrl) return openPostgres({ connectionString: cfg.databaseUrl });
  const dir = `${cfg.dataDir.replace(/\/$/, '')}/pglite`;
  await mkdir(dir, { recursive: true });
  return openPglite(dir);
}
