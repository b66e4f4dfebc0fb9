/**
 * Throughput of the Currents export from the event log to Mixpanel's `/import` (the emulator), on
 * PostgreSQL, beside the `mixpanel-import` npm package sending the same events to the same emulator
 * in the same run, as a ratio; and the exporter's peak RSS.
 *
 *   npx tsx bench/currents-export.ts [--events=5000000] [--in-flight=8] [--baseline-workers=N]
 *                                    [--targets=sink,emulator] [--skip-baseline] [--tsx] [--emulator-records]
 *                                    [--rounds=1] [--baseline-rounds=N] [--compare=/path/to/other/tree] [--pg-url=postgres://postgres@127.0.0.1:5432/test]
 *
 * Processes, so that each figure is its own: this driver (seeds a throw-away database, writes the
 * baseline's input file, verifies, prints), the emulator, a null sink (an HTTP server that inflates
 * each body, counts its events and answers 200 at once: what a sender can do when the receiver costs
 * nothing), the exporter (the real delivery engine — LiveExport — over a connector with every event
 * type selected: gzip, 2,000-event batches; its peak RSS is the kernel's maxRSS when it ends) and the
 * baseline (`mixpanel-import` streaming the same Mixpanel events from NDJSON, with its own defaults).
 * The children run compiled JavaScript, as `rivulet serve` does from dist/ (build cache under
 * node_modules/.cache/rivulet-bench); `--tsx` runs them through tsx instead (about 70 MB more RSS).
 *
 * `mixpanel-import` has no option for another host: its undici pool is bound to api.mixpanel.com.
 * The baseline process therefore subclasses undici's `Pool` before loading it, so that a pool made
 * for a *.mixpanel.com origin connects to the target instead. Nothing else of it is touched.
 *
 * Every emulator run is verified: its deduplicated view must hold every event afterwards. The
 * emulator keeps counts and dedup keys but not the records (`retainRecords: false`), so that its
 * heap of millions of strings does not slow both senders alike; `--emulator-records` keeps them.
 *
 * `--rounds=N` runs the exporter and the baseline N times each, alternating, over the same seeded
 * log (a fresh connector from the start of the log each time), and prints the range.
 * `--baseline-rounds=N` runs the baseline in the first N rounds only (it is the slow part).
 *
 * `--compare=<dir>`: an A/B in the same window over the same seeded log. `<dir>` is another checkout
 * of Rivulet (e.g. `git worktree add /tmp/wt-old <commit>` with node_modules linked); its exporter
 * and emulator (compiled from that tree) run before this tree's in every round, to their own emulator
 * (the baseline runs against this tree's only). Its figures are printed as `[compare]`.
 *
 * The exporter runs with 8 requests in flight by default (a connector's default is 4, its maximum
 * 20; Mixpanel suggests 10–20 concurrent clients); mixpanel-import with its own default of 50 workers.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { machineTicks, postgresCpuMs, procCpuMs } from './proc-cpu.js';
import { printConditions } from './conditions.js';

const SELF = fileURLToPath(import.meta.url);
const ROOT = fileURLToPath(new URL('..', import.meta.url));

function arg(name: string, fallback?: string): string | undefined {
  const hit = process.argv.find((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  if (!hit) return fallback;
  return hit.includes('=') ? hit.slice(hit.indexOf('=') + 1) : 'true';
}

const PROJECT_OURS = { id: '900001', username: 'bench-ours.sa', secret: 'bench-ours-secret', token: 'bench-ours-token' };
const PROJECT_BASE = { id: '900002', username: 'bench-base.sa', secret: 'bench-base-secret', token: 'bench-base-token' };

// ---------------------------------------------------------------------------------------------
// Child: the emulator
// ---------------------------------------------------------------------------------------------

async function runEmulator(): Promise<void> {
  const { startMixpanelEmulator } = await import('../src/emulator/mixpanel/index.js');
  const running = await startMixpanelEmulator({
    // Counts and dedup keys only, unless asked: millions of retained records would make the
    // emulator's garbage collector, not the senders, the thing measured.
    retainRecords: process.env.BENCH_EMULATOR_RECORDS === '1',
    projects: [PROJECT_OURS, PROJECT_BASE].map((p) => ({
      id: p.id,
      token: p.token,
      serviceAccounts: [{ username: p.username, secret: p.secret, role: 'owner' as const }],
    })),
  });
  process.stdout.write(`${running.url}\n`);
  process.on('SIGTERM', () => void running.close().then(() => process.exit(0)));
}

// ---------------------------------------------------------------------------------------------
// Child: the null sink
// ---------------------------------------------------------------------------------------------

async function runSink(): Promise<void> {
  const { createServer } = await import('node:http');
  const { gunzip } = await import('node:zlib');
  const { promisify } = await import('node:util');
  const inflate = promisify(gunzip);
  const marker = Buffer.from('{"event":');
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      void (req.headers['content-encoding'] === 'gzip' ? inflate(body) : Promise.resolve(body)).then((raw) => {
        let n = 0;
        for (let at = raw.indexOf(marker); at >= 0; at = raw.indexOf(marker, at + marker.length)) n++;
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ code: 200, num_records_imported: n, status: 'OK' }));
      });
    });
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () => process.stdout.write(`http://127.0.0.1:${(server.address() as { port: number }).port}\n`));
  process.on('SIGTERM', () => server.close(() => process.exit(0)));
}

// ---------------------------------------------------------------------------------------------
// Child: the exporter (the real delivery engine)
// ---------------------------------------------------------------------------------------------

async function runExporter(): Promise<void> {
  const { openPostgres } = await import('../src/storage/index.js');
  const { SecretBox } = await import('../src/secrets/index.js');
  const { createConnector, getConnector, parseMixpanelExportInput, LiveExport, loadCurrentsConfig } = await import('../src/currents/index.js');
  const { claimLease, releaseLease } = await import('../src/currents/delivery/checkpoint.js');
  const { SELECTABLE_EVENT_TYPES } = await import('../src/events/catalogue.js');
  const events = Number(process.env.BENCH_EVENTS);
  const db = openPostgres({ connectionString: process.env.BENCH_DB_URL!, maxConnections: 4 });
  const box = SecretBox.fromString(randomBytes(32).toString('hex'));
  const ws = (await db.query<{ id: string }>("SELECT id FROM workspaces WHERE name = 'default'")).rows[0]!.id;
  const input = parseMixpanelExportInput({
    name: `bench ${process.env.BENCH_TARGET_NAME}`,
    contact_email: 'bench@example.com',
    credentials: { kind: 'service_account', username: PROJECT_OURS.username, secret: PROJECT_OURS.secret, project_id: PROJECT_OURS.id },
    project_token: PROJECT_OURS.token,
    event_types: SELECTABLE_EVENT_TYPES,
    base_url: process.env.BENCH_TARGET_URL,
    max_in_flight: Number(process.env.BENCH_IN_FLIGHT),
    start_from: 'earliest',
  });
  const created = await createConnector(db, box, ws, input);
  const owner = `bench-${process.pid}`;
  if (!(await claimLease(db, created.id, owner, 3_600_000))) throw new Error('no lease');
  const connector = (await getConnector(db, created.id))!;
  const config = { ...loadCurrentsConfig({}), ...(process.env.BENCH_PAGE_SIZE ? { pageSize: Number(process.env.BENCH_PAGE_SIZE) } : {}) };
  const live = new LiveExport({
    db,
    connector,
    secrets: input.secrets,
    config,
    owner,
    log: { info() {}, warn: (o, m) => console.error(m, JSON.stringify(o)), error: (o, m) => console.error(m, JSON.stringify(o)) },
  });
  const peak = { rss: 0, heapTotal: 0, heapUsed: 0, external: 0, arrayBuffers: 0 };
  const startRssMb = process.memoryUsage().rss / 1048576;
  let peakInFlight = 0;
  const started = performance.now();
  const running = live.start();
  for (;;) {
    await new Promise((r) => setTimeout(r, 100));
    peakInFlight = Math.max(peakInFlight, live.inFlightEvents);
    const m = process.memoryUsage();
    for (const k of Object.keys(peak) as Array<keyof typeof peak>) peak[k] = Math.max(peak[k], m[k] / 1048576);
    const { rows } = await db.query<{ n: number }>("SELECT coalesce(sum(count), 0)::int8 AS n FROM currents_counters WHERE connector_id = $1 AND outcome = 'sent'", [
      created.id,
    ]);
    if (rows[0]!.n >= events) break;
  }
  const ms = performance.now() - started;
  const cpu = process.cpuUsage();
  await live.stop();
  await running;
  await releaseLease(db, created.id, owner);
  await db.query('DELETE FROM currents_connectors WHERE id = $1', [created.id]);
  await db.close();
  process.stdout.write(
    `${JSON.stringify({ ms, maxRssMb: process.resourceUsage().maxRSS / 1024, startRssMb, peakMb: peak, peakInFlight, cpuMs: (cpu.user + cpu.system) / 1000 })}\n`,
  );
}

// ---------------------------------------------------------------------------------------------
// Child: the baseline (mixpanel-import, pointed at the target)
// ---------------------------------------------------------------------------------------------

async function runBaseline(): Promise<void> {
  const require = createRequire(import.meta.url);
  const target = new URL(process.env.BENCH_TARGET_URL!);
  const undici = require('undici') as { Pool: new (origin: string | URL, opts?: object) => object };
  const Original = undici.Pool;
  undici.Pool = class extends (Original as new (origin: string | URL, opts?: object) => object) {
    constructor(origin: string | URL, opts?: object) {
      super(/(^|\.)mixpanel\.com(:\d+)?$/.test(new URL(String(origin)).host) ? target.origin : origin, opts);
    }
  };
  const mpImport = require('mixpanel-import') as (creds: object, data: unknown, opts: object) => Promise<Record<string, unknown>>;
  const workers = process.env.BENCH_BASELINE_WORKERS ? Number(process.env.BENCH_BASELINE_WORKERS) : undefined;
  const started = performance.now();
  const result = await mpImport(
    { acct: PROJECT_BASE.username, pass: PROJECT_BASE.secret, project: PROJECT_BASE.id },
    process.env.BENCH_FILE!,
    { recordType: 'event', streamFormat: 'jsonl', compress: true, strict: true, verbose: false, showProgress: false, logs: false, ...(workers ? { workers } : {}) },
  );
  const ms = performance.now() - started;
  const cpu = process.cpuUsage();
  process.stdout.write(
    `${JSON.stringify({ ms, success: result['success'], failed: result['failed'], requests: result['requests'], retries: result['retries'], workers: workers ?? 'default (50)', maxRssMb: process.resourceUsage().maxRSS / 1024, cpuMs: (cpu.user + cpu.system) / 1000 })}\n`,
  );
  process.exit(0);
}

// ---------------------------------------------------------------------------------------------
// Driver
// ---------------------------------------------------------------------------------------------

/**
 * The build cache of a tree: under its node_modules (so the compiled files find the packages), one
 * directory per tree, so that an A/B's two trees (whose node_modules may be one directory) do not
 * overwrite each other.
 */
