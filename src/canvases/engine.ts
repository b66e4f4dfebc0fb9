/**
 * Durable execution of Canvas entries (docs/reference/canvases.md §2). Each user's journey is a
 * `canvas_entries` row; a worker claims due rows with leases and runs steps until the entry waits
 * (a Delay, an Action Paths window), ends or exits. Every transition is one statement fenced by the
 * lease (`lease_owner = me AND state = 'active'`) in the transaction that appends its events, so a
 * worker that lost its lease (crash, exit by the listener) commits nothing, and a crash repeats no
 * transition. A message is sent between two fenced commits with a key derived from the step visit
 * (the campaign pipeline's `sendKey`): a crash mid-send may re-transmit once, with the same Message-ID.
 */
import { composeEmail, type SmtpOutcome, type SmtpSettings } from '../channels/index.js';
import { bucketOf, sendKey, uuidV5 } from '../campaigns/index.js';
import { appendEvents, type LogEvent } from '../events/index.js';
import { mergeCustomAttributes, userOrdinals, usersByIds, type User } from '../identity/index.js';
import { buildRenderScope, compileTemplate, renderTemplate } from '../personalization/index.js';
import { getSegment, type OrdinalBitmap, type FilterNode } from '../segments/index.js';
import type { Db, Queryable } from '../storage/index.js';
import type { CanvasDefinition, Step } from './definition.js';
import { canvasEvent, type CanvasEventContext } from './events.js';
import { ENTRY_COLUMNS, insertEntries, countEntries, type Canvas, type Entry, type NewEntry } from './store.js';

export const CONTROL_VARIANT = 'control';
const MAX_INSTANT_STEPS = 100;
const MAX_EMAIL_ATTEMPTS = 5;

export interface EngineDeps {
  db: Db;
  /** The clock of every due time (tests run a week in seconds with their own). */
  now(): number;
  smtp: SmtpSettings;
  sendEmail(settings: SmtpSettings, email: ReturnType<typeof composeEmail>): Promise<SmtpOutcome>;
  publicUrl: string;
  trackingSecret(workspaceId: string): Buffer;
  members(workspaceId: string, filter: FilterNode, nowMs: number): Promise<OrdinalBitmap>;
  definition(canvasId: string, version: number): Promise<CanvasDefinition | undefined>;
  canvasName(canvasId: string): Promise<string>;
}

/** Whether a user is in a segment now (false for an unknown segment). */
export async function inSegment(deps: EngineDeps, workspaceId: string, segmentId: string, userId: string): Promise<boolean> {
  const segment = await getSegment(deps.db, workspaceId, segmentId);
  if (!segment) return false;
  const [members, ordinals] = await Promise.all([deps.members(workspaceId, segment.filter, deps.now()), userOrdinals(deps.db, workspaceId, [userId])]);
  const ord = ordinals.get(userId);
  return ord !== undefined && members.has(ord);
}

/** Offset (ms) of a time zone from UTC at an instant; 0 for an unknown zone. */
function zoneOffset(timeZone: string, atMs: number): number {
  try {
    const parts = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' }).formatToParts(new Date(atMs));
    const n = (t: string) => Number(parts.find((p) => p.type === t)!.value);
    return Date.UTC(n('year'), n('month') - 1, n('day'), n('hour'), n('minute'), n('second')) - Math.floor(atMs / 1000) * 1000;
  } catch {
    return 0;
  }
}

/** The next instant after `nowMs` that is `weekday` (0 = Sunday) at `time` (HH:MM) in `timeZone`. Pure. */
export function nextWeekdayTime(nowMs: number, weekday: number, time: string, timeZone: string): number {
  const [h, m] = time.split(':').map(Number) as [number, number];
  const offset = zoneOffset(timeZone, nowMs);
  const local = new Date(nowMs + offset);
  for (let d = 0; d <= 7; d++) {
    const day = new Date(Date.UTC(local.getUTCFullYear(), local.getUTCMonth(), local.getUTCDate() + d, h, m));
    if (day.getUTCDay() !== weekday) continue;
    const guess = day.getTime() - offset;
    const at = day.getTime() - zoneOffset(timeZone, guess);
    if (at > nowMs) return at;
  }
  return nowMs + 7 * 86_400_000;
}

