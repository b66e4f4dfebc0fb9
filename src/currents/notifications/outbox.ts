/**
 * The notification outbox: a notice is written in the same transaction as the health change that
 * caused it, so a crash can neither lose it nor send it twice for one incident. A worker drains it
 * (see sender.ts).
 */
import { queryPage, type Page, type PageRequest } from '../../storage/index.js';
import type { Queryable } from '../../storage/index.js';
import type { Notice } from './notices.js';

export interface OutboxMessage {
  id: number;
  connectorId: string | null;
  workspaceId: string;
  kind: string;
  recipient: string;
  subject: string;
  body: string;
  attempts: number;
}

/** `connectorId` is null for a notice about something else than a Current (a cohort sync). */
export async function enqueueNotice(tx: Queryable, to: { connectorId: string | null; workspaceId: string; recipient: string }, notice: Pick<Notice, 'subject' | 'body'> & { kind: string }): Promise<void> {
  await tx.query(
    `INSERT INTO currents_notifications (connector_id, workspace_id, kind, recipient, subject, body) VALUES ($1, $2, $3, $4, $5, $6)`,
    [to.connectorId, to.workspaceId, notice.kind, to.recipient, notice.subject, notice.body],
  );
}

/**
 * Claims due messages by pushing their next attempt 5 minutes out (a short transaction, so no lock
 * is held while mail is sent), hands each to `deliver`, then records the outcome. A crash between
 * sending and recording sends that message again after the claim lapses: at least once.
 */
export async function drainDue(db: Queryable, deliver: (m: OutboxMessage) => Promise<'smtp' | 'log'>, limit = 20): Promise<{ sent: number; failed: number }> {
  const { rows } = await db.query<{
    id: number;
    connector_id: string | null;
    workspace_id: string;
    kind: string;
    recipient: string;
    subject: string;
    body: string;
    attempts: number;
  }>(
    `UPDATE currents_notifications SET next_attempt_at = now() + interval '5 minutes'
      WHERE id IN (SELECT id FROM currents_notifications WHERE sent_at IS NULL AND next_attempt_at <= now()
                    ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED)
      RETURNING id, connector_id, workspace_id, kind, recipient, subject, body, attempts`,
    [limit],
  );
  let sent = 0;
  let failed = 0;
  for (const r of rows.sort((a, b) => a.id - b.id)) {
    const message: OutboxMessage = {
      id: r.id,
      connectorId: r.connector_id,
      workspaceId: r.workspace_id,
      kind: r.kind,
      recipient: r.recipient,
      subject: r.subject,
      body: r.body,
      attempts: r.attempts,
    };
    try {
      const via = await deliver(message);
      await db.query('UPDATE currents_notifications SET sent_at = now(), delivered_via = $2, attempts = attempts + 1 WHERE id = $1', [r.id, via]);
      sent++;
    } catch (err) {
      // Back off 1, 2, 4 … minutes, at most an hour, and keep the message.
      const delaySeconds = Math.min(3600, 60 * 2 ** Math.min(r.attempts, 6));
      await db.query(
        `UPDATE currents_notifications SET attempts = attempts + 1, last_error = $2,
                next_attempt_at = now() + make_interval(secs => $3) WHERE id = $1`,
        [r.id, String((err as Error).message ?? err).slice(0, 500), delaySeconds],
      );
      failed++;
    }
  }
  return { sent, failed };
}

export interface NotificationRecord {
  id: number;
  kind: string;
  recipient: string;
  subject: string;
  created_at: Date;
  sent_at: Date | null;
  delivered_via: string | null;
  attempts: number;
  last_error: string | null;
}

export async function listNotifications(db: Queryable, connectorId: string, limit = 50): Promise<NotificationRecord[]> {
  const { rows } = await db.query<NotificationRecord>(
    `SELECT id, kind, recipient, subject, created_at, sent_at, delivered_via, attempts, last_error
       FROM currents_notifications WHERE connector_id = $1 ORDER BY id DESC LIMIT $2`,
    [connectorId, limit],
  );
  return rows;
}

/** A page of a connector's notices, newest first (GET /admin/currents/{id}/notifications). */
export function listNotificationsPage(db: Queryable, connectorId: string, page: PageRequest): Promise<Page<NotificationRecord>> {
  const select = `SELECT id, kind, recipient, subject, created_at, sent_at, delivered_via, attempts, last_error
                    FROM currents_notifications WHERE connector_id = $1`;
  return queryPage<NotificationRecord>(db, select, [connectorId], [{ expr: 'id', desc: true }], page, (r) => [Number(r.id)]);
}
