/**
 * Cohort-sync incidents are loud (docs/reference/cohort-import.md §8.3): a dynamic sync flagged
 * stale (`staleSyncs`) or a pull connection in the `failed` state opens an incident; the contact
 * (RIVULET_COHORT_SYNC_CONTACT) gets one notice when it opens and one when it ends, through the
 * Currents notification outbox (mailed over SMTP, or logged without SMTP_URL). Checked every
 * minute by each process; the incident row's primary key makes one of them send, never two.
 */
import { enqueueNotice } from '../currents/index.js';
import type { Db, Queryable } from '../storage/index.js';
import { staleSyncs } from './sync-history.js';

export type IncidentKind = 'stale_pull_connection' | 'stale_webhook_cohort' | 'failed_pull_connection';

export interface Incident {
  workspaceId: string;
  kind: IncidentKind;
  targetId: string;
  name: string;
  /** What is wrong, for the notice. */
  detail: string;
}

/** The incidents open now, across workspaces. */
export async function currentIncidents(db: Queryable): Promise<Incident[]> {
  const out: Incident[] = [];
  for (const s of await staleSyncs(db)) {
    const last = s.last_success_at ? `its last good sync was at ${new Date(s.last_success_at).toISOString()}` : 'it has never synced successfully';
    out.push({
      workspaceId: s.workspace_id,
      kind: s.kind === 'pull_connection' ? 'stale_pull_connection' : 'stale_webhook_cohort',
      targetId: s.id,
      name: s.name,
      detail: `${last}, more than two sync intervals (${Math.round(s.interval_seconds / 60)} minutes each) ago`,
    });
  }
  const { rows } = await db.query<{ id: string; workspace_id: string; name: string; last_error: string | null }>(
    `SELECT id::text AS id, workspace_id::text AS workspace_id, name, last_error FROM mixpanel_connections WHERE state = 'failed' ORDER BY id`,
  );
  for (const r of rows) {
    out.push({ workspaceId: r.workspace_id, kind: 'failed_pull_connection', targetId: r.id, name: r.name, detail: `it failed: ${r.last_error ?? 'unknown error'}` });
  }
  return out;
}

const WHAT: Record<IncidentKind, string> = {
  stale_pull_connection: 'Mixpanel pull connection',
  stale_webhook_cohort: 'Mixpanel webhook cohort sync',
  failed_pull_connection: 'Mixpanel pull connection',
};

export function openedNotice(i: Incident, at: Date) {
  const failed = i.kind === 'failed_pull_connection';
  return {
    kind: `cohort_sync_${failed ? 'failed' : 'stale'}`,
    subject: `[Rivulet] ${WHAT[i.kind]} "${i.name}" is ${failed ? 'failing' : 'stale'}`,
    body:
      `The ${WHAT[i.kind]} "${i.name}" (${i.targetId}) needs attention as of ${at.toISOString()}: ${i.detail}.\n\n` +
      (failed
        ? 'Check its credentials and project on the Mixpanel page of the dashboard, then resume it.\n'
        : 'Check the Mixpanel page of the dashboard: rejected sync attempts (e.g. a rotated webhook key) are listed there.\n') +
      'You will get one more message when it syncs again.\n',
  };
}

export function closedNotice(i: { kind: IncidentKind; targetId: string; name: string }, at: Date) {
  return {
    kind: 'cohort_sync_recovered',
    subject: `[Rivulet] ${WHAT[i.kind]} "${i.name}" is syncing again`,
    body: `The ${WHAT[i.kind]} "${i.name}" (${i.targetId}) is healthy again as of ${at.toISOString()}.\n`,
  };
}

const keyOf = (i: { workspaceId: string; kind: string; targetId: string }) => `${i.workspaceId}\u0000${i.kind}\u0000${i.targetId}`;

/**
 * Opens incidents that started and closes those that ended since the last check, each with its
 * notice to `contact` (none when unset). Returns what changed.
 */
export async function checkSyncIncidents(db: Db, contact: string | undefined, now = new Date()): Promise<{ opened: Incident[]; closed: string[] }> {
  const current = await currentIncidents(db);
  const opened: Incident[] = [];
  for (const i of current) {
    const inserted = await db.transaction(async (tx) => {
      const { rowCount } = await tx.query(
        `INSERT INTO cohort_sync_incidents (workspace_id, kind, target_id, name) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
        [i.workspaceId, i.kind, i.targetId, i.name],
      );
      if (rowCount !== 1) return false;
      if (contact) await enqueueNotice(tx, { connectorId: null, workspaceId: i.workspaceId, recipient: contact }, openedNotice(i, now));
      return true;
    });
    if (inserted) opened.push(i);
  }
  const open = new Set(current.map(keyOf));
  const { rows } = await db.query<{ workspace_id: string; kind: IncidentKind; target_id: string; name: string }>(
    `SELECT workspace_id::text AS workspace_id, kind, target_id, name FROM cohort_sync_incidents`,
  );
  const closed: string[] = [];
  for (const r of rows) {
    if (open.has(keyOf({ workspaceId: r.workspace_id, kind: r.kind, targetId: r.target_id }))) continue;
    const ended = await db.transaction(async (tx) => {
      const { rowCount } = await tx.query(`DELETE FROM cohort_sync_incidents WHERE workspace_id = $1 AND kind = $2 AND target_id = $3`, [r.workspace_id, r.kind, r.target_id]);
      if (rowCount !== 1) return false;
      if (contact) await enqueueNotice(tx, { connectorId: null, workspaceId: r.workspace_id, recipient: contact }, closedNotice({ kind: r.kind, targetId: r.target_id, name: r.name }, now));
      return true;
    });
    if (ended) closed.push(r.target_id);
  }
  return { opened, closed };
}
