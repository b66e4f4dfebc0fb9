/**
 * Every list of the admin API is paged (docs/reference/operations.md#pages): `limit` 1–1,000
 * (default 100) and an opaque keyset `cursor`; `next_cursor` is null on the last page. Walking a
 * list two rows at a time gives exactly the rows of one big page, in the same order, once each.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_BACKEND } from '../src/test-support/db.js';
import { startTestServer, TEST_PARTNER_KEY, type TestServer } from '../src/test-support/server.js';

let s: TestServer;
const N = 5;

beforeAll(async () => {
  s = await startTestServer();
  const secret = (await s.call('POST', '/admin/import-keys', { partner: 'mixpanel' })).body.key;
  for (let i = 0; i < N; i++) {
    expect((await s.call('POST', '/admin/segments', { name: `segment ${i % 2}-${i}`, filter: { and: [] } })).status).toBe(201);
    const partner = { partner_api_key: TEST_PARTNER_KEY, client_secret: secret };
    expect((await s.call('POST', '/partners/mixpanel/cohorts', { ...partner, cohort_id: `c${i}`, name: i < 3 ? 'Same name' : `Cohort ${i}`, created_at: '2024-01-01T00:00:00Z' }, { key: null })).status).toBe(201);
    await s.call('POST', '/partners/mixpanel/cohorts/users', { ...partner, cohort_id: `c${i}`, cohort_changes: [{ user_ids: [`u${i}`] }] }, { key: null });
    expect((await s.call('POST', '/admin/keys', { name: `k${i}`, permissions: ['users.track'] })).status).toBe(201);
    expect((await s.call('POST', '/admin/import-keys', { partner: 'mixpanel' })).status).toBe(201);
    const connection = {
      name: `pull ${i}`,
      project_id: `${700 + i}`,
      base_url: 'http://127.0.0.1:9',
      service_account: { username: 'sa', secret: 'not-used' },
      cohort_ids: [1],
      mode: 'one_time',
    };
    expect((await s.call('POST', '/admin/mixpanel/connections', connection)).status).toBe(201);
    const connector = await s.call('POST', '/admin/currents/mixpanel', {
      name: `export ${i}`,
      contact_email: 'ops@example.com',
      credentials: { kind: 'service_account', username: 'sa', secret: 'not-used', project_id: `${800 + i}` },
      project_token: 'token',
      region: 'US',
      base_url: 'http://127.0.0.1:9',
      event_types: ['users.behaviors.CustomEvent'],
    });
    expect(connector.status).toBe(201);
    await s.call('POST', `/admin/currents/${connector.body.id}/pause`);
  }
  // Dashboard sessions, several with the same creation time (the keyset's tie-break is the id).
  await s.testDb.db.query(
    `INSERT INTO dashboard_sessions (token_hash, created_at, expires_at)
     SELECT decode(md5(g::text || $1), 'hex'), now() - (g / 3) * interval '1 minute', now() + interval '1 hour' FROM generate_series(1, $2::int) g`,
    [randomBytes(8).toString('hex'), N],
  );
}, 180_000);
afterAll(() => s?.close());

const LISTS: Array<[path: string, field: string]> = [
  ['/admin/segments', 'segments'],
  ['/admin/cohorts', 'cohorts'],
  ['/admin/keys', 'keys'],
  ['/admin/import-keys', 'keys'],
  ['/admin/cohort-syncs', 'syncs'],
  ['/admin/mixpanel/connections', 'connections'],
  ['/admin/currents', 'connectors'],
  ['/admin/sessions', 'sessions'],
];

describe(`admin API pages on ${TEST_BACKEND}`, () => {
  it.each(LISTS)('%s walks by cursor to exactly the rows of one big page', async (path, field) => {
    const all = await s.call('GET', `${path}?limit=1000`);
    expect(all.status).toBe(200);
    expect(all.body.next_cursor).toBeNull();
    const rows = all.body[field] as Array<Record<string, unknown>>;
    expect(rows.length).toBeGreaterThanOrEqual(N);

    const walked: Array<Record<string, unknown>> = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: { status: number; body: Record<string, any> } = await s.call('GET', `${path}?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.status).toBe(200);
      expect((page.body[field] as unknown[]).length).toBeLessThanOrEqual(2);
      walked.push(...page.body[field]);
      cursor = page.body.next_cursor;
      expect(++pages).toBeLessThan(rows.length + 2);
    } while (cursor);
    const idOf = (r: Record<string, unknown>) => String(r.id ?? r.prefix);
    expect(walked.map(idOf)).toEqual(rows.map(idOf));
    expect(new Set(walked.map(idOf)).size).toBe(walked.length);

    // The default page is 100 rows; a short list fits it.
    expect((await s.call('GET', path)).body.next_cursor).toBeNull();
  });

  it.each(LISTS)('%s refuses a bad limit or cursor with a 400, never a 500', async (path) => {
    for (const query of ['limit=0', 'limit=1001', 'limit=abc', 'cursor=', 'cursor=%00', 'cursor=bm90IGpzb24', 'cursor=WzEsMiwzLDQsNSw2XQ', 'other=1']) {
      const r = await s.call('GET', `${path}?${query}`);
      expect(r.status, `${path}?${query}`).toBe(400);
      expect(typeof r.body.message).toBe('string');
    }
    // A cursor of the right shape whose values PostgreSQL cannot read as the key's types.
    const forged = Buffer.from(JSON.stringify(['not a time', 'not a uuid'])).toString('base64url');
    const r = await s.call('GET', `${path}?cursor=${forged}`);
    expect(r.status).toBe(400);
    expect(r.body.errors).toEqual([{ type: 'cursor is not a next_cursor this list gave', path: 'cursor' }]);
  });
});
