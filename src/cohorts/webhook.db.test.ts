import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_BACKEND } from '../test-support/db.js';
import { startTestServer, type TestServer } from '../test-support/server.js';
import { expireStagedSessions } from './webhook.js';

let s: TestServer;
let secret: string;
beforeAll(async () => {
  s = await startTestServer();
  secret = (await s.call('POST', '/admin/import-keys', { partner: 'mixpanel' })).body.key;
  const attributes = Array.from({ length: 60 }, (_, i) => ({ external_id: `u${i}`, email: i < 5 ? `User${i}@Example.com` : undefined }));
  for (let i = 0; i < attributes.length; i += 50) await s.call('POST', '/users/track', { attributes: attributes.slice(i, i + 50) });
});
afterAll(() => s.close());

const basic = (password: string) => `Basic ${Buffer.from(`mixpanel:${password}`).toString('base64')}`;
const hook = (body: unknown, password = secret) =>
  s.call('POST', '/partners/mixpanel/webhook', body, { key: null, headers: { authorization: basic(password) } });
const message = (action: string, ids: Array<string | number>, extra: Record<string, unknown> = {}) => ({
  action,
  parameters: {
    mixpanel_project_id: 123,
    mixpanel_cohort_id: '456',
    mixpanel_cohort_name: 'Power users',
    mixpanel_session_id: 'sess-1',
    members: ids.map((id) => ({ mixpanel_distinct_id: id, email: null, first_name: null, last_name: null })),
    ...extra,
  },
});
const memberIds = async (partnerCohortId = '123:456') =>
  (
    await s.testDb.db.query<{ e: string }>(
      `SELECT u.external_id AS e FROM cohort_members m JOIN cohorts c ON c.id = m.cohort_id JOIN users u ON u.id = m.user_id
        WHERE c.partner_cohort_id = $1 ORDER BY u.ordinal`,
      [partnerCohortId],
    )
  ).rows.map((r) => r.e);

