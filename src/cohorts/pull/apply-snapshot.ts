/**
 * Applies one complete pull snapshot (docs/reference/cohort-import.md §3, §5): the cohort
 * `"<project_id>:<cohort_id>"` is created or renamed from cohorts/list, then, in the cohort's
 * queue and under its lock, in one transaction: the matched users replace the membership, the new
 * snapshot replaces the stored one, and the sync history records the counts and the identifier
 * diff (entered, left) against the last stored snapshot. Data points follow from the replacement.
 */
import { resolveMembers } from '../match-members.js';
import { transactionWithRetry, type Db, type Queryable } from '../../storage/index.js';
import { applyReplacement, type MembershipOutcome } from '../apply.js';
import type { CohortContext } from '../context.js';
import { MIXPANEL } from '../partners.js';
import { lockCohort, upsertCohort, type Cohort } from '../store.js';
import { recordSync } from '../sync-history.js';
import type { MatchKey } from '../webhook-payload.js';
import { diffIdentifiers, snapshotOf } from './snapshot.js';

/** How many entered and left identifiers the sync history lists (the counts are always whole). */
export const DIFF_SAMPLE = 1000;

export interface SnapshotInput {
  workspaceId: string;
  connectionId: string;
  projectId: string;
  cohortId: string;
  name: string;
  description: string | null;
  matchKey: MatchKey;
  /** One entry per engage result, undefined where the result lacks the key. */
  identifiers: Array<string | undefined>;
  pages: number;
  /** Run first in the transaction: throws when the run's lease is lost, so nothing is applied. */
  fence?: (tx: Queryable) => Promise<void>;
}

export interface SnapshotApplied {
  cohort: Cohort;
  received: number;
  matched: number;
  notFound: number;
  outcome: MembershipOutcome;
  entered: number;
  left: number;
}

export function partnerCohortIdOf(projectId: string, cohortId: string): string {
  return `${projectId}:${cohortId}`;
}

async function resolve(tx: Queryable, workspaceId: string, identifiers: Array<string | undefined>, key: MatchKey) {
  const resolved = await resolveMembers(tx, workspaceId, identifiers, key);
  return { ...resolved, snapshot: snapshotOf(identifiers.filter((i): i is string => i !== undefined)) };
}

export async function applySnapshot(db: Db, ctx: CohortContext, s: SnapshotInput): Promise<SnapshotApplied> {
  const partnerCohortId = partnerCohortIdOf(s.projectId, s.cohortId);
  const cohort = await transactionWithRetry(db, async (tx) => {
    await s.fence?.(tx);
    const maxCohorts = ctx.config.limits.cohortsPerWorkspace;
    return (await upsertCohort(tx, { workspaceId: s.workspaceId, partner: MIXPANEL.slug, partnerCohortId, name: s.name, createdAt: new Date(), description: s.description, maxCohorts })).cohort;
  });
  return ctx.queue.run(cohort.id, () =>
    transactionWithRetry(db, async (tx) => {
      await s.fence?.(tx);
      await lockCohort(tx, cohort.id, ctx.config.limits.cohortLockTimeoutMs);
      const resolved = await resolve(tx, s.workspaceId, s.identifiers, s.matchKey);
      const outcome = await applyReplacement(tx, cohort, resolved.userIds, 'pull');
      const { rows } = await tx.query<{ identifiers: string[] }>(
        'SELECT identifiers FROM pull_snapshots WHERE connection_id = $1 AND mixpanel_cohort_id = $2',
        [s.connectionId, s.cohortId],
      );
      const diff = diffIdentifiers(rows[0]?.identifiers ?? [], resolved.snapshot);
      await tx.query(
        `INSERT INTO pull_snapshots (connection_id, mixpanel_cohort_id, identifiers) VALUES ($1, $2, $3::text[])
         ON CONFLICT (connection_id, mixpanel_cohort_id) DO UPDATE SET identifiers = EXCLUDED.identifiers, taken_at = now()`,
        [s.connectionId, s.cohortId, resolved.snapshot],
      );
      const received = s.identifiers.length;
      await recordSync(tx, {
        workspaceId: s.workspaceId,
        partner: MIXPANEL.slug,
        source: 'pull',
        cohortId: cohort.id,
        partnerCohortId,
        action: 'replacement',
        status: 'applied',
        received,
        matched: resolved.matched,
        unmatchedNotFound: received - resolved.matched,
        ...outcome,
        details: {
          connection_id: s.connectionId,
          pages: s.pages,
          first_snapshot: rows.length === 0,
          entered: diff.entered.length,
          left: diff.left.length,
          entered_ids: diff.entered.slice(0, DIFF_SAMPLE),
          left_ids: diff.left.slice(0, DIFF_SAMPLE),
        },
      });
      return { cohort, received, matched: resolved.matched, notFound: received - resolved.matched, outcome, entered: diff.entered.length, left: diff.left.length };
    }),
  );
}
