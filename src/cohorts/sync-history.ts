/** The sync history: one row per partner request, webhook message and pull run (docs/reference/cohort-import.md §3). */
import { randomUUID } from 'node:crypto';
import type { Queryable } from '../storage/index.js';

/** Where a membership change came from. */
export type SyncSource = 'partner_api' | 'webhook' | 'pull';

export interface SyncRecord {
  workspaceId: string;
  partner: string;
  source: SyncSource;
  cohortId?: string | null;
  partnerCohortId?: string | null;
  action?: string | null;
  status: 'applied' | 'staged' | 'incomplete' | 'failed' | 'rejected';
  received?: number;
  matched?: number;
  unmatchedNotFound?: number;
  unmatchedDeviceIdOfIdentifiedUser?: number;
  added?: number;
  removed?: number;
  unchanged?: number;
  error?: string | null;
  details?: unknown;
}

export async function recordSync(db: Queryable, r: SyncRecord): Promise<void> {
  await recordSyncs(db, [r]);
}

const SYNC_COLUMNS = 17;

/**
 * Several records in one statement (a group commit's requests). The i-th record is stamped one
 * microsecond after the (i-1)-th, so that the history lists them in the order they were applied.
 */
export async function recordSyncs(db: Queryable, records: SyncRecord[]): Promise<void> {
  if (!records.length) return;
  const params: unknown[] = [];
  const rows = records.map((r, i) => {
    const base = i * SYNC_COLUMNS;
    params.push(
      randomUUID(),
      r.workspaceId,
      r.partner,
      r.cohortId ?? null,
      r.partnerCohortId ?? null,
      r.source,
      r.action ?? null,
      r.status,
      r.received ?? 0,
      r.matched ?? 0,
      r.unmatchedNotFound ?? 0,
      r.unmatchedDeviceIdOfIdentifiedUser ?? 0,
      r.added ?? 0,
      r.removed ?? 0,
      r.unchanged ?? 0,
      r.error ?? null,
      r.details === undefined ? null : JSON.stringify(r.details),
    );
    const cells = Array.from({ length: SYNC_COLUMNS }, (_, k) => `$${base + k + 1}`);
    return `(${cells.join(', ')}, now() + interval '1 microsecond' * ${i})`;
  });
  await db.query(
    `INSERT INTO cohort_syncs (id, workspace_id, partner, cohort_id, partner_cohort_id, source, action, status, received, matched,
        unmatched_not_found, unmatched_device_id_of_identified_user, added, removed, unchanged, error, details, at)
     VALUES ${rows.join(',\n            ')}`,
    params,
  );
}

/**
 * The same rows as recordSyncs, as one JSON parameter for a statement that writes more besides
 * (the group commit's one write, see writeGroup): `syncsJson(records)` goes in `param`.
 */
export const INSERT_SYNCS_FROM_JSON = (param: string) =>
  `INSERT INTO cohort_syncs (id, workspace_id, partner, cohort_id, partner_cohort_id, source, action, status, received, matched,
      unmatched_not_found, unmatched_device_id_of_identified_user, added, removed, unchanged, error, details, at)
   SELECT r.id, r.workspace_id, r.partner, r.cohort_id, r.partner_cohort_id, r.source, r.action, r.status, r.received, r.matched,
      r.unmatched_not_found, r.unmatched_device_id_of_identified_user, r.added, r.removed, r.unchanged, r.error, r.details,
      now() + interval '1 microsecond' * r.ord
     FROM json_to_recordset(${param}::json) AS r(id uuid, workspace_id uuid, partner text, cohort_id uuid, partner_cohort_id text,
      source text, action text, status text, received int, matched int, unmatched_not_found int,
      unmatched_device_id_of_identified_user int, added int, removed int, unchanged int, error text, details jsonb, ord int)`;

export function syncsJson(records: SyncRecord[]): string {
  return JSON.stringify(
    records.map((r, ord) => ({
      id: randomUUID(),
      workspace_id: r.workspaceId,
      partner: r.partner,
      cohort_id: r.cohortId ?? null,
      partner_cohort_id: r.partnerCohortId ?? null,
      source: r.source,
      action: r.action ?? null,
      status: r.status,
      received: r.received ?? 0,
      matched: r.matched ?? 0,
      unmatched_not_found: r.unmatchedNotFound ?? 0,
      unmatched_device_id_of_identified_user: r.unmatchedDeviceIdOfIdentifiedUser ?? 0,
      added: r.added ?? 0,
      removed: r.removed ?? 0,
      unchanged: r.unchanged ?? 0,
      error: r.error ?? null,
      ...(r.details === undefined ? {} : { details: r.details }),
      ord,
    })),
  );
}

export interface SyncRow {
  id: string;
  cohort_id: string | null;
  partner_cohort_id: string | null;
  partner: string;
  source: string;
  action: string | null;
  status: string;
  received: number;
  matched: number;
  unmatched: { not_found: number; device_id_of_identified_user: number };
  added: number;
  removed: number;
  unchanged: number;
  error: string | null;
  at: Date;
}

export async function listSyncs(db: Queryable, workspaceId: string, opts: { cohortId?: string; limit?: number } = {}): Promise<SyncRow[]> {
  const { rows } = await db.query<Record<string, any>>(
    `SELECT id, cohort_id, partner_cohort_id, partner, source, action, status, received, matched, unmatched_not_found,
            unmatched_device_id_of_identified_user, added, removed, unchanged, error, at
       FROM cohort_syncs WHERE workspace_id = $1 ${opts.cohortId ? 'AND cohort_id = $3' : ''}
      ORDER BY at DESC, id LIMIT $2`,
    opts.cohortId ? [workspaceId, opts.limit ?? 100, opts.cohortId] : [workspaceId, opts.limit ?? 100],
  );
  return rows.map((r) => ({
    id: r.id,
    cohort_id: r.cohort_id,
    partner_cohort_id: r.partner_cohort_id,
    partner: r.partner,
    source: r.source,
    action: r.action,
    status: r.status,
    received: r.received,
    matched: r.matched,
    unmatched: { not_found: r.unmatched_not_found, device_id_of_identified_user: r.unmatched_device_id_of_identified_user },
    added: r.added,
    removed: r.removed,
    unchanged: r.unchanged,
    error: r.error,
    at: r.at,
  }));
}
