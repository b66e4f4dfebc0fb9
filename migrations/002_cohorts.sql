-- Cohort import: partner data import keys, cohorts and memberships, staged webhook pages,
-- pull connections, sync history and the data-point ledger (shared/spec/cohort-import.md).

CREATE TABLE data_import_keys (
  id              uuid PRIMARY KEY,
  workspace_id    uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
  partner         text NOT NULL,
  prefix          text NOT NULL UNIQUE,
  key_hash        bytea NOT NULL UNIQUE,
  state           text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'rotated', 'invalidated')),
  created_at      timestamptz NOT NULL DEFAULT now(),
  last_used_at    timestamptz,
  ended_at        timestamptz,
  replaced_by     uuid REFERENCES data_import_keys(id)
);
CREATE INDEX data_import_keys_workspace ON data_import_keys (workspace_id, partner);

-- Per workspace and partner: enabled or not, and settings such as the webhook match key.
CREATE TABLE partner_settings (
  workspace_id  uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
  partner       text NOT NULL,
  enabled       boolean NOT NULL DEFAULT true,
  settings      jsonb NOT NULL DEFAULT '{}'::jsonb,
  updated_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workspace_id, partner)
);

CREATE TABLE cohorts (
  id                 uuid PRIMARY KEY,
  workspace_id       uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
  partner            text NOT NULL,
  partner_cohort_id  text NOT NULL,             -- as sent; "<project>:<cohort>" for webhook and pull
  name               text NOT NULL,
  description        text,
  created_at         timestamptz NOT NULL,      -- the partner's created_at from the first call
  updated_at         timestamptz NOT NULL DEFAULT now(),
  last_synced_at     timestamptz,
  last_source        text,
  member_count       bigint NOT NULL DEFAULT 0,
  -- Bumped in the same transaction as every membership change, so caches (segment bitmaps)
  -- in any process can tell that their copy is stale.
  members_version    bigint NOT NULL DEFAULT 0,
  UNIQUE (workspace_id, partner, partner_cohort_id)
);

-- Current members only; `since` is when the user (last) entered. Leaving deletes the row.
CREATE TABLE cohort_members (
  cohort_id  uuid NOT NULL REFERENCES cohorts(id) ON DELETE CASCADE,
  user_id    uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  since      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (cohort_id, user_id)
);
CREATE INDEX cohort_members_user ON cohort_members (user_id);

-- Webhook `members` pages staged until every page of the session has arrived.
CREATE TABLE webhook_pages (
  cohort_id     uuid NOT NULL REFERENCES cohorts(id) ON DELETE CASCADE,
  session_id    text NOT NULL,
  page          integer NOT NULL,
  total_pages   integer NOT NULL,
  identifiers   text[] NOT NULL,
  received_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (cohort_id, session_id, page)
);

-- Every request, webhook message and pull run (the sync history).
CREATE TABLE cohort_syncs (
  id                  uuid PRIMARY KEY,
  workspace_id        uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
  partner             text NOT NULL,
  cohort_id           uuid REFERENCES cohorts(id) ON DELETE SET NULL,
  partner_cohort_id   text,
  source              text NOT NULL CHECK (source IN ('partner_api', 'webhook', 'pull')),
  action              text,                      -- webhook action, 'delta', 'replacement', 'rename'
  status              text NOT NULL,             -- applied | staged | incomplete | failed | rejected
  received            integer NOT NULL DEFAULT 0,
  matched             integer NOT NULL DEFAULT 0,
  unmatched_not_found integer NOT NULL DEFAULT 0,
  unmatched_device_id_of_identified_user integer NOT NULL DEFAULT 0,
  added               integer NOT NULL DEFAULT 0,
  removed             integer NOT NULL DEFAULT 0,
  unchanged           integer NOT NULL DEFAULT 0,
  error               text,
  details             jsonb,
  at                  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX cohort_syncs_recent ON cohort_syncs (workspace_id, at DESC);
CREATE INDEX cohort_syncs_cohort ON cohort_syncs (cohort_id, at DESC);

-- The data-point ledger: per workspace, UTC day, source and cohort (cohort-import.md §6).
CREATE TABLE data_points (
  workspace_id  uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
  day           date NOT NULL,
  source        text NOT NULL,
  cohort_id     uuid NOT NULL,
  added         bigint NOT NULL DEFAULT 0,
  removed       bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (workspace_id, day, source, cohort_id)
);

-- Pull mode: stored Mixpanel connections (credentials encrypted), their snapshots and query budget.
CREATE TABLE mixpanel_connections (
  id                     uuid PRIMARY KEY,
  workspace_id           uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
  name                   text NOT NULL,
  project_id             text NOT NULL,
  mixpanel_workspace_id  text,
  region                 text NOT NULL CHECK (region IN ('US', 'EU', 'IN')),
  base_url               text,                 -- explicit override (the emulator); null means Mixpanel
  credentials            bytea NOT NULL,       -- AES-256-GCM ciphertext of {username, secret} or {api_secret}
  credential_hint        text NOT NULL,        -- last four characters, for display
  cohort_ids             text[] NOT NULL,
  mode                   text NOT NULL CHECK (mode IN ('one_time', 'dynamic')),
  interval_seconds       integer NOT NULL,
  match_key              text NOT NULL,
  query_budget           integer NOT NULL,
  state                  text NOT NULL DEFAULT 'active',  -- active | failed | done | paused
  next_run_at            timestamptz,
  last_run_at            timestamptz,
  last_error             text,
  created_at             timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE pull_snapshots (
  connection_id        uuid NOT NULL REFERENCES mixpanel_connections(id) ON DELETE CASCADE,
  mixpanel_cohort_id   text NOT NULL,
  identifiers          text[] NOT NULL,
  taken_at             timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (connection_id, mixpanel_cohort_id)
);

CREATE TABLE mixpanel_query_ledger (
  project_id  text NOT NULL,
  at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX mixpanel_query_ledger_recent ON mixpanel_query_ledger (project_id, at);
