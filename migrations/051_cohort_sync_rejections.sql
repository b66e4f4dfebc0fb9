-- Every rejected cohort-sync attempt (a webhook push or a partner API request refused for its
-- credentials or its payload): when, the key prefix presented (or none), why. Kept bounded: the
-- newest 1,000 per workspace, for at most 30 days (docs/reference/cohort-import.md §8).
-- workspace_id is NULL when the attempt names no key of any workspace.
CREATE TABLE cohort_sync_rejections (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  workspace_id uuid REFERENCES workspaces(id) ON DELETE CASCADE,
  partner      text NOT NULL,
  source       text NOT NULL CHECK (source IN ('partner_api', 'webhook')),
  key_prefix   text,
  reason       text NOT NULL,
  status       integer NOT NULL,
  message      text,
  at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX cohort_sync_rejections_recent ON cohort_sync_rejections (workspace_id, id DESC);
CREATE INDEX cohort_sync_rejections_at ON cohort_sync_rejections (at);
