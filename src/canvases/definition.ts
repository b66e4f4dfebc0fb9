/**
 * A Canvas's definition and its launch checks (docs/reference/canvases.md §1). Pure: the caller
 * checks what needs the database (that segments exist). Every problem names its field, and a
 * problem of a step names the step (`steps[2] (id "wait")`), so a Canvas that cannot launch says why.
 */
import { compileTemplate } from '../personalization/index.js';

export type EntryRule =
  | { type: 'scheduled'; segment_id: string }
  | { type: 'action'; event: EventMatch; segment_id?: string }
  | { type: 'api'; segment_id?: string };

/** A custom event by name (with property equalities) or a purchase (optionally of one product). */
export interface EventMatch {
  kind: 'custom_event' | 'purchase';
  name?: string;
  product_id?: string;
  properties?: Record<string, string | number | boolean>;
}

export interface EmailMessage {
  subject: string;
  html: string;
  text?: string;
}

export type Step =
  | { id: string; name: string; type: 'message'; message_variation_id: string; email: EmailMessage; next: string | null }
  | { id: string; name: string; type: 'delay'; delay: { seconds: number } | { until: string } | { weekday: number; time: string }; next: string | null }
  | { id: string; name: string; type: 'audience_paths'; paths: Array<{ name: string; segment_id: string | null; next: string | null }> }
  | { id: string; name: string; type: 'decision_split'; segment_id: string; yes: string | null; no: string | null }
  | { id: string; name: string; type: 'action_paths'; window_seconds: number; paths: Array<{ name: string; event: EventMatch; next: string | null }>; everyone_else: string | null }
  | { id: string; name: string; type: 'experiment_paths'; paths: Array<{ id: string; name: string; percent: number; next: string | null }>; control_percent: number }
  | { id: string; name: string; type: 'user_update'; attributes: Record<string, unknown>; next: string | null };

export interface Conversion {
  kind: 'custom_event' | 'purchase';
  name?: string;
  window_seconds: number;
}

export interface CanvasDefinition {
  entry: EntryRule;
  /** off: a user enters once; a number: seconds after the previous entry before the user may enter again. */
  re_entry: 'off' | number;
  /** Lifetime entries at most (null: no limit). */
  entry_limit: number | null;
  exit: { events: EventMatch[]; segment_id: string | null };
  from: { address: string; name?: string };
  variant: { id: string; name: string };
  control_percent: number;
  first_step_id: string;
  steps: Step[];
  conversions: Conversion[];
}

export interface CanvasInput {
  name: string;
  description: string;
  tags: string[];
  definition: CanvasDefinition;
}

export interface Problem {
  field: string;
  message: string;
}

export const MAX_STEPS = 200;
export const MAX_DELAY_SECONDS = 30 * 86_400;
export const MAX_ACTION_WINDOW_SECONDS = 31 * 86_400;
const ID = /^[A-Za-z0-9_-]{1,64}$/;
const TIME = /^([01]\d|2[0-3]):[0-5]\d$/;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isText = (v: unknown, max = 512): v is string => typeof v === 'string' && v.length > 0 && v.length <= max;

/** The steps a step leads to (null: the path ends there). */
export function nextsOf(step: Step): Array<string | null> {
  switch (step.type) {
    case 'audience_paths':
    case 'experiment_paths':
      return step.paths.map((p) => p.next);
    case 'action_paths':
      return [...step.paths.map((p) => p.next), step.everyone_else];
    case 'decision_split':
      return [step.yes, step.no];
    default:
      return [step.next];
  }
}

/** Segments a definition refers to, with the field naming each. */
export function segmentRefs(def: CanvasDefinition): Array<{ id: string; field: string }> {
  const out: Array<{ id: string; field: string }> = [];
  if (def.entry.segment_id) out.push({ id: def.entry.segment_id, field: 'entry.segment_id' });
  if (def.exit.segment_id) out.push({ id: def.exit.segment_id, field: 'exit.segment_id' });
  def.steps.forEach((s, i) => {
    const where = `steps[${i}] (id "${s.id}")`;
    if (s.type === 'decision_split') out.push({ id: s.segment_id, field: `${where}.segment_id` });
    if (s.type === 'audience_paths') s.paths.forEach((p, j) => p.segment_id && out.push({ id: p.segment_id, field: `${where}.paths[${j}].segment_id` }));
  });
  return out;
}

