/**
 * Applying membership changes (docs/reference/cohort-import.md §3, §6), shared by every path in. The caller holds
 * the cohort's lock. Adding a member or removing a non-member is `unchanged`; only real adds and
 * removes count, each one data point, written to the ledger in the same transaction.
 */
import { lockUsersKeyShare } from '../identity/index.js';
import type { Queryable } from '../storage/index.js';
import type { Cohort } from './store.js';
import { INSERT_SYNCS_FROM_JSON, syncsJson, type SyncRecord, type SyncSource } from './sync-history.js';

/**
 * The rows of cohort $1 for the users in $2, found user by user through the primary key (user_id,
 * cohort_id). Written as a lateral lookup on purpose: given `cohort_id = $1 AND user_id = ANY($2)`
 * the planner may scan the whole cohort instead (through the cohort_id index, or the table) when
 * its statistics are stale, e.g. a big cohort being imported into a table analysed while small.
 */
const MEMBER_LOOKUP = `unnest($2::uuid[]) AS q(u)
  CROSS JOIN LATERAL (SELECT m.ctid AS row FROM cohort_members m WHERE m.user_id = q.u AND m.cohort_id = $1 LIMIT 1) x`;
const MEMBER_ROWS = `ctid = ANY(ARRAY(SELECT x.row FROM ${MEMBER_LOOKUP}))`;

export type { SyncSource } from './sync-history.js';

export interface MembershipOutcome {
  added: number;
  removed: number;
  unchanged: number;
}

/** Deltas: `wanted` maps each distinct user to the state its last entry asked for (true = member). */
export async function applyDelta(tx: Queryable, cohort: Cohort, wanted: Map<string, boolean>, source: SyncSource): Promise<MembershipOutcome> {
  const toAdd: string[] = [];
  const toRemove: string[] = [];
  for (const [userId, member] of wanted) (member ? toAdd : toRemove).push(userId);
  toAdd.sort();
  toRemove.sort();
  const added = await insertMembers(tx, cohort.id, toAdd);
  const removed = toRemove.length
    ? (await tx.query(`DELETE FROM cohort_members WHERE ${MEMBER_ROWS}`, [cohort.id, toRemove])).rowCount
    : 0;
  const outcome = { added, removed, unchanged: wanted.size - added - removed };
  await recordMembershipChange(tx, cohort, outcome, source);
  return outcome;
}

/** A full replacement: the cohort's members become exactly `target` (distinct user ids). */
export async function applyReplacement(tx: Queryable, cohort: Cohort, target: string[], source: SyncSource): Promise<MembershipOutcome> {
  const sorted = [...new Set(target)].sort();
  const removed = (
    await tx.query(
      `DELETE FROM cohort_members m WHERE m.cohort_id = $1
         AND NOT EXISTS (SELECT 1 FROM unnest($2::uuid[]) AS t(id) WHERE t.id = m.user_id)`,
      [cohort.id, sorted],
    )
  ).rowCount;
  const added = await insertMembers(tx, cohort.id, sorted);
  const outcome = { added, removed, unchanged: sorted.length - added };
  await recordMembershipChange(tx, cohort, outcome, source);
  return outcome;
}

/**
 * Adds sorted user ids (sorted so concurrent writers lock rows in one order); returns how many were
 * new. There is no foreign key to users (migration 006): the users are locked (FOR KEY SHARE, in id
 * order) before their memberships are written, as the key's check would have, so none can be
 * deleted or merged away under a membership being written (step 3 before step 4 of the lock order,
 * identity/locks.ts); users that no longer exist get none.
 */
async function insertMembers(tx: Queryable, cohortId: string, sortedUserIds: string[]): Promise<number> {
  if (!sortedUserIds.length) return 0;
  const live = await lockUsersKeyShare(tx, sortedUserIds);
  const { rows } = await tx.query<{ user_id: string }>(
    `INSERT INTO cohort_members (cohort_id, user_id)
     SELECT $1, u FROM unnest($2::uuid[]) AS u ORDER BY u
     ON CONFLICT (user_id, cohort_id) DO NOTHING RETURNING user_id`,
    [cohortId, live.size === sortedUserIds.length ? sortedUserIds : sortedUserIds.filter((id) => live.has(id))],
  );
  return rows.length;
}

/** Membership probes and writes go in slices of this many users, which keeps every plan an index lookup per user. */
const SLICE = 1000;

/** The users of `userIds` that are members of the cohort now. */
export async function probeMembers(tx: Queryable, cohortId: string, userIds: string[]): Promise<Set<string>> {
  const users = [...userIds].sort();
  const members = new Set<string>();
  for (let i = 0; i < users.length; i += SLICE) {
    const { rows } = await tx.query<{ user_id: string }>(`SELECT q.u AS user_id FROM ${MEMBER_LOOKUP}`, [cohortId, users.slice(i, i + SLICE)]);
    for (const r of rows) members.add(r.user_id);
  }
  return members;
}

/** What a group of delta requests does: each request's counts, and the net change to write. */
export interface GroupPlan {
  outcomes: MembershipOutcome[];
  toAdd: string[];
  toRemove: string[];
  /** Members removed and added back within the group: they stay, with a new `since`. */
  toRefresh: string[];
}

/**
 * Replays the requests in order on the membership `before` (of every user they name), which
 * gives each request its exact added / removed / unchanged as if applied alone, one after
 * another; only the net change is to be written.
 */
