-- Action-based delivery (docs/reference/campaigns.md, "Action-based delivery"): one row per
-- (campaign, user, triggering event), written by the leased trigger reader in the transaction that
-- moves its cursor (so exactly once), then turned into a one-recipient dispatch when due.
CREATE TABLE campaign_trigger_occurrences (
  campaign_id  uuid NOT NULL REFERENCES campaigns(id),
  user_id      uuid NOT NULL,
  event_id     text NOT NULL,
  workspace_id uuid NOT NULL REFERENCES workspaces(id),
  due_at       timestamptz NOT NULL,
  properties   jsonb NOT NULL DEFAULT '{}',
  -- pending → dispatched (a dispatch made) or ineligible (re-eligibility) or expired (campaign over).
  state        text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'dispatched', 'ineligible', 'expired')),
  dispatch_id  uuid,
  PRIMARY KEY (campaign_id, user_id, event_id)
);
CREATE INDEX campaign_trigger_occurrences_due ON campaign_trigger_occurrences (due_at) WHERE state = 'pending';
