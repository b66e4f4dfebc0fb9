-- Per-step statistics of Canvases (docs/reference/canvases.md, "Step statistics"). The engine keeps
-- only where each entry is now; these counters keep how entries moved, written by triggers in the
-- transaction of each move, so the engine's code is unchanged. One row per (Canvas, version, from,
-- to, outcome, shard): the shard is the backend's pid modulo 16, so concurrent workers add to
-- different rows and never wait on each other's counter. The steps an entry passed through inside
-- one commit (instant steps) are inferred from the diagram when the counters are read.
--   from_step ''  : the entry itself (a new entry)       to_step '' : no step (the journey ended)
--   outcome entered (a new entry at the first step), control (a new entry in the control group),
--           moved (to another step, or to the end), ended (the journey ended at from_step without
--           moving: a date passed, an experiment's control, a step removed), exited (exit criteria
--           or the Canvas stopped), converted (a conversion while at from_step).

CREATE TABLE canvas_step_counts (
  canvas_id  uuid NOT NULL REFERENCES canvases(id),
  version    integer NOT NULL,
  from_step  text NOT NULL,
  to_step    text NOT NULL,
  outcome    text NOT NULL CHECK (outcome IN ('entered', 'control', 'moved', 'ended', 'exited', 'converted')),
  shard      smallint NOT NULL,
  n          bigint NOT NULL,
  PRIMARY KEY (canvas_id, version, from_step, to_step, outcome, shard)
);

CREATE FUNCTION canvas_count_entries() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO canvas_step_counts (canvas_id, version, from_step, to_step, outcome, shard, n)
  SELECT canvas_id, version, '', coalesce(step_id, ''), CASE WHEN state = 'active' THEN 'entered' ELSE 'control' END, pg_backend_pid() % 16, count(*)
    FROM new_entries GROUP BY 1, 2, 3, 4, 5
  ON CONFLICT (canvas_id, version, from_step, to_step, outcome, shard) DO UPDATE SET n = canvas_step_counts.n + EXCLUDED.n;
  RETURN NULL;
END $$;

CREATE TRIGGER canvas_entries_counted AFTER INSERT ON canvas_entries
  REFERENCING NEW TABLE AS new_entries FOR EACH STATEMENT EXECUTE FUNCTION canvas_count_entries();

CREATE FUNCTION canvas_count_move() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  how text;
BEGIN
  IF OLD.state <> 'active' THEN
    RETURN NULL;
  ELSIF NEW.state = 'exited' THEN
    how := 'exited';
  ELSIF NEW.state = 'done' AND NEW.step_id IS NOT DISTINCT FROM OLD.step_id THEN
    how := 'ended';
  ELSE
    how := 'moved';
  END IF;
  INSERT INTO canvas_step_counts (canvas_id, version, from_step, to_step, outcome, shard, n)
  VALUES (NEW.canvas_id, NEW.version, coalesce(OLD.step_id, ''), CASE WHEN how = 'exited' THEN '' ELSE coalesce(NEW.step_id, '') END, how, pg_backend_pid() % 16, 1)
  ON CONFLICT (canvas_id, version, from_step, to_step, outcome, shard) DO UPDATE SET n = canvas_step_counts.n + 1;
  RETURN NULL;
END $$;

-- Lease claims and releases change neither column, so they do not fire it.
CREATE TRIGGER canvas_entries_moved AFTER UPDATE ON canvas_entries
  FOR EACH ROW WHEN (OLD.step_id IS DISTINCT FROM NEW.step_id OR OLD.state IS DISTINCT FROM NEW.state)
  EXECUTE FUNCTION canvas_count_move();

CREATE FUNCTION canvas_count_conversion() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- One per entry: experiment conversions (negative behaviors) are the experiment's own figure.
  IF NEW.behavior < 0 THEN
    RETURN NULL;
  END IF;
  INSERT INTO canvas_step_counts (canvas_id, version, from_step, to_step, outcome, shard, n)
  SELECT e.canvas_id, e.version, coalesce(e.step_id, ''), '', 'converted', pg_backend_pid() % 16, 1 FROM canvas_entries e WHERE e.id = NEW.entry_id
  ON CONFLICT (canvas_id, version, from_step, to_step, outcome, shard) DO UPDATE SET n = canvas_step_counts.n + 1;
  RETURN NULL;
END $$;

CREATE TRIGGER canvas_conversions_counted AFTER INSERT ON canvas_conversions
  FOR EACH ROW EXECUTE FUNCTION canvas_count_conversion();
