-- Per-minute delivery history of each Current (docs/reference/currents.md §3, "History"): one row per
-- connector, bucket and metric. Writers add to a row (sums) or raise it (maxima, metrics named
-- `*_max`), so several processes may write the same minute. Minute rows older than 48 hours are
-- rolled up into hour rows ('h'); hour rows older than 30 days are deleted.
CREATE TABLE currents_history (
  connector_id uuid NOT NULL REFERENCES currents_connectors(id) ON DELETE CASCADE,
  resolution   char(1) NOT NULL CHECK (resolution IN ('m', 'h')),
  bucket       timestamptz NOT NULL,
  metric       text NOT NULL,
  value        double precision NOT NULL,
  PRIMARY KEY (connector_id, resolution, bucket, metric)
);
CREATE INDEX currents_history_age ON currents_history (resolution, bucket);
