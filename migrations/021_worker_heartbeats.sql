-- Leases (src/leases): every process that runs a pool of background work (Currents exports, pull
-- runs, …) beats here once per renewal period, so each can tell how many processes share that pool
-- and take its fair share of it: a process that joins gets a share.
CREATE TABLE worker_heartbeats (
  pool     text NOT NULL,
  owner    text NOT NULL,
  beat_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (pool, owner)
);
