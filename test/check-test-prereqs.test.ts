/**
 * The `npm test` prerequisite check (scripts/check-test-prereqs.mjs): its decisions with PATH,
 * executables and the PostgreSQL probe faked, and the real script stopping at once, with the one
 * command to run, on a machine that lacks Chromium and PostgreSQL.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findOnPath, main, planChromium, planPostgres, type Probe } from '../scripts/check-test-prereqs.mjs';

const SCRIPT = fileURLToPath(new URL('../scripts/check-test-prereqs.mjs', import.meta.url));
let dir: string;
let bin: string; // holds a fake apt-get and pg_ctlcluster
let empty: string; // a PATH entry with nothing in it
let chromium: string; // an executable fake Chromium
let notExecutable: string;

async function fakeExecutable(path: string): Promise<void> {
  await writeFile(path, '#!/bin/sh\nexit 0\n');
  await chmod(path, 0o755);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rivulet-prereqs-'));
  bin = join(dir, 'bin');
  empty = join(dir, 'empty');
  await mkdir(bin);
  await mkdir(empty);
  await fakeExecutable(join(bin, 'apt-get'));
  await fakeExecutable(join(bin, 'pg_ctlcluster'));
  chromium = join(dir, 'chromium');
  await fakeExecutable(chromium);
  notExecutable = join(dir, 'chromium-not-executable');
  await writeFile(notExecutable, '');
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const missing = () => join(dir, 'no-such-chromium');
const up: Probe = { ok: true, version: 'PostgreSQL 15.8' };
const refused: Probe = { ok: false, code: 'ECONNREFUSED', message: 'connect ECONNREFUSED 127.0.0.1:5432' };

describe('Chromium', () => {
  it('finds executables on PATH only', () => {
    expect(findOnPath('apt-get', `${empty}:${bin}`)).toBe(join(bin, 'apt-get'));
    expect(findOnPath('apt-get', empty)).toBeUndefined();
    expect(findOnPath('chromium-not-executable', dir)).toBeUndefined();
  });

  it('is fine when the configured binary is executable', () => {
    expect(planChromium({ env: { RIVULET_CHROMIUM: chromium, PATH: empty }, uid: 1000 })).toEqual({ kind: 'ok', path: chromium });
  });

  it('stops on a configured path that is not executable, even as root with apt-get', () => {
    for (const path of [missing(), notExecutable]) {
      const plan = planChromium({ env: { RIVULET_CHROMIUM: path, PATH: bin }, uid: 0 });
      expect(plan.kind).toBe('stop');
      expect(plan.kind === 'stop' && plan.message).toContain(`RIVULET_CHROMIUM=${path} is not an executable`);
    }
  });

  it('installs Debian chromium as root when apt-get is on PATH; otherwise names the command', () => {
    const asRoot = planChromium({ env: { PATH: `${empty}:${bin}` }, uid: 0, defaultPath: missing() });
    expect(asRoot).toEqual({
      kind: 'install',
      path: missing(),
      commands: [
        [join(bin, 'apt-get'), ['update', '-qq']],
        [join(bin, 'apt-get'), ['install', '-y', '-qq', 'chromium']],
      ],
    });
    const asUser = planChromium({ env: { PATH: bin }, uid: 1000, defaultPath: missing() });
    expect(asUser).toMatchObject({ kind: 'stop' });
    expect(asUser.kind === 'stop' && asUser.message).toContain('Run: sudo apt-get update && sudo apt-get install -y chromium');
    const noApt = planChromium({ env: { PATH: empty }, uid: 0, defaultPath: missing() });
    expect(planChromium({ env: { PATH: bin }, uid: 0, defaultPath: chromium })).toEqual({ kind: 'ok', path: chromium });
    expect(noApt.kind === 'stop' && noApt.message).toContain('set RIVULET_CHROMIUM=/path/to/chromium');
  });
});

describe('PostgreSQL', () => {
  it('is fine when the probe answered', () => {
    expect(planPostgres({ env: {}, uid: 0, probe: up })).toEqual({ kind: 'ok', url: 'postgres://postgres@127.0.0.1:5432/test', version: 'PostgreSQL 15.8' });
  });

  it('names the start command when nothing answers: pg_ctlcluster with the newest cluster, sudo unless root', () => {
    const root = planPostgres({ env: { PATH: bin }, uid: 0, probe: refused, clusters: ['16', '15'] });
    expect(root.kind === 'stop' && root.message).toMatch(/not answering at postgres:\/\/postgres@127\.0\.0\.1:5432\/test \(ECONNREFUSED\).*Run: pg_ctlcluster 16 main start$/);
    const user = planPostgres({ env: { PATH: bin }, uid: 1000, probe: { ok: false, code: 'TIMEOUT', message: 'no answer' }, clusters: ['15'] });
    expect(user.kind === 'stop' && user.message).toMatch(/Run: sudo pg_ctlcluster 15 main start$/);
    const generic = planPostgres({ env: { PATH: empty }, uid: 0, probe: refused, clusters: ['15'] });
    expect(generic.kind === 'stop' && generic.message).toContain('Run: start a PostgreSQL server listening on 127.0.0.1:5432');
  });

  it('names createdb when the database is missing, and reports other refusals with their reason', () => {
    const noDb = planPostgres({ env: { RIVULET_TEST_PG_URL: 'postgres://me:pw@db.local:6543/suite' }, uid: 0, probe: { ok: false, code: '3D000', message: 'database "suite" does not exist' } });
    expect(noDb.kind === 'stop' && noDb.message).toContain('Run: createdb -h db.local -p 6543 -U me suite');
    expect(noDb.kind === 'stop' && noDb.message).not.toContain('pw');
    const auth = planPostgres({ env: {}, uid: 0, probe: { ok: false, code: '28P01', message: 'password authentication failed' } });
    expect(auth.kind === 'stop' && auth.message).toContain('(password authentication failed)');
  });
});

describe('main', () => {
  const capture = () => {
    const out: string[] = [];
    return { out, log: (l: string) => out.push(l), error: (l: string) => out.push(l) };
  };

  it('checks PostgreSQL first and installs nothing while it is down', async () => {
    const ran: string[] = [];
    const io = capture();
    const code = await main({ env: { PATH: `${empty}:${bin}`, RIVULET_CHROMIUM: missing() }, uid: 0, probe: async () => refused, run: (c) => (ran.push(c), 0), ...io });
    expect(code).toBe(1);
    expect(ran).toEqual([]);
    expect(io.out.join('\n')).toContain('npm test stopped before running the tests');
    expect(io.out.join('\n')).toContain('pg_ctlcluster');
  });

  it('installs Chromium as root once PostgreSQL answers, then checks it is there; a failed install stops with the command', async () => {
    const target = join(dir, 'installed-chromium');
    const ran: string[][] = [];
    const io = capture();
    const install = (cmd: string, args: string[]) => {
      ran.push([cmd, ...args]);
      return 0;
    };
    // apt-get "succeeds" but leaves no binary: that is reported, not taken for success.
    expect(await main({ env: { PATH: bin }, uid: 0, probe: async () => up, run: install, defaultChromium: target, ...io })).toBe(1);
    expect(ran.map((r) => r.slice(1).join(' '))).toEqual(['update -qq', 'install -y -qq chromium']);
    expect(io.out.join('\n')).toContain(`Chromium is still missing at ${target} after apt-get install chromium`);
    // apt-get that installs it.
    const io2 = capture();
    const working = (_cmd: string, args: string[]) => {
      if (args[0] === 'install') writeFileSync(target, '#!/bin/sh\n', { mode: 0o755 });
      return 0;
    };
    expect(await main({ env: { PATH: bin }, uid: 0, probe: async () => up, run: working, defaultChromium: target, ...io2 })).toBe(0);
    expect(io2.out.at(-1)).toBe(`test prerequisites: PostgreSQL 15.8 at postgres://postgres@127.0.0.1:5432/test, Chromium at ${target}`);
    await rm(target);
    const io3 = capture();
    expect(await main({ env: { PATH: bin }, uid: 0, probe: async () => up, run: () => 100, defaultChromium: target, ...io3 })).toBe(1);
    expect(io3.out.join('\n')).toContain('exited 100). Run: apt-get update && apt-get install -y chromium');
  });

  it('passes, printing what it found, when both are there; the skip switch skips', async () => {
    const io = capture();
    expect(await main({ env: { PATH: empty, RIVULET_CHROMIUM: chromium }, uid: 1000, probe: async () => up, ...io })).toBe(0);
    expect(io.out).toEqual([`test prerequisites: PostgreSQL 15.8 at postgres://postgres@127.0.0.1:5432/test, Chromium at ${chromium}`]);
    expect(await main({ env: { RIVULET_TEST_SKIP_PREREQS: '1' }, probe: async () => refused })).toBe(0);
  });

  it('the real script stops within seconds, exit 1, with both commands, when nothing is there', { timeout: 60_000 }, async () => {
    const started = Date.now();
    const r = await new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [SCRIPT], {
        // Port 1 on loopback refuses at once; PATH has neither apt-get nor pg_ctlcluster.
        env: { PATH: empty, RIVULET_TEST_PG_URL: 'postgres://postgres@127.0.0.1:1/test', RIVULET_CHROMIUM: missing() },
      });
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stderr }));
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('PostgreSQL is not answering at postgres://postgres@127.0.0.1:1/test (ECONNREFUSED)');
    expect(r.stderr).toContain(`RIVULET_CHROMIUM=${missing()} is not an executable`);
    // "Within a minute" on a fresh machine; generous for a loaded one, still far below minutes of failures.
    expect(Date.now() - started).toBeLessThan(45_000);
  });
});
