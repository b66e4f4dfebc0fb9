-- Global frequency capping (docs/reference/campaigns.md, "Frequency cap and quiet hours"): each
-- workspace's rules, and one row per message that passed the cap (taken under the user's advisory
-- lock, so concurrent processes never let more through than a rule allows).
CREATE TABLE frequency_cap_rules (
  workspace_id uuid PRIMARY KEY REFERENCES workspaces(id) ON DELETE CASCADE,
  rules        jsonb NOT NULL,
  updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE frequency_cap_hits (
  workspace_id uuid NOT NULL,
  user_id      uuid NOT NULL,
  channel      text NOT NULL,
  taken_at     timestamptz NOT NULL,
  send_key     uuid NOT NULL PRIMARY KEY
);
CREATE INDEX frequency_cap_hits_user ON frequency_cap_hits (workspace_id, user_id, taken_at);