/** When a Delay that starts now ends (null: its date has passed, the entry ends). */
export function delayEnd(step: Extract<Step, { type: 'delay' }>, nowMs: number, timeZone: string | null): number | null {
  const d = step.delay;
  if ('seconds' in d) return nowMs + d.seconds * 1000;
  if ('until' in d) {
    const at = Date.parse(d.until);
    return at > nowMs ? at : null;
  }
  return nextWeekdayTime(nowMs, d.weekday, d.time, timeZone ?? 'UTC');
}

function contextOf(canvas: { id: string; name: string }, def: CanvasDefinition, entry: Pick<Entry, 'workspace_id' | 'variant_id'>, user: CanvasEventContext['user'], step?: Step): CanvasEventContext {
  const variant = entry.variant_id === CONTROL_VARIANT ? { id: CONTROL_VARIANT, name: 'Control' } : def.variant;
  return { workspaceId: entry.workspace_id, canvas, variant, user, ...(step ? { step: { id: step.id, name: step.name } } : {}) };
}

/**
 * Enters users into a Canvas (one transaction): control users get `Entry` with in_control_group and
 * end at once; the others start at the first step, due now. `source` (one for all, or per user)
 * makes the entry id, so entering again from the same source writes nothing. Returns how many entered.
 */
export async function enterUsers(tx: Queryable, canvas: Canvas, users: User[], source: string | ((userId: string) => string), props: (userId: string) => Record<string, unknown>, nowMs: number): Promise<number> {
  const def = canvas.definition;
  let candidates = users;
  if (def.entry_limit !== null) {
    const room = def.entry_limit - (await countEntries(tx, canvas.id));
    candidates = users.slice(0, Math.max(0, room));
  }
  const reEntry = def.re_entry === 'off' ? null : def.re_entry;
  const entries: NewEntry[] = candidates.map((u) => {
    const control = bucketOf(canvas.id, u.id) < def.control_percent;
    return {
      id: uuidV5(canvas.id, `${u.id}:${def.re_entry === 'off' ? 'once' : typeof source === 'string' ? source : source(u.id)}`),
      user_id: u.id,
      variant_id: control ? CONTROL_VARIANT : def.variant.id,
      entry_properties: props(u.id),
      step_id: control ? null : def.first_step_id,
      state: control ? 'done' : 'active',
    };
  });
  const written = await insertEntries(tx, canvas, entries, nowMs, reEntry);
  const byId = new Map(candidates.map((u) => [u.id, u]));
  const first = def.steps.find((s) => s.id === def.first_step_id);
  const events = entries
    .filter((e) => written.has(e.id))
    .map((e) => {
      const u = byId.get(e.user_id)!;
      const control = e.variant_id === CONTROL_VARIANT;
      return canvasEvent('users.canvas.Entry', contextOf(canvas, def, { workspace_id: canvas.workspace_id, variant_id: e.variant_id }, u, control ? undefined : first), e.id, { in_control_group: control }, nowMs);
    });
  await appendEvents(tx, canvas.workspace_id, events);
  return written.size;
}

interface Transition {
  step_id?: string | null;
  phase?: Entry['phase'];
  state?: Entry['state'];
  due_at?: number;
  visit?: boolean;
  step_attempts?: number;
  event_properties?: Record<string, unknown>;
  experiment?: Entry['experiment'];
  end_reason?: string;
  release?: boolean;
}

/**
 * Transitions of steps that take no time and touch nothing outside the database (paths, splits,
 * user updates, a wait's end) are staged, then committed with the next transition that must be
 * committed (a wait, a message, the end): one fenced transaction for the whole run. A crash before
 * it commits nothing; the run is repeated with the same outcome (splits are stable, ids derived).
 */
