/**
 * The embedded store has one writer (docs/administration.md#the-data-dir), as real processes on a
 * real data dir: a second server is refused with a message naming the first; the CLI beside a
 * running server goes through it while 1,000 events are tracked, and nothing is lost; a stale lock
 * left by `kill -9` (or by a pid now reused by another process) is taken over; every file is
 * private after a first start.
 */
import { chmod, lstat, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { processStartTime } from '../src/storage/data-dir.js';
import { cliArgs, freePort, runCli, serve, withMigratedStore, type ServeProcess } from './cli-process.js';
import { spawn } from 'node:child_process';
import { ROOT } from './cli-process.js';

const KEY = 'cli-store-test-seeded-key-0123456789abcdef';
const dirs: string[] = [];
const running: ServeProcess[] = [];
afterAll(async () => {
  for (const s of running) if (s.child.exitCode === null) s.child.kill('SIGKILL');
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function dataDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'rivulet-store-'));
  dirs.push(d);
  // The store's creation is not under test here: start from a migrated one.
  return withMigratedStore(d);
}
const envFor = (dir: string) => ({ RIVULET_DATA_DIR: dir, RIVULET_API_KEY: KEY, DATABASE_URL: '', RIVULET_MASTER_KEY: '' });
async function start(dir: string, extra: Record<string, string> = {}): Promise<ServeProcess> {
  const s = await serve({ ...envFor(dir), ...extra });
  running.push(s);
  return s;
}
async function stop(s: ServeProcess): Promise<void> {
  s.child.kill('SIGTERM');
  expect(await s.exited).toBe(0);
}
const post = (url: string, path: string, body: unknown, key = KEY) =>
  fetch(url + path, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });

/** `rivulet serve` expected to fail: its exit code, its output, and how long it took. */
async function serveFails(env: Record<string, string>): Promise<{ code: number | null; output: string; ms: number }> {
  const cli = await cliArgs();
  return freePort().then(
    (port) =>
      new Promise((resolve, reject) => {
        const t0 = Date.now();
        const child = spawn(process.execPath, [...cli, 'serve'], { cwd: ROOT, env: { ...process.env, LOG_LEVEL: 'warn', PORT: String(port), ...env } });
        let output = '';
        child.stdout.on('data', (d) => (output += d));
        child.stderr.on('data', (d) => (output += d));
        child.on('error', reject);
        const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
        child.on('exit', (code) => {
          clearTimeout(timer);
          resolve({ code, output, ms: Date.now() - t0 });
        });
      }),
  );
}

async function modesUnder(dir: string): Promise<{ wide: string[]; files: number }> {
  const wide: string[] = [];
  let files = 0;
  const walk = async (p: string) => {
    // The server runs meanwhile: a file it removed between readdir and lstat is skipped.
    const st = await lstat(p).catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? undefined : Promise.reject(err)));
    if (!st) return;
    if (st.isDirectory()) {
      if ((st.mode & 0o777) !== 0o700) wide.push(`${p} ${(st.mode & 0o777).toString(8)}`);
      for (const e of await readdir(p).catch(() => [])) await walk(join(p, e));
    } else if (st.isFile()) {
      files++;
      if ((st.mode & 0o777) !== 0o600) wide.push(`${p} ${(st.mode & 0o777).toString(8)}`);
    }
  };
  await walk(dir);
  return { wide, files };
}

const prefixOf = (key: string) => key.split('_').slice(0, 2).join('_');
const lastLine = (s: string) => s.trim().split('\n').pop()!;

