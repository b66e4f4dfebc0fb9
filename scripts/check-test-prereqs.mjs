#!/usr/bin/env node
/**
 * Run by `npm test` before anything else (the `pretest` script): checks, in a few seconds, what the
 * suite needs from the machine, so that a fresh machine gets either what it lacks or one clear
 * command — never minutes of failing tests.
 *
 * - PostgreSQL at 127.0.0.1:5432 (or RIVULET_TEST_PG_URL) must answer `SELECT 1`; if not, stop at
 *   once with the command that starts it (or creates the `test` database).
 * - Chromium for the browser tests (RIVULET_CHROMIUM, default /usr/bin/chromium): when missing and
 *   this runs as root with apt-get, install Debian's `chromium`; otherwise stop with the command.
 *
 * RIVULET_TEST_SKIP_PREREQS=1 skips the checks. The decisions are pure functions of the
 * environment, the user id and the file system, tested in test/check-test-prereqs.test.ts.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, readdirSync, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { pathToFileURL } from 'node:url';

export const DEFAULT_CHROMIUM = '/usr/bin/chromium';
export const DEFAULT_PG_URL = 'postgres://postgres@127.0.0.1:5432/test';

/** True when `path` is a regular file this user may execute. */
export function isExecutable(path) {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The first executable `cmd` on a PATH string, or undefined. */
export function findOnPath(cmd, pathVar = '') {
  for (const dir of pathVar.split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, cmd);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

/**
 * What to do about Chromium: `ok`, `install` (the commands to run, as root with apt-get) or `stop`
 * (with the message naming the one command to run).
 */
export function planChromium({ env, uid, defaultPath = DEFAULT_CHROMIUM }) {
  const configured = env.RIVULET_CHROMIUM;
  const path = configured || defaultPath;
  if (isExecutable(path)) return { kind: 'ok', path };
  if (configured) {
    return { kind: 'stop', message: `RIVULET_CHROMIUM=${configured} is not an executable file. Point it at a Chromium binary, or unset it to use Debian's chromium at ${defaultPath}.` };
  }
  const aptGet = findOnPath('apt-get', env.PATH);
  if (aptGet && uid === 0) {
    return {
      kind: 'install',
      path,
      commands: [
        [aptGet, ['update', '-qq']],
        [aptGet, ['install', '-y', '-qq', 'chromium']],
      ],
    };
  }
  const command = aptGet ? 'sudo apt-get update && sudo apt-get install -y chromium' : 'install Chromium with your package manager and set RIVULET_CHROMIUM=/path/to/chromium';
  return { kind: 'stop', message: `Chromium is missing at ${path} (the browser tests in test/web/ drive it). Run: ${command}` };
}

/** The version directories under /etc/postgresql (Debian's layout), newest first. */
export function debianClusters(etc = '/etc/postgresql') {
  try {
    return readdirSync(etc)
      .filter((v) => /^\d+(\.\d+)?$/.test(v))
      .sort((a, b) => Number(b) - Number(a));
  } catch {
    return [];
  }
}

/**
 * What to do about PostgreSQL, given the outcome of a probe (`{ ok: true, version }` or
 * `{ ok: false, code, message }`): `ok` or `stop` with the command that fixes it.
 */
export function planPostgres({ env, uid, probe, clusters = debianClusters() }) {
  const url = env.RIVULET_TEST_PG_URL || DEFAULT_PG_URL;
  if (probe.ok) return { kind: 'ok', url, version: probe.version };
  const where = safeUrl(url);
  if (probe.code === '3D000') {
    const u = new URL(url);
    const db = u.pathname.slice(1) || 'test';
    return { kind: 'stop', message: `PostgreSQL answers at ${where} but database "${db}" does not exist. Run: createdb -h ${u.hostname} -p ${u.port || 5432} -U ${u.username || 'postgres'} ${db}` };
  }
  const refused = ['ECONNREFUSED', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH', 'TIMEOUT', 'ECONNRESET'].includes(probe.code ?? '');
  if (!refused) {
    return { kind: 'stop', message: `PostgreSQL at ${where} refused the test connection (${probe.message}). The tests need user postgres with trust auth on 127.0.0.1, or set RIVULET_TEST_PG_URL.` };
  }
  const sudo = uid === 0 ? '' : 'sudo ';
  const command =
    findOnPath('pg_ctlcluster', env.PATH) && clusters.length
      ? `${sudo}pg_ctlcluster ${clusters[0]} main start`
      : 'start a PostgreSQL server listening on 127.0.0.1:5432 (user postgres, trust auth, database test), or set RIVULET_TEST_PG_URL';
  return { kind: 'stop', message: `PostgreSQL is not answering at ${where} (${probe.code}). The storage tests run against it. Run: ${command}` };
}

function safeUrl(url) {
  try {
    const u = new URL(url);
    u.password = '';
    return u.toString();
  } catch {
    return url;
  }
}

/** Connects and runs `SELECT version()` within `timeoutMs`. */
export async function probePostgres(url, timeoutMs = 5000) {
  let pg;
  try {
    pg = (await import('pg')).default;
  } catch {
    return { ok: false, code: 'NO_PG_MODULE', message: 'the pg package is not installed: run `npm ci` first' };
  }
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs });
  client.on('error', () => {});
  const timer = new Promise((resolve) => setTimeout(() => resolve({ ok: false, code: 'TIMEOUT', message: `no answer within ${timeoutMs} ms` }), timeoutMs + 1000).unref());
  const attempt = (async () => {
    try {
      await client.connect();
      const { rows } = await client.query('SELECT version() AS v');
      return { ok: true, version: String(rows[0].v).split(' ').slice(0, 2).join(' ') };
    } catch (err) {
      const e = /** @type {{ code?: string; message?: string }} */ (err);
      const code = e.code ?? (/timeout/i.test(e.message ?? '') ? 'TIMEOUT' : 'ERROR');
      return { ok: false, code, message: e.message ?? String(err) };
    } finally {
      client.end().catch(() => {});
    }
  })();
  return Promise.race([attempt, timer]);
}

/** Runs the checks; returns the process exit code. `io` is replaceable for tests. */
export async function main({ env = process.env, uid = process.getuid?.() ?? -1, probe = probePostgres, run = runCommand, log = console.log, error = console.error, defaultChromium = DEFAULT_CHROMIUM } = {}) {
  if (env.RIVULET_TEST_SKIP_PREREQS === '1') return 0;
  const problems = [];
  const pgPlan = planPostgres({ env, uid, probe: await probe(env.RIVULET_TEST_PG_URL || DEFAULT_PG_URL) });
  if (pgPlan.kind === 'stop') problems.push(pgPlan.message);
  let chromium = planChromium({ env, uid, defaultPath: defaultChromium });
  if (chromium.kind === 'install') {
    if (problems.length) {
      problems.push(`Chromium is missing at ${chromium.path}; once PostgreSQL answers, \`npm test\` installs it (apt-get install chromium).`);
    } else {
      log(`test prerequisites: Chromium is missing at ${chromium.path}; installing Debian's chromium (apt-get, as root)…`);
      for (const [cmd, args] of chromium.commands) {
        const code = run(cmd, args);
        if (code !== 0) {
          problems.push(`Installing Chromium failed (${cmd} ${args.join(' ')} exited ${code}). Run: apt-get update && apt-get install -y chromium`);
          break;
        }
      }
      chromium = problems.length ? chromium : planChromium({ env, uid, defaultPath: defaultChromium });
      if (!problems.length && chromium.kind !== 'ok') problems.push(`Chromium is still missing at ${defaultChromium} after apt-get install chromium.`);
    }
  } else if (chromium.kind === 'stop') {
    problems.push(chromium.message);
  }
  if (problems.length) {
    error(`npm test stopped before running the tests: the machine lacks what they need.\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    return 1;
  }
  log(`test prerequisites: ${pgPlan.version} at ${safeUrl(pgPlan.url)}, Chromium at ${chromium.path}`);
  return 0;
}

function runCommand(cmd, args) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  return r.status ?? 1;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.exitCode = await main();
}
