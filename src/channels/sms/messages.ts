/** Messages handed to the provider: their SID names the send (and its event context) for callbacks. */
import type { Queryable } from '../../storage/index.js';

export interface SmsMessageRow {
  message_sid: string;
  workspace_id: string;
  send_key: string;
  to_number: string;
  from_number: string | null;
  context: Record<string, unknown>;
  status: string;
}

export async function recordSmsMessage(q: Queryable, m: Omit<SmsMessageRow, 'status'> & { status: string }): Promise<void> {
  await q.query(
    `INSERT INTO sms_messages (message_sid, workspace_id, send_key, to_number, from_number, context, status) VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (message_sid) DO NOTHING`,
    [m.message_sid, m.workspace_id, m.send_key, m.to_number, m.from_number, JSON.stringify(m.context), m.status],
  );
}

/** Locks the message row and sets its latest status; undefined if the workspace has no such message. */
export async function updateSmsStatus(tx: Queryable, workspaceId: string, sid: string, status: string): Promise<SmsMessageRow | undefined> {
  const { rows } = await tx.query<SmsMessageRow>(`SELECT * FROM sms_messages WHERE workspace_id = $1 AND message_sid = $2 FOR UPDATE`, [workspaceId, sid]);
  if (!rows[0]) return undefined;
  await tx.query(`UPDATE sms_messages SET status = $3, updated_at = now() WHERE workspace_id = $1 AND message_sid = $2`, [workspaceId, sid, status]);
  return rows[0];
}
