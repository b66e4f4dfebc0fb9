/**
 * A real Rivulet on loopback for tests: its own database (see db.ts), a random port, and a REST key
 * with every permission. `call` sends JSON over real HTTP and returns status, headers and body.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { loadConfig, type Config } from '../config.js';
import { createRivulet, type CreateOptions, type Rivulet } from '../server.js';
import { DEFAULT_WORKSPACE, createApiKey, ensureWorkspace, PERMISSIONS, type Permission } from '../workspaces/index.js';
import { openTestDb, type TestDb } from './db.js';

/** The Mixpanel partner API key test servers are configured with. */
export const TEST_PARTNER_KEY = 'pk_test_mixpanel_partner_key';

export interface CallResult<T = any> {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: T;
}

export interface TestServer {
  url: string;
  rivulet: Rivulet;
  testDb: TestDb;
  /** A key with every permission in the default workspace. */
  key: string;
  workspaceId: string;
  /** Its data dir (the master key file is there unless RIVULET_MASTER_KEY was given). */
  dataDir: string;
  call<T = any>(method: string, path: string, body?: unknown, opts?: { key?: string | null; headers?: Record<string, string>; raw?: string | Buffer }): Promise<CallResult<T>>;
  createKey(permissions: Permission[], workspace?: string): Promise<string>;
  close(): Promise<void>;
}

/** `options`: createRivulet's (e.g. `campaigns: { now }` or `canvases`: the clocks the workers read). */
export async function startTestServer(env: Record<string, string> = {}, options: Omit<CreateOptions, 'db' | 'logger'> = {}): Promise<TestServer> {
  // From the migrated template on either backend (see db.ts); createRivulet then finds every
  // migration applied. Migrating a new database at start-up is what the CLI and multi-process tests do.
  const testDb = await openTestDb();
  const dataDir = await mkdtemp(join(tmpdir(), 'rivulet-test-'));
  const config: Config = loadConfig({ LOG_LEVEL: 'silent', RIVULET_DATA_DIR: dataDir, RIVULET_PARTNER_API_KEY_MIXPANEL: TEST_PARTNER_KEY, ...env });
  const rivulet = await createRivulet(config, { ...options, db: testDb.db, logger: false });
  // A PORT given in `env` is listened on (a test that needs RIVULET_PUBLIC_URL before start picks one).
  await rivulet.app.listen({ port: env.PORT ? Number(env.PORT) : 0, host: '127.0.0.1' });
  const address = rivulet.app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const url = `http://127.0.0.1:${port}`;

  const createKey = async (permissions: Permission[], workspace = DEFAULT_WORKSPACE) => {
    const ws = await ensureWorkspace(testDb.db, workspace);
    return (await createApiKey(testDb.db, { workspaceId: ws.id, name: 'test', permissions })).key;
  };
  const ws = await ensureWorkspace(testDb.db, DEFAULT_WORKSPACE);
  const key = await createKey([...PERMISSIONS]);

  const call: TestServer['call'] = async (method, path, body, opts = {}) => {
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    const k = opts.key === undefined ? key : opts.key;
    if (k !== null) headers.authorization = `Bearer ${k}`;
    let payload: string | Buffer | undefined = opts.raw;
    if (payload === undefined && body !== undefined) payload = JSON.stringify(body);
    if (payload !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) {
      headers['content-type'] = 'application/json';
    }
    const res = await request(url + path, { method: method as 'POST', headers, body: payload });
    const text = await res.body.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      /* not JSON: keep the text */
    }
    return { status: res.statusCode, headers: res.headers as CallResult['headers'], body: parsed as any };
  };

  return {
    url,
    rivulet,
    testDb,
    key,
    workspaceId: ws.id,
    dataDir,
    call,
    createKey,
    async close() {
      await rivulet.close();
      await testDb.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Row counts of the tables a rejected request must not touch. */
export interface StateCounts {
  users: number;
  aliases: number;
  devices: number;
  events: number;
  stats: number;
  keys: number;
  attr_bytes: number;
}

export async function stateCounts(s: TestServer): Promise<StateCounts> {
  const { rows } = await s.testDb.db.query<StateCounts>(
    `SELECT (SELECT count(*) FROM users)::int8 AS users, (SELECT count(*) FROM user_aliases)::int8 AS aliases,
            (SELECT count(*) FROM user_devices)::int8 AS devices, (SELECT coalesce(sum(count), 0) FROM event_batches)::int8 AS events,
            (SELECT coalesce(sum(count), 0) FROM user_event_stats)::int8 AS stats,
            (SELECT count(*) FROM api_keys)::int8 AS keys,
            (SELECT coalesce(sum(length(custom_attributes::text)), 0) FROM users)::int8 AS attr_bytes`,
  );
  return rows[0]!;
}
