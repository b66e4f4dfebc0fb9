import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_BACKEND } from '../test-support/db.js';
import { startTestServer, TEST_PARTNER_KEY, type TestServer } from '../test-support/server.js';

let s: TestServer;
let secret: string;
beforeAll(async () => {
  s = await startTestServer();
  const created = await s.call('POST', '/admin/import-keys', { partner: 'mixpanel' });
  secret = created.body.key;
  // 20 identified users, 2 alias-only users, 2 anonymous device users, one device user identified later.
  await s.call('POST', '/users/track', { attributes: Array.from({ length: 20 }, (_, i) => ({ external_id: `ext_${i}` })) });
  await s.call('POST', '/users/alias/new', { user_aliases: [{ alias_name: 'mp_a', alias_label: 'mixpanel_id' }, { alias_name: 'mp_b', alias_label: 'mixpanel_id' }] });
  for (const d of ['dev_1', 'dev_2', 'dev_3']) {
    await s.call('POST', '/sdk/sessions/start', { app_id: 'app', device_id: d, session_id: `s_${d}` });
  }
  await s.call('POST', '/sdk/users/change', { device_id: 'dev_3', external_id: 'was_anonymous' });
});
afterAll(() => s.close());

const auth = () => ({ partner_api_key: TEST_PARTNER_KEY, client_secret: secret });
const name = (cohort_id: string, n: string, extra: Record<string, unknown> = {}) =>
  s.call('POST', '/partners/mixpanel/cohorts', { ...auth(), cohort_id, name: n, created_at: '2021-01-21T19:20:30+05:00', ...extra }, { key: null });
const changes = (cohort_id: string, cohort_changes: unknown, extra: Record<string, unknown> = {}) =>
  s.call('POST', '/partners/mixpanel/cohorts/users', { ...auth(), cohort_id, cohort_changes, ...extra }, { key: null });
const members = async (cohortId: string) => {
  const { rows } = await s.testDb.db.query<{ who: string }>(
    `SELECT coalesce(u.external_id, a.alias_name, d.device_id) AS who FROM cohort_members m
       JOIN cohorts c ON c.id = m.cohort_id JOIN users u ON u.id = m.user_id
       LEFT JOIN user_aliases a ON a.user_id = u.id LEFT JOIN user_devices d ON d.user_id = u.id
      WHERE c.partner_cohort_id = $1 ORDER BY 1`,
    [cohortId],
  );
  return rows.map((r) => r.who);
};
const dataPoints = async () =>
  (await s.call('GET', '/admin/usage/data-points')).body.total as number;

