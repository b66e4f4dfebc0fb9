/**
 * Per-step statistics and who is where (read-only; docs/reference/canvases.md, "Step statistics").
 * The counters are written by the triggers of migration 155 as moves from a step to a step; a move
 * that passed several steps in one commit (steps that take no time: paths, splits, user updates, a
 * message that was not sent) is spread over the steps between, taken from the version's diagram
 * (the shortest route from the one to the other through such steps).
 */
import type { Queryable } from '../storage/index.js';
import { nextsOf, type CanvasDefinition, type Step } from './definition.js';

export interface FlowRow {
  version: number;
  from_step: string;
  to_step: string;
  outcome: 'entered' | 'control' | 'moved' | 'ended' | 'exited' | 'converted';
  n: number;
}

export interface StepFigures {
  entered: number;
  advanced: number;
  exited: number;
  ended: number;
  converted: number;
  in_step: number;
}

export interface Figures {
  totals: { entries: number; control: number; in_canvas: number; completed: number; exited: number; converted: number };
  steps: Map<string, StepFigures>;
}

/** Steps that take no time, which the engine may pass several of in one commit. */
const passable = (s: Step) => s.type !== 'delay' && s.type !== 'action_paths';

/**
 * The steps strictly between `from` and `to` ('' for the end of the journey) in a definition: the
 * shortest route through passable steps, or [] when `to` follows `from` directly or no route exists.
 */
export function stepsBetween(def: Pick<CanvasDefinition, 'steps'>, from: string, to: string): string[] {
  const byId = new Map(def.steps.map((s) => [s.id, s]));
  const start = byId.get(from);
  if (!start) return [];
  const reaches = (s: Step) => nextsOf(s).some((n) => (to === '' ? n === null : n === to));
  if (reaches(start)) return [];
  const previous = new Map<string, string>();
  const queue: string[] = [];
  const visit = (n: string | null, via: string) => {
    if (!n || n === from || previous.has(n)) return;
    previous.set(n, via);
    queue.push(n);
  };
  for (const n of nextsOf(start)) visit(n, '');
  while (queue.length) {
    const id = queue.shift()!;
    const s = byId.get(id);
    if (!s || !passable(s)) continue;
    if (reaches(s)) {
      const route = [id];
      for (let p = previous.get(id); p; p = previous.get(p)) route.unshift(p);
      return route;
    }
    for (const n of nextsOf(s)) visit(n, id);
  }
  return [];
}

const zero = (): StepFigures => ({ entered: 0, advanced: 0, exited: 0, ended: 0, converted: 0, in_step: 0 });

/** Turns the counters (and who is in which step now) into per-step figures. Pure. */
export function figuresOf(rows: FlowRow[], definitions: Map<number, CanvasDefinition>, now: Array<{ step_id: string | null; n: number }>): Figures {
  const steps = new Map<string, StepFigures>();
  const at = (id: string) => {
    let f = steps.get(id);
    if (!f) steps.set(id, (f = zero()));
    return f;
  };
  const totals = { entries: 0, control: 0, in_canvas: 0, completed: 0, exited: 0, converted: 0 };
  for (const r of rows) {
    const n = Number(r.n);
    switch (r.outcome) {
      case 'entered':
        totals.entries += n;
        if (r.to_step) at(r.to_step).entered += n;
        break;
      case 'control':
        totals.entries += n;
        totals.control += n;
        break;
      case 'exited':
        totals.exited += n;
        if (r.from_step) at(r.from_step).exited += n;
        break;
      case 'ended':
        if (r.from_step) at(r.from_step).ended += n;
        break;
      case 'converted':
        totals.converted += n;
        if (r.from_step) at(r.from_step).converted += n;
        break;
      case 'moved': {
        if (r.from_step) at(r.from_step).advanced += n;
        const def = definitions.get(r.version);
        for (const id of def && r.from_step ? stepsBetween(def, r.from_step, r.to_step) : []) {
          at(id).entered += n;
          at(id).advanced += n;
        }
        if (r.to_step) at(r.to_step).entered += n;
        else totals.completed += n;
        break;
      }
    }
  }
  for (const { step_id, n } of now) {
    totals.in_canvas += n;
    if (step_id) at(step_id).in_step += n;
  }
  return { totals, steps };
}

