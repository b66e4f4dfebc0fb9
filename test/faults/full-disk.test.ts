/**
 * A full disk under the embedded store (issue 14, point 4), on a real size-limited filesystem: a
 * tmpfs mounted for the test (root and `mount` are needed; the tests are skipped, saying why,
 * when mounting is not permitted). A real `rivulet serve` process runs with its data dir on it.
 *
 * 1. The data dir's filesystem fills up: writes answer 503 with a JSON body that names the cause
 *    within seconds, `/readyz` turns 503, `/healthz` stays 200; once the filler is deleted, the
 *    server is ready again by itself and writes resume; SIGTERM ends it within the deadline; every
 *    event acknowledged (201) before and after is in the store, each once.
 * 2. The WAL cannot grow (`pg_wal` on its own full filesystem, the free-space gate switched off):
 *    PGlite's backend blocks for good inside WebAssembly, which used to hang the whole process and
 *    make it deaf to SIGTERM. Now the write is answered 503 after the store timeout, `/readyz`
 *    turns 503, and SIGTERM ends the process within the shutdown deadline. With space back, a
 *    restart recovers and nothing acknowledged is lost.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, openSync, rmSync, writeSync, closeSync, cpSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPglite } from '../../src/storage/index.js';
import { serve, type ServeProcess } from '../cli-process.js';

const KEY = 'full-disk-test-key-0123456789abcdefghij';
const STORE_TIMEOUT_MS = 3_000;
const SHUTDOWN_DEADLINE_MS = 6_000;

const root = mkdtempSync(join(tmpdir(), 'rivulet-full-disk-'));
const mounts: string[] = [];

function mount(dir: string, size: string): void {
  mkdirSync(dir, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', dir], { stdio: 'pipe' });
  mounts.push(dir);
}

/** Why the tests cannot run here, or undefined when a tmpfs can be mounted. */
const cannotMount = ((): string | undefined => {
  const probe = join(root, 'probe');
  try {
    mount(probe, '1m');
    execFileSync('umount', [probe], { stdio: 'pipe' });
    mounts.pop();
    return undefined;
  } catch (err) {
    return `cannot mount a tmpfs (needs root and mount permission): ${String((err as Error).message).split('\n')[0]}`;
  }
})();
if (cannotMount) console.warn(`full-disk tests skipped: ${cannotMount}`);

afterAll(() => {
  // Innermost first; lazily, so a process that still holds a file cannot keep a mount behind.
  for (const dir of mounts.reverse()) {
    try {
      execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
    } catch {
      /* already gone */
    }
  }
  rmSync(root, { recursive: true, force: true });
});

/** Writes zeros to `file` until the filesystem is full. */
function fill(file: string): void {
  const fd = openSync(file, 'w');
  const chunk = Buffer.alloc(1 << 20);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    closeSync(fd);
  }
}

/** One `/users/track` call: `events` events for the user `user`; heavy: each for its own user `user-i`, with incompressible properties. */
async function track(url: string, user: string, events: number, heavy = false): Promise<{ status: number; body: any; ms: number }> {
  const body = {
    events: Array.from({ length: events }, (_, i) => ({
      external_id: heavy ? `${user}-${i}` : user,
      name: 'filled',
      time: '2026-01-01T00:00:00Z',
      properties: heavy ? { i, ...Object.fromEntries(Array.from({ length: 15 }, (_, j) => [`p${j}`, randomBytes(135).toString('base64')])) } : { i },
    })),
  };
  const started = Date.now();
  try {
    const res = await fetch(`${url}/users/track`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(60_000),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined, ms: Date.now() - started };
  } catch (err) {
    return { status: 0, body: String(err), ms: Date.now() - started };
  }
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const status = async (url: string) => {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
    return { status: res.status, body: (await res.json()) as any };
  } catch (err) {
    return { status: 0, body: String(err) };
  }
};

/** SIGTERM, and how long the process took to exit (or Infinity after twice the deadline: then it is killed). */
async function stop(server: ServeProcess): Promise<{ ms: number; code: number | null }> {
  const started = Date.now();
  server.child.kill('SIGTERM');
  const code = await Promise.race([server.exited, new Promise<'hung'>((r) => setTimeout(() => r('hung'), SHUTDOWN_DEADLINE_MS * 2))]);
  if (code === 'hung') {
    server.child.kill('SIGKILL');
    await server.exited;
    return { ms: Infinity, code: null };
  }
  return { ms: Date.now() - started, code };
}

