import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_BACKEND } from '../test-support/db.js';
import { startTestServer, TEST_PARTNER_KEY, type TestServer } from '../test-support/server.js';

let s: TestServer;
let secret: string;
let powerUsers: string;

const partner = (path: string, body: Record<string, unknown>) =>
  s.call('POST', `/partners/mixpanel/${path}`, { partner_api_key: TEST_PARTNER_KEY, client_secret: secret, ...body }, { key: null });
const inPowerUsers = () => ({ filter: 'Mixpanel_Cohorts', op: 'includes', value: powerUsers });
const plan = (value: string) => ({ filter: 'custom_attribute', attribute: 'plan', op: 'equals', value });

beforeAll(async () => {
  s = await startTestServer();
  secret = (await s.call('POST', '/admin/import-keys', { partner: 'mixpanel' })).body.key;
  await s.call('POST', '/users/track', {
    attributes: Array.from({ length: 12 }, (_, i) => ({ external_id: `m${i}`, plan: i % 3 === 0 ? 'pro' : 'free' })),
  });
  await s.call('POST', '/users/alias/new', { user_aliases: [{ external_id: 'm0', alias_name: 'mp_0', alias_label: 'mixpanel_id' }] });
  await s.call('POST', '/sdk/sessions/start', { app_id: 'app', device_id: 'dev,"quoted"', session_id: 's1' });
  await s.call('POST', '/sdk/users/change', { device_id: 'dev,"quoted"', external_id: 'm3' });
  await partner('cohorts', { cohort_id: '4711', name: 'Power users', created_at: '2024-01-01T00:00:00Z' });
  await partner('cohorts/users', { cohort_id: '4711', cohort_changes: [{ user_ids: ['m0', 'm1', 'm2', 'm3', 'm4', 'm5'] }] });
  const catalogue = await s.call('GET', '/admin/segments/filters');
  powerUsers = catalogue.body.filters.find((f: { filter: string }) => f.filter === 'Mixpanel_Cohorts').cohorts[0].id;
});
afterAll(() => s.close());

