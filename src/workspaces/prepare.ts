/**
 * The store's first-start preparation, shared by the server and the one-shot commands: migrations
 * and the seeds (the default workspace, the key from `RIVULET_API_KEY`).
 */
import type { Config } from '../config.js';
import { applyMigrations, withMigrationLock, type Db } from '../storage/index.js';
import { PERMISSIONS } from './keys.js';
import { ensureWorkspace, seedApiKey, DEFAULT_WORKSPACE, type ApiKeyRecord } from './store.js';

export interface PreparedStore {
  /** The key seeded from `RIVULET_API_KEY`, when set; `revoked_at` set means it stays revoked. */
  seededKey: ApiKeyRecord | undefined;
}

export async function seedStore(db: Db, config: Config): Promise<PreparedStore> {
  const workspace = await ensureWorkspace(db, DEFAULT_WORKSPACE);
  const seededKey = config.seedApiKey
    ? await seedApiKey(db, { workspaceId: workspace.id, name: 'RIVULET_API_KEY', permissions: [...PERMISSIONS] }, config.seedApiKey)
    : undefined;
  return { seededKey };
}

/**
 * Migrations and the seeds a one-shot command needs (the default workspace, the key from
 * `RIVULET_API_KEY`), under the migration lock taken before anything else: any number of processes
 * can run it at once on an empty or an old database. Every seed is an upsert.
 */
export async function prepareStore(db: Db, config: Config): Promise<PreparedStore> {
  return withMigrationLock(db, async () => {
    await applyMigrations(db);
    return seedStore(db, config);
  });
}

