/**
 * Workspace isolation on every route. Two workspaces, A and B, each with a key holding every
 * permission and each with data of every kind: users (aliases, devices, emails), events, data
 * import keys, cohorts from the partner API and the webhook, sync history and data points, a
 * partner setting, segments, a Currents connector with dead letters, a pull connection, REST keys.
 *
 * The route list is read from Fastify itself (`printRoutes`), not written down here: a route
 * without a case below (or a case for a route that no longer exists) fails the test, so a new
 * route cannot be forgotten. Each case drives its route with A's credentials and B's identifiers
 * (B's ids in the path, B's external ids, cohort ids, event ids and dead-letter ids in the body)
 * and checks that:
 * - nothing A receives, on any route, mentions anything of B (a list of B's markers is searched
 *   in every response body);
 * - B's rows in every table are unchanged at the end (a digest per table, taken before and after;
 *   a table the snapshot does not know fails the test too);
 * - B's keys and import key still work, and B still sees its own data.
 */
process.env.RIVULET_CURRENTS_DELAY_SCALE = '0.002';
process.env.RIVULET_CURRENTS_RECONCILE_MS = '200';
process.env.RIVULET_CURRENTS_IDLE_POLL_MS = '50';
process.env.RIVULET_CURRENTS_NOTIFICATION_POLL_MS = '100';
const ADMIN_PASSWORD = 'isolation-admin-password-0123456789';

import { createECDH, generateKeyPairSync, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningMixpanelEmulator } from '../src/emulator/mixpanel/index.js';
import { TEST_BACKEND } from '../src/test-support/db.js';
import { startTestServer, TEST_PARTNER_KEY, type CallResult, type TestServer } from '../src/test-support/server.js';
import { PERMISSIONS } from '../src/workspaces/index.js';
import { connectorBody, projectCreds, startEmulator, waitFor } from './currents-support.js';

const PA = projectCreds('6101');
const PB = projectCreds('6102');
const TYPES = ['users.behaviors.CustomEvent', 'users.behaviors.Purchase'];
let s: TestServer;
let mp: RunningMixpanelEmulator;

interface Tenant {
  name: string;
  key: string;
  workspaceId: string;
  importKey: string;
  importKeyPrefix: string;
  secondKeyPrefix: string;
  brazeId: string;
  cohortId: string;
  webhookCohortId: string;
  segmentId: string;
  connectorId: string;
  deadLetterId: string;
  connectionId: string;
  eventId: string;
  campaignId: string;
  canvasId: string;
}
const A = {} as Tenant;
const B = {} as Tenant;

const basic = (password: string) => `Basic ${Buffer.from(`mixpanel:${password}`).toString('base64')}`;
const asA = <T = any>(method: string, path: string, body?: unknown, opts: Parameters<TestServer['call']>[3] = {}) => s.call<T>(method, path, body, { key: A.key, ...opts });
const asB = <T = any>(method: string, path: string, body?: unknown) => s.call<T>(method, path, body, { key: B.key });

async function ok(r: Promise<CallResult>, status = [200, 201]): Promise<any> {
  const res = await r;
  expect(status, JSON.stringify(res.body)).toContain(res.status);
  return res.body;
}

/** The same kinds of data in a workspace, named after it (`iso-a-…` / `iso-b-…`). */
async function seed(t: Tenant, project: typeof PA): Promise<void> {
  const p = `iso-${t.name}`;
  const call = (m: string, path: string, body?: unknown) => s.call(m, path, body, { key: t.key });
  const users = Array.from({ length: 30 }, (_, i) => ({ external_id: `${p}-user-${i}`, email: `${p}-user-${i}@example.com`, nickname: `${p}-nick-${i}`, plan: i % 2 ? 'pro' : 'free' }));
  await ok(call('POST', '/users/track', { attributes: users }));
  await ok(call('POST', '/users/alias/new', { user_aliases: [{ alias_name: `${p}-alias`, alias_label: 'mixpanel_id', external_id: `${p}-user-1` }] }));
  await ok(call('POST', '/sdk/sessions/start', { app_id: `${p}-app`, device_id: `${p}-device`, session_id: `${p}-session` }));
  t.brazeId = (await ok(call('POST', '/users/export/ids', { external_ids: [`${p}-user-0`] }))).users[0].braze_id;

  // Currents: a connector, then events (one with too many properties: a dead letter).
  const connector = await ok(call('POST', '/admin/currents/mixpanel', connectorBody(mp.url, project, { name: `${p}-connector`, event_types: TYPES })));
  t.connectorId = connector.id;
  const wide = Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`${p}_prop_${i}`, i]));
  const time = new Date(Date.now() - 60_000).toISOString();
  await ok(call('POST', '/users/track', { events: [{ external_id: `${p}-user-2`, name: `${p}-event`, time }, { external_id: `${p}-user-3`, name: `${p}-wide`, time, properties: wide }] }));
  t.eventId = randomUUID();
  await ok(call('POST', '/currents/events', { events: [{ event_type: 'users.messages.email.Open', id: t.eventId, time: Math.floor(Date.now() / 1000) - 60, user: { external_user_id: `${p}-user-4` }, properties: { email_address: `${p}@example.com`, campaign_id: `${p}-campaign` } }] }));
  const letters = await waitFor(async () => {
    const r = (await call('GET', `/admin/currents/${t.connectorId}/dead-letters`)).body.dead_letters as Array<{ id: string }>;
    return r.length ? r : undefined;
  }, `${p}'s dead letter`, 30_000);
  t.deadLetterId = String(letters[0]!.id);
  // Paused, so that B's cursor and counters hold still while the routes are driven.
  await ok(call('POST', `/admin/currents/${t.connectorId}/pause`));

  // Cohort import: an import key, the partner API and the webhook (sync history, data points).
  const ik = await ok(call('POST', '/admin/import-keys', { partner: 'mixpanel' }));
  t.importKey = ik.key;
  t.importKeyPrefix = ik.prefix;
  const secret = { partner_api_key: TEST_PARTNER_KEY, client_secret: t.importKey };
  await ok(s.call('POST', '/partners/mixpanel/cohorts', { ...secret, cohort_id: 'shared-cohort', name: `${p}-cohort`, created_at: '2026-01-01T00:00:00Z' }, { key: null }));
  await ok(s.call('POST', '/partners/mixpanel/cohorts/users', { ...secret, cohort_id: 'shared-cohort', cohort_changes: [{ user_ids: users.slice(0, 20).map((u) => u.external_id) }] }, { key: null }));
  const hook = { action: 'members', parameters: { mixpanel_project_id: 42, mixpanel_cohort_id: '77', mixpanel_cohort_name: `${p}-hooked`, mixpanel_session_id: `${p}-sess`, members: users.slice(10, 15).map((u) => ({ mixpanel_distinct_id: u.external_id, email: null, first_name: null, last_name: null })) } };
  await ok(s.call('POST', '/partners/mixpanel/webhook', hook, { key: null, headers: { authorization: basic(t.importKey) } }));
  await ok(call('PUT', '/admin/partners/mixpanel', { match_key: 'email' }));
  const cohorts = (await ok(call('GET', '/admin/cohorts'))).cohorts as Array<{ id: string; name: string }>;
  t.cohortId = cohorts.find((c) => c.name === `${p}-cohort`)!.id;
  t.webhookCohortId = cohorts.find((c) => c.name === `${p}-hooked`)!.id;

  // A segment over the workspace's cohort, a pull connection, a second REST key.
  const catalogue = await ok(call('GET', '/admin/segments/filters'));
  const cohortFilter = catalogue.filters.find((f: { filter: string }) => f.filter === 'Mixpanel_Cohorts').cohorts.find((c: { name: string }) => c.name === `${p}-cohort`).id;
  t.segmentId = (await ok(call('POST', '/admin/segments', { name: `${p}-segment`, filter: { and: [{ filter: 'Mixpanel_Cohorts', op: 'includes', value: cohortFilter }] } }))).id;
  // Disabled: its first run (at once, asynchronous) would write sync history while B's tables are compared.
  const connection = await ok(call('POST', '/admin/mixpanel/connections', { name: `${p}-pull`, project_id: project.projectId, base_url: mp.url, service_account: { username: project.username, secret: project.secret }, cohort_ids: [9], mode: 'dynamic', interval_minutes: 1440, enabled: false }));
  t.connectionId = connection.id;
  // A campaign over the segment, left a draft (a launch would send while B's tables are compared).
  t.campaignId = (await ok(call('POST', '/admin/campaigns', campaignBody(`${p}-campaign`, t.segmentId)))).id;
  // A Canvas over the segment, left a draft.
  t.canvasId = (await ok(call('POST', '/admin/canvases', canvasBody(`${p}-canvas`, t.segmentId)))).id;
  t.secondKeyPrefix = (await ok(call('POST', '/admin/keys', { name: `${p}-second-key`, permissions: ['users.track'] }))).prefix;
}

