/**
 * Pull mode against the Mixpanel emulator's engage API, over real HTTP on 127.0.0.1, with pull
 * mode's clock scaled down: the admin API (validation, secrets never shown or stored in clear),
 * paging to a complete snapshot applied as a replacement with its diff in the sync history,
 * restart at page 0 on a rejected session, back-off on 429/5xx, failed credentials, the query
 * budget, one request in flight per project, one-time mode and the email match key.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startMixpanelEmulator, type RunningMixpanelEmulator } from '../../emulator/mixpanel/index.js';
import { openTestDb, TEST_BACKEND, type TestDb } from '../../test-support/db.js';
import { startRivuletOn, waitFor, type RivuletOnDb } from './testing.js';

const SA = { username: 'pull.sa', secret: 'sa-secret-value-9876' };
let testDb: TestDb;
let dataDir: string;
let s: RivuletOnDb;
let mp: RunningMixpanelEmulator;

async function emu(method: 'GET' | 'POST' | 'PUT', path: string, json?: unknown) {
  const res = await request(mp.url + path, { method, headers: json === undefined ? {} : { 'content-type': 'application/json' }, body: json === undefined ? undefined : JSON.stringify(json) });
  return (await res.body.json()) as any;
}

beforeAll(async () => {
  testDb = await openTestDb({ migrate: false });
  dataDir = await mkdtemp(join(tmpdir(), 'rivulet-pull-'));
  mp = await startMixpanelEmulator({
    projects: ['555', '556', '557'].map((id) => ({ id, apiSecret: `legacy-${id}`, serviceAccounts: [{ username: SA.username, secret: SA.secret, role: 'owner' as const }] })),
  });
  s = await startRivuletOn(testDb, {
    dataDir,
    pullTiming: { pollMs: 50, backoffStartMs: 50, backoffMaxMs: 200, leaseMs: 3000, authRetryMs: 600_000, retryLaterMs: 600_000, budgetWindowMs: 1500 },
  });
  const attributes = Array.from({ length: 60 }, (_, i) => ({ external_id: `u${i}`, ...(i < 10 ? { email: `U${i}@Example.com` } : {}) }));
  for (let i = 0; i < attributes.length; i += 50) expect((await s.call('POST', '/users/track', { attributes: attributes.slice(i, i + 50) })).status).toBe(201);
  await emu('POST', '/_emulator/engage/settings', { page_size: 10 });
  const members = [
    ...Array.from({ length: 30 }, (_, i) => (i < 10 ? { distinct_id: `u${i}`, properties: { $email: `u${i}@example.com` } } : `u${i}`)),
    ...['g1', 'g2', 'g3', 'g4', 'g5'],
  ];
  await emu('POST', '/_emulator/cohorts', { project_id: '555', id: 10, name: 'Pulled users', description: 'from pull', members });
});
afterAll(async () => {
  await s.close();
  await mp.close();
  await testDb.drop();
  await rm(dataDir, { recursive: true, force: true });
});

const connection = (extra: Record<string, unknown> = {}) => ({
  name: 'Prod',
  project_id: '555',
  base_url: mp.url,
  service_account: SA,
  cohort_ids: [10],
  interval_minutes: 5,
  ...extra,
});
const members = async (partnerCohortId: string) =>
  (
    await testDb.db.query<{ e: string }>(
      `SELECT u.external_id AS e FROM cohort_members m JOIN cohorts c ON c.id = m.cohort_id JOIN users u ON u.id = m.user_id
        WHERE c.partner_cohort_id = $1 ORDER BY u.ordinal`,
      [partnerCohortId],
    )
  ).rows.map((r) => r.e);
/** Waits for the n-th pull sync of the cohort (1-based, oldest first) and returns it. */
const pullSync = (partnerCohortId: string, n: number) =>
  waitFor(async () => {
    const syncs = (await s.call('GET', '/admin/cohort-syncs?limit=1000')).body.syncs.filter((x: any) => x.source === 'pull' && x.partner_cohort_id === partnerCohortId);
    return syncs.length >= n ? syncs[syncs.length - n] : undefined;
  }, 20_000, `pull sync ${n} of ${partnerCohortId}`);
