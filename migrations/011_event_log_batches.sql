-- The event log becomes a log of record batches (as Kafka stores its records): one row holds the
-- events one transaction appended for one workspace, as a JSON array in log order. Writing a row
-- per event cost ≈ 15 µs of PostgreSQL CPU per event (a heap tuple and its index entries each);
-- a batch row costs that once per batch. See src/events/log.ts for the reading side.
--
-- An event's position stays a pair (txid, seq): seq = batch seq × 65536 + the event's index in the
-- batch, so cursors keep their shape and order. The `event_log` view below unpacks the batches
-- into the old one-row-per-event form for ad hoc queries, the dashboard and tests.
CREATE TABLE event_batches (
  txid          xid8 NOT NULL DEFAULT pg_current_xact_id(),
  seq           bigint GENERATED ALWAYS AS IDENTITY,
  workspace_id  uuid NOT NULL,
  count         int NOT NULL CHECK (count BETWEEN 1 AND 65536),
  min_time      bigint NOT NULL,
  max_time      bigint NOT NULL,
  events        json NOT NULL,
  recorded_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (txid, seq)
);
-- lz4 where the server has it (PostgreSQL builds usually do; PGlite does not): a batch is
-- compressed once, at a fraction of pglz's CPU.
DO $$
BEGIN
  ALTER TABLE event_batches ALTER COLUMN events SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN
  NULL;
END $$;

-- The publish API's idempotency (a retried POST /currents/events writes nothing twice) needs the
-- ids it has seen; events the core generates carry fresh UUIDs and need no check.
CREATE TABLE published_event_ids (
  workspace_id  uuid NOT NULL,
  id            text NOT NULL,
  PRIMARY KEY (workspace_id, id)
);

-- Existing events become one-event batches with their old seq, so that position (txid, s) becomes
-- (txid, s × 65536), which is how the connectors' cursors are carried over.
INSERT INTO event_batches (txid, seq, workspace_id, count, min_time, max_time, events, recorded_at)
  OVERRIDING SYSTEM VALUE
  SELECT txid, seq, workspace_id, 1, time, time, json_build_array(body), recorded_at FROM event_log ORDER BY txid, seq;
SELECT setval(pg_get_serial_sequence('event_batches', 'seq'), greatest((SELECT max(seq) FROM event_batches), 1));
INSERT INTO published_event_ids (workspace_id, id) SELECT workspace_id, id FROM event_log ON CONFLICT DO NOTHING;
UPDATE currents_connectors SET cursor_seq = cursor_seq * 65536;
DROP TABLE event_log;

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