function canvasBody(name: string, segmentId: string) {
  return { name, entry: { type: 'api', segment_id: segmentId }, from: { address: 'news@example.com' }, steps: [{ id: 'm', type: 'message', email: { subject: 'Hi', html: '<p>Hi</p>' }, next: null }] };
}

function campaignBody(name: string, segmentId: string) {
  return { name, channel: 'email', audience: { segment_id: segmentId }, from: { address: 'news@example.com' }, variants: [{ id: 'a', percent: 100, email: { subject: 'Hi', html: '<p>Hi</p>' } }] };
}

/**
 * Strings of B's data that A never sends: none may appear in anything A receives. (B's ids and
 * external ids that A does send, in paths and bodies, may come back as an echo of A's own input.)
 */
function markersOf(t: Tenant): string[] {
  const p = `iso-${t.name}`;
  return [
    ...['cohort', 'hooked', 'segment', 'connector', 'pull', 'second-key', 'app', 'session', 'campaign', 'canvas', 'event', 'wide', 'nick', 'sess'].map((n) => `${p}-${n}`),
    `${p}_prop_`,
    `"${p}-user-3"`,
    `${p}-user-3@`,
    t.workspaceId,
    t.importKey,
    t.key,
  ];
}

/** Every table's rows that belong to a workspace, as one digest per table. */
const VOLATILE = ['last_used_at', 'lease_owner', 'lease_expires_at', 'cursor_moved_at', 'updated_at', 'next_run_at', 'last_run_at', 'run_owner', 'run_started_at', 'last_seen_at'];
/** Caches a server rewrites on its own timer (segment_bitmaps), not a workspace's data to compare before and after. */
const CACHES = new Set(['segment_bitmaps']);
const OWNED_THROUGH: Record<string, string> = {
  user_event_stats: 'user_id IN (SELECT id FROM users WHERE workspace_id = $1)',
  cohort_members: 'cohort_id IN (SELECT id FROM cohorts WHERE workspace_id = $1)',
  webhook_pages: 'cohort_id IN (SELECT id FROM cohorts WHERE workspace_id = $1)',
  pull_snapshots: 'connection_id IN (SELECT id FROM mixpanel_connections WHERE workspace_id = $1)',
  currents_counters: 'connector_id IN (SELECT id FROM currents_connectors WHERE workspace_id = $1)',
  currents_dead_letters: 'connector_id IN (SELECT id FROM currents_connectors WHERE workspace_id = $1)',
  currents_backfills: 'connector_id IN (SELECT id FROM currents_connectors WHERE workspace_id = $1)',
  workspaces: 'id = $1',
  canvas_versions: 'canvas_id IN (SELECT id FROM canvases WHERE workspace_id = $1)',
  canvas_conversions: 'entry_id IN (SELECT id FROM canvas_entries WHERE workspace_id = $1)',
  canvas_step_counts: 'canvas_id IN (SELECT id FROM canvases WHERE workspace_id = $1)',
  currents_history: 'connector_id IN (SELECT id FROM currents_connectors WHERE workspace_id = $1)',
  campaign_conversions: 'send_key IN (SELECT send_key FROM campaign_sends WHERE workspace_id = $1)',
  campaign_rate_slots: 'campaign_id IN (SELECT id FROM campaigns WHERE workspace_id = $1)',
  sdk_uploaded_events: 'sdk_app_id IN (SELECT id FROM sdk_apps WHERE workspace_id = $1)',
};
/** Tables that hold no workspace's data (process-wide state). */
const NOT_OWNED = new Set(['schema_migrations', 'segment_change_horizon', 'mixpanel_query_ledger', 'dashboard_admin', 'dashboard_sessions', 'rate_limit_counters', 'worker_heartbeats', 'event_log_partitions', 'store_probe', 'deployment_identity', 'partner_api_keys', 'canvas_log_cursor', 'campaign_log_readers']);