function eventMatch(problems: Problem[], field: string, v: unknown): EventMatch | undefined {
  if (!isObj(v) || (v.kind !== 'custom_event' && v.kind !== 'purchase')) {
    problems.push({ field, message: 'must be {kind: "custom_event", name} or {kind: "purchase"}' });
    return undefined;
  }
  if (v.kind === 'custom_event' && !isText(v.name, 255)) problems.push({ field: `${field}.name`, message: 'a custom event needs its name' });
  if (v.properties !== undefined && (!isObj(v.properties) || Object.values(v.properties).some((x) => !['string', 'number', 'boolean'].includes(typeof x)))) {
    problems.push({ field: `${field}.properties`, message: 'must be an object of strings, numbers and booleans' });
  }
  return { kind: v.kind, ...(isText(v.name) ? { name: v.name } : {}), ...(isText(v.product_id) ? { product_id: v.product_id } : {}), ...(isObj(v.properties) ? { properties: v.properties as EventMatch['properties'] } : {}) };
}

function target(v: unknown): string | null | undefined {
  if (v === null) return null;
  return typeof v === 'string' ? v : undefined;
}

function step(problems: Problem[], raw: unknown, i: number): Step | undefined {
  const where = isObj(raw) && typeof raw.id === 'string' ? `steps[${i}] (id "${raw.id}")` : `steps[${i}]`;
  const fail = (field: string, message: string) => problems.push({ field: field ? `${where}.${field}` : where, message });
  if (!isObj(raw)) return void fail('', 'must be an object');
  if (typeof raw.id !== 'string' || !ID.test(raw.id)) fail('id', 'must be 1–64 letters, digits, _ or -');
  const base = { id: String(raw.id), name: isText(raw.name, 255) ? raw.name : String(raw.id) };
  const next = (field: string, v: unknown) => {
    const t = target(v);
    if (t === undefined) fail(field, 'this path has no end: name the next step, or null to end the path here');
    return t ?? null;
  };
  switch (raw.type) {
    case 'message': {
      const email = raw.email;
      if (!isObj(email)) return void fail('email', 'missing content: a message step needs email {subject, html}');
      for (const part of ['subject', 'html', 'text'] as const) {
        const v = email[part];
        if (v === undefined && part === 'text') continue;
        if (!isText(v, 512 * 1024)) fail(`email.${part}`, 'missing content: must be a non-empty string');
        else for (const p of compileTemplate(v).problems ?? []) fail(`email.${part}`, `${p.message} (line ${p.line}, column ${p.column})`);
      }
      const mv = isText(raw.message_variation_id, 64) ? raw.message_variation_id : `${base.id}-email`;
      return { ...base, type: 'message', message_variation_id: mv, email: { subject: String(email.subject), html: String(email.html), ...(typeof email.text === 'string' ? { text: email.text } : {}) }, next: next('next', raw.next) };
    }
    case 'delay': {
      const d = raw.delay;
      let delay: Extract<Step, { type: 'delay' }>['delay'] | undefined;
      if (isObj(d) && typeof d.seconds === 'number') {
        if (!Number.isInteger(d.seconds) || d.seconds < 1 || d.seconds > MAX_DELAY_SECONDS) fail('delay.seconds', `must be an integer from 1 to ${MAX_DELAY_SECONDS} (30 days)`);
        delay = { seconds: d.seconds };
      } else if (isObj(d) && typeof d.until === 'string') {
        if (Number.isNaN(Date.parse(d.until))) fail('delay.until', 'must be an ISO-8601 date-time');
        delay = { until: d.until };
      } else if (isObj(d) && typeof d.weekday === 'number') {
        if (!Number.isInteger(d.weekday) || d.weekday < 0 || d.weekday > 6) fail('delay.weekday', 'must be 0 (Sunday) to 6');
        if (typeof d.time !== 'string' || !TIME.test(d.time)) fail('delay.time', 'must be HH:MM');
        delay = { weekday: d.weekday, time: String(d.time) };
      } else fail('delay', 'must be {seconds}, {until} or {weekday, time}');
      return delay && { ...base, type: 'delay', delay, next: next('next', raw.next) };
    }
    case 'audience_paths': {
      if (!Array.isArray(raw.paths) || raw.paths.length < 1 || raw.paths.length > 8) return void fail('paths', 'must list 1–8 groups');
      const paths = raw.paths.map((p: unknown, j: number) => {
        const o = isObj(p) ? p : {};
        const seg = o.segment_id === null || o.segment_id === undefined ? null : String(o.segment_id);
        if (seg === null && j !== (raw.paths as unknown[]).length - 1) fail(`paths[${j}].segment_id`, 'only the last group may be Everyone Else');
        return { name: isText(o.name) ? o.name : seg ? `Group ${j + 1}` : 'Everyone Else', segment_id: seg, next: next(`paths[${j}].next`, o.next) };
      });
      if (paths.at(-1)!.segment_id !== null) fail('paths', 'the last group must be Everyone Else (segment_id null)');
      return { ...base, type: 'audience_paths', paths };
    }
    case 'decision_split':
      if (!isText(raw.segment_id)) fail('segment_id', 'is required');
      return { ...base, type: 'decision_split', segment_id: String(raw.segment_id), yes: next('yes', raw.yes), no: next('no', raw.no) };
    case 'action_paths': {
      const w = raw.window_seconds ?? 86_400;
      if (typeof w !== 'number' || !Number.isInteger(w) || w < 1 || w > MAX_ACTION_WINDOW_SECONDS) fail('window_seconds', `must be an integer from 1 to ${MAX_ACTION_WINDOW_SECONDS} (31 days)`);
      if (!Array.isArray(raw.paths) || raw.paths.length < 1 || raw.paths.length > 8) return void fail('paths', 'must list 1–8 action groups');
      const paths = raw.paths.map((p: unknown, j: number) => {
        const o = isObj(p) ? p : {};
        return { name: isText(o.name) ? o.name : `Action ${j + 1}`, event: eventMatch(problems, `${where}.paths[${j}].event`, o.event)!, next: next(`paths[${j}].next`, o.next) };
      });
      return { ...base, type: 'action_paths', window_seconds: Number(w), paths, everyone_else: next('everyone_else', raw.everyone_else) };
    }
    case 'experiment_paths': {
      if (!Array.isArray(raw.paths) || raw.paths.length < 1 || raw.paths.length > 4) return void fail('paths', 'must list 1–4 paths');
      const control = raw.control_percent ?? 0;
      const paths = raw.paths.map((p: unknown, j: number) => {
        const o = isObj(p) ? p : {};
        if (typeof o.percent !== 'number' || !Number.isInteger(o.percent) || o.percent < 0) fail(`paths[${j}].percent`, 'must be a whole percentage');
        return { id: isText(o.id, 64) ? o.id : `path-${j + 1}`, name: isText(o.name) ? o.name : `Path ${j + 1}`, percent: Number(o.percent), next: next(`paths[${j}].next`, o.next) };
      });
      if (typeof control !== 'number' || paths.reduce((a: number, p: { percent: number }) => a + p.percent, 0) + control !== 100) fail('paths', 'the percentages and control_percent must add up to 100');
      return { ...base, type: 'experiment_paths', paths, control_percent: Number(control) };
    }
    case 'user_update':
      if (!isObj(raw.attributes) || Object.keys(raw.attributes).length === 0) fail('attributes', 'missing content: name the attributes to set');
      else if (JSON.stringify(raw.attributes).length > 65_536) fail('attributes', 'must be at most 65,536 characters of JSON');
      return { ...base, type: 'user_update', attributes: isObj(raw.attributes) ? raw.attributes : {}, next: next('next', raw.next) };
    default:
      return void fail('type', 'must be message, delay, audience_paths, decision_split, action_paths, experiment_paths or user_update');
  }
}