const queries = async (projectId: string) => (await emu('GET', `/_emulator/engage/queries?project_id=${projectId}`)).queries as any[];
const connectionState = (id: string) => s.call('GET', `/admin/mixpanel/connections/${id}`).then((r) => r.body);

describe(`pull mode on ${TEST_BACKEND}`, () => {
  it('validates connections with 400s that name the field', async () => {
    const r = await s.call('POST', '/admin/mixpanel/connections', { project_id: '555', region: 'MARS', cohort_ids: [], base_url: 'gopher://x' });
    expect(r.status).toBe(400);
    expect(r.body.errors.map((e: any) => e.path)).toEqual(['region', 'base_url', 'service_account', 'cohort_ids']);
    expect((await s.call('PATCH', '/admin/mixpanel/connections/00000000-0000-0000-0000-000000000000', { name: 'x' })).status).toBe(404);
    expect((await s.call('POST', '/admin/mixpanel/connections/nope/run')).status).toBe(404);
    expect((await s.call('GET', '/admin/mixpanel/connections', undefined, { key: null })).status).toBe(401);
  });

  it('pulls a complete snapshot page by page and applies it as a replacement; credentials never show', async () => {
    const created = await s.call('POST', '/admin/mixpanel/connections', connection());
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ project_id: '555', region: 'US', query_host: mp.url, credentials: { kind: 'service_account', secret_hint: '…9876' }, mode: 'dynamic', interval_minutes: 5 });
    expect(JSON.stringify(created.body)).not.toContain(SA.secret);
    const stored = await testDb.db.query<{ credentials: Uint8Array }>('SELECT credentials FROM mixpanel_connections');
    expect(Buffer.from(stored.rows[0]!.credentials).includes(SA.secret)).toBe(false);

    const sync = await pullSync('555:10', 1);
    expect(sync).toMatchObject({ status: 'applied', action: 'replacement', received: 35, matched: 30, unmatched: { not_found: 5 }, added: 30, removed: 0 });
    expect(await members('555:10')).toEqual(Array.from({ length: 30 }, (_, i) => `u${i}`));
    const log = await queries('555');
    expect(log.map((q) => [q.kind, q.page])).toEqual([['cohorts_list', null], ['engage', 0], ['engage', 1], ['engage', 2], ['engage', 3]]);
    expect(new Set(log.slice(1).map((q) => q.session_id)).size).toBe(1);
    const state = await waitFor(async () => {
      const c = await connectionState(created.body.id);
      return c.last_success_at ? c : undefined;
    });
    expect(state).toMatchObject({ state: 'active', last_error: null, running: false, snapshots: [{ cohort_id: '10', identifiers: 35 }] });
    // The test's budget window is 1.5 s: on a slow machine the first of the five queries may have
    // left it by the time the state is read.
    expect(state.query_budget_used).toBeGreaterThanOrEqual(1);
    expect(state.query_budget_used).toBeLessThanOrEqual(5);
    expect(Date.parse(state.next_run_at) - Date.now()).toBeGreaterThan(4 * 60_000);
    const cohort = (await s.call('GET', '/admin/cohorts')).body.cohorts.find((c: any) => c.cohort_id === '555:10');
    expect(cohort).toMatchObject({ name: 'Pulled users', description: 'from pull', member_count: 30, last_source: 'pull' });
    expect((await s.call('GET', '/admin/mixpanel/connections')).body.connections).toHaveLength(1);
  });

  it('converges on a dynamic resync, recording entered and left; restarts at page 0 when the session is rejected', async () => {
    const [conn] = (await s.call('GET', '/admin/mixpanel/connections')).body.connections;
    await emu('POST', '/_emulator/cohorts/10/members/remove', { project_id: '555', distinct_ids: ['u0', 'u1', 'u2', 'g1'] });
    await emu('POST', '/_emulator/cohorts/10/members', { project_id: '555', members: ['u40', 'u41', 'g9'] });
    // Page 1 of the first attempt is refused as if its session had expired.
    await emu('POST', '/_emulator/engage/faults', { project_id: '555', script: [200, 200, 400] });
    const before = (await queries('555')).length;
    expect((await s.call('POST', `/admin/mixpanel/connections/${conn.id}/run`)).status).toBe(202);
    const sync = await pullSync('555:10', 2);
    expect(sync).toMatchObject({ status: 'applied', received: 34, matched: 29, added: 2, removed: 3 });
    const details = await testDb.db.query<{ details: any }>(`SELECT details FROM cohort_syncs WHERE id = $1`, [sync.id]);
    expect(details.rows[0]!.details).toMatchObject({ entered: 3, left: 4, entered_ids: ['g9', 'u40', 'u41'], left_ids: ['g1', 'u0', 'u1', 'u2'], first_snapshot: false });
    expect(await members('555:10')).toEqual([...Array.from({ length: 27 }, (_, i) => `u${i + 3}`), 'u40', 'u41']);
    expect((await queries('555')).slice(before).map((q) => [q.page, q.status])).toEqual([
      [null, 200],
      [0, 200],
      [1, 400],
      [0, 200],
      [1, 200],
      [2, 200],
      [3, 200],
    ]);
  });

  it('backs off on 429 and 5xx, counting refused queries against the budget', async () => {
    const [conn] = (await s.call('GET', '/admin/mixpanel/connections')).body.connections;
    await emu('POST', '/_emulator/engage/faults', { project_id: '555', script: [200, 429, 503, 200] });
    const before = (await queries('555')).length;
    await s.call('POST', `/admin/mixpanel/connections/${conn.id}/run`);
    expect(await pullSync('555:10', 3)).toMatchObject({ status: 'applied', added: 0, removed: 0, unchanged: 29 });
    expect((await queries('555')).slice(before).map((q) => q.status)).toEqual([200, 429, 503, 200, 200, 200, 200]);
  });

  it('marks a connection failed when Mixpanel refuses its credentials, and recovers with new ones', async () => {
    const created = await s.call('POST', '/admin/mixpanel/connections', connection({ project_id: '556', api_secret: 'wrong-secret', service_account: undefined, mode: 'one_time' }));
    expect(created.body.credentials).toEqual({ kind: 'api_secret', secret_hint: '…cret' });
    const failed = await waitFor(async () => {
      const c = await connectionState(created.body.id);
      return c.state === 'failed' ? c : undefined;
    });
    expect(failed.last_error).toContain('Mixpanel refused the credentials (HTTP 401: Invalid credentials)');
    expect(Date.parse(failed.next_run_at) - Date.now()).toBeGreaterThan(500_000);
    expect(await pullSync('556:10', 1)).toMatchObject({ status: 'failed', error: expect.stringContaining('refused the credentials') });

    await emu('POST', '/_emulator/cohorts', { project_id: '556', id: 10, name: 'Other project', members: ['u50', 'u51'] });
    const patched = await s.call('PATCH', `/admin/mixpanel/connections/${created.body.id}`, { api_secret: 'legacy-556' });
    expect(patched.body).toMatchObject({ state: 'active', last_error: null });
    expect(await pullSync('556:10', 2)).toMatchObject({ status: 'applied', added: 2 });
    const done = await waitFor(async () => {
      const c = await connectionState(created.body.id);
      return c.state === 'done' ? c : undefined;
    });
    expect(done).toMatchObject({ mode: 'one_time', next_run_at: null });
    expect(await members('556:10')).toEqual(['u50', 'u51']);
  });

  it('never exceeds the query budget, sends one query at a time per project, and matches by email', async () => {
    await emu('POST', '/_emulator/engage/settings', { max_concurrent: 1, latency_ms: 20 });
    await emu('POST', '/_emulator/cohorts', { project_id: '557', id: 1, name: 'Emails', members: Array.from({ length: 12 }, (_, i) => ({ distinct_id: `mp${i}`, properties: { $email: ` u${i}@EXAMPLE.com` } })) });
    await emu('POST', '/_emulator/cohorts', { project_id: '557', id: 2, name: 'Ids', members: ['u1', 'u2', 'u3'] });
    const byEmail = await s.call('POST', '/admin/mixpanel/connections', connection({ project_id: '557', cohort_ids: [1], match_key: 'email', query_budget: 2 }));
    const byId = await s.call('POST', '/admin/mixpanel/connections', connection({ project_id: '557', cohort_ids: [2], query_budget: 2 }));
    expect([byEmail.status, byId.status]).toEqual([201, 201]);
    expect(await pullSync('557:1', 1)).toMatchObject({ status: 'applied', received: 12, matched: 10, added: 10 });
    expect(await pullSync('557:2', 1)).toMatchObject({ status: 'applied', added: 3 });
    const log = await queries('557');
    expect(log.every((q) => q.status === 200)).toBe(true); // never two at once: the emulator allowed one
    expect(log).toHaveLength(5); // two cohorts/list; 2 engage pages (12 members, pages of 10) + 1
    const times = log.map((q) => Date.parse(q.at));
    // Two queries per 1.5 s window: the third comes a window after the first. Times are arrivals at
    // the emulator, so a busy machine can delay the earlier one: 500 ms of slack, still far from the
    // ~20 ms apart of queries sent without a budget.
    for (let i = 2; i < times.length; i++) expect(times[i]! - times[i - 2]!).toBeGreaterThanOrEqual(1000);
    expect(await members('557:1')).toEqual(Array.from({ length: 10 }, (_, i) => `u${i}`));
    await emu('POST', '/_emulator/engage/settings', { max_concurrent: 5, latency_ms: 0 });
  });

  it('pauses and resumes on update, and drops the stored snapshots when the match key changes', async () => {
    const conn = (await s.call('GET', '/admin/mixpanel/connections')).body.connections.find((c: any) => c.project_id === '555');
    expect((await connectionState(conn.id)).snapshots).toHaveLength(1);
    const paused = await s.call('PATCH', `/admin/mixpanel/connections/${conn.id}`, { enabled: false, match_key: 'property:$braze_external_id' });
    expect(paused.body).toMatchObject({ state: 'paused', match_key: 'property:$braze_external_id' });
    expect((await s.call('POST', `/admin/mixpanel/connections/${conn.id}/run`)).status).toBe(409);
    expect((await connectionState(conn.id)).snapshots).toEqual([]);
    expect((await s.call('PATCH', `/admin/mixpanel/connections/${conn.id}`, { enabled: true, interval_minutes: 60, match_key: 'distinct_id' })).body).toMatchObject({
      state: 'active',
      interval_minutes: 60,
    });
    expect((await s.call('PATCH', `/admin/mixpanel/connections/${conn.id}`, { interval_minutes: 1 })).body.errors).toEqual([
      { type: 'interval_minutes must be an integer from 5 to 10080', path: 'interval_minutes' },
    ]);
  });

  it('deletes a connection, keeping its cohort', async () => {
    const list = (await s.call('GET', '/admin/mixpanel/connections')).body.connections;
    const id = list.find((c: any) => c.project_id === '556').id;
    expect((await s.call('DELETE', `/admin/mixpanel/connections/${id}`)).status).toBe(204);
    expect((await s.call('GET', `/admin/mixpanel/connections/${id}`)).status).toBe(404);
    expect(await members('556:10')).toEqual(['u50', 'u51']);
  });
});