async function snapshot(workspaceId: string): Promise<Record<string, string>> {
  const db = s.testDb.db;
  const { rows: tables } = await db.query<{ table_name: string; owned: boolean }>(
    `SELECT t.table_name, EXISTS (SELECT 1 FROM information_schema.columns c WHERE c.table_schema = t.table_schema AND c.table_name = t.table_name AND c.column_name = 'workspace_id') AS owned
       FROM information_schema.tables t WHERE t.table_schema = 'public' AND t.table_type = 'BASE TABLE' ORDER BY 1`,
  );
  const out: Record<string, string> = {};
  for (const { table_name: table, owned } of tables) {
    if (NOT_OWNED.has(table) || CACHES.has(table)) continue;
    const where = owned ? 'workspace_id = $1' : OWNED_THROUGH[table];
    if (!where) throw new Error(`table ${table} is new: say in workspace-isolation.db.test.ts how its rows belong to a workspace`);
    const { rows } = await db.query<{ n: string; digest: string | null }>(
      `SELECT count(*)::text AS n, md5(string_agg((to_jsonb(t) - $2::text[])::text, '|' ORDER BY (to_jsonb(t) - $2::text[])::text)) AS digest FROM ${table} t WHERE ${where}`,
      [workspaceId, VOLATILE],
    );
    out[table] = `${rows[0]!.n}:${rows[0]!.digest}`;
  }
  return out;
}

/** The registered routes, from Fastify's own tree: `METHOD /path/:param`. HEAD is GET's twin. */
function registeredRoutes(): string[] {
  const tree = s.rivulet.app.printRoutes({ commonPrefix: false });
  const stack: string[] = [];
  const routes = new Set<string>();
  for (const line of tree.split('\n')) {
    const m = /^([│ ]*)(?:[└├]── )(.*?) \(([A-Z, ]+)\)$/.exec(line);
    if (!m) continue;
    const depth = m[1]!.length / 4;
    stack.length = depth;
    const path = (stack[depth - 1] ?? '') + m[2]!;
    stack[depth] = path;
    for (const method of m[3]!.split(', ')) if (method !== 'HEAD') routes.add(`${method} ${path}`);
  }
  return [...routes].sort();
}

/** Routes that answer without a workspace's credentials and serve no workspace's data. */
const PUBLIC = [/^GET \/sdk\/v1\/rivulet\.js$/, /^OPTIONS \/sdk\/v1\/(batch|content_cards|in_app_messages)$/, /^GET \/sdk\/v1\/rivulet-sw\.js$/, /^OPTIONS \/sdk\/v1\/push\/\*$/, /^GET \/$/, /^GET \/(healthz|readyz|metrics|openapi\.json)$/, /^GET \/docs(\/.*)?$/, /^GET \/dashboard(\/.*|\*)?$/];

type Case = () => Promise<void>;
let markersB: string[];
let received = '';

/** A's call; its answer is kept for the marker search. */
async function a(method: string, path: string, body?: unknown, opts: Parameters<TestServer['call']>[3] = {}): Promise<CallResult> {
  const r = await asA(method, path, body, opts);
  expect(r.status, `${method} ${path} answered ${r.status}: ${JSON.stringify(r.body)}`).toBeLessThan(500);
  received += `\n${method} ${path} → ${r.status} ${typeof r.body === 'string' ? r.body : JSON.stringify(r.body)}`;
  return r;
}
/** A call without credentials to a route that names B's workspace in its path (a provider's callback): only the answer is kept for the marker search. */
async function anonymous(method: string, path: string, body: unknown, opts: Parameters<TestServer['call']>[3] = {}): Promise<CallResult> {
  const r = await s.call(method, path, body, { ...opts, key: null });
  expect(r.status, `${method} ${path} answered ${r.status}: ${JSON.stringify(r.body)}`).toBeLessThan(500);
  received += `\n${method} (B's workspace) → ${r.status} ${typeof r.body === 'string' ? r.body : JSON.stringify(r.body)}`;
  return r;
}
/** A reaching for B's object by id: the answer is 404, as for an id that does not exist. */
async function notFound(method: string, path: string, body?: unknown): Promise<void> {
  const r = await a(method, path, body);
  expect(r.status, `${method} ${path} with B's id`).toBe(404);
}
/** A listing: 200, and (checked at the end with everything else) nothing of B. */
async function listed(path: string): Promise<any> {
  const r = await a('GET', path);
  expect(r.status, path).toBe(200);
  return r.body;
}

