/**
 * `npm run demo`: the whole integration in one command, for a newcomer. It starts Rivulet on a
 * fresh embedded store and the Mixpanel emulator beside it, then plays both sides:
 *
 *   1. seeds 10,000 users through the REST API — identified, alias-only and anonymous;
 *   2. generates a data import key and has the emulator's webhook sender push a dynamic cohort
 *      (re-synced every 30 s while its membership churns), plus a pull connection for a second one;
 *   3. saves segments on the imported cohort;
 *   4. launches a Mixpanel Current pointed at the emulator and sends events (REST and Currents);
 *   5. sends an email campaign to the cohort's segment through the mail sink (real SMTP), opens and
 *      clicks some of the messages over HTTP, and waits until their engagement events (Send,
 *      Delivery, Open, Click) reach the Mixpanel emulator through the Current;
 *   6. runs a Canvas on the same cohort: a welcome email, a day's Delay (30 s in the demo only),
 *      Action Paths on a purchase (some entrants buy, over the REST API), a thank-you email, the end;
 *      prints each step's figures from the step statistics;
 *   7. prints the dashboard URL, the admin password and what to look at, and keeps events and
 *      cohort changes flowing until Ctrl-C.
 *
 * Everything goes through the public APIs (REST, admin, partner webhook, emulator control), so what
 * the dashboard shows is what a real deployment would.
 */
import { existsSync, rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config.js';
import { buildMixpanelEmulator } from '../src/emulator/mixpanel/index.js';
import { startMailSink } from '../src/emulator/mail-sink/index.js';
import { createRivulet } from '../src/server.js';
import { heldLock } from '../src/storage/index.js';
import { DASHBOARD_DIR } from '../src/web/server/index.js';
import { createApiKey, DEFAULT_WORKSPACE, ensureWorkspace, PERMISSIONS } from '../src/workspaces/index.js';

const USERS = { identified: 7_000, aliasOnly: 2_000, anonymous: 1_000 };
const PROJECT = { project_id: '3141592', token: 'demo-project-token', api_secret: 'demo-api-secret' };
const SERVICE_ACCOUNT = { username: 'rivulet-demo.sa', secret: 'demo-service-account-secret', role: 'owner' };
const COHORTS = {
  pushed: { id: '1001', name: 'Weekend bingers' },
  pulled: { id: '1002', name: 'Churn risk' },
};
const SYNC_EVERY_SECONDS = 30;
/** Users the demo's Canvas takes in (its entry limit). */
const CANVAS_ENTRIES = 300;
const PLANS = ['free', 'pro', 'family'];
const COUNTRIES = ['US', 'DE', 'FR', 'BR', 'IN', 'JP'];
const MOVIES = ['The Sad Egg', 'Night Train', 'Blue Harbour', 'Paper Moon', 'Iron Orchard'];

const externalId = (i: number) => `user_${String(i).padStart(5, '0')}`;
const step = (text: string) => process.stdout.write(`• ${text}\n`);

async function freePort(preferred: number): Promise<number> {
  const tryPort = (port: number) =>
    new Promise<number>((resolve, reject) => {
      const probe = createServer();
      probe.once('error', reject);
      probe.listen(port, '127.0.0.1', () => {
        const { port: got } = probe.address() as { port: number };
        probe.close(() => resolve(got));
      });
    });
  return tryPort(preferred).catch(() => tryPort(0));
}

/** Runs `fn` over `items`, `width` at a time. */
async function pool<T>(items: T[], width: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < items.length) await fn(items[next++]!);
  }));
}

function chunks<T>(list: T[], size: number): T[][] {
  return Array.from({ length: Math.ceil(list.length / size) }, (_, i) => list.slice(i * size, (i + 1) * size));
}