/** Counts, per user, the events in the store's event log (the server must be stopped). */
async function storedEvents(dataDir: string, users: string[]): Promise<Map<string, { n: number; distinct: number }>> {
  const db = await openPglite(join(dataDir, 'pglite'));
  try {
    const { rows } = await db.query<{ u: string; n: number; d: number }>(
      `SELECT external_user_id AS u, count(*)::int8 AS n, count(DISTINCT body->'properties'->'custom_properties'->>'i')::int8 AS d
         FROM event_log WHERE external_user_id = ANY($1::text[]) GROUP BY 1`,
      [users],
    );
    return new Map(rows.map((r) => [r.u, { n: r.n, distinct: r.d }]));
  } finally {
    await db.close();
  }
}

function expectAllStored(stored: Map<string, { n: number; distinct: number }>, acknowledged: Map<string, number>): void {
  for (const [user, n] of acknowledged) expect({ user, ...stored.get(user) }).toEqual({ user, n, distinct: n });
}

const env = (dataDir: string, extra: Record<string, string> = {}) => ({
  RIVULET_DATA_DIR: dataDir,
  RIVULET_API_KEY: KEY,
  DATABASE_URL: '',
  RIVULET_STORE_TIMEOUT_MS: String(STORE_TIMEOUT_MS),
  RIVULET_SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_DEADLINE_MS),
  LOG_LEVEL: 'warn',
  ...extra,
});

