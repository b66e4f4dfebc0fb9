-- Browser SDK ingestion (docs/reference/sdk.md). An SDK app is a workspace's public SDK key: it
-- may only call the SDK ingestion routes, only from its allowed origins. The key is public by
-- nature (it ships in page source) but is still stored as its SHA-256 only, like REST keys.
CREATE TABLE sdk_apps (
  id              uuid PRIMARY KEY,
  workspace_id    uuid NOT NULL REFERENCES workspaces(id),
  name            text NOT NULL,
  key_prefix      text NOT NULL,
  key_hash        bytea NOT NULL UNIQUE,
  allowed_origins text[] NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  revoked_at      timestamptz
);
CREATE INDEX sdk_apps_workspace ON sdk_apps (workspace_id, created_at, id);

-- Idempotent uploads: every SDK event carries a client-generated id; a retried batch finds its
-- ids here and is not applied twice. Rows are claimed before an event is applied and released
-- when applying it fails.
CREATE TABLE sdk_uploaded_events (
  sdk_app_id      uuid NOT NULL REFERENCES sdk_apps(id),
  client_event_id text NOT NULL,
  received_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (sdk_app_id, client_event_id)
);
CREATE INDEX sdk_uploaded_events_age ON sdk_uploaded_events (received_at);