export class Pending {
  t: Transition = {};
  events: LogEvent[] = [];
  extras: Array<(tx: Queryable) => Promise<void>> = [];
  visits = 0;
  get empty(): boolean {
    return this.visits === 0 && !this.events.length && !this.extras.length && !Object.keys(this.t).length;
  }
}

/** Stages a transition (see Pending): applied to the entry in memory now, committed later. */
function stage(entry: Entry, pending: Pending, t: Transition, events: LogEvent[], extra?: (tx: Queryable) => Promise<void>): true {
  if (t.step_id !== undefined) entry.step_id = t.step_id;
  if (t.phase) entry.phase = t.phase;
  if (t.state) entry.state = t.state;
  if (t.due_at !== undefined) entry.due_at = new Date(t.due_at);
  if (t.step_attempts !== undefined) entry.step_attempts = t.step_attempts;
  if (t.experiment) entry.experiment = t.experiment;
  if (t.visit) {
    entry.visits++;
    pending.visits++;
  }
  const { visit: _visit, ...rest } = t;
  Object.assign(pending.t, rest);
  pending.events.push(...events);
  if (extra) pending.extras.push(extra);
  return true;
}

/** Applies a transition (after any staged ones) only while `owner` holds the entry; appends its events in the same transaction. */
export async function commitTransition(db: Db, entry: Entry, owner: string, given: Transition, givenEvents: LogEvent[], givenExtra?: (tx: Queryable) => Promise<void>, pending?: Pending): Promise<boolean> {
  const t: Transition = pending ? { ...pending.t, ...given } : given;
  const visits = (pending?.visits ?? 0) + (given.visit ? 1 : 0);
  const events = pending ? [...pending.events, ...givenEvents] : givenEvents;
  const extras = [...(pending?.extras ?? []), ...(givenExtra ? [givenExtra] : [])];
  const done = await db.transaction(async (tx) => {
    const { rows } = await tx.query<Entry>(
      `UPDATE canvas_entries SET
          step_id = CASE WHEN $3 THEN $4 ELSE step_id END,
          phase = coalesce($5, phase),
          state = coalesce($6, state),
          due_at = coalesce(to_timestamp($7::float8 / 1000), due_at),
          visits = visits + $8::int,
          step_attempts = coalesce($9, step_attempts),
          event_properties = coalesce($10::jsonb, event_properties),
          experiment = coalesce($11::jsonb, experiment),
          end_reason = coalesce($12, end_reason),
          ended_at = CASE WHEN coalesce($6, state) <> 'active' THEN to_timestamp($13::float8 / 1000) ELSE ended_at END,
          lease_owner = CASE WHEN $14 THEN NULL ELSE lease_owner END,
          lease_until = CASE WHEN $14 THEN NULL ELSE lease_until END
        WHERE id = $1 AND lease_owner = $2 AND state = 'active'
        RETURNING ${ENTRY_COLUMNS}`,
      [
        entry.id,
        owner,
        t.step_id !== undefined,
        t.step_id ?? null,
        t.phase ?? null,
        t.state ?? null,
        t.due_at ?? null,
        visits,
        t.step_attempts ?? null,
        t.event_properties ? JSON.stringify(t.event_properties) : null,
        t.experiment ? JSON.stringify(t.experiment) : null,
        t.end_reason ?? null,
        Date.now(),
        t.release === true,
      ],
    );
    if (!rows.length) return false;
    Object.assign(entry, rows[0]);
    for (const extra of extras) await extra(tx);
    await appendEvents(tx, entry.workspace_id, events);
    return true;
  });
  if (done && pending) Object.assign(pending, new Pending());
  return done;
}