function buildDir(root: string): string {
  return join(root, 'node_modules', '.cache', `rivulet-bench-${createHash('sha1').update(resolve(root)).digest('hex').slice(0, 8)}`);
}
let useTsx = false;

/** Compiles a tree's src/ and bench/ once into its build cache, so the children run plain JavaScript. */
async function build(root = ROOT): Promise<void> {
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const out = buildDir(root);
  const proc = spawn(process.execPath, [tsc, '-p', 'tsconfig.json', '--outDir', out, '--noEmit', 'false', '--sourceMap', 'false'], { cwd: root, stdio: 'ignore' });
  await new Promise((r) => proc.once('exit', r));
  await writeFile(join(out, 'package.json'), '{"type":"module"}\n');
}

function child(
  role: string,
  env: Record<string, string>,
  nodeArgs: string[] = [],
  root = ROOT,
): { proc: ChildProcess; firstLine: Promise<string>; done: Promise<number | null> } {
  const entry = useTsx && root === ROOT ? ['--import', 'tsx', SELF] : [join(buildDir(root), 'bench', 'currents-export.js')];
  const proc = spawn(process.execPath, [...nodeArgs, ...entry, `--role=${role}`], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: proc.stdout! });
  const firstLine = new Promise<string>((resolve, reject) => {
    lines.once('line', resolve);
    proc.once('exit', (code) => reject(new Error(`${role} exited with ${code} before answering`)));
  });
  const done = new Promise<number | null>((r) => proc.once('exit', r));
  return { proc, firstLine, done };
}

