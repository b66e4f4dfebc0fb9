/**
 * User-state SQL for the messaging API (docs/reference/messaging-api.md): global email state by
 * address, when addresses unsubscribed, and subscription group states. Identity owns SQL on users.
 */
import type { Queryable } from '../storage/index.js';

/** Records (or clears) when an address's global email state became unsubscribed. */
export async function noteEmailUnsubscribe(tx: Queryable, workspaceId: string, email: string, unsubscribed: boolean): Promise<void> {
  if (unsubscribed) {
    await tx.query(`INSERT INTO email_unsubscribes (workspace_id, email) VALUES ($1, $2) ON CONFLICT (workspace_id, email) DO NOTHING`, [workspaceId, email.toLowerCase()]);
  } else {
    await tx.query(`DELETE FROM email_unsubscribes WHERE workspace_id = $1 AND email = $2`, [workspaceId, email.toLowerCase()]);
  }
}

/** Sets the global email state of every holder of an address; returns each holder's state before. */
export async function setEmailStateByAddress(tx: Queryable, workspaceId: string, email: string, state: 'opted_in' | 'subscribed' | 'unsubscribed'): Promise<Array<{ id: string; external_id: string | null; time_zone: string | null; before: string | null }>> {
  const { rows } = await tx.query<{ id: string; external_id: string | null; time_zone: string | null; before: string | null }>(
    `UPDATE users u SET email_subscribe = $3, updated_at = now()
       FROM (SELECT id, email_subscribe AS before FROM users WHERE workspace_id = $1 AND lower(email) = lower($2) FOR UPDATE) old
      WHERE u.id = old.id
      RETURNING u.id, u.external_id, u.time_zone, old.before`,
    [workspaceId, email, state],
  );
  await noteEmailUnsubscribe(tx, workspaceId, email, state === 'unsubscribed');
  return rows;
}

export interface DatedEmail {
  email: string;
  at: Date;
}

/** Addresses from a table of dated addresses: one address, or a date range; a page, newest first unless asc. */
export async function datedEmails(
  tx: Queryable,
  table: 'email_unsubscribes' | 'hard_bounces',
  workspaceId: string,
  q: { email?: string; start?: Date; end?: Date; limit: number; offset: number; asc?: boolean },
): Promise<DatedEmail[]> {
  const source =
    table === 'email_unsubscribes'
      ? `SELECT email, unsubscribed_at AS at FROM email_unsubscribes WHERE workspace_id = $1`
      : `SELECT email, hard_bounced_at AS at FROM email_address_flags WHERE workspace_id = $1 AND hard_bounced_at IS NOT NULL`;
  const { rows } = await tx.query<DatedEmail>(
    `SELECT email, at FROM (${source}) s
      WHERE ($2::text IS NULL OR email = lower($2))
        AND ($2::text IS NOT NULL OR (($3::timestamptz IS NULL OR at >= $3) AND ($4::timestamptz IS NULL OR at < $4)))
      ORDER BY at ${q.asc ? 'ASC' : 'DESC'}, email LIMIT $5 OFFSET $6`,
    [workspaceId, q.email ?? null, q.start ?? null, q.end ?? null, q.limit, q.offset],
  );
  return rows;
}

/** Clears an address's hard-bounce or spam flag; returns whether it was set. */
export async function clearEmailFlag(tx: Queryable, workspaceId: string, email: string, flag: 'hard_bounced_at' | 'spam_reported_at'): Promise<boolean> {
  const { rows } = await tx.query(`UPDATE email_address_flags SET ${flag} = NULL WHERE workspace_id = $1 AND email = lower($2) AND ${flag} IS NOT NULL RETURNING email`, [workspaceId, email]);
  return rows.length > 0;
}

export type GroupState = 'subscribed' | 'unsubscribed';

/** Sets users' state in a subscription group; returns the users whose state changed. */
export async function setGroupState(tx: Queryable, workspaceId: string, groupId: string, userIds: string[], state: GroupState): Promise<string[]> {
  if (!userIds.length) return [];
  const { rows } = await tx.query<{ user_id: string }>(
    `INSERT INTO subscription_group_states (workspace_id, group_id, user_id, state)
     SELECT $1, $2, id, $4 FROM unnest($3::uuid[]) AS id
     ON CONFLICT (workspace_id, group_id, user_id) DO UPDATE SET state = EXCLUDED.state, updated_at = now()
       WHERE subscription_group_states.state <> EXCLUDED.state
     RETURNING user_id`,
    [workspaceId, groupId, userIds, state],
  );
  return rows.map((r) => r.user_id);
}

export async function groupStates(tx: Queryable, workspaceId: string, groupId: string, userIds: string[]): Promise<Map<string, GroupState>> {
  if (!userIds.length) return new Map();
  const { rows } = await tx.query<{ user_id: string; state: GroupState }>(
    `SELECT user_id, state FROM subscription_group_states WHERE workspace_id = $1 AND group_id = $2 AND user_id = ANY($3::uuid[])`,
    [workspaceId, groupId, userIds],
  );
  return new Map(rows.map((r) => [r.user_id, r.state]));
}

/** The ids of the users holding each address (lower-cased keys). */
export async function userIdsByEmails(tx: Queryable, workspaceId: string, emails: string[]): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  if (!emails.length) return out;
  const { rows } = await tx.query<{ id: string; email: string }>(`SELECT id, lower(email) AS email FROM users WHERE workspace_id = $1 AND lower(email) = ANY($2::text[])`, [workspaceId, emails.map((e) => e.toLowerCase())]);
  for (const r of rows) out.set(r.email, [...(out.get(r.email) ?? []), r.id]);
  return out;
}
