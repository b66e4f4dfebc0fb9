/**
 * Segment benchmarks on PostgreSQL (populated with generate_series, one fresh database per size).
 *
 *   npx tsx bench/segments.ts count [--users 1000000,10000000] [--runs 50] [--baseline-runs 7]
 *     Count latency of "in cohort A and not in cohort B and plan = 'pro'" with three random 30 %
 *     cohorts: the segment evaluator (bitmaps) beside a plain SQL join, as a ratio. Goal: p50 under
 *     20 ms at 1,000,000 users and under 200 ms at 10,000,000.
 *     Beside the warm figure, two cold ones: the first count with nothing saved (every bitmap
 *     loaded from the tables), and the first count after a start — a new connection pool and
 *     evaluator, as a restarted process has, reading the bitmaps the first one saved
 *     (segment_bitmaps), with 1,000 users changed since the save. Goal: ≤ 1 s at 1,000,000 users.
 *
 *   npx tsx bench/segments.ts export [--users 1000000]
 *     Streams the NDJSON and CSV export of a segment of every user from the real server — compiled
 *     and started as `rivulet serve`, in a process of its own — and reports that process's RSS over
 *     the stream and its peak (VmHWM, Linux). Fails (exit 1) at a peak of 200 MiB or more.
 *
 * `--keep` keeps the databases (their URLs are printed); `--db <url>` reuses one kept earlier.
 * The server is `RIVULET_BENCH_PG_URL` (default: the test server, postgres://postgres@127.0.0.1:5432/test).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { SegmentEvaluator, type FilterNode } from '../src/segments/index.js';
import { migrate, openPostgres, type Db } from '../src/storage/index.js';
import { createTestDatabaseUrl } from '../src/test-support/db.js';
import { createApiKey, DEFAULT_WORKSPACE, ensureWorkspace } from '../src/workspaces/index.js';
import { printConditions } from './conditions.js';

process.env.RIVULET_TEST_PG_URL ??= process.env.RIVULET_BENCH_PG_URL;

const args = process.argv.slice(2);
const mode = args[0] === 'export' ? 'export' : 'count';
const opt = (name: string, fallback: string) => {
  const at = args.indexOf(`--${name}`);
  return at >= 0 && args[at + 1] ? args[at + 1]! : fallback;
};
const sizes = opt('users', mode === 'export' ? '1000000' : '1000000,10000000').split(',').map(Number);
const runs = Number(opt('runs', '50'));
const baselineRuns = Number(opt('baseline-runs', '7'));
const keep = args.includes('--keep');
const reuse = opt('db', '');

const MiB = 1024 * 1024;
const fmt = (ms: number) => `${ms.toFixed(ms < 10 ? 2 : 1)} ms`;
const percentile = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
const log = (line: string) => process.stdout.write(`${line}\n`);

interface Population {
  db: Db;
  url: string;
  workspaceId: string;
  cohorts: string[];
  drop(): Promise<void>;
}

/** Users with plan ∈ {free, pro, team}, three cohorts of ~30 % each, 10 % with an alias and a device. */
async function populate(users: number): Promise<Population> {
  const created = reuse ? { url: reuse, drop: async () => {} } : await createTestDatabaseUrl();
  const db = openPostgres({ connectionString: created.url, maxConnections: 4 });
  try {
    return await populateInto(db, created, users);
  } catch (err) {
    await db.close();
    if (!keep) await created.drop();
    throw err;
  }
}

