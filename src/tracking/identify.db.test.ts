import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_BACKEND } from '../test-support/db.js';
import { stateCounts, startTestServer, type TestServer } from '../test-support/server.js';

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(() => s.close());

const T = '2024-03-01T12:00:00Z';
const alias = (name: string, label = 'mixpanel_id') => ({ alias_name: name, alias_label: label });
const lookup = async (body: unknown) => (await s.call('POST', '/users/export/ids', body)).body.users as any[];
const session = (device_id: string, extra: Record<string, unknown> = {}) =>
  s.call('POST', '/sdk/sessions/start', { app_id: 'ios-app', device_id, session_id: `s-${device_id}-${Math.random()}`, platform: 'ios', ...extra });

describe(`identity on ${TEST_BACKEND}`, () => {
  it('creates an alias-only user and identifies it in place, keeping began_anonymous', async () => {
    const created = await s.call('POST', '/users/alias/new', { user_aliases: [alias('mp_1')] });
    expect(created).toMatchObject({ status: 201, body: { aliases_processed: 1, message: 'success' } });
    const [before] = await lookup({ user_aliases: [alias('mp_1')] });
    expect(before.began_anonymous).toBe(true);

    const r = await s.call('POST', '/users/identify', { aliases_to_identify: [{ external_id: 'idf-1', user_alias: alias('mp_1') }] });
    expect(r).toMatchObject({ status: 201, body: { aliases_processed: 1, message: 'success' } });
    const [after] = await lookup({ external_ids: ['idf-1'] });
    expect(after).toMatchObject({ braze_id: before.braze_id, external_id: 'idf-1', began_anonymous: true, user_aliases: [alias('mp_1')] });

    const again = await s.call('POST', '/users/identify', { aliases_to_identify: [{ external_id: 'idf-1', user_alias: alias('mp_1') }] });
    expect(again.body).toEqual({ aliases_processed: 1, message: 'success' });
    const other = await s.call('POST', '/users/identify', {
      aliases_to_identify: [{ external_id: 'idf-other', user_alias: alias('mp_1') }, { external_id: 'x', user_alias: alias('nobody') }],
    });
    expect(other.status).toBe(400);
    expect(other.body.errors).toEqual([
      { type: 'alias belongs to a different identified user', input_array: 'aliases_to_identify', index: 0 },
      { type: 'alias not found', input_array: 'aliases_to_identify', index: 1 },
    ]);
  });

  it('merges an alias-only profile into the existing identified user', async () => {
    await s.call('POST', '/users/track', {
      attributes: [{ external_id: 'merge-t', first_name: 'Tara', plan: 'pro' }],
      events: [{ external_id: 'merge-t', name: 'watched', time: T }],
    });
    await s.call('POST', '/users/alias/new', { user_aliases: [alias('mp_2')] });
    await s.call('POST', '/users/track', {
      attributes: [{ user_alias: alias('mp_2'), first_name: 'Sam', last_name: 'Stone', plan: 'free', seats: 3 }],
      events: [{ user_alias: alias('mp_2'), name: 'watched', time: '2024-02-01T00:00:00Z' }],
    });
    const [source] = await lookup({ user_aliases: [alias('mp_2')] });
    const usersBefore = (await stateCounts(s)).users;

    const r = await s.call('POST', '/users/identify', { aliases_to_identify: [{ external_id: 'merge-t', user_alias: alias('mp_2') }] });
    expect(r.status).toBe(201);
    expect((await stateCounts(s)).users).toBe(usersBefore - 1);
    const [t] = await lookup({ user_aliases: [alias('mp_2')] });
    expect(t.braze_id).not.toBe(source.braze_id);
    expect(t).toMatchObject({
      external_id: 'merge-t',
      first_name: 'Tara',
      last_name: 'Stone',
      custom_attributes: { plan: 'pro', seats: 3 },
      custom_events: [{ name: 'watched', count: 2, first: '2024-02-01T00:00:00.000Z', last: '2024-03-01T12:00:00.000Z' }],
      user_aliases: [alias('mp_2')],
    });
    expect(await lookup({ braze_id: source.braze_id })).toEqual([]);
  });

  it('with merge_behavior "none" moves identifiers but drops the source attributes and events', async () => {
    await s.call('POST', '/users/track', { attributes: [{ external_id: 'none-t' }] });
    await s.call('POST', '/users/track', {
      attributes: [{ user_alias: alias('mp_3'), first_name: 'Sid', _update_existing_only: false }],
      events: [{ user_alias: alias('mp_3'), name: 'watched', time: T }],
    });
    const r = await s.call('POST', '/users/identify', { aliases_to_identify: [{ external_id: 'none-t', user_alias: alias('mp_3') }], merge_behavior: 'none' });
    expect(r.status).toBe(201);
    const [t] = await lookup({ external_ids: ['none-t'] });
    expect(t.user_aliases).toEqual([alias('mp_3')]);
    expect(t).not.toHaveProperty('first_name');
    expect(t).not.toHaveProperty('custom_events');
  });

  it('refuses to merge when both profiles hold an alias with the same label', async () => {
    await s.call('POST', '/users/track', { attributes: [{ external_id: 'lbl-t' }] });
    await s.call('POST', '/users/alias/new', { user_aliases: [{ external_id: 'lbl-t', ...alias('t-side', 'crm') }] });
    await s.call('POST', '/users/alias/new', { user_aliases: [alias('s-side', 'crm')] });
    await s.call('POST', '/users/identify', { aliases_to_identify: [] }).then((r) => expect(r.status).toBe(400));
    const before = await stateCounts(s);
    const r = await s.call('POST', '/users/identify', { aliases_to_identify: [{ external_id: 'lbl-t', user_alias: alias('s-side', 'crm') }] });
    expect(r.status).toBe(400);
    expect(r.body.errors[0].type).toBe('alias label conflict crm');
    expect(await stateCounts(s)).toEqual(before);
  });

  it('follows the alias/new rules and keeps alias pairs unique per workspace', async () => {
    await s.call('POST', '/users/track', { attributes: [{ external_id: 'al-1' }, { external_id: 'al-2' }] });
    const r = await s.call('POST', '/users/alias/new', {
      user_aliases: [
        { external_id: 'al-1', ...alias('x1', 'crm') },
        { external_id: 'al-1', ...alias('x1', 'crm') },
        { external_id: 'al-2', ...alias('x1', 'crm') },
        { external_id: 'al-1', ...alias('x2', 'crm') },
        { external_id: 'nobody', ...alias('x3', 'crm') },
        alias('x1', 'crm'),
        { alias_name: '', alias_label: 'crm' },
      ],
    });
    expect(r.status).toBe(201);
    expect(r.body.aliases_processed).toBe(2);
    expect(r.body.errors).toEqual([
      { type: 'alias already exists', input_array: 'user_aliases', index: 2 },
      { type: 'alias label conflict crm', input_array: 'user_aliases', index: 3 },
      { type: 'user not found', input_array: 'user_aliases', index: 4 },
      { type: 'alias already exists', input_array: 'user_aliases', index: 5 },
      { type: 'invalid alias_name', input_array: 'user_aliases', index: 6 },
    ]);
    const tooMany = await s.call('POST', '/users/alias/new', { user_aliases: Array.from({ length: 51 }, (_, i) => alias(`n${i}`)) });
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.message).toBe('The max number of external_ids and aliases per request was exceeded');
  });

  it('creates an anonymous user for a new device; identify keeps began_anonymous and merges into an existing user', async () => {
    const first = await session('dev-a', { location: { latitude: 52.5, longitude: 13.4 }, device_model: 'iPhone 15', os_version: '17.6' });
    expect(first).toMatchObject({ status: 201, body: { new_user: true, first_session: true, external_id: null } });
    const second = await session('dev-a');
    expect(second.body).toMatchObject({ new_user: false, first_session: false, user_id: first.body.user_id });
    const end = await s.call('POST', '/sdk/sessions/end', { app_id: 'ios-app', device_id: 'dev-a', session_id: 's1', duration: 12.5 });
    expect(end.status).toBe(201);
    const types = (
      await s.testDb.db.query<{ event_type: string }>('SELECT event_type FROM event_log WHERE user_id = $1 ORDER BY seq', [first.body.user_id])
    ).rows.map((r) => r.event_type);
    expect(types).toEqual([
      'users.behaviors.app.FirstSession',
      'users.behaviors.app.SessionStart',
      'users.behaviors.Location',
      'users.behaviors.app.SessionStart',
      'users.behaviors.app.SessionEnd',
    ]);
    const [anon] = await lookup({ device_id: 'dev-a' });
    expect(anon).toMatchObject({ braze_id: first.body.user_id, began_anonymous: true, device_ids: ['dev-a'] });
    expect(anon).not.toHaveProperty('external_id');

    // Rule 3: nobody holds the external id, so the device profile itself becomes identified.
    const changed = await s.call('POST', '/sdk/users/change', { device_id: 'dev-a', external_id: 'sdk-1' });
    expect(changed.body).toMatchObject({ user_id: first.body.user_id, change: 'identified' });
    const [identified] = await lookup({ external_ids: ['sdk-1'] });
    expect(identified).toMatchObject({ braze_id: first.body.user_id, began_anonymous: true, device_ids: ['dev-a'] });

    // Rule 4: another anonymous device merges into the now identified user.
    const other = await session('dev-b');
    const merged = await s.call('POST', '/sdk/users/change', { device_id: 'dev-b', external_id: 'sdk-1' });
    expect(merged.body).toMatchObject({ user_id: first.body.user_id, change: 'merged' });
    expect(await lookup({ braze_id: other.body.user_id })).toEqual([]);
    const [t] = await lookup({ external_ids: ['sdk-1'] });
    expect(t.device_ids.sort()).toEqual(['dev-a', 'dev-b']);
  });

  it('identifies through /users/identify an anonymous device profile that got an alias, and rejects unknown devices', async () => {
    const anon = await session('dev-c');
    await s.call('POST', '/users/track', { attributes: [{ braze_id: anon.body.user_id, first_name: 'Dee' }] });
    const { rows } = await s.testDb.db.query<{ ok: boolean }>(
      `INSERT INTO user_aliases (workspace_id, alias_label, alias_name, user_id) VALUES ($1, 'mixpanel_id', 'dev-c-alias', $2) RETURNING true AS ok`,
      [s.workspaceId, anon.body.user_id],
    );
    expect(rows[0]!.ok).toBe(true);
    await s.call('POST', '/users/identify', { aliases_to_identify: [{ external_id: 'dev-c-user', user_alias: alias('dev-c-alias') }] });
    const [u] = await lookup({ external_ids: ['dev-c-user'] });
    expect(u).toMatchObject({ braze_id: anon.body.user_id, first_name: 'Dee', began_anonymous: true, device_ids: ['dev-c'] });
    const unknown = await s.call('POST', '/sdk/sessions/end', { app_id: 'ios-app', device_id: 'never-seen', session_id: 'x' });
    expect(unknown.status).toBe(404);
    expect(unknown.body.message).toBe('device_id not found');
  });

  it('isolates workspaces: a key of workspace A can neither read nor write workspace B', async () => {
    const keyB = await s.createKey(['users.track', 'users.export.ids', 'users.alias.new', 'users.identify'], 'workspace-b');
    await s.call('POST', '/users/track', { attributes: [{ external_id: 'iso-1', first_name: 'A-side' }] });
    const asB = (path: string, body: unknown) => s.call('POST', path, body, { key: keyB });
    expect((await asB('/users/export/ids', { external_ids: ['iso-1'] })).body).toEqual({ message: 'success', users: [], invalid_user_ids: ['iso-1'] });
    const [a] = await lookup({ external_ids: ['iso-1'] });
    expect((await asB('/users/export/ids', { braze_id: a.braze_id })).body.users).toEqual([]);
    const write = await asB('/users/track', { attributes: [{ braze_id: a.braze_id, first_name: 'B-side' }] });
    expect(write.status).toBe(400);
    expect(write.body.errors[0].type).toBe('user not found');
    // The same external id in B is a different user.
    await asB('/users/track', { attributes: [{ external_id: 'iso-1', first_name: 'B-side' }] });
    const [b] = (await asB('/users/export/ids', { external_ids: ['iso-1'] })).body.users;
    expect(b.braze_id).not.toBe(a.braze_id);
    expect((await lookup({ external_ids: ['iso-1'] }))[0].first_name).toBe('A-side');
    // Aliases are per workspace too.
    expect((await asB('/users/alias/new', { user_aliases: [alias('mp_1')] })).status).toBe(201);
    const keys = await s.call('GET', '/admin/keys', undefined, { key: s.key });
    expect(keys.body.keys.every((k: any) => k.workspace_id === s.workspaceId)).toBe(true);
  });
});
