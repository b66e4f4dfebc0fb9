/**
 * The cohort admin API's contract: the shapes `/admin/import-keys…`, `/admin/partners…`,
 * `/admin/cohorts…`, `/admin/cohort-sync…` and `/admin/usage/data-points` answer with. Fastify
 * serializes responses from these schemas and the dashboard reads them as `Static<typeof …>`.
 * Imports TypeBox and the shared HTTP contract only.
 */
import { Type, type Static } from 'typebox';
import { NextCursor, Nullable, NullableTimestamp, Timestamp } from '../http/contract.js';

export const ImportKey = Type.Object({
  prefix: Type.String(),
  partner: Type.String(),
  state: Type.Union([Type.Literal('active'), Type.Literal('rotated'), Type.Literal('invalidated')]),
  created_at: Timestamp,
  last_used_at: NullableTimestamp,
  ended_at: NullableTimestamp,
});
export const ImportKeyPage = Type.Object({ keys: Type.Array(ImportKey), next_cursor: NextCursor });
/** A new key: the secret is in this answer only; `replaces` names the rotated key. */
export const NewImportKey = Type.Intersect([ImportKey, Type.Object({ key: Type.String(), replaces: Type.Optional(Type.String()) })]);

export const PartnerInfo = Type.Object({
  partner: Type.String(),
  name: Type.String(),
  filter: Type.String(),
  enabled: Type.Boolean(),
  cohort_endpoint: Type.String(),
  user_cohort_endpoint: Type.String(),
  webhook_url: Type.Optional(Type.String()),
  match_key: Type.Optional(Type.String()),
});
export const PartnerList = Type.Object({ rest_endpoint: Type.String(), partners: Type.Array(PartnerInfo) });
export const PartnerSettings = Type.Object({
  partner: Type.String(),
  enabled: Type.Boolean(),
  settings: Type.Record(Type.String(), Type.Unknown(), { description: 'partner settings, e.g. match_key' }),
});

export const Cohort = Type.Object({
  id: Type.String(),
  partner: Type.String(),
  cohort_id: Type.String({ description: "the partner's cohort id" }),
  name: Type.String(),
  description: Nullable(Type.String()),
  member_count: Type.Integer(),
  created_at: Timestamp,
  last_synced_at: NullableTimestamp,
  last_source: Nullable(Type.String()),
  filter: Type.Optional(Type.String({ description: 'the segment filter kind that selects this cohort' })),
});
export const CohortPage = Type.Object({ cohorts: Type.Array(Cohort), next_cursor: NextCursor });

export const SyncRow = Type.Object({
  id: Type.String(),
  cohort_id: Nullable(Type.String()),
  cohort_name: Nullable(Type.String()),
  partner_cohort_id: Nullable(Type.String()),
  partner: Type.String(),
  source: Type.String(),
  action: Nullable(Type.String()),
  status: Type.String(),
  empty: Type.Boolean({ description: 'a run that received, added and removed nothing' }),
  received: Type.Integer(),
  matched: Type.Integer(),
  unmatched: Type.Object({ not_found: Type.Integer(), device_id_of_identified_user: Type.Integer() }),
  added: Type.Integer(),
  removed: Type.Integer(),
  unchanged: Type.Integer(),
  error: Nullable(Type.String()),
  at: Timestamp,
});
export const SyncPage = Type.Object({ syncs: Type.Array(SyncRow), next_cursor: NextCursor });

export const CohortDetail = Type.Intersect([
  Cohort,
  Type.Object({
    daily: Type.Array(Type.Object({ day: Type.String(), added: Type.Integer(), removed: Type.Integer() })),
    syncs: Type.Array(SyncRow),
  }),
]);

export const SyncRejection = Type.Object({
  id: Type.Integer(),
  attributed: Type.Boolean({ description: 'whether the refused key belongs to this workspace' }),
  partner: Type.String(),
  source: Type.String(),
  key_prefix: Nullable(Type.String()),
  reason: Type.String(),
  status: Type.Integer(),
  message: Nullable(Type.String()),
  at: Timestamp,
});
export const SyncRejectionPage = Type.Object({ rejections: Type.Array(SyncRejection), last_24h: Type.Integer(), next_before: Nullable(Type.String()) });

