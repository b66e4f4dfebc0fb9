/**
 * Canvas engine benchmark on PostgreSQL (a fresh database).
 *
 *   flock /tmp/rivulet-heavy.lock npx tsx bench/canvas.ts [--users 1000000] [--rate 10000] [--workers 4] [--baseline 100000] [--mode batch|single]
 *   flock /tmp/rivulet-heavy.lock npx tsx bench/canvas.ts --crash [--users 100000] [--due 10000]
 *
 * Users enter a three-step Canvas (Delay → Experiment Paths → Delay) through the engine's own entry
 * path (entries/s). Their first Delay is then spread so that `--rate` users fall due per second,
 * and `--workers` in-process workers claim due entries with leases and run them: each claim makes
 * three transitions (the Delay ends, the split with its SplitEntry event, the next Delay starts).
 * Reported: entries/s, transitions/s, p50/p99 lateness of due timers (commit of the first transition
 * − due time), peak RSS with every user waiting, and beside it a baseline: the same number of
 * transitions as plain single-row UPDATEs at the same concurrency, in the same run.
 * Goals (issue 19): ≥ 20,000 transitions/s, p99 lateness < 1 s, RSS < 300 MB.
 * The server is `RIVULET_BENCH_PG_URL` (default: the test server).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { checkCanvasBody, CanvasWorker, type EngineDeps } from '../src/canvases/index.js';
import { createCanvas, getCanvas, setCanvasState, claimDue, versionDefinition } from '../src/canvases/store.js';
import { enterUsers, runEntries, runEntry } from '../src/canvases/engine.js';
import { createUsers } from '../src/identity/index.js';
import { migrate, openPostgres } from '../src/storage/index.js';
import { createTestDatabaseUrl } from '../src/test-support/db.js';
import { ensureWorkspace } from '../src/workspaces/index.js';
import { checkDrill, doneCount, seedDrill } from '../test/canvas-crash-drill.js';
import { serve, type ServeProcess } from '../test/cli-process.js';
import { waitFor } from '../test/currents-support.js';

process.env.RIVULET_TEST_PG_URL ??= process.env.RIVULET_BENCH_PG_URL;
const args = process.argv.slice(2);
const opt = (name: string, fallback: number) => {
  const at = args.indexOf(`--${name}`);
  return at >= 0 && args[at + 1] ? Number(args[at + 1]) : fallback;
};
const USERS = opt('users', 1_000_000);
const RATE = opt('rate', 10_000);
const WORKERS = opt('workers', 4);
const BASELINE = Math.min(USERS, opt('baseline', 100_000));
const BATCH = 5000;
const MODE = args.includes('--mode') ? args[args.indexOf('--mode') + 1] : 'batch';
if (MODE !== 'batch' && MODE !== 'single') throw new Error('--mode is batch or single');
const log = (line: string) => process.stdout.write(`${line}\n`);
const percentile = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? NaN;
const rssMiB = () => process.resourceUsage().maxRSS / 1024;

if (args.includes('--crash')) {
  await crashDrill();
  process.exit(0);
}

/**
 * `--crash`: the acceptance drill on real processes (test/canvas-crash-drill.ts): `--users` waiting
 * (default 100,000), `--due` of them (default 10,000) due within the next second; `rivulet serve`
 * is killed with SIGKILL once the first due users are through, a second one takes over, and the
 * rows and the log are counted.
 */
