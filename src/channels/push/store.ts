/** SQL of web push: subscriptions (one per endpoint) and the messages handed to push services. */
import { randomUUID } from 'node:crypto';
import type { Queryable } from '../../storage/index.js';

export interface PushSubscriptionRow {
  id: string;
  workspace_id: string;
  sdk_app_id: string;
  device_id: string;
  endpoint: string;
  p256dh: string;
  auth: string;
}

const COLUMNS = 'id, workspace_id, sdk_app_id, device_id, endpoint, p256dh, auth';

/** Stores a subscription; the same endpoint registered again takes the new keys and device. */
export async function saveSubscription(q: Queryable, s: Omit<PushSubscriptionRow, 'id'>): Promise<{ row: PushSubscriptionRow; created: boolean }> {
  const { rows } = await q.query<PushSubscriptionRow & { created: boolean }>(
    `INSERT INTO push_subscriptions (id, workspace_id, sdk_app_id, device_id, endpoint, p256dh, auth) VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (workspace_id, endpoint) DO UPDATE SET sdk_app_id = EXCLUDED.sdk_app_id, device_id = EXCLUDED.device_id, p256dh = EXCLUDED.p256dh, auth = EXCLUDED.auth, updated_at = now()
     RETURNING ${COLUMNS}, (xmax = 0) AS created`,
    [randomUUID(), s.workspace_id, s.sdk_app_id, s.device_id, s.endpoint, s.p256dh, s.auth],
  );
  const { created, ...row } = rows[0]!;
  return { row, created };
}

/** Removes a subscription by endpoint (the browser unsubscribed); whether there was one. */
export async function deleteSubscriptionByEndpoint(q: Queryable, workspaceId: string, endpoint: string): Promise<boolean> {
  const { rows } = await q.query('DELETE FROM push_subscriptions WHERE workspace_id = $1 AND endpoint = $2 RETURNING id', [workspaceId, endpoint]);
  return rows.length > 0;
}

export async function deleteSubscription(q: Queryable, workspaceId: string, id: string): Promise<void> {
  await q.query('DELETE FROM push_subscriptions WHERE workspace_id = $1 AND id = $2', [workspaceId, id]);
}

/** The subscriptions of these devices (a user's devices), oldest first, at most `limit`. */
export async function subscriptionsOfDevices(q: Queryable, workspaceId: string, deviceIds: string[], limit = 20): Promise<PushSubscriptionRow[]> {
  if (deviceIds.length === 0) return [];
  const { rows } = await q.query<PushSubscriptionRow>(
    `SELECT ${COLUMNS} FROM push_subscriptions WHERE workspace_id = $1 AND device_id = ANY($2::text[]) ORDER BY created_at, id LIMIT $3`,
    [workspaceId, deviceIds, limit],
  );
  return rows;
}

export interface PushMessageRow {
  send_key: string;
  subscription_id: string;
  workspace_id: string;
  sdk_app_id: string;
  device_id: string;
  context: Record<string, unknown>;
  state: 'pending' | 'sent' | 'bounced' | 'failed';
  opened_at: Date | null;
}

/** The message rows of a send: which subscriptions were already served by an earlier attempt. */
export async function messagesOfSend(q: Queryable, sendKey: string): Promise<Map<string, PushMessageRow>> {
  const { rows } = await q.query<PushMessageRow>('SELECT * FROM push_messages WHERE send_key = $1', [sendKey]);
  return new Map(rows.map((r) => [r.subscription_id, r]));
}

/** Written before the push service is called, so an Open that comes back finds its context. */
export async function preparePushMessage(q: Queryable, m: Omit<PushMessageRow, 'state' | 'opened_at'>): Promise<void> {
  await q.query(
    `INSERT INTO push_messages (send_key, subscription_id, workspace_id, sdk_app_id, device_id, context) VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (send_key, subscription_id) DO NOTHING`,
    [m.send_key, m.subscription_id, m.workspace_id, m.sdk_app_id, m.device_id, JSON.stringify(m.context)],
  );
}

/** Records what the push service answered; `gone` (404/410) also removes the subscription. */
export async function markPushMessage(q: Queryable, sendKey: string, subscriptionId: string, state: 'sent' | 'bounced' | 'failed', gone?: { workspace_id: string; id: string }): Promise<void> {
  await q.query('UPDATE push_messages SET state = $3 WHERE send_key = $1 AND subscription_id = $2', [sendKey, subscriptionId, state]);
  if (gone) await deleteSubscription(q, gone.workspace_id, gone.id);
}

/**
 * Marks the message opened; the row if this is its first open, undefined if it was opened before
 * or there is no such message in the workspace.
 */
export async function markOpened(q: Queryable, workspaceId: string, sendKey: string, subscriptionId: string): Promise<PushMessageRow | undefined> {
  const { rows } = await q.query<PushMessageRow>(
    `UPDATE push_messages SET opened_at = now() WHERE workspace_id = $1 AND send_key = $2 AND subscription_id = $3 AND opened_at IS NULL RETURNING *`,
    [workspaceId, sendKey, subscriptionId],
  );
  return rows[0];
}
