-- Content cards and in-app messages (docs/reference/sdk.md#content-cards,
-- docs/reference/sdk.md#in-app-messages). A campaign send of either channel renders its Liquid for
-- one user and writes one row here; the browser SDK reads the user's rows through its public key.
ALTER TABLE campaigns DROP CONSTRAINT IF EXISTS campaigns_channel_check;
ALTER TABLE campaigns ADD CONSTRAINT campaigns_channel_check
  CHECK (channel IN ('email', 'webhook', 'sms', 'pushnotification', 'content_card', 'in_app_message'));

-- One card per send (id = UUIDv5 of the send key): what the feed shows, and the send's context so
-- the SDK's impressions, clicks and dismissals become events of the right campaign and variant.
CREATE TABLE content_cards (
  id            uuid PRIMARY KEY,
  workspace_id  uuid NOT NULL REFERENCES workspaces(id),
  user_id       uuid NOT NULL,
  send_key      text NOT NULL UNIQUE,
  title         text NOT NULL,
  description   text NOT NULL,
  image_url     text,
  url           text,
  pinned        boolean NOT NULL DEFAULT false,
  context       jsonb NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  expires_at    timestamptz NOT NULL,
  viewed_at     timestamptz,
  clicked_at    timestamptz,
  dismissed_at  timestamptz
);
CREATE INDEX content_cards_feed ON content_cards (workspace_id, user_id, expires_at) WHERE dismissed_at IS NULL;

-- One in-app message per send, waiting on the device's user until one of its trigger events is
-- logged by the SDK. delivered_at: first handed to a device; shown_at: its first impression;
-- aborted_at: dropped unshown (expired), with its Abort event.
CREATE TABLE in_app_messages (
  id              uuid PRIMARY KEY,
  workspace_id    uuid NOT NULL REFERENCES workspaces(id),
  user_id         uuid NOT NULL,
  send_key        text NOT NULL UNIQUE,
  layout          text NOT NULL CHECK (layout IN ('modal', 'slideup')),
  header          text,
  body            text NOT NULL,
  image_url       text,
  buttons         jsonb NOT NULL,
  trigger_events  text[] NOT NULL,
  context         jsonb NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  expires_at      timestamptz NOT NULL,
  delivered_at    timestamptz,
  shown_at        timestamptz,
  clicked_at      timestamptz,
  aborted_at      timestamptz
);
CREATE INDEX in_app_messages_pending ON in_app_messages (workspace_id, user_id) WHERE shown_at IS NULL AND aborted_at IS NULL;
