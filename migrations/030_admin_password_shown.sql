-- A generated admin password is stored (as its hash) before it is printed. `generated_at` says it
-- was generated rather than given; `shown_at` that it was printed. A generated password never shown
-- (the start that made it failed first) is replaced, with a message, at the next start
-- (src/web/server/password.ts). Rows from before: neither set, taken as shown.
ALTER TABLE dashboard_admin ADD COLUMN generated_at timestamptz;
ALTER TABLE dashboard_admin ADD COLUMN shown_at timestamptz;
