/**
 * Throughput of cohort import through the partner cohort API (docs/reference/cohort-import.md §1.3): identifiers
 * applied per second when concurrent clients send 1,000-identifier requests (`user_ids`) for one
 * cohort, over users created directly with generate_series. Beside it, in the same run and on the
 * same database, a naive baseline that applies identifiers one autocommitted INSERT at a time
 * (over a sample), reported as a ratio. Goal: 100,000 identifiers/s on PostgreSQL.
 *
 *   npx tsx bench/cohort-import.ts [--members=1000000] [--pglite-members=200000] [--clients=32]
 *                                   [--baseline=20000] [--backends=postgres,pglite] [--profile]
 *
 * The server runs in this process (Fastify on 127.0.0.1, real HTTP through undici). PostgreSQL is
 * a throw-away database on BENCH_PG_URL (default postgres://postgres@127.0.0.1:5432/test); PGlite
 * is in memory, with a smaller cohort by default because one embedded backend is slower to fill.
 * `--profile` adds the time spent per SQL statement during the load. Every run prints the CPU time
 * per identifier of this process (server and load generator together) and of PostgreSQL: the
 * sessions of this run with the WAL writer and checkpointer, and every postgres process (other
 * work on the same server included), read from /proc.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { machineTicks, postgresCpuMs, procCpuMs } from './proc-cpu.js';
import { createImportKey } from '../src/cohorts/index.js';
import { loadConfig } from '../src/config.js';
import { createRivulet } from '../src/server.js';
import { printConditions } from './conditions.js';
import { migrate, openPglite, openPostgres, type Db, type Queryable } from '../src/storage/index.js';
import { createTestDatabaseUrl } from '../src/test-support/db.js';
import { DEFAULT_WORKSPACE, ensureWorkspace } from '../src/workspaces/index.js';

function option(name: string, fallback: string): string {
  const arg = process.argv.find((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  if (!arg) return fallback;
  return arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : 'true';
}

const opts = {
  members: Number(option('members', '1000000')),
  pgliteMembers: Number(option('pglite-members', '200000')),
  // 32 by default: with 8, writes to the one cohort (serial by design) left the machine 71% busy,
  // so the run measured the clients' concurrency rather than the server's capacity.
  clients: Number(option('clients', '32')),
  baseline: Number(option('baseline', '20000')),
  backends: option('backends', 'postgres,pglite').split(',').filter(Boolean),
  profile: option('profile', '') === 'true',
};
process.env.RIVULET_TEST_PG_URL ??= process.env.BENCH_PG_URL;

const PER_REQUEST = 1000;
const PARTNER_KEY = `pk_bench_${randomBytes(8).toString('hex')}`;
const log = (line: string) => process.stdout.write(`${line}\n`);
const rate = (n: number, ms: number) => Math.round((n / ms) * 1000);
const fmt = (n: number) => n.toLocaleString('en-US');
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? 0;

/** Wraps a store so that every statement's time is added up by its text (for --profile). */
function timed(db: Db, totals: Map<string, { ms: number; n: number }>): Db {
  const wrap = (q: Queryable): Queryable => ({
    async query(sql, params) {
      const t0 = performance.now();
      try {
        return await q.query(sql, params);
      } finally {
        const key = sql.replace(/\s+/g, ' ').trim().slice(0, 90);
        const t = totals.get(key) ?? { ms: 0, n: 0 };
        t.ms += performance.now() - t0;
        t.n++;
        totals.set(key, t);
      }
    },
    exec: (sql) => q.exec(sql),
  });
  const outer = wrap(db);
  return { kind: db.kind, query: outer.query, exec: outer.exec, transaction: (work) => db.transaction((tx) => work(wrap(tx))), close: () => db.close() };
}


/**
 * CPU of the PostgreSQL processes that serve this run: the sessions on this database and the
 * server's WAL writer, checkpointer and background writer (autovacuum workers that have exited are
 * not seen). The pids are read at the mark; a session started since counts from zero.
 */
