-- The Braze-shaped messaging API (docs/reference/messaging-api.md): scheduled sends, send ids,
-- subscription group states and when an address unsubscribed.

-- A schedule is a row the send workers pick up when it is due (FOR UPDATE SKIP LOCKED in the
-- transaction that writes its dispatch, so several processes never fire one run twice).
-- kind: messages (a /messages/schedule body, its dispatch definition built when it was checked)
-- or launch (an admin campaign schedule, once or recurring).
CREATE TABLE campaign_schedules (
  id            uuid PRIMARY KEY,
  workspace_id  uuid NOT NULL REFERENCES workspaces(id),
  kind          text NOT NULL CHECK (kind IN ('messages', 'launch')),
  -- The dispatches to write: [{campaign_id, definition, trigger}] (messages) or null (launch: the campaign's own).
  payload       jsonb,
  campaign_id   uuid REFERENCES campaigns(id),
  run_at        timestamptz NOT NULL,
  -- null: once; day | week | month.
  recurrence    text CHECK (recurrence IN ('day', 'week', 'month')),
  until_at      timestamptz,
  -- The first run's dispatch id, answered at creation (Braze returns it then).
  first_dispatch_id uuid NOT NULL,
  runs          integer NOT NULL DEFAULT 0,
  state         text NOT NULL DEFAULT 'scheduled' CHECK (state IN ('scheduled', 'done', 'deleted')),
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX campaign_schedules_due ON campaign_schedules (run_at) WHERE state = 'scheduled';

-- /sends/id/create: send ids registered for a campaign (100 new a workspace a UTC day).
CREATE TABLE campaign_send_ids (
  workspace_id  uuid NOT NULL REFERENCES workspaces(id),
  campaign_id   uuid NOT NULL REFERENCES campaigns(id),
  send_id       text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workspace_id, campaign_id, send_id)
);

-- A user's state in a subscription group (no row = Unknown).
CREATE TABLE subscription_group_states (
  workspace_id  uuid NOT NULL REFERENCES workspaces(id),
  group_id      text NOT NULL,
  user_id       uuid NOT NULL,
  state         text NOT NULL CHECK (state IN ('subscribed', 'unsubscribed')),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workspace_id, group_id, user_id)
);

-- When an address's global email state became unsubscribed (GET /email/unsubscribes).
CREATE TABLE email_unsubscribes (
  workspace_id    uuid NOT NULL REFERENCES workspaces(id),
  email           text NOT NULL,
  unsubscribed_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workspace_id, email)
);
CREATE INDEX email_unsubscribes_time ON email_unsubscribes (workspace_id, unsubscribed_at);
