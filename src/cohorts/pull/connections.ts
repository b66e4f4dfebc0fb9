/**
 * Stored Mixpanel connections (docs/reference/cohort-import.md §5) and their schedule. Credentials are sealed
 * with the SecretBox before they reach the database and are opened only by a run; what leaves this
 * module for display carries only the last four characters of the secret. The schedule lives in
 * the row (`next_run_at`, `state`) and a run holds a lease on it (`run_owner`, `run_lease_until`),
 * so a restart finds due and interrupted runs where they were.
 */
import { randomUUID } from 'node:crypto';
import { millis, millisKey, queryPage, type Page, type PageRequest } from '../../storage/index.js';
import { PullConnectionPaused, UnknownPullConnection } from '../../errors/index.js';
import { hint, type SecretBox } from '../../secrets/index.js';
import { leaseStore } from '../../leases/index.js';
import type { Db, Queryable } from '../../storage/index.js';
import type { ConnectionFields, ConnectionPatch, Credentials } from './connection-input.js';
import { queryHost, type Region } from './hosts.js';

export type ConnectionState = 'active' | 'failed' | 'done' | 'paused';

export interface ConnectionRow {
  id: string;
  workspace_id: string;
  name: string;
  project_id: string;
  mixpanel_workspace_id: string | null;
  region: Region;
  base_url: string | null;
  credentials: Uint8Array;
  credential_hint: string;
  cohort_ids: string[];
  mode: 'one_time' | 'dynamic';
  interval_seconds: number;
  match_key: string;
  query_budget: number;
  state: ConnectionState;
  next_run_at: Date | null;
  last_run_at: Date | null;
  last_success_at: Date | null;
  last_error: string | null;
  run_owner: string | null;
  run_lease_until: Date | null;
  created_at: Date;
  updated_at: Date;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function openCredentials(box: SecretBox, row: Pick<ConnectionRow, 'credentials'>): Credentials {
  return box.openJson<Credentials>(Buffer.from(row.credentials));
}

/** What the admin API shows: never the credentials, only their kind and the secret's last four characters. */
export function publicConnection(row: ConnectionRow, box: SecretBox) {
  let kind: string;
  try {
    kind = openCredentials(box, row).kind;
  } catch {
    kind = 'unreadable (stored under another master key)';
  }
  const iso = (d: Date | null) => (d ? new Date(d).toISOString() : null);
  return {
    id: row.id,
    name: row.name,
    project_id: row.project_id,
    mixpanel_workspace_id: row.mixpanel_workspace_id,
    region: row.region,
    query_host: queryHost(row.region, row.base_url),
    base_url: row.base_url,
    credentials: { kind, secret_hint: row.credential_hint },
    cohort_ids: row.cohort_ids,
    mode: row.mode,
    interval_minutes: Math.round(row.interval_seconds / 60),
    match_key: row.match_key,
    query_budget: row.query_budget,
    state: row.state,
    running: row.run_owner !== null && row.run_lease_until !== null && new Date(row.run_lease_until).getTime() > Date.now(),
    next_run_at: iso(row.next_run_at),
    last_run_at: iso(row.last_run_at),
    last_success_at: iso(row.last_success_at),
    last_error: row.last_error,
    created_at: iso(row.created_at),
    updated_at: iso(row.updated_at),
  };
}

export async function createConnection(db: Queryable, box: SecretBox, workspaceId: string, f: ConnectionFields): Promise<ConnectionRow> {
  const { rows } = await db.query<ConnectionRow>(
    `INSERT INTO mixpanel_connections (id, workspace_id, name, project_id, mixpanel_workspace_id, region, base_url, credentials, credential_hint,
        cohort_ids, mode, interval_seconds, match_key, query_budget, state, next_run_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::text[], $11, $12, $13, $14, $15, CASE WHEN $15 = 'active' THEN now() END)
     RETURNING *`,
    [
      randomUUID(),
      workspaceId,
      f.name,
      f.projectId,
      f.mixpanelWorkspaceId,
      f.region,
      f.baseUrl,
      box.sealJson(f.credentials),
      hint(f.credentials.secret),
      f.cohortIds,
      f.mode,
      f.intervalSeconds,
      f.matchKey,
      f.queryBudget,
      f.enabled ? 'active' : 'paused',
    ],
  );
  return rows[0]!;
}

export async function listConnections(db: Queryable, workspaceId: string): Promise<ConnectionRow[]> {
  return (await db.query<ConnectionRow>('SELECT * FROM mixpanel_connections WHERE workspace_id = $1 ORDER BY created_at, id', [workspaceId])).rows;
}

/** A page of the workspace's connections, oldest first (GET /admin/mixpanel/connections). */
export function listConnectionsPage(db: Queryable, workspaceId: string, page: PageRequest): Promise<Page<ConnectionRow>> {
  const keys = [{ expr: millis('created_at') }, { expr: 'id' }];
  return queryPage<ConnectionRow>(db, 'SELECT * FROM mixpanel_connections WHERE workspace_id = $1', [workspaceId], keys, page, (r) => [millisKey(r.created_at), r.id]);
}

export async function getConnection(db: Queryable, workspaceId: string, id: string, forUpdate = false): Promise<ConnectionRow | undefined> {
  if (!UUID.test(id)) return undefined;
  const { rows } = await db.query<ConnectionRow>(
    `SELECT * FROM mixpanel_connections WHERE workspace_id = $1 AND id = $2 ${forUpdate ? 'FOR UPDATE' : ''}`,
    [workspaceId, id],
  );
  return rows[0];
}

export async function connectionById(db: Queryable, id: string): Promise<ConnectionRow | undefined> {
  return (await db.query<ConnectionRow>('SELECT * FROM mixpanel_connections WHERE id = $1', [id])).rows[0];
}

/**
 * Applies a patch. New credentials put a failed connection back to work at once; `enabled`
 * pauses or resumes; a new schedule counts from the last run; a new project or match key drops
 * the stored snapshots. A run in progress keeps the settings it started with.
 */
export async function updateConnection(db: Db, box: SecretBox, workspaceId: string, id: string, patch: ConnectionPatch): Promise<ConnectionRow | undefined> {
  return db.transaction(async (tx) => {
    const row = await getConnection(tx, workspaceId, id, true);
    if (!row) return undefined;
    let state = row.state;
    let nextRunAt: 'keep' | 'now' | 'schedule' = 'keep';
    const mode = patch.mode ?? row.mode;
    if (patch.credentials && state === 'failed') [state, nextRunAt] = ['active', 'now'];
    if (patch.enabled === false) state = 'paused';
    if (patch.enabled === true && state === 'paused') [state, nextRunAt] = ['active', row.next_run_at ? 'keep' : 'now'];
    if (mode === 'dynamic' && state === 'done') [state, nextRunAt] = ['active', 'now'];
    if ((patch.intervalSeconds !== undefined || patch.mode !== undefined) && mode === 'dynamic' && nextRunAt === 'keep' && row.last_run_at) nextRunAt = 'schedule';
    // A snapshot of another project, or of other identifiers, is no base for a diff.
    if ((patch.projectId ?? row.project_id) !== row.project_id || (patch.matchKey ?? row.match_key) !== row.match_key) {
      await tx.query('DELETE FROM pull_snapshots WHERE connection_id = $1', [row.id]);
    }
    const { rows } = await tx.query<ConnectionRow>(
      `UPDATE mixpanel_connections SET
          name = $3, project_id = $4, mixpanel_workspace_id = $5, region = $6, base_url = $7,
          credentials = coalesce($8, credentials), credential_hint = coalesce($9, credential_hint),
          cohort_ids = $10::text[], mode = $11, interval_seconds = $12, match_key = $13, query_budget = $14, state = $15,
          next_run_at = CASE $16 WHEN 'now' THEN now()
                                 WHEN 'schedule' THEN greatest(now(), last_run_at + make_interval(secs => $12::integer))
                                 ELSE next_run_at END,
          last_error = CASE WHEN $8::bytea IS NOT NULL THEN NULL ELSE last_error END,
          updated_at = now()
        WHERE id = $1 AND workspace_id = $2 RETURNING *`,
      [
        row.id,
        workspaceId,
        patch.name ?? row.name,
        patch.projectId ?? row.project_id,
        patch.mixpanelWorkspaceId !== undefined ? patch.mixpanelWorkspaceId : row.mixpanel_workspace_id,
        patch.region ?? row.region,
        patch.baseUrl !== undefined ? patch.baseUrl : row.base_url,
        patch.credentials ? box.sealJson(patch.credentials) : null,
        patch.credentials ? hint(patch.credentials.secret) : null,
        patch.cohortIds ?? row.cohort_ids,
        mode,
        patch.intervalSeconds ?? row.interval_seconds,
        patch.matchKey ?? row.match_key,
        patch.queryBudget ?? row.query_budget,
        state,
        nextRunAt,
      ],
    );
    return rows[0];
  });
}

export async function deleteConnection(db: Queryable, workspaceId: string, id: string): Promise<boolean> {
  if (!UUID.test(id)) return false;
  return (await db.query('DELETE FROM mixpanel_connections WHERE workspace_id = $1 AND id = $2', [workspaceId, id])).rowCount > 0;
}

/** "Run now": due at once, and back to work if it had failed or finished. A paused connection is refused. */
export async function requestRun(db: Queryable, workspaceId: string, id: string): Promise<ConnectionRow> {
  const row = await getConnection(db, workspaceId, id);
  if (!row) throw new UnknownPullConnection(id);
  if (row.state === 'paused') throw new PullConnectionPaused();
  const { rows } = await db.query<ConnectionRow>(
    `UPDATE mixpanel_connections SET next_run_at = now(), state = 'active', updated_at = now() WHERE id = $1 RETURNING *`,
    [row.id],
  );
  return rows[0]!;
}

/** Connections whose run is due and not held by a live lease, soonest first. */
export async function dueConnections(db: Queryable, limit: number): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT id FROM mixpanel_connections
      WHERE state IN ('active', 'failed') AND next_run_at <= now() AND (run_lease_until IS NULL OR run_lease_until < now())
      ORDER BY next_run_at LIMIT $1`,
    [limit],
  );
  return rows.map((r) => r.id);
}

/** A claimed run: the row, with `next_run_at` in exact microseconds to tell a later "run now" apart. */
export type ClaimedRun = ConnectionRow & { next_run_us: string | number | null };

/** Takes the run lease; undefined when another run holds it or the run is no longer due. */
export async function claimRun(db: Queryable, id: string, owner: string, leaseMs: number): Promise<ClaimedRun | undefined> {
  const { rows } = await db.query<ClaimedRun>(
    `UPDATE mixpanel_connections SET run_owner = $2, run_lease_until = now() + make_interval(secs => $3::float8 / 1000), run_started_at = now()
      WHERE id = $1 AND state IN ('active', 'failed') AND next_run_at <= now() AND (run_lease_until IS NULL OR run_lease_until < now())
      RETURNING *, (extract(epoch FROM next_run_at) * 1000000)::int8 AS next_run_us`,
    [id, owner, leaseMs],
  );
  return rows[0];
}

/** The run lease of a connection (src/leases): `run_owner` until `run_lease_until`. */
export const runLeases = leaseStore({ table: 'mixpanel_connections', key: 'id', owner: 'run_owner', until: 'run_lease_until' });

/** Renews the run leases `owner` holds among `ids`; answers those still held (the others were lost). */
export function renewLeases(db: Queryable, ids: readonly string[], owner: string, leaseMs: number): Promise<Set<string>> {
  return runLeases.renew(db, ids, owner, leaseMs);
}

/** Gives the lease back without touching the schedule: the run is still due and starts again from page 0. */
export async function releaseRun(db: Queryable, id: string, owner: string): Promise<void> {
  await runLeases.release(db, id, owner);
}

/** Connections with a run in progress under a live lease, and those due: what the processes share. */
export async function pullWorkload(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int8 AS n FROM mixpanel_connections
      WHERE (run_owner IS NOT NULL AND run_lease_until >= now()) OR (state IN ('active', 'failed') AND next_run_at <= now())`,
  );
  return rows[0]!.n;
}

