/**
 * Saved segment bitmaps (segment_bitmaps, migrations/045): a process that starts reads the
 * bitmaps another one saved instead of scanning every user, brings them up to date from the user
 * change log, and never uses one it cannot bring up to date (a cohort whose members changed, a
 * snapshot older than the pruned log, bytes it cannot read) — those load from the tables.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../storage/index.js';
import { openTestDb, TEST_BACKEND, type TestDb } from '../test-support/db.js';
import { ensureWorkspace } from '../workspaces/index.js';
import { SegmentEvaluator } from './evaluator.js';
import type { FilterNode } from './filter.js';
import { createCohort, setMembership, writeUsers, type WrittenUser } from './test-support/population.js';

let t: TestDb;
let workspaceId: string;
let users: WrittenUser[];
let cohort: string;
let filter: FilterNode;

/** The statements an evaluator runs on `db`, for telling a restore from a scan of every user. */
function recording(db: Db): { db: Db; statements: string[] } {
  const statements: string[] = [];
  const query: Db['query'] = (sql, params) => {
    statements.push(sql);
    return db.query(sql, params);
  };
  return { db: Object.assign(Object.create(db) as Db, { query }), statements };
}
/** A scan of every user of the workspace: profile conditions loaded from the table. */
const fullScans = (statements: string[]) => statements.filter((s) => s.includes('FROM identity_user_profiles u WHERE') && !s.includes('= ANY(')).length;
const cohortLoads = (statements: string[]) => statements.filter((s) => s.includes('FROM cohort_members')).length;