async function seed(db: pg.Client, events: number): Promise<void> {
  const chunk = 250_000;
  const now = Math.floor(Date.now() / 1000);
  for (let from = 1; from <= events; from += chunk) {
    const to = Math.min(events, from + chunk - 1);
    await db.query(
      // Batches of 500 events, as /users/track groups write them (see migration 011).
      `INSERT INTO event_batches (workspace_id, count, min_time, max_time, events)
       SELECT $1::uuid, count(*), min(time), max(time), json_agg(body ORDER BY i) FROM (
       SELECT i, e.time,
              jsonb_build_object('event_type', e.type, 'id', e.id, 'time', e.time,
                'user', jsonb_build_object('user_id', e.uid, 'external_user_id', e.ext),
                'properties', CASE
                  WHEN e.type = 'users.behaviors.CustomEvent' THEN jsonb_build_object('app_id', 'bench-app', 'name', 'level_complete', 'app_group_id', $5::text,
                    'custom_properties', jsonb_build_object('level', i % 50, 'score', i % 1000, 'mode', 'ranked', 'tags', jsonb_build_array('a', 'b')))
                  WHEN e.type = 'users.behaviors.Purchase' THEN jsonb_build_object('app_id', 'bench-app', 'product_id', 'sku-' || (i % 97), 'price', (i % 100) + 0.99,
                    'currency', 'USD', 'app_group_id', $5::text, 'purchase_properties', jsonb_build_object('coupon', 'SPRING'))
                  ELSE jsonb_build_object('email_address', 'user' || (i % 100000) || '@example.com', 'campaign_id', 'c' || (i % 20),
                    'campaign_name', 'Spring sale', 'send_id', 's' || i, 'dispatch_id', 'd' || (i % 1000))
                END) AS body
         FROM generate_series($2::int, $3::int) AS i,
              LATERAL (SELECT md5('bench' || i)::uuid::text AS id,
                              CASE WHEN i % 10 < 7 THEN 'users.behaviors.CustomEvent' WHEN i % 10 < 9 THEN 'users.behaviors.Purchase' ELSE 'users.messages.email.Open' END AS type,
                              $4::bigint - (i % 345600) AS time,
                              md5('user' || (i % 100000))::uuid AS uid,
                              'user-' || (i % 100000) AS ext) AS e) AS events(i, time, body)
        GROUP BY (i - 1) / 500 ORDER BY (i - 1) / 500`,
      [await workspaceId(db), from, to, now - 60, await workspaceId(db)],
    );
    process.stderr.write(`\rseeded ${to.toLocaleString('en-US')}/${events.toLocaleString('en-US')} events`);
  }
  process.stderr.write('\n');
}

