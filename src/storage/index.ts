import { mkdir } from 'node:fs/promises';
import type { Db } from './db.js';
import { acquireDataDirLock, preparePrivateDir, usePrivateUmask, type AcquireOptions } from './data-dir.js';
import { openPglite } from './pglite.js';
import { openPostgres } from './postgres.js';

export type { Db, Queryable, QueryResult, BackendKind, NotificationHandlers, Subscription } from './db.js';
export { isStoreUnavailable, isRetryableConflict, isUniqueViolation, retryReason, retryStats, transactionWithRetry, type RetryReason } from './db.js';
export { migrate, loadMigrations } from './migrate.js';
export { openPglite } from './pglite.js';
export { openPostgres } from './postgres.js';
export { DataDirError, DataDirLockedError, heldLock, readLock, type DataDirLock, type LockOwner } from './data-dir.js';

export interface StorageConfig {
  databaseUrl?: string | undefined;
  dataDir: string;
  /** Who takes the embedded store's lock (default: a server, failing at once when it is held). */
  lock?: AcquireOptions;
}

/** `DATABASE_URL` selects a PostgreSQL server; otherwise the embedded store lives under the data dir. */
export async function openStorage(cfg: StorageConfig): Promise<Db> {
  if (cfg.databaseUrl) return openPostgres({ connectionString: cfg.databaseUrl });
  // One writer per embedded store: the data dir's lock is taken before PGlite opens its files,
  // and given back when the store is closed (src/storage/data-dir.ts).
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
    db = await openPglite(dir);
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
