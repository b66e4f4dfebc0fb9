-- Campaign delivery rules (docs/reference/campaigns.md, "Conversions" and "Rate limit").
--
-- campaign_log_readers: the position of each leased reader of the event log run by the campaign
-- engine (the conversion reader). The cursor moves in the same transaction that appends what the
-- events read produced, fenced by the lease, so every event is handled exactly once.
CREATE TABLE campaign_log_readers (
  name        text PRIMARY KEY,
  cursor_txid text NOT NULL DEFAULT '0',
  cursor_seq  bigint NOT NULL DEFAULT 0,
  lease_owner text,
  lease_until timestamptz
);

-- One conversion per receipt (a send row: delivered, sent or control) × behavior.
CREATE TABLE campaign_conversions (
  send_key       uuid NOT NULL,
  behavior_index integer NOT NULL,
  event_id       text NOT NULL,
  converted_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (send_key, behavior_index)
);

-- Rate limit: one row per attempt of a rate-limited campaign, taken under the campaign's advisory
-- lock; no 60 s window may hold more than the campaign's limit. Rows older than a minute are pruned.
CREATE TABLE campaign_rate_slots (
  campaign_id uuid NOT NULL,
  taken_at    timestamptz NOT NULL,
  send_key    uuid NOT NULL
);
CREATE INDEX campaign_rate_slots_window ON campaign_rate_slots (campaign_id, taken_at);