const MOVED = '(extract(epoch FROM next_run_at) * 1000000)::int8 IS DISTINCT FROM $6::int8';

export interface RunEnd {
  state: ConnectionState;
  /** Milliseconds from now to the next run, or null for none. */
  nextRunInMs: number | null;
  error: string | null;
  succeeded: boolean;
}

/**
 * Records the end of a run and releases the lease. A "run now" that arrived during the run moved
 * `next_run_at` away from the claimed value; it is kept so that the requested run still happens.
 */
export async function finishRun(db: Queryable, claimed: ClaimedRun, owner: string, end: RunEnd): Promise<void> {
  await db.query(
    `UPDATE mixpanel_connections SET
        run_owner = NULL, run_lease_until = NULL, last_run_at = now(), last_error = $4,
        last_success_at = CASE WHEN $5::boolean THEN now() ELSE last_success_at END,
        state = CASE WHEN state = 'paused' THEN state
                     WHEN ${MOVED} THEN 'active' ELSE $3 END,
        next_run_at = CASE WHEN ${MOVED} THEN next_run_at
                           WHEN $7::float8 IS NULL THEN NULL
                           ELSE now() + make_interval(secs => $7::float8 / 1000) END,
        updated_at = now()
      WHERE id = $1 AND run_owner = $2`,
    [claimed.id, owner, end.state, end.error, end.succeeded, claimed.next_run_us, end.nextRunInMs],
  );
}
