/**
 * The dead-letter store (docs/reference/currents.md §3): one row per event Mixpanel did not take, with the reason,
 * Mixpanel's `field`/`message`, and the mapped payload minus the project token. Writing is an
 * upsert on (connector, event id), so a batch re-sent after a crash never doubles a row. Operators
 * list them and re-send them; a re-send keeps the `$insert_id`.
 */
import type { MixpanelEvent } from '../mixpanel/mapping.js';
import type { Queryable } from '../../storage/index.js';

export type DeadLetterOrigin = 'live' | 'backfill';

export interface DeadLetterInput {
  eventId: string;
  eventType: string;
  insertId: string;
  /** `invalid_for_mixpanel: <rule>`, `failed_record`, `too_large` or `rejected: HTTP <status>`. */
  reason: string;
  field: string | null;
  message: string | null;
  event: MixpanelEvent;
}

export interface DeadLetter {
  id: number;
  origin: DeadLetterOrigin;
  event_id: string;
  insert_id: string;
  event_type: string;
  reason: string;
  field: string | null;
  message: string | null;
  payload: MixpanelEvent;
  attempts: number;
  first_attempt_at: Date;
  last_attempt_at: Date;
  state: 'dead' | 'resent';
  resent_at: Date | null;
}

/** The payload as stored: the project token is a credential and stays out of this table. */
export function storedPayload(event: MixpanelEvent): MixpanelEvent {
  const { token: _token, ...properties } = event.properties;
  return { event: event.event, properties };
}

/** The payload as re-sent: the connector's current token put back. */
export function resendPayload(stored: MixpanelEvent, token: string): MixpanelEvent {
  const { distinct_id, $insert_id, time, ...rest } = stored.properties;
  return { event: stored.event, properties: { distinct_id, $insert_id, time, token, ...rest } };
}

export async function recordDeadLetters(db: Queryable, connectorId: string, origin: DeadLetterOrigin, letters: readonly DeadLetterInput[]): Promise<void> {
  if (letters.length === 0) return;
  const rows = letters.map((l) => ({
    event_id: l.eventId,
    insert_id: l.insertId,
    event_type: l.eventType,
    reason: l.reason,
    field: l.field,
    message: l.message === null ? null : l.message.slice(0, 2000),
    payload: storedPayload(l.event),
  }));
  await db.query(
    `INSERT INTO currents_dead_letters (connector_id, origin, event_id, insert_id, event_type, reason, field, message, payload)
     SELECT $1, $2, r.event_id, r.insert_id, r.event_type, r.reason, r.field, r.message, r.payload
       FROM jsonb_to_recordset($3::jsonb) AS r(event_id text, insert_id text, event_type text, reason text, field text, message text, payload jsonb)
     ON CONFLICT (connector_id, event_id) DO UPDATE SET
       reason = EXCLUDED.reason, field = EXCLUDED.field, message = EXCLUDED.message, payload = EXCLUDED.payload,
       attempts = currents_dead_letters.attempts + 1, last_attempt_at = now(), state = 'dead', resent_at = NULL`,
    [connectorId, origin, JSON.stringify(rows)],
  );
}

export interface DeadLetterQuery {
  state?: 'dead' | 'resent' | undefined;
  reason?: string | undefined;
  /** Only rows with a larger id (paging). */
  after?: number | undefined;
  limit?: number | undefined;
}

export async function listDeadLetters(db: Queryable, connectorId: string, q: DeadLetterQuery = {}): Promise<DeadLetter[]> {
  const { rows } = await db.query<DeadLetter>(
    `SELECT id, origin, event_id, insert_id, event_type, reason, field, message, payload, attempts, first_attempt_at,
            last_attempt_at, state, resent_at
       FROM currents_dead_letters
      WHERE connector_id = $1 AND ($2::text IS NULL OR state = $2) AND ($3::text IS NULL OR reason = $3) AND id > $4
      ORDER BY id LIMIT $5`,
    [connectorId, q.state ?? null, q.reason ?? null, q.after ?? 0, Math.min(q.limit ?? 100, 1000)],
  );
  return rows;
}

export async function deadLettersByIds(db: Queryable, connectorId: string, ids: readonly number[]): Promise<DeadLetter[]> {
  const { rows } = await db.query<DeadLetter>(
    `SELECT id, origin, event_id, insert_id, event_type, reason, field, message, payload, attempts, first_attempt_at,
            last_attempt_at, state, resent_at
       FROM currents_dead_letters WHERE connector_id = $1 AND id = ANY($2::bigint[]) AND state = 'dead' ORDER BY id`,
    [connectorId, ids],
  );
  return rows;
}

/** Dead letters by reason (state `dead` only), for status. */
export async function deadLetterCounts(db: Queryable, connectorId: string): Promise<Record<string, number>> {
  const { rows } = await db.query<{ reason: string; n: number }>(
    `SELECT reason, count(*)::int8 AS n FROM currents_dead_letters WHERE connector_id = $1 AND state = 'dead' GROUP BY reason ORDER BY reason`,
    [connectorId],
  );
  return Object.fromEntries(rows.map((r) => [r.reason, r.n]));
}
