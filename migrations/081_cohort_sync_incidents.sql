-- Open cohort-sync incidents (docs/reference/cohort-import.md §8.3): a dynamic sync flagged stale or
-- a pull connection that failed. A row is inserted when the incident starts (that insert and the
-- notice to the contact share one transaction, so the contact hears once per incident, whichever
-- process sees it first) and deleted when it ends (with a recovery notice).
CREATE TABLE cohort_sync_incidents (
  workspace_id uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
  kind         text NOT NULL CHECK (kind IN ('stale_pull_connection', 'stale_webhook_cohort', 'failed_pull_connection')),
  target_id    text NOT NULL,
  name         text NOT NULL,
  started_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workspace_id, kind, target_id)
);
