-- Segment bitmaps saved in the database, so that a process that starts (or evicted one) reads a
-- condition's members at disk speed instead of scanning every user (src/segments/evaluator.ts,
-- docs/reference/segments.md). One row per workspace and condition or cohort (`atom_key`, the
-- evaluator's cache key). A profile condition's bitmap is current as of `as_of` (a pg_snapshot,
-- as text) and is brought up to date from the user change log when read; a cohort's reflects
-- `members_version`. `token` names one write, so a process refreshes only a row it wrote.
CREATE TABLE segment_bitmaps (
  workspace_id     uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
  atom_key         text NOT NULL,
  as_of            text,
  members_version  bigint,
  token            uuid NOT NULL,
  bitmap           bytea NOT NULL,
  saved_at         timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workspace_id, atom_key)
);
-- Already compact: stored out of line without trying to compress it again.
ALTER TABLE segment_bitmaps ALTER COLUMN bitmap SET STORAGE EXTERNAL;
