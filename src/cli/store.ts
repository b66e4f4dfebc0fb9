/** Opens the configured store for a one-shot command, migrated, and closes it afterwards. */
import { loadConfig } from '../config.js';
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
