/**
 * A second Rivulet instance on a test server's database, as a second process behind a balancer
 * would be: its own connection pool on PostgreSQL (on PGlite, the same in-process store), its own
 * data dir, listening on loopback. `restart` starts it again on the same database.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../config.js';
import { createRivulet, type Rivulet } from '../server.js';
import { openPostgres, type Db } from '../storage/index.js';
import { TEST_BACKEND } from './db.js';
import { TEST_PARTNER_KEY, type TestServer } from './server.js';

export interface SecondInstance {
  rivulet: Rivulet;
  url: string;
  /** Stops it and starts it again on the same database, with `env` in place of the first one's. */
  restart(env?: Record<string, string>): Promise<void>;
  close(): Promise<void>;
}

export async function startSecondInstance(first: TestServer, env: Record<string, string> = {}): Promise<SecondInstance> {
  const db: Db = TEST_BACKEND === 'postgres' ? openPostgres({ connectionString: first.testDb.url!, maxConnections: 4 }) : first.testDb.db;
  const dataDir = await mkdtemp(join(tmpdir(), 'rivulet-test-b-'));
  // One master key for the deployment: given to this instance as an operator gives it to every
  // process after the first (RIVULET_MASTER_KEY), from the key file the first one generated.
  const masterKey = await readFile(join(first.dataDir, 'master.key'), 'utf8').then((k) => k.trim(), () => undefined);
  const start = async (vars: Record<string, string>) => {
    const config = loadConfig({
      LOG_LEVEL: 'silent',
      RIVULET_DATA_DIR: dataDir,
      RIVULET_PARTNER_API_KEY_MIXPANEL: TEST_PARTNER_KEY,
      ...(masterKey ? { RIVULET_MASTER_KEY: masterKey } : {}),
      ...vars,
    });
    const rivulet = await createRivulet(config, { db, logger: false, workers: false });
    await rivulet.app.listen({ port: 0, host: '127.0.0.1' });
    return { rivulet, url: `http://127.0.0.1:${(rivulet.app.server.address() as { port: number }).port}` };
  };
  const instance: SecondInstance = {
    ...(await start(env)),
    async restart(vars = env) {
      await instance.rivulet.close();
      Object.assign(instance, await start(vars));
    },
    async close() {
      await instance.rivulet.close();
      if (db !== first.testDb.db) await db.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
  return instance;
}
