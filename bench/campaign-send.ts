/**
 * Email and webhook campaign throughput on PostgreSQL (docs/reference/campaigns.md, "Bench").
 *
 *   npx tsx bench/campaign-send.ts [--users 1000000] [--webhooks 200000] [--concurrency 256] [--smtp-connections 16] [--profile]
 *   npx tsx bench/campaign-send.ts --crash [--users 100000]
 *
 * `--profile` counts the statements and transactions the send path runs during the email campaign
 * (by the statement's first words) and prints them per email. `--crash` runs the kill -9 acceptance
 * test (test/campaign-crash.db.test.ts) at `--users` recipients instead of the throughput bench.
 *
 * 1. Populates a fresh database with `--users` users that have an email address (generate_series).
 * 2. Starts the mail sink as a process of its own (`rivulet mail-sink`), and a tiny HTTP sink for
 *    webhooks (also its own process), so neither competes inside the measured process.
 * 3. Campaign: an email campaign to a segment of every user is launched over HTTP; measured are the
 *    time from the launch to the first message at the sink and to the last, emails/s (launch to last)
 *    and the peak RSS of this process (which runs Rivulet) while it sends.
 * 4. Webhooks: a webhook campaign to the first `--webhooks` users, sends/s at the HTTP sink.
 * 5. Baseline, before the campaign (up to 20,000 messages) and after both campaigns, each in a
 *    process of its own (bench/smtp-baseline.ts; its objects never count in the RSS): nodemailer's
 *    pooled transport sends pre-rendered messages (the campaign's subject and HTML, personalised by
 *    string concatenation, no Liquid, no database) to the same sink, with the same number of SMTP
 *    connections and the same concurrency; the ratio is the campaign's rate to the mean of the two.
 *
 * Run under the heavy lock: `flock /tmp/rivulet-heavy.lock npx tsx bench/campaign-send.ts`.
 * Goals: ≥ 5,000 emails/s, ≥ 0.8× baseline, first delivery < 2 s, ≥ 10,000 webhooks/s, RSS < 300 MB.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { printConditions } from './conditions.js';

const args = process.argv.slice(2);
const opt = (name: string, fallback: string) => {
  const at = args.indexOf(`--${name}`);
  return at >= 0 && args[at + 1] ? args[at + 1]! : fallback;
};
const USERS = Number(opt('users', '1000000'));
const WEBHOOKS = Math.min(USERS, Number(opt('webhooks', '200000')));
const CONCURRENCY = Number(opt('concurrency', '256'));
const PROFILE = args.includes('--profile');
const SMTP_CONNECTIONS = Number(opt('smtp-connections', '16'));
const ROOT = fileURLToPath(new URL('..', import.meta.url));

process.env.RIVULET_TEST_BACKEND = 'postgres';
if (process.env.RIVULET_BENCH_PG_URL) process.env.RIVULET_TEST_PG_URL ??= process.env.RIVULET_BENCH_PG_URL;

const log = (line: string) => console.log(line);

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs: number, everyMs = 20): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

const children: ChildProcess[] = [];
process.on('exit', () => children.forEach((c) => c.exitCode === null && c.kill('SIGKILL')));

async function startMailSinkProcess(): Promise<{ smtpUrl: string; url: string; messages(): Promise<number>; clear(): Promise<void> }> {
  const [smtpPort, httpPort] = [await freePort(), await freePort()];
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'mail-sink', '--smtp-port', String(smtpPort), '--http-port', String(httpPort)], {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: 'silent' },
    stdio: 'ignore',
  });
  children.push(child);
  const url = `http://127.0.0.1:${httpPort}`;
  const messages = async () => ((await (await fetch(`${url}/stats`)).json()) as { messages: number }).messages;
  await until('the mail sink', async () => (await messages()) >= 0, 60_000, 200);
  return { smtpUrl: `smtp://127.0.0.1:${smtpPort}`, url, messages, clear: async () => void (await fetch(`${url}/messages`, { method: 'DELETE' })) };
}

/** A webhook receiver in a process of its own: answers 200 and counts. */
async function startHookSinkProcess(): Promise<{ url: string; count(): Promise<number> }> {
  const port = await freePort();
  const code = `let n=0;require('http').createServer((q,s)=>{if(q.url==='/count'){s.end(String(n));return}q.resume();q.on('end',()=>{n++;s.writeHead(200,{'content-type':'application/json'});s.end('{}')})}).listen(${port},'127.0.0.1')`;
  const child = spawn(process.execPath, ['-e', code], { stdio: 'ignore' });
  children.push(child);
  const url = `http://127.0.0.1:${port}`;
  const count = async () => Number(await (await fetch(`${url}/count`)).text());
  await until('the webhook sink', async () => (await count()) >= 0, 30_000, 100);
  return { url, count };
}


