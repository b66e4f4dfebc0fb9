/**
 * The contract of the Canvas routes behind the dashboard's builder and statistics
 * (dashboard-routes.ts; docs/reference/canvases.md, "The builder and step statistics"): the list,
 * the launch check, per-step statistics, the users in a step and one user's Canvases. Imports
 * TypeBox and the shared HTTP contract only, so the dashboard compiles against it.
 */
import { Type } from 'typebox';
import { Nullable, NullableTimestamp, Timestamp } from '../http/contract.js';

/** A Canvas as the admin routes answer it: its fixed fields and its definition (docs/reference/canvases.md §1). */
export const CanvasReply = Type.Object(
  { id: Type.String(), name: Type.String(), state: Type.String(), version: Type.Integer(), steps: Type.Array(Type.Object({}, { additionalProperties: true })) },
  { additionalProperties: true },
);
export const CanvasIdParams = Type.Object({ id: Type.String({ format: 'uuid' }) });
export const StepUsersParams = Type.Object({ id: Type.String({ format: 'uuid' }), step_id: Type.String({ minLength: 1, maxLength: 64 }) });
export const UserParams = Type.Object({ user_id: Type.String({ format: 'uuid' }) });
/** Query strings are not coerced: the limit is digits, 1 to 500 (default 100). */
export const LimitQuery = Type.Object({ limit: Type.Optional(Type.String({ pattern: '^(?:[1-9][0-9]?|[1-4][0-9]{2}|500)$', description: '1 to 500, default 100' })) }, { additionalProperties: false });

/** One Canvas in the dashboard's list. */
export const CanvasListItem = Type.Object({
  id: Type.String(),
  name: Type.String(),
  state: Type.String(),
  version: Type.Integer(),
  entry_type: Type.String(),
  steps: Type.Integer(),
  /** Entries ever made (control group included) and those still under way. */
  entries: Type.Integer(),
  in_canvas: Type.Integer(),
  created_at: Timestamp,
  updated_at: Timestamp,
});
export const CanvasList = Type.Object({ canvases: Type.Array(CanvasListItem) });

/** A problem that stops a Canvas from saving or launching; `step_id` names the step at fault. */
export const LaunchProblem = Type.Object({ field: Type.String(), message: Type.String(), step_id: Nullable(Type.String()) });
export const ValidationReply = Type.Object({
  ok: Type.Boolean(),
  problems: Type.Array(LaunchProblem),
  /** Who a launch would enter now: the entry segment's size (null: no segment, anyone named by the API or the event). */
  audience_size: Nullable(Type.Integer()),
  entry_type: Nullable(Type.String()),
});

export const StepCounts = Type.Object({
  /** Entries that reached the step. */
  entered: Type.Integer(),
  /** Entries that left it for the next step, or finished the journey after it. */
  advanced: Type.Integer(),
  /** Entries that left the Canvas at the step by its exit criteria (or the Canvas was stopped). */
  exited: Type.Integer(),
  /** Entries whose journey ended at the step without going on (a date passed, an experiment's control). */
  ended: Type.Integer(),
  /** Conversions counted while the entry was at the step. */
  converted: Type.Integer(),
  /** Entries at the step now. */
  in_step: Type.Integer(),
});
export const StepStats = Type.Object({ step_id: Type.String(), name: Type.String(), type: Type.String(), ...StepCounts.properties });
export const CanvasStats = Type.Object({
  canvas_id: Type.String(),
  version: Type.Integer(),
  totals: Type.Object({
    entries: Type.Integer(),
    control: Type.Integer(),
    in_canvas: Type.Integer(),
    completed: Type.Integer(),
    exited: Type.Integer(),
    converted: Type.Integer(),
  }),
  steps: Type.Array(StepStats),
});

export const StepUser = Type.Object({
  user_id: Type.String(),
  external_id: Nullable(Type.String()),
  email: Nullable(Type.String()),
  version: Type.Integer(),
  /** run: about to run; wait: in a Delay until due_at; listen: waiting for an action until due_at. */
  phase: Type.String(),
  due_at: Timestamp,
  entered_at: Timestamp,
});
export const StepUsers = Type.Object({ canvas_id: Type.String(), step_id: Type.String(), users: Type.Array(StepUser) });

export const UserCanvas = Type.Object({
  canvas_id: Type.String(),
  canvas_name: Type.String(),
  version: Type.Integer(),
  variant_id: Type.String(),
  /** active: in the Canvas now; done: the journey ended; exited: left by exit criteria. */
  state: Type.String(),
  step_id: Nullable(Type.String()),
  step_name: Nullable(Type.String()),
  phase: Type.String(),
  due_at: Timestamp,
  entered_at: Timestamp,
  ended_at: NullableTimestamp,
  end_reason: Nullable(Type.String()),
});
export const UserCanvases = Type.Object({ user_id: Type.String(), canvases: Type.Array(UserCanvas) });
