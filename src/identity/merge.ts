/**
 * Merging an anonymous or alias profile (the source S) into an identified one (the target T),
 * as `/users/identify` and the SDK's change of user do (docs/reference/rest-api.md §3, rule 4). Other
 * capabilities that hold per-user state (cohort memberships) register a `MergeParticipant`
 * so that their rows move too; identity knows nothing of them.
 */
import type { Queryable } from '../storage/index.js';
import { STANDARD_FIELDS, type User } from './types.js';

export type MergeBehavior = 'merge' | 'none';

export interface MergeContext {
  workspaceId: string;
  sourceId: string;
  targetId: string;
}

export type MergeParticipant = (tx: Queryable, ctx: MergeContext) => Promise<void>;

export type MergeOutcome = { ok: true } | { ok: false; error: string };

/** Both users must be locked by the caller. Deletes the source on success. */
export async function mergeUsers(
  tx: Queryable,
  source: User,
  target: User,
  behavior: MergeBehavior,
  participants: readonly MergeParticipant[] = [],
): Promise<MergeOutcome> {
  const conflict = await tx.query<{ alias_label: string }>(
    `SELECT s.alias_label FROM user_aliases s JOIN user_aliases t ON t.user_id = $2 AND t.alias_label = s.alias_label
      WHERE s.user_id = $1 ORDER BY s.alias_label LIMIT 1`,
    [source.id, target.id],
  );
  if (conflict.rows[0]) return { ok: false, error: `alias label conflict ${conflict.rows[0].alias_label}` };

  await tx.query('UPDATE user_aliases SET user_id = $2 WHERE user_id = $1', [source.id, target.id]);
  await tx.query('UPDATE user_devices SET user_id = $2, updated_at = now() WHERE user_id = $1', [source.id, target.id]);
  for (const participant of participants) {
    await participant(tx, { workspaceId: target.workspace_id, sourceId: source.id, targetId: target.id });
  }
  if (behavior === 'merge') {
    const fill = STANDARD_FIELDS.map((f) => `${f} = coalesce(t.${f}, s.${f})`).join(', ');
    await tx.query(
      `UPDATE users t SET ${fill},
          custom_attributes = s.custom_attributes || t.custom_attributes,
          session_count = t.session_count + s.session_count,
          first_session_at = least(t.first_session_at, s.first_session_at),
          last_session_at = greatest(t.last_session_at, s.last_session_at),
          updated_at = now()
         FROM users s WHERE s.id = $1 AND t.id = $2`,
      [source.id, target.id],
    );
    await tx.query(
      `INSERT INTO user_event_stats (user_id, kind, name, day, count, first_at, last_at)
       SELECT $2, kind, name, day, count, first_at, last_at FROM user_event_stats WHERE user_id = $1
        ORDER BY kind, name, day
       ON CONFLICT (user_id, kind, name, day) DO UPDATE SET
         count = user_event_stats.count + EXCLUDED.count,
         first_at = least(user_event_stats.first_at, EXCLUDED.first_at),
         last_at = greatest(user_event_stats.last_at, EXCLUDED.last_at)`,
      [source.id, target.id],
    );
  } else {
    await tx.query('UPDATE users SET updated_at = now() WHERE id = $1', [target.id]);
  }
  await tx.query('DELETE FROM users WHERE id = $1', [source.id]);
  return { ok: true };
}

/** Rule 3: the profile itself gets the external id; it stays the same user and keeps began_anonymous. */
export async function assignExternalId(tx: Queryable, userId: string, externalId: string): Promise<void> {
  await tx.query('UPDATE users SET external_id = $2, updated_at = now() WHERE id = $1', [userId, externalId]);
}

/** Removes users (a profile made for an alias that another transaction created meanwhile). */
export async function deleteUsers(tx: Queryable, userIds: string[]): Promise<void> {
  if (userIds.length) await tx.query('DELETE FROM users WHERE id = ANY($1::uuid[])', [userIds]);
}