/** The counters of a Canvas, summed over shards. */
export async function flowRows(db: Queryable, canvasId: string): Promise<FlowRow[]> {
  const { rows } = await db.query<FlowRow>(
    `SELECT version, from_step, to_step, outcome, sum(n)::int AS n FROM canvas_step_counts WHERE canvas_id = $1 GROUP BY 1, 2, 3, 4`,
    [canvasId],
  );
  return rows;
}

/** Active entries per step now. */
export async function entriesNow(db: Queryable, canvasId: string): Promise<Array<{ step_id: string | null; n: number }>> {
  const { rows } = await db.query<{ step_id: string | null; n: number }>(`SELECT step_id, count(*)::int AS n FROM canvas_entries WHERE canvas_id = $1 AND state = 'active' GROUP BY step_id`, [canvasId]);
  return rows;
}

/** Every version's definition of a Canvas. */
export async function definitionsOf(db: Queryable, canvasId: string): Promise<Map<number, CanvasDefinition>> {
  const { rows } = await db.query<{ version: number; definition: CanvasDefinition }>(`SELECT version, definition FROM canvas_versions WHERE canvas_id = $1`, [canvasId]);
  return new Map(rows.map((r) => [r.version, r.definition]));
}

export interface StepEntry {
  user_id: string;
  version: number;
  phase: string;
  due_at: Date;
  entered_at: Date;
}

/** The entries at a step now, the longest there first. */
export async function entriesAtStep(db: Queryable, canvasId: string, stepId: string, limit: number): Promise<StepEntry[]> {
  const { rows } = await db.query<StepEntry>(
    `SELECT user_id, version, phase, due_at, entered_at FROM canvas_entries WHERE canvas_id = $1 AND state = 'active' AND step_id = $2 ORDER BY entered_at, id LIMIT $3`,
    [canvasId, stepId, limit],
  );
  return rows;
}

export interface UserEntry {
  canvas_id: string;
  canvas_name: string;
  version: number;
  variant_id: string;
  state: string;
  step_id: string | null;
  phase: string;
  due_at: Date;
  entered_at: Date;
  ended_at: Date | null;
  end_reason: string | null;
  definition: CanvasDefinition;
}

/** One user's entries in this workspace's Canvases: the active ones first, then the newest. */
export async function entriesOfUser(db: Queryable, workspaceId: string, userId: string, limit: number): Promise<UserEntry[]> {
  const { rows } = await db.query<UserEntry>(
    `SELECT e.canvas_id, c.name AS canvas_name, e.version, e.variant_id, e.state, e.step_id, e.phase, e.due_at, e.entered_at, e.ended_at, e.end_reason, v.definition
       FROM canvas_entries e JOIN canvases c ON c.id = e.canvas_id JOIN canvas_versions v ON v.canvas_id = e.canvas_id AND v.version = e.version
      WHERE e.workspace_id = $1 AND e.user_id = $2
      ORDER BY (e.state = 'active') DESC, e.entered_at DESC LIMIT $3`,
    [workspaceId, userId, limit],
  );
  return rows;
}

/** Entries made (from the counters) and still under way, per Canvas of a workspace. */
export async function entryCounts(db: Queryable, workspaceId: string): Promise<Map<string, { entries: number; in_canvas: number }>> {
  const { rows } = await db.query<{ canvas_id: string; entries: number; in_canvas: number }>(
    `SELECT c.id AS canvas_id,
            (SELECT coalesce(sum(n), 0)::int FROM canvas_step_counts k WHERE k.canvas_id = c.id AND k.outcome IN ('entered', 'control')) AS entries,
            (SELECT count(*)::int FROM canvas_entries e WHERE e.canvas_id = c.id AND e.state = 'active') AS in_canvas
       FROM canvases c WHERE c.workspace_id = $1`,
    [workspaceId],
  );
  return new Map(rows.map((r) => [r.canvas_id, r]));
}