describe.skipIf(Boolean(cannotMount))('a full disk under the embedded store', { timeout: 240_000 }, () => {
  beforeAll(() => {
    expect(cannotMount).toBeUndefined();
  });

  it('answers writes 503 and is not ready while the disk is full, recovers when space returns, and loses nothing acknowledged', async () => {
    const disk = join(root, 'disk');
    mount(disk, '160m');
    const dataDir = join(disk, 'data');
    const acknowledged = new Map<string, number>();
    const server = await serve(env(dataDir));
    try {
      for (let i = 0; i < 20; i++) {
        const r = await track(server.url, `before-${i}`, 20);
        expect(r.status).toBe(201);
        acknowledged.set(`before-${i}`, 20);
      }

      fill(join(disk, 'filler'));
      // Within seconds: writes refused with a 503 whose body names the cause; not ready; alive.
      let attempt = 0;
      const refused = await until('a write refused with 503', async () => {
        const user = `during-${attempt++}`;
        const r = await track(server.url, user, 20);
        if (r.status === 201) acknowledged.set(user, 20);
        return r.status === 503 ? r : undefined;
      }, 15_000);
      expect(refused.ms).toBeLessThan(STORE_TIMEOUT_MS + 5_000);
      expect(refused.body).toMatchObject({ message: 'Service temporarily unavailable', errors: [{ type: expect.stringMatching(/disk|space/) }] });
      const ready = await until('not ready', async () => ((await status(`${server.url}/readyz`)).status === 503 ? true : undefined), 15_000);
      expect(ready).toBe(true);
      expect((await status(`${server.url}/readyz`)).body.errors[0].type).toMatch(/disk under .* is full/);
      expect((await status(`${server.url}/healthz`)).status).toBe(200);
      // Reads that write nothing still work: the admin API lists the keys. Checked once the key's
      // 2 s cache entry has expired, so the request takes the failed-authentication throttle's slot
      // (a counter write the store refuses: it is counted in the process instead).
      await new Promise((r) => setTimeout(r, 2_500));
      const read = await fetch(`${server.url}/admin/keys`, { headers: { authorization: `Bearer ${KEY}` }, signal: AbortSignal.timeout(20_000) });
      expect(read.status, await read.clone().text()).toBe(200);
      expect(((await read.json()) as { keys: unknown[] }).keys.length).toBeGreaterThan(0);
      // More writes while full: each answered quickly, never acknowledged without being stored.
      for (let i = 0; i < 5; i++) {
        const r = await track(server.url, `full-${i}`, 20);
        expect([201, 503]).toContain(r.status);
        expect(r.ms).toBeLessThan(STORE_TIMEOUT_MS + 5_000);
        if (r.status === 201) acknowledged.set(`full-${i}`, 20);
      }
      expect(server.output()).toMatch(/store not ready: the disk under .* is full/);

      // Space returns: ready again by itself, writes resume.
      rmSync(join(disk, 'filler'));
      await until('ready again', async () => ((await status(`${server.url}/readyz`)).status === 200 ? true : undefined), 30_000);
      for (let i = 0; i < 20; i++) {
        const r = await track(server.url, `after-${i}`, 20);
        expect(r.status).toBe(201);
        acknowledged.set(`after-${i}`, 20);
      }
    } finally {
      const stopped = await stop(server);
      expect(stopped.ms).toBeLessThan(SHUTDOWN_DEADLINE_MS + 2_000);
    }
    expectAllStored(await storedEvents(dataDir, [...acknowledged.keys()]), acknowledged);
  });

  it('answers 503 within the store timeout when the WAL cannot grow, exits on SIGTERM within the deadline, and recovers everything acknowledged', async () => {
    const disk = join(root, 'wal-disk');
    mount(disk, '200m');
    const dataDir = join(disk, 'data');
    // A first start creates the store; then pg_wal moves onto its own filesystem, only just larger
    // than the segment already there, so the next WAL segment cannot be created.
    const first = await serve(env(dataDir));
    expect((await stop(first)).code).toBe(0);
    const wal = join(dataDir, 'pglite', 'pg_wal');
    const saved = join(root, 'wal-saved');
    cpSync(wal, saved, { recursive: true });
    const walBytes = readdirSync(wal).length; // only to be sure it is there
    expect(walBytes).toBeGreaterThan(0);
    mount(wal, '17m');
    cpSync(saved, wal, { recursive: true });

    const acknowledged = new Map<string, number>();
    const server = await serve(env(dataDir, { RIVULET_STORE_MIN_FREE_BYTES: '0' }));
    let refused: { status: number; body: any; ms: number } | undefined;
    try {
      for (let i = 0; i < 400 && !refused; i++) {
        const r = await track(server.url, `wal-${i}`, 75, true);
        if (r.status === 201) for (let k = 0; k < 75; k++) acknowledged.set(`wal-${i}-${k}`, 1);
        else refused = r;
      }
      expect(refused, 'the WAL never filled').toBeDefined();
      expect(refused!.status).toBe(503);
      expect(refused!.ms).toBeLessThan(STORE_TIMEOUT_MS + 5_000);
      expect(refused!.body).toMatchObject({ message: 'Service temporarily unavailable', errors: [{ type: expect.stringMatching(/did not answer|not taking writes/) }] });
      // The process still answers: later writes fail at once, /readyz says why, /healthz is fine.
      const again = await track(server.url, 'wal-again', 5);
      expect(again.status).toBe(503);
      expect(again.ms).toBeLessThan(2_000);
      const ready = await status(`${server.url}/readyz`);
      expect(ready.status).toBe(503);
      expect(ready.body.errors[0].type).toMatch(/has not returned|WAL/);
      expect((await status(`${server.url}/healthz`)).status).toBe(200);
      expect(server.output()).toMatch(/store not ready: a store call has not returned/);
    } finally {
      const stopped = await stop(server);
      expect(stopped.ms).toBeLessThan(SHUTDOWN_DEADLINE_MS + 2_000);
    }

    // Space returns; a restart replays the WAL: writes work and every acknowledged event is there.
    execFileSync('mount', ['-o', 'remount,size=200m', wal], { stdio: 'pipe' });
    const restarted = await serve(env(dataDir));
    try {
      const r = await track(restarted.url, 'wal-after', 20);
      expect(r.status).toBe(201);
      acknowledged.set('wal-after', 20);
    } finally {
      expect((await stop(restarted)).code).toBe(0);
    }
    expect(acknowledged.size).toBeGreaterThan(750);
    expectAllStored(await storedEvents(dataDir, [...acknowledged.keys()]), acknowledged);
  });
});
