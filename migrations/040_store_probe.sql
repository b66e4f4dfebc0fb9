-- One row the store-health probe rewrites (src/storage/health.ts): after a write failed for lack
-- of space or a lost connection, a successful write here makes the server ready again.
CREATE TABLE IF NOT EXISTS store_probe (
  id integer PRIMARY KEY,
  probed_at timestamptz NOT NULL
);