function client(base: string, headers: Record<string, string> = {}) {
  return async function call<T = any>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(base + path, {
      method,
      headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path} → ${res.status}: ${text.slice(0, 500)}`);
    return (text ? JSON.parse(text) : undefined) as T;
  };
}

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/**
 * The demo's own store (unless RIVULET_DATA_DIR names one to keep): removed with its master.key on
 * Ctrl-C, SIGTERM, a failure or any other exit, so no key is ever left in the temp folder.
 */
let temporaryStore: string | undefined;
function removeTemporaryStore(): void {
  if (!temporaryStore) return;
  rmSync(temporaryStore, { recursive: true, force: true });
  temporaryStore = undefined;
}
process.on('exit', removeTemporaryStore);
// Until the demo is up, a signal just exits (and the exit handler removes the store).
let onSignal: () => void = () => process.exit(130);
process.on('SIGINT', () => onSignal());
process.on('SIGTERM', () => onSignal());

async function main(): Promise<void> {
  const started = Date.now();
  if (!process.env.RIVULET_DATA_DIR) temporaryStore = await mkdtemp(join(tmpdir(), 'rivulet-demo-'));
  const dataDir = process.env.RIVULET_DATA_DIR || temporaryStore!;
  const port = await freePort(Number(process.env.PORT ?? 3000));
  const publicUrl = `http://127.0.0.1:${port}`;
  // The mail sink first: Rivulet's email campaigns send to it (SMTP_URL).
  const sink = await startMailSink();
  const config = loadConfig({ ...process.env, PORT: String(port), HOST: '127.0.0.1', RIVULET_DATA_DIR: dataDir, RIVULET_PUBLIC_URL: publicUrl, DATABASE_URL: '', SMTP_URL: sink.smtpUrl, RIVULET_SEND_POLL_MS: '200' });

  if (!existsSync(`${DASHBOARD_DIR}index.html`)) {
    step('Building the dashboard (npm run build does this too)…');
    const { build } = await import('vite');
    await build({ configFile: new URL('../src/web/app/vite.config.ts', import.meta.url).pathname, logLevel: 'warn', mode: 'production' });
  }
  step(`Starting Rivulet on the embedded store in ${dataDir}`);
  const rivulet = await createRivulet(config, { logger: Boolean(process.env.LOG_LEVEL) });
  await rivulet.app.listen({ port, host: '127.0.0.1' });
  await heldLock(dataDir)?.update({ url: `http://127.0.0.1:${port}` }); // the CLI beside the demo goes through it
  const emulator = buildMixpanelEmulator();
  await emulator.app.listen({ port: 0, host: '127.0.0.1' });
  const emulatorUrl = `http://127.0.0.1:${(emulator.app.server.address() as { port: number }).port}`;
  step(`Mixpanel emulator on ${emulatorUrl}; mail sink on ${sink.url} (SMTP ${sink.smtpUrl})`);

  let stopping = false;
  const timers: NodeJS.Timeout[] = [];
  const shutdown = async () => {
    if (stopping) return;
    stopping = true;
    process.stdout.write('\nStopping the demo…\n');
    // Whatever hangs, the process ends within 10 s (and the exit handler removes the store).
    setTimeout(() => process.exit(1), 10_000).unref();
    for (const t of timers) clearInterval(t);
    await emulator.app.close().catch(() => {});
    await rivulet.close().catch(() => {});
    await sink.close().catch(() => {});
    if (temporaryStore) await rm(temporaryStore, { recursive: true, force: true });
    temporaryStore = undefined;
    process.exit(0);
  };
  onSignal = () => void shutdown();

  const workspace = await ensureWorkspace(rivulet.db, DEFAULT_WORKSPACE);
  const { key } = await createApiKey(rivulet.db, { workspaceId: workspace.id, name: 'npm run demo', permissions: [...PERMISSIONS] });
  const api = client(publicUrl, { authorization: `Bearer ${key}` });
  const mixpanel = client(emulatorUrl);

  // 1. Users: identified (external ids, attributes, emails), alias-only (a Mixpanel id alias), anonymous (devices).
  step(`Seeding ${(USERS.identified + USERS.aliasOnly + USERS.anonymous).toLocaleString('en-US')} users…`);
  const identified = Array.from({ length: USERS.identified }, (_, k) => {
    const i = k + 1;
    return {
      external_id: externalId(i),
      first_name: `Viewer ${i}`,
      email: `viewer${i}@example.com`,
      country: COUNTRIES[i % COUNTRIES.length],
      plan: PLANS[i % PLANS.length],
      watch_hours: (i * 7) % 120,
    };
  });
  const aliasOnly = Array.from({ length: USERS.aliasOnly }, (_, k) => ({ user_alias: { alias_name: `mp_${100_000 + k}`, alias_label: 'mixpanel_id' }, _update_existing_only: false, plan: 'trial' }));
  await pool(chunks([...identified, ...aliasOnly], 75), 6, async (attributes) => void (await api('POST', '/users/track', { attributes })));
  await pool(
    Array.from({ length: USERS.anonymous }, (_, k) => k),
    12,
    async (k) => void (await api('POST', '/sdk/sessions/start', { app_id: 'web', device_id: `device-${k}`, session_id: `demo-session-${k}`, platform: 'web' })),
  );

  // 2. Mixpanel's side: a project, and a cohort that lives there (a third of the identified users,
  //    plus ids Rivulet has never seen, which the sync history counts as unmatched).
  await mixpanel('POST', '/_emulator/projects', { ...PROJECT, service_accounts: [SERVICE_ACCOUNT] });
  const member = (i: number) => ({ distinct_id: externalId(i), properties: { $email: `viewer${i}@example.com`, $first_name: `Viewer ${i}` } });
  const pushed = [...identified.keys()].filter((k) => k % 3 === 0).map((k) => member(k + 1));
  const strangers = Array.from({ length: 150 }, (_, k) => ({ distinct_id: `mixpanel-only-${k}` }));
  await mixpanel('POST', '/_emulator/cohorts', { project_id: PROJECT.project_id, ...COHORTS.pushed, description: 'Watched 3+ films on a weekend', members: [...pushed, ...strangers] });
  const churnRisk = [...identified.keys()].filter((k) => k % 10 === 7).map((k) => member(k + 1));
  await mixpanel('POST', '/_emulator/cohorts', { project_id: PROJECT.project_id, ...COHORTS.pulled, description: 'No session in 14 days', members: churnRisk });

  step('Generating a data import key and connecting the emulator\'s webhook sender (every 30 s)…');
  const importKey = await api<{ key: string; prefix: string }>('POST', '/admin/import-keys', { partner: 'mixpanel' });
  const partners = await api<{ partners: Array<{ partner: string; webhook_url: string }> }>('GET', '/admin/partners');
  const webhookUrl = partners.partners.find((p) => p.partner === 'mixpanel')!.webhook_url;
  const sync = await mixpanel<{ id: string }>('POST', '/_emulator/webhook-syncs', {
    project_id: PROJECT.project_id,
    url: webhookUrl,
    username: 'mixpanel',
    password: importKey.key,
    cohort_ids: [COHORTS.pushed.id],
    properties: ['$first_name'],
    schedule: { every_seconds: SYNC_EVERY_SECONDS },
  });
  const cohorts = await until('the pushed cohort to arrive', async () => {
    const list = await api<{ cohorts: Array<{ id: string; cohort_id: string; name: string; member_count: number }> }>('GET', '/admin/cohorts');
    const found = list.cohorts.find((c) => c.cohort_id.endsWith(`:${COHORTS.pushed.id}`));
    return found && found.member_count > 0 ? list : undefined;
  });
  const cohort = cohorts.cohorts.find((c) => c.cohort_id.endsWith(`:${COHORTS.pushed.id}`))!;

  step('Adding a pull connection (engage API) for a second cohort…');
  await api('POST', '/admin/mixpanel/connections', {
    name: 'Demo project (pull)',
    project_id: PROJECT.project_id,
    base_url: emulatorUrl,
    service_account: { username: SERVICE_ACCOUNT.username, secret: SERVICE_ACCOUNT.secret },
    cohort_ids: [COHORTS.pulled.id],
    mode: 'dynamic',
    interval_minutes: 5,
  });

  // 3. Segments on the imported cohort.
  step('Saving segments on the imported cohort…');
  const inCohort = { filter: 'Mixpanel_Cohorts', op: 'includes', value: cohort.id };
  // A data dir kept from an earlier run (RIVULET_DATA_DIR) already has them: reuse by name.
  const saveSegment = async (segment: { name: string; description?: string; filter: unknown }) => {
    const existing = (await api<{ segments: Array<{ id: string; name: string }> }>('GET', '/admin/segments')).segments.find((x) => x.name === segment.name);
    return existing ? api<{ id: string }>('PUT', `/admin/segments/${existing.id}`, segment) : api<{ id: string }>('POST', '/admin/segments', segment);
  };
  const bingers = await saveSegment({ name: `Mixpanel: ${cohort.name}`, description: 'Mixpanel_Cohorts includes the pushed cohort', filter: { and: [inCohort] } });
  await saveSegment({
    name: `${cohort.name} on the pro plan, or heavy watchers`,
    filter: {
      and: [
        inCohort,
        { or: [{ filter: 'custom_attribute', attribute: 'plan', op: 'equals', value: 'pro' }, { filter: 'custom_attribute', attribute: 'watch_hours', op: 'greater_than', value: 100 }] },
      ],
    },
  });
  const reach = await api<{ count: number }>('GET', `/admin/segments/${bingers.id}/count`);

  // 4. A Mixpanel Current pointed at the emulator, then events.
  step('Launching a Mixpanel Current pointed at the emulator…');
  const catalogue = await api<{ groups: Array<{ label: string; types: Array<{ type: string }> }> }>('GET', '/admin/currents/event-types');
  const eventTypes = catalogue.groups.filter((g) => g.label === 'Behaviors' || g.label === 'Messages').flatMap((g) => g.types.map((t) => t.type));
  const current = await api<{ id: string }>('POST', '/admin/currents/mixpanel', {
    name: 'Mixpanel (emulator)',
    contact_email: 'ops@example.com',
    credentials: { kind: 'service_account', username: SERVICE_ACCOUNT.username, secret: SERVICE_ACCOUNT.secret, project_id: PROJECT.project_id },
    project_token: PROJECT.token,
    region: 'US',
    event_types: eventTypes,
    base_url: emulatorUrl,
  });

  let sentEvents = 0;
  const sendEvents = async (count: number) => {
    const now = new Date().toISOString();
    const events = Array.from({ length: count }, (_, k) => {
      const i = 1 + Math.floor(Math.random() * USERS.identified);
      return { external_id: externalId(i), name: 'rented_movie', time: now, properties: { title: MOVIES[(i + k) % MOVIES.length], hd: k % 2 === 0 } };
    });
    const purchases = events.slice(0, Math.ceil(count / 10)).map((e) => ({ external_id: e.external_id, product_id: 'monthly_pass', currency: 'USD', price: 9.99, time: now }));
    for (const batch of chunks(events, 75)) await api('POST', '/users/track', { events: batch, purchases: purchases.splice(0, 75) });
    const messages = events.slice(0, Math.ceil(count / 5)).map((e, k) => ({
      event_type: k % 2 ? 'users.messages.email.Open' : 'users.messages.email.Send',
      id: `demo-msg-${Date.now()}-${k}`,
      time: Math.floor(Date.now() / 1000),
      user: { external_user_id: e.external_id },
      properties: { email_address: `viewer${Number(e.external_id.slice(5))}@example.com`, campaign_id: 'welcome', campaign_name: 'Welcome series' },
    }));
    const published = await api<{ errors?: unknown[] }>('POST', '/currents/events', { events: messages }).catch((err: Error) => ({ errors: [err.message] }));
    if (published.errors?.length && sentEvents === 0) process.stdout.write(`  (some message events were refused: ${JSON.stringify(published.errors[0]).slice(0, 200)})\n`);
    sentEvents += events.length + messages.length;
  };
  step('Sending events through the REST API (/users/track) and the Currents publish API…');
  await sendEvents(1500);

  // 5. An email campaign to the cohort's segment, through the mail sink, and its engagement back in Mixpanel.
  step(`Sending an email campaign to "${cohort.name}" (${reach.count.toLocaleString('en-US')} users, 10 % control) through the mail sink…`);
  const campaign = await api<{ id: string }>('POST', '/admin/campaigns', {
    name: `${cohort.name}: weekend picks`,
    channel: 'email',
    audience: { segment_id: bingers.id },
    from: { address: 'picks@rivulet-demo.test', name: 'Rivulet Films' },
    control_percent: 10,
    variants: [
      { id: 'poster', name: 'Poster', percent: 45, email: { subject: '{{${first_name} | default: "Hi"}}, your weekend picks', html: '<p>Hi {{${first_name}}}, <a href="https://films.example/weekend">tonight: Night Train</a></p>' } },
      { id: 'list', name: 'List', percent: 45, email: { subject: 'Five films for your weekend, {{${first_name}}}', html: '<ul><li>Night Train</li><li>Paper Moon</li></ul><p><a href="https://films.example/list">See all</a></p>' } },
    ],
  });
  await api('POST', `/admin/campaigns/${campaign.id}/launch`);
  type Progress = { dispatches: Array<{ state: string; queued: number; sent: number; total: number; control: number }> };
  const done = await until('the campaign to be sent', async () => {
    const d = (await api<Progress>('GET', `/admin/campaigns/${campaign.id}/progress`)).dispatches[0];
    return d && d.state === 'resolved' && d.queued === 0 ? d : undefined;
  }, 300_000);
  const inbox = (await (await fetch(`${sink.url}/messages?limit=1000`)).json()) as { messages: Array<{ id: string }> };
  const opened = inbox.messages.slice(0, Math.min(300, inbox.messages.length));
  await pool(opened, 8, async (m) => void (await fetch(`${sink.url}/messages/${m.id}/open`, { method: 'POST' })));
  const clicked = opened.slice(0, 80);
  await pool(clicked, 8, async (m) => void (await fetch(`${sink.url}/messages/${m.id}/click`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"index":0}' })));
  step(`  ${done.sent.toLocaleString('en-US')} emails delivered to the sink (${done.control} held out as control); ${opened.length} opened and ${clicked.length} clicked over HTTP`);
  const engagement = await until('the campaign\'s engagement events to reach the Mixpanel emulator', async () => {
    const page = await mixpanel<{ events: Array<{ event: string; properties: Record<string, unknown> }> }>('GET', `/_emulator/events?project_id=${PROJECT.project_id}`);
    const counts: Record<string, number> = {};
    for (const e of page.events) if (e.properties.campaign_id === campaign.id) counts[e.event] = (counts[e.event] ?? 0) + 1;
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    return total >= done.sent * 2 + opened.length + clicked.length ? counts : undefined;
  }, 300_000);
  step(`  in the Mixpanel emulator: ${Object.entries(engagement).map(([k, v]) => `${k} × ${v}`).join(', ')}`);

  // 6. A Canvas on the same cohort: welcome email → "1 day" → did they buy? → a thank-you email → out.
  //    The day is 30 s and the purchase window 60 s in the demo only; the builder shows the real units.
  step(`Running a Canvas on "${cohort.name}": welcome email → 1 day (30 s in this demo) → purchase within 2 days (60 s) → thank-you email → exit…`);
  const canvas = await api<{ id: string }>('POST', '/admin/canvases', {
    name: `${cohort.name}: welcome journey`,
    entry: { type: 'scheduled', segment_id: bingers.id },
    entry_limit: CANVAS_ENTRIES,
    from: { address: 'hello@rivulet-demo.test', name: 'Rivulet Films' },
    steps: [
      { id: 'welcome', name: 'Welcome email', type: 'message', email: { subject: 'Welcome to Rivulet Films, {{${first_name}}}', html: '<p>Your first film is on us: <a href="https://films.example/start">start watching</a></p>' }, next: 'day' },
      { id: 'day', name: '1 day (30 s in the demo)', type: 'delay', delay: { seconds: 30 }, next: 'bought' },
      { id: 'bought', name: 'Bought a pass?', type: 'action_paths', window_seconds: 60, paths: [{ name: 'Purchased', event: { kind: 'purchase' }, next: 'thanks' }], everyone_else: null },
      { id: 'thanks', name: 'Thank-you email', type: 'message', email: { subject: 'Thanks for your pass, {{${first_name}}}', html: '<p>Enjoy the weekend picks.</p>' }, next: null },
    ],
  });
  await api('POST', `/admin/canvases/${canvas.id}/launch`);
  type StepFigures = { step_id: string; entered: number; advanced: number; exited: number; in_step: number };
  type CanvasFigures = { totals: { entries: number; in_canvas: number; completed: number; exited: number }; steps: StepFigures[] };
  const figures = async () => {
    const f = await api<CanvasFigures>('GET', `/admin/canvases/${canvas.id}/step-stats`);
    return { ...f, at: Object.fromEntries(f.steps.map((x) => [x.step_id, x])) as Record<string, StepFigures> };
  };
  const listening = await until('every entrant to reach the purchase check', async () => {
    const f = await figures();
    return f.totals.entries > 0 && f.totals.in_canvas === f.at.bought!.in_step ? f : undefined;
  }, 300_000);
  step(`  ${listening.totals.entries} users entered; ${listening.at.welcome!.advanced} welcome emails went out; after the day all ${listening.at.bought!.in_step} wait up to 2 days for a purchase`);
  const waiting = await api<{ users: Array<{ external_id: string | null }> }>('GET', `/admin/canvases/${canvas.id}/steps/bought/users?limit=500`);
  const buyers = waiting.users.filter((u, k) => u.external_id && k % 3 === 0).map((u) => u.external_id!);
  const now = new Date().toISOString();
  for (const batch of chunks(buyers, 75)) await api('POST', '/users/track', { purchases: batch.map((external_id) => ({ external_id, product_id: 'monthly_pass', currency: 'USD', price: 9.99, time: now })) });
  step(`  ${buyers.length} of them buy a monthly pass (tracked through /users/track); the others let the window run out…`);
  const finished = await until('every Canvas entry to finish', async () => {
    const f = await figures();
    return f.totals.in_canvas === 0 && f.at.thanks!.advanced >= buyers.length ? f : undefined;
  }, 300_000);
  step(`  ${finished.at.thanks!.entered} took the purchase path and got the thank-you email; ${finished.at.bought!.advanced - finished.at.thanks!.entered} left when the window ended; ${finished.totals.completed} journeys completed`);

  // Keep it alive: events every 2 s; Mixpanel's cohort churns before each webhook sync.
  timers.push(setInterval(() => void sendEvents(40).catch(() => undefined), 2_000));
  timers.push(
    setInterval(() => {
      const add = Array.from({ length: 60 }, () => member(1 + Math.floor(Math.random() * USERS.identified)));
      const remove = pushed.slice(0).sort(() => Math.random() - 0.5).slice(0, 35).map((m) => m.distinct_id);
      void mixpanel('POST', `/_emulator/cohorts/${COHORTS.pushed.id}/members`, { project_id: PROJECT.project_id, members: add })
        .then(() => mixpanel('POST', `/_emulator/cohorts/${COHORTS.pushed.id}/members/remove`, { project_id: PROJECT.project_id, distinct_ids: remove }))
        .catch(() => undefined);
    }, SYNC_EVERY_SECONDS * 1000),
  );

  const password = process.env.RIVULET_ADMIN_PASSWORD ?? rivulet.generatedAdminPassword ?? '(the one printed when this data dir was first used)';
  const line = '─'.repeat(78);
  await rivulet.adminPasswordShown();
  process.stdout.write(
    [
      '',
      line,
      ` Rivulet demo is running (ready in ${Math.round((Date.now() - started) / 1000)} s).`,
      line,
      ` Dashboard        ${publicUrl}/dashboard/`,
      ` Admin password   ${password}`,
      ` Mixpanel (emu)   ${emulatorUrl}   events: ${emulatorUrl}/_emulator/events?project_id=${PROJECT.project_id}`,
      ` REST API key     ${key.slice(0, 14)}… (admin + every permission; see ${publicUrl}/docs)`,
      '',
      ' What to look at:',
      `  1. Technology Partners › Mixpanel: the REST endpoint, the data import key ${importKey.prefix}… the`,
      `     emulator pushes with, the webhook URL, the pull connection, and the sync history (every ${SYNC_EVERY_SECONDS} s:`,
      '     a full "members" export first, then add_members / remove_members diffs with unmatched counts).',
      `  2. Cohorts › ${cohort.name}: ${cohort.member_count.toLocaleString('en-US')} members matched of ${(pushed.length + strangers.length).toLocaleString('en-US')} sent; adds and removes per day.`,
      `     "${COHORTS.pulled.name}" arrives through pull mode (engage API) within a minute.`,
      `  3. Segments › Mixpanel: ${cohort.name}: ${reach.count.toLocaleString('en-US')} reachable users; edit the filter and watch the count.`,
      '  4. Currents › Mixpanel (emulator): delivered count, throughput and lag, skips and dead letters.',
      `     ${sentEvents.toLocaleString('en-US')} events sent so far; 40 more every 2 s.`,
      `  5. Users: look up ${externalId(3)} (external id), mp_100000 / mixpanel_id (alias) or device-1 (device id).`,
      '  6. Usage: data points per day (one per user added to or removed from a cohort).',
      `  7. Campaigns › ${cohort.name}: weekend picks: sent, delivered, opens and clicks per variant and control;`,
      `     the messages themselves at ${sink.url}/messages; \`rivulet campaigns progress ${campaign.id}\`.`,
      `  8. Canvases › ${cohort.name}: welcome journey: the diagram with entered, advanced and in-step figures per`,
      '     step; select a step to see who is in it. A user\'s page lists the Canvases they are in and where.',
      '',
      ` Current ${current.id} · webhook sync ${sync.id}. Press Ctrl-C to stop${process.env.RIVULET_DATA_DIR ? '' : ' (the demo store is deleted)'}.`,
      line,
      '',
    ].join('\n'),
  );
}

main().catch((err: unknown) => {
  console.error('The demo failed:', err);
  process.exit(1);
});