const CASES: Record<string, Case> = {
  // Keys and the workspace.
  'GET /admin/workspace': async () => expect((await listed('/admin/workspace')).id ?? A.workspaceId).toBe(A.workspaceId),
  'GET /admin/keys': async () => void (await listed('/admin/keys')),
  'POST /admin/keys': async () => expect((await a('POST', '/admin/keys', { name: 'a-extra', permissions: ['users.track'] })).status).toBe(201),
  'POST /admin/keys/:prefix/revoke': () => notFound('POST', `/admin/keys/${B.secondKeyPrefix}/revoke`),
  // Cohort import: import keys, partners, cohorts, sync history, data points.
  'GET /admin/import-keys': async () => void (await listed('/admin/import-keys')),
  'POST /admin/import-keys': async () => expect((await a('POST', '/admin/import-keys', { partner: 'mixpanel' })).status).toBe(201),
  'POST /admin/import-keys/:prefix/rotate': () => notFound('POST', `/admin/import-keys/${B.importKeyPrefix}/rotate`),
  'POST /admin/import-keys/:prefix/invalidate': () => notFound('POST', `/admin/import-keys/${B.importKeyPrefix}/invalidate`),
  'GET /admin/partners': async () => void (await listed('/admin/partners')),
  'PUT /admin/partners/:partner': async () => expect((await a('PUT', '/admin/partners/mixpanel', { enabled: true, match_key: 'email' })).status).toBe(200),
  'GET /admin/cohorts': async () => void (await listed('/admin/cohorts')),
  'GET /admin/cohorts/:id': async () => {
    await notFound('GET', `/admin/cohorts/${B.cohortId}`);
    await notFound('GET', `/admin/cohorts/${B.webhookCohortId}`);
  },
  'GET /admin/cohort-sync-rejections': async () => void (await listed('/admin/cohort-sync-rejections')),
  'GET /admin/cohort-syncs/stale': async () => void (await listed('/admin/cohort-syncs/stale')),
  'GET /admin/cohort-syncs': async () => void (await listed('/admin/cohort-syncs?limit=1000')),
  'GET /admin/usage/data-points': async () => void (await listed('/admin/usage/data-points')),
  'POST /partners/:partner/cohorts': async () => {
    // A's import key with the cohort id B uses: A's own cohort. B's import key is B's alone; A's REST key is no import key.
    expect((await a('POST', '/partners/mixpanel/cohorts', { partner_api_key: TEST_PARTNER_KEY, client_secret: A.importKey, cohort_id: 'shared-cohort', name: 'renamed by A', created_at: '2026-01-02T00:00:00Z' }, { key: null })).status).toBe(201);
    expect((await a('POST', '/partners/mixpanel/cohorts', { partner_api_key: TEST_PARTNER_KEY, client_secret: A.key, cohort_id: 'shared-cohort', name: 'x', created_at: '2026-01-02T00:00:00Z' }, { key: null })).status).toBe(401);
  },
  'POST /partners/:partner/cohorts/users': async () => {
    const r = await a('POST', '/partners/mixpanel/cohorts/users', { partner_api_key: TEST_PARTNER_KEY, client_secret: A.importKey, cohort_id: 'shared-cohort', cohort_changes: [{ user_ids: ['iso-b-user-25', 'iso-a-user-25'] }, { user_ids: ['iso-b-user-0', 'iso-a-user-0'], should_remove: true }] }, { key: null });
    expect(r.status).toBe(201);
  },
  'POST /partners/mixpanel/webhook': async () => {
    const hook = { action: 'members', parameters: { mixpanel_project_id: 42, mixpanel_cohort_id: '77', mixpanel_cohort_name: 'hooked by A', mixpanel_session_id: 'a-sess-2', members: [{ mixpanel_distinct_id: 'iso-b-user-11', email: null, first_name: null, last_name: null }] } };
    expect((await a('POST', '/partners/mixpanel/webhook', hook, { key: null, headers: { authorization: basic(A.importKey) } })).status).toBe(200);
  },
  // Pull connections.
  'GET /admin/mixpanel/connections': async () => void (await listed('/admin/mixpanel/connections')),
  'POST /admin/mixpanel/connections': async () =>
    expect((await a('POST', '/admin/mixpanel/connections', { name: 'a-pull-2', project_id: PA.projectId, base_url: mp.url, service_account: { username: PA.username, secret: PA.secret }, cohort_ids: [8], mode: 'dynamic', interval_minutes: 1440 })).status).toBe(201),
  'GET /admin/mixpanel/connections/:id': () => notFound('GET', `/admin/mixpanel/connections/${B.connectionId}`),
  'PATCH /admin/mixpanel/connections/:id': () => notFound('PATCH', `/admin/mixpanel/connections/${B.connectionId}`, { name: 'taken over' }),
  'POST /admin/mixpanel/connections/:id/run': () => notFound('POST', `/admin/mixpanel/connections/${B.connectionId}/run`),
  'DELETE /admin/mixpanel/connections/:id': () => notFound('DELETE', `/admin/mixpanel/connections/${B.connectionId}`),
  // Currents.
  'POST /currents/events': async () => {
    // B's event id is no duplicate in A; B's internal user id does not resolve in A.
    const r = await a('POST', '/currents/events', {
      events: [
        { event_type: 'users.messages.email.Open', id: B.eventId, time: Math.floor(Date.now() / 1000) - 30, user: { external_user_id: 'iso-a-user-4' }, properties: { email_address: 'a@example.com', campaign_id: 'c' } },
        { event_type: 'users.messages.email.Open', id: randomUUID(), time: Math.floor(Date.now() / 1000) - 30, user: { user_id: B.brazeId }, properties: { email_address: 'a@example.com', campaign_id: 'c' } },
      ],
    });
    expect(r.status).toBe(201);
    expect(r.body.duplicates).toBe(0);
    const { rows } = await s.testDb.db.query<{ n: string }>('SELECT count(*)::text AS n FROM event_log WHERE workspace_id = $1 AND user_id = $2', [A.workspaceId, B.brazeId]);
    expect(rows[0]!.n).toBe('0');
  },
  'GET /admin/currents/event-types': async () => void (await listed('/admin/currents/event-types')),
  'GET /admin/currents': async () => void (await listed('/admin/currents')),
  'POST /admin/currents/mixpanel': async () => expect((await a('POST', '/admin/currents/mixpanel', connectorBody(mp.url, PA, { name: 'a-second' }))).status).toBe(201),
  'POST /admin/currents/mixpanel/test': async () => expect((await a('POST', '/admin/currents/mixpanel/test', connectorBody(mp.url, PA))).status).toBe(200),
  'GET /admin/currents/:id': () => notFound('GET', `/admin/currents/${B.connectorId}`),
  'GET /admin/currents/:id/status': () => notFound('GET', `/admin/currents/${B.connectorId}/status`),
  'POST /admin/currents/:id/pause': () => notFound('POST', `/admin/currents/${B.connectorId}/pause`),
  'POST /admin/currents/:id/resume': () => notFound('POST', `/admin/currents/${B.connectorId}/resume`),
  'POST /admin/currents/:id/test': () => notFound('POST', `/admin/currents/${B.connectorId}/test`),
  'GET /admin/currents/:id/dead-letters': () => notFound('GET', `/admin/currents/${B.connectorId}/dead-letters`),
  'POST /admin/currents/:id/dead-letters/resend': async () => {
    await notFound('POST', `/admin/currents/${B.connectorId}/dead-letters/resend`, { ids: [B.deadLetterId] });
    // Through A's own connector, B's dead letter is not one of A's.
    const r = await a('POST', `/admin/currents/${A.connectorId}/dead-letters/resend`, { ids: [B.deadLetterId] });
    expect([400, 404]).toContain(r.status);
  },
  'GET /admin/currents/:id/notifications': () => notFound('GET', `/admin/currents/${B.connectorId}/notifications`),
  'DELETE /admin/currents/:id': () => notFound('DELETE', `/admin/currents/${B.connectorId}`),
  'PATCH /admin/currents/:id': () => notFound('PATCH', `/admin/currents/${B.connectorId}`, { name: 'taken over' }),
  // Segments.
  'GET /admin/segments': async () => void (await listed('/admin/segments')),
  'GET /admin/segments/filters': async () => void (await listed('/admin/segments/filters')),
  'POST /admin/segments': async () => {
    // A filter naming B's cohort is refused: A may not count B's members.
    const r = await a('POST', '/admin/segments', { name: 'a-over-b', filter: { filter: 'Mixpanel_Cohorts', op: 'includes', value: B.cohortId } });
    expect(r.status).toBe(400);
    expect((await a('POST', '/admin/segments', { name: 'iso-a-second-segment', filter: { and: [] } })).status).toBe(201);
  },
  'POST /admin/segments/preview-count': async () => {
    const r = await a('POST', '/admin/segments/preview-count', { filter: { filter: 'Mixpanel_Cohorts', op: 'includes', value: B.cohortId } });
    expect(r.status).toBe(400);
  },
  'GET /admin/segments/:id': () => notFound('GET', `/admin/segments/${B.segmentId}`),
  'PUT /admin/segments/:id': () => notFound('PUT', `/admin/segments/${B.segmentId}`, { name: 'taken over', filter: { and: [] } }),
  'GET /admin/segments/:id/count': () => notFound('GET', `/admin/segments/${B.segmentId}/count`),
  'GET /admin/segments/:id/members': () => notFound('GET', `/admin/segments/${B.segmentId}/members`),
  'GET /admin/segments/:id/membership': () => notFound('GET', `/admin/segments/${B.segmentId}/membership?external_id=iso-b-user-1`),
  'GET /admin/segments/:id/export': () => notFound('GET', `/admin/segments/${B.segmentId}/export`),
  'DELETE /admin/segments/:id': () => notFound('DELETE', `/admin/segments/${B.segmentId}`),
  // Campaigns.
  'GET /admin/campaigns': async () => void (await listed('/admin/campaigns')),
  'POST /admin/campaigns': async () => {
    // A campaign over B's segment is refused: A may not send to B's users.
    const r = await a('POST', '/admin/campaigns', campaignBody('iso-a-over-b', B.segmentId));
    expect(r.status).toBe(400);
    expect((await a('POST', '/admin/campaigns', campaignBody('iso-a-second-campaign', A.segmentId))).status).toBe(201);
  },
  'GET /admin/campaigns/:id': () => notFound('GET', `/admin/campaigns/${B.campaignId}`),
  'PUT /admin/campaigns/:id': () => notFound('PUT', `/admin/campaigns/${B.campaignId}`, campaignBody('taken over', A.segmentId)),
  'GET /admin/campaigns/:id/stats': () => notFound('GET', `/admin/campaigns/${B.campaignId}/stats`),
  'POST /admin/campaigns/:id/launch': () => notFound('POST', `/admin/campaigns/${B.campaignId}/launch`),
  'POST /admin/campaigns/:id/pause': () => notFound('POST', `/admin/campaigns/${B.campaignId}/pause`),
  'POST /admin/campaigns/:id/resume': () => notFound('POST', `/admin/campaigns/${B.campaignId}/resume`),
  'POST /admin/campaigns/:id/stop': () => notFound('POST', `/admin/campaigns/${B.campaignId}/stop`),
  'POST /admin/campaigns/:id/archive': () => notFound('POST', `/admin/campaigns/${B.campaignId}/archive`),
  'POST /campaigns/trigger/send': async () => {
    // B's campaign is not A's to trigger; B's users are nobody A can name.
    const r = await a('POST', '/campaigns/trigger/send', { campaign_id: B.campaignId, recipients: [{ external_user_id: 'iso-b-user-1' }] });
    expect(r.status).toBe(400);
    expect(r.body.message).toBe('Invalid Campaign ID');
  },
  // The messaging API (docs/reference/messaging-api.md): B's campaign, segment, users and addresses are out of A's reach.
  'POST /messages/send': async () => {
    expect((await a('POST', '/messages/send', { segment_id: B.segmentId, messages: { webhook: { url: 'http://127.0.0.1:9/x', request_method: 'POST' } } })).body.errors[0].path).toBe('segment_id');
    expect((await a('POST', '/messages/send', { campaign_id: B.campaignId, external_user_ids: ['iso-a-user-1'], messages: { webhook: { url: 'http://127.0.0.1:9/x', request_method: 'POST' } } })).body.message).toBe('Invalid Campaign ID');
  },
  'POST /messages/schedule/create': async () => {
    const r = await a('POST', '/messages/schedule/create', { segment_id: B.segmentId, messages: { webhook: { url: 'http://127.0.0.1:9/x', request_method: 'POST' } }, schedule: { time: new Date(Date.now() + 86_400_000).toISOString() } });
    expect(r.body.errors[0].path).toBe('segment_id');
  },
  'POST /messages/schedule/update': async () => expect((await a('POST', '/messages/schedule/update', { schedule_id: B.campaignId, schedule: { time: new Date(Date.now() + 86_400_000).toISOString() } })).status).toBe(400),
  'POST /messages/schedule/delete': async () => expect((await a('POST', '/messages/schedule/delete', { schedule_id: B.campaignId })).status).toBe(400),
  'POST /campaigns/trigger/schedule/create': async () => {
    const r = await a('POST', '/campaigns/trigger/schedule/create', { campaign_id: B.campaignId, recipients: [{ external_user_id: 'iso-a-user-1' }], schedule: { time: new Date(Date.now() + 86_400_000).toISOString() } });
    expect(r.body.message).toBe('Invalid Campaign ID');
  },
  'POST /campaigns/trigger/schedule/update': async () => expect((await a('POST', '/campaigns/trigger/schedule/update', { campaign_id: B.campaignId, schedule_id: B.campaignId, schedule: { time: new Date(Date.now() + 86_400_000).toISOString() } })).status).toBe(400),
  'POST /campaigns/trigger/schedule/delete': async () => expect((await a('POST', '/campaigns/trigger/schedule/delete', { campaign_id: B.campaignId, schedule_id: B.campaignId })).status).toBe(400),
  'POST /sends/id/create': async () => expect((await a('POST', '/sends/id/create', { campaign_id: B.campaignId })).body.message).toBe('Invalid Campaign ID'),
  'GET /campaigns/list': async () => void (await listed('/campaigns/list?include_archived=true')),
  'GET /campaigns/details': async () => expect((await a('GET', `/campaigns/details?campaign_id=${B.campaignId}`)).status).toBe(400),
  'POST /subscription/status/set': async () => expect((await a('POST', '/subscription/status/set', { subscription_group_id: 'g', subscription_state: 'unsubscribed', email: ['iso-b-user-1@example.com'] })).status).toBe(201),
  'GET /subscription/status/get': async () => expect((await listed('/subscription/status/get?subscription_group_id=g&external_id=iso-a-user-1')).status).toEqual({ 'iso-a-user-1': 'Unknown' }),
  'POST /email/status': async () => expect((await a('POST', '/email/status', { email: 'iso-b-user-2@example.com', subscription_state: 'unsubscribed' })).status).toBe(201),
  'GET /email/hard_bounces': async () => void (await listed('/email/hard_bounces?start_date=2000-01-01&end_date=2100-01-01')),
  'GET /email/unsubscribes': async () => void (await listed('/email/unsubscribes?start_date=2000-01-01&end_date=2100-01-01')),
  'POST /email/bounce/remove': async () => expect((await a('POST', '/email/bounce/remove', { email: 'iso-b-user-3@example.com' })).status).toBe(201),
  'POST /email/spam/remove': async () => expect((await a('POST', '/email/spam/remove', { email: 'iso-b-user-3@example.com' })).status).toBe(201),
  'POST /admin/campaigns/:id/schedules': () => notFound('POST', `/admin/campaigns/${B.campaignId}/schedules`, { time: new Date(Date.now() + 86_400_000).toISOString() }),
  'GET /admin/campaigns/:id/schedules': () => notFound('GET', `/admin/campaigns/${B.campaignId}/schedules`),
  'DELETE /admin/campaigns/:id/schedules/:scheduleId': () => notFound('DELETE', `/admin/campaigns/${B.campaignId}/schedules/${B.campaignId}`),
  // Canvases.
  'POST /admin/canvases': async () => {
    // A Canvas over B's segment is refused: the segment is unknown in A.
    const r = await a('POST', '/admin/canvases', canvasBody('iso-a-over-b', B.segmentId));
    expect(r.status).toBe(400);
    expect((await a('POST', '/admin/canvases', canvasBody('iso-a-second-canvas', A.segmentId))).status).toBe(201);
  },
  'GET /admin/canvases/:id': () => notFound('GET', `/admin/canvases/${B.canvasId}`),
  'PUT /admin/canvases/:id': () => notFound('PUT', `/admin/canvases/${B.canvasId}`, canvasBody('taken over', A.segmentId)),
  'GET /admin/canvases/:id/stats': () => notFound('GET', `/admin/canvases/${B.canvasId}/stats`),
  'POST /admin/canvases/:id/launch': () => notFound('POST', `/admin/canvases/${B.canvasId}/launch`),
  'POST /admin/canvases/:id/pause': () => notFound('POST', `/admin/canvases/${B.canvasId}/pause`),
  'POST /admin/canvases/:id/stop': () => notFound('POST', `/admin/canvases/${B.canvasId}/stop`),
  'POST /admin/canvases/:id/archive': () => notFound('POST', `/admin/canvases/${B.canvasId}/archive`),
  'GET /canvas/list': async () => void (await listed('/canvas/list')),
  // The dashboard's Canvas routes: B's Canvas, its steps and B's users are not A's to read; A's list has none of B's.
  'GET /admin/canvases': async () => void (await listed('/admin/canvases')),
  'POST /admin/canvases/validate': async () => {
    // B's segment is unknown to A: the check names it and counts nobody.
    const r = await a('POST', '/admin/canvases/validate', canvasBody('iso-a-check', B.segmentId));
    expect(r.status).toBe(200);
    expect(r.body.ok).toBe(false);
    expect(r.body.problems[0].field).toBe('entry.segment_id');
    expect(r.body.audience_size).toBeNull();
  },
  'GET /admin/canvases/:id/step-stats': () => notFound('GET', `/admin/canvases/${B.canvasId}/step-stats`),
  'GET /admin/canvases/:id/steps/:step_id/users': () => notFound('GET', `/admin/canvases/${B.canvasId}/steps/m/users`),
  'GET /admin/canvases/users/:user_id': () => notFound('GET', `/admin/canvases/users/${B.brazeId}`),
  'GET /canvas/details': async () => {
    const r = await a('GET', `/canvas/details?canvas_id=${B.canvasId}`);
    expect(r.status).toBe(400);
    expect(r.body.message).toBe('Invalid Canvas ID');
  },
  'POST /canvas/trigger/send': async () => {
    const r = await a('POST', '/canvas/trigger/send', { canvas_id: B.canvasId, recipients: [{ external_user_id: 'iso-b-user-1' }] });
    expect(r.status).toBe(400);
    expect(r.body.message).toBe('Invalid Canvas ID');
  },
  // Campaign delivery settings, provider events and the dashboard's campaign routes.
  'GET /admin/campaigns-settings/frequency-capping': async () => void (await listed('/admin/campaigns-settings/frequency-capping')),
  'PUT /admin/campaigns-settings/frequency-capping': async () =>
    expect((await a('PUT', '/admin/campaigns-settings/frequency-capping', { rules: [{ channel: 'email', count: 3, window_seconds: 86_400 }] })).status).toBe(200),
  'PUT /admin/email/providers/sendgrid': async () => {
    const publicKey = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
    expect((await a('PUT', '/admin/email/providers/sendgrid', { public_key: publicKey })).status).toBe(200);
  },
  // SendGrid's events for B's workspace, unsigned (A cannot sign with B's key): refused, nothing applied.
  // (404 while B has no SendGrid key, 401 once it has one: refused either way.)
  'POST /email/events/sendgrid': async () =>
    expect([401, 404]).toContain((await anonymous('POST', `/email/events/sendgrid?workspace=${B.workspaceId}`, [{ email: 'iso-b-user-1@example.com', event: 'bounce', sg_event_id: 'x', timestamp: 1 }])).status),
  'GET /admin/campaigns/overview': async () => void (await listed('/admin/campaigns/overview')),
  'GET /admin/campaigns/:id/progress': () => notFound('GET', `/admin/campaigns/${B.campaignId}/progress`),
  'GET /admin/campaigns/recipients/:user_id': () => notFound('GET', `/admin/campaigns/recipients/${B.brazeId}`),
  'POST /admin/campaigns/preview': async () => {
    const r = await a('POST', '/admin/campaigns/preview', { channel: 'email', variant: { email: { subject: 'Hi {{${first_name}}}', html: '<p>x</p>' } }, external_id: 'iso-b-user-1' });
    expect(r.status).toBe(400);
  },
  'POST /admin/campaigns/test-send': async () => {
    const r = await a('POST', '/admin/campaigns/test-send', { to: 'qa@example.com', from: { address: 'from@example.com' }, email: { subject: 'Hi {{${first_name}}}', html: '<p>x</p>' }, external_id: 'iso-b-user-1' });
    expect(r.status).toBe(400);
  },
  // The Currents history of B's connector.
  'GET /admin/currents/:id/history': () => notFound('GET', `/admin/currents/${B.connectorId}/history`),
  // SMS: A's own settings; B's provider callbacks unsigned are refused.
  'PUT /admin/sms/settings': async () =>
    expect((await a('PUT', '/admin/sms/settings', { account_sid: `AC${'a'.repeat(32)}`, auth_token: 'a-token-of-sixteen-or-more', from_number: '+15550100000' })).status).toBe(200),
  'GET /admin/sms/settings': async () => expect((await listed('/admin/sms/settings')).account_sid).toBe(`AC${'a'.repeat(32)}`),
  'POST /sms/twilio/status/:workspace': async () =>
    expect((await anonymous('POST', `/sms/twilio/status/${B.workspaceId}`, undefined, { raw: 'MessageSid=SM1&MessageStatus=delivered', headers: { 'content-type': 'application/x-www-form-urlencoded' } })).status).toBe(403),
  'POST /sms/twilio/inbound/:workspace': async () =>
    expect((await anonymous('POST', `/sms/twilio/inbound/${B.workspaceId}`, undefined, { raw: 'From=%2B15550100001&Body=STOP', headers: { 'content-type': 'application/x-www-form-urlencoded' } })).status).toBe(403),
  // The browser SDK: A's apps only; A's REST key is no SDK key.
  'POST /sdk/apps': async () => expect((await a('POST', '/sdk/apps', { name: 'a-site', allowed_origins: ['https://a.example'] })).status).toBe(201),
  'GET /sdk/apps': async () => void (await listed('/sdk/apps')),
  'POST /sdk/v1/batch': async () => expect((await a('POST', '/sdk/v1/batch', { events: [] }, { headers: { origin: 'https://a.example' } })).status).toBe(401),
  // Web push: a REST key is not an SDK key; A's SDK key cannot tie a subscription to B's device;
  // an open token naming B's workspace without B's signature is refused.
  'GET /sdk/v1/push/vapid-key': async () => expect((await a('GET', '/sdk/v1/push/vapid-key', undefined, { headers: { origin: 'https://a.example' } })).status).toBe(401),
  'POST /sdk/v1/push/subscriptions': async () => {
    const app = await a('POST', '/sdk/apps', { name: 'a-push-site', allowed_origins: ['https://a-push.example'] });
    const ecdh = createECDH('prime256v1');
    ecdh.generateKeys();
    const subscription = { endpoint: 'https://push.example.net/a-sub', keys: { p256dh: ecdh.getPublicKey().toString('base64url'), auth: Buffer.alloc(16, 7).toString('base64url') } };
    const r = await a('POST', '/sdk/v1/push/subscriptions', { device_id: 'iso-b-device', subscription }, { key: null, headers: { origin: 'https://a-push.example', 'x-rivulet-sdk-key': app.body.api_key } });
    expect(r.status).toBe(404);
    expect(r.body.errors[0].path).toBe('device_id');
  },
  'POST /sdk/v1/push/unsubscribe': async () => expect((await a('POST', '/sdk/v1/push/unsubscribe', { endpoint: 'https://push.example.net/b' }, { headers: { origin: 'https://a.example' } })).status).toBe(401),
  'POST /sdk/v1/push/open': async () => expect((await a('POST', '/sdk/v1/push/open', { token: `${B.workspaceId}.${randomUUID()}.${randomUUID()}.${'A'.repeat(43)}` })).status).toBe(400),
  // A's own SDK key asking for B's device: not found, as a device that does not exist.
  'GET /sdk/v1/content_cards': async () => {
    const app = await a('POST', '/sdk/apps', { name: 'a-cards', allowed_origins: ['https://a.example'] });
    const r = await a('GET', '/sdk/v1/content_cards?device_id=iso-b-device', undefined, { key: null, headers: { origin: 'https://a.example', 'x-rivulet-sdk-key': app.body.api_key } });
    expect(r.status).toBe(404);
  },
  'GET /sdk/v1/in_app_messages': async () => {
    const app = await a('POST', '/sdk/apps', { name: 'a-iam', allowed_origins: ['https://a.example'] });
    const r = await a('GET', '/sdk/v1/in_app_messages?device_id=iso-b-device', undefined, { key: null, headers: { origin: 'https://a.example', 'x-rivulet-sdk-key': app.body.api_key } });
    expect(r.status).toBe(404);
  },
  // The email recipient's routes (/t/o/*, /t/c/*, /u/*): a token that does not verify reaches nothing.
  'GET /*': async () => {
    for (const path of ['/t/o/', '/t/c/', '/u/']) {
      const token = `${Buffer.from(JSON.stringify({ k: 'open', w: B.workspaceId, s: B.campaignId })).toString('base64url')}.AAAA`;
      const r = await s.call('GET', `${path}${token}`, undefined, { key: null });
      expect(r.status, path).toBe(404);
      expect(r.headers.location).toBeUndefined();
    }
  },
  // Users: B's identifiers reach nothing of B; a write with them makes A's own user.
  'GET /admin/users/lookup': async () => {
    for (const q of ['external_id=iso-b-user-1', `braze_id=${B.brazeId}`, 'email=iso-b-user-1@example.com', 'device_id=iso-b-device', 'alias_name=iso-b-alias&alias_label=mixpanel_id']) {
      await notFound('GET', `/admin/users/lookup?${q}`);
    }
  },
  'POST /users/export/ids': async () => {
    const r = await a('POST', '/users/export/ids', { external_ids: ['iso-b-user-1'], user_aliases: [{ alias_name: 'iso-b-alias', alias_label: 'mixpanel_id' }] });
    expect(r.status).toBe(200);
    expect(r.body.users).toEqual([]);
    for (const body of [{ braze_id: B.brazeId }, { device_id: 'iso-b-device' }, { email_address: 'iso-b-user-1@example.com' }]) {
      const one = await a('POST', '/users/export/ids', body);
      expect(one.body.users ?? [], JSON.stringify(body)).toEqual([]);
    }
  },
  'POST /users/track': async () => {
    const r = await a('POST', '/users/track', { attributes: [{ external_id: 'iso-b-user-5', first_name: 'Mallory' }], events: [{ external_id: 'iso-b-user-6', name: 'x', time: new Date().toISOString() }], purchases: [{ braze_id: B.brazeId, product_id: 'p', currency: 'USD', price: 1, time: new Date().toISOString() }] });
    expect(r.status).toBe(201);
  },
  'POST /users/identify': async () =>
    void (await a('POST', '/users/identify', { aliases_to_identify: [{ external_id: 'iso-b-user-7', user_alias: { alias_name: 'iso-b-alias', alias_label: 'mixpanel_id' } }] })),
  'POST /users/alias/new': async () => void (await a('POST', '/users/alias/new', { user_aliases: [{ alias_name: 'iso-b-alias', alias_label: 'mixpanel_id', external_id: 'iso-b-user-8' }] })),
  'POST /sdk/sessions/start': async () => expect((await a('POST', '/sdk/sessions/start', { app_id: 'a-app', device_id: 'iso-b-device', session_id: 'a-sess' })).status).toBe(201),
  'POST /sdk/sessions/end': async () => expect((await a('POST', '/sdk/sessions/end', { app_id: 'a-app', device_id: 'iso-b-device', session_id: 'a-sess' })).status).toBe(201),
  'POST /sdk/users/change': async () => expect((await a('POST', '/sdk/users/change', { device_id: 'iso-b-device', external_id: 'iso-b-user-9' })).status).toBe(201),
  // The dashboard signs in as an admin of the default workspace (A here) and sees only it.
  'GET /dashboard/api/session': async () => void (await a('GET', '/dashboard/api/session', undefined, { key: null })),
  'POST /dashboard/api/session': async () => {
    const r = await a('POST', '/dashboard/api/session', { password: ADMIN_PASSWORD }, { key: null, headers: { origin: s.url } });
    expect(r.status).toBe(200);
    const cookie = String(r.headers['set-cookie']).split(';')[0]!;
    for (const path of ['/admin/cohorts', '/admin/currents', '/admin/segments', '/admin/keys', '/admin/import-keys', '/admin/cohort-syncs']) {
      const seen = await a('GET', path, undefined, { key: null, headers: { cookie } });
      expect(seen.status, path).toBe(200);
    }
  },
  'DELETE /dashboard/api/session': async () => void (await a('DELETE', '/dashboard/api/session', undefined, { key: null, headers: { origin: s.url } })),
  // The dashboard's sessions and password belong to the default workspace (A); B has none.
  'GET /admin/sessions': async () => void (await listed('/admin/sessions')),
  'DELETE /admin/sessions/:id': () => notFound('DELETE', `/admin/sessions/${randomUUID()}`),
  'PUT /admin/password': async () => {
    const r = await a('PUT', '/admin/password', { current_password: ADMIN_PASSWORD, new_password: 'another-password-0123' });
    expect(r.status).toBe(409); // set by RIVULET_ADMIN_PASSWORD here
  },
};