export function planDeltas(before: ReadonlySet<string>, items: Array<Map<string, boolean>>): GroupPlan {
  const state = new Map<string, boolean>();
  const rejoined = new Set<string>();
  const outcomes = items.map((wanted) => {
    const o: MembershipOutcome = { added: 0, removed: 0, unchanged: 0 };
    for (const [userId, member] of wanted) {
      const current = state.get(userId) ?? before.has(userId);
      if (member === current) o.unchanged++;
      else if (member) {
        o.added++;
        state.set(userId, true);
        if (before.has(userId)) rejoined.add(userId);
      } else {
        o.removed++;
        state.set(userId, false);
      }
    }
    return o;
  });
  const plan: GroupPlan = { outcomes, toAdd: [], toRemove: [], toRefresh: [] };
  for (const [userId, member] of state) {
    const was = before.has(userId);
    if (member && !was) plan.toAdd.push(userId);
    else if (!member && was) plan.toRemove.push(userId);
    else if (member && rejoined.has(userId)) plan.toRefresh.push(userId);
  }
  return plan;
}

/**
 * Group commit for deltas: several requests' changes to one cohort in one transaction, with the
 * result of applying them one after another in order. `items[i]` maps each distinct user of
 * request i to the state its last entry asked for. The caller holds the cohort's lock and has
 * locked every user named (FOR KEY SHARE, see resolveEntries), so the membership read here cannot
 * change under the transaction.
 *
 * The current membership of the users named is read once; the requests are replayed on it in
 * memory (planDeltas), which gives each request its exact added / removed / unchanged; only the
 * net change is written (writeGroup). Data points are each request's applied changes, summed (one
 * per change, as if applied apart). A member removed and added back within the group gets a new
 * `since`, as it would have.
 */
export async function applyDeltas(tx: Queryable, cohort: Cohort, items: Array<Map<string, boolean>>, source: SyncSource): Promise<MembershipOutcome[]> {
  const named = new Set<string>();
  for (const wanted of items) for (const userId of wanted.keys()) named.add(userId);
  const plan = planDeltas(await probeMembers(tx, cohort.id, [...named]), items);
  await writeGroup(tx, cohort, plan, source);
  return plan.outcomes;
}

/** A list of uuids as one text parameter (`string_to_array($n, ',')::uuid[]`): cheaper to send than a uuid[] literal. */
const uuidList = (ids: string[]) => ids.join(',');
const UUIDS = (param: string) => `unnest(string_to_array(${param}, ',')::uuid[])`;
const ROWS_OF = (param: string) =>
  `ctid = ANY(ARRAY(SELECT x.row FROM ${UUIDS(param)} AS q(u)
     CROSS JOIN LATERAL (SELECT m.ctid AS row FROM cohort_members m WHERE m.user_id = q.u AND m.cohort_id = $1 LIMIT 1) x))`;

/**
 * Writes a group's plan in one statement: the new members (in user order, which keeps the primary
 * key's pages together), the removed ones, the refreshed ones, the cohort's count and version, the
 * data-point ledger (the group's applied changes, summed; nothing when there are none) and the
 * requests' sync-history rows. Every part is a data-modifying CTE, so each runs exactly once; an
 * empty part does nothing.
 */
const WRITE_GROUP = `WITH
  ins AS (INSERT INTO cohort_members (cohort_id, user_id) SELECT $1, u FROM ${UUIDS('$2')} AS u ORDER BY u),
  del AS (DELETE FROM cohort_members WHERE ${ROWS_OF('$3')}),
  ref AS (UPDATE cohort_members SET since = now() WHERE ${ROWS_OF('$4')}),
  c AS (UPDATE cohorts SET member_count = member_count + $5::int - $6::int,
      members_version = members_version + CASE WHEN $5::int + $6::int > 0 THEN 1 ELSE 0 END,
      last_synced_at = now(), last_source = $7::text
    WHERE id = $1),
  dp AS (INSERT INTO data_points (workspace_id, day, source, cohort_id, added, removed)
    SELECT $8::uuid, (now() AT TIME ZONE 'UTC')::date, $7::text, $1, $5::int, $6::int WHERE $5::int + $6::int > 0
    ON CONFLICT (workspace_id, day, source, cohort_id) DO UPDATE SET
      added = data_points.added + EXCLUDED.added, removed = data_points.removed + EXCLUDED.removed),
  s AS (${INSERT_SYNCS_FROM_JSON('$9')})
SELECT 1`;

export async function writeGroup(tx: Queryable, cohort: Cohort, plan: GroupPlan, source: SyncSource, syncs: SyncRecord[] = []): Promise<void> {
  const added = plan.outcomes.reduce((n, o) => n + o.added, 0);
  const removed = plan.outcomes.reduce((n, o) => n + o.removed, 0);
  await tx.query(WRITE_GROUP, [
    cohort.id,
    uuidList(plan.toAdd),
    uuidList(plan.toRemove),
    uuidList(plan.toRefresh),
    added,
    removed,
    source,
    cohort.workspace_id,
    syncsJson(syncs),
  ]);
}

async function recordMembershipChange(tx: Queryable, cohort: Cohort, o: MembershipOutcome, source: SyncSource): Promise<void> {
  const changed = o.added + o.removed > 0;
  await tx.query(
    `UPDATE cohorts SET member_count = member_count + $2 - $3,
        members_version = members_version + CASE WHEN $4::boolean THEN 1 ELSE 0 END,
        last_synced_at = now(), last_source = $5
      WHERE id = $1`,
    [cohort.id, o.added, o.removed, changed, source],
  );
  if (!changed) return;
  await tx.query(
    `INSERT INTO data_points (workspace_id, day, source, cohort_id, added, removed)
     VALUES ($1, (now() AT TIME ZONE 'UTC')::date, $2, $3, $4, $5)
     ON CONFLICT (workspace_id, day, source, cohort_id) DO UPDATE SET
       added = data_points.added + EXCLUDED.added, removed = data_points.removed + EXCLUDED.removed`,
    [cohort.workspace_id, source, cohort.id, o.added, o.removed],
  );
}
