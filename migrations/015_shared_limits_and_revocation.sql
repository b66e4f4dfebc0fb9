-- Several Rivulet processes on one PostgreSQL share their rate limits and hear each other's
-- revocations (docs/access-control.md).

-- Fixed-window counters of the REST rate limits, the failed-authentication throttle and the
-- sign-in throttle, one row per bucket (a key and a limit, an address and a key prefix, ...).
-- UNLOGGED: no WAL for a counter that is rewritten on every request; after a crash of PostgreSQL
-- the table comes back empty, which at worst gives every bucket a fresh window.
CREATE UNLOGGED TABLE rate_limit_counters (
  bucket      text PRIMARY KEY,
  window_end  bigint NOT NULL,                  -- epoch milliseconds, on the database's clock
  hits        bigint NOT NULL
);

-- Every change that ends a credential notifies the channel `rivulet_credentials` with the table's
-- name, whoever makes it (the admin API of any process, the CLI, SQL by hand). Each process
-- LISTENs and drops what it cached of that kind. Statement-level, on the columns that matter:
-- a `last_used_at` touch does not fire it.
CREATE FUNCTION rivulet_notify_credentials() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('rivulet_credentials', TG_TABLE_NAME);
  RETURN NULL;
END
$$;

CREATE TRIGGER api_keys_credentials_changed
  AFTER UPDATE OF revoked_at, permissions, key_hash, workspace_id OR DELETE ON api_keys
  FOR EACH STATEMENT EXECUTE FUNCTION rivulet_notify_credentials();
CREATE TRIGGER data_import_keys_credentials_changed
  AFTER UPDATE OF state, key_hash OR DELETE ON data_import_keys
  FOR EACH STATEMENT EXECUTE FUNCTION rivulet_notify_credentials();
CREATE TRIGGER dashboard_sessions_credentials_changed
  AFTER DELETE ON dashboard_sessions
  FOR EACH STATEMENT EXECUTE FUNCTION rivulet_notify_credentials();
CREATE TRIGGER dashboard_admin_credentials_changed
  AFTER UPDATE OR DELETE ON dashboard_admin
  FOR EACH STATEMENT EXECUTE FUNCTION rivulet_notify_credentials();