/** The raw nodemailer baseline (bench/smtp-baseline.ts) in a process of its own; its emails/s. */
async function baseline(smtpUrl: string, count: number): Promise<number> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/smtp-baseline.ts', smtpUrl, String(count), String(CONCURRENCY), String(SMTP_CONNECTIONS)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  if (code !== 0) throw new Error(`the baseline exited with ${code}`);
  return (JSON.parse(out.trim().split('\n').at(-1)!) as { rate: number }).rate;
}

if (args.includes('--crash')) {
  // The acceptance run of the crash test at full size, on PostgreSQL.
  const child = spawn('npx', ['vitest', 'run', '--project', 'postgres', 'test/campaign-crash.db.test.ts'], {
    cwd: ROOT,
    env: { ...process.env, RIVULET_CAMPAIGN_CRASH_USERS: String(Number(opt('users', '100000'))) },
    stdio: 'inherit',
  });
  process.exit(await new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? 1))));
}

/** Statement and transaction counts by the statement's first words (`--profile`). */
const statements = new Map<string, number>();
let transactions = 0;
let counting = false;
function countOn(db: { query: (...a: any[]) => Promise<any>; transaction?: (work: (tx: any) => Promise<any>) => Promise<any> }): void {
  const query = db.query.bind(db);
  const name = (sql: string) => sql.replace(/\s+/g, ' ').trim().slice(0, 70);
  const wrapTx = (tx: { query: (...a: any[]) => Promise<any>; exec: (sql: string) => Promise<void> }) => ({
    exec: (sql: string) => tx.exec(sql),
    query: (sql: string, params?: unknown[]) => {
      if (counting) statements.set(name(sql), (statements.get(name(sql)) ?? 0) + 1);
      return tx.query(sql, params);
    },
  });
  db.query = (sql: string, params?: unknown[]) => {
    if (counting) statements.set(name(sql), (statements.get(name(sql)) ?? 0) + 1);
    return query(sql, params);
  };
  if (db.transaction) {
    const transaction = db.transaction.bind(db);
    db.transaction = (work) => {
      if (counting) transactions++;
      return transaction((tx) => work(wrapTx(tx)));
    };
  }
}

