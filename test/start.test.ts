/**
 * The README's first command, end to end: `rivulet serve` on the embedded store under a data dir,
 * a `/users/track` call with the seeded key creates a user, and after a restart the user is there.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, ROOT, runCli, serve } from './cli-process.js';

let dataDir: string;
beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'rivulet-start-'));
});
afterAll(() => rm(dataDir, { recursive: true, force: true }));

const KEY = 'start-test-seeded-key-0123456789abcdef';
const env = () => ({ RIVULET_DATA_DIR: dataDir, RIVULET_API_KEY: KEY, DATABASE_URL: '' });
const post = (url: string, path: string, body: unknown) =>
  fetch(url + path, { method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });

describe('rivulet serve on the embedded store', { timeout: 180_000 }, () => {
  it('creates a user through /users/track that survives a restart, and shuts down gracefully', async () => {
    const first = await serve(env());
    const tracked = await post(first.url, '/users/track', { attributes: [{ external_id: 'persist-1', first_name: 'Pat' }] });
    expect(tracked.status).toBe(201);
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);

    const second = await serve(env());
    const found = await post(second.url, '/users/export/ids', { external_ids: ['persist-1'] });
    expect(((await found.json()) as any).users).toMatchObject([{ external_id: 'persist-1', first_name: 'Pat' }]);

    // Graceful shutdown finishes a request already in flight: half a body is sent, then SIGTERM,
    // then the rest, and the request still completes with 201.
    const body = JSON.stringify({ events: [{ external_id: 'persist-1', name: 'late', time: '2024-01-01T00:00:00Z' }] });
    const port = Number(new URL(second.url).port);
    const socket = connect(port, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    let response = '';
    socket.on('data', (d) => (response += d));
    const closed = new Promise((r) => socket.on('close', r));
    socket.write(
      `POST /users/track HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${KEY}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n` +
        body.slice(0, 20),
    );
    await new Promise((r) => setTimeout(r, 200));
    second.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    socket.write(body.slice(20));
    await closed;
    expect(response).toMatch(/^HTTP\/1\.1 201/);
    expect(await second.exited).toBe(0);

    const third = await serve(env());
    const after = await post(third.url, '/users/export/ids', { external_ids: ['persist-1'] });
    expect(((await after.json()) as any).users[0].custom_events).toMatchObject([{ name: 'late', count: 1 }]);
    third.child.kill('SIGTERM');
    expect(await third.exited).toBe(0);
  });
});

/** Start-up failures: one line on stderr naming the cause and the fix, exit 1; a stack trace only with LOG_LEVEL=debug. */
describe('start-up failures an operator can act on', { timeout: 120_000 }, () => {
  const oneLine = (stderr: string) => {
    const lines = stderr.trim().split('\n');
    expect(lines, stderr).toHaveLength(1);
    expect(stderr).not.toMatch(/^\s+at /m);
    return lines[0]!;
  };

  it('port in use', async () => {
    const holder = createServer();
    const port = await new Promise<number>((r) => holder.listen(0, '127.0.0.1', () => r((holder.address() as { port: number }).port)));
    try {
      const dir = await mkdtemp(join(tmpdir(), 'rivulet-start-port-'));
      // The admin password is given: a generated one is printed before listening (so a failed start
      // has shown it: test/cli-secrets.test.ts), which would be a second stderr line here.
      const res = await runCli(['serve'], { RIVULET_DATA_DIR: dir, DATABASE_URL: '', PORT: String(port), HOST: '127.0.0.1', RIVULET_ADMIN_PASSWORD: 'start-test-admin-password-0123' });
      await rm(dir, { recursive: true, force: true });
      expect(res.code).toBe(1);
      expect(oneLine(res.stderr)).toMatch(new RegExp(`^rivulet: port ${port} on 127\\.0\\.0\\.1 is already in use .*set PORT to a free port$`));
    } finally {
      holder.close();
    }
  });

  it('PostgreSQL unreachable', async () => {
    const port = await freePort(); // nothing listens there
    const res = await runCli(['serve'], { DATABASE_URL: `postgres://postgres:secret@127.0.0.1:${port}/rivulet` });
    expect(res.code).toBe(1);
    const line = oneLine(res.stderr);
    expect(line).toMatch(new RegExp(`^rivulet: cannot reach PostgreSQL at 127\\.0\\.0\\.1:${port}/rivulet \\(ECONNREFUSED\\): start it, or fix DATABASE_URL$`));
    expect(line).not.toContain('secret');
  });

  it('data dir not writable', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rivulet-start-dir-'));
    try {
      await writeFile(join(dir, 'a-file'), 'x');
      const res = await runCli(['serve'], { RIVULET_DATA_DIR: join(dir, 'a-file', 'data'), DATABASE_URL: '' });
      expect(res.code).toBe(1);
      expect(oneLine(res.stderr)).toMatch(/^rivulet: the data dir is not writable: .*ENOTDIR.*set RIVULET_DATA_DIR to one/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('bad config value, and the stack trace only with LOG_LEVEL=debug', async () => {
    const res = await runCli(['serve'], { PORT: 'eighty', DATABASE_URL: '' });
    expect(res.code).toBe(1);
    expect(oneLine(res.stderr)).toMatch(/^rivulet: PORT must be an integer between 0 and 65535, got "eighty": fix or unset the variable/);
    const debug = await runCli(['serve'], { PORT: 'eighty', DATABASE_URL: '', LOG_LEVEL: 'debug' });
    expect(debug.code).toBe(1);
    expect(debug.stderr).toMatch(/^\s+at /m);
  });

  it('rivulet --version and -v', async () => {
    const { version } = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-v']) {
      const res = await runCli([flag], {});
      expect(res.code).toBe(0);
      expect(res.stdout.trim()).toBe(version);
    }
  });
});

/** `npm run demo` keeps no store (and no master.key) in the temp folder once stopped. */
describe('npm run demo cleans up its temporary store', { timeout: 240_000 }, () => {
  // Ctrl-C while the store opens (before the demo's own shutdown exists), SIGTERM once it runs.
  for (const [signal, when] of [
    ['SIGINT', /Starting Rivulet on the embedded store/],
    ['SIGTERM', /Seeding/],
  ] as const) {
    it(`on ${signal}`, async () => {
      const tmp = await mkdtemp(join(tmpdir(), 'rivulet-demo-test-'));
      try {
        const env: Record<string, string | undefined> = { ...process.env, TMPDIR: tmp, PORT: String(await freePort()) };
        delete env.RIVULET_DATA_DIR;
        delete env.LOG_LEVEL;
        const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/demo.ts'], { cwd: ROOT, env });
        let out = '';
        child.stdout.on('data', (d) => (out += d));
        child.stderr.on('data', (d) => (out += d));
        const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
        const deadline = Date.now() + 120_000;
        while (!when.test(out)) {
          if (child.exitCode !== null || Date.now() > deadline) throw new Error(`the demo did not start:\n${out}`);
          await new Promise((r) => setTimeout(r, 200));
        }
        const stores = (await readdir(tmp)).filter((f) => f.startsWith('rivulet-demo-'));
        expect(stores).toHaveLength(1);
        // Once seeding, the store holds its files.
        if (signal === 'SIGTERM') expect((await readdir(join(tmp, stores[0]!))).length).toBeGreaterThan(0);
        child.kill(signal);
        await exited;
        expect((await readdir(tmp)).filter((f) => f.startsWith('rivulet-demo-'))).toEqual([]);
      } finally {
        await rm(tmp, { recursive: true, force: true });
      }
    });
  }
});

/** CLI errors name the command's flags, not the admin API's field names. */
describe('CLI errors name the flags', { timeout: 120_000 }, () => {
  it('currents create-mixpanel and keys create', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rivulet-start-cli-'));
    try {
      const env = { RIVULET_DATA_DIR: dir, DATABASE_URL: '' };
      const bad = await runCli(
        ['currents', 'create-mixpanel', '--name', 'x', '--contact-email', 'not-an-email', '--event-types', 'bogus', '--project-id', '1', '--service-account-username', 'u', '--max-in-flight', '99'],
        { ...env, MIXPANEL_SERVICE_ACCOUNT_SECRET: '', MIXPANEL_PROJECT_TOKEN: '' },
      );
      expect(bad.code).toBe(1);
      for (const flag of ['--contact-email', '--event-types', '--service-account-secret', '--project-token', '--max-in-flight']) expect(bad.stderr).toContain(flag);
      expect(bad.stderr).not.toMatch(/contact_email|event_types|credentials\.|project_token|max_in_flight/);
      const keys = await runCli(['keys', 'create', '--permissions', 'users.fly'], env);
      expect(keys.code).toBe(1);
      expect(keys.stderr).toMatch(/^rivulet: --permissions: unknown permission\(s\): users\.fly/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
