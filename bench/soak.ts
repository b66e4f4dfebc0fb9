/**
 * Soak: a bounded mixed load against a real `rivulet serve` process, reporting throughput, p99
 * latency, errors and RSS over time, and failing (exit code 1) on a leak, a lost event or a 5xx.
 *
 *   flock /tmp/rivulet-heavy.lock npx tsx bench/soak.ts [--minutes=10 | --seconds=45]
 *       [--backend=postgres|pglite] [--interval=30] [--track-rps=40] [--events-per-request=25]
 *       [--cohort-rps=4] [--segment-rps=6] [--webhook-every=10] [--users=5000] [--max-rss-slope=2]
 *       [--min-rss-growth=48] [--catch-up-seconds=180]
 *
 * The mix, each paced to its rate by a few concurrent clients (keep-alive, loopback):
 * - `/users/track`: `--events-per-request` custom events (each with a unique `soak_seq`) plus two
 *   attribute updates (`plan`), over `--users` users;
 * - cohort pushes: the partner cohort API (`/partners/mixpanel/cohorts/users`), 200 identifiers a
 *   request, adding to or removing from one of three cohorts; and every `--webhook-every` seconds
 *   the emulator's webhook sender pushes a 1,500-member Mixpanel cohort (25 members swapped each
 *   time) to `/partners/mixpanel/webhook` (a run counts as one request; it must succeed);
 * - segment counts: `GET /admin/segments/{id}/count` of saved segments and
 *   `POST /admin/segments/preview-count` of a filter over cohorts and `plan`;
 * - a Currents export of the custom events to the Mixpanel emulator (in this process), running
 *   throughout.
 *
 * Every `--interval` seconds it prints a line: requests/s and p99 per kind, events exported/s and
 * the exporter's lag, errors so far, and the server's RSS (read from /proc) beside this process's.
 *
 * It fails when:
 * - any request answered 5xx, any other unexpected status, or a request failed on the network;
 * - an event acknowledged with a 2xx is not in the event log exactly once, or (all of them are
 *   exported types) not in the emulator's deduplicated view exactly once; or the dedup view holds
 *   an event the log does not (after the load stops, the export gets `--catch-up-seconds` to drain);
 * - the server leaks: the least-squares slope of its RSS over the second half of the run (the first
 *   half is warm-up) exceeds `--max-rss-slope` MiB/min AND the growth it projects over that half
 *   exceeds `--min-rss-growth` MiB. The second condition keeps a short run (CI) from failing on
 *   the noise of a few garbage collections; a 10-minute run is judged mostly by the slope.
 *
 * With `--backend=postgres` (default) the server gets a fresh database on the PostgreSQL at
 * RIVULET_TEST_PG_URL (default postgres://postgres@127.0.0.1:5432/test), dropped at the end; with
 * `--backend=pglite` an embedded store in a temporary directory.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Agent, request } from 'undici';
import { insertIdFor } from '../src/currents/mixpanel/insert-id.js';
import { openPglite, openPostgres, type Db } from '../src/storage/index.js';
import { createTestDatabaseUrl } from '../src/test-support/db.js';
import { freePort, ROOT } from '../test/cli-process.js';
import { connectorBody, projectCreds, startEmulator } from '../test/currents-support.js';
import { printConditions } from './conditions.js';

// ---------------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------------

function option(name: string, fallback: string): string {
  const hit = process.argv.find((a) => a.startsWith(`--${name}=`));
  return hit ? hit.slice(name.length + 3) : fallback;
}

const seconds = option('seconds', '') ? Number(option('seconds', '')) : Number(option('minutes', '10')) * 60;
const opts = {
  durationMs: seconds * 1000,
  backend: option('backend', 'postgres') as 'postgres' | 'pglite',
  intervalMs: Number(option('interval', String(Math.max(5, Math.min(30, Math.round(seconds / 10)))))) * 1000,
  trackRps: Number(option('track-rps', '40')),
  eventsPerRequest: Number(option('events-per-request', '25')),
  cohortRps: Number(option('cohort-rps', '4')),
  segmentRps: Number(option('segment-rps', '6')),
  webhookEverySeconds: Number(option('webhook-every', '10')),
  users: Number(option('users', '5000')),
  maxRssSlopeMiBPerMin: Number(option('max-rss-slope', '2')),
  minRssGrowthMiB: Number(option('min-rss-growth', '48')),
  catchUpMs: Number(option('catch-up-seconds', '180')) * 1000,
};
if (!(opts.durationMs > 0) || !['postgres', 'pglite'].includes(opts.backend)) {
  console.error('usage: npx tsx bench/soak.ts [--minutes=10 | --seconds=N] [--backend=postgres|pglite] …');
  process.exit(2);
}

const KEY = `soak-${randomBytes(16).toString('hex')}`;
const PARTNER_KEY = `pk_soak_${randomBytes(12).toString('hex')}`;
const PROJECT = projectCreds('8801');
const EXPORTED = ['users.behaviors.CustomEvent'];
const MiB = 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// The server process
// ---------------------------------------------------------------------------------------------

interface Server {
  child: ChildProcess;
  url: string;
  exited: Promise<number | null>;
  errorLines: () => string[];
}

async function startServer(env: Record<string, string>): Promise<Server> {
  const port = await freePort();
  // Node itself (not npx/npm) is the child, so its pid is the process whose RSS we read.
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve'], {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: 'warn', ...env, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Keep only warnings and errors worth reporting; the output is not retained whole (no leak here).
  const errors: string[] = [];
  let pending = '';
  const onData = (d: Buffer) => {
    pending += d.toString();
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      if (/"level":(50|60)/.test(line) && errors.length < 50) errors.push(line.slice(0, 2000));
    }
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`serve exited early (code ${child.exitCode})`);
    try {
      if ((await fetch(`${url}/readyz`)).status === 200) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error('serve did not become ready within 90 s');
    }
    await sleep(200);
  }
  return { child, url, exited, errorLines: () => errors };
}

async function rssOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  return m ? Number(m[1]) * 1024 : NaN;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// Measurements
// ---------------------------------------------------------------------------------------------

type Kind = 'track' | 'cohort' | 'webhook' | 'segment';
const KINDS: Kind[] = ['track', 'cohort', 'webhook', 'segment'];

class Stats {
  total = 0;
  ok = 0;
  statuses: Record<string, number> = {};
  all: number[] = [];
  window: number[] = [];
  windowStatuses: Record<string, number> = {};
  record(status: number | string, ms: number): void {
    this.total++;
    if (typeof status === 'number' && status >= 200 && status < 300) this.ok++;
    this.statuses[status] = (this.statuses[status] ?? 0) + 1;
    this.windowStatuses[status] = (this.windowStatuses[status] ?? 0) + 1;
    this.all.push(ms);
    this.window.push(ms);
  }
  takeWindow(): { count: number; p99: number } {
    const w = this.window;
    this.window = [];
    this.windowStatuses = {};
    return { count: w.length, p99: quantile(w, 0.99) };
  }
}

function quantile(values: number[], q: number): number {
  if (!values.length) return NaN;
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

/** Least-squares slope (y per x) of points. */
function slope(points: Array<[number, number]>): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