/** Where an entry goes from a step (null: the path ends and so does the entry). */
function moveTo(next: string | null, nowMs: number): Transition {
  return next === null ? { state: 'done', step_id: null, end_reason: 'completed', visit: true, step_attempts: 0 } : { step_id: next, phase: 'run', due_at: nowMs, visit: true, step_attempts: 0 };
}

/**
 * The final transitions of many entries (each fenced by its lease), committed together: one
 * `UPDATE … FROM jsonb_to_recordset` for the rows and one append per workspace for their events,
 * so a claimed batch costs a few statements, not one transaction per user. Only the entries whose
 * row still matched (lease held, still active) have their events and extras written.
 */
export class TransitionBatch {
  readonly items: Array<{ entry: Entry; pending: Pending }> = [];
  constructor(
    private readonly db: Db,
    private readonly owner: string,
  ) {}

  add(entry: Entry, pending: Pending): void {
    const p = new Pending();
    Object.assign(p, { t: pending.t, events: pending.events, extras: pending.extras, visits: pending.visits });
    this.items.push({ entry, pending: p });
    Object.assign(pending, new Pending());
  }

  /** Commits every staged transition; returns the ids committed (the others lost their lease). */
  async flush(): Promise<Set<string>> {
    const items = this.items.splice(0);
    if (!items.length) return new Set();
    try {
      return await this.db.transaction(async (tx) => {
        const rows = items.map(({ entry, pending: { t, visits } }) => ({
          id: entry.id,
          set_step: t.step_id !== undefined,
          step_id: t.step_id ?? null,
          phase: t.phase ?? null,
          state: t.state ?? null,
          due_ms: t.due_at ?? null,
          visits,
          step_attempts: t.step_attempts ?? null,
          event_properties: t.event_properties ?? null,
          experiment: t.experiment ?? null,
          end_reason: t.end_reason ?? null,
          release: t.release === true,
        }));
        const { rows: done } = await tx.query<{ id: string }>(
          `UPDATE canvas_entries e SET
              step_id = CASE WHEN t.set_step THEN t.step_id ELSE e.step_id END,
              phase = coalesce(t.phase, e.phase),
              state = coalesce(t.state, e.state),
              due_at = coalesce(to_timestamp(t.due_ms / 1000), e.due_at),
              visits = e.visits + t.visits,
              step_attempts = coalesce(t.step_attempts, e.step_attempts),
              event_properties = coalesce(t.event_properties, e.event_properties),
              experiment = coalesce(t.experiment, e.experiment),
              end_reason = coalesce(t.end_reason, e.end_reason),
              ended_at = CASE WHEN coalesce(t.state, e.state) <> 'active' THEN to_timestamp($3::float8 / 1000) ELSE e.ended_at END,
              lease_owner = CASE WHEN t.release THEN NULL ELSE e.lease_owner END,
              lease_until = CASE WHEN t.release THEN NULL ELSE e.lease_until END
            FROM jsonb_to_recordset($2::jsonb) AS t(id uuid, set_step boolean, step_id text, phase text, state text, due_ms float8, visits int,
                   step_attempts int, event_properties jsonb, experiment jsonb, end_reason text, release boolean)
           WHERE e.id = t.id AND e.lease_owner = $1 AND e.state = 'active'
           RETURNING e.id`,
          [this.owner, JSON.stringify(rows), Date.now()],
        );
        const ids = new Set(done.map((r) => r.id));
        const byWorkspace = new Map<string, LogEvent[]>();
        for (const { entry, pending } of items) {
          if (!ids.has(entry.id)) continue;
          for (const extra of pending.extras) await extra(tx);
          if (!pending.events.length) continue;
          const list = byWorkspace.get(entry.workspace_id);
          if (list) list.push(...pending.events);
          else byWorkspace.set(entry.workspace_id, [...pending.events]);
        }
        for (const [ws, events] of byWorkspace) await appendEvents(tx, ws, events);
        return ids;
      });
    } catch {
      // One entry's extra failed the batch: commit each alone so the others still advance.
      const ids = new Set<string>();
      for (const { entry, pending } of items) {
        if (await commitTransition(this.db, { ...entry }, this.owner, {}, [], undefined, pending).catch(() => false)) ids.add(entry.id);
      }
      return ids;
    }
  }
}

