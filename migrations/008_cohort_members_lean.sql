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

-- cohorts_lock_members(id, timeout_ms, user_ids): cohorts_lock, then which of the users (uuids,
-- comma-separated) are members of the cohort, comma-separated (NULL for none): the lock and the
-- membership read that must follow it, in one round trip. Each user is probed through the primary
-- key: LATERAL with LIMIT 1 cannot become a (semi) join that scans the whole cohort, which the
-- planner may choose with stale or missing statistics (PGlite has no autovacuum).
CREATE FUNCTION cohorts_lock_members(p_cohort uuid, p_timeout_ms integer, p_users text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  found text;
BEGIN
  PERFORM cohorts_lock(p_cohort, p_timeout_ms);
  SELECT string_agg(q.u::text, ',') INTO found
    FROM unnest(string_to_array(p_users, ',')::uuid[]) AS q(u)
   CROSS JOIN LATERAL (SELECT 1 FROM cohort_members m WHERE m.user_id = q.u AND m.cohort_id = p_cohort LIMIT 1) x;
  RETURN found;
END $$;
