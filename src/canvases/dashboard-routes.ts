/**
 * The admin routes behind the dashboard's Canvas builder and statistics (docs/reference/canvases.md,
 * "The builder and step statistics"): the list, the launch check (every problem, each naming its
 * step, and the audience a launch would enter), per-step statistics, the users at a step and one
 * user's Canvases. Read-only. Bearer key or session with `admin`.
 */
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from 'typebox';
import type { AppServices } from '../http/index.js';
import { Errors, requireKey } from '../http/index.js';
import { getSegment } from '../segments/index.js';
import type { Db } from '../storage/index.js';
import { usersByIds, type MembersOf } from './identity-bridge.js';
import { CanvasIdParams, CanvasList, CanvasStats, LimitQuery, StepUsers, StepUsersParams, UserCanvases, UserParams, ValidationReply } from './contract.js';
import { checkCanvasBody, graphProblems, segmentRefs, type Problem, type Step } from './definition.js';
import { definitionsOf, entriesAtStep, entriesNow, entriesOfUser, entryCounts, figuresOf, flowRows } from './stats.js';
import { getCanvas, listCanvases } from './store.js';

const admin = { permission: 'admin' as const };
const tags = ['canvases'];
const Body = Type.Object({}, { additionalProperties: true, description: 'A Canvas, as for POST /admin/canvases' });
const iso = (d: Date | string) => new Date(d).toISOString();

export interface CanvasDashboardDeps {
  db: Db;
  now(): number;
  members: MembersOf;
}

/** The step a problem's field names (`steps[2] (id "wait").next` → wait), from the body when only an index is given. */
export function stepOfField(field: string, body: unknown): string | null {
  const named = /^steps\[\d+\] \(id "([^"]*)"\)/.exec(field);
  if (named) return named[1]!;
  const indexed = /^steps\[(\d+)\]/.exec(field);
  if (!indexed) return null;
  const steps = typeof body === 'object' && body !== null && 'steps' in body && Array.isArray(body.steps) ? (body.steps as unknown[]) : [];
  const step: unknown = steps[Number(indexed[1])];
  return typeof step === 'object' && step !== null && 'id' in step && typeof step.id === 'string' ? step.id : null;
}

function looseGraphProblems(body: unknown): Problem[] {
  if (typeof body !== 'object' || body === null || !('steps' in body) || !Array.isArray(body.steps)) return [];
  const raw = body.steps as unknown[];
  const target = (v: unknown) => (typeof v === 'string' ? v : null);
  const obj = (v: unknown): Record<string, unknown> => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
  const paths = (v: unknown) => (Array.isArray(v) ? v.map((p) => ({ name: '', segment_id: null, percent: 0, id: '', event: { kind: 'purchase' as const }, next: target(obj(p).next) })) : []);
  const steps = raw.map((r, i): Step => {
    const o = obj(r);
    const id = typeof o.id === 'string' ? o.id : `#${i}`;
    const base = { id, name: id };
    switch (o.type) {
      case 'audience_paths':
        return { ...base, type: 'audience_paths', paths: paths(o.paths) };
      case 'experiment_paths':
        return { ...base, type: 'experiment_paths', paths: paths(o.paths), control_percent: 0 };
      case 'action_paths':
        return { ...base, type: 'action_paths', window_seconds: 1, paths: paths(o.paths), everyone_else: target(o.everyone_else) };
      case 'decision_split':
        return { ...base, type: 'decision_split', segment_id: '', yes: target(o.yes), no: target(o.no) };
      case 'delay':
        return { ...base, type: 'delay', delay: { seconds: 1 }, next: target(o.next) };
      default:
        return { ...base, type: 'user_update', attributes: {}, next: target(o.next) };
    }
  });
  const b = body as Record<string, unknown>;
  const first = typeof b.first_step_id === 'string' ? b.first_step_id : (steps[0]?.id ?? '');
  return graphProblems({ steps, first_step_id: first }).filter((p) => !/is used by another step|first_step_id/.test(p.field + p.message));
}