/** What a caller already knows for a run (the worker fetches users for a whole batch). */
export interface RunOptions {
  /** The entry's user, looked up with the batch (null: the user is gone). */
  user?: User | null;
  /** Where the run's final transition goes instead of its own transaction. */
  batch?: TransitionBatch;
}

/** Runs a claimed entry until it waits, ends or exits (or the lease is lost). */
export async function runEntry(deps: EngineDeps, owner: string, entry: Entry, opts: RunOptions = {}): Promise<void> {
  const def = await deps.definition(entry.canvas_id, entry.version);
  const user = opts.user !== undefined ? opts.user : (await usersByIds(deps.db, entry.workspace_id, [entry.user_id]))[0];
  const pending = new Pending();
  // The run's last transition (a wait, the end, an exit) gives the lease back; with a batch it is
  // committed with the batch's others.
  const finish = async (t: Transition, events: LogEvent[] = []): Promise<void> => {
    stage(entry, pending, { ...t, release: true }, events);
    if (opts.batch) opts.batch.add(entry, pending);
    else await commitTransition(deps.db, entry, owner, {}, [], undefined, pending);
  };
  if (!def || !user) return finish({ state: 'done', end_reason: user ? 'version_gone' : 'user_deleted' });
  const canvas = { id: entry.canvas_id, name: await deps.canvasName(entry.canvas_id) };
  const steps = new Map(def.steps.map((s) => [s.id, s]));
  for (let i = 0; i < MAX_INSTANT_STEPS && entry.state === 'active'; i++) {
    const step = entry.step_id ? steps.get(entry.step_id) : undefined;
    const now = deps.now();
    if (!step) return finish({ state: 'done', end_reason: 'step_gone' });
    const ctx = contextOf(canvas, def, entry, user, step);
    let ok: boolean;
    if (entry.phase === 'wait' && step.type === 'delay') ok = stage(entry, pending, moveTo(step.next, now), []);
    else if (entry.phase === 'listen' && step.type === 'action_paths') ok = stage(entry, pending, moveTo(step.everyone_else, now), []);
    else {
      // Exit audiences are checked before every step.
      if (def.exit.segment_id && (await inSegment(deps, entry.workspace_id, def.exit.segment_id, user.id))) {
        return finish({ state: 'exited', end_reason: 'matched_audience' }, [canvasEvent('users.canvas.exit.MatchedAudience', ctx, entry.id, {}, now)]);
      }
      const result = await runStep(deps, owner, entry, def, step, ctx, user, now, pending);
      if (result === 'wait') return finish({});
      ok = result;
    }
    if (!ok) return;
    // Later steps due in the future (a retry) are left to a later claim.
    if (entry.state === 'active' && entry.due_at.getTime() > deps.now()) return finish({});
  }
  // Whatever is staged (an end included) commits here, with the lease given back.
  if (entry.state === 'active' || !pending.empty) await finish({});
}

/**
 * Runs claimed entries `concurrency` at a time: their users are read in one query per workspace and
 * their final transitions committed together (TransitionBatch). Messages still commit around their
 * send on their own. Returns the entries run.
 */
export async function runEntries(deps: EngineDeps, owner: string, entries: Entry[], concurrency: number, onError: (err: unknown) => void, stopped: () => boolean = () => false): Promise<number> {
  const byWorkspace = new Map<string, string[]>();
  for (const e of entries) {
    const list = byWorkspace.get(e.workspace_id);
    if (list) list.push(e.user_id);
    else byWorkspace.set(e.workspace_id, [e.user_id]);
  }
  const users = new Map<string, User>();
  for (const [ws, ids] of byWorkspace) for (const u of await usersByIds(deps.db, ws, [...new Set(ids)])) users.set(`${ws}:${u.id}`, u);
  const batch = new TransitionBatch(deps.db, owner);
  let next = 0;
  let ran = 0;
  const lane = async () => {
    while (next < entries.length && !stopped()) {
      const entry = entries[next++]!;
      await runEntry(deps, owner, entry, { user: users.get(`${entry.workspace_id}:${entry.user_id}`) ?? null, batch }).catch(onError);
      ran++;
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, entries.length)) }, lane));
  await batch.flush();
  return ran;
}

