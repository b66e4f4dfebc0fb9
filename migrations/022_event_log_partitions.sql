-- The event log stops growing (issue 21): `event_batches` and the publish API's
-- `published_event_ids` become tables partitioned by time (PostgreSQL's native range partitioning
-- on `recorded_at`, on PGlite as on a server), so the log is kept for a window (default 7 days,
-- RIVULET_EVENT_LOG_RETENTION_SECONDS) and old history goes by dropping whole partitions, never by
-- row DELETEs. src/events/retention.ts creates partitions ahead of time and drops expired ones once
-- no connector needs them (docs/scaling.md#the-event-logs-window).
--
-- Positions stay (txid, seq): seq comes from a sequence carried over from the old identity column;
-- the key becomes (txid, seq, recorded_at) because a partitioned table's keys include its partition
-- key. Existing rows are copied into a first partition that reaches back to the beginning of time
-- and ends two days ahead (so a store migrated but not yet maintained takes writes); later
-- partitions follow it without gaps.

DROP VIEW event_log;
ALTER TABLE event_batches RENAME TO event_batches_unpartitioned;
ALTER TABLE published_event_ids RENAME TO published_event_ids_unpartitioned;

CREATE SEQUENCE event_batches_seq;
SELECT setval('event_batches_seq', greatest((SELECT max(seq) FROM event_batches_unpartitioned), 1));

CREATE TABLE event_batches (
  txid          xid8 NOT NULL DEFAULT pg_current_xact_id(),
  seq           bigint NOT NULL DEFAULT nextval('event_batches_seq'),
  workspace_id  uuid NOT NULL,
  count         int NOT NULL CHECK (count BETWEEN 1 AND 65536),
  min_time      bigint NOT NULL,
  max_time      bigint NOT NULL,
  events        json NOT NULL,
  recorded_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (txid, seq, recorded_at)
) PARTITION BY RANGE (recorded_at);
ALTER SEQUENCE event_batches_seq OWNED BY event_batches.seq;

-- Idempotency ids of the publish API expire with the window. A partitioned table cannot hold a
-- unique key without its partition key, so uniqueness per (workspace, id) is kept by the writer
-- (src/events/log.ts: the ids' advisory locks, then an insert of those not present).
CREATE TABLE published_event_ids (
  workspace_id  uuid NOT NULL,
  id            text NOT NULL,
  recorded_at   timestamptz NOT NULL DEFAULT now()
) PARTITION BY RANGE (recorded_at);

-- The partitions that exist, with their bounds: what retention reads to decide what to drop.
CREATE TABLE event_log_partitions (
  name       text PRIMARY KEY,
  parent     text NOT NULL CHECK (parent IN ('event_batches', 'published_event_ids')),
  starts_at  timestamptz,             -- NULL: from the beginning of time
  ends_at    timestamptz NOT NULL,
  UNIQUE (parent, ends_at)
);

-- Creates one partition of `parent` for [starts_at, ends_at) and records it. Names are derived here.
CREATE FUNCTION event_log_add_partition(p_parent text, p_start timestamptz, p_end timestamptz) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  part text := p_parent || '_p' || to_char(p_end AT TIME ZONE 'UTC', 'YYYYMMDD"t"HH24MISS');
BEGIN
  IF p_parent NOT IN ('event_batches', 'published_event_ids') THEN
    RAISE EXCEPTION 'not a partitioned log table: %', p_parent;
  END IF;
  EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%s) TO (%L)', part, p_parent,
                 CASE WHEN p_start IS NULL THEN 'MINVALUE' ELSE quote_literal(p_start) END, p_end);
  IF p_parent = 'event_batches' THEN
    BEGIN
      EXECUTE format('ALTER TABLE %I ALTER COLUMN events SET COMPRESSION lz4', part);
    EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN
      NULL;
    END;
  END IF;
  INSERT INTO event_log_partitions (name, parent, starts_at, ends_at) VALUES (part, p_parent, p_start, p_end);
  RETURN part;
END $$;

SELECT event_log_add_partition('event_batches', NULL, date_trunc('day', now()) + interval '2 days');
SELECT event_log_add_partition('published_event_ids', NULL, date_trunc('day', now()) + interval '2 days');
CREATE INDEX published_event_ids_lookup ON published_event_ids (workspace_id, id);

INSERT INTO event_batches (txid, seq, workspace_id, count, min_time, max_time, events, recorded_at)
  SELECT txid, seq, workspace_id, count, min_time, max_time, events, recorded_at
    FROM event_batches_unpartitioned ORDER BY txid, seq;
INSERT INTO published_event_ids (workspace_id, id, recorded_at)
  SELECT workspace_id, id, now() FROM published_event_ids_unpartitioned;
DROP TABLE event_batches_unpartitioned;
DROP TABLE published_event_ids_unpartitioned;

CREATE VIEW event_log AS
  SELECT b.txid,
         b.seq * 65536 + (e.n - 1) AS seq,
         b.workspace_id,
         e.body ->> 'id' AS id,
         e.body ->> 'event_type' AS event_type,
         (e.body ->> 'time')::bigint AS time,
         (e.body -> 'user' ->> 'user_id')::uuid AS user_id,
         e.body -> 'user' ->> 'external_user_id' AS external_user_id,
         e.body AS body,
         b.recorded_at
    FROM event_batches b CROSS JOIN LATERAL json_array_elements(b.events) WITH ORDINALITY AS e(body, n);
