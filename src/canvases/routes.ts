/**
 * The Canvas API (docs/reference/canvases.md §5): the admin routes (create, read, replace, launch,
 * pause, stop, step statistics) and Braze's `/canvas/trigger/send`, `/canvas/list`,
 * `/canvas/details`. A 400 names the field, and for a step the step.
 */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { AppServices } from '../http/index.js';
import { ApiError, Errors, requireKey } from '../http/index.js';
import { findUsers, identifierKey, membersOrNothing, usersByIds, type Identifier, type MembersOf } from './identity-bridge.js';
import { getSegment } from '../segments/index.js';
import type { Db } from '../storage/index.js';
import { checkCanvasBody, nextsOf, segmentRefs, type CanvasInput, type Step } from './definition.js';
import { enterUsers } from './engine.js';
import { CanvasReply } from './contract.js';
import { createCanvas, getCanvas, listCanvases, setCanvasState, stepStats, updateCanvas, type Canvas } from './store.js';

const admin = { permission: 'admin' as const };
const tags = ['canvases'];
const IdParams = Type.Object({ id: Type.String({ format: 'uuid' }) });
const Body = Type.Object({}, { additionalProperties: true, description: 'A Canvas: {name, entry, re_entry, entry_limit, exit, from, control_percent, first_step_id, steps, conversions}; docs/reference/canvases.md §1' });
const ErrorReply = Type.Object({ message: Type.String(), errors: Type.Optional(Type.Array(Type.Object({ type: Type.String(), path: Type.String() }))) }, { additionalProperties: true });
const replies = (ok: number, schema: unknown) => ({ [ok]: schema, 400: ErrorReply, 404: ErrorReply, 409: ErrorReply });
const MAX_RECIPIENTS = 50;
const MAX_PROPERTIES_BYTES = 50 * 1024;
export const ENTRY_BATCH = 1000;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const bad = (message: string, path: string, type = message) => new ApiError(400, message, [{ type, path }]);

function present(c: Canvas) {
  return { id: c.id, name: c.name, description: c.description, tags: c.tags, state: c.state, version: c.version, ...c.definition, first_entry: c.first_entry, last_entry: c.last_entry, created_at: c.created_at, updated_at: c.updated_at };
}

export interface CanvasRouteDeps {
  db: Db;
  now(): number;
  wake(): void;
  members: MembersOf;
}

async function validInput(db: Db, workspaceId: string, body: unknown): Promise<CanvasInput> {
  const checked = checkCanvasBody(body);
  if (checked.problems) {
    const errors = checked.problems.map((p) => ({ type: p.message, path: p.field }));
    throw new ApiError(400, `${errors[0]!.path}: ${errors[0]!.type}`, errors);
  }
  for (const ref of segmentRefs(checked.input.definition)) {
    if (!(await getSegment(db, workspaceId, ref.id))) throw new ApiError(400, `${ref.field}: unknown segment ${ref.id}`, [{ type: 'unknown segment', path: ref.field }]);
  }
  return checked.input;
}

function stepDetails(s: Step) {
  const named = (() => {
    switch (s.type) {
      case 'audience_paths':
      case 'experiment_paths':
        return s.paths.map((p) => ({ name: p.name, next_step_id: p.next }));
      case 'action_paths':
        return [...s.paths.map((p) => ({ name: p.name, next_step_id: p.next })), { name: 'Everyone Else', next_step_id: s.everyone_else }];
      case 'decision_split':
        return [{ name: 'Yes', next_step_id: s.yes }, { name: 'No', next_step_id: s.no }];
      default:
        return [];
    }
  })();
  return {
    name: s.name,
    type: s.type,
    id: s.id,
    next_step_ids: nextsOf(s).filter((n): n is string => n !== null),
    next_paths: named,
    channels: s.type === 'message' ? ['email'] : [],
    messages: s.type === 'message' ? { [s.message_variation_id]: { channel: 'email', subject: s.email.subject, from: undefined } } : {},
  };
}

