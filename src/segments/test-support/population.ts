/**
 * Writes a population described in memory (the reference evaluator's `PopulationUser`) into the
 * database the way the core and the cohort import would leave it: users with attributes and
 * sessions, aliases, per-day event stats, cohorts with members and a bumped members_version.
 */
import { randomUUID } from 'node:crypto';
import type { Db, Queryable } from '../../storage/index.js';
import type { PopulationUser } from '../reference.js';

export type UserSpec = Partial<Omit<PopulationUser, 'ordinal'>>;

export interface WrittenUser extends PopulationUser {
  id: string;
}

export async function createCohort(db: Queryable, workspaceId: string, name: string, partner = 'mixpanel'): Promise<string> {
  const id = randomUUID();
  await db.query(`INSERT INTO cohorts (id, workspace_id, partner, partner_cohort_id, name, created_at) VALUES ($1, $2, $3, $4, $5, now())`, [
    id,
    workspaceId,
    partner,
    `p-${id.slice(0, 8)}`,
    name,
  ]);
  return id;
}

/** Adds or removes members as the cohort import does: rows, member_count and members_version together. */
export async function setMembership(db: Db, cohortId: string, userIds: string[], member: boolean): Promise<void> {
  if (!userIds.length) return;
  await db.transaction(async (tx) => {
    const changed = member
      ? await tx.query(`INSERT INTO cohort_members (cohort_id, user_id) SELECT $1, unnest($2::uuid[]) ON CONFLICT DO NOTHING`, [cohortId, userIds])
      : await tx.query(`DELETE FROM cohort_members WHERE cohort_id = $1 AND user_id = ANY($2::uuid[])`, [cohortId, userIds]);
    await tx.query(`UPDATE cohorts SET member_count = member_count + $2, members_version = members_version + 1 WHERE id = $1`, [
      cohortId,
      member ? changed.rowCount : -changed.rowCount,
    ]);
  });
}

export async function writeUsers(db: Db, workspaceId: string, specs: UserSpec[]): Promise<WrittenUser[]> {
  if (!specs.length) return [];
  const users = specs.map((s) => ({
    id: randomUUID(),
    external_id: s.external_id ?? null,
    email: s.email ?? null,
    custom_attributes: s.custom_attributes ?? {},
    last_session_at: s.last_session_at ?? null,
    alias_labels: s.alias_labels ?? [],
    stats: s.stats ?? [],
    cohorts: s.cohorts ?? [],
  }));
  const { rows } = await db.query<{ id: string; ordinal: number }>(
    `INSERT INTO users (id, workspace_id, external_id, began_anonymous, email, custom_attributes, last_session_at)
     SELECT r.id, $1, r.external_id, r.external_id IS NULL, r.email, r.custom_attributes,
            CASE WHEN r.last_session_at IS NULL THEN NULL ELSE to_timestamp(r.last_session_at / 1000.0) END
       FROM jsonb_to_recordset($2::jsonb) AS r(id uuid, external_id text, email text, custom_attributes jsonb, last_session_at bigint)
     RETURNING id, ordinal`,
    [workspaceId, JSON.stringify(users)],
  );
  const ordinals = new Map(rows.map((r) => [r.id, r.ordinal]));
  const aliases = users.flatMap((u) => u.alias_labels.map((label) => ({ user_id: u.id, label, name: `${label}:${u.id}` })));
  if (aliases.length) {
    await db.query(
      `INSERT INTO user_aliases (workspace_id, alias_label, alias_name, user_id)
       SELECT $1, r.label, r.name, r.user_id FROM jsonb_to_recordset($2::jsonb) AS r(user_id uuid, label text, name text)`,
      [workspaceId, JSON.stringify(aliases)],
    );
  }
  const stats = users.flatMap((u) => u.stats.map((s) => ({ user_id: u.id, ...s })));
  if (stats.length) {
    await db.query(
      `INSERT INTO user_event_stats (user_id, kind, name, day, count, first_at, last_at)
       SELECT r.user_id, r.kind, r.name, r.day, sum(r.count), r.day::timestamptz, r.day::timestamptz
         FROM jsonb_to_recordset($1::jsonb) AS r(user_id uuid, kind text, name text, day date, count bigint)
        GROUP BY r.user_id, r.kind, r.name, r.day`,
      [JSON.stringify(stats)],
    );
  }
  const byCohort = new Map<string, string[]>();
  for (const u of users) for (const c of u.cohorts) byCohort.set(c, [...(byCohort.get(c) ?? []), u.id]);
  for (const [cohortId, ids] of byCohort) await setMembership(db, cohortId, ids, true);
  return users.map((u) => ({ ...u, ordinal: ordinals.get(u.id)! }));
}
