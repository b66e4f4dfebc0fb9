-- Campaigns and the durable send pipeline (docs/reference/campaigns.md). A dispatch is committed
-- before its launch is acknowledged; its audience resolves into one `campaign_sends` row per
-- considered user, keyed by UUIDv5(dispatch, user, channel), written before any attempt and claimed
-- by workers with leases (FOR UPDATE SKIP LOCKED), so several processes share the work and a crash
-- mid-campaign repeats nobody's message.

CREATE TABLE campaigns (
  id            uuid PRIMARY KEY,
  workspace_id  uuid NOT NULL REFERENCES workspaces(id),
  name          text NOT NULL,
  channel       text NOT NULL CHECK (channel IN ('email', 'webhook')),
  state         text NOT NULL DEFAULT 'draft' CHECK (state IN ('draft', 'active', 'paused', 'stopped', 'archived')),
  definition    jsonb NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX campaigns_workspace ON campaigns (workspace_id, created_at, id);

CREATE TABLE campaign_dispatches (
  id            uuid PRIMARY KEY,
  workspace_id  uuid NOT NULL REFERENCES workspaces(id),
  campaign_id   uuid NOT NULL REFERENCES campaigns(id),
  -- The definition as launched: later edits do not change a dispatch under way.
  definition    jsonb NOT NULL,
  -- queued: audience not resolved yet; resolved: every send row written.
  state         text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'resolved')),
  considered    integer NOT NULL DEFAULT 0,
  resolve_owner text,
  resolve_lease_until timestamptz,
  created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX campaign_dispatches_queued ON campaign_dispatches (created_at) WHERE state = 'queued';

CREATE TABLE campaign_sends (
  send_key      uuid PRIMARY KEY,
  workspace_id  uuid NOT NULL REFERENCES workspaces(id),
  dispatch_id   uuid NOT NULL REFERENCES campaign_dispatches(id),
  campaign_id   uuid NOT NULL REFERENCES campaigns(id),
  user_id       uuid NOT NULL,
  variant_id    text NOT NULL,
  -- queued → sent (email: delivered / bounced / soft_bounced) or aborted; control and skipped end at once.
  state         text NOT NULL CHECK (state IN ('queued', 'sent', 'delivered', 'bounced', 'soft_bounced', 'aborted', 'control', 'skipped')),
  reason        text,
  attempts      integer NOT NULL DEFAULT 0,
  first_attempt_at timestamptz,
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  lease_owner   text,
  lease_until   timestamptz,
  attempt_log   jsonb NOT NULL DEFAULT '[]',
  delivered_at  timestamptz,
  -- First open, click and unsubscribe: the unique counts of the campaign's statistics.
  opened_at     timestamptz,
  clicked_at    timestamptz,
  unsubscribed_at timestamptz,
  created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX campaign_sends_due ON campaign_sends (next_attempt_at) WHERE state = 'queued';
CREATE INDEX campaign_sends_dispatch ON campaign_sends (dispatch_id, state);
CREATE INDEX campaign_sends_user ON campaign_sends (workspace_id, user_id, created_at);

-- Addresses that bounced hard or complained (Braze's flags; neither changes email_subscribe).
CREATE TABLE email_address_flags (
  workspace_id     uuid NOT NULL REFERENCES workspaces(id),
  email            text NOT NULL,
  hard_bounced_at  timestamptz,
  spam_reported_at timestamptz,
  PRIMARY KEY (workspace_id, email)
);