describe('one writer per embedded store', { timeout: 300_000 }, () => {
  it('refuses a second server, runs the CLI through the first while it tracks 1,000 events, loses nothing, and leaves every file private', async () => {
    const dir = await dataDir();
    const server = await start(dir);

    // Private files after a first start: the dir 0700, every file (PGlite's ~1,000 too) 0600.
    const modes = await modesUnder(dir);
    expect(modes.files).toBeGreaterThan(100);
    expect(modes.wide).toEqual([]);

    // A second server on the same data dir exits non-zero at once, naming the first.
    const second = await serveFails(envFor(dir));
    expect(second.code).not.toBe(0);
    expect(second.output).toContain(`in use by another Rivulet process: pid ${server.child.pid} (rivulet serve)`);
    expect(second.output).toContain(`serving ${server.url}`);
    expect(second.output).not.toMatch(/^\s+at /m); // one line, no stack

    // A key created by the CLI beside the server (it goes through the server's admin API).
    const createdA = await runCli(['keys', 'create', '--name', 'to-revoke', '--permissions', 'users.track'], envFor(dir));
    expect(createdA.code, createdA.stderr).toBe(0);
    const keyA = lastLine(createdA.stdout);
    expect((await post(server.url, '/users/track', { attributes: [{ external_id: 'a-check' }] }, keyA)).status).toBe(201);

    // 1,000 events through the server (50 requests of 20, 4 at a time) while the CLI creates,
    // revokes and lists keys at the same time.
    const users = Array.from({ length: 10 }, (_, i) => `load-${i}`);
    let next = 0;
    const answers: number[] = [];
    const worker = async () => {
      while (next < 50) {
        const n = next++;
        const events = Array.from({ length: 20 }, (_, j) => ({ external_id: users[(n * 20 + j) % 10], name: 'load', time: new Date(Date.UTC(2024, 0, 1, 0, 0, n * 20 + j)).toISOString() }));
        answers.push((await post(server.url, '/users/track', { events })).status);
      }
    };
    const load = Promise.all([worker(), worker(), worker(), worker()]);
    const [createdB, revoked, listed] = await Promise.all([
      runCli(['keys', 'create', '--name', 'beside', '--permissions', 'users.track,users.export.ids'], envFor(dir)),
      runCli(['keys', 'revoke', prefixOf(keyA)], envFor(dir)),
      runCli(['keys', 'list'], envFor(dir)),
    ]);
    await load;
    expect(createdB.code, createdB.stderr).toBe(0);
    expect(revoked.stdout, revoked.stderr).toContain(`revoked ${prefixOf(keyA)}`);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toContain(prefixOf(keyA));
    expect(answers).toHaveLength(50);
    expect(answers.every((s) => s === 201)).toBe(true);

    const keyB = lastLine(createdB.stdout);
    expect((await post(server.url, '/users/track', { attributes: [{ external_id: 'b-check' }] }, keyB)).status).toBe(201);
    expect((await post(server.url, '/users/track', { attributes: [{ external_id: 'a-check' }] }, keyA)).status).toBe(401);

    const count = async (url: string, key: string) => {
      const res = await post(url, '/users/export/ids', { external_ids: users }, key);
      const body = (await res.json()) as { users: Array<{ custom_events?: Array<{ name: string; count: number }> }> };
      return body.users.reduce((sum, u) => sum + (u.custom_events?.find((e) => e.name === 'load')?.count ?? 0), 0);
    };
    expect(await count(server.url, keyB)).toBe(1000);

    // The local admin endpoint takes nothing without the credential of the data dir, and the
    // credential never reaches the server's output.
    const token = (await readFile(join(dir, 'local-admin.token'), 'utf8')).trim();
    const local = (headers: Record<string, string>) =>
      fetch(`${server.url}/admin/local/cli`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ operation: 'keys.list', args: {} }) });
    expect((await local({})).status).toBe(401);
    expect((await local({ 'x-rivulet-local-admin': `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}` })).status).toBe(401);
    expect((await local({ authorization: `Bearer ${KEY}` })).status).toBe(401);
    expect((await local({ 'x-rivulet-local-admin': token })).status).toBe(200);
    expect(server.output()).not.toContain(token);

    // A CLI error through the server is the same one-line error with exit code 1.
    const missing = await runCli(['keys', 'revoke', 'rvk_missing'], envFor(dir));
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('no key with prefix rvk_missing');

    // The other commands that use the store go through the server too: data import keys, a
    // connector whose secret comes on stdin, its pause, and migrate.
    const importKey = await runCli(['import-keys', 'create', '--partner', 'mixpanel'], envFor(dir));
    expect(importKey.code, importKey.stderr).toBe(0);
    expect(lastLine(importKey.stdout)).toMatch(/^dik_/);
    const connector = await runCli(
      ['currents', 'create-mixpanel', '--name', 'Beside', '--contact-email', 'ops@example.com', '--event-types', 'all', '--project-token', 'tok', '--base-url', 'http://127.0.0.1:9', '--api-secret-stdin'],
      envFor(dir),
      'beside-secret-4321\n',
    );
    expect(connector.code, connector.stderr).toBe(0);
    const connectorId = lastLine(connector.stdout);
    expect((await runCli(['currents', 'pause', connectorId], envFor(dir))).stdout).toContain(`paused ${connectorId}`);
    expect((await runCli(['currents', 'status', connectorId], envFor(dir))).stdout).toContain('api_secret …4321');
    expect((await runCli(['migrate'], envFor(dir))).stdout).toContain('up to date');

    // After a restart everything is still there, and the CLI opens the store itself when no server runs.
    await stop(server);
    const offline = await runCli(['keys', 'list'], envFor(dir));
    expect(offline.stdout).toMatch(new RegExp(`${prefixOf(keyA)}\\trevoked`));
    expect(offline.stdout).toMatch(new RegExp(`${prefixOf(keyB)}\\tactive`));
    expect((await runCli(['currents', 'list'], envFor(dir))).stdout).toContain(`${connectorId}\tpaused`);
    const again = await start(dir);
    expect(await count(again.url, keyB)).toBe(1000);
    expect((await post(again.url, '/users/track', { attributes: [{ external_id: 'a-check' }] }, keyA)).status).toBe(401);
    await stop(again);
    expect((await modesUnder(dir)).wide).toEqual([]);
  });

  it('takes over a stale lock: after kill -9, and when the pid is alive but is another process', async () => {
    const dir = await dataDir();
    const first = await start(dir);
    first.child.kill('SIGKILL');
    await first.exited;
    const afterKill = await start(dir);
    expect(afterKill.output()).toContain(`took over the lock of ${dir} left by pid ${first.child.pid}`);
    await stop(afterKill);

    // A lock naming a live pid with another start time: the pid was reused after the owner died.
    const lock = join(dir, 'rivulet.lock');
    const reused = { pid: process.pid, start: '1', since: '2020-01-01T00:00:00.000Z', kind: 'server', command: 'rivulet serve', url: 'http://127.0.0.1:9' };
    await writeFile(lock, JSON.stringify(reused));
    const afterReuse = await start(dir);
    expect(afterReuse.output()).toContain(`left by pid ${process.pid}`);
    await stop(afterReuse);

    // The same pid with its real start time is a live owner: refused, naming it.
    const live = { ...reused, start: processStartTime(process.pid) };
    await writeFile(lock, JSON.stringify(live));
    const refused = await serveFails(envFor(dir));
    expect(refused.code).not.toBe(0);
    expect(refused.output).toContain(`pid ${process.pid} (rivulet serve), running since 2020-01-01T00:00:00.000Z, serving http://127.0.0.1:9`);
    const cli = await runCli(['keys', 'list'], envFor(dir));
    expect(cli.code).toBe(1); // a server that does not answer: the CLI says so, and does not open the files
    expect(cli.stderr).toContain('http://127.0.0.1:9');
  });

  it('tightens an existing data dir with wider modes at start, with one log line', async () => {
    const dir = await dataDir();
    const s = await start(dir);
    await stop(s);
    await chmod(dir, 0o755);
    await chmod(join(dir, 'master.key'), 0o644);
    await chmod(join(dir, 'pglite'), 0o777);
    const again = await start(dir);
    expect(again.output()).toMatch(/tightened the modes of \d+ entries under .* to 0700 \(directories\) \/ 0600 \(files\)/);
    expect((await modesUnder(dir)).wide).toEqual([]);
    await stop(again);
  });
});
