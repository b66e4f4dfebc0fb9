-- SMS through a Twilio-compatible provider (docs/reference/sms.md): per-workspace provider settings
-- (the auth token sealed with the master key), one row per message handed to the provider (its SID
-- names the send whose status callbacks follow), each user's SMS subscription state, and `sms`
-- as a campaign channel.

CREATE TABLE sms_settings (
  workspace_id          uuid PRIMARY KEY REFERENCES workspaces(id),
  account_sid           text NOT NULL,
  auth_token_sealed     bytea NOT NULL,
  from_number           text,
  messaging_service_sid text,
  base_url              text NOT NULL,
  updated_at            timestamptz NOT NULL DEFAULT now(),
  CHECK (from_number IS NOT NULL OR messaging_service_sid IS NOT NULL)
);

-- Written before the provider is called (a callback may overtake the answer that names the SID:
-- the callback URL carries the send key, and the signature covers it).
CREATE TABLE sms_messages (
  send_key      uuid PRIMARY KEY,
  message_sid   text UNIQUE,
  workspace_id  uuid NOT NULL REFERENCES workspaces(id),
  to_number     text NOT NULL,
  from_number   text,
  -- What the events of this message carry (campaign, variant, user), fixed at send time.
  context       jsonb NOT NULL,
  status        text NOT NULL DEFAULT 'queued',
  -- Event types already logged for it: a repeated or late callback adds nothing twice.
  reported      text[] NOT NULL DEFAULT '{}',
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE sms_subscriptions (
  workspace_id  uuid NOT NULL REFERENCES workspaces(id),
  user_id       uuid NOT NULL,
  state         text NOT NULL CHECK (state IN ('subscribed', 'unsubscribed')),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workspace_id, user_id)
);

-- Users are matched by phone number on inbound messages: digits only, so '+1 (555) 010-0000' and
-- '+15550100000' are the same number.
CREATE INDEX users_phone_digits ON users (workspace_id, (regexp_replace(phone, '[^0-9]', '', 'g'))) WHERE phone IS NOT NULL;

ALTER TABLE campaigns DROP CONSTRAINT campaigns_channel_check;
ALTER TABLE campaigns ADD CONSTRAINT campaigns_channel_check CHECK (channel IN ('email', 'webhook', 'sms'));
