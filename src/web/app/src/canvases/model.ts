/**
 * The builder's model of a Canvas (docs/reference/canvases.md §1): a draft the diagram edits, read
 * from the server's answer with guards (the definition fields of that answer are open in the
 * contract) and written back as the body of POST/PUT /admin/canvases. An output of a step that is
 * not connected stays `undefined`, which the server refuses as "this path has no end"; `null`
 * ends the journey there.
 */
export type StepType = 'message' | 'delay' | 'audience_paths' | 'decision_split' | 'action_paths' | 'experiment_paths' | 'user_update';
export type Slot = string | null | undefined;
export type EventDraft = { kind: 'custom_event' | 'purchase'; name: string };
export type DelayDraft = { kind: 'seconds'; seconds: number } | { kind: 'until'; until: string } | { kind: 'weekday'; weekday: number; time: string };

export interface PathDraft {
  name: string;
  segment_id: string | null;
  event: EventDraft;
  percent: number;
  next: Slot;
}

export interface StepDraft {
  id: string;
  name: string;
  type: StepType;
  subject: string;
  html: string;
  delay: DelayDraft;
  segment_id: string;
  yes: Slot;
  no: Slot;
  next: Slot;
  paths: PathDraft[];
  everyone_else: Slot;
  window_seconds: number;
  control_percent: number;
  /** User Update: the attributes as JSON text. */
  attributes: string;
}

export interface CanvasDraft {
  name: string;
  entry: { type: 'api' | 'scheduled' | 'action'; segment_id: string; event: EventDraft };
  from_address: string;
  exit_on_purchase: boolean;
  control_percent: number;
  first_step_id: string;
  steps: StepDraft[];
}

export const STEP_TYPES: Array<{ type: StepType; label: string }> = [
  { type: 'message', label: 'Message' },
  { type: 'delay', label: 'Delay' },
  { type: 'decision_split', label: 'Decision Split' },
  { type: 'audience_paths', label: 'Audience Paths' },
  { type: 'action_paths', label: 'Action Paths' },
  { type: 'experiment_paths', label: 'Experiment Paths' },
  { type: 'user_update', label: 'User Update' },
];
export const typeLabel = (t: StepType) => STEP_TYPES.find((x) => x.type === t)?.label ?? t;

const path = (name: string, over: Partial<PathDraft> = {}): PathDraft => ({ name, segment_id: null, event: { kind: 'custom_event', name: '' }, percent: 50, next: undefined, ...over });

export function newStep(type: StepType, id: string): StepDraft {
  const base: StepDraft = {
    id,
    name: typeLabel(type),
    type,
    subject: '',
    html: '',
    delay: { kind: 'seconds', seconds: 86_400 },
    segment_id: '',
    yes: undefined,
    no: undefined,
    next: undefined,
    paths: [],
    everyone_else: undefined,
    window_seconds: 86_400,
    control_percent: 0,
    attributes: '{\n  "seen_canvas": true\n}',
  };
  if (type === 'audience_paths') base.paths = [path('Group 1'), path('Everyone Else')];
  if (type === 'action_paths') base.paths = [path('Action 1', { event: { kind: 'purchase', name: '' } })];
  if (type === 'experiment_paths') base.paths = [path('Path A'), path('Path B')];
  return base;
}

export const emptyCanvas = (): CanvasDraft => ({
  name: '',
  entry: { type: 'api', segment_id: '', event: { kind: 'custom_event', name: '' } },
  from_address: '',
  exit_on_purchase: false,
  control_percent: 0,
  first_step_id: '',
  steps: [],
});

