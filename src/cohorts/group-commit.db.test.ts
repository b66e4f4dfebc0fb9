/**
 * Group commit of partner requests to one cohort (issue #3, throughput): requests that wait
 * together are applied in one transaction with the result of applying them one by one, in order.
 * Also: memberships leave with a deleted user (migration 006 replaced the foreign key by a trigger)
 * and with a deleted cohort (migration 008: the same for the key to cohorts, plus the check in the
 * cohort's lock).
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../storage/index.js';
import { openTestDb, TEST_BACKEND, type TestDb } from '../test-support/db.js';
import { startTestServer, TEST_PARTNER_KEY, type TestServer } from '../test-support/server.js';
import { DEFAULT_WORKSPACE, ensureWorkspace } from '../workspaces/index.js';
import { applyDeltas, type MembershipOutcome } from './apply.js';
import { CohortGone, lockCohort, upsertCohort, type Cohort } from './store.js';

/** The reference: each request applied alone, on a membership set. */
function serial(start: Set<string>, items: Array<Map<string, boolean>>): { outcomes: MembershipOutcome[]; members: Set<string> } {
  const members = new Set(start);
  const outcomes = items.map((wanted) => {
    const o = { added: 0, removed: 0, unchanged: 0 };
    for (const [u, want] of wanted) {
      if (want === members.has(u)) o.unchanged++;
      else if (want) (members.add(u), o.added++);
      else (members.delete(u), o.removed++);
    }
    return o;
  });
  return { outcomes, members };
}

