/**
 * The engage query API and the cohort control endpoints over real HTTP on 127.0.0.1: paging with
 * sessions, filters, auth forms, unsupported parameters, session expiry, both per-project limits,
 * cohorts/list, injected faults and the control endpoints that shape cohorts.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startMixpanelEmulator, type RunningMixpanelEmulator } from './serve.js';

const NOW_MS = Date.UTC(2025, 0, 15, 12);
const SECRET = 'secret_p1';
let clock = NOW_MS;
let mp: RunningMixpanelEmulator;

const basic = (user: string, pass = '') => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
const OWNER = basic('sa.owner', 's3cret');

async function call(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, opts: { form?: Record<string, string>; json?: unknown; auth?: string | null } = {}) {
  const headers: Record<string, string> = {};
  if (opts.auth) headers.authorization = opts.auth;
  let body: string | undefined;
  if (opts.form) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams(opts.form).toString();
  } else if (opts.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(opts.json);
  }
  const res = await request(mp.url + path, { method, headers, body });
  const text = await res.body.text();
  return { status: res.statusCode, body: text ? JSON.parse(text) : undefined };
}

const engage = (form: Record<string, string>, auth: string | null = OWNER, path = '/api/query/engage?project_id=101') => call('POST', path, { form, auth });
const cohortFilter = JSON.stringify({ id: 7 });

beforeEach(async () => {
  clock = NOW_MS;
  mp = await startMixpanelEmulator({
    now: () => clock,
    projects: [
      { id: '101', token: 'tok_p1', apiSecret: SECRET, serviceAccounts: [{ username: 'sa.owner', secret: 's3cret', role: 'owner' }] },
      { id: '202', token: 'tok_p2', apiSecret: 'secret_p2' },
    ],
    serviceAccounts: [{ username: 'sa.analyst', secret: 'pw', roles: { '101': 'analyst' } }],
  });
  const members = Array.from({ length: 2500 }, (_, i) => (i < 2000 ? { distinct_id: `u${i}`, properties: { $email: `u${i}@x.com`, plan: 'pro' } } : `u${i}`));
  const created = await call('POST', '/_emulator/cohorts', { json: { project_id: '101', id: 7, name: 'Power users', description: 'd', members } });
  expect(created).toMatchObject({ status: 201, body: { id: '7', count: 2500 } });
});
afterEach(() => mp.close());

describe('engage query API', () => {
  it('pages a cohort from page 0 with the session of the first page, until a short page', async () => {
    const first = await engage({ filter_by_cohort: cohortFilter });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ page: 0, page_size: 1000, status: 'ok', total: 2500, session_id: expect.any(String) });
    const seen = new Set<string>(first.body.results.map((r: any) => r.$distinct_id));
    expect(first.body.results[0]).toEqual({ $distinct_id: 'u0', $properties: { $email: 'u0@x.com', plan: 'pro' } });
    for (let page = 1; ; page++) {
      const next = await engage({ filter_by_cohort: cohortFilter, session_id: first.body.session_id, page: String(page) });
      expect(next.body.page).toBe(page);
      for (const r of next.body.results) seen.add(r.$distinct_id);
      if (next.body.results.length < next.body.page_size) break;
    }
    expect(seen.size).toBe(2500);
    // Members without a profile come with empty properties.
    const last = await engage({ filter_by_cohort: cohortFilter, session_id: first.body.session_id, page: '2' });
    expect(last.body.results.at(-1)).toEqual({ $distinct_id: 'u2499', $properties: {} });
  });

  it('filters profiles only and the requested properties; the legacy path takes GET and the legacy secret', async () => {
    const profiles = await engage({ filter_by_cohort: cohortFilter, include_all_users: 'false', output_properties: '["$email"]' });
    expect(profiles.body.total).toBe(2000);
    expect(profiles.body.results[5]).toEqual({ $distinct_id: 'u5', $properties: { $email: 'u5@x.com' } });
    const qs = new URLSearchParams({ filter_by_cohort: cohortFilter, include_all_users: 'true', distinct_ids: '["u1","u2400","nobody"]' });
    const legacy = await call('GET', `/api/2.0/engage?${qs}`, { auth: basic(SECRET) });
    expect(legacy.status).toBe(200);
    expect(legacy.body.results.map((r: any) => r.$distinct_id)).toEqual(['u1', 'u2400']);
    const all = await call('POST', '/api/2.0/engage', { form: {}, auth: basic(SECRET) });
    expect(all.body.total).toBe(2000);
  });

  it('answers bad and unsupported parameters with 400 in Mixpanel error shape', async () => {
    const cases: Array<[Record<string, string>, string]> = [
      [{ filter_by_cohort: cohortFilter, page: '1' }, 'page > 0 requires the session_id'],
      [{ where: 'properties["plan"] == "pro"' }, "'where' is not supported by emulator"],
      [{ data_group_id: '3' }, 'not supported by emulator'],
      [{ filter_by_cohort: cohortFilter, behaviors: '[]' }, 'filter_by_cohort cannot be combined with behaviors'],
      [{ filter_by_cohort: '{"name":"x"}' }, 'filter_by_cohort must be a JSON object with an id'],
      [{ include_all_users: 'true' }, 'include_all_users can only be used with filter_by_cohort'],
      [{ output_properties: '$email' }, 'output_properties must be a JSON array'],
      [{ filter_by_cohort: '{"id": 999}' }, 'cohort 999 not found'],
      [{ session_id: 'made-up', page: '1' }, 'session_id is unknown or expired'],
    ];
    for (const [form, text] of cases) {
      const r = await engage(form);
      expect(r.status, text).toBe(400);
      expect(r.body).toEqual({ request: '/api/query/engage', error: expect.stringContaining(text) });
    }
  });

  it('expires a paging session an hour after its last use', async () => {
    const first = await engage({ filter_by_cohort: cohortFilter });
    clock += 59 * 60_000;
    expect((await engage({ filter_by_cohort: cohortFilter, session_id: first.body.session_id, page: '1' })).status).toBe(200);
    clock += 61 * 60_000;
    const expired = await engage({ filter_by_cohort: cohortFilter, session_id: first.body.session_id, page: '2' });
    expect(expired).toMatchObject({ status: 400, body: { error: expect.stringContaining('expired') } });
  });

  it('authenticates a service account on any role with project_id, or the legacy secret', async () => {
    expect((await engage({}, null)).status).toBe(401);
    expect((await engage({}, basic('sa.owner', 'wrong'))).status).toBe(401);
    expect((await engage({}, basic('sa.analyst', 'pw'))).status).toBe(200);
    expect((await engage({}, OWNER, '/api/query/engage?project_id=202')).status).toBe(403);
    expect((await engage({}, basic('secret_p2'), '/api/query/engage?project_id=101')).status).toBe(403);
    expect(await engage({}, OWNER, '/api/query/engage')).toMatchObject({ status: 400, body: { error: 'project_id is required with a service account' } });
  });

  it('refuses a project over 60 queries per rolling hour and over 5 concurrent queries with 429', async () => {
    await call('POST', '/_emulator/engage/settings', { json: { queries_per_hour: 3 } });
    for (let i = 0; i < 3; i++) expect((await engage({})).status).toBe(200);
    const over = await engage({});
    expect(over).toMatchObject({ status: 429, body: { request: '/api/query/engage', error: expect.stringContaining('3 queries per hour') } });
    expect((await engage({}, basic('secret_p2'), '/api/query/engage')).status).toBe(200); // other projects are apart
    clock += 3_600_001;
    expect((await engage({})).status).toBe(200);

    await call('POST', '/_emulator/engage/settings', { json: { queries_per_hour: 60, max_concurrent: 2, latency_ms: 300 } });
    const statuses = (await Promise.all([0, 1, 2].map(() => engage({})))).map((r) => r.status).sort();
    expect(statuses).toEqual([200, 200, 429]);
  });

  it('lists cohorts and injects faults on request', async () => {
    const list = await call('POST', '/api/query/cohorts/list?project_id=101', { form: {}, auth: OWNER });
    expect(list.body).toEqual([{ count: 2500, is_visible: 1, description: 'd', created: '2025-01-15 12:00:00', project_id: 101, id: 7, name: 'Power users' }]);
    await call('POST', '/_emulator/engage/faults', { json: { project_id: '101', script: [503, 200, 429] } });
    expect((await engage({})).status).toBe(503);
    expect((await engage({})).status).toBe(200);
    expect((await engage({})).status).toBe(429);
    const log = (await call('GET', '/_emulator/engage/queries?project_id=101')).body.queries;
    expect(log.map((q: any) => q.status)).toEqual([200, 503, 200, 429]);
  });
});

describe('cohort control endpoints', () => {
  it('replaces, adds and removes members; reads a cohort back', async () => {
    const path = '/_emulator/cohorts/7/members';
    expect((await call('PUT', path, { json: { project_id: '101', members: ['a', 'b', { distinct_id: 'c', properties: { $email: 'c@x' } }] } })).body.count).toBe(3);
    expect((await call('POST', path, { json: { project_id: '101', members: ['b', 'd'] } })).body).toMatchObject({ count: 4, added: 1 });
    expect((await call('POST', `${path}/remove`, { json: { project_id: '101', distinct_ids: ['a', 'zz'] } })).body).toMatchObject({ count: 3, removed: 1 });
    expect((await call('GET', '/_emulator/cohorts/7?project_id=101')).body.members).toEqual(['b', 'c', 'd']);
    expect((await call('GET', '/_emulator/cohorts?project_id=101')).body.cohorts).toHaveLength(1);
    expect((await call('POST', '/_emulator/cohorts', { json: { project_id: '999', name: 'x' } })).status).toBe(404);
    expect((await call('POST', '/_emulator/cohorts', { json: { project_id: '101' } })).body).toEqual({ error: 'name is required' });
    expect((await call('POST', path, { json: { project_id: '101', members: [{}] } })).status).toBe(400);
  });
});
