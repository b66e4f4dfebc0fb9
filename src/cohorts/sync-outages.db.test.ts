/**
 * Cohort sync outages are loud (docs/reference/cohort-import.md §8): every rejected webhook push and
 * partner API request is recorded (when, key prefix or none, why) and listed; a recurring sync whose
 * last good run is older than two intervals is flagged stale, in the admin API and in /metrics; the
 * sync history names cohorts, flags empty runs, filters and pages.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMixpanelEmulator, type RunningMixpanelEmulator } from '../emulator/mixpanel/index.js';
import { TEST_BACKEND } from '../test-support/db.js';
import { startTestServer, TEST_PARTNER_KEY, type TestServer } from '../test-support/server.js';
import { KEEP_PER_WORKSPACE, recordRejection } from './sync-rejections.js';

const PROJECT = '3131';
let s: TestServer;
let mp: RunningMixpanelEmulator;
let secret: string;

beforeAll(async () => {
  s = await startTestServer();
  mp = await startMixpanelEmulator({ projects: [{ id: PROJECT }] });
  secret = (await s.call('POST', '/admin/import-keys', { partner: 'mixpanel' })).body.key;
  await s.call('POST', '/users/track', { attributes: Array.from({ length: 10 }, (_, i) => ({ external_id: `u${i}` })) });
});
afterAll(async () => {
  await s?.close();
  await mp?.close();
});

const emu = async (method: string, path: string, body?: unknown) => {
  const res = await fetch(mp.url + path, { method, headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  return res.json() as Promise<any>;
};
const rejections = async () => (await s.call('GET', '/admin/cohort-sync-rejections')).body;
const prefixOf = (key: string) => /^([a-z]{2,8}_[0-9a-f]{10})_/.exec(key)![1]!;

describe(`cohort sync outages on ${TEST_BACKEND}`, () => {
  it('a webhook key rotated while Mixpanel pushes: the pushes fail, and each refusal is listed with the old key prefix and why', { timeout: 60_000 }, async () => {
    await emu('POST', '/_emulator/cohorts', { project_id: PROJECT, id: 7, name: 'Loyal', members: ['u1', 'u2', 'u3'] });
    const sync = (
      await emu('POST', '/_emulator/webhook-syncs', {
        project_id: PROJECT,
        url: `${s.url}/partners/mixpanel/webhook`,
        username: 'mixpanel',
        password: secret,
        cohort_ids: [7],
        schedule: { every_seconds: 86_400 },
        start: false,
        retry_delays_ms: [10, 10, 10, 10, 10],
      })
    ).id;
    expect((await emu('POST', `/_emulator/webhook-syncs/${sync}/run`)).status).toBe('succeeded');
    expect((await rejections()).rejections).toEqual([]);

    const rotated = await s.call('POST', `/admin/import-keys/${prefixOf(secret)}/rotate`);
    expect(rotated.status).toBe(201);
    const run = await emu('POST', `/_emulator/webhook-syncs/${sync}/run`);
    expect(run.status).not.toBe('succeeded');

    const listed = await rejections();
    expect(listed.rejections[0]).toMatchObject({ source: 'webhook', partner: 'mixpanel', key_prefix: prefixOf(secret), reason: 'key_rotated', status: 401, attributed: true });
    expect(listed.last_24h).toBeGreaterThanOrEqual(1);
    expect(JSON.stringify(listed)).not.toContain(secret);
    secret = rotated.body.key;
  });

  it('names every other reason: no credentials, unknown key, wrong secret, bad payload; partner API refusals too', async () => {
    const hook = (password: string | null, body: unknown = { action: 'members', parameters: {} }) =>
      s.call('POST', '/partners/mixpanel/webhook', body, { key: null, headers: password === null ? {} : { authorization: `Basic ${Buffer.from(`mixpanel:${password}`).toString('base64')}` } });
    expect((await hook(null)).status).toBe(401);
    expect((await hook('garbage')).status).toBe(401);
    expect((await hook(`${prefixOf(secret)}_${'0'.repeat(40)}`)).status).toBe(401);
    expect((await hook(secret, { action: 'members', parameters: { nonsense: true } })).status).toBe(400);
    const partner = (body: Record<string, unknown>) => s.call('POST', '/partners/mixpanel/cohorts/users', { cohort_id: 'c1', cohort_changes: [], ...body }, { key: null });
    expect((await partner({ partner_api_key: 'nope', client_secret: secret })).status).toBe(401);
    expect((await partner({ partner_api_key: TEST_PARTNER_KEY, client_secret: 'dik_wrong' })).status).toBe(401);
    expect((await partner({})).status).toBe(401);

    const rows = (await rejections()).rejections.slice(0, 7).reverse();
    expect(rows.map((r: any) => [r.source, r.reason, r.key_prefix, r.attributed])).toEqual([
      ['webhook', 'no_credentials', null, false],
      ['webhook', 'unknown_key', null, false],
      ['webhook', 'wrong_secret', prefixOf(secret), true],
      ['webhook', 'invalid_payload', prefixOf(secret), true],
      ['partner_api', 'invalid_partner_key', prefixOf(secret), true],
      ['partner_api', 'unknown_key', null, false],
      ['partner_api', 'no_credentials', null, false],
    ]);
    expect(JSON.stringify(rows)).not.toContain(secret);
  });

  it('records partner API requests refused for their body, with the key that sent them', async () => {
    const partner = (path: string, body: Record<string, unknown>) => s.call('POST', `/partners/mixpanel/${path}`, { partner_api_key: TEST_PARTNER_KEY, client_secret: secret, ...body }, { key: null });
    expect((await partner('cohorts/users', { cohort_id: 'never-named', cohort_changes: [{ user_ids: ['u1'] }] })).status).toBe(400);
    expect((await partner('cohorts/users', { cohort_id: 'x', cohort_changes: 'nope' })).status).toBe(400);
    expect((await partner('cohorts', { cohort_id: 'x' })).status).toBe(400);
    const rows = (await rejections()).rejections.slice(0, 3).reverse();
    expect(rows.map((r: any) => [r.source, r.reason, r.key_prefix, r.status])).toEqual([
      ['partner_api', 'unknown_cohort', prefixOf(secret), 400],
      ['partner_api', 'invalid_payload', prefixOf(secret), 400],
      ['partner_api', 'invalid_payload', prefixOf(secret), 400],
    ]);
  });

  it(`keeps the newest ${KEEP_PER_WORKSPACE} per workspace, and pages back`, { timeout: 120_000 }, async () => {
    const { rows } = await s.testDb.db.query<{ workspace_id: string }>(`SELECT workspace_id FROM data_import_keys LIMIT 1`);
    const workspaceId = rows[0]!.workspace_id;
    for (let i = 0; i < KEEP_PER_WORKSPACE + 5; i++) {
      await recordRejection(s.testDb.db, { workspaceId, partner: 'mixpanel', source: 'webhook', keyPrefix: null, reason: 'unknown_key', status: 401, message: `n${i}` });
    }
    const { rows: counted } = await s.testDb.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM cohort_sync_rejections WHERE workspace_id = $1`, [workspaceId]);
    expect(counted[0]!.n).toBe(KEEP_PER_WORKSPACE);
    const first = (await s.call('GET', '/admin/cohort-sync-rejections?limit=10')).body;
    expect(first.rejections[0].message).toBe(`n${KEEP_PER_WORKSPACE + 4}`);
    const second = (await s.call('GET', `/admin/cohort-sync-rejections?limit=10&before=${first.next_before}`)).body;
    expect(second.rejections[0].message).toBe(`n${KEEP_PER_WORKSPACE - 6}`);
  });

  it('flags a recurring webhook sync stale after two intervals without a good run, in the admin API and /metrics, until it syncs again', async () => {
    const hook = (body: unknown) => s.call('POST', '/partners/mixpanel/webhook', body, { key: null, headers: { authorization: `Basic ${Buffer.from(`mixpanel:${secret}`).toString('base64')}` } });
    const push = (action: string, ids: string[]) =>
      hook({ action, parameters: { mixpanel_project_id: 9, mixpanel_cohort_id: '90', mixpanel_cohort_name: 'Churn risk', mixpanel_session_id: `s-${action}-${ids.length}`, members: ids.map((id) => ({ mixpanel_distinct_id: id })) } });
    expect((await push('members', ['u1'])).status).toBe(200);
    const cohort = (await s.call('GET', '/admin/cohorts')).body.cohorts.find((c: any) => c.cohort_id === '9:90');
    const stale = async () => (await s.call('GET', '/admin/cohort-syncs/stale')).body.stale.filter((x: any) => x.id === cohort.id);
    // One run: not known to be recurring.
    await s.testDb.db.query(`UPDATE cohort_syncs SET at = now() - interval '3 hours' WHERE cohort_id = $1`, [cohort.id]);
    expect(await stale()).toEqual([]);
    // A second run, an hour later than the first: recurring; both now past two 30-minute intervals.
    expect((await push('add_members', ['u2'])).status).toBe(200);
    await s.testDb.db.query(`UPDATE cohort_syncs SET at = now() - interval '2 hours' WHERE cohort_id = $1 AND action = 'add_members'`, [cohort.id]);
    expect(await stale()).toEqual([expect.objectContaining({ kind: 'webhook_cohort', name: 'Churn risk', interval_seconds: 1800 })]);
    const metrics = (await s.call('GET', '/metrics', undefined, { key: null })).body as string;
    expect(metrics).toContain(`rivulet_cohort_sync_stale{workspace="${(await stale())[0].workspace_id}",kind="webhook_cohort",id="${cohort.id}"} 1`);
    // A good run clears it.
    expect((await push('add_members', ['u3'])).status).toBe(200);
    expect(await stale()).toEqual([]);
  });

  it('flags a dynamic pull connection stale past two of its intervals', async () => {
    const { rows } = await s.testDb.db.query<{ workspace_id: string }>(`SELECT workspace_id FROM data_import_keys LIMIT 1`);
    await s.testDb.db.query(
      `INSERT INTO mixpanel_connections (id, workspace_id, name, project_id, region, credentials, credential_hint, cohort_ids, mode, interval_seconds, match_key, query_budget, state, created_at)
       VALUES (gen_random_uuid(), $1, 'Nightly', '1', 'US', '\\x00', 'abcd', ARRAY['1'], 'dynamic', 600, 'distinct_id', 10, 'failed', now() - interval '30 minutes')`,
      [rows[0]!.workspace_id],
    );
    const stale = (await s.call('GET', '/admin/cohort-syncs/stale')).body.stale;
    expect(stale).toEqual(expect.arrayContaining([expect.objectContaining({ kind: 'pull_connection', name: 'Nightly', interval_seconds: 600, last_success_at: null })]));
  });

  it('sync history: cohort names, empty runs flagged, filtered by cohort and status, paged', async () => {
    const all = (await s.call('GET', '/admin/cohort-syncs?limit=1000')).body.syncs;
    expect(all.find((x: any) => x.partner_cohort_id === `${PROJECT}:7`)).toMatchObject({ cohort_name: 'Loyal' });
    const cohort = (await s.call('GET', '/admin/cohorts')).body.cohorts.find((c: any) => c.cohort_id === '9:90');
    const mine = (await s.call('GET', `/admin/cohort-syncs?cohort_id=${cohort.id}`)).body;
    expect(mine.syncs.length).toBeGreaterThanOrEqual(3);
    expect(mine.syncs.every((x: any) => x.cohort_id === cohort.id && x.cohort_name === 'Churn risk')).toBe(true);
    const applied = (await s.call('GET', '/admin/cohort-syncs?status=applied&limit=1000')).body.syncs;
    expect(applied.length).toBeGreaterThan(0);
    expect(applied.every((x: any) => x.status === 'applied')).toBe(true);
    expect(all.filter((x: any) => x.received === 0 && x.added === 0 && x.removed === 0).every((x: any) => x.empty)).toBe(true);
    expect(all.filter((x: any) => x.received > 0).every((x: any) => !x.empty)).toBe(true);
    // Paging: pages of 2 cover the whole history once, in order.
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: any = (await s.call('GET', `/admin/cohort-syncs?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`)).body;
      seen.push(...page.syncs.map((x: any) => x.id));
      cursor = page.next_cursor;
    } while (cursor);
    expect(seen).toEqual(all.map((x: any) => x.id));
    expect((await s.call('GET', '/admin/cohort-syncs?status=nonsense')).status).toBe(400);
    expect((await s.call('GET', '/admin/cohort-syncs?cursor=nonsense')).status).toBe(400);
  });
});