describe(`applyDeltas (group commit) on ${TEST_BACKEND}`, () => {
  let t: TestDb;
  let db: Db;
  let ws: string;
  let users: string[];
  beforeAll(async () => {
    t = await openTestDb();
    db = t.db;
    ws = (await ensureWorkspace(db, DEFAULT_WORKSPACE)).id;
    const { rows } = await db.query<{ id: string }>(
      `INSERT INTO users (id, workspace_id, external_id, began_anonymous)
       SELECT gen_random_uuid(), $1, 'g' || g, false FROM generate_series(1, 40) g RETURNING id`,
      [ws],
    );
    users = rows.map((r) => r.id);
  });
  afterAll(() => t.drop());

  const cohort = async (id: string) =>
    (await upsertCohort(db, { workspaceId: ws, partner: 'mixpanel', partnerCohortId: id, name: id, createdAt: new Date() })).cohort;
  const members = async (c: Cohort) =>
    new Set((await db.query<{ user_id: string }>('SELECT user_id FROM cohort_members WHERE cohort_id = $1', [c.id])).rows.map((r) => r.user_id));
  const points = async (c: Cohort) =>
    (await db.query<{ added: number; removed: number }>('SELECT coalesce(sum(added), 0)::int AS added, coalesce(sum(removed), 0)::int AS removed FROM data_points WHERE cohort_id = $1', [c.id]))
      .rows[0]!;
  const row = async (c: Cohort) => (await db.query<{ member_count: number }>('SELECT member_count FROM cohorts WHERE id = $1', [c.id])).rows[0]!;

  it('gives each request the counts it would have alone, and the same members, member count and data points', async () => {
    const [a, b, c, d, e] = users;
    const startWith = [a!, d!];
    const items = [
      new Map([[a!, true], [b!, true], [c!, true]]), // a unchanged, b and c added
      new Map([[b!, false], [d!, false], [e!, true]]), // b removed again, d (a member before) removed, e added
      new Map([[b!, true], [d!, true], [c!, true]]), // b back, d back, c unchanged
      new Map([[e!, false], [a!, false]]), // e and a removed
      new Map([[a!, false]]), // a unchanged (already removed in this group)
    ];
    const expected = serial(new Set(startWith), items);

    const grouped = await cohort('grouped');
    await db.transaction((tx) => applyDeltas(tx, grouped, [new Map(startWith.map((u) => [u, true]))], 'partner_api'));
    const before = await points(grouped);
    const outcomes = await db.transaction((tx) => applyDeltas(tx, grouped, items, 'partner_api'));
    expect(outcomes).toEqual(expected.outcomes);
    expect(await members(grouped)).toEqual(expected.members);
    expect((await row(grouped)).member_count).toBe(expected.members.size);
    const after = await points(grouped);
    const sum = (k: 'added' | 'removed') => expected.outcomes.reduce((n, o) => n + o[k], 0);
    expect({ added: after.added - before.added, removed: after.removed - before.removed }).toEqual({ added: sum('added'), removed: sum('removed') });

    // The same requests one transaction each give the same everything.
    const alone = await cohort('alone');
    await db.transaction((tx) => applyDeltas(tx, alone, [new Map(startWith.map((u) => [u, true]))], 'partner_api'));
    const one = [];
    for (const item of items) one.push(...(await db.transaction((tx) => applyDeltas(tx, alone, [item], 'partner_api'))));
    expect(one).toEqual(outcomes);
    expect(await members(alone)).toEqual(await members(grouped));
  });

  it('a member removed and added back within one group gets a new since; an unchanged one keeps it', async () => {
    const [x, y] = users.slice(10);
    const c = await cohort('since');
    await db.transaction((tx) => applyDeltas(tx, c, [new Map([[x!, true], [y!, true]])], 'partner_api'));
    await db.query(`UPDATE cohort_members SET since = '2020-01-01T00:00:00Z' WHERE cohort_id = $1`, [c.id]);
    const outcomes = await db.transaction((tx) => applyDeltas(tx, c, [new Map([[x!, false]]), new Map([[x!, true], [y!, true]])], 'partner_api'));
    expect(outcomes).toEqual([
      { added: 0, removed: 1, unchanged: 0 },
      { added: 1, removed: 0, unchanged: 1 },
    ]);
    const since = new Map(
      (await db.query<{ user_id: string; since: Date }>('SELECT user_id, since FROM cohort_members WHERE cohort_id = $1', [c.id])).rows.map((r) => [r.user_id, r.since.getUTCFullYear()]),
    );
    expect(since.get(y!)).toBe(2020);
    expect(since.get(x!)).toBeGreaterThan(2020);
  });

  it('replaying a group changes nothing and logs no data points', async () => {
    const c = await cohort('replay');
    await db.transaction((tx) => applyDeltas(tx, c, [new Map(users.slice(25, 28).map((u) => [u, true]))], 'partner_api'));
    const items = [new Map(users.slice(20, 25).map((u) => [u, true])), new Map(users.slice(25, 28).map((u) => [u, false]))];
    expect(await db.transaction((tx) => applyDeltas(tx, c, items, 'partner_api'))).toEqual([
      { added: 5, removed: 0, unchanged: 0 },
      { added: 0, removed: 3, unchanged: 0 },
    ]);
    const before = { members: await members(c), points: await points(c) };
    expect(await db.transaction((tx) => applyDeltas(tx, c, items, 'partner_api'))).toEqual([
      { added: 0, removed: 0, unchanged: 5 },
      { added: 0, removed: 0, unchanged: 3 },
    ]);
    expect(await members(c)).toEqual(before.members);
    expect(await points(c)).toEqual(before.points);
  });

  it('a deleted user leaves every cohort (the trigger that replaced the foreign key)', async () => {
    const c1 = await cohort('del1');
    const c2 = await cohort('del2');
    const [gone, stays] = users.slice(35);
    await db.transaction((tx) => applyDeltas(tx, c1, [new Map([[gone!, true], [stays!, true]])], 'partner_api'));
    await db.transaction((tx) => applyDeltas(tx, c2, [new Map([[gone!, true]])], 'partner_api'));
    await db.query('DELETE FROM users WHERE id = $1', [gone]);
    expect(await members(c1)).toEqual(new Set([stays]));
    expect(await members(c2)).toEqual(new Set());
    const { rows } = await db.query('SELECT 1 FROM cohort_members WHERE user_id = $1', [gone]);
    expect(rows).toHaveLength(0);
  });
  it('a deleted cohort takes its memberships along (the trigger that replaced the foreign key)', async () => {
    const c1 = await cohort('cdel1');
    const c2 = await cohort('cdel2');
    await db.transaction((tx) => applyDeltas(tx, c1, [new Map(users.slice(0, 5).map((u) => [u, true]))], 'partner_api'));
    await db.transaction((tx) => applyDeltas(tx, c2, [new Map(users.slice(0, 3).map((u) => [u, true]))], 'partner_api'));
    await db.query('DELETE FROM cohorts WHERE id = $1', [c1.id]);
    expect(await members(c1)).toEqual(new Set());
    expect(await members(c2)).toEqual(new Set(users.slice(0, 3)));
  });

  it('locking a cohort that is gone fails with 400 and writes nothing', async () => {
    const c = await cohort('gone');
    await db.query('DELETE FROM cohorts WHERE id = $1', [c.id]);
    const attempt = db.transaction(async (tx) => {
      await lockCohort(tx, c.id, 1000);
      await applyDeltas(tx, c, [new Map([[users[0]!, true]])], 'partner_api');
    });
    await expect(attempt).rejects.toBeInstanceOf(CohortGone);
    // A domain error; the HTTP layer answers it with 400 (src/http/errors.test.ts).
    await expect(attempt).rejects.toMatchObject({ code: 'unknown_cohort' });
    expect(await members(c)).toEqual(new Set());
  });

  it.runIf(TEST_BACKEND === 'postgres')('a cohort deleted while a change holds its lock waits for it, then takes the new memberships along', async () => {
    const c = await cohort('race');
    const deleter = new pg.Client({ connectionString: t.url });
    await deleter.connect();
    try {
      let deleted = false;
      let deletion: Promise<unknown> | undefined;
      await db.transaction(async (tx) => {
        await lockCohort(tx, c.id, 1000);
        deletion = deleter.query('DELETE FROM cohorts WHERE id = $1', [c.id]).then(() => (deleted = true));
        await new Promise((r) => setTimeout(r, 200));
        expect(deleted).toBe(false); // waiting for the lock
        await applyDeltas(tx, c, [new Map(users.slice(5, 9).map((u) => [u, true]))], 'partner_api');
      });
      await deletion;
      expect(deleted).toBe(true);
      expect(await members(c)).toEqual(new Set());
    } finally {
      await deleter.end();
    }
  });
});

