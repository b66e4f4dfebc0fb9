-- Web push (docs/reference/push.md): each workspace's VAPID key pair (the private key sealed with
-- the master key, made on first use), the browsers' push subscriptions registered through the SDK
-- (one per push endpoint, tied to the SDK device that registered it: the device's user is the
-- recipient, so a change of user or a merge carries the subscription along), one row per message
-- handed to a push service (what its Open and Bounce events carry), and `pushnotification` as a
-- campaign channel.

CREATE TABLE push_vapid_keys (
  workspace_id        uuid PRIMARY KEY REFERENCES workspaces(id),
  public_key          text NOT NULL,          -- base64url, uncompressed P-256 point (65 bytes)
  private_key_sealed  bytea NOT NULL,
  created_at          timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE push_subscriptions (
  id            uuid PRIMARY KEY,
  workspace_id  uuid NOT NULL REFERENCES workspaces(id),
  sdk_app_id    uuid NOT NULL REFERENCES sdk_apps(id),
  device_id     text NOT NULL,
  endpoint      text NOT NULL,
  p256dh        text NOT NULL,
  auth          text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  UNIQUE (workspace_id, endpoint)
);
CREATE INDEX push_subscriptions_device ON push_subscriptions (workspace_id, device_id);

-- One row per (send, subscription) handed to a push service: written before the request, so the
-- Open the service worker reports finds its campaign, variant and user; `state` is pending, sent,
-- bounced (404/410) or failed (another refusal); `opened_at` makes a repeated click log one Open.
CREATE TABLE push_messages (
  send_key        uuid NOT NULL,
  subscription_id uuid NOT NULL,
  workspace_id    uuid NOT NULL REFERENCES workspaces(id),
  sdk_app_id      uuid NOT NULL,
  device_id       text NOT NULL,
  context         jsonb NOT NULL,
  state           text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'bounced', 'failed')),
  opened_at       timestamptz,
  created_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (send_key, subscription_id)
);

ALTER TABLE campaigns DROP CONSTRAINT campaigns_channel_check;
ALTER TABLE campaigns ADD CONSTRAINT campaigns_channel_check CHECK (channel IN ('email', 'webhook', 'sms', 'pushnotification'));
