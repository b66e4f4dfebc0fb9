/**
 * The Canvas crash drill shared by test/canvas-crash.db.test.ts and `bench/canvas.ts --crash`
 * (docs/reference/canvases.md, "Crash safety"): users wait in a Delay of a live Canvas (Delay →
 * Experiment Paths → end); `due` of them fall due over `spreadMs` from `startAt`, the others a day
 * later. A real `rivulet serve` runs them, is killed with SIGKILL mid-batch, and another takes over.
 * The check then counts, from the rows and the event log: every due user advanced exactly once
 * (one SplitEntry each, two transitions, the entry done no earlier than its due time), none lost,
 * and no user who was not due moved.
 */
import { checkCanvasBody } from '../src/canvases/index.js';
import { enterUsers } from '../src/canvases/engine.js';
import { createCanvas, getCanvas, setCanvasState } from '../src/canvases/store.js';
import { LOG_START, readLogPage, type LogCursor } from '../src/events/index.js';
import { createUsers } from '../src/identity/index.js';
import type { Db } from '../src/storage/index.js';
import { ensureWorkspace } from '../src/workspaces/index.js';

export interface Drill {
  workspaceId: string;
  canvasId: string;
  users: number;
  due: number;
}

/** Seeds the drill (the Canvas launches last, so nothing runs before every row is in place). */
export async function seedDrill(db: Db, opts: { users: number; due: number; startAt: number; spreadMs: number }): Promise<Drill> {
  const workspaceId = (await ensureWorkspace(db, 'default')).id;
  const checked = checkCanvasBody({
    name: 'Crash drill',
    entry: { type: 'api' },
    from: { address: 'drill@rivulet.test' },
    steps: [
      { id: 'wait', type: 'delay', delay: { seconds: 3600 }, next: 'split' },
      { id: 'split', type: 'experiment_paths', paths: [{ id: 'p', name: 'P', percent: 100, next: null }] },
    ],
  });
  if (!checked.input) throw new Error(JSON.stringify(checked.problems));
  const canvasId = await db.transaction((tx) => createCanvas(tx, workspaceId, checked.input!));
  const canvas = (await getCanvas(db, workspaceId, canvasId))!;
  const now = Date.now();
  for (let i = 0; i < opts.users; i += 5000) {
    await db.transaction(async (tx) => {
      const users = await createUsers(tx, workspaceId, Array.from({ length: Math.min(5000, opts.users - i) }, (_, j) => ({ externalId: `drill-${i + j}` })));
      await enterUsers(tx, canvas, users, 'drill', () => ({}), now);
    });
  }
  // Every entry waits in the Delay (as after its start); the first `due` by id fall due over the spread.
  await db.query(
    `UPDATE canvas_entries e SET phase = 'wait',
            due_at = CASE WHEN r.n < $2 THEN to_timestamp(($3::float8 + r.n * $4::float8 / $2) / 1000) ELSE to_timestamp($3::float8 / 1000) + interval '1 day' END
       FROM (SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM canvas_entries WHERE canvas_id = $1) r
      WHERE e.id = r.id`,
    [canvasId, opts.due, opts.startAt, opts.spreadMs],
  );
  await setCanvasState(db, canvasId, 'active');
  return { workspaceId, canvasId, users: opts.users, due: opts.due };
}

/** Entries that have finished (the due ones, once each has run). */
export async function doneCount(db: Db, drill: Drill): Promise<number> {
  const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM canvas_entries WHERE canvas_id = $1 AND state <> 'active'`, [drill.canvasId]);
  return rows[0]!.n;
}

/** Problems found (empty: exactly once, none early, none lost, nobody else moved). */
export async function checkDrill(db: Db, drill: Drill): Promise<string[]> {
  const problems: string[] = [];
  const { rows } = await db.query<{ due: number; done_ok: number; done_early: number; done_other: number; waiting_ok: number; waiting_other: number }>(
    `WITH r AS (SELECT e.*, row_number() OVER (ORDER BY id) - 1 AS n FROM canvas_entries e WHERE canvas_id = $1)
     SELECT count(*) FILTER (WHERE n < $2)::int AS due,
            count(*) FILTER (WHERE n < $2 AND state = 'done' AND visits = 2 AND step_id IS NULL)::int AS done_ok,
            count(*) FILTER (WHERE n < $2 AND ended_at < due_at)::int AS done_early,
            count(*) FILTER (WHERE n < $2 AND NOT (state = 'done' AND visits = 2 AND step_id IS NULL))::int AS done_other,
            count(*) FILTER (WHERE n >= $2 AND state = 'active' AND phase = 'wait' AND step_id = 'wait' AND visits = 0)::int AS waiting_ok,
            count(*) FILTER (WHERE n >= $2 AND NOT (state = 'active' AND phase = 'wait' AND step_id = 'wait' AND visits = 0))::int AS waiting_other
       FROM r`,
    [drill.canvasId, drill.due],
  );
  const c = rows[0]!;
  if (c.done_ok !== drill.due) problems.push(`${c.done_ok} of ${drill.due} due entries ended after two transitions; ${c.done_other} did not`);
  if (c.done_early) problems.push(`${c.done_early} entries ended before they were due`);
  if (c.waiting_ok !== drill.users - drill.due) problems.push(`${c.waiting_ok} of ${drill.users - drill.due} entries not due are still waiting untouched; ${c.waiting_other} moved`);
  const { rows: dueUsers } = await db.query<{ user_id: string }>(
    `SELECT user_id FROM (SELECT user_id, row_number() OVER (ORDER BY id) - 1 AS n FROM canvas_entries WHERE canvas_id = $1) r WHERE n < $2`,
    [drill.canvasId, drill.due],
  );
  const due = new Set(dueUsers.map((r) => r.user_id));
  const splits = new Map<string, number>();
  let cursor: LogCursor = LOG_START;
  for (;;) {
    const page = await readLogPage(db, cursor, 20_000, drill.workspaceId);
    if (page.scanned === 0) break;
    for (const e of page.events) {
      if (e.event_type !== 'users.canvas.experimentstep.SplitEntry' || e.properties.canvas_id !== drill.canvasId) continue;
      splits.set(e.user.user_id!, (splits.get(e.user.user_id!) ?? 0) + 1);
    }
    cursor = page.end;
  }
  const twice = [...splits.values()].filter((n) => n > 1).length;
  const outsiders = [...splits.keys()].filter((u) => !due.has(u)).length;
  const missing = [...due].filter((u) => !splits.has(u)).length;
  if (twice) problems.push(`${twice} users have more than one SplitEntry event`);
  if (outsiders) problems.push(`${outsiders} users not due have a SplitEntry event`);
  if (missing) problems.push(`${missing} due users have no SplitEntry event`);
  return problems;
}
