-- Cohort import throughput (issue #3): cheaper membership writes.
--
-- * The primary key becomes (user_id, cohort_id). It enforces the same uniqueness and serves every
--   lookup by user (merges, user deletion, the profile's cohorts), so the separate user_id index
--   goes. Scans of one cohort use a plain index on cohort_id: new rows append at its right end.
-- * The foreign key to users goes: its per-row check was about half the cost of an insert. What it
--   guaranteed is kept otherwise: the cohort apply paths lock the users they add (FOR KEY SHARE,
--   the lock the key's check took), so a user cannot be deleted under a membership being written,
--   and the trigger below removes a deleted user's memberships, as ON DELETE CASCADE did.
ALTER TABLE cohort_members DROP CONSTRAINT cohort_members_user_id_fkey;
ALTER TABLE cohort_members DROP CONSTRAINT cohort_members_pkey;
DROP INDEX cohort_members_user;
ALTER TABLE cohort_members ADD CONSTRAINT cohort_members_pkey PRIMARY KEY (user_id, cohort_id);
CREATE INDEX cohort_members_cohort ON cohort_members (cohort_id);

CREATE FUNCTION cohorts_forget_deleted_users() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM cohort_members m USING old_users o WHERE m.user_id = o.id;
  RETURN NULL;
END $$;

-- Statement-level, like the segments triggers: one delete per statement, whatever its size.
CREATE TRIGGER cohorts_users_deleted AFTER DELETE ON users
  REFERENCING OLD TABLE AS old_users FOR EACH STATEMENT EXECUTE FUNCTION cohorts_forget_deleted_users();
