/**
 * The Currents admin and publish API's contract: the shapes `/admin/currents…` and
 * `/currents/events` answer with. Fastify serializes responses from these schemas (a field not
 * listed here is not sent) and the dashboard reads them as `Static<typeof …>` through its API
 * client. Imports TypeBox and the shared HTTP contract only.
 */
import { Type, type Static } from 'typebox';
import { NextCursor, NoContent, Nullable, NullableTimestamp, Timestamp } from '../http/contract.js';

const Counts = Type.Record(Type.String(), Type.Integer());

/** A connector as an operator sees it: settings without any credential (hints are the last four characters). */
export const Connector = Type.Object({
  id: Type.String(),
  workspace_id: Type.String(),
  destination: Type.Literal('mixpanel'),
  name: Type.String(),
  contact_email: Type.String(),
  state: Type.String({ description: 'active, paused, degraded or failed' }),
  region: Type.String(),
  base_url: Nullable(Type.String()),
  ingestion_url: Type.String(),
  event_types: Type.Array(Type.String()),
  partner_id: Type.String(),
  batch_byte_cap: Type.Integer(),
  max_in_flight: Type.Integer(),
  credential_kind: Type.Union([Type.Literal('service_account'), Type.Literal('api_secret')]),
  project_id: Nullable(Type.String()),
  credential_hints: Type.Record(Type.String(), Type.String(), { description: 'the last four characters of each credential and of the project token' }),
  last_error: Nullable(Type.String()),
  last_error_at: NullableTimestamp,
  created_at: Timestamp,
  updated_at: Timestamp,
});
export type Connector = Static<typeof Connector>;

/** A connector in the Currents list: with what it delivered in the last 24 h and its lag. */
export const ConnectorListItem = Type.Intersect([
  Connector,
  Type.Object({
    delivered_24h: Type.Integer({ description: 'events delivered in the last 24 hours (from the per-minute history)' }),
    lag: Type.Object({ events: Type.Integer(), seconds: Type.Number() }),
  }),
]);
export const ConnectorPage = Type.Object({ connectors: Type.Array(ConnectorListItem), next_cursor: NextCursor });
export const ChangedConnector = Type.Intersect([Connector, Type.Object({ changed: Type.Array(Type.String()) })]);

export const ReasonCount = Type.Object({ event_type: Type.String(), reason: Type.String(), count: Type.Integer() });
export type ReasonCount = Static<typeof ReasonCount>;

/** The connector with its delivery status: `read = sent + skipped + dead_lettered + in_flight`. */
export const ConnectorStatus = Type.Intersect([
  Connector,
  Type.Object({
    lag: Type.Object({ events: Type.Integer(), seconds: Type.Number() }),
    read: Type.Integer(),
    sent: Type.Integer(),
    sent_by_event_type: Counts,
    skipped: Type.Array(ReasonCount),
    skipped_by_reason: Counts,
    skipped_total: Type.Integer(),
    dead_lettered: Type.Array(ReasonCount),
    dead_lettered_by_reason: Counts,
    dead_lettered_total: Type.Integer(),
    fitted: Type.Array(ReasonCount, { description: "changes made to sent events to fit Mixpanel's limits (counts of changes)" }),
    fitted_by_reason: Counts,
    fitted_total: Type.Integer(),
    in_flight: Type.Integer(),
    retries: Type.Integer(),
    incident_started_at: NullableTimestamp,
    cursor_moved_at: NullableTimestamp,
    delivering_here: Type.Boolean(),
  }),
]);
export type ConnectorStatus = Static<typeof ConnectorStatus>;

export const ConnectionTestResult = Type.Object({
  ok: Type.Boolean(),
  status: Nullable(Type.Integer({ description: 'the HTTP status Mixpanel answered; null when it could not be reached' })),
  message: Type.String(),
  detail: Nullable(Type.String()),
});
export type ConnectionTestResult = Static<typeof ConnectionTestResult>;