const sink = await startMailSinkProcess();
const hooks = await startHookSinkProcess();
const { startTestServer } = await import('../src/test-support/server.js');
const publicPort = await freePort();
const server = await startTestServer({
  PORT: String(publicPort),
  RIVULET_PUBLIC_URL: `http://127.0.0.1:${publicPort}`,
  SMTP_URL: sink.smtpUrl,
  RIVULET_SMTP_CONNECTIONS: String(SMTP_CONNECTIONS),
  RIVULET_SEND_CONCURRENCY: String(CONCURRENCY),
  RIVULET_SEND_POLL_MS: '50',
  RIVULET_WEBHOOK_ALLOW: '127.0.0.1',
  RIVULET_RATE_LIMIT_SENDS: '100000000',
  LOG_LEVEL: 'silent',
});
const db = server.testDb.db;
if (PROFILE) countOn(db as never);
try {
  const t0 = performance.now();
  await db.exec('ALTER TABLE users DISABLE TRIGGER USER');
  for (let from = 1; from <= USERS; from += 500_000) {
    const to = Math.min(USERS, from + 499_999);
    await db.query(
      `INSERT INTO users (id, workspace_id, external_id, began_anonymous, email, first_name, custom_attributes)
       SELECT gen_random_uuid(), $1, 'u' || g, false, 'u' || g || '@bench.test', 'N' || g, jsonb_build_object('bench', 'email', 'hook', CASE WHEN g <= $4 THEN 'yes' ELSE 'no' END)
         FROM generate_series($2::int, $3::int) g`,
      [server.workspaceId, from, to, WEBHOOKS],
    );
  }
  await db.exec('ALTER TABLE users ENABLE TRIGGER USER');
  await db.exec('VACUUM ANALYZE users');
  log(`populated ${USERS.toLocaleString('en')} users in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  const conditions = await printConditions({
    title: 'campaign sends (email over SMTP to the mail sink, webhooks to a local HTTP sink)',
    db,
    tables: ['users'],
    settings: { users: USERS, webhooks: WEBHOOKS, send_concurrency: CONCURRENCY, smtp_connections: SMTP_CONNECTIONS },
  });

  const emailSegment = await server.call('POST', '/admin/segments', { name: 'Everyone', filter: { filter: 'custom_attribute', attribute: 'bench', op: 'equals', value: 'email' } });
  const hookSegment = await server.call('POST', '/admin/segments', { name: 'Hooks', filter: { filter: 'custom_attribute', attribute: 'hook', op: 'equals', value: 'yes' } });
  const campaign = await server.call('POST', '/admin/campaigns', {
    name: 'Bench email',
    channel: 'email',
    audience: { segment_id: emailSegment.body.id },
    from: { address: 'bench@rivulet.test', name: 'Bench' },
    variants: [{ id: 'a', percent: 100, email: { subject: '{{${first_name}}}, your weekend picks', html: '<p>Hi {{${first_name}}},</p><p>Tonight: <a href="https://films.example/weekend">Night Train</a>.</p>' } }],
  });
  if (campaign.status !== 201) throw new Error(JSON.stringify(campaign.body));

  // The baseline before the campaign too (a process of its own, so the RSS below is Rivulet's alone);
  // with the one after it, the ratio is taken against their mean, which a load that moves hurts less.
  const baselineBefore = await baseline(sink.smtpUrl, Math.min(USERS, 20_000));
  log(`baseline before (nodemailer, pre-rendered, ${Math.min(USERS, 20_000).toLocaleString('en')} emails): ${Math.round(baselineBefore).toLocaleString('en')} emails/s`);
  await sink.clear();
  let peakRss = process.memoryUsage().rss;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 100);
  const launchedAt = performance.now();
  counting = PROFILE;
  const launched = await server.call('POST', `/admin/campaigns/${campaign.body.id}/launch`);
  if (launched.status !== 201) throw new Error(JSON.stringify(launched.body));
  await until('the first delivery', async () => (await sink.messages()) > 0, 120_000, 10);
  const firstMs = performance.now() - launchedAt;
  log(`first delivery ${Math.round(firstMs)} ms after the launch`);
  let lastSay = 0;
  await until(
    'every email',
    async () => {
      const n = await sink.messages();
      if (Date.now() - lastSay > 10_000) {
        lastSay = Date.now();
        log(`  ${n.toLocaleString('en')} / ${USERS.toLocaleString('en')} at ${Math.round(n / ((performance.now() - launchedAt) / 1000))}/s, rss ${Math.round(peakRss / 2 ** 20)} MiB`);
      }
      return n >= USERS;
    },
    3_600_000,
    200,
  );
  const emailSeconds = (performance.now() - launchedAt) / 1000;
  counting = false;
  if (PROFILE) {
    const total = [...statements.values()].reduce((a, b) => a + b, 0);
    log(`profile: ${total.toLocaleString('en')} statements (${(total / USERS).toFixed(2)} per email), ${transactions.toLocaleString('en')} transactions (${(transactions / USERS).toFixed(3)} per email)`);
    for (const [sql, n] of [...statements].sort((a, b) => b[1] - a[1]).slice(0, 20)) log(`  ${String(n).padStart(9)}  ${(n / USERS).toFixed(3)}/email  ${sql}`);
  }
  const emailRate = USERS / emailSeconds;
  const emailRss = peakRss;

  const hook = await server.call('POST', '/admin/campaigns', {
    name: 'Bench webhook',
    channel: 'webhook',
    audience: { segment_id: hookSegment.body.id },
    variants: [{ id: 'a', percent: 100, webhook: { url: `${hooks.url}/in`, method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"user":"{{${user_id}}}","name":"{{${first_name}}}"}' } }],
  });
  if (hook.status !== 201) throw new Error(JSON.stringify(hook.body));
  const hookStart = performance.now();
  await server.call('POST', `/admin/campaigns/${hook.body.id}/launch`);
  await until('every webhook', async () => (await hooks.count()) >= WEBHOOKS, 3_600_000, 200);
  const hookRate = WEBHOOKS / ((performance.now() - hookStart) / 1000);
  clearInterval(sampler);

  // The baseline again after the campaigns: raw nodemailer, the same sink (emptied), the same SMTP
  // connections and concurrency.
  await sink.clear();
  const baselineAfter = await baseline(sink.smtpUrl, USERS);
  log(`baseline after (nodemailer, pre-rendered): ${Math.round(baselineAfter).toLocaleString('en')} emails/s`);
  const baselineRate = (baselineBefore + baselineAfter) / 2;

  const mb = (b: number) => Math.round(b / 2 ** 20);
  log('');
  log(`emails:    ${USERS.toLocaleString('en')} in ${emailSeconds.toFixed(1)} s = ${Math.round(emailRate).toLocaleString('en')}/s (goal ≥ 5,000)`);
  log(`baseline:  ${Math.round(baselineBefore).toLocaleString('en')}/s before, ${Math.round(baselineAfter).toLocaleString('en')}/s after; ratio ${(emailRate / baselineRate).toFixed(2)}× to their mean (goal ≥ 0.8×)`);
  log(`first:     ${Math.round(firstMs)} ms from launch to the first delivery (goal < 2,000 ms)`);
  log(`webhooks:  ${WEBHOOKS.toLocaleString('en')} at ${Math.round(hookRate).toLocaleString('en')}/s (goal ≥ 10,000)`);
  log(`peak RSS:  ${mb(emailRss)} MiB during the email send, ${mb(peakRss)} MiB overall (goal < 300 MB; the sinks run in their own processes)`);
  conditions.end();
} finally {
  await server.close();
  for (const c of children) c.kill('SIGTERM');
}
