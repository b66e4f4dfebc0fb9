/** Opens the configured store for a one-shot command, migrated, and closes it afterwards. */
import { loadConfig, type Config } from '../config.js';
import { MasterKeyError, resolveMasterKey } from '../secrets/identity.js';
import type { SecretBox } from '../secrets/index.js';
import { prepareStore } from '../server.js';
import { openStorage, type Db } from '../storage/index.js';

export class CliError extends Error {
  override name = 'CliError';
}

export async function withStore<T>(work: (db: Db) => Promise<T>, opts: { migrate?: boolean } = {}): Promise<T> {
  const config = loadConfig();
  const db = await openStorage({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  try {
    if (opts.migrate !== false) await prepareStore(db, config);
    return await work(db);
  } finally {
    await db.close();
  }
}

/**
 * The deployment's master key for a command that seals or opens credentials: the one the database
 * knows (its check value), so a command never seals under a key the servers cannot open.
 */
export async function deploymentBox(db: Db, config: Config): Promise<SecretBox> {
  try {
    return (await resolveMasterKey(db, config.masterKey, config.dataDir)).box;
  } catch (err) {
    if (err instanceof MasterKeyError) throw new CliError(err.message);
    throw err;
  }
}
