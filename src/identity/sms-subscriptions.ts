/**
 * SMS subscription state and matching users by phone number (docs/reference/sms.md §4). A user with
 * no row is subscribed; STOP-style keywords unsubscribe, START-style keywords subscribe again.
 */
import type { Queryable } from '../storage/index.js';
import type { UserRef } from './types.js';

export type SmsSubscribeState = 'subscribed' | 'unsubscribed';

/** Digits only: '+1 (555) 010-0000' and '+15550100000' name the same number. */
export function phoneDigits(phone: string): string {
  return phone.replace(/[^0-9]/g, '');
}

/** Users of the workspace whose phone attribute is this number (compared digits only). */
export async function usersByPhone(q: Queryable, workspaceId: string, phone: string): Promise<UserRef[]> {
  const digits = phoneDigits(phone);
  if (!digits) return [];
  const { rows } = await q.query<UserRef>(
    `SELECT id, workspace_id, external_id, time_zone FROM users
      WHERE workspace_id = $1 AND phone IS NOT NULL AND regexp_replace(phone, '[^0-9]', '', 'g') = $2
      ORDER BY id LIMIT 100`,
    [workspaceId, digits],
  );
  return rows;
}

export async function smsSubscribeState(q: Queryable, workspaceId: string, userId: string): Promise<SmsSubscribeState> {
  const { rows } = await q.query<{ state: SmsSubscribeState }>(`SELECT state FROM sms_subscriptions WHERE workspace_id = $1 AND user_id = $2`, [workspaceId, userId]);
  return rows[0]?.state ?? 'subscribed';
}

/** Sets a user's SMS state; returns the state before. */
export async function setSmsSubscribe(tx: Queryable, workspaceId: string, userId: string, state: SmsSubscribeState): Promise<SmsSubscribeState> {
  const before = await smsSubscribeState(tx, workspaceId, userId);
  await tx.query(
    `INSERT INTO sms_subscriptions (workspace_id, user_id, state) VALUES ($1, $2, $3)
     ON CONFLICT (workspace_id, user_id) DO UPDATE SET state = EXCLUDED.state, updated_at = now()`,
    [workspaceId, userId, state],
  );
  return before;
}