/** The outputs of a step: a key (the diagram's handle id), a label and the slot it sets. */
export function outputsOf(s: StepDraft): Array<{ key: string; label: string; value: Slot }> {
  switch (s.type) {
    case 'decision_split':
      return [
        { key: 'yes', label: 'Yes', value: s.yes },
        { key: 'no', label: 'No', value: s.no },
      ];
    case 'audience_paths':
    case 'experiment_paths':
      return s.paths.map((p, i) => ({ key: `p${i}`, label: p.name || `Path ${i + 1}`, value: p.next }));
    case 'action_paths':
      return [...s.paths.map((p, i) => ({ key: `p${i}`, label: p.name || `Action ${i + 1}`, value: p.next })), { key: 'else', label: 'Everyone Else', value: s.everyone_else }];
    default:
      return [{ key: 'next', label: 'Next', value: s.next }];
  }
}

/** The step with one output set. */
export function withOutput(s: StepDraft, key: string, value: Slot): StepDraft {
  if (key === 'yes') return { ...s, yes: value };
  if (key === 'no') return { ...s, no: value };
  if (key === 'else') return { ...s, everyone_else: value };
  if (key === 'next') return { ...s, next: value };
  const i = Number(key.slice(1));
  return { ...s, paths: s.paths.map((p, j) => (j === i ? { ...p, next: value } : p)) };
}

const event = (e: EventDraft) => (e.kind === 'purchase' ? { kind: 'purchase' } : { kind: 'custom_event', name: e.name });

function stepBody(s: StepDraft): Record<string, unknown> {
  const base = { id: s.id, name: s.name, type: s.type };
  switch (s.type) {
    case 'message':
      return { ...base, email: { subject: s.subject, html: s.html }, next: s.next };
    case 'delay':
      return { ...base, delay: s.delay.kind === 'seconds' ? { seconds: s.delay.seconds } : s.delay.kind === 'until' ? { until: s.delay.until } : { weekday: s.delay.weekday, time: s.delay.time }, next: s.next };
    case 'decision_split':
      return { ...base, segment_id: s.segment_id, yes: s.yes, no: s.no };
    // A group without a segment is sent as null: the server names it (only the last may be Everyone Else).
    case 'audience_paths':
      return { ...base, paths: s.paths.map((p, i) => ({ name: p.name, segment_id: i === s.paths.length - 1 ? null : p.segment_id, next: p.next })) };
    case 'action_paths':
      return { ...base, window_seconds: s.window_seconds, paths: s.paths.map((p) => ({ name: p.name, event: event(p.event), next: p.next })), everyone_else: s.everyone_else };
    case 'experiment_paths':
      return { ...base, control_percent: s.control_percent, paths: s.paths.map((p, i) => ({ id: `path-${i + 1}`, name: p.name, percent: p.percent, next: p.next })) };
    case 'user_update': {
      let attributes: unknown;
      try {
        attributes = JSON.parse(s.attributes);
      } catch {
        attributes = s.attributes;
      }
      return { ...base, attributes, next: s.next };
    }
  }
}

/** The request body of POST/PUT /admin/canvases (unconnected outputs are left out: "no end"). */
export function canvasBody(d: CanvasDraft): Record<string, unknown> {
  const entry =
    d.entry.type === 'scheduled'
      ? { type: 'scheduled', segment_id: d.entry.segment_id }
      : d.entry.type === 'action'
        ? { type: 'action', event: event(d.entry.event), ...(d.entry.segment_id ? { segment_id: d.entry.segment_id } : {}) }
        : { type: 'api', ...(d.entry.segment_id ? { segment_id: d.entry.segment_id } : {}) };
  return {
    name: d.name,
    entry,
    from: { address: d.from_address },
    exit: { events: d.exit_on_purchase ? [{ kind: 'purchase' }] : [], segment_id: null },
    control_percent: d.control_percent,
    first_step_id: d.first_step_id || d.steps[0]?.id || '',
    steps: d.steps.map(stepBody),
  };
}

// Reading the server's answer: its definition fields are open in the contract, so each is guarded.
type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown, d = '') => (typeof v === 'string' ? v : d);
const num = (v: unknown, d: number) => (typeof v === 'number' ? v : d);
const slot = (v: unknown): Slot => (typeof v === 'string' ? v : v === null ? null : undefined);
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const isType = (v: unknown): v is StepType => STEP_TYPES.some((t) => t.type === v);
const eventOf = (v: unknown): EventDraft => (isObj(v) && v.kind === 'purchase' ? { kind: 'purchase', name: '' } : { kind: 'custom_event', name: isObj(v) ? str(v.name) : '' });