let cachedWs: string | undefined;
async function workspaceId(db: pg.Client): Promise<string> {
  cachedWs ??= (await db.query<{ id: string }>("SELECT id FROM workspaces WHERE name = 'default'")).rows[0]!.id;
  return cachedWs;
}

async function writeBaselineInput(dbUrl: string, file: string): Promise<void> {
  const { openPostgres } = await import('../src/storage/index.js');
  const { mapCurrentsEvent } = await import('../src/currents/mixpanel/mapping.js');
  const { SELECTABLE_EVENT_TYPES } = await import('../src/events/catalogue.js');
  const db = openPostgres({ connectionString: dbUrl, maxConnections: 1 });
  const out = createWriteStream(file);
  const settings = { selectedTypes: new Set(SELECTABLE_EVENT_TYPES), token: PROJECT_BASE.token };
  const { readLogPage, LOG_START } = await import('../src/events/log.js');
  let last = LOG_START;
  for (;;) {
    const page = await readLogPage(db, last, 20000);
    if (page.scanned === 0) break;
    let chunk = '';
    for (const e of page.events) {
      const m = mapCurrentsEvent(e, settings);
      if (m.outcome === 'send') chunk += `${JSON.stringify(m.event)}\n`;
    }
    if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
    last = page.end;
  }
  await new Promise<void>((r) => out.end(() => r()));
  await db.close();
}

async function emulatorCount(url: string, project: string): Promise<{ dedup: number; raw: number }> {
  const stats = (await (await fetch(`${url}/_emulator/stats`)).json()) as { projects: Record<string, { events: { dedup: number; raw: number } }> };
  return stats.projects[project]!.events;
}