async function populateInto(db: Db, created: { url: string; drop(): Promise<void> }, users: number): Promise<Population> {
  await migrate(db);
  const workspaceId = (await ensureWorkspace(db, DEFAULT_WORKSPACE)).id;
  const have = (await db.query<{ n: number }>('SELECT count(*)::int8 AS n FROM users WHERE workspace_id = $1', [workspaceId])).rows[0]!.n;
  if (have !== users) {
    if (have) throw new Error(`--db holds ${have} users, not ${users}`);
    const t0 = performance.now();
    // Bulk population bypasses the change-log triggers: a cold evaluator loads everything anyway.
    await db.exec('ALTER TABLE users DISABLE TRIGGER USER');
    for (let from = 1; from <= users; from += 1_000_000) {
      const to = Math.min(users, from + 999_999);
      await db.query(
        `INSERT INTO users (id, workspace_id, external_id, began_anonymous, custom_attributes)
         SELECT gen_random_uuid(), $1, 'user-' || g, false,
                jsonb_build_object('plan', (ARRAY['free', 'pro', 'team'])[1 + floor(random() * 3)::int], 'visits', g % 50)
           FROM generate_series($2::int, $3::int) g`,
        [workspaceId, from, to],
      );
    }
    await db.exec('ALTER TABLE users ENABLE TRIGGER USER');
    for (const name of ['A', 'B', 'C']) {
      await db.query(
        `INSERT INTO cohorts (id, workspace_id, partner, partner_cohort_id, name, created_at, members_version)
         VALUES (gen_random_uuid(), $1, 'mixpanel', $2, $3, now(), 1)`,
        [workspaceId, `bench-${name}`, `Cohort ${name}`],
      );
      await db.query(
        `INSERT INTO cohort_members (cohort_id, user_id)
         SELECT (SELECT id FROM cohorts WHERE workspace_id = $1 AND partner_cohort_id = $2), id FROM users WHERE workspace_id = $1 AND random() < 0.3`,
        [workspaceId, `bench-${name}`],
      );
    }
    await db.query(`UPDATE cohorts c SET member_count = (SELECT count(*) FROM cohort_members m WHERE m.cohort_id = c.id) WHERE workspace_id = $1`, [workspaceId]);
    await db.query(
      `INSERT INTO user_aliases (workspace_id, alias_label, alias_name, user_id)
       SELECT $1, 'mixpanel_id', 'mp-' || ordinal, id FROM users WHERE workspace_id = $1 AND ordinal % 10 = 0`,
      [workspaceId],
    );
    await db.query(
      `INSERT INTO user_devices (workspace_id, device_id, user_id, platform)
       SELECT $1, 'device-' || ordinal, id, 'ios' FROM users WHERE workspace_id = $1 AND ordinal % 10 = 0`,
      [workspaceId],
    );
    for (const table of ['users', 'cohort_members', 'user_aliases', 'user_devices']) await db.exec(`VACUUM ANALYZE ${table}`);
    log(`  populated ${users.toLocaleString('en')} users, 3 cohorts in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  }
  const cohorts = (await db.query<{ id: string }>(`SELECT id FROM cohorts WHERE workspace_id = $1 ORDER BY partner_cohort_id`, [workspaceId])).rows.map((r) => r.id);
  if (keep && !reuse) log(`  kept database: ${created.url}`);
  return {
    db,
    url: created.url,
    workspaceId,
    cohorts,
    async drop() {
      await db.close();
      if (!keep) await created.drop();
    },
  };
}

async function timed<T>(work: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  const value = await work();
  return { ms: performance.now() - t0, value };
}

async function benchCount(users: number): Promise<void> {
  log(`\n${users.toLocaleString('en')} users`);
  const p = await populate(users);
  const conditions = await printConditions({ title: `segment counts at ${users.toLocaleString('en')} users`, db: p.db, tables: ['users', 'cohort_members', 'user_aliases', 'user_devices'] });
  try {
    const [a, b] = p.cohorts as [string, string];
    const filter: FilterNode = {
      and: [
        { filter: 'Mixpanel_Cohorts', op: 'includes', value: a },
        { filter: 'Mixpanel_Cohorts', op: 'does_not_include', value: b },
        { filter: 'custom_attribute', attribute: 'plan', op: 'equals', value: 'pro' },
      ],
    };
    const baselineSql = `SELECT count(*)::int8 AS n FROM users u
        JOIN cohort_members a ON a.user_id = u.id AND a.cohort_id = $2
       WHERE u.workspace_id = $1 AND u.custom_attributes ->> 'plan' = 'pro'
         AND NOT EXISTS (SELECT 1 FROM cohort_members b WHERE b.cohort_id = $3 AND b.user_id = u.id)`;
    const baseline = async () => (await p.db.query<{ n: number }>(baselineSql, [p.workspaceId, a, b])).rows[0]!.n;

    // Nothing saved yet: a first start, or saved copies that cannot be brought up to date.
    await p.db.query('DELETE FROM segment_bitmaps');

    const evaluator = new SegmentEvaluator(p.db);
    const cold = await timed(() => evaluator.count(p.workspaceId, filter));
    const warm: number[] = [];
    for (let i = 0; i < runs; i++) warm.push((await timed(() => evaluator.count(p.workspaceId, filter))).ms);
    const base: number[] = [];
    let expected = -1;
    for (let i = 0; i < baselineRuns; i++) {
      const r = await timed(baseline);
      base.push(r.ms);
      expected = r.value;
    }
    if (expected !== cold.value) throw new Error(`counts differ: bitmaps ${cold.value}, SQL ${expected}`);

    // What the server does every minute: save the cached bitmaps (timed, it runs in the background).
    const saved = await timed(() => evaluator.saveOnce());
    const savedBytes = (await p.db.query<{ n: string }>('SELECT coalesce(sum(length(bitmap)), 0)::text AS n FROM segment_bitmaps')).rows[0]!.n;
    // Freshness: change 1,000 users' plan, then count again (patched from the change log, no reload).
    await p.db.query(
      `UPDATE users SET custom_attributes = custom_attributes || jsonb_build_object('plan', CASE WHEN custom_attributes ->> 'plan' = 'pro' THEN 'free' ELSE 'pro' END)
        WHERE workspace_id = $1 AND ordinal % $2 = 7`,
      [p.workspaceId, Math.floor(users / 1000)],
    );
    const afterChange = await timed(() => evaluator.count(p.workspaceId, filter));
    const check = await baseline();
    if (check !== afterChange.value) throw new Error(`counts differ after changes: bitmaps ${afterChange.value}, SQL ${check}`);

    // A start: a new pool and evaluator, reading the bitmaps saved before the 1,000 changes.
    const t0 = performance.now();
    const startedDb = openPostgres({ connectionString: p.url, maxConnections: 4 });
    const restarted = await (async () => {
      try {
        const value = await new SegmentEvaluator(startedDb).count(p.workspaceId, filter);
        return { ms: performance.now() - t0, value };
      } finally {
        await startedDb.close();
      }
    })();
    if (check !== restarted.value) throw new Error(`counts differ after a start: bitmaps ${restarted.value}, SQL ${check}`);

    const p50 = percentile(warm, 50);
    const b50 = percentile(base, 50);
    log(`  members: ${cold.value.toLocaleString('en')} (SQL agrees)`);
    log(`  bitmaps    p50 ${fmt(p50)}   p95 ${fmt(percentile(warm, 95))}   (${runs} runs, warm)`);
    log(`  cold       first count after a start ${fmt(restarted.ms)} (saved bitmaps, 1,000 users changed since the save; SQL agrees)`);
    log(`             first count with nothing saved ${fmt(cold.ms)} (every bitmap loaded from the tables)`);
    log(`             saving the ${(await p.db.query<{ n: string }>('SELECT count(*)::text AS n FROM segment_bitmaps')).rows[0]!.n} bitmaps: ${fmt(saved.ms)}, ${(Number(savedBytes) / 1024).toFixed(0)} KiB`);
    if (users <= 1_000_000) log(`  goal first count after a start ≤ 1 s: ${restarted.ms <= 1000 ? 'met' : 'MISSED'}`);
    log(`  SQL join   p50 ${fmt(b50)}   p95 ${fmt(percentile(base, 95))}   (${baselineRuns} runs)`);
    log(`  ratio      SQL p50 / bitmaps p50 = ${(b50 / p50).toFixed(0)}×`);
    log(`  after 1,000 users changed plan: ${fmt(afterChange.ms)} (patched from the change log; SQL agrees: ${check.toLocaleString('en')})`);
    log(`  process RSS ${(process.memoryUsage().rss / MiB).toFixed(0)} MiB`);
    const goal = users <= 1_000_000 ? 20 : users <= 10_000_000 ? 200 : Infinity;
    if (Number.isFinite(goal)) log(`  goal p50 < ${goal} ms: ${p50 < goal ? 'met' : 'MISSED'}`);
    conditions.end();
  } finally {
    conditions.stop();
    await p.drop();
  }
}

/**
 * The server as `npm start` runs it — compiled JavaScript, `rivulet serve` — so that memory is
 * measured without tsx's transpiler in the process. Compiled into a scratch directory.
 */
async function startCompiledServer(databaseUrl: string): Promise<{ server: ChildProcess; base: string }> {
  const root = '/tmp/rivulet-bench-segments';
  const repo = fileURLToPath(new URL('..', import.meta.url));
  await rm(`${root}/dist`, { recursive: true, force: true });
  await mkdir(root, { recursive: true });
  const tsc = spawnSync(process.execPath, [`${repo}node_modules/typescript/bin/tsc`, '-p', `${repo}tsconfig.build.json`, '--outDir', `${root}/dist`], { stdio: 'inherit' });
  if (tsc.status !== 0) throw new Error('tsc failed');
  for (const dir of ['migrations', 'node_modules']) {
    await rm(`${root}/${dir}`, { force: true });
    await symlink(`${repo}${dir}`, `${root}/${dir}`);
  }
  await writeFile(`${root}/package.json`, '{"type":"module"}\n');
  const port = await new Promise<number>((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
  const env = { ...process.env, DATABASE_URL: databaseUrl, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'silent', RIVULET_DATA_DIR: `${root}/data` };
  const server = spawn(process.execPath, [`${root}/dist/cli/main.js`, 'serve'], { env, stdio: ['ignore', 'ignore', 'ignore'] });
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (server.exitCode !== null) throw new Error(`server exited with ${server.exitCode}`);
    const up = await request(`${base}/healthz`).then((r) => r.body.text().then(() => r.statusCode === 200), () => false);
    if (up) return { server, base };
    if (i > 300) throw new Error('server did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Resident and peak resident memory of a process, from /proc (Linux), in MiB. */
async function memoryOf(pid: number): Promise<{ rss: number; peak: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rss: kib('VmRSS') / 1024, peak: kib('VmHWM') / 1024 };
}

async function benchExport(users: number): Promise<boolean> {
  log(`\nexport of a ${users.toLocaleString('en')}-member segment (server in its own process)`);
  const p = await populate(users);
  const conditions = await printConditions({ title: `segment export at ${users.toLocaleString('en')} users`, db: p.db, tables: ['users', 'cohort_members'] });
  let ok = true;
  const { server, base } = await startCompiledServer(p.url);
  try {
    const key = (await createApiKey(p.db, { workspaceId: p.workspaceId, name: 'bench', permissions: ['admin'] })).key;
    const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
    const created = await request(`${base}/admin/segments`, { method: 'POST', headers, body: JSON.stringify({ name: `everyone-${Date.now()}`, filter: { and: [] } }) });
    const segment = (await created.body.json()) as { id: string };
    log(`  server RSS when ready ${(await memoryOf(server.pid!)).rss.toFixed(0)} MiB`);
    for (const format of ['ndjson', 'csv']) {
      const before = await memoryOf(server.pid!);
      const samples: number[] = [];
      const sampler = setInterval(() => void memoryOf(server.pid!).then((m) => samples.push(m.rss), () => {}), 250);
      const t0 = performance.now();
      const res = await request(`${base}/admin/segments/${segment.id}/export?format=${format}`, { headers });
      let bytes = 0;
      let lines = 0;
      for await (const chunk of res.body) {
        bytes += (chunk as Buffer).length;
        for (const c of chunk as Buffer) if (c === 10) lines++;
      }
      clearInterval(sampler);
      const after = await memoryOf(server.pid!);
      const rows = format === 'csv' ? lines - 1 : lines;
      const seconds = (performance.now() - t0) / 1000;
      const pass = rows === users && after.peak < 200;
      ok &&= pass;
      const tenths = [0.1, 0.5, 0.9].map((q) => samples[Math.floor(q * (samples.length - 1))]?.toFixed(0)).join(' / ');
      log(
        `  ${format.padEnd(6)} ${rows.toLocaleString('en')} rows, ${(bytes / MiB).toFixed(0)} MiB in ${seconds.toFixed(1)} s ` +
          `(${Math.round(rows / seconds).toLocaleString('en')} rows/s); server RSS before ${before.rss.toFixed(0)} MiB, ` +
          `at 10 % / 50 % / 90 % of the stream ${tenths} MiB, peak ${after.peak.toFixed(0)} MiB — ${pass ? 'under 200 MiB' : 'FAILED'}`,
      );
    }
    conditions.end();
  } finally {
    conditions.stop();
    server.kill('SIGTERM');
    await p.drop();
  }
  return ok;
}

let failed = false;
for (const users of sizes) {
  if (mode === 'export') failed = !(await benchExport(users)) || failed;
  else await benchCount(users);
}
process.exit(failed ? 1 : 0);