/** Graph checks: every next exists, every step reachable, no cycle without a Delay or Action Paths step. */
export function graphProblems(def: Pick<CanvasDefinition, 'steps' | 'first_step_id'>): Problem[] {
  const problems: Problem[] = [];
  const byId = new Map<string, Step>();
  def.steps.forEach((s, i) => {
    if (byId.has(s.id)) problems.push({ field: `steps[${i}] (id "${s.id}").id`, message: 'is used by another step' });
    byId.set(s.id, s);
  });
  if (!byId.has(def.first_step_id)) problems.push({ field: 'first_step_id', message: `no step has id "${def.first_step_id}"` });
  def.steps.forEach((s, i) => {
    for (const n of nextsOf(s)) if (n !== null && !byId.has(n)) problems.push({ field: `steps[${i}] (id "${s.id}")`, message: `leads to "${n}", which is not a step: this path has no end` });
  });
  if (problems.length) return problems;
  const reached = new Set<string>();
  const stack = [def.first_step_id];
  while (stack.length) {
    const id = stack.pop()!;
    if (reached.has(id)) continue;
    reached.add(id);
    for (const n of nextsOf(byId.get(id)!)) if (n) stack.push(n);
  }
  def.steps.forEach((s, i) => {
    if (!reached.has(s.id)) problems.push({ field: `steps[${i}] (id "${s.id}")`, message: 'is unreachable from the first step' });
  });
  // A cycle among steps that take no time would loop forever: find one in the graph without waits.
  const instant = (s: Step) => s.type !== 'delay' && s.type !== 'action_paths';
  const colour = new Map<string, 1 | 2>();
  const visit = (id: string): string | undefined => {
    colour.set(id, 1);
    const s = byId.get(id)!;
    for (const n of nextsOf(s)) {
      if (!n || !instant(byId.get(n)!)) continue;
      if (colour.get(n) === 1) return n;
      if (!colour.has(n)) {
        const found = visit(n);
        if (found) return found;
      }
    }
    colour.set(id, 2);
    return undefined;
  };
  for (const s of def.steps) {
    if (!instant(s) || colour.has(s.id)) continue;
    const at = visit(s.id);
    if (at) {
      const i = def.steps.findIndex((x) => x.id === at);
      problems.push({ field: `steps[${i}] (id "${at}")`, message: 'is on a cycle without a delay: add a Delay or Action Paths step to the loop' });
      break;
    }
  }
  return problems;
}

