-- Keys that include workspace_id, for a distributed PostgreSQL (Citus) with workspace_id as the
-- distribution column (docs/scaling.md#past-one-postgresql-on-paper). Only the changes that cost
-- nothing today: same number of indexes, no query that looks the old key up alone.
--
-- cohort_syncs grows with every cohort change; its rows are only inserted and read by workspace
-- (src/cohorts/sync-history.ts), never by id alone. A distributed table's primary key must contain
-- the distribution column. Ids stay unique (random UUIDs), so nothing that held stops holding.
ALTER TABLE cohort_syncs DROP CONSTRAINT cohort_syncs_pkey;
ALTER TABLE cohort_syncs ADD PRIMARY KEY (workspace_id, id);
