/** The sync history: one row per partner request, webhook message and pull run (docs/reference/cohort-import.md §3). */
import { randomUUID } from 'node:crypto';
import { millis, millisKey, queryPage, type Page, type PageRequest } from '../storage/index.js';
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
  /** The cohort's name as last synced, or `null` when the row names no cohort (or it was deleted). */
  cohort_name: string | null;
  partner_cohort_id: string | null;
  partner: string;
  source: string;
  action: string | null;
  status: string;
  /** A run that received, added and removed nothing (an empty page or an empty cohort). */
  empty: boolean;
  received: number;
  matched: number;
  unmatched: { not_found: number; device_id_of_identified_user: number };
  added: number;
  removed: number;
  unchanged: number;
  error: string | null;
  at: Date;
}

const LISTED_COLUMNS = `s.id, s.cohort_id, c.name AS cohort_name, s.partner_cohort_id, s.partner, s.source, s.action, s.status, s.received, s.matched,
            s.unmatched_not_found, s.unmatched_device_id_of_identified_user, s.added, s.removed, s.unchanged, s.error, s.at`;

export const SYNC_STATUSES = ['applied', 'staged', 'incomplete', 'failed', 'rejected'] as const;

export interface SyncFilter {
  cohortId?: string | undefined;
  status?: string | undefined;
  limit?: number | undefined;
}

/** The newest syncs, filtered by cohort and status (the cohort page's last syncs). */
export async function listSyncs(db: Queryable, workspaceId: string, opts: SyncFilter = {}): Promise<SyncRow[]> {
  const { rows } = await db.query<Record<string, any>>(
    `SELECT ${LISTED_COLUMNS}
       FROM cohort_syncs s LEFT JOIN cohorts c ON c.id = s.cohort_id
      WHERE s.workspace_id = $1 AND ($3::uuid IS NULL OR s.cohort_id = $3::uuid) AND ($4::text IS NULL OR s.status = $4::text)
      ORDER BY s.at DESC, s.id DESC LIMIT $2`,
    [workspaceId, opts.limit ?? 100, opts.cohortId ?? null, opts.status ?? null],
  );
  return rows.map(toSyncRow);
}

/** A page of the sync history, newest first, filtered by cohort and status (GET /admin/cohort-syncs). */
export async function listSyncsPage(db: Queryable, workspaceId: string, page: PageRequest, filter: Omit<SyncFilter, 'limit'> = {}): Promise<Page<SyncRow>> {
  const keys = [{ expr: millis('at'), desc: true }, { expr: 'id', desc: true }];
  const rows = await queryPage<Record<string, any>>(
    db,
    `SELECT * FROM (SELECT ${LISTED_COLUMNS}
                      FROM cohort_syncs s LEFT JOIN cohorts c ON c.id = s.cohort_id
                     WHERE s.workspace_id = $1 AND ($2::uuid IS NULL OR s.cohort_id = $2::uuid) AND ($3::text IS NULL OR s.status = $3::text)) q
      WHERE true`,
    [workspaceId, filter.cohortId ?? null, filter.status ?? null],
    keys,
    page,
    (r) => [millisKey(r.at), r.id],
  );
  return { items: rows.items.map(toSyncRow), next_cursor: rows.next_cursor };
}

function toSyncRow(r: Record<string, any>): SyncRow {
  return {
    id: r.id,
    cohort_id: r.cohort_id,
    cohort_name: r.cohort_name ?? null,
    partner_cohort_id: r.partner_cohort_id,
    partner: r.partner,
    source: r.source,
    action: r.action,
    status: r.status,
    empty: r.received === 0 && r.added === 0 && r.removed === 0,
    received: r.received,
    matched: r.matched,
    unmatched: { not_found: r.unmatched_not_found, device_id_of_identified_user: r.unmatched_device_id_of_identified_user },
    added: r.added,
    removed: r.removed,
    unchanged: r.unchanged,
    error: r.error,
    at: r.at,
  };
}

/** Mixpanel runs a dynamic webhook sync every 30 minutes (docs/reference/mixpanel-apis.md §10). */
export const WEBHOOK_SYNC_INTERVAL_SECONDS = 30 * 60;

export interface StaleSync {
  kind: 'pull_connection' | 'webhook_cohort';
  /** The pull connection's id, or the cohort's. */
  id: string;
  workspace_id: string;
  name: string;
  interval_seconds: number;
  /** The last good sync, or `null` when there was none (then counted from creation). */
  last_success_at: Date | null;
}

/**
 * Dynamic syncs whose last good sync is older than two intervals (docs/reference/cohort-import.md §8):
 * a dynamic pull connection not paused (its own interval), and a Mixpanel webhook cohort that has
 * been synced at two different times at least (so it is recurring, not one-time) whose last applied
 * webhook message is older than two of Mixpanel's 30-minute intervals. All workspaces when
 * `workspaceId` is absent (metrics).
 */
export async function staleSyncs(db: Queryable, workspaceId?: string): Promise<StaleSync[]> {
  const { rows } = await db.query<StaleSync>(
    `SELECT 'pull_connection' AS kind, id::text AS id, workspace_id::text AS workspace_id, name, interval_seconds, last_success_at
       FROM mixpanel_connections
      WHERE mode = 'dynamic' AND state <> 'paused' AND ($1::uuid IS NULL OR workspace_id = $1::uuid)
        AND coalesce(last_success_at, created_at) < now() - make_interval(secs => 2 * interval_seconds)
     UNION ALL
     SELECT 'webhook_cohort', c.id::text, c.workspace_id::text, c.name, $2::int, w.last_at
       FROM cohorts c
       JOIN (SELECT cohort_id, max(at) AS last_at, count(DISTINCT date_trunc('minute', at)) AS runs
               FROM cohort_syncs WHERE source = 'webhook' AND status = 'applied' AND ($1::uuid IS NULL OR workspace_id = $1::uuid)
              GROUP BY cohort_id) w ON w.cohort_id = c.id
      WHERE w.runs >= 2 AND w.last_at < now() - make_interval(secs => 2 * $2::int)
      ORDER BY 1, 4`,
    [workspaceId ?? null, WEBHOOK_SYNC_INTERVAL_SECONDS],
  );
  return rows;
}