export function canvasRoutes(deps: CanvasRouteDeps) {
  return async function routes(app: FastifyInstance, _services: AppServices): Promise<void> {
    const { db } = deps;
    const canvasOf = async (ws: string, id: string, lock = false, tx: typeof db | Parameters<Parameters<Db['transaction']>[0]>[0] = db) => {
      const c = await getCanvas(tx, ws, id, lock);
      if (!c) throw Errors.notFound(`Canvas ${id}`);
      return c;
    };

    app.post('/admin/canvases', { config: admin, schema: { tags, summary: 'Create a Canvas (a draft)', body: Body, response: replies(201, CanvasReply) } }, async (request, reply) => {
      const ws = requireKey(request).workspace_id;
      const input = await validInput(db, ws, request.body);
      const id = await db.transaction((tx) => createCanvas(tx, ws, input));
      return reply.status(201).send(present(await canvasOf(ws, id)));
    });

    app.get('/admin/canvases/:id', { config: admin, schema: { tags, summary: 'A Canvas (its newest version)', params: IdParams, response: replies(200, CanvasReply) } }, async (request) => {
      return present(await canvasOf(requireKey(request).workspace_id, (request.params as { id: string }).id));
    });

    app.put('/admin/canvases/:id', { config: admin, schema: { tags, summary: 'Replace a Canvas (after launch: a new version; entries under way stay on theirs)', params: IdParams, body: Body, response: replies(200, CanvasReply) } }, async (request) => {
      const ws = requireKey(request).workspace_id;
      const { id } = request.params as { id: string };
      const input = await validInput(db, ws, request.body);
      await db.transaction(async (tx) => {
        const c = await canvasOf(ws, id, true, tx);
        if (c.state === 'stopped' || c.state === 'archived') throw new ApiError(409, `Canvas ${id} is ${c.state}`, [{ type: `canvas is ${c.state}`, path: 'id' }]);
        await updateCanvas(tx, c, input);
      });
      return present(await canvasOf(ws, id));
    });

    app.post('/admin/canvases/:id/launch', { config: admin, schema: { tags, summary: 'Launch a Canvas (a scheduled one enters its audience now)', params: IdParams, response: replies(200, CanvasReply) } }, async (request) => {
      const ws = requireKey(request).workspace_id;
      const { id } = request.params as { id: string };
      const c = await db.transaction(async (tx) => {
        const c = await canvasOf(ws, id, true, tx);
        if (c.state !== 'draft' && c.state !== 'paused') throw new ApiError(409, `Canvas ${id} is ${c.state}; launch needs draft or paused`, [{ type: `canvas is ${c.state}`, path: 'id' }]);
        for (const ref of segmentRefs(c.definition)) if (!(await getSegment(tx, ws, ref.id))) throw new ApiError(400, `${ref.field}: unknown segment ${ref.id}`, [{ type: 'unknown segment', path: ref.field }]);
        await setCanvasState(tx, id, 'active');
        return canvasOf(ws, id, false, tx);
      });
      if (c.definition.entry.type === 'scheduled') {
        // Entry ids are UUIDv5(Canvas, user, source): a launch interrupted and repeated enters nobody twice.
        const ids = await membersOrNothing(deps.members, db, ws, c.definition.entry.segment_id, deps.now());
        for (let i = 0; i < ids.length; i += ENTRY_BATCH) {
          await db.transaction(async (tx) => enterUsers(tx, c, await usersByIds(tx, ws, ids.slice(i, i + ENTRY_BATCH)), `launch:${c.version}`, () => ({}), deps.now()));
        }
        deps.wake();
      }
      return present(await canvasOf(ws, id));
    });

    for (const [action, from, to] of [['pause', ['active'], 'paused'], ['stop', ['active', 'paused', 'draft'], 'stopped'], ['archive', ['stopped', 'draft'], 'archived']] as const) {
      app.post(`/admin/canvases/:id/${action}`, { config: admin, schema: { tags, summary: `${action} a Canvas`, params: IdParams, response: replies(200, CanvasReply) } }, async (request) => {
        const ws = requireKey(request).workspace_id;
        const { id } = request.params as { id: string };
        await db.transaction(async (tx) => {
          const c = await canvasOf(ws, id, true, tx);
          if (!(from as readonly string[]).includes(c.state)) throw new ApiError(409, `Canvas ${id} is ${c.state}; ${action} needs ${from.join(' or ')}`, [{ type: `canvas is ${c.state}`, path: 'id' }]);
          await setCanvasState(tx, id, to);
          if (to === 'stopped') await tx.query(`UPDATE canvas_entries SET state = 'exited', end_reason = 'canvas_stopped', ended_at = now(), lease_owner = NULL, lease_until = NULL WHERE canvas_id = $1 AND state = 'active'`, [id]);
        });
        return present(await canvasOf(ws, id));
      });
    }

    app.get(
      '/admin/canvases/:id/stats',
      { config: admin, schema: { tags, summary: 'Per step: users in it now, ended and exited there', params: IdParams, response: replies(200, Type.Object({ steps: Type.Array(Type.Object({ step_id: Type.Union([Type.String(), Type.Null()]), state: Type.String(), count: Type.Integer() })) })) } },
      async (request) => {
        const ws = requireKey(request).workspace_id;
        const { id } = request.params as { id: string };
        await canvasOf(ws, id);
        return { steps: await stepStats(db, id) };
      },
    );

    app.get(
      '/canvas/list',
      {
        config: admin,
        schema: {
          tags,
          summary: "This workspace's Canvases (Braze's /canvas/list), 100 a page",
          querystring: Type.Object({ page: Type.Optional(Type.Integer({ minimum: 0, default: 0 })), include_archived: Type.Optional(Type.Boolean()), sort_direction: Type.Optional(Type.Union([Type.Literal('asc'), Type.Literal('desc')])) }),
          response: { 200: Type.Object({ message: Type.String(), canvases: Type.Array(Type.Object({ id: Type.String(), name: Type.String(), last_edited: Type.String(), tags: Type.Array(Type.String()) })) }) },
        },
      },
      async (request) => {
        const ws = requireKey(request).workspace_id;
        const q = request.query as { page?: number; include_archived?: boolean; sort_direction?: string };
        const page = await listCanvases(db, ws, { limit: 100, offset: (q.page ?? 0) * 100, includeArchived: q.include_archived === true, desc: q.sort_direction !== 'asc' });
        return { message: 'success', canvases: page.map((c) => ({ id: c.id, name: c.name, last_edited: c.updated_at.toISOString(), tags: c.tags })) };
      },
    );

    app.get(
      '/canvas/details',
      { config: admin, schema: { tags, summary: "A Canvas's details (Braze's /canvas/details)", querystring: Type.Object({ canvas_id: Type.String() }), response: replies(200, Type.Object({ message: Type.String(), name: Type.String(), steps: Type.Array(Type.Object({}, { additionalProperties: true })) }, { additionalProperties: true })) } },
      async (request) => {
        const ws = requireKey(request).workspace_id;
        const c = await getCanvas(db, ws, (request.query as { canvas_id: string }).canvas_id);
        if (!c) throw bad('Invalid Canvas ID', 'canvas_id');
        const d = c.definition;
        return {
          message: 'success',
          created_at: c.created_at.toISOString(),
          updated_at: c.updated_at.toISOString(),
          name: c.name,
          description: c.description,
          archived: c.state === 'archived',
          draft: c.state === 'draft',
          enabled: c.state === 'active',
          has_post_launch_draft: false,
          schedule_type: d.entry.type === 'scheduled' ? 'date' : d.entry.type === 'action' ? 'action_based' : 'api_triggered',
          first_entry: c.first_entry?.toISOString() ?? null,
          last_entry: c.last_entry?.toISOString() ?? null,
          channels: d.steps.some((s) => s.type === 'message') ? ['email'] : [],
          variants: [{ name: d.variant.name, id: d.variant.id, first_step_ids: [d.first_step_id] }],
          tags: c.tags,
          teams: [],
          steps: d.steps.map(stepDetails),
        };
      },
    );

    app.post(
      '/canvas/trigger/send',
      { config: { permission: 'campaigns.trigger.send', rateLimitName: 'messagingSends' }, schema: { tags, summary: 'Enter named recipients (or the whole audience) into an API-triggered Canvas', body: Body, response: { 201: Type.Object({ message: Type.String(), dispatch_id: Type.String(), notice: Type.Optional(Type.String()), errors: Type.Optional(Type.Array(Type.Object({ type: Type.String(), path: Type.String() }))) }), 400: ErrorReply } } },
      async (request, reply) => {
        const ws = requireKey(request).workspace_id;
        const body = request.body as Obj;
        if (typeof body.canvas_id !== 'string' || body.canvas_id.length === 0) throw bad('canvas_id is required', 'canvas_id', 'Invalid Canvas ID');
        if (body.context !== undefined && body.canvas_entry_properties !== undefined) throw bad('give context or canvas_entry_properties, not both', 'context');
        const propsOf = (v: unknown, path: string): Obj => {
          if (v === undefined || v === null) return {};
          if (!isObj(v)) throw bad(`${path} must be an object`, path);
          if (Buffer.byteLength(JSON.stringify(v)) > MAX_PROPERTIES_BYTES) throw bad(`${path} is larger than ${MAX_PROPERTIES_BYTES} bytes`, path);
          return v;
        };
        const top = propsOf(body.context ?? body.canvas_entry_properties, body.context !== undefined ? 'context' : 'canvas_entry_properties');
        const broadcast = body.broadcast === true;
        const raw = body.recipients;
        if (raw !== undefined && !Array.isArray(raw)) throw bad('recipients must be an array', 'recipients');
        if (broadcast && raw !== undefined) throw bad('broadcast cannot be combined with recipients', 'broadcast');
        if (!broadcast && (!raw || raw.length === 0)) throw bad('No Recipients', 'recipients');
        if (raw && raw.length > MAX_RECIPIENTS) throw bad('The max number of external_ids and aliases per request was exceeded', 'recipients');
        const wanted = (raw ?? []).map((r: unknown, i: number) => {
          const path = `recipients[${i}]`;
          if (!isObj(r)) throw bad(`${path} must be an object`, path);
          if (r.context !== undefined && r.canvas_entry_properties !== undefined) throw bad('give context or canvas_entry_properties, not both', `${path}.context`);
          const props = propsOf(r.context ?? r.canvas_entry_properties, `${path}.${r.context !== undefined ? 'context' : 'canvas_entry_properties'}`);
          if (typeof r.external_user_id === 'string' && r.external_user_id) return { id: { kind: 'external_id', externalId: r.external_user_id } as Identifier, props, path };
          if (typeof r.braze_id === 'string' && r.braze_id) return { id: { kind: 'braze_id', userId: r.braze_id } as Identifier, props, path };
          if (typeof r.email === 'string' && r.email) return { id: { kind: 'email', email: r.email } as Identifier, props, path };
          throw bad(`${path} must name the user by external_user_id, braze_id or email`, path);
        });
        const dispatchId = crypto.randomUUID();
        const c = await getCanvas(db, ws, body.canvas_id);
        if (!c || c.definition.entry.type !== 'api') throw bad('Invalid Canvas ID', 'canvas_id');
        if (c.state === 'paused' || c.state === 'archived' || c.state === 'stopped') {
          return reply.status(201).send({ message: 'success', dispatch_id: dispatchId, notice: 'The Canvas is paused. Resume the Canvas to ensure trigger requests will take effect.' });
        }
        if (c.state !== 'active') throw bad('Invalid Canvas ID: the Canvas is a draft; launch it to take triggers', 'canvas_id', 'Invalid Canvas ID');
        const errors: Array<{ type: string; path: string }> = [];
        const audience = c.definition.entry.segment_id;
        let ids: string[];
        const props = new Map<string, Obj>();
        if (broadcast) {
          if (!audience) throw bad('broadcast needs a Canvas with an entry audience (entry.segment_id)', 'broadcast');
          ids = await membersOrNothing(deps.members, db, ws, audience, deps.now());
        } else {
          const found = await db.transaction((tx) => findUsers(tx, ws, wanted.map((w) => w.id)));
          ids = [];
          const allowed = audience ? new Set(await membersOrNothing(deps.members, db, ws, audience, deps.now())) : undefined;
          for (const w of wanted) {
            const u = found.get(identifierKey(w.id));
            if (!u) errors.push({ type: 'user not found', path: w.path });
            else if (allowed && !allowed.has(u.id)) errors.push({ type: 'not in the Canvas audience', path: w.path });
            else if (!props.has(u.id)) {
              ids.push(u.id);
              props.set(u.id, { ...top, ...w.props });
            }
          }
        }
        for (let i = 0; i < ids.length; i += ENTRY_BATCH) {
          await db.transaction(async (tx) => {
            await enterUsers(tx, c, await usersByIds(tx, ws, ids.slice(i, i + ENTRY_BATCH)), dispatchId, (id) => props.get(id) ?? top, deps.now());
          });
        }
        deps.wake();
        return reply.status(201).send({ message: 'success', dispatch_id: dispatchId, ...(errors.length ? { errors } : {}) });
      },
    );
  };
}
