-- API-triggered campaigns (docs/reference/campaigns.md §7): a trigger dispatch names its recipients
-- (user ids with their trigger properties, or everyone in the audience for a broadcast), and each
-- send row keeps the properties its templates render as `api_trigger_properties`.
ALTER TABLE campaign_dispatches ADD COLUMN trigger jsonb;
ALTER TABLE campaign_sends ADD COLUMN trigger_properties jsonb;