export function canvasDashboardRoutes(deps: CanvasDashboardDeps) {
  return async function routes(app: FastifyInstance, _services: AppServices): Promise<void> {
    const { db } = deps;

    app.get('/admin/canvases', { config: admin, schema: { tags, summary: "This workspace's Canvases with their entries (newest first)", querystring: LimitQuery, response: { 200: CanvasList } } }, async (request) => {
      const ws = requireKey(request).workspace_id;
      const limit = Number((request.query as Static<typeof LimitQuery>).limit ?? 100);
      const [canvases, counts] = await Promise.all([listCanvases(db, ws, { limit, offset: 0, includeArchived: true, desc: true }), entryCounts(db, ws)]);
      return {
        canvases: canvases.map((c) => ({
          id: c.id,
          name: c.name,
          state: c.state,
          version: c.version,
          entry_type: c.definition.entry.type,
          steps: c.definition.steps.length,
          entries: counts.get(c.id)?.entries ?? 0,
          in_canvas: counts.get(c.id)?.in_canvas ?? 0,
          created_at: iso(c.created_at),
          updated_at: iso(c.updated_at),
        })),
      };
    });

    app.post(
      '/admin/canvases/validate',
      { config: admin, schema: { tags, summary: 'Check a Canvas as a save and a launch would: every problem, naming its step, and the audience a launch enters', body: Body, response: { 200: ValidationReply } } },
      async (request) => {
        const ws = requireKey(request).workspace_id;
        const body = request.body;
        const checked = checkCanvasBody(body);
        const problems: Problem[] = [...(checked.problems ?? [])];
        let audience: number | null = null;
        const def = checked.input?.definition;
        if (def) {
          for (const ref of segmentRefs(def)) {
            const segment = await getSegment(db, ws, ref.id);
            if (!segment) problems.push({ field: ref.field, message: `unknown segment ${ref.id}` });
            else if (ref.field === 'entry.segment_id') audience = (await deps.members(ws, segment.filter, deps.now())).size;
          }
        }
        // A body with malformed steps is not graph-checked by the save; check its graph loosely too,
        // so unreachable steps and dangling paths are marked together with the steps' own problems.
        if (!def) problems.push(...looseGraphProblems(body));
        const unique = new Map(problems.map((p) => [`${p.field}\u0000${p.message}`, p]));
        return {
          ok: unique.size === 0,
          problems: [...unique.values()].map((p) => ({ field: p.field, message: p.message, step_id: stepOfField(p.field, body) })),
          audience_size: audience,
          entry_type: def?.entry.type ?? null,
        };
      },
    );

    app.get('/admin/canvases/:id/step-stats', { config: admin, schema: { tags, summary: 'Per step: entered, advanced, exited, ended, converted, in the step now', params: CanvasIdParams, response: { 200: CanvasStats } } }, async (request) => {
      const ws = requireKey(request).workspace_id;
      const { id } = request.params as Static<typeof CanvasIdParams>;
      const c = await getCanvas(db, ws, id);
      if (!c) throw Errors.notFound(`Canvas ${id}`);
      const [rows, defs, now] = await Promise.all([flowRows(db, id), definitionsOf(db, id), entriesNow(db, id)]);
      const figures = figuresOf(rows, defs, now);
      const empty = { entered: 0, advanced: 0, exited: 0, ended: 0, converted: 0, in_step: 0 };
      return {
        canvas_id: id,
        version: c.version,
        totals: figures.totals,
        steps: c.definition.steps.map((s) => ({ step_id: s.id, name: s.name, type: s.type, ...(figures.steps.get(s.id) ?? empty) })),
      };
    });

    app.get(
      '/admin/canvases/:id/steps/:step_id/users',
      { config: admin, schema: { tags, summary: 'The users at a step now, the longest there first', params: StepUsersParams, querystring: LimitQuery, response: { 200: StepUsers } } },
      async (request) => {
        const ws = requireKey(request).workspace_id;
        const { id, step_id } = request.params as Static<typeof StepUsersParams>;
        const limit = Number((request.query as Static<typeof LimitQuery>).limit ?? 100);
        if (!(await getCanvas(db, ws, id))) throw Errors.notFound(`Canvas ${id}`);
        const entries = await entriesAtStep(db, id, step_id, limit);
        const users = new Map((await usersByIds(db, ws, [...new Set(entries.map((e) => e.user_id))])).map((u) => [u.id, u]));
        return {
          canvas_id: id,
          step_id,
          users: entries.map((e) => ({
            user_id: e.user_id,
            external_id: users.get(e.user_id)?.external_id ?? null,
            email: users.get(e.user_id)?.email ?? null,
            version: e.version,
            phase: e.phase,
            due_at: iso(e.due_at),
            entered_at: iso(e.entered_at),
          })),
        };
      },
    );

    app.get('/admin/canvases/users/:user_id', { config: admin, schema: { tags, summary: 'The Canvases a user is in (and was in), and where', params: UserParams, querystring: LimitQuery, response: { 200: UserCanvases } } }, async (request) => {
      const ws = requireKey(request).workspace_id;
      const { user_id } = request.params as Static<typeof UserParams>;
      const limit = Number((request.query as Static<typeof LimitQuery>).limit ?? 100);
      const [user] = await usersByIds(db, ws, [user_id]);
      if (!user) throw Errors.notFound(`User ${user_id}`);
      const entries = await entriesOfUser(db, ws, user_id, limit);
      return {
        user_id,
        canvases: entries.map((e) => ({
          canvas_id: e.canvas_id,
          canvas_name: e.canvas_name,
          version: e.version,
          variant_id: e.variant_id,
          state: e.state,
          step_id: e.step_id,
          step_name: e.step_id ? (e.definition.steps.find((s) => s.id === e.step_id)?.name ?? e.step_id) : null,
          phase: e.phase,
          due_at: iso(e.due_at),
          entered_at: iso(e.entered_at),
          ended_at: e.ended_at ? iso(e.ended_at) : null,
          end_reason: e.end_reason,
        })),
      };
    });
  };
}