async function runStep(deps: EngineDeps, owner: string, entry: Entry, def: CanvasDefinition, step: Step, ctx: CanvasEventContext, user: User, now: number, pending: Pending): Promise<boolean | 'wait'> {
  switch (step.type) {
    case 'delay': {
      const end = delayEnd(step, now, user.time_zone);
      if (end === null) return stage(entry, pending, { state: 'done', end_reason: 'delay_passed' }, []);
      stage(entry, pending, { phase: 'wait', due_at: end }, []);
      return 'wait';
    }
    case 'action_paths':
      stage(entry, pending, { phase: 'listen', due_at: now + step.window_seconds * 1000 }, []);
      return 'wait';
    case 'audience_paths': {
      let next: string | null = step.paths.at(-1)!.next;
      for (const p of step.paths) {
        if (p.segment_id === null || (await inSegment(deps, entry.workspace_id, p.segment_id, user.id))) {
          next = p.next;
          break;
        }
      }
      return stage(entry, pending, moveTo(next, now), []);
    }
    case 'decision_split': {
      const yes = await inSegment(deps, entry.workspace_id, step.segment_id, user.id);
      return stage(entry, pending, moveTo(yes ? step.yes : step.no, now), []);
    }
    case 'experiment_paths': {
      const bucket = bucketOf(`${entry.canvas_id}:${step.id}`, user.id);
      let edge = step.control_percent;
      const control = bucket < edge;
      const path = control ? undefined : (step.paths.find((p) => bucket < (edge += p.percent)) ?? step.paths.at(-1)!);
      const split = path ? { id: path.id, name: path.name } : { id: CONTROL_VARIANT, name: 'Control' };
      const event = canvasEvent('users.canvas.experimentstep.SplitEntry', ctx, entry.id, { experiment_step_id: step.id, experiment_split_id: split.id, experiment_split_name: split.name, in_control_group: control }, now, step.id);
      const experiment = { step_id: step.id, split_id: split.id, split_name: split.name, control };
      // The control group of an experiment leaves the Canvas here (and still converts).
      const t = path ? moveTo(path.next, now) : { state: 'done' as const, end_reason: 'experiment_control' };
      return stage(entry, pending, { ...t, experiment }, [event]);
    }
    case 'user_update':
      return stage(entry, pending, moveTo(step.next, now), [], async (tx) => {
        await mergeCustomAttributes(tx, entry.workspace_id, user.id, step.attributes);
      });
    case 'message':
      return sendMessage(deps, owner, entry, def, step, ctx, user, now, pending);
  }
}

async function render(source: string | undefined, scope: Record<string, unknown>): Promise<{ ok: true; text: string } | { ok: false; abortType: string; abortLog: string }> {
  if (source === undefined) return { ok: true, text: '' };
  const c = compileTemplate(source);
  if (!c.template) return { ok: false, abortType: 'template_parse_error', abortLog: c.problems[0]?.message ?? 'does not compile' };
  return renderTemplate(c.template, scope);
}