async function sessionsCpuMs(db: Db): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  if (db.kind !== 'postgres') return out;
  const { rows } = await db.query<{ pid: number }>(
    `SELECT pid FROM pg_stat_activity
      WHERE datname = current_database() OR backend_type IN ('walwriter', 'checkpointer', 'background writer', 'autovacuum launcher')`,
  );
  for (const { pid } of rows) {
    const ms = procCpuMs(pid);
    if (ms !== null) out.set(pid, ms);
  }
  return out;
}

async function cpuMark(db: Db) {
  return { node: process.cpuUsage(), postgres: postgresCpuMs(), sessions: await sessionsCpuMs(db), machine: machineTicks() };
}

/** "CPU per identifier: …" between a mark and now. */
async function cpuLine(db: Db, from: Awaited<ReturnType<typeof cpuMark>>, ids: number): Promise<string> {
  const to = await cpuMark(db);
  const per = (ms: number) => `${((ms * 1000) / ids).toFixed(1)} µs`;
  const node = process.cpuUsage(from.node);
  const parts = [`this process (server + clients) ${per((node.user + node.system) / 1000)}`];
  if (db.kind === 'postgres') {
    let sessions = 0;
    for (const [pid, ms] of to.sessions) sessions += ms - (from.sessions.get(pid) ?? 0);
    parts.push(`PostgreSQL sessions of this run + WAL writer, checkpointer ${per(sessions)}`);
    if (from.postgres !== null && to.postgres !== null) parts.push(`every postgres process (other work included) ${per(to.postgres - from.postgres)}`);
  }
  let line = `CPU per identifier: ${parts.join(', ')}`;
  if (from.machine && to.machine && to.machine.total > from.machine.total) {
    line += `; machine busy ${(((to.machine.busy - from.machine.busy) / (to.machine.total - from.machine.total)) * 100).toFixed(0)}% of ${cpus().length} cores`;
  }
  return line;
}

async function openBackend(kind: string): Promise<{ db: Db; drop(): Promise<void> }> {
  if (kind === 'pglite') {
    const db = await openPglite();
    return { db, drop: () => db.close() };
  }
  const created = await createTestDatabaseUrl();
  const db = openPostgres({ connectionString: created.url, maxConnections: 16 });
  return {
    db,
    async drop() {
      await db.close();
      await created.drop();
    },
  };
}

