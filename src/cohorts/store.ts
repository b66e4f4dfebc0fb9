/** Cohorts and their members in the database; the per-cohort lock; the profile and merge hooks. */
import { randomUUID } from 'node:crypto';
import { CohortLocked, UnknownCohort } from '../errors/index.js';
import type { MergeParticipant, ProfileExtension } from '../identity/index.js';
import { ApiError } from '../http/index.js';
import { queryPage, type Page, type PageRequest } from '../storage/index.js';
import type { Queryable } from '../storage/index.js';

export interface Cohort {
  id: string;
  workspace_id: string;
  partner: string;
  partner_cohort_id: string;
  name: string;
  description: string | null;
  created_at: Date;
  updated_at: Date;
  last_synced_at: Date | null;
  last_source: string | null;
  member_count: number;
  members_version: number;
}

const COLUMNS =
  'id, workspace_id, partner, partner_cohort_id, name, description, created_at, updated_at, last_synced_at, last_source, member_count, members_version';

/**
 * Cohort ids, names and descriptions are kept in Unicode NFC (docs/reference/cohort-import.md#15-cohort-ids-and-names):
 * `café` typed as `e` + combining accent and as `é` names one cohort, not two that look alike.
 * Every write and every lookup by a partner's id goes through this.
 */
export function nfc(text: string): string {
  return text.normalize('NFC');
}

export function nfcOrNull(text: string | null | undefined): string | null | undefined {
  return typeof text === 'string' ? nfc(text) : text;
}

/** The workspace holds as many cohorts as RIVULET_COHORTS_PER_WORKSPACE allows; nothing was created. */
export class CohortLimitReached extends ApiError {
  constructor(limit: number) {
    const message = `This workspace already holds ${limit} cohorts, the most RIVULET_COHORTS_PER_WORKSPACE allows; no cohort was created`;
    super(409, message, [{ type: 'cohort limit reached', path: 'cohort_id', limit }]);
  }
}

export async function findCohort(tx: Queryable, workspaceId: string, partner: string, partnerCohortId: string): Promise<Cohort | undefined> {
  const { rows } = await tx.query<Cohort>(
    `SELECT ${COLUMNS} FROM cohorts WHERE workspace_id = $1 AND partner = $2 AND partner_cohort_id = $3`,
    [workspaceId, partner, nfc(partnerCohortId)],
  );
  return rows[0];
}

export interface NamedCohort {
  cohort: Cohort;
  created: boolean;
  renamed: boolean;
}

/**
 * Creates the cohort, or renames it (and updates its description when given). `created_at` is
 * kept from the first call. Ids, names and descriptions are stored in NFC. With `maxCohorts`, a new
 * cohort beyond that many in the workspace fails with CohortLimitReached; creators of one
 * workspace take turns on a transaction-scoped advisory lock for the count, so concurrent
 * creations cannot overshoot it (`tx` must be a transaction for that).
 */
export async function upsertCohort(
  tx: Queryable,
  raw: { workspaceId: string; partner: string; partnerCohortId: string; name: string; createdAt: Date; description?: string | null; maxCohorts?: number },
): Promise<NamedCohort> {
  const input = { ...raw, partnerCohortId: nfc(raw.partnerCohortId), name: nfc(raw.name), description: nfcOrNull(raw.description) };
  // With a cap, the common case (the cohort exists) is one read; only a creation counts.
  let existing = input.maxCohorts === undefined ? undefined : await findCohort(tx, input.workspaceId, input.partner, input.partnerCohortId);
  if (!existing) {
    if (input.maxCohorts !== undefined) {
      // Two statements: the count must see the creations of whoever held the lock before (a new snapshot).
      await tx.query(`SELECT pg_advisory_xact_lock(hashtextextended('rivulet.cohort-cap:' || $1::text, 0))`, [input.workspaceId]);
      const { rows } = await tx.query<{ n: number }>('SELECT count(*) AS n FROM cohorts WHERE workspace_id = $1', [input.workspaceId]);
      if ((rows[0]?.n ?? 0) >= input.maxCohorts) throw new CohortLimitReached(input.maxCohorts);
    }
    const inserted = await tx.query<Cohort>(
      `INSERT INTO cohorts (id, workspace_id, partner, partner_cohort_id, name, description, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (workspace_id, partner, partner_cohort_id) DO NOTHING RETURNING ${COLUMNS}`,
      [randomUUID(), input.workspaceId, input.partner, input.partnerCohortId, input.name, input.description ?? null, input.createdAt],
    );
    if (inserted.rows[0]) return { cohort: inserted.rows[0], created: true, renamed: false };
    existing = (await findCohort(tx, input.workspaceId, input.partner, input.partnerCohortId))!;
  }
  const descriptionChanged = input.description !== undefined && input.description !== existing.description;
  if (existing.name === input.name && !descriptionChanged) return { cohort: existing, created: false, renamed: false };
  const { rows } = await tx.query<Cohort>(
    `UPDATE cohorts SET name = $2, description = CASE WHEN $3::boolean THEN $4 ELSE description END, updated_at = now()
      WHERE id = $1 RETURNING ${COLUMNS}`,
    [existing.id, input.name, descriptionChanged, input.description ?? null],
  );
  return { cohort: rows[0]!, created: false, renamed: existing.name !== input.name };
}

