/**
 * Cohort import end to end (issue #3), over real HTTP on 127.0.0.1 only: a Rivulet and the Mixpanel
 * emulator, users created through the REST API. The emulator's webhook sender pushes a
 * 5,000-member cohort in five pages to `/partners/mixpanel/webhook` with a data import key made
 * through the admin API; a dynamic resync converges; replays change nothing; missing pages apply
 * nothing. Pull mode reads the emulator's engage API page by page and keeps converging across a
 * restart of Rivulet on the same database, including a run interrupted by the stop.
 * (The partner cohort API is covered by src/cohorts/partner-api.db.test.ts.)
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { expireStagedSessions } from '../src/cohorts/index.js';
import { startRivuletOn, waitFor, type RivuletOnDb } from '../src/cohorts/pull/testing.js';
import { startMixpanelEmulator, type RunningMixpanelEmulator } from '../src/emulator/mixpanel/index.js';
import { openTestDb, TEST_BACKEND, type TestDb } from '../src/test-support/db.js';

const PROJECT = '3001';
const SA = { username: 'e2e.sa', secret: 'e2e-service-account-secret' };
const USERS = 5200;
const PULL_TIMING = { pollMs: 100, leaseMs: 5000, backoffStartMs: 100, backoffMaxMs: 400 };

let testDb: TestDb;
let dataDir: string;
let s: RivuletOnDb;
let mp: RunningMixpanelEmulator;
let importKey: string;

const id = (prefix: string, n: number) => `${prefix}${String(n).padStart(4, '0')}`;
const range = (prefix: string, from: number, to: number) => Array.from({ length: to - from }, (_, i) => id(prefix, from + i));

async function emu(method: 'GET' | 'POST' | 'PUT', path: string, json?: unknown): Promise<any> {
  const res = await request(mp.url + path, { method, headers: json === undefined ? {} : { 'content-type': 'application/json' }, body: json === undefined ? undefined : JSON.stringify(json) });
  return res.body.json();
}

async function members(partnerCohortId: string): Promise<string[]> {
  const { rows } = await testDb.db.query<{ e: string }>(
    `SELECT u.external_id AS e FROM cohort_members m JOIN cohorts c ON c.id = m.cohort_id JOIN users u ON u.id = m.user_id
      WHERE c.partner_cohort_id = $1 ORDER BY u.external_id`,
    [partnerCohortId],
  );
  return rows.map((r) => r.e);
}
const userCount = async () => Number((await testDb.db.query<{ n: number }>('SELECT count(*)::int8 AS n FROM users')).rows[0]!.n);
const dataPoints = async (): Promise<number> => (await s.call('GET', '/admin/usage/data-points')).body.total;
const syncsOf = async (partnerCohortId: string): Promise<any[]> =>
  (await s.call('GET', '/admin/cohort-syncs?limit=1000')).body.syncs.filter((x: any) => x.partner_cohort_id === partnerCohortId);

beforeAll(async () => {
  testDb = await openTestDb({ migrate: false });
  dataDir = await mkdtemp(join(tmpdir(), 'rivulet-e2e-'));
  mp = await startMixpanelEmulator({ projects: [{ id: PROJECT, serviceAccounts: [{ ...SA, role: 'owner' }] }] });
  s = await startRivuletOn(testDb, { dataDir, pullTiming: PULL_TIMING });
  // Users through the REST API, 75 per request (Braze's limit), a few requests at a time.
  const batches: Array<Array<{ external_id: string; email: string }>> = [];
  for (let i = 0; i < USERS; i += 75) batches.push(range('u', i, Math.min(USERS, i + 75)).map((e) => ({ external_id: e, email: `${e}@example.com` })));
  for (let i = 0; i < batches.length; i += 4) {
    const replies = await Promise.all(batches.slice(i, i + 4).map((attributes) => s.call('POST', '/users/track', { attributes })));
    for (const r of replies) expect(r.status).toBe(201);
  }
  expect(await userCount()).toBe(USERS);
  const key = await s.call('POST', '/admin/import-keys', { partner: 'mixpanel' });
  expect(key.status).toBe(201);
  importKey = key.body.key;
}, 120_000);

afterAll(async () => {
  await s?.close();
  await mp?.close();
  await testDb?.drop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe(`cohort import end to end on ${TEST_BACKEND}: the webhook sender pushes to Rivulet`, () => {
  let sync: string;
  const COHORT = `${PROJECT}:42`;
  const run = async (path = 'run') => (await emu('POST', `/_emulator/webhook-syncs/${sync}/${path}`)) as any;
  const pages = (r: any) => r.deliveries.map((d: any) => `${d.action}:${d.page_count}/${d.total_pages}:${d.outcome}`);

  it('delivers a 5,000-member cohort in five pages; membership is the cohort ∩ existing users; unmatched are counted', async () => {
    const cohortMembers = [...range('u', 200, 5000).map((e, i) => (i % 3 ? e : { distinct_id: e, properties: { $email: `${e}@example.com` } })), ...range('ghost', 0, 200)];
    expect(cohortMembers).toHaveLength(5000);
    await emu('POST', '/_emulator/cohorts', { project_id: PROJECT, id: 42, name: 'Power users', description: 'e2e', members: cohortMembers });
    const created = await emu('POST', '/_emulator/webhook-syncs', {
      project_id: PROJECT,
      url: `${s.url}/partners/mixpanel/webhook`,
      username: 'mixpanel',
      password: importKey,
      cohort_ids: [42],
      schedule: { every_seconds: 86_400 },
      start: false,
      retry_delays_ms: [50, 100, 200, 400, 800],
    });
    sync = created.id;
    const first = await run();
    expect(first.status).toBe('succeeded');
    expect(pages(first)).toEqual([1, 2, 3, 4, 5].map((p) => `members:${p}/5:success`));
    expect(new Set(first.deliveries.map((d: any) => d.session_id)).size).toBe(1);

    expect(await members(COHORT)).toEqual(range('u', 200, 5000));
    const [applied] = (await syncsOf(COHORT)).filter((x) => x.status === 'applied');
    expect(applied).toMatchObject({ source: 'webhook', action: 'members', received: 5000, matched: 4800, unmatched: { not_found: 200 }, added: 4800, removed: 0 });
    expect((await syncsOf(COHORT)).filter((x) => x.status === 'staged')).toHaveLength(4);
    expect(await dataPoints()).toBe(4800);
    expect(await userCount()).toBe(USERS);
  });

  it('converges on a dynamic resync with 300 removed and 200 added', async () => {
    await emu('POST', '/_emulator/cohorts/42/members/remove', { project_id: PROJECT, distinct_ids: range('u', 200, 500) });
    await emu('POST', '/_emulator/cohorts/42/members', { project_id: PROJECT, members: range('u', 5000, 5200) });
    const second = await run();
    expect(pages(second)).toEqual(['add_members:1/1:success', 'remove_members:1/1:success']);
    expect(await members(COHORT)).toEqual(range('u', 500, 5200));
    const [remove, add] = (await syncsOf(COHORT)).slice(0, 2);
    expect(add).toMatchObject({ action: 'add_members', received: 200, matched: 200, added: 200 });
    expect(remove).toMatchObject({ action: 'remove_members', received: 300, matched: 300, removed: 300 });
    expect(await dataPoints()).toBe(5300);
    expect(await userCount()).toBe(USERS);
  });

  it('leaves membership and data points alone when every request of a sync is replayed, or a page arrives twice', async () => {
    const before = await members(COHORT);
    expect((await run('replay')).status).toBe('succeeded'); // add_members and remove_members again
    expect(await members(COHORT)).toEqual(before);
    expect(await dataPoints()).toBe(5300);

    // Mixpanel restarting from the top: the whole cohort again, with page 3 delivered twice.
    await emu('POST', `/_emulator/webhook-syncs/${sync}/forget-snapshots`);
    await emu('POST', `/_emulator/webhook-syncs/${sync}/faults`, { send_page_twice: 3 });
    const again = await run();
    expect(pages(again)).toEqual(['members:1/5:success', 'members:2/5:success', 'members:3/5:success', 'members:3/5:success', 'members:4/5:success', 'members:5/5:success']);
    expect(again.cohorts[0].actions[0].members).toBe(4900);
    expect((await run('replay')).status).toBe('succeeded');
    expect(await members(COHORT)).toEqual(before);
    expect(await dataPoints()).toBe(5300);
    const replacements = (await syncsOf(COHORT)).filter((x) => x.action === 'members' && x.status === 'applied');
    expect(replacements[0]).toMatchObject({ received: 4900, matched: 4700, added: 0, removed: 0, unchanged: 4700 });
    expect(await userCount()).toBe(USERS);
  });

  it('applies nothing while pages are missing, records the session incomplete when it expires, and converges on the next run', async () => {
    await emu('POST', '/_emulator/cohorts/42/members/remove', { project_id: PROJECT, distinct_ids: range('u', 500, 600) });
    await emu('POST', `/_emulator/webhook-syncs/${sync}/forget-snapshots`);
    await emu('POST', `/_emulator/webhook-syncs/${sync}/faults`, { stop_after_page: 3 });
    const stopped = await run();
    expect(stopped).toMatchObject({ status: 'stopped' });
    expect(pages(stopped)).toEqual(['members:1/5:success', 'members:2/5:success', 'members:3/5:success']);
    expect(await members(COHORT)).toHaveLength(4700);
    expect(await dataPoints()).toBe(5300);

    await testDb.db.query(`UPDATE webhook_pages SET received_at = now() - interval '73 hours'`);
    expect(await expireStagedSessions(testDb.db)).toBe(1);
    expect((await syncsOf(COHORT))[0]).toMatchObject({ status: 'incomplete', error: expect.stringContaining('expired with 3 of 5 pages') });
    expect(await members(COHORT)).toHaveLength(4700);

    await emu('POST', `/_emulator/webhook-syncs/${sync}/faults`, {});
    expect((await run()).status).toBe('succeeded');
    expect(await members(COHORT)).toEqual(range('u', 600, 5200));
    expect(await dataPoints()).toBe(5400);
    expect(await userCount()).toBe(USERS);
  });
});

describe(`cohort import end to end on ${TEST_BACKEND}: pull mode reads the engage API`, () => {
  const COHORT = `${PROJECT}:77`;
  let connectionId: string;
  // Read from the database: Rivulet is down for part of these tests.
  const pulls = async () =>
    (
      await testDb.db.query<Record<string, any>>(
        `SELECT action, received, matched, unmatched_not_found, added, removed FROM cohort_syncs
          WHERE partner_cohort_id = $1 AND source = 'pull' AND status = 'applied' ORDER BY at DESC`,
        [COHORT],
      )
    ).rows;
  const restart = async () => {
    await s.close();
    s = await startRivuletOn(testDb, { dataDir, pullTiming: PULL_TIMING, key: s.key });
  };
  const connectionRow = async () =>
    (await testDb.db.query<{ run_owner: string | null; due: boolean }>('SELECT run_owner, next_run_at <= now() AS due FROM mixpanel_connections WHERE id = $1', [connectionId])).rows[0]!;

  it('pulls a complete snapshot page by page and applies it', async () => {
    await emu('POST', '/_emulator/cohorts', { project_id: PROJECT, id: 77, name: 'Pulled', members: [...range('u', 1000, 3400), ...range('ghost', 9000, 9100)] });
    const created = await s.call('POST', '/admin/mixpanel/connections', {
      name: 'E2E',
      project_id: PROJECT,
      base_url: mp.url,
      service_account: SA,
      cohort_ids: [77],
      mode: 'dynamic',
      interval_minutes: 5,
    });
    expect(created.status).toBe(201);
    connectionId = created.body.id;
    const [first] = await waitFor(async () => ((await pulls()).length >= 1 ? pulls() : undefined), 30_000, 'the first pull');
    expect(first).toMatchObject({ action: 'replacement', received: 2500, matched: 2400, unmatched_not_found: 100, added: 2400 });
    expect(await members(COHORT)).toEqual(range('u', 1000, 3400));
    const engagePages = (await emu('GET', `/_emulator/engage/queries?project_id=${PROJECT}`)).queries.filter((q: any) => q.kind === 'engage');
    expect(engagePages.map((q: any) => [q.page, q.results])).toEqual([
      [0, 1000],
      [1, 1000],
      [2, 500],
    ]);
  });

  it('runs the scheduled pull after a restart on the same database and converges', async () => {
    await s.close();
    await emu('POST', '/_emulator/cohorts/77/members/remove', { project_id: PROJECT, distinct_ids: range('u', 1000, 1100) });
    await emu('POST', '/_emulator/cohorts/77/members', { project_id: PROJECT, members: range('u', 3400, 3450) });
    // The five minutes pass while Rivulet is down.
    await testDb.db.query(`UPDATE mixpanel_connections SET next_run_at = now() - interval '1 second' WHERE id = $1`, [connectionId]);
    s = await startRivuletOn(testDb, { dataDir, pullTiming: PULL_TIMING, key: s.key });
    const [second] = await waitFor(async () => ((await pulls()).length >= 2 ? pulls() : undefined), 30_000, 'the scheduled pull');
    expect(second).toMatchObject({ received: 2450, matched: 2350, added: 50, removed: 100 });
    expect(await members(COHORT)).toEqual(range('u', 1100, 3450));
    const conn = (await s.call('GET', `/admin/mixpanel/connections/${connectionId}`)).body;
    expect(conn).toMatchObject({ state: 'active', last_error: null, snapshots: [{ cohort_id: '77', identifiers: 2450 }] });
    expect(await userCount()).toBe(USERS);
  });

  it('restarts a run interrupted by a stop from page 0 and applies nothing partial', async () => {
    await emu('POST', '/_emulator/engage/settings', { latency_ms: 250 });
    await emu('POST', '/_emulator/cohorts/77/members/remove', { project_id: PROJECT, distinct_ids: range('u', 1100, 1200) });
    const logged = async () => (await emu('GET', `/_emulator/engage/queries?project_id=${PROJECT}`)).queries as any[];
    const before = (await logged()).length;
    const applied = (await pulls()).length;
    expect((await s.call('POST', `/admin/mixpanel/connections/${connectionId}/run`)).status).toBe(202);
    await waitFor(async () => ((await logged()).slice(before).some((q) => q.page === 1) ? true : undefined), 20_000, 'page 1 of the run');
    await s.close();
    expect(await connectionRow()).toEqual({ run_owner: null, due: true });
    expect(await pulls()).toHaveLength(applied);
    expect(await members(COHORT)).toHaveLength(2350);

    const restarted = (await logged()).length;
    await restart();
    await waitFor(async () => ((await pulls()).length > applied ? true : undefined), 30_000, 'the restarted run');
    // The page the stop cut short may still be logged by the emulator; the new run starts a new session at page 0.
    const after = (await logged()).slice(restarted).filter((q) => q.kind === 'engage');
    const session = after.find((q) => q.page === 0)?.session_id;
    expect(after.filter((q) => q.session_id === session).map((q) => q.page)).toEqual([0, 1, 2]);
    expect(await members(COHORT)).toEqual(range('u', 1200, 3450));
    await emu('POST', '/_emulator/engage/settings', { latency_ms: 0 });
  });
});