// ---------------------------------------------------------------------------------------------
// Where the CPU went (Linux /proc; figures are left out elsewhere). On a shared 2-core machine the
// exporter, the emulator and PostgreSQL compete for the same cores: these say which one was busy.
// ---------------------------------------------------------------------------------------------


interface CpuMark {
  emulator: number | null;
  postgres: number | null;
  machine: { busy: number; total: number } | null;
}

function cpuMark(emulatorPid: number | undefined): CpuMark {
  return { emulator: emulatorPid === undefined ? null : procCpuMs(emulatorPid), postgres: postgresCpuMs(), machine: machineTicks() };
}

/** "CPU per event: …" between two marks, beside the sender's own CPU. */
function cpuLine(from: CpuMark, to: CpuMark, events: number, senderCpuMs: number, target: string): string {
  const perEvent = (ms: number) => `${((ms * 1000) / events).toFixed(1)} µs`;
  const parts = [`sender ${perEvent(senderCpuMs)}`];
  if (from.emulator !== null && to.emulator !== null) parts.push(`${target} ${perEvent(to.emulator - from.emulator)}`);
  if (from.postgres !== null && to.postgres !== null) parts.push(`PostgreSQL (every backend) ${perEvent(to.postgres - from.postgres)}`);
  let line = `CPU per event: ${parts.join(', ')}`;
  if (from.machine && to.machine && to.machine.total > from.machine.total) {
    line += `; machine busy ${(((to.machine.busy - from.machine.busy) / (to.machine.total - from.machine.total)) * 100).toFixed(0)}% of ${cpus().length} cores`;
  }
  return line;
}

interface SenderRun {
  ms: number;
  maxRssMb: number;
  cpuMs: number;
  [k: string]: unknown;
}

