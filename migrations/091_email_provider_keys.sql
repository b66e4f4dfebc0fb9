-- Inbound provider events (docs/reference/campaigns.md, "Provider events"): each workspace's
-- verification key of its email provider's signed event webhook (SendGrid: a base64 P-256 public
-- key; public, so stored as is).
CREATE TABLE email_provider_keys (
  workspace_id uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
  provider     text NOT NULL CHECK (provider IN ('sendgrid')),
  public_key   text NOT NULL,
  updated_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workspace_id, provider)
);