describe(`workspace isolation on every route (${TEST_BACKEND})`, () => {
  beforeAll(async () => {
    mp = await startEmulator([PA, PB]);
    // Bodies over 3,000 bytes get 413: each workspace's wide event (254 properties once fitted to
    // Mixpanel's limits) is then dead-lettered as too_large, so both have a dead letter.
    mp.emulator.updateSettings({ maxBodyBytes: 3000 });
    s = await startTestServer({ RIVULET_RATE_LIMIT_TRACK: '100000', RIVULET_ADMIN_PASSWORD: ADMIN_PASSWORD });
    Object.assign(A, { name: 'a', key: s.key, workspaceId: s.workspaceId });
    B.name = 'b';
    B.key = await s.createKey([...PERMISSIONS], 'isolation-b');
    B.workspaceId = (await s.testDb.db.query<{ id: string }>("SELECT id FROM workspaces WHERE name = 'isolation-b'")).rows[0]!.id;
    await seed(A, PA);
    await seed(B, PB);
    markersB = markersOf(B);
  }, 120_000);
  afterAll(async () => {
    await s?.close();
    await mp?.close();
  });

  it('every registered route has a case, and no case names a route that is gone', () => {
    const routes = registeredRoutes();
    expect(routes.length).toBeGreaterThan(50);
    const uncovered = routes.filter((r) => !(r in CASES) && !PUBLIC.some((p) => p.test(r)));
    expect(uncovered, 'routes without an isolation case').toEqual([]);
    expect(Object.keys(CASES).filter((c) => !routes.includes(c)), 'cases for routes that no longer exist').toEqual([]);
  });

  it("A's key neither reads nor changes B's data on any route", { timeout: 120_000 }, async () => {
    const before = await snapshot(B.workspaceId);
    expect(Object.keys(before).length).toBeGreaterThan(15);
    expect(Number(before['users']!.split(':')[0])).toBeGreaterThan(0);
    expect(Number(before['currents_dead_letters']!.split(':')[0])).toBeGreaterThan(0);
    expect(Number(before['cohort_syncs']!.split(':')[0])).toBeGreaterThan(0);

    // In the order written (the first test checks that this covers every registered route).
    for (const [route, run] of Object.entries(CASES)) {
      await run().catch((err: Error) => {
        err.message = `${route}: ${err.message}`;
        throw err;
      });
    }
    // The public routes, without credentials, show nothing of B either (besides /metrics, see below).
    for (const path of ['/', '/healthz', '/readyz', '/openapi.json', '/docs/json']) await a('GET', path, undefined, { key: null });

    // Nothing A received mentions B.
    for (const marker of markersB) {
      const at = received.indexOf(marker);
      expect(at, `B's "${marker}" in an answer to A: …${received.slice(Math.max(0, at - 300), at + 100)}`).toBe(-1);
    }
    // B's rows are as they were.
    expect(await snapshot(B.workspaceId)).toEqual(before);
    // B's credentials still work and B still sees its own data.
    expect((await asB('GET', '/admin/keys')).body.keys.some((k: { prefix: string; revoked_at: string | null }) => k.prefix === B.secondKeyPrefix && !k.revoked_at)).toBe(true);
    expect((await asB('GET', `/admin/segments/${B.segmentId}/count`)).status).toBe(200);
    expect((await asB('GET', `/admin/currents/${B.connectorId}/status`)).body.state).toBe('paused');
    expect((await s.call('POST', '/partners/mixpanel/cohorts', { partner_api_key: TEST_PARTNER_KEY, client_secret: B.importKey, cohort_id: 'shared-cohort', name: 'iso-b-cohort', created_at: '2026-01-01T00:00:00Z' }, { key: null })).status).toBe(201);
  });
});
