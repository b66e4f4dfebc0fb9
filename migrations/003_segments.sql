-- Segments: saved audiences, and the change log that keeps every process's in-memory segment
-- bitmaps fresh (src/segments/evaluator.ts explains the design).

CREATE TABLE segments (
  id            uuid PRIMARY KEY,
  workspace_id  uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
  name          text NOT NULL,
  description   text,
  filter        jsonb NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  UNIQUE (workspace_id, name)
);

-- Which users changed in a way a cached profile filter can see (created, deleted, or a new
-- external id, email or custom attributes), and in which transaction. A reader holding a snapshot
-- asks for the rows its snapshot did not see, so a late-committing writer is never skipped.
CREATE TABLE segment_user_changes (
  txid          xid8 NOT NULL DEFAULT pg_current_xact_id(),
  workspace_id  uuid NOT NULL,
  ordinal       bigint NOT NULL
);
CREATE INDEX segment_user_changes_recent ON segment_user_changes (workspace_id, txid);

-- Change rows with a txid below `pruned_below` may have been deleted; a cache whose snapshot is
-- older than that reloads instead of trusting the log. One row.
CREATE TABLE segment_change_horizon (
  singleton     boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  pruned_below  xid8 NOT NULL
);

CREATE FUNCTION segments_note_new_users() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO segment_user_changes (workspace_id, ordinal) SELECT workspace_id, ordinal FROM new_users;
  RETURN NULL;
END $$;

CREATE FUNCTION segments_note_deleted_users() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO segment_user_changes (workspace_id, ordinal) SELECT workspace_id, ordinal FROM old_users;
  RETURN NULL;
END $$;

CREATE FUNCTION segments_note_changed_users() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO segment_user_changes (workspace_id, ordinal)
  SELECT n.workspace_id, n.ordinal FROM new_users n JOIN old_users o ON o.id = n.id
   WHERE n.custom_attributes IS DISTINCT FROM o.custom_attributes
      OR n.external_id IS DISTINCT FROM o.external_id
      OR n.email IS DISTINCT FROM o.email;
  RETURN NULL;
END $$;

-- Statement-level, so a 75-user /users/track batch costs one insert, not 75.
CREATE TRIGGER segments_users_inserted AFTER INSERT ON users
  REFERENCING NEW TABLE AS new_users FOR EACH STATEMENT EXECUTE FUNCTION segments_note_new_users();
CREATE TRIGGER segments_users_deleted AFTER DELETE ON users
  REFERENCING OLD TABLE AS old_users FOR EACH STATEMENT EXECUTE FUNCTION segments_note_deleted_users();
CREATE TRIGGER segments_users_updated AFTER UPDATE ON users
  REFERENCING NEW TABLE AS new_users OLD TABLE AS old_users FOR EACH STATEMENT EXECUTE FUNCTION segments_note_changed_users();

-- Behaviour filters look up one event or product name over a range of days.
CREATE INDEX user_event_stats_by_name ON user_event_stats (kind, name, day);
