/** Messages handed to the provider: their SID names the send (and its event context) for callbacks. */
import type { Queryable } from '../../storage/index.js';

export interface SmsMessageRow {
  message_sid: string | null;
  workspace_id: string;
  send_key: string;
  to_number: string;
  from_number: string | null;
  context: Record<string, unknown>;
  status: string;
}

/** Written before the provider is called: the send's message and what its events carry. */
export async function prepareSmsMessage(q: Queryable, m: Omit<SmsMessageRow, 'status' | 'message_sid'>): Promise<void> {
  await q.query(
    `INSERT INTO sms_messages (send_key, workspace_id, to_number, from_number, context) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (send_key) DO UPDATE SET to_number = EXCLUDED.to_number, from_number = EXCLUDED.from_number, context = EXCLUDED.context, updated_at = now()`,
    [m.send_key, m.workspace_id, m.to_number, m.from_number, JSON.stringify(m.context)],
  );
}

/** The provider accepted it: its SID (kept if a callback already named it) and sender. */
export async function acceptSmsMessage(q: Queryable, sendKey: string, sid: string, from: string | null): Promise<void> {
  await q.query(`UPDATE sms_messages SET message_sid = coalesce(message_sid, $2), from_number = coalesce($3, from_number), updated_at = now() WHERE send_key = $1`, [sendKey, sid, from]);
}

/**
 * Locks the message row, sets its latest status and notes `eventType` as reported; undefined if the
 * workspace has no such message. `firstReport`: whether that event type was not reported before.
 */
export async function updateSmsStatus(tx: Queryable, workspaceId: string, sid: string, sendKey: string | undefined, status: string, eventType: string | undefined): Promise<{ message: SmsMessageRow; firstReport: boolean } | undefined> {
  const { rows } = await tx.query<SmsMessageRow & { reported: string[] }>(
    `SELECT * FROM sms_messages WHERE workspace_id = $1 AND (message_sid = $2 OR (message_sid IS NULL AND send_key = $3::uuid)) ORDER BY message_sid NULLS LAST LIMIT 1 FOR UPDATE`,
    [workspaceId, sid, sendKey ?? null],
  );
  const row = rows[0];
  if (!row) return undefined;
  const firstReport = eventType !== undefined && !row.reported.includes(eventType);
  await tx.query(
    `UPDATE sms_messages SET message_sid = coalesce(message_sid, $2), status = $3, reported = CASE WHEN $4::text IS NULL THEN reported ELSE reported || $4::text END, updated_at = now() WHERE send_key = $1`,
    [row.send_key, sid, status, firstReport ? eventType : null],
  );
  return { message: row, firstReport };
}
