-- Canvases: multi-step journeys on durable timers (docs/reference/canvases.md). A Canvas keeps every
-- launched version of its definition; each user's journey is one `canvas_entries` row holding the
-- step it is at, what it waits for and until when (`due_at`). Workers claim due rows with leases
-- (FOR UPDATE SKIP LOCKED): waiting costs a row, not memory, and several processes share the work.

CREATE TABLE canvases (
  id            uuid PRIMARY KEY,
  workspace_id  uuid NOT NULL REFERENCES workspaces(id),
  name          text NOT NULL,
  description   text NOT NULL DEFAULT '',
  tags          jsonb NOT NULL DEFAULT '[]',
  state         text NOT NULL DEFAULT 'draft' CHECK (state IN ('draft', 'active', 'paused', 'stopped', 'archived')),
  -- The newest version; entries keep the version they entered on.
  version       integer NOT NULL DEFAULT 1,
  first_entry   timestamptz,
  last_entry    timestamptz,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX canvases_workspace ON canvases (workspace_id, created_at, id);

CREATE TABLE canvas_versions (
  canvas_id     uuid NOT NULL REFERENCES canvases(id),
  version       integer NOT NULL,
  definition    jsonb NOT NULL,
  -- A version becomes immutable once launched (an edit after launch makes the next version).
  launched      boolean NOT NULL DEFAULT false,
  created_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (canvas_id, version)
);

CREATE TABLE canvas_entries (
  id            uuid PRIMARY KEY,
  workspace_id  uuid NOT NULL REFERENCES workspaces(id),
  canvas_id     uuid NOT NULL REFERENCES canvases(id),
  version       integer NOT NULL,
  user_id       uuid NOT NULL,
  variant_id    text NOT NULL,
  entry_properties jsonb NOT NULL DEFAULT '{}',
  -- The properties of the event that routed the latest Action Paths step (Braze's event_properties).
  event_properties jsonb NOT NULL DEFAULT '{}',
  step_id       text,
  -- run: the step runs at due_at; wait: a Delay ends at due_at; listen: an Action Paths window ends at due_at.
  phase         text NOT NULL DEFAULT 'run' CHECK (phase IN ('run', 'wait', 'listen')),
  state         text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'done', 'exited')),
  due_at        timestamptz NOT NULL,
  -- Transitions made so far: a step visit's dispatch id is UUIDv5(entry, visit), stable across retries.
  visits        integer NOT NULL DEFAULT 0,
  step_attempts integer NOT NULL DEFAULT 0,
  experiment    jsonb,
  lease_owner   text,
  lease_until   timestamptz,
  entered_at    timestamptz NOT NULL,
  ended_at      timestamptz,
  end_reason    text
);
CREATE INDEX canvas_entries_due ON canvas_entries (due_at) WHERE state = 'active';
CREATE INDEX canvas_entries_user ON canvas_entries (workspace_id, user_id, canvas_id);
CREATE INDEX canvas_entries_canvas ON canvas_entries (canvas_id, state, step_id);

-- One conversion per entry and behavior (experiment conversions use behavior -1 - step index).
CREATE TABLE canvas_conversions (
  entry_id      uuid NOT NULL REFERENCES canvas_entries(id),
  behavior      integer NOT NULL,
  PRIMARY KEY (entry_id, behavior)
);

-- Where the Canvas event listener (action-based entry, Action Paths, exits, conversions) has read the log to.
CREATE TABLE canvas_log_cursor (
  name          text PRIMARY KEY,
  txid          text NOT NULL,
  seq           bigint NOT NULL
);