async function main(): Promise<void> {
  const events = Number(arg('events', process.env.BENCH_EVENTS ?? '5000000'));
  const inFlight = Number(arg('in-flight', '8'));
  const targets = (arg('targets', 'sink,emulator') ?? '').split(',').filter(Boolean);
  const skipBaseline = arg('skip-baseline') === 'true';
  const baselineWorkers = arg('baseline-workers');
  const rounds = Math.max(1, Number(arg('rounds', '1')));
  const compare = arg('compare');
  const baselineRounds = Number(arg('baseline-rounds', String(rounds)));
  useTsx = arg('tsx') === 'true';
  const adminUrl = arg('pg-url', process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test')!;
  const name = `rivulet_bench_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  admin.on('error', () => {});
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const dbUrl = new URL(adminUrl);
  dbUrl.pathname = `/${name}`;
  const dir = await mkdtemp(join(tmpdir(), 'rivulet-bench-'));
  const servers: Array<ReturnType<typeof child>> = [];
  const results: string[] = [];
  const row = (label: string, rate: number, run: SenderRun, extra = '') =>
    `${label.padEnd(46)} ${Math.round(rate).toLocaleString('en-US').padStart(9)} events/s ${(run.ms / 1000).toFixed(1).padStart(7)} s  CPU ${(run.cpuMs / 1000).toFixed(1)} s  peak RSS ${run.maxRssMb.toFixed(0)} MB${extra}`;
  try {
    if (!useTsx) {
      console.error('compiling the children …');
      await build();
    }
    if (compare) {
      console.error(`compiling the children of ${compare} …`);
      await build(compare);
    }
    const { openPostgres, migrate } = await import('../src/storage/index.js');
    const { ensureWorkspace } = await import('../src/workspaces/index.js');
    const store = openPostgres({ connectionString: dbUrl.toString(), maxConnections: 2 });
    await migrate(store);
    await ensureWorkspace(store, 'default');
    await store.close();
    const db = new pg.Client({ connectionString: dbUrl.toString() });
    db.on('error', () => {});
    await db.connect();
    console.error(`seeding ${events.toLocaleString('en-US')} events into ${name} …`);
    await seed(db, events);
    await db.query('VACUUM ANALYZE event_batches');
    const { rows } = await db.query<{ bytes: string }>("SELECT pg_size_pretty(pg_total_relation_size('event_batches')) AS bytes");
    console.error(`event log: ${rows[0]!.bytes}`);
    await db.end();
    let file: string | undefined;
    if (!skipBaseline) {
      file = join(dir, 'events.jsonl');
      console.error('writing the same events as Mixpanel events (NDJSON) for mixpanel-import …');
      await writeBaselineInput(dbUrl.toString(), file);
    }

    const conditions = await printConditions({
      title: `the Currents export of ${events.toLocaleString('en-US')} events`,
      pgUrl: dbUrl.toString(),
      tables: ['event_batches'],
      settings: { in_flight: inFlight, targets: targets.join(','), rounds, baseline: !skipBaseline },
    });
    const oursOnEmulator: number[] = [];
    const baseOnEmulator: number[] = [];
    const oursRss: number[] = [];
    const compareRates: number[] = [];
    const compareRss: number[] = [];
    for (const target of targets) {
      // BENCH_PROFILE_DIR: CPU profiles of the receiver and the exporter (not of mixpanel-import).
      const profile = process.env.BENCH_PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}`] : [];
      const server =
        target === 'emulator'
          ? child('emulator', { BENCH_EMULATOR_RECORDS: arg('emulator-records') === 'true' ? '1' : '0' }, ['--max-old-space-size=20000', ...profile])
          : child('sink', {}, profile);
      servers.push(server);
      const url = (await server.firstLine).trim();
      console.error(`${target} at ${url}; the exporter sends with ${inFlight} requests in flight …`);
      let other: ReturnType<typeof child> | undefined;
      let otherUrl = '';
      if (compare) {
        other =
          target === 'emulator'
            ? child('emulator', { BENCH_EMULATOR_RECORDS: arg('emulator-records') === 'true' ? '1' : '0' }, ['--max-old-space-size=20000', ...profile], compare)
            : child('sink', {}, profile, compare);
        servers.push(other);
        otherUrl = (await other.firstLine).trim();
      }
      for (let round = 1; round <= rounds; round++) {
        const roundTag = rounds > 1 ? `[${round}/${rounds}] ` : '';
        if (other) {
          const before = cpuMark(other.proc.pid);
          const exporter = child(
            'exporter',
            { BENCH_DB_URL: dbUrl.toString(), BENCH_EVENTS: String(events), BENCH_TARGET_URL: otherUrl, BENCH_TARGET_NAME: target, BENCH_IN_FLIGHT: String(inFlight) },
            profile,
            compare,
          );
          const theirs = JSON.parse(await exporter.firstLine) as SenderRun & { peakMb: Record<string, number>; startRssMb: number; peakInFlight: number };
          await exporter.done;
          const cpu = cpuLine(before, cpuMark(other.proc.pid), events, theirs.cpuMs, target);
          const rate = (events * 1000) / theirs.ms;
          if (target === 'emulator') {
            const count = await emulatorCount(otherUrl, PROJECT_OURS.id);
            if (count.dedup !== events) throw new Error(`compared exporter: the emulator holds ${count.dedup} of ${events} events`);
            compareRates.push(rate);
            compareRss.push(theirs.maxRssMb);
            await fetch(`${otherUrl}/_emulator/reset`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
          }
          console.error(`  [compare] exporter: ${Math.round(rate).toLocaleString('en-US')} events/s`);
          results.push(row(`${roundTag}[compare] exporter → ${target}`, rate, theirs, target === 'emulator' ? '  (dedup view verified)' : ''));
          results.push(`  ${cpu}`);
        }
        const beforeOurs = cpuMark(server.proc.pid);
        const exporter = child('exporter', { BENCH_DB_URL: dbUrl.toString(), BENCH_EVENTS: String(events), BENCH_TARGET_URL: url, BENCH_TARGET_NAME: target, BENCH_IN_FLIGHT: String(inFlight) }, profile);
        const ours = JSON.parse(await exporter.firstLine) as SenderRun & { peakMb: Record<string, number>; startRssMb: number; peakInFlight: number };
        await exporter.done;
        const oursCpu = cpuLine(beforeOurs, cpuMark(server.proc.pid), events, ours.cpuMs, target);
        const oursRate = (events * 1000) / ours.ms;
        console.error(
          `  exporter: ${Math.round(oursRate).toLocaleString('en-US')} events/s; memory: RSS at start ${ours.startRssMb.toFixed(0)} MB, peaks (MB) ${JSON.stringify(Object.fromEntries(Object.entries(ours.peakMb).map(([k, v]) => [k, Math.round(v)])))}, peak events in flight ${ours.peakInFlight}`,
        );
        if (target === 'emulator') {
          const count = await emulatorCount(url, PROJECT_OURS.id);
          if (count.dedup !== events) throw new Error(`exporter: the emulator holds ${count.dedup} of ${events} events`);
          oursOnEmulator.push(oursRate);
          oursRss.push(ours.maxRssMb);
          // Free the emulator's memory before the baseline fills it again.
          await fetch(`${url}/_emulator/reset`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
        }
        results.push(row(`${roundTag}rivulet exporter → ${target} (${inFlight} in flight, gzip 1)`, oursRate, ours, target === 'emulator' ? '  (dedup view verified)' : ''));
        results.push(`  ${oursCpu}`);
        if (file && round <= baselineRounds) {
          console.error(`  ${roundTag}mixpanel-import → ${target} …`);
          const beforeBase = cpuMark(server.proc.pid);
          const baseline = child('baseline', { BENCH_TARGET_URL: url, BENCH_FILE: file, ...(baselineWorkers ? { BENCH_BASELINE_WORKERS: baselineWorkers } : {}) });
          const base = JSON.parse(await baseline.firstLine) as SenderRun & { requests: number; retries: number; workers: string };
          await baseline.done;
          const baseCpu = cpuLine(beforeBase, cpuMark(server.proc.pid), events, base.cpuMs, target);
          const baseRate = (events * 1000) / base.ms;
          if (target === 'emulator') {
            const count = await emulatorCount(url, PROJECT_BASE.id);
            if (count.dedup !== events) throw new Error(`mixpanel-import: the emulator holds ${count.dedup} of ${events} events`);
            baseOnEmulator.push(baseRate);
            await fetch(`${url}/_emulator/reset`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
          }
          results.push(row(`${roundTag}mixpanel-import → ${target} (workers ${base.workers}, gzip 6)`, baseRate, base, `  ${base.requests} requests, ${base.retries} retries`));
          results.push(`  ${baseCpu}`);
          results.push(`  ratio on ${target}: ${(oursRate / baseRate).toFixed(2)}×`);
        }
      }
      server.proc.kill('SIGTERM');
      await server.done;
    }

    console.log(`\nCurrents export, event log on PostgreSQL → /import, ${events.toLocaleString('en-US')} events (${cpus().length} CPUs, ${cpus()[0]?.model ?? ''})`);
    for (const line of results) console.log(line);
    conditions.end();
    if (oursOnEmulator.length > 0) {
      // With several rounds, a goal is met only if every round meets it; the range is printed.
      const range = (xs: number[], f: (x: number) => string) => (xs.length > 1 ? `${f(Math.min(...xs))}–${f(Math.max(...xs))}` : f(xs[0]!));
      const int = (x: number) => Math.round(x).toLocaleString('en-US');
      console.log(`goal 60,000 events/s to the emulator: ${Math.min(...oursOnEmulator) >= 60_000 ? 'met' : 'not met'} (${range(oursOnEmulator, int)})`);
      if (baseOnEmulator.length > 0) {
        const ratios = baseOnEmulator.map((b, i) => oursOnEmulator[i]! / b);
        console.log(`goal ≥ 1.5× mixpanel-import on the emulator: ${Math.min(...ratios) >= 1.5 ? 'met' : 'not met'} (${range(ratios, (x) => `${x.toFixed(2)}×`)})`);
      }
      console.log(`goal peak RSS under 300 MB: ${Math.max(...oursRss) < 300 ? 'met' : 'not met'} (${range(oursRss, (x) => `${x.toFixed(0)} MB`)})`);
      if (compareRates.length > 0) {
        console.log(
          `[compare] ${compare}: ${range(compareRates, int)} events/s, peak RSS ${range(compareRss, (x) => `${x.toFixed(0)} MB`)}; this tree ÷ compared: ${range(
            oursOnEmulator.map((r, i) => r / compareRates[i]!),
            (x) => `${x.toFixed(2)}×`,
          )}`,
        );
      }
    }
  } finally {
    for (const s of servers) if (s.proc.exitCode === null) s.proc.kill('SIGTERM');
    await rm(dir, { recursive: true, force: true });
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  }
}

const role = arg('role');
const run = role === 'emulator' ? runEmulator : role === 'sink' ? runSink : role === 'exporter' ? runExporter : role === 'baseline' ? runBaseline : main;
run().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
