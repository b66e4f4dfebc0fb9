-- Pull mode (cohort-import.md §5): a lease so that one process at a time runs a connection, and a
-- run interrupted by a crash or a stop is picked up again (next_run_at stays due until the run
-- finishes). The lease is renewed while the run lasts and released when it ends or is stopped.
ALTER TABLE mixpanel_connections
  ADD COLUMN run_owner        text,
  ADD COLUMN run_lease_until  timestamptz,
  ADD COLUMN run_started_at   timestamptz,
  ADD COLUMN last_success_at  timestamptz,
  ADD COLUMN updated_at       timestamptz NOT NULL DEFAULT now();

CREATE INDEX mixpanel_connections_due ON mixpanel_connections (next_run_at) WHERE state IN ('active', 'failed');
CREATE INDEX mixpanel_connections_workspace ON mixpanel_connections (workspace_id, created_at);