export const DeadLetter = Type.Object({
  id: Type.Integer(),
  origin: Type.String(),
  event_id: Type.String(),
  insert_id: Type.String(),
  event_type: Type.String(),
  reason: Type.String(),
  field: Nullable(Type.String()),
  message: Nullable(Type.String()),
  payload: Type.Object({}, { additionalProperties: true, description: 'the Mixpanel event as it was sent, without the project token' }),
  attempts: Type.Integer(),
  first_attempt_at: Timestamp,
  last_attempt_at: Timestamp,
  state: Type.Union([Type.Literal('dead'), Type.Literal('resent')]),
  resent_at: NullableTimestamp,
});
export type DeadLetter = Static<typeof DeadLetter>;
export const DeadLetterPage = Type.Object({ dead_letters: Type.Array(DeadLetter), next_after: Nullable(Type.Integer()) });

export const ResendReport = Type.Object({
  resent: Type.Integer(),
  failed_again: Type.Integer(),
  not_attempted: Type.Integer(),
  results: Type.Array(
    Type.Object({
      id: Type.Integer(),
      event_id: Type.String(),
      outcome: Type.Union([Type.Literal('resent'), Type.Literal('failed_again'), Type.Literal('not_attempted')]),
      reason: Type.Optional(Type.String()),
    }),
  ),
});

export const Notification = Type.Object({
  id: Type.Integer(),
  kind: Type.String(),
  recipient: Type.String(),
  subject: Type.String(),
  created_at: Timestamp,
  sent_at: NullableTimestamp,
  delivered_via: Nullable(Type.String()),
  attempts: Type.Integer(),
  last_error: Nullable(Type.String()),
});
export const NotificationPage = Type.Object({ notifications: Type.Array(Notification), next_cursor: NextCursor });

export const EventTypeView = Type.Object({
  type: Type.String(),
  category: Type.String(),
  channel: Nullable(Type.String()),
  mixpanel_event: Nullable(Type.String()),
  mixpanel_event_inferred: Type.Boolean(),
  selectable: Type.Boolean(),
  fields: Type.Array(Type.Object({ name: Type.String(), type: Type.String(), nullable: Type.Boolean(), placement: Type.String() })),
});
export const EventTypeGroup = Type.Object({
  category: Type.String(),
  label: Type.String(),
  types: Type.Array(EventTypeView),
  channels: Type.Optional(Type.Array(Type.Object({ channel: Type.String(), label: Type.String() }))),
});
export type EventTypeGroup = Static<typeof EventTypeGroup>;
export const EventTypeCatalogue = Type.Object({ groups: Type.Array(EventTypeGroup), legacy: Type.Array(EventTypeView) });

export const PublishResult = Type.Object(
  {
    message: Type.String(),
    events_processed: Type.Integer(),
    duplicates: Type.Integer(),
    errors: Type.Optional(Type.Array(Type.Object({}, { additionalProperties: true }))),
  },
  { additionalProperties: true },
);

export { NoContent };

/** One minute (or hour) of a connector's delivery history; null where nothing was measured. */
export const HistoryPoint = Type.Object({
  at: Timestamp,
  sent: Type.Number(),
  skipped: Type.Record(Type.String(), Type.Number(), { description: 'skipped events by reason' }),
  skipped_total: Type.Number(),
  dead_lettered: Type.Number(),
  fitted: Type.Number(),
  failed: Type.Number(),
  requests: Type.Number(),
  latency_ms_avg: Nullable(Type.Number()),
  latency_ms_max: Nullable(Type.Number()),
  lag_seconds: Nullable(Type.Number()),
  lag_events: Nullable(Type.Number()),
});
export type HistoryPoint = Static<typeof HistoryPoint>;

export const HistoryQuery = Type.Object(
  {
    from: Type.Optional(Type.String({ format: 'date-time', description: 'start (inclusive); default: `to` minus 6 hours' })),
    to: Type.Optional(Type.String({ format: 'date-time', description: 'end (exclusive); default: now' })),
    resolution: Type.Optional(Type.Union([Type.Literal('minute'), Type.Literal('hour'), Type.Literal('auto')], { description: 'auto (default): minute for spans up to 48 h, else hour' })),
  },
  { additionalProperties: false },
);

export const History = Type.Object({
  resolution: Type.Union([Type.Literal('minute'), Type.Literal('hour')]),
  from: Timestamp,
  to: Timestamp,
  minutes_kept_hours: Type.Number(),
  kept_days: Type.Number(),
  points: Type.Array(HistoryPoint),
});
export type History = Static<typeof History>;