export const StaleSync = Type.Object({
  kind: Type.Union([Type.Literal('pull_connection'), Type.Literal('webhook_cohort')]),
  id: Type.String(),
  workspace_id: Type.String(),
  name: Type.String(),
  interval_seconds: Type.Integer(),
  last_success_at: NullableTimestamp,
});
export const StaleSyncList = Type.Object({ stale: Type.Array(StaleSync) });

export const UsageDay = Type.Object({ day: Type.String(), data_points: Type.Integer(), by_source: Type.Record(Type.String(), Type.Integer()) });
export const DataPointUsage = Type.Object({ days: Type.Array(UsageDay), total: Type.Integer() });

export type ImportKey = Static<typeof ImportKey>;
export type Cohort = Static<typeof Cohort>;

/** The Mixpanel custom-webhook receiver answers in the shape Mixpanel reads. */
export const WebhookSuccess = Type.Object({ action: Type.String(), status: Type.Literal('success') });
export const WebhookFailureBody = Type.Object(
  {
    action: Type.String(),
    status: Type.Literal('failure'),
    error: Type.Object({ message: Type.String(), code: Type.Integer() }, { additionalProperties: true }),
  },
  { additionalProperties: true },
);

/** A pull-mode Mixpanel connection: credentials never come out, only their kind and last four characters. */
export const PullConnection = Type.Object({
  id: Type.String(),
  name: Type.String(),
  project_id: Type.String(),
  mixpanel_workspace_id: Nullable(Type.String()),
  region: Type.String(),
  query_host: Type.String(),
  base_url: Nullable(Type.String()),
  credentials: Type.Object({ kind: Type.String(), secret_hint: Type.String() }),
  cohort_ids: Type.Array(Type.String()),
  mode: Type.String({ description: 'one_time or dynamic' }),
  interval_minutes: Type.Integer(),
  match_key: Type.String(),
  query_budget: Type.Integer(),
  state: Type.String(),
  running: Type.Boolean(),
  next_run_at: NullableTimestamp,
  last_run_at: NullableTimestamp,
  last_success_at: NullableTimestamp,
  last_error: Nullable(Type.String()),
  created_at: NullableTimestamp,
  updated_at: NullableTimestamp,
});
export const PullConnectionPage = Type.Object({ connections: Type.Array(PullConnection), next_cursor: NextCursor });
export const PullConnectionDetail = Type.Intersect([
  PullConnection,
  Type.Object({
    snapshots: Type.Array(Type.Object({ cohort_id: Type.String(), identifiers: Type.Integer(), taken_at: Timestamp })),
    query_budget_used: Type.Integer(),
  }),
]);

/** The partner cohort endpoints (Braze's partner API shape). */
export const PartnerCohortNamed = Type.Object({ message: Type.Literal('success'), cohort_id: Type.String(), name: Type.String(), created: Type.Boolean() });
export const PartnerCohortUsers = Type.Object({
  message: Type.Literal('success'),
  cohort_id: Type.String(),
  received: Type.Integer(),
  matched: Type.Integer(),
  unmatched: Type.Integer(),
  added: Type.Integer(),
  removed: Type.Integer(),
  unchanged: Type.Integer(),
  applied: Type.Integer(),
  data_points: Type.Integer(),
  unmatched_reasons: Type.Object({ not_found: Type.Integer(), device_id_of_identified_user: Type.Integer() }),
  unmatched_identifiers: Type.Object(
    { user_ids: Type.Array(Type.String()), device_ids: Type.Array(Type.String()), aliases: Type.Array(Type.Object({ alias_name: Type.String(), alias_label: Type.String() })) },
    { additionalProperties: true, description: 'the identifiers that matched nobody (a sample)' },
  ),
});
