/**
 * Cohort ids and names are kept in Unicode NFC, and a workspace holds at most
 * RIVULET_COHORTS_PER_WORKSPACE cohorts (docs/reference/cohort-import.md#15-cohort-ids-and-names,
 * #16-cohorts-per-workspace), however many creations arrive at once.
 */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_BACKEND } from '../test-support/db.js';
import { startTestServer, TEST_PARTNER_KEY, type TestServer } from '../test-support/server.js';

let s: TestServer;
let secret: string;
const CAP = 3;

const partner = (path: string, body: Record<string, unknown>) =>
  s.call('POST', `/partners/mixpanel/${path}`, { partner_api_key: TEST_PARTNER_KEY, client_secret: secret, ...body }, { key: null });
const create = (cohortId: string, name: string) => partner('cohorts', { cohort_id: cohortId, name, created_at: '2024-01-01T00:00:00Z' });

beforeAll(async () => {
  s = await startTestServer({ RIVULET_COHORTS_PER_WORKSPACE: String(CAP) });
  secret = (await s.call('POST', '/admin/import-keys', { partner: 'mixpanel' })).body.key;
  await s.call('POST', '/users/track', { attributes: [{ external_id: 'u1' }, { external_id: 'u2' }] });
}, 120_000);
afterAll(() => s?.close());

describe(`cohort ids, names and the cohort cap on ${TEST_BACKEND}`, () => {
  it('treats an id typed composed or decomposed as one cohort, stored in NFC', async () => {
    const decomposed = 'cafe\u0301';
    const composed = 'caf\u00e9';
    const first = await create(decomposed, 'Cafe\u0301 lovers');
    expect(first.status).toBe(201);
    expect(first.body.created).toBe(true);
    const again = await create(composed, 'Caf\u00e9 lovers');
    expect(again.status).toBe(201);
    expect(again.body).toMatchObject({ created: false, name: 'Caf\u00e9 lovers' });

    const listed = (await s.call('GET', '/admin/cohorts')).body.cohorts;
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({ cohort_id: composed, name: 'Caf\u00e9 lovers' });

    // Members sent under either form land in the one cohort.
    expect((await partner('cohorts/users', { cohort_id: decomposed, cohort_changes: [{ user_ids: ['u1'] }] })).status).toBe(201);
    expect((await partner('cohorts/users', { cohort_id: composed, cohort_changes: [{ user_ids: ['u2'] }] })).status).toBe(201);
    expect((await s.call('GET', '/admin/cohorts')).body.cohorts[0].member_count).toBe(2);
  });

  it('migration 035 normalizes cohorts stored before, and leaves an id whose NFC twin exists as it is', async () => {
    const ws = await s.testDb.db.query<{ id: string }>(`INSERT INTO workspaces (id, name) VALUES (gen_random_uuid(), 'nfc-migration') RETURNING id`);
    const wsId = ws.rows[0]!.id;
    const insert = (partnerCohortId: string, name: string) =>
      s.testDb.db.query(`INSERT INTO cohorts (id, workspace_id, partner, partner_cohort_id, name, created_at) VALUES (gen_random_uuid(), $1, 'mixpanel', $2, $3, now())`, [
        wsId,
        partnerCohortId,
        name,
      ]);
    await insert('re\u0301sume\u0301', 'Re\u0301sume\u0301');
    await insert('nai\u0308ve', 'one');
    await insert('na\u00efve', 'two');
    await s.testDb.db.exec(await readFile(new URL('../../migrations/035_cohort_text_nfc.sql', import.meta.url), 'utf8'));
    const { rows } = await s.testDb.db.query<{ partner_cohort_id: string; name: string }>(
      'SELECT partner_cohort_id, name FROM cohorts WHERE workspace_id = $1 ORDER BY name COLLATE "C"',
      [wsId],
    );
    expect(rows).toEqual([
      { partner_cohort_id: 'r\u00e9sum\u00e9', name: 'R\u00e9sum\u00e9' },
      { partner_cohort_id: 'nai\u0308ve', name: 'one' },
      { partner_cohort_id: 'na\u00efve', name: 'two' },
    ]);
  });

  it(`creates at most ${CAP} cohorts per workspace, even from parallel requests, and keeps renames working`, async () => {
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => create(`parallel-${i}`, `Parallel ${i}`)));
    expect(results.filter((r) => r.status === 201)).toHaveLength(CAP - 1);
    const refused = results.filter((r) => r.status === 409);
    expect(refused).toHaveLength(8 - (CAP - 1));
    expect(refused[0]!.body).toEqual({
      message: `This workspace already holds ${CAP} cohorts, the most RIVULET_COHORTS_PER_WORKSPACE allows; no cohort was created`,
      errors: [{ type: 'cohort limit reached', path: 'cohort_id', limit: CAP }],
    });
    const { rows } = await s.testDb.db.query<{ n: number }>('SELECT count(*) AS n FROM cohorts WHERE workspace_id = $1', [s.workspaceId]);
    expect(rows[0]!.n).toBe(CAP);

    // An existing cohort is renamed and fed as before.
    const renamed = await create('caf\u00e9', 'Coffee people');
    expect(renamed.status).toBe(201);
    expect(renamed.body).toMatchObject({ created: false, name: 'Coffee people' });

    // The Mixpanel webhook hits the same cap, answered in Mixpanel's format.
    const hook = await s.call(
      'POST',
      '/partners/mixpanel/webhook',
      {
        action: 'add_members',
        parameters: {
          mixpanel_project_id: 9,
          mixpanel_cohort_id: '9',
          mixpanel_cohort_name: 'Hook',
          mixpanel_session_id: 'sess-9',
          members: [{ mixpanel_distinct_id: 'u1', email: null, first_name: null, last_name: null }],
        },
      },
      { key: null, headers: { authorization: `Basic ${Buffer.from(`mixpanel:${secret}`).toString('base64')}` } },
    );
    expect(hook.status).toBeGreaterThanOrEqual(400);
    expect(JSON.stringify(hook.body)).toContain('RIVULET_COHORTS_PER_WORKSPACE');
    expect((await s.testDb.db.query<{ n: number }>('SELECT count(*) AS n FROM cohorts WHERE workspace_id = $1', [s.workspaceId])).rows[0]!.n).toBe(CAP);
  });
});
