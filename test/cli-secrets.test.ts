/**
 * Secret files and secrets on the command line, as real processes on a real data dir:
 * - `master.key` and `partner-keys.json` empty or corrupt stop the start with one line naming the
 *   file and the fix (never a key derived from an empty file); written atomically and 0600;
 * - the generated admin password is printed before the server listens, so a start that then fails
 *   (port in use) has shown it, and the next start keeps it;
 * - CLI secrets come from stdin or the environment; argv forms are refused, naming the alternative.
 */
import { createServer } from 'node:net';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadSecretBox } from '../src/secrets/index.js';
import { cliArgs, freePort, ROOT, runCli, serve, withMigratedStore } from './cli-process.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
async function dataDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'rivulet-secrets-'));
  dirs.push(d);
  // The store itself is not under test here: start from a migrated one (the keys are still made by the first start).
  return withMigratedStore(d);
}
const envFor = (dir: string) => ({ RIVULET_DATA_DIR: dir, DATABASE_URL: '', RIVULET_MASTER_KEY: '', RIVULET_ADMIN_PASSWORD: '' });

async function runServe(env: Record<string, string>, port?: number): Promise<{ code: number | null; output: string }> {
  const cli = await cliArgs();
  return (port ? Promise.resolve(port) : freePort()).then(
    (p) =>
      new Promise((resolve, reject) => {
        const child = spawn(process.execPath, [...cli, 'serve'], { cwd: ROOT, env: { ...process.env, LOG_LEVEL: 'warn', PORT: String(p), ...env } });
        let output = '';
        child.stdout.on('data', (d) => (output += d));
        child.stderr.on('data', (d) => (output += d));
        child.on('error', reject);
        const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
        child.on('exit', (code) => {
          clearTimeout(timer);
          resolve({ code, output });
        });
      }),
  );
}

describe('key files', { timeout: 240_000 }, () => {
  it('are written whole and private at first start, and an empty or corrupt one stops the next start naming the file and the fix', async () => {
    const dir = await dataDir();
    const s = await serve(envFor(dir));
    s.child.kill('SIGTERM');
    expect(await s.exited).toBe(0);
    expect((await readFile(join(dir, 'master.key'), 'utf8')).trim()).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    // Generated partner keys live in the database (their hashes); no partner-keys.json is written.
    expect((await readdir(dir)).includes('partner-keys.json')).toBe(false);
    for (const f of ['master.key', 'local-admin.token']) expect(((await stat(join(dir, f))).mode & 0o777).toString(8), f).toBe('600');
    expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);

    const masterKey = await readFile(join(dir, 'master.key'), 'utf8');
    await writeFile(join(dir, 'master.key'), '');
    const empty = await runServe(envFor(dir));
    expect(empty.code).not.toBe(0);
    expect(empty.output).toContain(`the master key ${join(dir, 'master.key')} is empty`);
    expect(empty.output).toContain('Restore it from your backup');
    expect(empty.output).not.toMatch(/^\s+at /m);

    await writeFile(join(dir, 'master.key'), 'not a key\n');
    const corrupt = await runServe(envFor(dir));
    expect(corrupt.code).not.toBe(0);
    expect(corrupt.output).toContain('is corrupt');
    await writeFile(join(dir, 'master.key'), masterKey);

    // An older version's partner-keys.json is carried into a new database: a corrupt or empty one
    // stops that start rather than generating keys the partner does not have.
    const old = await dataDir();
    await writeFile(join(old, 'partner-keys.json'), '{"mixpanel": "pk_mixp');
    const partners = await runServe(envFor(old));
    expect(partners.code).not.toBe(0);
    expect(partners.output).toContain(`the partner API keys file ${join(old, 'partner-keys.json')} is corrupt`);
    expect(partners.output).toContain('RIVULET_PARTNER_API_KEY_<PARTNER>');
    const older = await dataDir();
    await writeFile(join(older, 'partner-keys.json'), '');
    expect((await runServe(envFor(older))).output).toContain('partner-keys.json is empty');
  });

  it('master.key: processes creating it at once all end up with the same key', async () => {
    const dir = await dataDir();
    const boxes = await Promise.all(Array.from({ length: 8 }, () => loadSecretBox(undefined, dir)));
    const sealed = boxes[0]!.seal('same key everywhere');
    for (const box of boxes) expect(box.open(sealed)).toBe('same key everywhere');
    expect((await readdir(dir)).filter((f) => f !== 'pglite')).toEqual(['master.key']);
  });
});

describe('the generated admin password', { timeout: 240_000 }, () => {
  it('is shown before the server listens, so a start that fails on a busy port does not lose it', async () => {
    const dir = await dataDir();
    const busy = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    const port = (busy.address() as { port: number }).port;
    const failed = await runServe(envFor(dir), port);
    busy.close();
    expect(failed.code).not.toBe(0);
    const password = /Generated the dashboard admin password[^\n]*\n\s+(\S+)/.exec(failed.output)?.[1];
    expect(password, failed.output).toMatch(/^[A-Za-z0-9]{20}$/);

    const s = await serve(envFor(dir));
    expect(s.output()).not.toContain('Generated the dashboard admin password');
    const signIn = await fetch(`${s.url}/dashboard/api/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ password }) });
    expect(signIn.status).toBe(200);
    s.child.kill('SIGTERM');
    expect(await s.exited).toBe(0);
  });
});

describe('secrets never on the command line', { timeout: 240_000 }, () => {
  it('refuses --api-secret and --service-account-secret, and takes them from stdin or the environment', async () => {
    const dir = await dataDir();
    const env = envFor(dir);
    const base = ['currents', 'create-mixpanel', '--name', 'S', '--contact-email', 'ops@example.com', '--event-types', 'all', '--project-token', 'tok', '--base-url', 'http://127.0.0.1:9'];
    const argvApi = await runCli([...base, '--api-secret', 'argv-secret-1234'], env);
    expect(argvApi.code).toBe(1);
    expect(argvApi.stderr).toContain('--api-secret is refused');
    expect(argvApi.stderr).toContain('MIXPANEL_API_SECRET');
    expect(argvApi.stderr).toContain('--api-secret-stdin');
    const argvSa = await runCli([...base, '--service-account-username', 'u', '--project-id', '1', '--service-account-secret', 'argv-secret-1234'], env);
    expect(argvSa.code).toBe(1);
    expect(argvSa.stderr).toContain('MIXPANEL_SERVICE_ACCOUNT_SECRET');
    expect((await runCli(['currents', 'list'], env)).stdout.trim()).toBe('');

    const fromStdin = await runCli([...base, '--api-secret-stdin'], env, 'stdin-secret-9876\n');
    expect(fromStdin.code, fromStdin.stderr).toBe(0);
    const id = fromStdin.stdout.trim().split('\n').pop()!;
    expect((await runCli(['currents', 'status', id], env)).stdout).toContain('api_secret …9876');

    const fromEnv = await runCli([...base, '--service-account-username', 'u', '--project-id', '1'], { ...env, MIXPANEL_SERVICE_ACCOUNT_SECRET: 'env-secret-5555' });
    expect(fromEnv.code, fromEnv.stderr).toBe(0);
    const id2 = fromEnv.stdout.trim().split('\n').pop()!;
    expect((await runCli(['currents', 'status', id2], env)).stdout).toContain('secret …5555');

    const emptyStdin = await runCli([...base, '--api-secret-stdin'], env, '');
    expect(emptyStdin.code).toBe(1);
    expect(emptyStdin.stderr).toContain('stdin was empty');
  });
});