/** The cohort to lock no longer exists (deleted since it was read). Nothing was applied. */
export { UnknownCohort as CohortGone } from '../errors/index.js';

/**
 * Takes the cohort's row lock, the lock that orders changes to one cohort across processes, in one
 * statement (cohorts_lock, migration 008). Waiting longer than `timeoutMs` answers 423
 * (docs/reference/cohort-import.md §1.4). A cohort that no longer exists fails with CohortGone: memberships have
 * no foreign key to their cohort, so this check is what keeps them from outliving it.
 */
export async function lockCohort(tx: Queryable, cohortId: string, timeoutMs: number): Promise<void> {
  try {
    await tx.query('SELECT cohorts_lock($1, $2)', [cohortId, Math.max(1, Math.round(timeoutMs))]);
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === '55P03') throw new CohortLocked();
    if (code === 'P0002') throw new UnknownCohort();
    throw err;
  }
}

/**
 * lockCohort, then which of `userIds` are members of the cohort now, in one statement
 * (cohorts_lock_members, migration 008).
 */
export async function lockCohortMembers(tx: Queryable, cohortId: string, timeoutMs: number, userIds: string[]): Promise<Set<string>> {
  try {
    const { rows } = await tx.query<{ found: string | null }>('SELECT cohorts_lock_members($1, $2, $3) AS found', [
      cohortId,
      Math.max(1, Math.round(timeoutMs)),
      userIds.join(','),
    ]);
    const found = rows[0]?.found;
    return new Set(found ? found.split(',') : []);
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === '55P03') throw new CohortLocked();
    if (code === 'P0002') throw new UnknownCohort();
    throw err;
  }
}

export async function listCohorts(db: Queryable, workspaceId: string, partner?: string): Promise<Cohort[]> {
  const { rows } = await db.query<Cohort>(
    `SELECT ${COLUMNS} FROM cohorts WHERE workspace_id = $1 ${partner ? 'AND partner = $2' : ''} ORDER BY name, id`,
    partner ? [workspaceId, partner] : [workspaceId],
  );
  return rows;
}

/** A page of the workspace's cohorts by name (GET /admin/cohorts). */
export function listCohortsPage(db: Queryable, workspaceId: string, page: PageRequest): Promise<Page<Cohort>> {
  return queryPage<Cohort>(db, `SELECT ${COLUMNS} FROM cohorts WHERE workspace_id = $1`, [workspaceId], [{ expr: 'name' }, { expr: 'id' }], page, (c) => [c.name, c.id]);
}

export async function getCohort(db: Queryable, workspaceId: string, id: string): Promise<Cohort | undefined> {
  if (!/^[0-9a-f-]{36}$/i.test(id)) return undefined;
  const { rows } = await db.query<Cohort>(`SELECT ${COLUMNS} FROM cohorts WHERE workspace_id = $1 AND id = $2`, [workspaceId, id]);
  return rows[0];
}

/** On a merge the surviving user gains the source's memberships (a union, not a change: no data points). */
export const cohortMergeParticipant: MergeParticipant = async (tx, ctx) => {
  const { rows } = await tx.query<{ cohort_id: string }>(
    `INSERT INTO cohort_members (cohort_id, user_id, since)
     SELECT cohort_id, $2, since FROM cohort_members WHERE user_id = $1
     ON CONFLICT (cohort_id, user_id) DO NOTHING RETURNING cohort_id`,
    [ctx.sourceId, ctx.targetId],
  );
  const gained = rows.map((r) => r.cohort_id);
  const { rows: lost } = await tx.query<{ cohort_id: string }>('DELETE FROM cohort_members WHERE user_id = $1 RETURNING cohort_id', [ctx.sourceId]);
  // Every cohort the source was in changed. Where the target was already a member, the cohort
  // has one member fewer; elsewhere the target simply took the source's place.
  const gainedSet = new Set(gained);
  const touched = lost.map((r) => r.cohort_id).sort();
  if (touched.length) {
    await tx.query(
      `UPDATE cohorts SET members_version = members_version + 1,
          member_count = member_count - CASE WHEN id = ANY($2::uuid[]) THEN 1 ELSE 0 END
        WHERE id = ANY($1::uuid[])`,
      [touched, touched.filter((id) => !gainedSet.has(id))],
    );
  }
};

/** The `cohorts` field of the profile lookup (docs/reference/rest-api.md §5). */
export const cohortProfileExtension: ProfileExtension = {
  field: 'cohorts',
  async load(tx, userIds) {
    const out = new Map<string, unknown>();
    if (!userIds.length) return out;
    const { rows } = await tx.query<{ user_id: string; partner: string; partner_cohort_id: string; name: string; since: Date }>(
      `SELECT m.user_id, c.partner, c.partner_cohort_id, c.name, m.since
         FROM cohort_members m JOIN cohorts c ON c.id = m.cohort_id
        WHERE m.user_id = ANY($1::uuid[]) ORDER BY c.name, c.partner_cohort_id`,
      [userIds],
    );
    for (const r of rows) {
      const list = (out.get(r.user_id) as unknown[] | undefined) ?? [];
      list.push({ partner: r.partner, cohort_id: r.partner_cohort_id, name: r.name, since: r.since.toISOString() });
      out.set(r.user_id, list);
    }
    return out;
  },
};

