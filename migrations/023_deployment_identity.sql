-- One identity for a deployment of several processes on one PostgreSQL (issue 21).
--
-- `deployment_identity` keeps what every process must agree on, never a secret itself: the master
-- key's check value (an HMAC of a constant under the key, src/secrets/identity.ts). A process
-- whose key gives another value refuses to start.
--
-- `partner_api_keys` keeps the SHA-256 hashes of the partner API keys in force for the partners
-- that have no `RIVULET_PARTNER_API_KEY_<PARTNER>` in a process's environment: generated once by
-- the first process (which prints the key once), or recorded from the environment of the last
-- process started with one. Small, global tables (reference tables on a distributed PostgreSQL).
CREATE TABLE deployment_identity (
  name        text PRIMARY KEY,
  value       bytea NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE partner_api_keys (
  partner     text NOT NULL,
  key_hash    bytea NOT NULL,
  source      text NOT NULL CHECK (source IN ('generated', 'environment', 'file')),
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (partner, key_hash)
);
