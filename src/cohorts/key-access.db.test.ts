/**
 * Data import keys seen by two Rivulet instances on one database (two processes behind a
 * balancer): a key rotated out or invalidated through one, or by the CLI, fails on the very next
 * request to the other, and so does a partner disabled; nothing is applied by a refused request.
 * The partner API reads the key, the partner setting and the cohort in one statement
 * (findImportKeyAccess): a cache added there without a cross-process check fails this test.
 */
import { mkdtemp, rm, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../config.js';
import { createRivulet, type Rivulet } from '../server.js';
import { openPostgres, type Db } from '../storage/index.js';
import { TEST_BACKEND } from '../test-support/db.js';
import { startTestServer, TEST_PARTNER_KEY, type TestServer } from '../test-support/server.js';
import { invalidateImportKey } from './import-keys.js';

describe(`data import keys across two instances on one database (${TEST_BACKEND})`, () => {
  let a: TestServer;
  let b: Rivulet;
  let bUrl: string;
  let bDb: Db;
  let dataDir: string;

  beforeAll(async () => {
    a = await startTestServer();
    // The second instance: its own connection pool on PostgreSQL; on PGlite the same in-process store.
    bDb = TEST_BACKEND === 'postgres' ? openPostgres({ connectionString: a.testDb.url! }) : a.testDb.db;
    dataDir = await mkdtemp(join(tmpdir(), 'rivulet-test-b-'));
    // The deployment's master key, given to the second process as RIVULET_MASTER_KEY (issue 21).
    const masterKey = (await readFile(join(a.dataDir, 'master.key'), 'utf8')).trim();
    b = await createRivulet(loadConfig({ LOG_LEVEL: 'silent', RIVULET_DATA_DIR: dataDir, RIVULET_MASTER_KEY: masterKey, RIVULET_PARTNER_API_KEY_MIXPANEL: TEST_PARTNER_KEY }), {
      db: bDb,
      logger: false,
      workers: false,
    });
    await b.app.listen({ port: 0, host: '127.0.0.1' });
    bUrl = `http://127.0.0.1:${(b.app.server.address() as { port: number }).port}`;
    await a.call('POST', '/users/track', { attributes: Array.from({ length: 6 }, (_, i) => ({ external_id: `k${i}` })) });
  });
  afterAll(async () => {
    await b.close();
    if (bDb !== a.testDb.db) await bDb.close();
    await a.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  const onB = async (secret: string, cohort_id: string, user_ids: string[], should_remove = false) => {
    const res = await request(`${bUrl}/partners/mixpanel/cohorts/users`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ partner_api_key: TEST_PARTNER_KEY, client_secret: secret, cohort_id, cohort_changes: [{ user_ids, should_remove }] }),
    });
    return { status: res.statusCode, body: (await res.body.json()) as any };
  };
  const members = async (cohortId: string) =>
    (
      await a.testDb.db.query<{ e: string }>(
        `SELECT u.external_id AS e FROM cohort_members m JOIN cohorts c ON c.id = m.cohort_id JOIN users u ON u.id = m.user_id
          WHERE c.partner_cohort_id = $1 ORDER BY 1`,
        [cohortId],
      )
    ).rows.map((r) => r.e);
  const syncs = async () => Number((await a.testDb.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM cohort_syncs WHERE status = 'applied'`)).rows[0]!.n);

  it('refuses at once on one instance a key rotated or invalidated through the other, or by the CLI', async () => {
    const key = (await a.call('POST', '/admin/import-keys', { partner: 'mixpanel' })).body;
    const named = await a.call('POST', '/partners/mixpanel/cohorts', { partner_api_key: TEST_PARTNER_KEY, client_secret: key.key, cohort_id: 'two', name: 'Two', created_at: '2024-01-01T00:00:00Z' }, { key: null });
    expect(named.status).toBe(201);

    // Used on B (whatever B might keep of it), then rotated through A: B refuses it on the next request.
    expect((await onB(key.key, 'two', ['k0'])).body).toMatchObject({ added: 1 });
    const rotated = (await a.call('POST', `/admin/import-keys/${key.prefix}/rotate`)).body;
    const before = { members: await members('two'), syncs: await syncs() };
    const refused = await onB(key.key, 'two', ['k1']);
    expect(refused).toMatchObject({ status: 401, body: { message: 'Invalid client secret' } });
    expect({ members: await members('two'), syncs: await syncs() }).toEqual(before);

    // The new key works on B at once; invalidated as the CLI does it (straight in the database), refused at once.
    expect((await onB(rotated.key, 'two', ['k2'])).body).toMatchObject({ added: 1 });
    expect(await invalidateImportKey(a.testDb.db, rotated.prefix)).toBeDefined();
    expect((await onB(rotated.key, 'two', ['k3'])).status).toBe(401);
    expect(await members('two')).toEqual(['k0', 'k2']);

    // A partner disabled through A is refused by B on the next request, and enabled again, accepted.
    const third = (await a.call('POST', '/admin/import-keys', { partner: 'mixpanel' })).body;
    expect((await onB(third.key, 'two', ['k4'])).status).toBe(201);
    await a.call('PUT', '/admin/partners/mixpanel', { enabled: false });
    const disabled = await onB(third.key, 'two', ['k5']);
    expect(disabled.status).toBe(401);
    expect(disabled.body.message).toMatch(/^Partner not enabled for client with client secret: /);
    await a.call('PUT', '/admin/partners/mixpanel', { enabled: true });
    expect((await onB(third.key, 'two', ['k5'])).body).toMatchObject({ added: 1 });
    expect(await members('two')).toEqual(['k0', 'k2', 'k4', 'k5']);
  });

  it('sees a cohort created through the other instance on the next request', async () => {
    const key = (await a.call('POST', '/admin/import-keys', { partner: 'mixpanel' })).body.key;
    expect((await onB(key, 'late', ['k0'])).status).toBe(400);
    await a.call('POST', '/partners/mixpanel/cohorts', { partner_api_key: TEST_PARTNER_KEY, client_secret: key, cohort_id: 'late', name: 'Late', created_at: '2024-01-01T00:00:00Z' }, { key: null });
    expect((await onB(key, 'late', ['k0'])).body).toMatchObject({ added: 1 });
  });
});