describe(`segment admin API on ${TEST_BACKEND}`, () => {
  it('lists the filter catalogue with the workspace’s Mixpanel cohorts by name', async () => {
    const r = await s.call('GET', '/admin/segments/filters');
    expect(r.status).toBe(200);
    expect(r.body.groups).toEqual(['and', 'or', 'not']);
    const mixpanel = r.body.filters.find((f: { filter: string }) => f.filter === 'Mixpanel_Cohorts');
    expect(mixpanel).toMatchObject({ partner: 'mixpanel', operators: ['includes', 'does_not_include'], cohorts: [{ id: powerUsers, name: 'Power users', partner_cohort_id: '4711', member_count: 6 }] });
    expect(r.body.filters.map((f: { filter: string }) => f.filter)).toEqual(
      expect.arrayContaining(['custom_attribute', 'identity', 'email', 'alias_label', 'custom_event', 'purchase', 'last_session']),
    );
  });

  it('creates, reads, lists, updates and deletes segments with names unique per workspace', async () => {
    const created = await s.call('POST', '/admin/segments', { name: 'Pro power users', filter: { and: [inPowerUsers(), plan('pro')] } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: 'Pro power users', description: null, filter: { and: [inPowerUsers(), plan('pro')] } });
    const id = created.body.id;
    expect((await s.call('GET', `/admin/segments/${id}`)).body).toEqual(created.body);

    const clash = await s.call('POST', '/admin/segments', { name: 'Pro power users', filter: { and: [] } });
    expect(clash.status).toBe(409);
    expect(clash.body.errors).toEqual([{ type: 'name is taken', path: 'name' }]);

    const other = await s.call('POST', '/admin/segments', { name: 'Everyone', description: 'all', filter: { and: [] } });
    expect((await s.call('GET', '/admin/segments')).body.segments.map((x: { name: string }) => x.name)).toEqual(['Everyone', 'Pro power users']);

    const updated = await s.call('PUT', `/admin/segments/${id}`, { name: 'Free power users', filter: { and: [inPowerUsers(), plan('free')] } });
    expect(updated.status).toBe(200);
    expect(updated.body).toMatchObject({ id, name: 'Free power users', filter: { and: [inPowerUsers(), plan('free')] } });
    expect((await s.call('PUT', `/admin/segments/${id}`, { name: 'Everyone', filter: { and: [] } })).status).toBe(409);

    expect((await s.call('DELETE', `/admin/segments/${other.body.id}`)).status).toBe(204);
    expect((await s.call('GET', `/admin/segments/${other.body.id}`)).status).toBe(404);
    expect((await s.call('DELETE', `/admin/segments/${other.body.id}`)).status).toBe(404);
    expect((await s.call('PUT', `/admin/segments/${other.body.id}`, { name: 'x', filter: { and: [] } })).status).toBe(404);
    expect((await s.call('GET', '/admin/segments/not-a-uuid')).status).toBe(400);
    await s.call('DELETE', `/admin/segments/${id}`);
  });

  it('answers an invalid filter with one 400 that lists every problem by path, and saves nothing', async () => {
    const r = await s.call('POST', '/admin/segments', {
      name: '',
      extra: 1,
      filter: {
        and: [
          inPowerUsers(),
          { filter: 'custom_attribute', attribute: 'plan', op: 'greater_than', value: 'soon' },
          { filter: 'Mixpanel_Cohorts', op: 'includes', value: 42 },
          { or: [{ filter: 'custom_event', name: 'open', op: 'at_least', count: -1, days: 0 }, { nope: true }] },
          { filter: 'Mixpanel_Cohorts', op: 'maybe', value: '00000000-0000-4000-8000-000000000000' },
          { filter: 'shoe_size', op: 'equals' },
        ],
      },
    });
    expect(r.status).toBe(400);
    expect(r.body.errors.map((e: { path: string }) => e.path)).toEqual([
      'extra',
      'name',
      'filter.and[1].value',
      'filter.and[2].value',
      'filter.and[3].or[0].count',
      'filter.and[3].or[0].days',
      'filter.and[3].or[1]',
      'filter.and[4].op',
      'filter.and[5].filter',
    ]);
    expect(r.body.message).toBe('extra is not allowed');
    expect(r.body.errors[2].type).toBe('filter.and[1].value must be a number or an ISO-8601 date-time');

    const unknownCohort = await s.call('POST', '/admin/segments/preview-count', {
      filter: { not: { filter: 'Mixpanel_Cohorts', op: 'includes', value: '00000000-0000-4000-8000-000000000000' } },
    });
    expect(unknownCohort.status).toBe(400);
    expect(unknownCohort.body.errors).toEqual([{ path: 'filter.not.value', type: 'filter.not.value names no mixpanel cohort of this workspace' }]);

    const deep = { filter: {} as Record<string, unknown> };
    let at = deep.filter;
    for (let i = 0; i < 40; i++) at = (at.not = {}) as Record<string, unknown>;
    const tooDeep = await s.call('POST', '/admin/segments/preview-count', deep);
    expect(tooDeep.status).toBe(400);
    expect(tooDeep.body.errors[0].type).toMatch(/nests deeper than 16 groups/);
    expect((await s.call('GET', '/admin/segments')).body.segments).toEqual([]);
  });

  it('counts, pages, exports and checks membership, and shows imports and tracking at once', async () => {
    const seg = (await s.call('POST', '/admin/segments', { name: 'Pro in power users', filter: { and: [inPowerUsers(), plan('pro')] } })).body;
    const count = async () => (await s.call('GET', `/admin/segments/${seg.id}/count`)).body.count;
    expect(await count()).toBe(2);
    expect((await s.call('POST', '/admin/segments/preview-count', { filter: { and: [inPowerUsers(), { not: plan('pro') }] } })).body).toEqual({ count: 4 });

    await s.call('POST', '/users/track', { attributes: [{ external_id: 'm1', plan: 'pro' }] });
    expect(await count()).toBe(3);
    await partner('cohorts/users', { cohort_id: '4711', cohort_changes: [{ user_ids: ['m0'], should_remove: true }, { user_ids: ['m6'] }] });
    expect(await count()).toBe(3);

    const page1 = await s.call('GET', `/admin/segments/${seg.id}/members?limit=2`);
    expect(page1.body.count).toBe(3);
    expect(page1.body.members.map((m: { external_id: string }) => m.external_id)).toEqual(['m1', 'm3']);
    const page2 = await s.call('GET', `/admin/segments/${seg.id}/members?limit=2&cursor=${page1.body.next_cursor}`);
    expect(page2.body.members.map((m: { external_id: string }) => m.external_id)).toEqual(['m6']);
    expect(page2.body.next_cursor).toBeNull();
    expect((await s.call('GET', `/admin/segments/${seg.id}/members?limit=5000`)).status).toBe(400);

    const ndjson = await s.call('GET', `/admin/segments/${seg.id}/export`);
    expect(ndjson.status).toBe(200);
    expect(ndjson.headers['content-type']).toBe('application/x-ndjson');
    const lines = (ndjson.body as string).trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.external_id)).toEqual(['m1', 'm3', 'm6']);
    expect(lines[1]).toEqual({ user_id: page1.body.members[1].user_id, external_id: 'm3', aliases: [], device_ids: ['dev,"quoted"'] });

    const csv = await s.call('GET', `/admin/segments/${seg.id}/export?format=csv`);
    expect(csv.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect((csv.body as string).split('\n')).toEqual([
      'user_id,external_id,aliases,device_ids',
      `${lines[0].user_id},m1,,`,
      `${lines[1].user_id},m3,,"[""dev,\\""quoted\\""""]"`,
      `${lines[2].user_id},m6,,`,
      '',
    ]);

    const aliasSeg = (await s.call('POST', '/admin/segments', { name: 'Aliased', filter: { filter: 'alias_label', op: 'exists', value: 'mixpanel_id' } })).body;
    // One NDJSON line is one JSON document, which the test client parses.
    const aliased = (await s.call('GET', `/admin/segments/${aliasSeg.id}/export`)).body;
    expect(aliased).toMatchObject({ external_id: 'm0', aliases: [{ alias_name: 'mp_0', alias_label: 'mixpanel_id' }], device_ids: [] });

    const byExternal = await s.call('GET', `/admin/segments/${seg.id}/membership?external_id=m3`);
    expect(byExternal.body).toEqual({ member: true, user_id: lines[1].user_id, external_id: 'm3' });
    expect((await s.call('GET', `/admin/segments/${seg.id}/membership?user_id=${lines[0].user_id}`)).body.member).toBe(true);
    expect((await s.call('GET', `/admin/segments/${seg.id}/membership?external_id=m2`)).body.member).toBe(false);
    const missing = await s.call('GET', `/admin/segments/${seg.id}/membership?external_id=nobody`);
    expect(missing.status).toBe(404);
    expect(missing.body.errors).toEqual([{ type: 'no such user in this workspace', path: 'external_id' }]);
    expect((await s.call('GET', `/admin/segments/${seg.id}/membership?external_id=a%00b`)).status).toBe(400);
    expect((await s.call('GET', `/admin/segments/${seg.id}/membership`)).status).toBe(400);
  });

  it('requires a key with the admin permission and keeps workspaces apart', async () => {
    expect((await s.call('GET', '/admin/segments', undefined, { key: null })).status).toBe(401);
    const trackOnly = await s.createKey(['users.track']);
    expect((await s.call('POST', '/admin/segments/preview-count', { filter: { and: [] } }, { key: trackOnly })).status).toBe(403);
    const otherAdmin = await s.createKey(['admin'], 'other-workspace');
    expect((await s.call('GET', '/admin/segments', undefined, { key: otherAdmin })).body.segments).toEqual([]);
    expect((await s.call('POST', '/admin/segments/preview-count', { filter: { and: [] } }, { key: otherAdmin })).body.count).toBe(0);
    const foreignCohort = await s.call('POST', '/admin/segments/preview-count', { filter: inPowerUsers() }, { key: otherAdmin });
    expect(foreignCohort.status).toBe(400);
  });
});