async function crashDrill(): Promise<void> {
  const users = opt('users', 100_000);
  const dueCount = opt('due', 10_000);
  const { url: dbUrl, drop: dropDb } = await createTestDatabaseUrl();
  const pg = openPostgres({ connectionString: dbUrl, maxConnections: 4, applicationName: 'bench-canvas-crash' });
  const dataDir = await mkdtemp(join(tmpdir(), 'rivulet-canvas-crash-bench-'));
  const env = { RIVULET_DATA_DIR: dataDir, DATABASE_URL: dbUrl, LOG_LEVEL: 'warn', RIVULET_SEND_POLL_MS: '50', RIVULET_SEND_LEASE_MS: '2000' };
  const procs: ServeProcess[] = [];
  try {
    log(`canvas crash drill: ${users} waiting, ${dueCount} due within 1 s; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
    procs.push(await serve(env));
    let t = performance.now();
    // Due from 1 s after the seeding ends: the seeding itself takes a while, so due times start after it.
    const seedStart = Date.now();
    const drill = await seedDrill(pg, { users, due: dueCount, startAt: seedStart + 600_000, spreadMs: 1000 });
    log(`seeded in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    const startAt = Date.now() + 1000;
    await pg.query(`UPDATE canvas_entries SET due_at = due_at - make_interval(secs => $2::float8 / 1000) WHERE canvas_id = $1 AND due_at < to_timestamp($3::float8 / 1000 + 3600)`, [
      drill.canvasId,
      seedStart + 600_000 - startAt,
      seedStart,
    ]);
    t = performance.now();
    await waitFor(async () => (await doneCount(pg, drill)) > 0, 'the first due users', 120_000, 20);
    procs[0]!.child.kill('SIGKILL');
    await procs[0]!.exited;
    const atKill = await doneCount(pg, drill);
    log(`killed with ${atKill} of ${dueCount} done (${((performance.now() - t) / 1000).toFixed(1)} s after the first was due)`);
    t = performance.now();
    procs.push(await serve(env));
    await waitFor(async () => (await doneCount(pg, drill)) >= dueCount, 'every due user after the restart', 600_000, 200);
    log(`restart to all ${dueCount} done: ${((performance.now() - t) / 1000).toFixed(1)} s (the dead process's leases end after 2 s)`);
    await new Promise((r) => setTimeout(r, 2000));
    const problems = await checkDrill(pg, drill);
    log(problems.length ? `PROBLEMS: ${problems.join('; ')}` : `exactly once: ${dueCount} advanced once each, none early, none lost, ${users - dueCount} not due untouched`);
  } finally {
    for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL');
    await Promise.all(procs.map((p) => p.exited));
    await pg.close();
    await dropDb();
    await rm(dataDir, { recursive: true, force: true });
  }
}

const { url, drop } = await createTestDatabaseUrl();
const db = openPostgres({ connectionString: url, maxConnections: WORKERS * 4 + 4, applicationName: 'bench-canvas' });
try {
  await migrate(db);
  const ws = (await ensureWorkspace(db, 'default')).id;
  const checked = checkCanvasBody({
    name: 'Bench',
    entry: { type: 'api' },
    from: { address: 'bench@rivulet.test' },
    steps: [
      { id: 'd1', type: 'delay', delay: { seconds: 60 }, next: 'x' },
      { id: 'x', type: 'experiment_paths', paths: [{ id: 'a', name: 'A', percent: 50, next: 'd2' }, { id: 'b', name: 'B', percent: 50, next: 'd2' }] },
      { id: 'd2', type: 'delay', delay: { seconds: 86_400 }, next: null },
    ],
  });
  if (!checked.input) throw new Error(JSON.stringify(checked.problems));
  const canvasId = await db.transaction((tx) => createCanvas(tx, ws, checked.input!));
  await setCanvasState(db, canvasId, 'active');
  const canvas = (await getCanvas(db, ws, canvasId))!;

  log(`canvas benchmark: ${USERS} users, ${RATE} due/s, ${WORKERS} workers, ${MODE} transitions; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  // Users are made and entered 5,000 at a time (the engine's entry path: rows + Entry events);
  // nothing keeps a million ids in memory.
  let t = performance.now();
  let entrySeconds = 0;
  const start = Date.now();
  for (let i = 0; i < USERS; i += BATCH) {
    const users = await db.transaction((tx) => createUsers(tx, ws, Array.from({ length: Math.min(BATCH, USERS - i) }, (_, j) => ({ externalId: `u${i + j}` }))));
    const e0 = performance.now();
    await db.transaction((tx) => enterUsers(tx, canvas, users, 'bench', () => ({}), start));
    entrySeconds += (performance.now() - e0) / 1000;
  }
  log(`users created and entered in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  log(`entries: ${USERS} in ${entrySeconds.toFixed(1)} s = ${Math.round(USERS / entrySeconds)} entries/s`);

  const deps: EngineDeps = {
    db,
    now: Date.now,
    smtp: { url: 'smtp://127.0.0.1:9' },
    sendEmail: async () => ({ kind: 'delivered', response: '250' }),
    publicUrl: 'http://127.0.0.1',
    trackingSecret: () => Buffer.alloc(32),
    members: async () => {
      throw new Error('no segments in this benchmark');
    },
    definition: (() => {
      const cache = new Map<string, Awaited<ReturnType<typeof versionDefinition>>>();
      return async (c: string, v: number) => {
        const k = `${c}:${v}`;
        if (!cache.has(k)) cache.set(k, await versionDefinition(db, c, v));
        return cache.get(k);
      };
    })(),
    canvasName: async () => 'Bench',
  };
  // Everyone moves into the first Delay (not timed: that is entry work).
  const mover = new CanvasWorker(deps, { pollMs: 60_000, leaseMs: 60_000, concurrency: 16, batch: 2000 }, (e) => console.error(e), false);
  await mover.tick();
  // Spread the Delay's end: RATE users due per second, from 5 s from now.
  const t0 = Date.now() + 5000;
  await db.query(
    `UPDATE canvas_entries e SET due_at = to_timestamp(($2::float8 + (r.n / $3::float8) * 1000) / 1000)
       FROM (SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM canvas_entries WHERE canvas_id = $1) r WHERE e.id = r.id`,
    [canvasId, t0, RATE],
  );
  await db.query('VACUUM ANALYZE canvas_entries');
  log(`RSS with ${USERS} users waiting: ${(process.memoryUsage().rss / 1048576).toFixed(0)} MiB now (heap ${(process.memoryUsage().heapUsed / 1048576).toFixed(0)} MiB), peak so far ${rssMiB().toFixed(0)} MiB`);

  const lateness: number[] = [];
  let claims = 0;
  const runWorker = async (owner: string) => {
    const lastDue = t0 + (USERS / RATE) * 1000;
    while (claims < USERS) {
      const rows = await claimDue(db, owner, Date.now(), 1000, 60_000);
      if (!rows.length) {
        if (Date.now() > lastDue + 60_000) return;
        await new Promise((r) => setTimeout(r, 20));
        continue;
      }
      if (MODE === 'batch') {
        // The worker's path: users per batch, final transitions in one statement.
        await runEntries(deps, owner, rows, 16, (e) => console.error(e));
        const done = Date.now();
        for (const row of rows) lateness.push(done - row.due_at.getTime());
        claims += rows.length;
        continue;
      }
      // --mode single: each entry commits its own transaction (the engine before batching).
      let next = 0;
      const lane = async () => {
        while (next < rows.length) {
          const row = rows[next++]!;
          const due = row.due_at.getTime();
          await runEntry(deps, owner, row);
          lateness.push(Date.now() - due);
          claims++;
        }
      };
      await Promise.all(Array.from({ length: 16 }, lane));
    }
  };
  t = performance.now();
  await Promise.all(Array.from({ length: WORKERS }, (_, i) => runWorker(`bench-${i}`)));
  const runSeconds = (performance.now() - t) / 1000 - 5;
  const transitions = claims * 3;
  log(`transitions: ${transitions} in ${runSeconds.toFixed(1)} s (offered ${RATE} due/s) = ${Math.round(transitions / runSeconds)} transitions/s`);
  log(`timer lateness: p50 ${percentile(lateness, 50).toFixed(0)} ms, p99 ${percentile(lateness, 99).toFixed(0)} ms, max ${Math.max(...lateness).toFixed(0)} ms`);

  // Baseline: the same kind of row change as plain single-row UPDATEs, same concurrency.
  const { rows: entryIds } = await db.query<{ id: string }>(`SELECT id FROM canvas_entries WHERE canvas_id = $1 ORDER BY id LIMIT $2`, [canvasId, BASELINE]);
  let k = 0;
  t = performance.now();
  await Promise.all(
    Array.from({ length: WORKERS * 16 }, async () => {
      while (k < entryIds.length) {
        const id = entryIds[k++]!.id;
        await db.query(`UPDATE canvas_entries SET step_id = 'd2', visits = visits + 1, due_at = now() + interval '1 day' WHERE id = $1`, [id]);
      }
    }),
  );
  const baseSeconds = (performance.now() - t) / 1000;
  log(`baseline: ${entryIds.length} plain UPDATEs in ${baseSeconds.toFixed(1)} s = ${Math.round(entryIds.length / baseSeconds)} updates/s`);
  log(`peak RSS: ${rssMiB().toFixed(0)} MiB; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
} finally {
  await db.close();
  await drop();
}
