/**
 * Runs the real `rivulet` command as a child process, for end-to-end tests.
 *
 * The command is built from source once per test process (esbuild, ~0.5 s) into one ES module
 * under test-results/cli/, with the packages left to node_modules, and each child runs it with
 * plain `node`. Running `node --import tsx src/cli/main.ts` instead costs about three times the CPU
 * per process (≈1.5 s against ≈0.5 s: tsx resolves and loads every source file through its loader
 * thread), which on a busy 2-core machine made the CLI tests the slowest of the suite.
 * `import.meta.url` keeps each source file's own URL, so the migrations and the dashboard are
 * found where they are. RIVULET_TEST_CLI=tsx runs the source through tsx as before.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { cp, mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { freePort } from '../src/test-support/net.js';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));

let built: Promise<string[]> | undefined;

/** The node arguments that run `rivulet` (before the command's own arguments). */
export function cliArgs(): Promise<string[]> {
  if (process.env.RIVULET_TEST_CLI === 'tsx') return Promise.resolve(['--import', 'tsx', 'src/cli/main.ts']);
  built ??= buildCli();
  return built;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function buildCli(): Promise<string[]> {
  const { build } = await import('esbuild');
  const dir = join(ROOT, 'test-results', 'cli');
  await mkdir(dir, { recursive: true });
  // Bundles of test processes that are gone (vitest may end a worker without its exit handlers).
  for (const f of await readdir(dir)) {
    const pid = Number(/^rivulet-(\d+)\.mjs(\.map)?$/.exec(f)?.[1]);
    if (pid && !alive(pid)) await rm(join(dir, f), { force: true });
  }
  const outfile = join(dir, `rivulet-${process.pid}.mjs`);
  await build({
    entryPoints: [join(ROOT, 'src/cli/main.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    sourcemap: 'linked',
    logLevel: 'warning',
    plugins: [
      {
        name: 'own-import-meta-url',
        setup(b) {
          b.onLoad({ filter: /\.ts$/ }, async (args) => ({
            contents: (await readFile(args.path, 'utf8')).replaceAll('import.meta.url', JSON.stringify(pathToFileURL(args.path).href)),
            loader: 'ts',
          }));
        },
      },
    ],
  });
  process.once('exit', () => {
    rmSync(outfile, { force: true });
    rmSync(`${outfile}.map`, { force: true });
  });
  return ['--enable-source-maps', outfile];
}

let migratedTemplate: Promise<string> | undefined;

/**
 * Gives the data dir `dir` an embedded store with every migration applied and nothing else (no
 * workspace, keys or deployment identity: the next start seeds them as a first start does), copied
 * from a template made once per test process with the real `rivulet migrate`. For tests about
 * something other than creating the store: each fresh store otherwise costs an initdb and every
 * migration inside WebAssembly (≈4.6 CPU-s on a quiet machine, far more on a busy one).
 */
export async function withMigratedStore(dir: string): Promise<string> {
  migratedTemplate ??= (async () => {
    const template = join(ROOT, 'test-results', `pglite-migrated-${process.pid}`);
    await rm(template, { recursive: true, force: true });
    const r = await runCli(['migrate'], { RIVULET_DATA_DIR: template, DATABASE_URL: '' });
    if (r.code !== 0) throw new Error(`rivulet migrate failed for the test template:\n${r.stderr}`);
    process.once('exit', () => rmSync(template, { recursive: true, force: true }));
    return template;
  })();
  await cp(join(await migratedTemplate, 'pglite'), join(dir, 'pglite'), { recursive: true });
  return dir;
}

export { freePort };

/**
 * V8 flag for the one-shot commands: WebAssembly compiled by the baseline compiler only. A command
 * on PGlite compiles PostgreSQL's WebAssembly afresh and exits within seconds, before optimised
 * code would pay for itself: it halves such a command's CPU (0.9 against 1.8 s; `migrate` on a new
 * data directory 3.0 against 4.4 s). Not for `serve`, which runs long enough to profit.
 */
const ONE_SHOT_FLAGS = ['--liftoff-only'];

/** Runs `rivulet <args>`; `stdin` is written to its stdin (then closed), else stdin is closed at once. */
export async function runCli(args: string[], env: Record<string, string>, stdin = ''): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const cli = await cliArgs();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...ONE_SHOT_FLAGS, ...cli, ...args], { cwd: ROOT, env: { ...process.env, LOG_LEVEL: 'warn', ...env } });
    child.stdin.end(stdin);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

export interface ServeProcess {
  child: ChildProcess;
  url: string;
  output: () => string;
  exited: Promise<number | null>;
}

/** Starts `rivulet serve` and resolves once `/readyz` answers 200. */
export async function serve(env: Record<string, string>): Promise<ServeProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, [...(await cliArgs()), 'serve'], { cwd: ROOT, env: { ...process.env, LOG_LEVEL: 'info', ...env, PORT: String(port) } });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`serve exited early:\n${out}`);
    try {
      const res = await fetch(`${url}/readyz`);
      if (res.status === 200) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`serve did not become ready:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { child, url, output: () => out, exited };
}