async function bench(kind: string, members: number): Promise<void> {
  const { db, drop } = await openBackend(kind);
  const dataDir = await mkdtemp(join(tmpdir(), 'rivulet-bench-cohorts-'));
  try {
    await migrate(db);
    const ws = await ensureWorkspace(db, DEFAULT_WORKSPACE);
    let t0 = performance.now();
    await db.query(
      `INSERT INTO users (id, workspace_id, external_id, began_anonymous)
       SELECT gen_random_uuid(), $1, 'u' || g, false FROM generate_series(1, $2::int) g`,
      [ws.id, members],
    );
    // Set hint bits and statistics once, as on a database in use rather than one just bulk-loaded.
    await db.exec(kind === 'pglite' ? 'ANALYZE users' : 'VACUUM ANALYZE users');
    log(`[${kind}] ${fmt(members)} users created with generate_series in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    const conditions = await printConditions({ title: `cohort import on ${kind}`, db, tables: ['users', 'cohort_members'], settings: { members, clients: opts.clients, per_request: PER_REQUEST } });
    const totals = new Map<string, { ms: number; n: number }>();
    const served = opts.profile ? timed(db, totals) : db;
    const config = loadConfig({ LOG_LEVEL: 'silent', RIVULET_DATA_DIR: dataDir, RIVULET_PARTNER_API_KEY_MIXPANEL: PARTNER_KEY });
    const rivulet = await createRivulet(config, { db: served, logger: false, workers: false });
    await rivulet.app.listen({ port: 0, host: '127.0.0.1' });
    const port = (rivulet.app.server.address() as { port: number }).port;
    const pool = new Pool(`http://127.0.0.1:${port}`, { connections: opts.clients, pipelining: 1 });
    const secret = (await createImportKey(db, ws.id, 'mixpanel')).key;
    const post = async (path: string, body: unknown) => {
      const res = await pool.request({ method: 'POST', path, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      const json = (await res.body.json()) as any;
      if (res.statusCode !== 201) throw new Error(`${path} answered ${res.statusCode}: ${JSON.stringify(json).slice(0, 300)}`);
      return json;
    };
    const auth = { partner_api_key: PARTNER_KEY, client_secret: secret };
    await post('/partners/mixpanel/cohorts', { ...auth, cohort_id: 'bench', name: 'Bench', created_at: '2024-01-01T00:00:00Z' });

    const requests = Math.ceil(members / PER_REQUEST);
    let next = 0;
    let added = 0;
    const latencies: number[] = [];
    totals.clear();
    const cpuFrom = await cpuMark(db);
    t0 = performance.now();
    await Promise.all(
      Array.from({ length: opts.clients }, async () => {
        for (let i = next++; i < requests; i = next++) {
          const ids = Array.from({ length: Math.min(PER_REQUEST, members - i * PER_REQUEST) }, (_, k) => `u${i * PER_REQUEST + k + 1}`);
          const s = performance.now();
          const r = await post('/partners/mixpanel/cohorts/users', { ...auth, cohort_id: 'bench', cohort_changes: [{ user_ids: ids }] });
          latencies.push(performance.now() - s);
          added += r.added;
        }
      }),
    );
    const loadMs = performance.now() - t0;
    const cpu = await cpuLine(db, cpuFrom, members);
    conditions.end();
    const bulk = rate(members, loadMs);
    const profile = [...totals].sort((a, b) => b[1].ms - a[1].ms);
    if (added !== members) throw new Error(`expected ${members} added, got ${added}`);

    // Naive baseline: one autocommitted statement per identifier, over a sample.
    const sample = Math.min(opts.baseline, members);
    const { rows } = await db.query<{ id: string }>(
      `INSERT INTO cohorts (id, workspace_id, partner, partner_cohort_id, name, created_at) VALUES (gen_random_uuid(), $1, 'mixpanel', 'naive', 'Naive', now()) RETURNING id`,
      [ws.id],
    );
    t0 = performance.now();
    for (let i = 1; i <= sample; i++) {
      await db.query(
        `INSERT INTO cohort_members (cohort_id, user_id) SELECT $1, id FROM users WHERE workspace_id = $2 AND external_id = $3
         ON CONFLICT (cohort_id, user_id) DO NOTHING`,
        [rows[0]!.id, ws.id, `u${i}`],
      );
    }
    const naive = rate(sample, performance.now() - t0);

    log(`[${kind}] partner API: ${fmt(members)} identifiers in ${fmt(requests)} requests of ${PER_REQUEST}, ${opts.clients} clients: ${(loadMs / 1000).toFixed(1)} s`);
    log(`[${kind}]   ${fmt(bulk)} identifiers/s; request latency p50 ${pct(latencies, 50).toFixed(1)} ms, p99 ${pct(latencies, 99).toFixed(1)} ms`);
    log(`[${kind}]   ${cpu}`);
    log(`[${kind}] naive baseline (one INSERT per identifier, ${fmt(sample)} sampled): ${fmt(naive)} identifiers/s`);
    log(`[${kind}] ratio partner API / naive: ${(bulk / naive).toFixed(1)}x`);
    if (kind === 'postgres') log(`[${kind}] goal 100,000 identifiers/s: ${bulk >= 100_000 ? 'met' : `not met (${((bulk / 100_000) * 100).toFixed(0)} % of it)`}`);
    if (opts.profile) {
      const all = profile.reduce((n, [, t]) => n + t.ms, 0);
      log(`[${kind}] SQL time during the load: ${(all / 1000).toFixed(1)} s over ${(loadMs / 1000).toFixed(1)} s of wall time; top statements:`);
      for (const [sql, t] of profile.slice(0, 12)) log(`    ${t.ms.toFixed(0).padStart(7)} ms  ${String(t.n).padStart(6)}×  ${sql}`);
    }
    await pool.close();
    await rivulet.close();
  } finally {
    await drop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

for (const kind of opts.backends) {
  const members = kind === 'pglite' ? Math.min(opts.members, opts.pgliteMembers) : opts.members;
  if (kind === 'pglite' && members < opts.members) log(`[pglite] using ${fmt(members)} members and users instead of ${fmt(opts.members)} (--pglite-members to change)`);
  await bench(kind, members);
}
