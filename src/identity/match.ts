/**
 * Cohort matching (docs/reference/cohort-import.md §2): external ids, aliases, and device ids of anonymous users
 * only. Batch lookups that never create a user. A device id whose user has an external id does
 * not match: such a user must be named by external id or alias.
 */
import type { Queryable } from '../storage/index.js';
import type { UserAlias } from './types.js';

export type Unmatched = 'not_found' | 'device_id_of_identified_user';
export type Match = { userId: string } | { unmatched: Unmatched };

/**
 * `lock`: also take FOR KEY SHARE on the users found, in id order (step 3 of the lock order,
 * locks.ts), until the transaction ends, so that none of them can be deleted or merged away before
 * the caller's writes that refer to them commit (the lock a foreign key's check would take, in one
 * statement). Only external ids lock here: a caller matching several kinds locks their union at
 * once (lockUsersKeyShare), which keeps one order across the kinds.
 */
export interface MatchOptions {
  lock?: boolean;
}

const MAX_EXTERNAL_ID_BYTES = 512;

export function aliasKey(a: UserAlias): string {
  return `${a.alias_label}\u0000${a.alias_name}`;
}

/** Whether an external id can name a user at all (longer or empty ones are never stored). */
export function isMatchableExternalId(id: string): boolean {
  return id.length > 0 && (id.length * 3 <= MAX_EXTERNAL_ID_BYTES || Buffer.byteLength(id) <= MAX_EXTERNAL_ID_BYTES);
}

/** external id → user id, for the ids that name a user. */
export async function matchExternalIds(tx: Queryable, workspaceId: string, ids: Iterable<string>, opts: MatchOptions = {}): Promise<Map<string, string>> {
  const wanted = [...new Set(ids)].filter(isMatchableExternalId);
  const out = new Map<string, string>();
  if (!wanted.length) return out;
  if (opts.lock) {
    // The ids travel as one JSON array (cheaper to write and to read than a text[] literal); the
    // answer is one JSON value. The cohort import's hot path: one round trip for a whole group.
    const { rows } = await tx.query<{ found: Array<[string, string]> | null }>(
      `WITH f AS (
         SELECT u.external_id, u.id FROM users u
          WHERE u.workspace_id = $1 AND u.external_id = ANY(ARRAY(SELECT json_array_elements_text($2::json)))
          ORDER BY u.id FOR KEY SHARE)
       SELECT json_agg(json_build_array(f.external_id, f.id)) AS found FROM f`,
      [workspaceId, JSON.stringify(wanted)],
    );
    for (const [externalId, userId] of rows[0]?.found ?? []) out.set(externalId, userId);
    return out;
  }
  const { rows } = await tx.query<{ id: string; external_id: string }>('SELECT id, external_id FROM users WHERE workspace_id = $1 AND external_id = ANY($2::text[])', [
    workspaceId,
    wanted,
  ]);
  for (const r of rows) out.set(r.external_id, r.id);
  return out;
}

/** device id → match: the anonymous user holding it, or why it does not match. */
export async function matchDeviceIds(tx: Queryable, workspaceId: string, ids: Iterable<string>): Promise<Map<string, Match>> {
  const wanted = [...new Set(ids)].filter((id) => id.length > 0 && id.length <= 1024);
  const out = new Map<string, Match>();
  if (!wanted.length) return out;
  const { rows } = await tx.query<{ device_id: string; user_id: string; identified: boolean }>(
    `SELECT d.device_id, d.user_id, u.external_id IS NOT NULL AS identified
       FROM user_devices d JOIN users u ON u.id = d.user_id
      WHERE d.workspace_id = $1 AND d.device_id = ANY($2::text[])`,
    [workspaceId, wanted],
  );
  for (const r of rows) out.set(r.device_id, r.identified ? { unmatched: 'device_id_of_identified_user' } : { userId: r.user_id });
  return out;
}

/** alias key (see aliasKey) → user id. */
export async function matchAliases(tx: Queryable, workspaceId: string, aliases: UserAlias[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const wanted = aliases.filter((a) => a.alias_name.length > 0 && a.alias_label.length > 0 && a.alias_name.length <= 255 && a.alias_label.length <= 255);
  if (!wanted.length) return out;
  const { rows } = await tx.query<{ alias_label: string; alias_name: string; user_id: string }>(
    `SELECT a.alias_label, a.alias_name, a.user_id
       FROM unnest($2::text[], $3::text[]) AS q(label, name)
       JOIN user_aliases a ON a.workspace_id = $1 AND a.alias_label = q.label AND a.alias_name = q.name`,
    [workspaceId, wanted.map((a) => a.alias_label), wanted.map((a) => a.alias_name)],
  );
  for (const r of rows) out.set(aliasKey(r), r.user_id);
  return out;
}

/**
 * lower-cased, trimmed email → user id, by Braze's rule for a shared email: the most recently
 * updated identified user, else the most recently updated user.
 */
export async function matchEmails(tx: Queryable, workspaceId: string, emails: Iterable<string>): Promise<Map<string, string>> {
  const wanted = [...new Set([...emails].map((e) => e.trim().toLowerCase()))].filter((e) => e.length > 0 && e.length <= 255);
  const out = new Map<string, string>();
  if (!wanted.length) return out;
  const { rows } = await tx.query<{ email: string; id: string }>(
    `SELECT DISTINCT ON (lower(email)) lower(email) AS email, id FROM users
      WHERE workspace_id = $1 AND lower(email) = ANY($2::text[])
      ORDER BY lower(email), (external_id IS NOT NULL) DESC, updated_at DESC, id`,
    [workspaceId, wanted],
  );
  for (const r of rows) out.set(r.email, r.id);
  return out;
}
