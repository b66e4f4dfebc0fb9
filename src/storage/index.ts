import { mkdir } from 'node:fs/promises';
import type { Db } from './db.js';
import { acquireDataDirLock, preparePrivateDir, usePrivateUmask, type AcquireOptions } from './data-dir.js';
import { openPgliteThread } from './pglite-thread.js';
import { openPostgres } from './postgres.js';

export type { Db, Queryable, QueryResult, BackendKind, NotificationHandlers, Subscription } from './db.js';
export { isStoreUnavailable, isRetryableConflict, isUniqueViolation, retryReason, retryStats, transactionWithRetry, type RetryReason } from './db.js';
export { migrate, loadMigrations, applyMigrations, withMigrationLock } from './migrate.js';
export { openPglite } from './pglite.js';
export { openPostgres } from './postgres.js';
export { openPgliteThread, isReadOnlyStatement } from './pglite-thread.js';
export { StoreHealth, StoreUnavailableError, meansCannotWrite, type HealthChange } from './health.js';
export { DataDirError, DataDirLockedError, heldLock, readLock, usePrivateUmask, preparePrivateDir, writeFileAtomic, createFileAtomic, type DataDirLock, type LockOwner } from './data-dir.js';
export { GroupCommitter, applyWithFallback, type GroupCommitOptions, type GroupCommitStats, type Settled } from './group-commit.js';

export interface StorageConfig {
  databaseUrl?: string | undefined;
  dataDir: string;
  /** The store timeout (`RIVULET_STORE_TIMEOUT_MS`): a call of the embedded store, a PostgreSQL statement. */
  timeoutMs?: number;
  /** The embedded store refuses writes below this much free space (`RIVULET_STORE_MIN_FREE_BYTES`). */
  minFreeBytes?: number;
  /** Who takes the embedded store's lock (default: a server, failing at once when it is held). */
  lock?: AcquireOptions;
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
  else db = await openEmbedded(cfg, timeoutMs);
  return db;
}

/**
 * Probes a store whose health says it cannot write (a full disk, a lost connection) with one small
 * write every `STORE_DEFAULTS.probeMs`, so that it turns ready again by itself once the write
 * succeeds. The serving process runs it; returns its stop.
 */
export function startStoreProbe(db: Db): (() => void) | undefined {
  return db.health?.startProbe(async () => {
    await db.query(`INSERT INTO store_probe (id, probed_at) VALUES (1, now()) ON CONFLICT (id) DO UPDATE SET probed_at = excluded.probed_at`);
  }, STORE_DEFAULTS.probeMs);
}

/**
 * The embedded store under the data dir: one writer (the data dir's lock is taken before PGlite
 * opens its files, and given back when the store is closed: src/storage/data-dir.ts), private files,
 * and PGlite in its own thread with a call timeout and a free-space gate.
 */
async function openEmbedded(cfg: StorageConfig, timeoutMs: number): Promise<Db> {
  usePrivateUmask();
  await mkdir(cfg.dataDir, { recursive: true, mode: 0o700 });
  const lock = await acquireDataDirLock(cfg.dataDir, cfg.lock ?? { kind: 'server' });
  if (lock.tookOver) {
    process.stderr.write(`rivulet: took over the lock of ${cfg.dataDir} left by pid ${lock.tookOver.pid} (${lock.tookOver.command || lock.tookOver.kind}), which is no longer running\n`);
  }
  let db: Db;
  let tighten: NodeJS.Timeout | undefined;
  try {
    // Files that other users could read are tightened, with a line saying so.
    await preparePrivateDir(cfg.dataDir);
    const dir = `${cfg.dataDir.replace(/\/$/, '')}/pglite`;
    await mkdir(dir, { recursive: true, mode: 0o700 });
    db = await openPgliteThread(dir, { callTimeoutMs: timeoutMs, minFreeBytes: cfg.minFreeBytes ?? STORE_DEFAULTS.minFreeBytes });
    // PGlite sets some modes itself (its initdb writes 0666 files; pg_internal.init is 0644), past
    // the umask: tighten again now and every minute, quietly. The 0700 dir already keeps others out.
    const quiet = () => {};
    await preparePrivateDir(cfg.dataDir, quiet);
    tighten = setInterval(() => void preparePrivateDir(cfg.dataDir, quiet).catch(quiet), 60_000);
    tighten.unref();
  } catch (err) {
    await lock.release();
    throw err;
  }
  const close = db.close.bind(db);
  db.close = async () => {
    clearInterval(tighten);
    try {
      await close();
      await preparePrivateDir(cfg.dataDir, () => {}).catch(() => {});
    } finally {
      await lock.release();
    }
  };
  return db;
}
export * from './pagination.js';