describe(`partner cohort API on ${TEST_BACKEND}`, () => {
  it('creates, renames and repeats the cohort name call', async () => {
    expect((await name('4711', 'Power users')).body).toEqual({ message: 'success', cohort_id: '4711', name: 'Power users', created: true });
    expect((await name('4711', 'Power users')).body.created).toBe(false);
    const renamed = await name('4711', 'Super users', { created_at: '2030-01-01T00:00:00Z' });
    expect(renamed).toMatchObject({ status: 201, body: { name: 'Super users', created: false } });
    const list = await s.call('GET', '/admin/cohorts');
    expect(list.body.cohorts).toMatchObject([{ cohort_id: '4711', name: 'Super users', partner: 'mixpanel', filter: 'Mixpanel_Cohorts', member_count: 0 }]);
    expect(new Date(list.body.cohorts[0].created_at).toISOString()).toBe('2021-01-21T14:20:30.000Z');
  });

  it('adds and removes members with the documented counts, last entry winning', async () => {
    await name('c1', 'Cohort one');
    const before = await dataPoints();
    const first = await changes('c1', [{ user_ids: ['ext_1', 'ext_2'] }]);
    expect(first.body).toMatchObject({ added: 2, applied: 2, data_points: 2 });
    const r = await changes('c1', [
      { user_ids: ['ext_1', 'ext_2', 'nobody'], device_ids: ['dev_3', 'dev_1'], aliases: [{ alias_name: 'mp_a', alias_label: 'mixpanel_id' }] },
      { user_ids: ['ext_3'], should_remove: true },
      { user_ids: ['ext_1'], should_remove: true },
    ]);
    expect(r.status).toBe(201);
    expect(r.body).toEqual({
      message: 'success',
      cohort_id: 'c1',
      received: 8,
      matched: 6,
      unmatched: 2,
      added: 2,
      removed: 1,
      unchanged: 2,
      applied: 3,
      data_points: 3,
      unmatched_reasons: { not_found: 1, device_id_of_identified_user: 1 },
      unmatched_identifiers: { user_ids: ['nobody'], device_ids: ['dev_3'], aliases: [] },
    });
    expect(await members('c1')).toEqual(['dev_1', 'ext_2', 'mp_a']);
    expect((await dataPoints()) - before).toBe(5);
    const [profile] = (await s.call('POST', '/users/export/ids', { external_ids: ['ext_2'], fields_to_export: ['cohorts'] })).body.users;
    expect(profile.cohorts).toEqual([{ partner: 'mixpanel', cohort_id: 'c1', name: 'Cohort one', since: expect.any(String) }]);
  });

  it('matches an anonymous user by device id, and after identify only by external id', async () => {
    await name('dev', 'Device cohort');
    expect((await changes('dev', [{ device_ids: ['dev_2'] }])).body).toMatchObject({ matched: 1, added: 1 });
    await s.call('POST', '/sdk/users/change', { device_id: 'dev_2', external_id: 'dev_2_user' });
    const again = await changes('dev', [{ device_ids: ['dev_2'], should_remove: true }]);
    expect(again.body).toMatchObject({ matched: 0, removed: 0, unmatched_reasons: { device_id_of_identified_user: 1 } });
    const byExternal = await changes('dev', [{ user_ids: ['dev_2_user'], should_remove: true }]);
    expect(byExternal.body).toMatchObject({ matched: 1, removed: 1 });
  });

  it('replays leave the same membership and data points; import never creates users', async () => {
    await name('replay', 'Replay');
    const body = [{ user_ids: ['ext_5', 'ext_6', 'ghost_1'] }, { user_ids: ['ext_7'], should_remove: true }];
    await changes('replay', body);
    const users = (await s.testDb.db.query<{ n: number }>('SELECT count(*)::int8 AS n FROM users')).rows[0]!.n;
    const points = await dataPoints();
    const again = await changes('replay', body);
    expect(again.body).toMatchObject({ added: 0, removed: 0, unchanged: 3, data_points: 0 });
    expect(await members('replay')).toEqual(['ext_5', 'ext_6']);
    expect(await dataPoints()).toBe(points);
    expect((await s.testDb.db.query<{ n: number }>('SELECT count(*)::int8 AS n FROM users')).rows[0]!.n).toBe(users);
  });

  it('accepts 1,000 identifiers and refuses 1,001 with the documented message', async () => {
    await name('big', 'Big');
    const ids = (n: number) => Array.from({ length: n }, (_, i) => `bulk_${i}`);
    const ok = await changes('big', [{ user_ids: ids(600) }, { device_ids: ids(399), aliases: [{ alias_name: 'mp_b', alias_label: 'mixpanel_id' }] }]);
    expect(ok.status).toBe(201);
    expect(ok.body.received).toBe(1000);
    const over = await changes('big', [{ user_ids: ids(600) }, { device_ids: ids(401) }]);
    expect(over.status).toBe(400);
    expect(over.body.message).toBe('Only 1,000 user_ids, device_ids, and aliases are allowed per request');
  });

  it('treats empty change lists as a credentials test, even for an unknown cohort', async () => {
    expect((await changes('never-named', [])).body).toMatchObject({ message: 'success', received: 0, applied: 0 });
    expect((await changes('never-named', [{ user_ids: [] }])).status).toBe(201);
    const unknown = await changes('never-named', [{ user_ids: ['ext_1'] }]);
    expect(unknown.status).toBe(400);
    expect(unknown.body.message).toBe('cohort_id does not name a known cohort; create it with the cohort name endpoint first');
  });

  it('answers every documented error, in the documented order, and changes nothing', async () => {
    await name('err', 'Errors');
    const counts = async () =>
      (await s.testDb.db.query<{ m: number; d: number; c: number }>(
        'SELECT (SELECT count(*) FROM cohort_members)::int8 AS m, (SELECT coalesce(sum(added + removed), 0) FROM data_points)::int8 AS d, (SELECT count(*) FROM cohorts)::int8 AS c',
      )).rows[0];
    const before = await counts();
    const post = (path: string, body: unknown, raw?: string) => s.call('POST', `/partners/mixpanel/${path}`, body, { key: null, ...(raw ? { raw } : {}) });
    const cases: Array<[string, Promise<{ status: number; body: any }>, number, string]> = [
      ['malformed JSON', post('cohorts/users', undefined, '{"cohort_id": '), 400, 'Request body must be a JSON object'],
      ['array body', post('cohorts/users', [1]), 400, 'Request body must be a JSON object'],
      ['no keys', post('cohorts/users', { cohort_id: 'err', cohort_changes: [] }), 401, 'Unauthorized access'],
      ['key not a string', post('cohorts/users', { partner_api_key: 1, client_secret: secret }), 401, 'Unauthorized access'],
      ['wrong partner key', post('cohorts/users', { partner_api_key: 'nope', client_secret: secret, cohort_id: 'err', cohort_changes: [] }), 401, 'Invalid Partner API key'],
      ['unknown partner', s.call('POST', '/partners/amplitude/cohorts/users', { ...auth(), cohort_id: 'err', cohort_changes: [] }, { key: null }), 401, 'Invalid Partner API key'],
      ['wrong secret', post('cohorts/users', { partner_api_key: TEST_PARTNER_KEY, client_secret: 'dik_wrong', cohort_id: 'err', cohort_changes: [] }), 401, 'Invalid client secret'],
      ['cohort id type', post('cohorts/users', { ...auth(), cohort_id: 5, cohort_changes: [] }), 400, 'cohort_id must be a valid string'],
      ['changes not array', post('cohorts/users', { ...auth(), cohort_id: 'err', cohort_changes: {} }), 400, expect.stringContaining('cohort_changes must be an array') as unknown as string],
      ['id not a string', post('cohorts/users', { ...auth(), cohort_id: 'err', cohort_changes: [{ user_ids: ['ext_1', 7] }] }), 400, expect.stringContaining('cohort_changes must be') as unknown as string],
      ['bad alias', post('cohorts/users', { ...auth(), cohort_id: 'err', cohort_changes: [{ aliases: [{ alias_name: 'x' }] }] }), 400, expect.stringContaining('aliases object') as unknown as string],
      ['bad should_remove', post('cohorts/users', { ...auth(), cohort_id: 'err', cohort_changes: [{ user_ids: ['ext_1'], should_remove: 'yes' }] }), 400, expect.stringContaining('cohort_changes') as unknown as string],
      ['name missing', post('cohorts', { ...auth(), cohort_id: 'err', created_at: '2021-01-01T00:00:00Z' }), 400, 'name must be a non-empty string'],
      ['created_at without zone', post('cohorts', { ...auth(), cohort_id: 'err', name: 'x', created_at: '2021-01-01T00:00:00' }), 400, 'created_at must be a valid time as an ISO-8601 string'],
      ['oversized', post('cohorts/users', undefined, JSON.stringify({ ...auth(), cohort_id: 'err', cohort_changes: [{ user_ids: ['x'.repeat(3 * 1024 * 1024)] }] })), 413, 'Request body too large'],
    ];
    for (const [label, pending, status, message] of cases) {
      const r = await pending;
      expect({ label, status: r.status, message: r.body.message }).toEqual({ label, status, message });
      expect(r.body.errors.length, label).toBeGreaterThan(0);
    }
    const typeError = await post('cohorts/users', { ...auth(), cohort_id: 'err', cohort_changes: [{ user_ids: ['ok', 7] }, 'x'] });
    expect(typeError.body.errors.map((e: any) => e.path)).toEqual(['cohort_changes[0].user_ids[1]', 'cohort_changes[1]']);
    expect(await counts()).toEqual(before);
  });

  it('rotates and invalidates data import keys with immediate effect', async () => {
    const fresh = (await s.call('POST', '/admin/import-keys', { partner: 'mixpanel' })).body;
    expect(fresh.key).toMatch(/^dik_/);
    const use = (k: string) => s.call('POST', '/partners/mixpanel/cohorts/users', { partner_api_key: TEST_PARTNER_KEY, client_secret: k, cohort_id: 'c1', cohort_changes: [] }, { key: null });
    expect((await use(fresh.key)).status).toBe(201);
    const rotated = await s.call('POST', `/admin/import-keys/${fresh.prefix}/rotate`);
    expect(rotated).toMatchObject({ status: 201, body: { replaces: fresh.prefix, state: 'active' } });
    expect((await use(fresh.key)).body.message).toBe('Invalid client secret');
    expect((await use(rotated.body.key)).status).toBe(201);
    await s.call('POST', `/admin/import-keys/${rotated.body.prefix}/invalidate`);
    expect((await use(rotated.body.key)).status).toBe(401);
    const list = (await s.call('GET', '/admin/import-keys')).body.keys;
    expect(list.find((k: any) => k.prefix === fresh.prefix).state).toBe('rotated');
    expect(list.find((k: any) => k.prefix === rotated.body.prefix).state).toBe('invalidated');
    expect(JSON.stringify(list)).not.toContain(rotated.body.key);
    // A key of another workspace's partner setting: disabling the partner refuses the key.
    await s.call('PUT', '/admin/partners/mixpanel', { enabled: false });
    const disabled = await use(secret);
    expect(disabled.status).toBe(401);
    expect(disabled.body.message).toBe(`Partner not enabled for client with client secret: ${secret.split('_').slice(0, 2).join('_')}…`);
    expect(disabled.body.message).not.toContain(secret);
    await s.call('PUT', '/admin/partners/mixpanel', { enabled: true });
  });

  it('gives a merged user the union of both memberships, without data points', async () => {
    await name('m1', 'Merge one');
    await name('m2', 'Merge two');
    await s.call('POST', '/users/track', { attributes: [{ external_id: 'merge_target' }] });
    await s.call('POST', '/users/alias/new', { user_aliases: [{ alias_name: 'merge_src', alias_label: 'crm' }] });
    await changes('m1', [{ user_ids: ['merge_target'] }]);
    await changes('m2', [{ aliases: [{ alias_name: 'merge_src', alias_label: 'crm' }] }]);
    const points = await dataPoints();
    await s.call('POST', '/users/identify', { aliases_to_identify: [{ external_id: 'merge_target', user_alias: { alias_name: 'merge_src', alias_label: 'crm' } }] });
    const [u] = (await s.call('POST', '/users/export/ids', { external_ids: ['merge_target'], fields_to_export: ['cohorts'] })).body.users;
    expect(u.cohorts.map((c: any) => c.cohort_id)).toEqual(['m1', 'm2']);
    expect(await dataPoints()).toBe(points);
    const cohorts = (await s.call('GET', '/admin/cohorts')).body.cohorts;
    expect(cohorts.find((c: any) => c.cohort_id === 'm2').member_count).toBe(1);
  });

  it('records every request in the sync history', async () => {
    const syncs = (await s.call('GET', '/admin/cohort-syncs?limit=500')).body.syncs;
    expect(syncs.some((x: any) => x.status === 'rejected' && x.error === 'cohort_id does not name a known cohort; create it with the cohort name endpoint first')).toBe(true);
    const applied = syncs.find((x: any) => x.partner_cohort_id === 'c1' && x.received === 8);
    expect(applied).toMatchObject({ source: 'partner_api', status: 'applied', matched: 6, unmatched: { not_found: 1, device_id_of_identified_user: 1 }, added: 2, removed: 1, unchanged: 2 });
  });
});