const fmtMs = (ms: number) => (Number.isFinite(ms) ? `${ms < 10 ? ms.toFixed(1) : ms.toFixed(0)} ms` : '—');
const fmtMiB = (b: number) => `${(b / MiB).toFixed(0)} MiB`;

// ---------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------

const failures: string[] = [];
const fail = (why: string) => {
  failures.push(why);
  console.log(`  FAIL  ${why}`);
};

const dataDir = await mkdtemp(join(tmpdir(), 'rivulet-soak-'));
let dropDb: () => Promise<void> = async () => {};
let databaseUrl = '';
if (opts.backend === 'postgres') {
  const created = await createTestDatabaseUrl();
  databaseUrl = created.url;
  dropDb = created.drop;
}
const mp = await startEmulator([PROJECT], { seed: 2026 });
const agent = new Agent({ connections: 32, keepAliveTimeout: 60_000 });
let server: Server | undefined;

/** A JSON request; `withKey: false` for the partner routes, which authenticate by their body. */
async function call(method: string, path: string, body?: unknown, withKey = true): Promise<{ status: number; body: any }> {
  const res = await request(server!.url + path, {
    method: method as 'POST',
    dispatcher: agent,
    headers: { ...(withKey ? { authorization: `Bearer ${KEY}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.body.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    /* keep the text */
  }
  return { status: res.statusCode, body: parsed };
}

async function must(method: string, path: string, body: unknown, expected: number): Promise<any> {
  const r = await call(method, path, body, !path.startsWith('/partners/'));
  if (r.status !== expected) throw new Error(`${method} ${path}: expected ${expected}, got ${r.status} ${JSON.stringify(r.body).slice(0, 500)}`);
  return r.body;
}

try {
  server = await startServer({
    RIVULET_DATA_DIR: dataDir,
    DATABASE_URL: databaseUrl,
    RIVULET_API_KEY: KEY,
    RIVULET_PARTNER_API_KEY_MIXPANEL: PARTNER_KEY,
    RIVULET_ADMIN_PASSWORD: `soak-admin-${randomBytes(8).toString('hex')}`,
  });
  const pid = server.child.pid!;
  console.log(
    `soak: ${(opts.durationMs / 1000).toFixed(0)} s on ${opts.backend}; /users/track ${opts.trackRps} req/s × ${opts.eventsPerRequest} events, ` +
      `cohort pushes ${opts.cohortRps}/s and a webhook run every ${opts.webhookEverySeconds} s, segment counts ${opts.segmentRps}/s, a Currents export to the emulator; ${opts.users} users; server pid ${pid}`,
  );

  // --- Setup: users, an import key, three cohorts, two saved segments, a connector. ---
  for (let i = 0; i < opts.users; i += 75) {
    const attributes = Array.from({ length: Math.min(75, opts.users - i) }, (_, j) => ({ external_id: `soak-${i + j}`, plan: (i + j) % 3 === 0 ? 'pro' : 'free' }));
    await must('POST', '/users/track', { attributes }, 201);
  }
  const importKey = (await must('POST', '/admin/import-keys', { partner: 'mixpanel' }, 201)).key as string;
  const cohortIds = ['soak-a', 'soak-b', 'soak-c'];
  for (const id of cohortIds) {
    await call('POST', '/partners/mixpanel/cohorts', { partner_api_key: PARTNER_KEY, client_secret: importKey, cohort_id: id, name: `Soak ${id}`, created_at: '2026-01-01T00:00:00Z' }, false).then((r) => {
      if (r.status >= 300) throw new Error(`cohort create: ${r.status} ${JSON.stringify(r.body)}`);
    });
    const ids = Array.from({ length: Math.floor(opts.users / 4) }, (_, j) => `soak-${(j * 4 + cohortIds.indexOf(id)) % opts.users}`);
    for (let i = 0; i < ids.length; i += 1000) {
      await must('POST', '/partners/mixpanel/cohorts/users', { partner_api_key: PARTNER_KEY, client_secret: importKey, cohort_id: id, cohort_changes: [{ user_ids: ids.slice(i, i + 1000) }] }, 201);
    }
  }
  // The emulator's webhook sender, pushing one Mixpanel cohort with the import key (HTTP Basic).
  const emu = async (method: string, path: string, body?: unknown): Promise<any> => {
    const res = await fetch(mp.url + path, { method, headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    if (res.status >= 300) throw new Error(`emulator ${method} ${path}: ${res.status} ${await res.text()}`);
    return res.json();
  };
  const WEBHOOK_COHORT = 501;
  const webhookMembers = new Set(Array.from({ length: 1500 }, (_, j) => `soak-${(j * 3 + 1) % opts.users}`));
  await emu('POST', '/_emulator/cohorts', { project_id: PROJECT.projectId, id: WEBHOOK_COHORT, name: 'Soak webhook', members: [...webhookMembers] });
  const sync = (
    await emu('POST', '/_emulator/webhook-syncs', {
      project_id: PROJECT.projectId,
      url: `${server.url}/partners/mixpanel/webhook`,
      username: 'mixpanel',
      password: importKey,
      cohort_ids: [WEBHOOK_COHORT],
      schedule: { every_seconds: 86_400 },
      start: false,
      retry_delays_ms: [100, 200, 400],
    })
  ).id as string;
  const first = await emu('POST', `/_emulator/webhook-syncs/${sync}/run`);
  if (first.status !== 'succeeded') throw new Error(`the first webhook run ${first.status}: ${JSON.stringify(first).slice(0, 500)}`);

  const catalogue = await must('GET', '/admin/segments/filters', undefined, 200);
  const cohortFilterIds: string[] = catalogue.filters.find((f: { filter: string }) => f.filter === 'Mixpanel_Cohorts').cohorts.map((c: { id: string }) => c.id);
  const inCohort = (i: number) => ({ filter: 'Mixpanel_Cohorts', op: 'includes', value: cohortFilterIds[i % cohortFilterIds.length] });
  const notInCohort = (i: number) => ({ filter: 'Mixpanel_Cohorts', op: 'does_not_include', value: cohortFilterIds[i % cohortFilterIds.length] });
  const plan = (value: string) => ({ filter: 'custom_attribute', attribute: 'plan', op: 'equals', value });
  const segmentIds: string[] = [];
  segmentIds.push((await must('POST', '/admin/segments', { name: 'Soak A not B pro', filter: { and: [inCohort(0), notInCohort(1), plan('pro')] } }, 201)).id);
  segmentIds.push((await must('POST', '/admin/segments', { name: 'Soak B or C', filter: { or: [inCohort(1), inCohort(2)] } }, 201)).id);
  const connector = await must('POST', '/admin/currents/mixpanel', connectorBody(mp.url, PROJECT, { name: 'Soak export', event_types: EXPORTED }), 201);

  // --- Load ---
  // PGlite's data directory is the server's own: only PostgreSQL can be looked at from here.
  const conditions = await printConditions({
    title: `the soak on ${opts.backend}`,
    ...(opts.backend === 'postgres' ? { pgUrl: databaseUrl } : {}),
    tables: ['users', 'cohort_members', 'event_batches'],
    settings: { seconds: opts.durationMs / 1000, track_rps: opts.trackRps, events_per_request: opts.eventsPerRequest, cohort_rps: opts.cohortRps, segment_rps: opts.segmentRps, users: opts.users },
  });
  const stats: Record<Kind, Stats> = { track: new Stats(), cohort: new Stats(), webhook: new Stats(), segment: new Stats() };
  const acked: Array<[number, number]> = []; // [first soak_seq, count] of each 2xx /users/track
  let seq = 0;
  let requestNo = 0;
  const t0 = performance.now();
  const deadline = t0 + opts.durationMs;
  let stopping = false;

  async function timed(kind: Kind, fn: () => Promise<number>): Promise<number | undefined> {
    const start = performance.now();
    try {
      const status = await fn();
      stats[kind].record(status, performance.now() - start);
      if (status >= 500 || status < 200 || status >= 300) {
        if (stats[kind].total - stats[kind].ok <= 5) console.log(`  ${kind}: HTTP ${status}`);
      }
      return status;
    } catch (err) {
      stats[kind].record('network', performance.now() - start);
      if (stats[kind].statuses.network! <= 5) console.log(`  ${kind}: ${String(err)}`);
      return undefined;
    }
  }

  /** Runs `workers` loops that together issue `rps` requests per second until the deadline. */
  function paced(workers: number, rps: number, step: (worker: number) => Promise<void>): Promise<void>[] {
    if (rps <= 0) return [];
    const period = (1000 * workers) / rps;
    return Array.from({ length: workers }, async (_, w) => {
      let next = performance.now() + (period * w) / workers;
      while (!stopping && performance.now() < deadline) {
        const wait = next - performance.now();
        if (wait > 0) await sleep(wait);
        if (stopping || performance.now() >= deadline) break;
        next = Math.max(next + period, performance.now() - 1000);
        await step(w);
      }
    });
  }

  const trackLoops = paced(Math.max(1, Math.ceil(opts.trackRps / 10)), opts.trackRps, async () => {
    const n = requestNo++;
    const first = seq;
    seq += opts.eventsPerRequest;
    const time = new Date().toISOString();
    const events = Array.from({ length: opts.eventsPerRequest }, (_, j) => ({
      external_id: `soak-${(n * 7919 + j * 104729) % opts.users}`,
      name: j % 5 === 0 ? 'soak_purchase_intent' : 'soak_view',
      time,
      properties: { soak_seq: first + j, page: `/p/${j % 17}`, n },
    }));
    const attributes = [0, 1].map((j) => ({ external_id: `soak-${(n * 31 + j * 2477) % opts.users}`, plan: (n + j) % 3 === 0 ? 'pro' : 'free' }));
    const status = await timed('track', async () => (await call('POST', '/users/track', { attributes, events })).status);
    if (status !== undefined && status >= 200 && status < 300) acked.push([first, opts.eventsPerRequest]);
  });

  let cohortNo = 0;
  const cohortLoops = paced(2, opts.cohortRps, async () => {
    const n = cohortNo++;
    const cohort = cohortIds[n % cohortIds.length]!;
    const ids = Array.from({ length: 200 }, (_, j) => `soak-${(n * 613 + j * 37) % opts.users}`);
    await timed('cohort', async () =>
      (await call('POST', '/partners/mixpanel/cohorts/users', { partner_api_key: PARTNER_KEY, client_secret: importKey, cohort_id: cohort, cohort_changes: [{ user_ids: ids, should_remove: n % 2 === 1 }] }, false)).status,
    );
  });

  let webhookNo = 0;
  const webhookLoops = paced(1, opts.webhookEverySeconds > 0 ? 1 / opts.webhookEverySeconds : 0, async () => {
    const n = webhookNo++;
    const out = [...webhookMembers].slice((n * 25) % 1000, ((n * 25) % 1000) + 25);
    const into = Array.from({ length: 25 }, (_, j) => `soak-${(n * 997 + j * 2) % opts.users}`).filter((id) => !webhookMembers.has(id));
    await timed('webhook', async () => {
      await emu('POST', `/_emulator/cohorts/${WEBHOOK_COHORT}/members/remove`, { project_id: PROJECT.projectId, distinct_ids: out });
      await emu('POST', `/_emulator/cohorts/${WEBHOOK_COHORT}/members`, { project_id: PROJECT.projectId, members: into });
      for (const id of out) webhookMembers.delete(id);
      for (const id of into) webhookMembers.add(id);
      const run = await emu('POST', `/_emulator/webhook-syncs/${sync}/run`);
      if (run.status !== 'succeeded' && stats.webhook.total - stats.webhook.ok < 5) console.log(`  webhook run ${run.status}: ${JSON.stringify(run).slice(0, 300)}`);
      return run.status === 'succeeded' ? 200 : 599;
    });
  });

  let segmentNo = 0;
  const segmentLoops = paced(2, opts.segmentRps, async () => {
    const n = segmentNo++;
    if (n % 2 === 0) {
      await timed('segment', async () => (await call('GET', `/admin/segments/${segmentIds[n % segmentIds.length]}/count`)).status);
    } else {
      const filter = { and: [inCohort(n), { not: notInCohort(n + 1) }, plan(n % 4 === 1 ? 'pro' : 'free')] };
      await timed('segment', async () => (await call('POST', '/admin/segments/preview-count', { filter })).status);
    }
  });

  // --- Reporting every interval ---
  const rssSamples: Array<[number, number]> = []; // [minutes since start, MiB]
  const soakRss: number[] = [];
  let lastDelivered = 0;
  let lastAt = t0;
  const errorsSoFar = () => KINDS.reduce((s, k) => s + stats[k].total - stats[k].ok, 0);
  const sample = async () => {
    const rss = await rssOf(pid);
    const atMin = (performance.now() - t0) / 60_000;
    rssSamples.push([atMin, rss / MiB]);
    soakRss.push(process.memoryUsage().rss);
    return rss;
  };
  await sample();
  console.log(`t=   0 s  server RSS ${fmtMiB(rssSamples[0]![1] * MiB)} after setup`);
  const reporter = (async () => {
    // RSS every 2 s (for the fit), a line every interval.
    let nextLine = t0 + opts.intervalMs;
    while (!stopping && performance.now() < deadline) {
      await sleep(Math.min(2000, Math.max(0, deadline - performance.now())));
      if (stopping) break;
      const rss = await sample();
      if (performance.now() + 1 < nextLine && performance.now() < deadline) continue;
      nextLine += opts.intervalMs;
      const now = performance.now();
      const secs = (now - lastAt) / 1000;
      lastAt = now;
      const delivered = mp.emulator.store.count(PROJECT.projectId, 'dedup');
      const exportRate = (delivered - lastDelivered) / secs;
      lastDelivered = delivered;
      const st = (await call('GET', `/admin/currents/${connector.id}/status`)).body;
      const parts = KINDS.map((k) => {
        const w = stats[k].takeWindow();
        return `${k} ${(w.count / secs).toFixed(1)}/s p99 ${fmtMs(w.p99)}`;
      });
      console.log(
        `t=${((now - t0) / 1000).toFixed(0).padStart(4)} s  ${parts.join(' | ')} | export ${exportRate.toFixed(0)} ev/s lag ${st?.lag?.events ?? '?'} ev | errors ${errorsSoFar()} | RSS server ${fmtMiB(rss)}, soak ${fmtMiB(process.memoryUsage().rss)}`,
      );
    }
  })();

  await Promise.all([...trackLoops, ...cohortLoops, ...webhookLoops, ...segmentLoops]);
  stopping = true;
  await reporter;
  const loadMs = performance.now() - t0;
  const endRss = await rssOf(pid);

  // --- Drain the export ---
  const drainStart = performance.now();
  let status: any;
  for (;;) {
    status = (await call('GET', `/admin/currents/${connector.id}/status`)).body;
    if (status.lag?.events === 0 && status.in_flight === 0) break;
    if (performance.now() - drainStart > opts.catchUpMs) {
      fail(`the export did not catch up within ${opts.catchUpMs / 1000} s after the load (lag ${JSON.stringify(status.lag)})`);
      break;
    }
    await sleep(500);
  }
  const drainMs = performance.now() - drainStart;

  // --- Stop the server cleanly, then read the store ---
  server.child.kill('SIGTERM');
  const code = await server.exited;
  if (code !== 0) fail(`the server exited with code ${code} on SIGTERM`);
  const logErrors = server.errorLines();
  if (logErrors.length) fail(`the server logged ${logErrors.length} error line(s); first: ${logErrors[0]}`);

  const db: Db = opts.backend === 'postgres' ? openPostgres({ connectionString: databaseUrl }) : await openPglite(join(dataDir, 'pglite'));
  let logged: Map<number, number>;
  let expectedInsertIds: Set<string>;
  try {
    const ws = (await db.query<{ id: string }>("SELECT id FROM workspaces WHERE name = 'default'")).rows[0]!.id;
    logged = new Map();
    expectedInsertIds = new Set();
    let after = -1;
    for (;;) {
      // Keyset on the bigint column itself (a text alias would order "9" after "10").
      const { rows } = await db.query<{ at: string; id: string; s: string | null }>(
        `SELECT seq::text AS at, id, body->'properties'->'custom_properties'->>'soak_seq' AS s
           FROM event_log WHERE workspace_id = $1 AND event_type = 'users.behaviors.CustomEvent' AND event_log.seq > $2 ORDER BY event_log.seq LIMIT 50000`,
        [ws, after],
      );
      if (!rows.length) break;
      for (const r of rows) {
        expectedInsertIds.add(insertIdFor(r.id));
        if (r.s !== null) logged.set(Number(r.s), (logged.get(Number(r.s)) ?? 0) + 1);
      }
      after = Number(rows[rows.length - 1]!.at);
    }
  } finally {
    await db.close();
  }

  // Every acknowledged event is in the log exactly once.
  let ackedEvents = 0;
  let lost = 0;
  let doubledInLog = 0;
  for (const [first, count] of acked) {
    for (let s = first; s < first + count; s++) {
      ackedEvents++;
      const n = logged.get(s) ?? 0;
      if (n === 0) lost++;
      else if (n > 1) doubledInLog++;
    }
  }
  // The emulator's dedup view holds each logged custom event exactly once, and nothing else.
  const seen = new Set<string>();
  let duplicates = 0;
  let unexpected = 0;
  const total = mp.emulator.store.count(PROJECT.projectId, 'dedup');
  for (let offset = 0; offset < total; offset += 50_000) {
    for (const text of mp.emulator.store.page(PROJECT.projectId, 'dedup', offset, 50_000).records) {
      const id = String((JSON.parse(text) as { properties: Record<string, unknown> }).properties['$insert_id']);
      if (seen.has(id)) duplicates++;
      else if (!expectedInsertIds.has(id)) unexpected++;
      seen.add(id);
    }
  }
  let missingInMixpanel = 0;
  for (const id of expectedInsertIds) if (!seen.has(id)) missingInMixpanel++;

  // --- Leak check: the second half of the run. ---
  const halfMin = loadMs / 60_000 / 2;
  const secondHalf = rssSamples.filter(([m]) => m >= halfMin);
  const rssSlope = slope(secondHalf);
  const projected = rssSlope * halfMin;
  const rssValues = rssSamples.map(([, v]) => v);
  const peak = Math.max(...rssValues);

  // --- Report ---
  conditions.end();
  const mins = loadMs / 60_000;
  console.log(`\nsoak summary (${opts.backend}, ${(loadMs / 1000).toFixed(0)} s of load, then ${(drainMs / 1000).toFixed(1)} s for the export to drain)`);
  for (const k of KINDS) {
    const s = stats[k];
    console.log(
      `  ${k.padEnd(8)} ${s.total.toLocaleString('en-US')} requests, ${(s.total / (loadMs / 1000)).toFixed(1)}/s, p50 ${fmtMs(quantile(s.all, 0.5))}, p99 ${fmtMs(quantile(s.all, 0.99))}, max ${fmtMs(Math.max(...s.all))}; answers ${JSON.stringify(s.statuses)}`,
    );
  }
  console.log(`  events   ${ackedEvents.toLocaleString('en-US')} acknowledged (${(ackedEvents / (loadMs / 1000)).toFixed(0)}/s); in the log: lost ${lost}, doubled ${doubledInLog}`);
  console.log(
    `  export   ${total.toLocaleString('en-US')} in the dedup view (${mp.emulator.store.count(PROJECT.projectId, 'raw').toLocaleString('en-US')} raw) of ${expectedInsertIds.size.toLocaleString('en-US')} logged; missing ${missingInMixpanel}, duplicates ${duplicates}, unexpected ${unexpected}; sent ${status?.sent}, retries ${status?.retries}`,
  );
  console.log(
    `  RSS      server start ${rssValues[0]!.toFixed(0)} MiB, peak ${peak.toFixed(0)} MiB, end ${(endRss / MiB).toFixed(0)} MiB; second-half slope ${rssSlope.toFixed(2)} MiB/min (projects ${projected.toFixed(1)} MiB over ${halfMin.toFixed(1)} min); soak process peak ${fmtMiB(Math.max(...soakRss))}`,
  );
  const every = Math.max(1, Math.ceil(rssSamples.length / 40));
  console.log(`  RSS (min:MiB) ${rssSamples.filter((_, i) => i % every === 0 || i === rssSamples.length - 1).map(([m, v]) => `${m.toFixed(1)}:${v.toFixed(0)}`).join(' ')}`);

  for (const k of KINDS) {
    const s = stats[k];
    if (s.total === 0 && !(k === 'webhook' && opts.webhookEverySeconds <= 0)) fail(`no ${k} request was made`);
    const bad = Object.entries(s.statuses).filter(([st]) => !(Number(st) >= 200 && Number(st) < 300));
    if (bad.length) fail(`${k}: ${bad.map(([st, n]) => `${n}× ${st}`).join(', ')} (every request must succeed; 5xx and network errors are never acceptable)`);
  }
  if (ackedEvents === 0) fail('no event was acknowledged');
  if (lost || doubledInLog) fail(`event log: ${lost} acknowledged events lost, ${doubledInLog} doubled`);
  if (missingInMixpanel || duplicates || unexpected) fail(`emulator dedup view: ${missingInMixpanel} missing, ${duplicates} duplicates, ${unexpected} not in the log`);
  if (rssSlope > opts.maxRssSlopeMiBPerMin && projected > opts.minRssGrowthMiB) {
    fail(`server RSS grows ${rssSlope.toFixed(2)} MiB/min over the second half (> ${opts.maxRssSlopeMiBPerMin}), ${projected.toFixed(1)} MiB (> ${opts.minRssGrowthMiB}): a leak`);
  }
  console.log(failures.length ? `\nFAIL (${failures.length})` : `\nPASS: 0 errors, 0 lost, 0 duplicates, no RSS growth beyond tolerance over ${mins.toFixed(1)} min`);
} catch (err) {
  fail(`the soak could not run: ${err instanceof Error ? err.stack : String(err)}`);
} finally {
  if (server && server.child.exitCode === null) {
    server.child.kill('SIGKILL');
    await server.exited;
  }
  await agent.close();
  await mp.close();
  await dropDb().catch(() => {});
  await rm(dataDir, { recursive: true, force: true });
}
process.exit(failures.length ? 1 : 0);
