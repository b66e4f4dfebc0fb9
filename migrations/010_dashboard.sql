-- The dashboard's sign-in: the admin password (scrypt hash, when not given by RIVULET_ADMIN_PASSWORD)
-- and the signed-in sessions. Only hashes are stored: a stolen copy of this table signs no one in.
-- Numbered 010 so that the capability migrations (004…) can land in any order beside it.

CREATE TABLE dashboard_admin (
  singleton      boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  password_hash  text NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE dashboard_sessions (
  token_hash    bytea PRIMARY KEY,            -- SHA-256 of the cookie's 256-bit random token
  created_at    timestamptz NOT NULL DEFAULT now(),
  expires_at    timestamptz NOT NULL,
  last_seen_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX dashboard_sessions_expiry ON dashboard_sessions (expires_at);
