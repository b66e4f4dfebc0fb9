-- Dashboard sessions the admin can list and revoke one by one (GET/DELETE /admin/sessions), and the
-- time of the last password change (docs/access-control.md#sessions).
ALTER TABLE dashboard_sessions ADD COLUMN id uuid NOT NULL DEFAULT gen_random_uuid();
ALTER TABLE dashboard_sessions ADD CONSTRAINT dashboard_sessions_id_key UNIQUE (id);
ALTER TABLE dashboard_sessions ADD COLUMN address text;       -- the client address at sign-in
ALTER TABLE dashboard_sessions ADD COLUMN user_agent text;    -- its User-Agent, first 256 characters

ALTER TABLE dashboard_admin ADD COLUMN changed_at timestamptz;