function stepOf(v: unknown, i: number): StepDraft {
  const o = isObj(v) ? v : {};
  const type = isType(o.type) ? o.type : 'user_update';
  const s = newStep(type, str(o.id, `step_${i + 1}`));
  s.name = str(o.name, s.name);
  s.next = slot(o.next);
  s.yes = slot(o.yes);
  s.no = slot(o.no);
  s.everyone_else = slot(o.everyone_else);
  s.segment_id = str(o.segment_id);
  s.window_seconds = num(o.window_seconds, s.window_seconds);
  s.control_percent = num(o.control_percent, 0);
  if (isObj(o.email)) {
    s.subject = str(o.email.subject);
    s.html = str(o.email.html);
  }
  if (isObj(o.delay)) {
    const d = o.delay;
    s.delay = typeof d.seconds === 'number' ? { kind: 'seconds', seconds: d.seconds } : typeof d.until === 'string' ? { kind: 'until', until: d.until } : { kind: 'weekday', weekday: num(d.weekday, 1), time: str(d.time, '09:00') };
  }
  if (isObj(o.attributes)) s.attributes = JSON.stringify(o.attributes, null, 2);
  if (Array.isArray(o.paths)) {
    s.paths = o.paths.map((p, j) => {
      const q = isObj(p) ? p : {};
      return path(str(q.name, `Path ${j + 1}`), { segment_id: typeof q.segment_id === 'string' ? q.segment_id : null, event: eventOf(q.event), percent: num(q.percent, 0), next: slot(q.next) });
    });
  }
  return s;
}

/** A draft from GET /admin/canvases/:id. */
export function draftOf(c: Obj): CanvasDraft {
  const entry = isObj(c.entry) ? c.entry : {};
  const exit = isObj(c.exit) ? c.exit : {};
  const from = isObj(c.from) ? c.from : {};
  const type = entry.type === 'scheduled' || entry.type === 'action' ? entry.type : 'api';
  return {
    name: str(c.name),
    entry: { type, segment_id: str(entry.segment_id), event: eventOf(entry.event) },
    from_address: str(from.address),
    exit_on_purchase: list(exit.events).some((e) => isObj(e) && e.kind === 'purchase'),
    control_percent: num(c.control_percent, 0),
    first_step_id: str(c.first_step_id),
    steps: list(c.steps).map(stepOf),
  };
}

/** Positions for the diagram: the first step on top, each step a row below the deepest step leading to it. */
export function layout(d: CanvasDraft): Map<string, { x: number; y: number }> {
  const depth = new Map<string, number>();
  const first = d.first_step_id || d.steps[0]?.id;
  const byId = new Map(d.steps.map((s) => [s.id, s]));
  const queue: Array<[string, number]> = first ? [[first, 1]] : [];
  while (queue.length) {
    const [id, n] = queue.shift()!;
    if (depth.has(id) || n > d.steps.length + 1) continue;
    depth.set(id, n);
    for (const o of outputsOf(byId.get(id)!)) if (typeof o.value === 'string' && byId.has(o.value) && !depth.has(o.value)) queue.push([o.value, n + 1]);
  }
  let orphanRow = Math.max(1, ...depth.values()) + 1;
  const rows = new Map<number, string[]>();
  for (const s of d.steps) {
    const n = depth.get(s.id) ?? orphanRow++;
    rows.set(n, [...(rows.get(n) ?? []), s.id]);
  }
  const at = new Map<string, { x: number; y: number }>();
  for (const [n, ids] of rows) ids.forEach((id, i) => at.set(id, { x: (i - (ids.length - 1) / 2) * 300, y: n * 190 }));
  return at;
}
