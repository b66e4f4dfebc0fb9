/**
 * Rejected cohort-sync attempts (docs/reference/cohort-import.md §8): a webhook push or a partner API
 * request refused for its credentials or its payload, recorded with when, the key prefix presented
 * (never more of the key) and why, so that a rotated key or a disabled partner is seen at once
 * instead of a sync that silently stops. Bounded: the newest `KEEP_PER_WORKSPACE` per workspace,
 * none older than `KEEP_DAYS`. Recording is best effort: it never changes the answer to the request.
 */
import { credentialPrefix } from '../http/index.js';
import type { Queryable } from '../storage/index.js';

export const KEEP_PER_WORKSPACE = 1000;
export const KEEP_DAYS = 30;

export type RejectionSource = 'partner_api' | 'webhook';

/**
 * Why an attempt was refused. Credential reasons come from the key the attempt presented:
 * `no_credentials` (none or malformed), `unknown_key` (no key has its prefix), `wrong_secret` (the
 * prefix of a key, the rest wrong), `key_rotated`, `key_invalidated`, `wrong_partner` (a key of
 * another partner), `partner_disabled`, `invalid_partner_key` (partner API: the partner's own key);
 * `invalid_payload` for a body that failed validation, and `unknown_cohort` (partner API: members for
 * a cohort that was never named).
 */
export type RejectionReason =
  | 'no_credentials'
  | 'unknown_key'
  | 'wrong_secret'
  | 'key_rotated'
  | 'key_invalidated'
  | 'wrong_partner'
  | 'partner_disabled'
  | 'invalid_partner_key'
  | 'invalid_payload'
  | 'unknown_cohort';

export interface Rejection {
  workspaceId: string | null;
  partner: string;
  source: RejectionSource;
  keyPrefix: string | null;
  reason: RejectionReason;
  status: number;
  message?: string | null;
}

/**
 * Who a refused data import key belongs to and why it failed, from its public prefix alone (the
 * part before the secret; `credentialPrefix`). `partner` is the partner the request was for.
 */
export async function classifyRefusedKey(
  db: Queryable,
  secret: string | undefined,
  partner: string,
  partnerEnabled: (workspaceId: string) => Promise<boolean>,
): Promise<{ workspaceId: string | null; keyPrefix: string | null; reason: RejectionReason }> {
  const prefix = credentialPrefix(secret);
  if (!secret || prefix === '*') return { workspaceId: null, keyPrefix: null, reason: secret ? 'unknown_key' : 'no_credentials' };
  const { rows } = await db.query<{ workspace_id: string; partner: string; state: string }>(
    `SELECT workspace_id, partner, state FROM data_import_keys WHERE prefix = $1 ORDER BY (state = 'active') DESC, created_at DESC LIMIT 1`,
    [prefix],
  );
  const key = rows[0];
  if (!key) return { workspaceId: null, keyPrefix: prefix, reason: 'unknown_key' };
  const base = { workspaceId: key.workspace_id, keyPrefix: prefix };
  if (key.state === 'rotated') return { ...base, reason: 'key_rotated' };
  if (key.state === 'invalidated') return { ...base, reason: 'key_invalidated' };
  if (key.partner !== partner) return { ...base, reason: 'wrong_partner' };
  if (!(await partnerEnabled(key.workspace_id))) return { ...base, reason: 'partner_disabled' };
  return { ...base, reason: 'wrong_secret' };
}

/** Records one rejection and trims that workspace's rows to the bounds. Never throws. */
export async function recordRejection(db: Queryable, r: Rejection, onError?: (err: unknown) => void): Promise<void> {
  try {
    await db.query(
      `INSERT INTO cohort_sync_rejections (workspace_id, partner, source, key_prefix, reason, status, message) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [r.workspaceId, r.partner, r.source, r.keyPrefix, r.reason, r.status, r.message?.slice(0, 500) ?? null],
    );
    await db.query(
      `DELETE FROM cohort_sync_rejections
        WHERE workspace_id IS NOT DISTINCT FROM $1::uuid
          AND (at < now() - make_interval(days => $2::int)
               OR id <= (SELECT id FROM cohort_sync_rejections WHERE workspace_id IS NOT DISTINCT FROM $1::uuid ORDER BY id DESC OFFSET $3::int LIMIT 1))`,
      [r.workspaceId, KEEP_DAYS, KEEP_PER_WORKSPACE],
    );
  } catch (err) {
    onError?.(err);
  }
}

export interface RejectionRow {
  id: number;
  /** `false` for an attempt that named no key of any workspace (listed to every workspace). */
  attributed: boolean;
  partner: string;
  source: RejectionSource;
  key_prefix: string | null;
  reason: RejectionReason;
  status: number;
  message: string | null;
  at: Date;
}

/**
 * A workspace's rejections, newest first, with those no workspace could be named for; `before`
 * (an id) pages back. Several processes may share the table; the bounds are per workspace.
 */
export async function listRejections(db: Queryable, workspaceId: string, opts: { limit?: number; before?: number; since?: Date } = {}): Promise<RejectionRow[]> {
  const { rows } = await db.query<RejectionRow & { workspace_id: string | null; id: string | number }>(
    `SELECT id, workspace_id, partner, source, key_prefix, reason, status, message, at FROM cohort_sync_rejections
      WHERE (workspace_id = $1 OR workspace_id IS NULL) AND ($3::bigint IS NULL OR id < $3::bigint) AND ($4::timestamptz IS NULL OR at >= $4::timestamptz)
      ORDER BY id DESC LIMIT $2`,
    [workspaceId, Math.min(opts.limit ?? 100, 1000), opts.before ?? null, opts.since ?? null],
  );
  return rows.map(({ workspace_id, ...r }) => ({ ...r, id: Number(r.id), attributed: workspace_id !== null }));
}
