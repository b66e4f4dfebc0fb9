/**
 * A pull run whose lease another process took over (this one paused past it): the renewal reports
 * the loss, the run stops within one renewal period, and it commits nothing (its writes are fenced by
 * the lease): no membership, no sync history row, no end of run over the new holder's claim.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMixpanelEmulator, type RunningMixpanelEmulator } from '../../emulator/mixpanel/index.js';
import { openTestDb, TEST_BACKEND, type TestDb } from '../../test-support/db.js';
import { startRivuletOn, waitFor, type RivuletOnDb } from './testing.js';

const SA = { username: 'lease.sa', secret: 'lease-secret-value-1234' };
const LEASE_MS = 900; // renewed every 300 ms
let testDb: TestDb;
let dataDir: string;
let s: RivuletOnDb;
let mp: RunningMixpanelEmulator;

async function emu(method: 'GET' | 'POST', path: string, json?: unknown) {
  const res = await request(mp.url + path, { method, headers: json === undefined ? {} : { 'content-type': 'application/json' }, body: json === undefined ? undefined : JSON.stringify(json) });
  return (await res.body.json()) as any;
}

beforeAll(async () => {
  testDb = await openTestDb({ migrate: false });
  dataDir = await mkdtemp(join(tmpdir(), 'rivulet-pull-lease-'));
  mp = await startMixpanelEmulator({ projects: [{ id: '777', apiSecret: 'legacy-777', serviceAccounts: [{ username: SA.username, secret: SA.secret, role: 'owner' as const }] }] });
  s = await startRivuletOn(testDb, { dataDir, pullTiming: { pollMs: 50, leaseMs: LEASE_MS, backoffStartMs: 50, backoffMaxMs: 200, budgetWindowMs: 1000 } });
  expect((await s.call('POST', '/users/track', { attributes: Array.from({ length: 40 }, (_, i) => ({ external_id: `l${i}` })) })).status).toBe(201);
  // Ten pages of four, each answered after 400 ms: a run of four seconds and more.
  await emu('POST', '/_emulator/engage/settings', { page_size: 4, latency_ms: 400 });
  await emu('POST', '/_emulator/cohorts', { project_id: '777', id: 5, name: 'Slow cohort', members: Array.from({ length: 38 }, (_, i) => `l${i}`) });
});
afterAll(async () => {
  await s?.close();
  await mp?.close();
  await testDb?.drop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe(`a pull run that loses its lease on ${TEST_BACKEND}`, () => {
  it('stops within a renewal period and commits nothing', async () => {
    const created = await s.call('POST', '/admin/mixpanel/connections', { name: 'Slow', project_id: '777', base_url: mp.url, service_account: SA, cohort_ids: [5], interval_minutes: 60 });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    const queries = async () => ((await emu('GET', '/_emulator/engage/queries?project_id=777')).queries as any[]).length;
    // The run is under way once its second page was asked for.
    await waitFor(async () => ((await queries()) >= 3 ? true : undefined), 30_000, 'the run to be under way');
    // Another process takes the run over, as after this one paused past its lease.
    await testDb.db.query(`UPDATE mixpanel_connections SET run_owner = 'another-process', run_lease_until = now() + interval '1 hour' WHERE id = $1`, [id]);
    const takenAt = Date.now();
    // Within one renewal period (plus the page in flight) the run asks Mixpanel nothing more.
    await new Promise((r) => setTimeout(r, LEASE_MS / 3 + 400 + 1500));
    const settled = await queries();
    await new Promise((r) => setTimeout(r, 2000));
    expect(await queries()).toBe(settled);
    expect(settled).toBeLessThan(11); // cohorts/list and ten pages: the run did not finish
    expect(Date.now() - takenAt).toBeGreaterThan(0);

    const { rows } = await testDb.db.query<{ members: number; syncs: number; run_owner: string; last_run_at: Date | null }>(
      `SELECT (SELECT count(*) FROM cohort_members)::int8 AS members,
              (SELECT count(*) FROM cohort_syncs WHERE source = 'pull')::int8 AS syncs,
              run_owner, last_run_at
         FROM mixpanel_connections WHERE id = $1`,
      [id],
    );
    expect(rows[0]).toEqual({ members: 0, syncs: 0, run_owner: 'another-process', last_run_at: null });
  });
});
