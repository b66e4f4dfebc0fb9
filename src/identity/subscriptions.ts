/** Email subscription state and what a message needs of a profile to render and address it. */
import type { Queryable } from '../storage/index.js';
import { noteEmailUnsubscribe } from './email-status.js';

export type EmailSubscribeState = 'opted_in' | 'subscribed' | 'unsubscribed';

/** Sets a user's global email state; returns the state before, or undefined if no such user. */
export async function setEmailSubscribe(tx: Queryable, workspaceId: string, userId: string, state: EmailSubscribeState): Promise<{ before: string | null; email: string | null } | undefined> {
  const { rows } = await tx.query<{ before: string | null; email: string | null }>(
    `UPDATE users u SET email_subscribe = $3, updated_at = now()
       FROM (SELECT id, email_subscribe AS before FROM users WHERE workspace_id = $1 AND id = $2 FOR UPDATE) old
      WHERE u.id = old.id
      RETURNING old.before, u.email`,
    [workspaceId, userId, state],
  );
  if (rows[0]?.email) await noteEmailUnsubscribe(tx, workspaceId, rows[0].email, state === 'unsubscribed');
  return rows[0];
}

/** Each user's ordinal (the position segment bitmaps use), for the ids that exist in the workspace. */
export async function userOrdinals(tx: Queryable, workspaceId: string, userIds: string[]): Promise<Map<string, number>> {
  if (!userIds.length) return new Map();
  const { rows } = await tx.query<{ id: string; ordinal: string | number }>(`SELECT id, ordinal FROM identity_user_profiles WHERE workspace_id = $1 AND id = ANY($2::uuid[])`, [workspaceId, userIds]);
  return new Map(rows.map((r) => [r.id, Number(r.ordinal)]));
}
