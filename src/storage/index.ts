import { mkdir } from 'node:fs/promises';
import type { Db } from './db.js';
import { openPgliteThread } from './pglite-thread.js';
import { openPostgres } from './postgres.js';

export type { Db, Queryable, QueryResult, BackendKind, NotificationHandlers, Subscription } from './db.js';
export { isStoreUnavailable, isRetryableConflict, isUniqueViolation, retryReason, retryStats, transactionWithRetry, type RetryReason } from './db.js';
export { migrate, loadMigrations, applyMigrations, withMigrationLock } from './migrate.js';
export { openPglite } from './pglite.js';
export { openPostgres } from './postgres.js';
export { openPgliteThread, isReadOnlyStatement } from './pglite-thread.js';
export { StoreHealth, StoreUnavailableError, meansCannotWrite, type HealthChange } from './health.js';

export interface StorageConfig {
  databaseUrl?: string | undefined;
  dataDir: string;
  /** The store timeout (`RIVULET_STORE_TIMEOUT_MS`): a call of the embedded store, a PostgreSQL statement. */
  timeoutMs?: number;
  /** The embedded store refuses writes below this much free space (`RIVULET_STORE_MIN_FREE_BYTES`). */
  minFreeBytes?: number;
}

export const STORE_DEFAULTS = { timeoutMs: 10_000, minFreeBytes: 64 * 1024 * 1024, probeMs: 1_000 } as const;

/**
 * `DATABASE_URL` selects a PostgreSQL server; otherwise the embedded store lives under the data dir,
 * in its own thread. Both report their health (`db.health`); a probe write clears a failure.
 */
export async function openStorage(cfg: StorageConfig): Promise<Db> {
  const timeoutMs = cfg.timeoutMs ?? STORE_DEFAULTS.timeoutMs;
  let db: Db;
  if (cfg.databaseUrl) db = openPostgres({ connectionString: cfg.databaseUrl, statementTimeoutMs: timeoutMs });
  else {
    const dir = `${cfg.dataDir.replace(/\/$/, '')}/pglite`;
    await mkdir(dir, { recursive: true });
    db = await openPgliteThread(dir, { callTimeoutMs: timeoutMs, minFreeBytes: cfg.minFreeBytes ?? STORE_DEFAULTS.minFreeBytes });
  }
  const stopProbe = db.health?.startProbe(async () => {
    await db.query(`INSERT INTO store_probe (id, probed_at) VALUES (1, now()) ON CONFLICT (id) DO UPDATE SET probed_at = excluded.probed_at`);
  }, STORE_DEFAULTS.probeMs);
  const close = db.close.bind(db);
  return Object.assign(db, {
    async close() {
      stopProbe?.();
      await close();
    },
  });
}