describe(`Mixpanel webhook receiver on ${TEST_BACKEND}`, () => {
  it('stages members pages and applies them as one replacement when the last page arrives', async () => {
    const pages = [
      ['u0', 'u1', 'u2', 'ghost1'],
      ['u3', 4, 'ghost2'],
      ['u5', 'u6'],
    ];
    const send = (i: number) => hook(message('members', pages[i]!, { page_info: { total_pages: 3, page_count: i + 1 } }));
    expect((await send(2)).body).toEqual({ action: 'members', status: 'success' });
    expect((await send(0)).status).toBe(200);
    expect(await memberIds()).toEqual([]);
    expect((await send(0)).status).toBe(200); // a page delivered twice replaces its copy
    expect((await send(1)).body).toEqual({ action: 'members', status: 'success' });
    expect(await memberIds()).toEqual(['u0', 'u1', 'u2', 'u3', 'u5', 'u6']);
    const syncs = (await s.call('GET', '/admin/cohort-syncs')).body.syncs;
    expect(syncs[0]).toMatchObject({ source: 'webhook', action: 'members', status: 'applied', received: 9, matched: 6, unmatched: { not_found: 3 }, added: 6 });
    const cohort = (await s.call('GET', '/admin/cohorts')).body.cohorts.find((c: any) => c.cohort_id === '123:456');
    expect(cohort).toMatchObject({ name: 'Power users', member_count: 6, last_source: 'webhook' });
  });

  it('applies a later full replacement as adds and removes only', async () => {
    const r = await hook(message('members', ['u1', 'u2', 'u7'], { mixpanel_session_id: 'sess-2' }));
    expect(r.status).toBe(200);
    expect(await memberIds()).toEqual(['u1', 'u2', 'u7']);
    const last = (await s.call('GET', '/admin/cohort-syncs')).body.syncs[0];
    expect(last).toMatchObject({ added: 1, removed: 4, unchanged: 2 });
  });

  it('applies add_members and remove_members at once, idempotently', async () => {
    await hook(message('add_members', ['u8', 'u9', 'u1']));
    await hook(message('remove_members', ['u2', 'ghost']));
    await hook(message('remove_members', ['u2', 'ghost']));
    expect(await memberIds()).toEqual(['u1', 'u7', 'u8', 'u9']);
  });

  it('empties the cohort with a single empty members page', async () => {
    await hook(message('members', [], { mixpanel_session_id: 'sess-empty' }));
    expect(await memberIds()).toEqual([]);
  });

  it('matches by email or by an exported property when the workspace says so', async () => {
    await s.call('PUT', '/admin/partners/mixpanel', { match_key: 'email' });
    const byEmail = message('members', [], { mixpanel_cohort_id: 'mail', mixpanel_session_id: 'm' });
    (byEmail.parameters as any).members = [{ mixpanel_distinct_id: 'x', email: ' user1@example.COM ' }, { mixpanel_distinct_id: 'y', email: 'nobody@example.com' }];
    await hook(byEmail);
    expect(await memberIds('123:mail')).toEqual(['u1']);
    await s.call('PUT', '/admin/partners/mixpanel', { match_key: 'property:$braze_external_id' });
    const byProperty = message('add_members', [], { mixpanel_cohort_id: 'prop' });
    (byProperty.parameters as any).members = [{ mixpanel_distinct_id: 'mp-1', $braze_external_id: 'u10' }];
    await hook(byProperty);
    expect(await memberIds('123:prop')).toEqual(['u10']);
    expect((await s.call('PUT', '/admin/partners/mixpanel', { match_key: 'bogus' })).status).toBe(400);
    await s.call('PUT', '/admin/partners/mixpanel', { match_key: 'distinct_id' });
  });

  it('answers failures in the shape Mixpanel expects, changing nothing', async () => {
    const before = await memberIds();
    const bad: Array<[Promise<{ status: number; body: any }>, number, string, string]> = [
      [hook(message('add_members', ['u1']), 'dik_wrong'), 401, 'add_members', 'missing or invalid credentials'],
      [s.call('POST', '/partners/mixpanel/webhook', message('add_members', ['u1']), { key: null }), 401, 'add_members', 'missing or invalid credentials'],
      [hook({ action: 'explode', parameters: {} }), 400, 'explode', 'action must be one of'],
      [hook(message('members', ['u1'], { page_info: { total_pages: 2, page_count: 3 } })), 400, 'members', 'page_count must be between 1 and total_pages'],
      [hook(message('members', ['u1'], { members: 'x' })), 400, 'members', 'parameters.members must be an array'],
      [hook({ ...message('members', ['u1']), parameters: { mixpanel_project_id: 1 } }), 400, 'members', 'parameters.mixpanel_cohort_id'],
      [s.call('POST', '/partners/mixpanel/webhook', undefined, { key: null, raw: '{"action":', headers: { authorization: basic(secret) } }), 400, 'unknown', 'not valid JSON'],
    ];
    for (const [pending, status, action, text] of bad) {
      const r = await pending;
      expect(r.status).toBe(status);
      expect(r.body).toEqual({ action, status: 'failure', error: { message: expect.stringContaining(text), code: status } });
    }
    expect(await memberIds()).toEqual(before);
  });

  it('expires a session whose last page never arrives, recording it as incomplete', async () => {
    await hook(message('members', ['u3'], { mixpanel_cohort_id: 'stale', mixpanel_session_id: 'never-done', page_info: { total_pages: 2, page_count: 1 } }));
    expect(await expireStagedSessions(s.testDb.db)).toBe(0);
    await s.testDb.db.query(`UPDATE webhook_pages SET received_at = now() - interval '73 hours'`);
    expect(await expireStagedSessions(s.testDb.db)).toBe(1);
    expect(await memberIds('123:stale')).toEqual([]);
    const last = (await s.call('GET', '/admin/cohort-syncs')).body.syncs[0];
    expect(last).toMatchObject({ status: 'incomplete', error: 'session never-done expired with 1 of 2 pages' });
  });
});
