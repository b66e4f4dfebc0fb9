-- Cohort import throughput (issue #3), continued from 006: the membership insert without a
-- foreign-key check per row.
--
-- * cohort_members.cohort_id loses its foreign key to cohorts. Its check was a query per inserted
--   row (about half the insert's cost once the key to users was gone). What it guaranteed is kept
--   otherwise: every path that writes memberships first locks the cohort's row with cohorts_lock()
--   below, which fails when the cohort is gone, so no membership is written for a deleted cohort;
--   a cohort deleted later waits for that lock, and the trigger below then removes its memberships,
--   as ON DELETE CASCADE did.
-- * cohorts_lock(id, timeout_ms): the per-cohort lock in one statement (lock_timeout set for the
--   wait only), raising no_data_found (P0002) when the cohort does not exist.
ALTER TABLE cohort_members DROP CONSTRAINT cohort_members_cohort_id_fkey;

CREATE FUNCTION cohorts_forget_deleted_cohorts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM cohort_members m USING old_cohorts o WHERE m.cohort_id = o.id;
  RETURN NULL;
END $$;

CREATE TRIGGER cohorts_deleted AFTER DELETE ON cohorts
  REFERENCING OLD TABLE AS old_cohorts FOR EACH STATEMENT EXECUTE FUNCTION cohorts_forget_deleted_cohorts();

CREATE FUNCTION cohorts_lock(cohort uuid, timeout_ms integer) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  PERFORM set_config('lock_timeout', greatest(timeout_ms, 1) || 'ms', true);
  PERFORM 1 FROM cohorts WHERE id = cohort FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'cohort % does not exist', cohort USING ERRCODE = 'no_data_found';
  END IF;
  PERFORM set_config('lock_timeout', '0', true);
END $$;