async function sendMessage(deps: EngineDeps, owner: string, entry: Entry, def: CanvasDefinition, step: Extract<Step, { type: 'message' }>, ctx: CanvasEventContext, user: User, now: number, pending: Pending): Promise<boolean> {
  const dispatchId = uuidV5(entry.id, `visit:${entry.visits}`);
  const key = sendKey(dispatchId, user.id, 'email');
  const fields = { dispatch_id: dispatchId, send_id: key, message_variation_id: step.message_variation_id, canvas_step_message_variation_id: step.message_variation_id, email_address: user.email ?? '' };
  const ev = (type: string, extra: Record<string, unknown> = {}, disc = '') => canvasEvent(`users.messages.email.${type}`, ctx, key, { ...fields, ...extra }, deps.now(), disc);
  // The user advances when the message is sent, aborted or unreachable (Braze).
  if (!user.email) return commitTransition(deps.db, entry, owner, moveTo(step.next, now), [ev('Abort', { abort_type: 'missing_email', abort_log: 'the user has no email address' })], undefined, pending);
  if (user.email_subscribe === 'unsubscribed') return commitTransition(deps.db, entry, owner, moveTo(step.next, now), [], undefined, pending);
  const secret = deps.trackingSecret(entry.workspace_id);
  const scope = buildRenderScope({
    profile: { ...user, dob: user.dob },
    canvasEntryProperties: entry.entry_properties,
    eventProperties: entry.event_properties,
    campaign: { api_id: entry.canvas_id, dispatch_id: dispatchId, name: step.name, message_name: step.name, message_api_id: step.message_variation_id },
    canvas: { api_id: entry.canvas_id, name: ctx.canvas.name, variant_name: ctx.variant.name, variant_api_id: ctx.variant.id },
  });
  const parts = await Promise.all([render(step.email.subject, scope), render(step.email.html, scope), render(step.email.text, scope)]);
  const failed = parts.find((p): p is Extract<typeof p, { ok: false }> => !p.ok);
  if (failed) return commitTransition(deps.db, entry, owner, moveTo(step.next, now), [ev('Abort', { abort_type: failed.abortType, abort_log: failed.abortLog })], undefined, pending);
  const [subject, html, text] = parts.map((p) => (p.ok ? p.text : ''));
  const composed = composeEmail({
    email: { subject: subject!, html: html!, ...(step.email.text !== undefined ? { text } : {}) },
    to: user.email,
    from: def.from,
    sendKey: key,
    workspaceId: entry.workspace_id,
    publicUrl: deps.publicUrl,
    secret,
    listUnsubscribe: true,
  });
  const fromDomain = def.from.address.slice(def.from.address.lastIndexOf('@') + 1);
  // The Send event is written once, with the first attempt (and whatever was staged before it).
  if (entry.step_attempts === 0 && !(await commitTransition(deps.db, entry, owner, { step_attempts: 1 }, [ev('Send', { from_domain: fromDomain })], undefined, pending))) return false;
  if (!pending.empty && !(await commitTransition(deps.db, entry, owner, {}, [], undefined, pending))) return false;
  const outcome = await deps.sendEmail(deps.smtp, composed);
  const esp = { esp: 'smtp', from_domain: fromDomain };
  if (outcome.kind === 'delivered') return commitTransition(deps.db, entry, owner, moveTo(step.next, deps.now()), [ev('Delivery', esp)]);
  if (outcome.kind === 'bounce') return commitTransition(deps.db, entry, owner, moveTo(step.next, deps.now()), [ev('Bounce', { ...esp, bounce_reason: outcome.reason, is_drop: false })]);
  const attempts = Math.max(1, entry.step_attempts);
  if (attempts >= MAX_EMAIL_ATTEMPTS) return commitTransition(deps.db, entry, owner, moveTo(step.next, deps.now()), [ev('SoftBounce', { ...esp, bounce_reason: outcome.reason })]);
  const domain = user.email.slice(user.email.lastIndexOf('@') + 1);
  return commitTransition(
    deps.db,
    entry,
    owner,
    { step_attempts: attempts + 1, due_at: deps.now() + 60_000 * 2 ** (attempts - 1), release: true },
    [ev('Deferral', { ...esp, deferral_reason: outcome.reason, attempt_count: attempts, recipient_domain: domain }, String(attempts))],
  );
}