describe(`partner cohort API: concurrent requests to one cohort on ${TEST_BACKEND}`, () => {
  let s: TestServer;
  let secret: string;
  beforeAll(async () => {
    s = await startTestServer();
    secret = (await s.call('POST', '/admin/import-keys', { partner: 'mixpanel' })).body.key;
    await s.call('POST', '/users/track', { attributes: Array.from({ length: 30 }, (_, i) => ({ external_id: `p${i}` })) });
  });
  afterAll(() => s.close());

  const auth = () => ({ partner_api_key: TEST_PARTNER_KEY, client_secret: secret });
  const post = (path: string, body: Record<string, unknown>) => s.call('POST', path, { ...auth(), ...body }, { key: null });

  it('applies them in arrival order with exact counts per request, grouping those that waited together', async () => {
    expect((await post('/partners/mixpanel/cohorts', { cohort_id: 'busy', name: 'Busy', created_at: '2024-01-01T00:00:00Z' })).status).toBe(201);
    const cohortId = (await s.testDb.db.query<{ id: string }>(`SELECT id FROM cohorts WHERE partner_cohort_id = 'busy'`)).rows[0]!.id;
    const pointsBefore = (await s.call('GET', '/admin/usage/data-points')).body.total as number;

    // Request i carries i unmatched identifiers, so that its sync-history row can be told apart.
    const requests = Array.from({ length: 12 }, (_, i) => {
      const ids = Array.from({ length: 8 }, (_, k) => `p${(i * 5 + k * 3) % 30}`);
      const filler = Array.from({ length: i }, (_, k) => `nobody_${i}_${k}`);
      return [
        { user_ids: ids.slice(0, 5).concat(filler) },
        { user_ids: ids.slice(4), should_remove: i % 3 === 0 },
      ];
    });

    // On PostgreSQL, hold the cohort's row lock from another connection, so that the requests
    // queue up behind the first and are applied as groups.
    let blocker: pg.Client | undefined;
    if (TEST_BACKEND === 'postgres') {
      blocker = new pg.Client({ connectionString: s.testDb.url });
      await blocker.connect();
      await blocker.query('BEGIN');
      await blocker.query('SELECT 1 FROM cohorts WHERE id = $1 FOR UPDATE', [cohortId]);
    }
    const pending = requests.map((cohort_changes) => post('/partners/mixpanel/cohorts/users', { cohort_id: 'busy', cohort_changes }));
    if (blocker) {
      await new Promise((r) => setTimeout(r, 500));
      await blocker.query('COMMIT');
      await blocker.end();
    }
    const responses = await Promise.all(pending);
    for (const r of responses) expect(r.status).toBe(201);

    // The order they were applied in is the order of their sync-history rows.
    const { rows: syncs } = await s.testDb.db.query<{ unmatched_not_found: number; added: number; removed: number; unchanged: number; tx: string }>(
      `SELECT unmatched_not_found, added, removed, unchanged, xmin::text AS tx FROM cohort_syncs
        WHERE cohort_id = $1 AND action = 'delta' ORDER BY at, id`,
      [cohortId],
    );
    expect(syncs).toHaveLength(12);
    const order = syncs.map((r) => r.unmatched_not_found);
    expect([...order].sort((x, y) => x - y)).toEqual(Array.from({ length: 12 }, (_, i) => i));

    // Replaying them one by one in that order gives every request's counts and the final members.
    const members = new Set<string>();
    let applied = 0;
    order.forEach((i, n) => {
      const wanted = new Map<string, boolean>();
      for (const change of requests[i]!) for (const id of change.user_ids) if (!id.startsWith('nobody')) (wanted.delete(id), wanted.set(id, !change.should_remove));
      const o = { added: 0, removed: 0, unchanged: 0 };
      for (const [u, want] of wanted) {
        if (want === members.has(u)) o.unchanged++;
        else if (want) (members.add(u), o.added++);
        else (members.delete(u), o.removed++);
      }
      applied += o.added + o.removed;
      expect(responses[i]!.body).toMatchObject({ ...o, applied: o.added + o.removed, data_points: o.added + o.removed, unmatched: i });
      expect(syncs[n]).toMatchObject(o);
    });
    const { rows } = await s.testDb.db.query<{ e: string }>(
      'SELECT u.external_id AS e FROM cohort_members m JOIN users u ON u.id = m.user_id WHERE m.cohort_id = $1 ORDER BY 1',
      [cohortId],
    );
    expect(rows.map((r) => r.e)).toEqual([...members].sort());
    expect((await s.call('GET', '/admin/usage/data-points')).body.total - pointsBefore).toBe(applied);
    const listed = (await s.call('GET', '/admin/cohorts')).body.cohorts.find((c: any) => c.cohort_id === 'busy');
    expect(listed.member_count).toBe(members.size);
    if (TEST_BACKEND === 'postgres') expect(new Set(syncs.map((r) => r.tx)).size).toBeLessThan(12);
  });
});
