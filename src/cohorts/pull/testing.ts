/**
 * Test support for pull mode and the cohort end-to-end tests: a real Rivulet on loopback over a
 * given test database, with pull mode's clock scaled down, that can be stopped and started again
 * on the same database (a restart). Unlike `startTestServer`, closing it leaves the database.
 */
import { request } from 'undici';
import { loadConfig } from '../../config.js';
import { createRivulet, type Rivulet } from '../../server.js';
import type { CallResult } from '../../test-support/server.js';
import { TEST_PARTNER_KEY } from '../../test-support/server.js';
import type { TestDb } from '../../test-support/db.js';
import { createApiKey, DEFAULT_WORKSPACE, ensureWorkspace, PERMISSIONS } from '../../workspaces/index.js';
import type { PullTiming } from './timing.js';

export interface RivuletOnDb {
  url: string;
  rivulet: Rivulet;
  /** A key with every permission in the default workspace (kept across restarts). */
  key: string;
  workspaceId: string;
  call<T = any>(method: string, path: string, body?: unknown, opts?: { key?: string | null; headers?: Record<string, string> }): Promise<CallResult<T>>;
  /** Stops the server (workers first, like `serve` on SIGTERM); the database stays. */
  close(): Promise<void>;
}

export async function startRivuletOn(
  testDb: TestDb,
  opts: { dataDir: string; env?: Record<string, string>; pullTiming?: Partial<PullTiming>; key?: string },
): Promise<RivuletOnDb> {
  const config = loadConfig({ LOG_LEVEL: 'silent', RIVULET_DATA_DIR: opts.dataDir, RIVULET_PARTNER_API_KEY_MIXPANEL: TEST_PARTNER_KEY, ...opts.env });
  const rivulet = await createRivulet(config, { db: testDb.db, logger: false, cohortImport: { pullTiming: opts.pullTiming ?? {} } });
  await rivulet.app.listen({ port: 0, host: '127.0.0.1' });
  const address = rivulet.app.server.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  const ws = await ensureWorkspace(testDb.db, DEFAULT_WORKSPACE);
  const key = opts.key ?? (await createApiKey(testDb.db, { workspaceId: ws.id, name: 'test', permissions: [...PERMISSIONS] })).key;
  const call: RivuletOnDb['call'] = async (method, path, body, o = {}) => {
    const headers: Record<string, string> = { ...(o.headers ?? {}) };
    const k = o.key === undefined ? key : o.key;
    if (k !== null) headers.authorization = `Bearer ${k}`;
    if (body !== undefined) headers['content-type'] ??= 'application/json';
    const res = await request(url + path, { method: method as 'POST', headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.body.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      /* keep the text */
    }
    return { status: res.statusCode, headers: res.headers as CallResult['headers'], body: parsed as any };
  };
  let closing: Promise<void> | undefined;
  return { url, rivulet, key, workspaceId: ws.id, call, close: () => (closing ??= rivulet.close()) };
}

/** Polls `probe` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function waitFor<T>(probe: () => Promise<T | undefined>, timeoutMs = 20_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
