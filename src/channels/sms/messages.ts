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

/**
 * Locks the message row, sets its latest status and notes `eventType` as reported; undefined if the
 * workspace has no such message. `firstReport`: whether that event type was not reported before.
 */
export async function updateSmsStatus(tx: Queryable, workspaceId: string, sid: string, status: string, eventType: string | undefined): Promise<{ message: SmsMessageRow; firstReport: boolean } | undefined> {
  const { rows } = await tx.query<SmsMessageRow & { reported: string[] }>(`SELECT * FROM sms_messages WHERE workspace_id = $1 AND message_sid = $2 FOR UPDATE`, [workspaceId, sid]);
  const row = rows[0];
  if (!row) return undefined;
  const firstReport = eventType !== undefined && !row.reported.includes(eventType);
  await tx.query(
    `UPDATE sms_messages SET status = $3, reported = CASE WHEN $4::text IS NULL THEN reported ELSE reported || $4::text END, updated_at = now() WHERE workspace_id = $1 AND message_sid = $2`,
    [workspaceId, sid, status, firstReport ? eventType : null],
  );
  return { message: row, firstReport };
}
