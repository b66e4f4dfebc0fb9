-- Platform core: workspaces, REST API keys, users and identities, the event log.

CREATE TABLE workspaces (
  id          uuid PRIMARY KEY,
  name        text NOT NULL UNIQUE,
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
  id            uuid PRIMARY KEY,
  workspace_id  uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
  name          text NOT NULL,
  prefix        text NOT NULL UNIQUE,          -- non-secret, shown in lists and errors
  key_hash      bytea NOT NULL UNIQUE,         -- SHA-256 of the whole key; the key itself is never stored
  permissions   text[] NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  last_used_at  timestamptz,
  revoked_at    timestamptz
);
CREATE INDEX api_keys_workspace ON api_keys (workspace_id);

CREATE TABLE users (
  id                uuid PRIMARY KEY,           -- the internal user id (Braze's braze_id)
  ordinal           bigint GENERATED ALWAYS AS IDENTITY UNIQUE, -- dense number for segment bitmaps
  workspace_id      uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
  external_id       text,
  began_anonymous   boolean NOT NULL,
  email             text,
  phone             text,
  first_name        text,
  last_name         text,
  gender            text,
  dob               date,
  country           text,
  language          text,
  home_city         text,
  time_zone         text,
  email_subscribe   text,
  push_subscribe    text,
  custom_attributes jsonb NOT NULL DEFAULT '{}'::jsonb,
  session_count     bigint NOT NULL DEFAULT 0,
  first_session_at  timestamptz,
  last_session_at   timestamptz,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  UNIQUE (workspace_id, external_id)
);
CREATE INDEX users_email ON users (workspace_id, lower(email), updated_at DESC) WHERE email IS NOT NULL;

CREATE TABLE user_aliases (
  workspace_id  uuid NOT NULL,
  alias_label   text NOT NULL,
  alias_name    text NOT NULL,
  user_id       uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  created_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workspace_id, alias_label, alias_name),
  UNIQUE (user_id, alias_label)                 -- at most one alias per label per user (Braze)
);

CREATE TABLE user_devices (
  workspace_id  uuid NOT NULL,
  device_id     text NOT NULL,
  user_id       uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  app_id        text,
  platform      text,
  os_version    text,
  device_model  text,
  push_token    text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workspace_id, device_id)
);
CREATE INDEX user_devices_user ON user_devices (user_id);

-- Per user, per event name, per UTC day: what segments' behaviour filters and the profile's
-- custom_events / purchases summaries read. Kept in the same transaction as the event log.
CREATE TABLE user_event_stats (
  user_id   uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  kind      text NOT NULL CHECK (kind IN ('event', 'purchase')),
  name      text NOT NULL,
  day       date NOT NULL,
  count     bigint NOT NULL,
  first_at  timestamptz NOT NULL,
  last_at   timestamptz NOT NULL,
  PRIMARY KEY (user_id, kind, name, day)
);

-- The event log: every behaviour and engagement event, in the Currents format, appended in the
-- same transaction as the change that caused it. Readers page by (txid, seq) below the oldest
-- running transaction (see src/events/log.ts), so no reader ever skips a late-committing writer.
CREATE TABLE event_log (
  seq               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  txid              xid8 NOT NULL DEFAULT pg_current_xact_id(),
  workspace_id      uuid NOT NULL,
  id                text NOT NULL,
  event_type        text NOT NULL,
  time              bigint NOT NULL,
  user_id           uuid,
  external_user_id  text,
  body              jsonb NOT NULL,            -- the whole Currents event, as published
  recorded_at       timestamptz NOT NULL DEFAULT now(),
  UNIQUE (workspace_id, id)
);
CREATE INDEX event_log_order ON event_log (txid, seq);
CREATE INDEX event_log_time ON event_log (workspace_id, time);
