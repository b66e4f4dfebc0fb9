-- Currents export: connectors (Mixpanel exports) with their cursor over the event log, persisted
-- delivery counters, the dead-letter store, the notification outbox and backfill runs.

CREATE TABLE currents_connectors (
  id                   uuid PRIMARY KEY,
  workspace_id         uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
  destination          text NOT NULL DEFAULT 'mixpanel' CHECK (destination IN ('mixpanel')),
  name                 text NOT NULL,
  contact_email        text NOT NULL,
  credential_kind      text NOT NULL CHECK (credential_kind IN ('service_account', 'api_secret')),
  credentials          bytea NOT NULL,        -- AES-256-GCM ciphertext (src/secrets) of every credential and the project token
  credential_hints     jsonb NOT NULL,        -- last four characters of each credential, for display
  project_id           text,                  -- Mixpanel project id (service accounts); not a secret
  region               text NOT NULL CHECK (region IN ('US', 'EU', 'IN')),
  base_url             text,                  -- explicit ingestion base URL (the emulator); null means Mixpanel's host
  event_types          text[] NOT NULL,
  partner_id           text NOT NULL DEFAULT 'rivulet',
  batch_byte_cap       integer NOT NULL CHECK (batch_byte_cap > 0),
  max_in_flight        integer NOT NULL CHECK (max_in_flight BETWEEN 1 AND 20),
  paused               boolean NOT NULL DEFAULT false,          -- the operator's switch
  health               text NOT NULL DEFAULT 'ok' CHECK (health IN ('ok', 'failed', 'degraded')),  -- the engine's view
  incident_started_at  timestamptz,
  last_error           text,
  last_error_at        timestamptz,
  -- The cursor: every event at or before (cursor_txid, cursor_seq) is acknowledged.
  cursor_txid          xid8 NOT NULL DEFAULT '0',
  cursor_seq           bigint NOT NULL DEFAULT 0,
  cursor_moved_at      timestamptz,
  retries              bigint NOT NULL DEFAULT 0,
  -- Which process delivers for this connector; a lease that lapses lets another take over.
  lease_owner          text,
  lease_expires_at     timestamptz,
  -- Bumped on every operator change, so running exporters notice pause, resume and delete.
  version              integer NOT NULL DEFAULT 1,
  created_at           timestamptz NOT NULL DEFAULT now(),
  updated_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX currents_connectors_workspace ON currents_connectors (workspace_id, created_at);

-- Delivered, skipped and dead-lettered events per connector, event type and reason. Written in the
-- transaction that moves the cursor past them, so each logged event is counted exactly once.
CREATE TABLE currents_counters (
  connector_id  uuid NOT NULL REFERENCES currents_connectors(id) ON DELETE CASCADE,
  outcome       text NOT NULL CHECK (outcome IN ('sent', 'skipped', 'dead_lettered')),
  event_type    text NOT NULL,
  reason        text NOT NULL DEFAULT '',
  count         bigint NOT NULL,
  PRIMARY KEY (connector_id, outcome, event_type, reason)
);

-- One row per event Mixpanel would not take (or that broke its limits before sending).
-- The payload is the mapped Mixpanel event without the project token, which is added at re-send.
CREATE TABLE currents_dead_letters (
  id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  connector_id      uuid NOT NULL REFERENCES currents_connectors(id) ON DELETE CASCADE,
  origin            text NOT NULL CHECK (origin IN ('live', 'backfill')),
  event_id          text NOT NULL,
  insert_id         text NOT NULL,
  event_type        text NOT NULL,
  reason            text NOT NULL,
  field             text,
  message           text,
  payload           jsonb NOT NULL,
  attempts          integer NOT NULL DEFAULT 1,
  first_attempt_at  timestamptz NOT NULL DEFAULT now(),
  last_attempt_at   timestamptz NOT NULL DEFAULT now(),
  state             text NOT NULL DEFAULT 'dead' CHECK (state IN ('dead', 'resent')),
  resent_at         timestamptz,
  UNIQUE (connector_id, event_id)
);
CREATE INDEX currents_dead_letters_list ON currents_dead_letters (connector_id, state, id);

-- Messages to a connector's contact: written in the transaction that changes the connector's
-- health, sent by SMTP when SMTP_URL is set and logged otherwise.
CREATE TABLE currents_notifications (
  id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  connector_id     uuid REFERENCES currents_connectors(id) ON DELETE SET NULL,
  workspace_id     uuid NOT NULL,
  kind             text NOT NULL,
  recipient        text NOT NULL,
  subject          text NOT NULL,
  body             text NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now(),
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  attempts         integer NOT NULL DEFAULT 0,
  last_error       text,
  sent_at          timestamptz,
  delivered_via    text CHECK (delivered_via IN ('smtp', 'log'))
);
CREATE INDEX currents_notifications_due ON currents_notifications (next_attempt_at) WHERE sent_at IS NULL;

-- Re-exports of a time range to one connector (`rivulet currents backfill`).
CREATE TABLE currents_backfills (
  id             uuid PRIMARY KEY,
  connector_id   uuid NOT NULL REFERENCES currents_connectors(id) ON DELETE CASCADE,
  from_time      bigint NOT NULL,
  to_time        bigint NOT NULL,
  state          text NOT NULL DEFAULT 'running' CHECK (state IN ('running', 'done', 'failed', 'stopped')),
  total          bigint NOT NULL DEFAULT 0,
  read           bigint NOT NULL DEFAULT 0,
  sent           bigint NOT NULL DEFAULT 0,
  skipped        bigint NOT NULL DEFAULT 0,
  dead_lettered  bigint NOT NULL DEFAULT 0,
  last_error     text,
  started_at     timestamptz NOT NULL DEFAULT now(),
  finished_at    timestamptz
);