/** What the filter should count: plan = pro and in the cohort, among current users. */
async function truth(): Promise<number> {
  const { rows } = await t.db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM users u JOIN cohort_members m ON m.user_id = u.id AND m.cohort_id = $2
      WHERE u.workspace_id = $1 AND u.custom_attributes ->> 'plan' = 'pro'`,
    [workspaceId, cohort],
  );
  return rows[0]!.n;
}

beforeAll(async () => {
  t = await openTestDb();
  workspaceId = (await ensureWorkspace(t.db, 'persisted')).id;
  cohort = await createCohort(t.db, workspaceId, 'A');
  users = await writeUsers(
    t.db,
    workspaceId,
    Array.from({ length: 200 }, (_, i) => ({ external_id: `u${i}`, custom_attributes: { plan: i % 3 ? 'free' : 'pro' }, cohorts: i % 2 ? [cohort] : [] })),
  );
  filter = { and: [{ filter: 'Mixpanel_Cohorts', op: 'includes', value: cohort }, { filter: 'custom_attribute', attribute: 'plan', op: 'equals', value: 'pro' }] };
});
afterAll(() => t?.drop());

describe(`saved segment bitmaps on ${TEST_BACKEND}`, () => {
  it('a starting evaluator restores saved bitmaps and patches them with the changes since, without scanning every user', async () => {
    const first = new SegmentEvaluator(t.db);
    expect(await first.count(workspaceId, filter)).toBe(await truth());
    await first.saveOnce();
    const saved = await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM segment_bitmaps WHERE workspace_id = $1', [workspaceId]);
    expect(saved.rows[0]!.n).toBe(3); // everyone, plan = pro, the cohort

    // Changes after the save: attributes, a new user, a deleted one.
    await t.db.query(`UPDATE users SET custom_attributes = '{"plan":"pro"}' WHERE id = ANY($1::uuid[])`, [[users[1]!.id, users[2]!.id, users[5]!.id]]);
    await writeUsers(t.db, workspaceId, [{ external_id: 'late', custom_attributes: { plan: 'pro' }, cohorts: [] }]);
    await t.db.query('DELETE FROM users WHERE id = $1', [users[3]!.id]);

    const r = recording(t.db);
    const started = new SegmentEvaluator(r.db);
    const expected = await truth();
    expect(await started.count(workspaceId, filter)).toBe(expected);
    expect(fullScans(r.statements)).toBe(0);
    expect(cohortLoads(r.statements)).toBe(0);
    expect(await started.count(workspaceId, { and: [] })).toBe(200);
    expect(await started.count(workspaceId, { filter: 'custom_attribute', attribute: 'plan', op: 'not_equals', value: 'pro' })).toBe(200 - 70); // 67 pro at first, 3 made pro, one new pro user, one pro user deleted

    // The started one saves what it patched; a third start restores that and agrees.
    await started.saveOnce();
    expect(await new SegmentEvaluator(t.db).count(workspaceId, filter)).toBe(expected);
  });

  it('loads from the tables what it cannot bring up to date: a changed cohort, a pruned log, unreadable bytes', async () => {
    const first = new SegmentEvaluator(t.db);
    await first.count(workspaceId, filter);
    await first.saveOnce();

    // The cohort's members changed since the save: its saved bitmap is for an older version.
    await setMembership(t.db, cohort, [users[0]!.id, users[6]!.id], true);
    let r = recording(t.db);
    expect(await new SegmentEvaluator(r.db).count(workspaceId, filter)).toBe(await truth());
    expect(cohortLoads(r.statements)).toBe(1);
    expect(fullScans(r.statements)).toBe(0);

    // The change log was pruned past the saved snapshot: the profile bitmaps cannot be patched.
    await t.db.query(`UPDATE users SET custom_attributes = '{"plan":"free"}' WHERE id = $1`, [users[0]!.id]);
    await t.db.query(
      `INSERT INTO segment_change_horizon (pruned_below) VALUES (pg_current_xact_id())
       ON CONFLICT (singleton) DO UPDATE SET pruned_below = EXCLUDED.pruned_below`,
    );
    r = recording(t.db);
    expect(await new SegmentEvaluator(r.db).count(workspaceId, filter)).toBe(await truth());
    expect(fullScans(r.statements)).toBe(1);
    // The log was not really pruned: take the marker back, or every later save would look pruned past
    // whenever any transaction on the server (another test's, in another database) began before it.
    await t.db.query('DELETE FROM segment_change_horizon');

    // Bytes that are not a bitmap: loaded from the tables, and saved again whole.
    const again = new SegmentEvaluator(t.db);
    await again.count(workspaceId, filter);
    await again.saveOnce();
    await t.db.query(`UPDATE segment_bitmaps SET bitmap = '\\x0102'::bytea WHERE workspace_id = $1`, [workspaceId]);
    r = recording(t.db);
    const recovering = new SegmentEvaluator(r.db);
    expect(await recovering.count(workspaceId, filter)).toBe(await truth());
    expect(fullScans(r.statements)).toBe(1);
    expect(cohortLoads(r.statements)).toBe(1);
    await recovering.saveOnce();
    // Saved again whole: the next start restores every bitmap of the filter from its row, scanning nothing.
    // (Rows of atoms the filter does not use, saved by an earlier test, keep their bad bytes until used.)
    r = recording(t.db);
    expect(await new SegmentEvaluator(r.db).count(workspaceId, filter)).toBe(await truth());
    expect(fullScans(r.statements)).toBe(0);
    expect(cohortLoads(r.statements)).toBe(0);
  });

  it('two processes saving the same workspace leave rows each of which is consistent', async () => {
    const a = new SegmentEvaluator(t.db);
    const b = new SegmentEvaluator(t.db);
    await a.count(workspaceId, filter);
    await b.count(workspaceId, filter);
    await a.saveOnce();
    await t.db.query(`UPDATE users SET custom_attributes = '{"plan":"pro"}' WHERE id = $1`, [users[4]!.id]);
    await b.count(workspaceId, filter); // patched: b's copy changed
    await b.saveOnce(); // rewrites the rows whole
    await t.db.query(`UPDATE users SET custom_attributes = '{"plan":"free"}' WHERE id = $1`, [users[9]!.id]);
    await a.saveOnce(); // a's patched copies are written again; unchanged ones are bumped only where a's token still holds
    await t.db.query(`UPDATE users SET custom_attributes = '{"plan":"pro"}' WHERE id = $1`, [users[10]!.id]);
    const r = recording(t.db);
    expect(await new SegmentEvaluator(r.db).count(workspaceId, filter)).toBe(await truth());
    expect(fullScans(r.statements)).toBe(0);
  });

  it('saves nothing when persistence is off, and deletes rows not refreshed for an hour', async () => {
    const off = new SegmentEvaluator(t.db, { persist: false });
    await t.db.query('DELETE FROM segment_bitmaps WHERE workspace_id = $1', [workspaceId]);
    await off.count(workspaceId, filter);
    await off.saveOnce();
    const count = async () => (await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM segment_bitmaps WHERE workspace_id = $1', [workspaceId])).rows[0]!.n;
    expect(await count()).toBe(0);

    const on = new SegmentEvaluator(t.db, { persistAtoms: 2 });
    await on.count(workspaceId, filter);
    await on.saveOnce();
    expect(await count()).toBe(2); // the two most recently used of three
    await t.db.query(`UPDATE segment_bitmaps SET saved_at = now() - interval '2 hours' WHERE workspace_id = $1`, [workspaceId]);
    await new SegmentEvaluator(t.db, { persistAtoms: 0 }).saveOnce();
    const other = new SegmentEvaluator(t.db, { persistAtoms: 0 });
    await other.count(workspaceId, { and: [] });
    await other.saveOnce();
    expect(await count()).toBe(0);
  });
});
