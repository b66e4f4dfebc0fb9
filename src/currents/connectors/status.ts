/**
 * What an operator sees of a connector: its settings without any credential (only the last four
 * characters of each), and its status (docs/reference/currents.md §3, "Status"): state, lag in events and
 * seconds, sent, skipped and dead-lettered by reason, in flight, retries and the last error.
 * `read = sent + skipped + dead_lettered + in_flight` by construction of the counters.
 */
import { BATCH_SLOTS } from '../../events/index.js';
import type { Queryable } from '../../storage/index.js';
import { readCounters, type CounterRow } from '../delivery/checkpoint.js';
import { ingestionBaseUrl } from './settings.js';
import { connectorState, type Connector } from './store.js';

export function publicConnector(c: Connector) {
  return {
    id: c.id,
    workspace_id: c.workspaceId,
    destination: 'mixpanel',
    name: c.name,
    contact_email: c.contactEmail,
    state: connectorState(c),
    region: c.region,
    base_url: c.baseUrl,
    ingestion_url: `${ingestionBaseUrl(c)}/import`,
    event_types: c.eventTypes,
    partner_id: c.partnerId,
    batch_byte_cap: c.batchByteCap,
    max_in_flight: c.maxInFlight,
    credential_kind: c.credentialKind,
    project_id: c.projectId,
    /** The last four characters of each credential and of the project token: never more. */
    credential_hints: c.credentialHints,
    last_error: c.lastError,
    last_error_at: c.lastErrorAt,
    created_at: c.createdAt,
    updated_at: c.updatedAt,
  };
}

export interface Lag {
  events: number;
  seconds: number;
}

/** Events of the workspace not yet behind the cursor, and how long the oldest of them has waited. */
export async function lagOf(db: Queryable, c: Pick<Connector, 'workspaceId' | 'cursor'>): Promise<Lag> {
  // The cursor may stop inside a batch: that batch counts only its events after the cursor.
  const firstBatch = Math.floor(c.cursor.seq / BATCH_SLOTS);
  const doneInFirst = c.cursor.seq - firstBatch * BATCH_SLOTS + 1;
  const { rows } = await db.query<{ events: number; oldest: Date | null; now: Date }>(
    `WITH after AS (
       SELECT count - CASE WHEN txid = $2::xid8 AND seq = $3::bigint THEN least(count, $4::int) ELSE 0 END AS pending, recorded_at, txid, seq
         FROM event_batches WHERE workspace_id = $1 AND (txid, seq) >= ($2::xid8, $3::bigint))
     SELECT (SELECT coalesce(sum(pending), 0) FROM after)::int8 AS events,
            (SELECT recorded_at FROM after WHERE pending > 0 ORDER BY txid, seq LIMIT 1) AS oldest,
            now() AS now`,
    [c.workspaceId, c.cursor.txid, firstBatch, doneInFirst],
  );
  const r = rows[0]!;
  const seconds = r.oldest ? Math.max(0, (new Date(r.now).getTime() - new Date(r.oldest).getTime()) / 1000) : 0;
  return { events: r.events, seconds: Math.round(seconds * 10) / 10 };
}

function byReason(rows: readonly CounterRow[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of rows) out[r.reason] = (out[r.reason] ?? 0) + r.count;
  return out;
}

const total = (rows: ReadonlyArray<{ count: number }>) => rows.reduce((n, r) => n + r.count, 0);
const listed = (rows: readonly CounterRow[]) => rows.map((r) => ({ event_type: r.event_type, reason: r.reason, count: r.count }));

/**
 * The connector with its delivery status. `skipped` and `dead_lettered` list counts per event type
 * and reason; `*_by_reason` and `*_total` sum them.
 */
export async function connectorStatus(db: Queryable, c: Connector, live: { runningHere: boolean; inFlightEvents: number | null }) {
  const counters = await readCounters(db, c.id);
  const sent = counters.filter((r) => r.outcome === 'sent');
  const skipped = counters.filter((r) => r.outcome === 'skipped');
  const deadLettered = counters.filter((r) => r.outcome === 'dead_lettered');
  const fitted = counters.filter((r) => r.outcome === 'fitted');
  const inFlight = live.inFlightEvents ?? 0;
  const sentByType: Record<string, number> = {};
  for (const r of sent) sentByType[r.event_type] = r.count;
  return {
    ...publicConnector(c),
    lag: await lagOf(db, c),
    read: total(sent) + total(skipped) + total(deadLettered) + inFlight,
    sent: total(sent),
    sent_by_event_type: sentByType,
    skipped: listed(skipped),
    skipped_by_reason: byReason(skipped),
    skipped_total: total(skipped),
    dead_lettered: listed(deadLettered),
    dead_lettered_by_reason: byReason(deadLettered),
    dead_lettered_total: total(deadLettered),
    /** Changes made to sent events to fit Mixpanel's limits (docs/reference/currents.md §2.4): counts of changes, not events. */
    fitted: listed(fitted),
    fitted_by_reason: byReason(fitted),
    fitted_total: total(fitted),
    in_flight: inFlight,
    retries: c.retries,
    incident_started_at: c.incidentStartedAt,
    cursor_moved_at: c.cursorMovedAt,
    /** Whether this process delivers for the connector (in_flight is only known there). */
    delivering_here: live.runningHere,
  };
}