/** Checks a Canvas body; returns the typed input or every problem found. */
export function checkCanvasBody(body: unknown): { input: CanvasInput; problems?: undefined } | { problems: Problem[]; input?: undefined } {
  const problems: Problem[] = [];
  if (!isObj(body)) return { problems: [{ field: '', message: 'the body must be a JSON object' }] };
  if (!isText(body.name, 255)) problems.push({ field: 'name', message: 'must be 1–255 characters' });
  const description = typeof body.description === 'string' ? body.description.slice(0, 4096) : '';
  const tags = Array.isArray(body.tags) ? body.tags.filter((t): t is string => isText(t, 64)) : [];
  const e = body.entry;
  let entry: EntryRule | undefined;
  if (!isObj(e)) problems.push({ field: 'entry', message: 'must be {type: "scheduled" | "action" | "api", ...}' });
  else if (e.type === 'scheduled') {
    if (!isText(e.segment_id)) problems.push({ field: 'entry.segment_id', message: 'a scheduled Canvas needs its audience segment' });
    entry = { type: 'scheduled', segment_id: String(e.segment_id) };
  } else if (e.type === 'action') {
    const ev = eventMatch(problems, 'entry.event', e.event);
    entry = { type: 'action', event: ev!, ...(isText(e.segment_id) ? { segment_id: e.segment_id } : {}) };
  } else if (e.type === 'api') entry = { type: 'api', ...(isText(e.segment_id) ? { segment_id: e.segment_id } : {}) };
  else problems.push({ field: 'entry.type', message: 'must be scheduled, action or api' });
  const reEntry = body.re_entry ?? 'off';
  if (reEntry !== 'off' && !(typeof reEntry === 'number' && Number.isInteger(reEntry) && reEntry >= 0)) problems.push({ field: 're_entry', message: 'must be "off" or seconds after the previous entry' });
  const limit = body.entry_limit ?? null;
  if (limit !== null && !(typeof limit === 'number' && Number.isInteger(limit) && limit > 0)) problems.push({ field: 'entry_limit', message: 'must be a positive integer or null' });
  const x = isObj(body.exit) ? body.exit : {};
  const exitEvents = Array.isArray(x.events) ? x.events.map((v, i) => eventMatch(problems, `exit.events[${i}]`, v)!) : [];
  const from = body.from;
  if (!isObj(from) || !isText(from.address) || !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(from.address)) problems.push({ field: 'from.address', message: 'must be an email address' });
  const control = body.control_percent ?? 0;
  if (typeof control !== 'number' || !Number.isInteger(control) || control < 0 || control > 100) problems.push({ field: 'control_percent', message: 'must be 0–100' });
  const v = isObj(body.variant) ? body.variant : {};
  if (!Array.isArray(body.steps) || body.steps.length === 0 || body.steps.length > MAX_STEPS) problems.push({ field: 'steps', message: `must list 1–${MAX_STEPS} steps` });
  const steps = (Array.isArray(body.steps) ? body.steps.slice(0, MAX_STEPS) : []).map((s, i) => step(problems, s, i));
  const conversions = Array.isArray(body.conversions)
    ? body.conversions.slice(0, 4).map((c, i) => {
        const ev = eventMatch(problems, `conversions[${i}]`, c);
        const w = isObj(c) ? (c.window_seconds ?? 3 * 86_400) : 0;
        if (typeof w !== 'number' || w < 300 || w > 30 * 86_400) problems.push({ field: `conversions[${i}].window_seconds`, message: 'must be 300 to 2,592,000 seconds (5 minutes to 30 days)' });
        return { kind: ev?.kind ?? 'custom_event', ...(ev?.name ? { name: ev.name } : {}), window_seconds: Number(w) };
      })
    : [];
  const firstStep = typeof body.first_step_id === 'string' ? body.first_step_id : isObj(body.steps?.[0 as never]) ? String((body.steps as Obj[])[0]!.id) : '';
  if (problems.length || steps.some((s) => !s)) return { problems };
  const definition: CanvasDefinition = {
    entry: entry!,
    re_entry: reEntry as CanvasDefinition['re_entry'],
    entry_limit: limit as number | null,
    exit: { events: exitEvents, segment_id: isText(x.segment_id) ? x.segment_id : null },
    from: { address: String((from as Obj).address), ...(isText((from as Obj).name) ? { name: String((from as Obj).name) } : {}) },
    variant: { id: isText(v.id, 64) ? v.id : 'variant-1', name: isText(v.name) ? v.name : 'Variant 1' },
    control_percent: control as number,
    first_step_id: firstStep,
    steps: steps as Step[],
    conversions,
  };
  const graph = graphProblems(definition);
  if (graph.length) return { problems: graph };
  return { input: { name: String(body.name), description, tags, definition } };
}

/** Whether a logged event matches (custom events by name and properties, purchases by product). */
export function matchesEvent(m: EventMatch, e: { event_type: string; properties: Record<string, unknown> }): boolean {
  if (m.kind === 'custom_event') {
    if (e.event_type !== 'users.behaviors.CustomEvent' || e.properties.name !== m.name) return false;
    const props = (e.properties.custom_properties ?? e.properties.properties ?? {}) as Record<string, unknown>;
    return Object.entries(m.properties ?? {}).every(([k, v]) => props[k] === v);
  }
  if (e.event_type !== 'users.behaviors.Purchase') return false;
  return !m.product_id || e.properties.product_id === m.product_id;
}
