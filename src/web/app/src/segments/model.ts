/**
 * The segment builder's editing model and its translation to and from the segment filter language
 * (src/segments/filter.ts): a tree of AND / OR groups over conditions whose operands are kept as the
 * strings the form fields hold. `toFilter` says which condition is incomplete instead of guessing.
 */
export type ValueType = 'text' | 'number' | 'boolean';

export interface Condition {
  id: string;
  kind: 'condition';
  filter: string;
  op: string;
  value: string;
  valueType: ValueType;
  attribute: string;
  name: string;
  productId: string;
  count: string;
  days: string;
}

export interface Group {
  id: string;
  kind: 'group';
  op: 'and' | 'or';
  /** Wraps the group in `not`: users who do NOT match it. */
  negate: boolean;
  children: EditorNode[];
}

export type EditorNode = Condition | Group;
export type FilterJson = Record<string, unknown>;

let nextId = 0;
export const newId = () => `n${++nextId}`;

export function newCondition(filter: string, op: string): Condition {
  return { id: newId(), kind: 'condition', filter, op, value: '', valueType: 'text', attribute: '', name: '', productId: '', count: '1', days: '30' };
}

export function newGroup(op: 'and' | 'or' = 'and', children: EditorNode[] = []): Group {
  return { id: newId(), kind: 'group', op, negate: false, children };
}

export const isCohortFilter = (filter: string) => filter.endsWith('_Cohorts');

/** Operators that take no value. */
const NO_VALUE = new Set(['exists', 'does_not_exist']);

export function needsValue(c: Condition): boolean {
  if (isCohortFilter(c.filter) || c.filter === 'alias_label') return true;
  return c.filter === 'custom_attribute' && !NO_VALUE.has(c.op);
}

function typed(raw: string, type: ValueType): string | number | boolean | undefined {
  const s = raw.trim();
  if (type === 'boolean') return s === 'true' ? true : s === 'false' ? false : undefined;
  if (type === 'number') return s !== '' && Number.isFinite(Number(s)) ? Number(s) : undefined;
  return raw;
}

function wholeNumber(raw: string, min: number, max: number): number | undefined {
  const n = Number(raw);
  return raw.trim() !== '' && Number.isInteger(n) && n >= min && n <= max ? n : undefined;
}

export type Translation = { ok: true; filter: FilterJson } | { ok: false; problem: string; nodeId: string };

function conditionToFilter(c: Condition): Translation {
  const fail = (problem: string): Translation => ({ ok: false, problem, nodeId: c.id });
  const base = { filter: c.filter, op: c.op };
  if (isCohortFilter(c.filter)) return c.value ? { ok: true, filter: { ...base, value: c.value } } : fail('choose a cohort');
  switch (c.filter) {
    case 'identity':
    case 'email':
      return { ok: true, filter: base };
    case 'alias_label':
      return c.value.trim() ? { ok: true, filter: { ...base, value: c.value.trim() } } : fail('enter an alias label');
    case 'custom_attribute': {
      if (!c.attribute.trim()) return fail('enter an attribute name');
      const withAttr = { ...base, attribute: c.attribute.trim() };
      if (NO_VALUE.has(c.op)) return { ok: true, filter: withAttr };
      if (c.op === 'in') {
        const items = c.value.split(',').map((v) => typed(v.trim(), c.valueType));
        if (!c.value.trim() || items.some((v) => v === undefined || v === '')) return fail(`enter a comma-separated list of ${c.valueType} values`);
        return { ok: true, filter: { ...withAttr, value: items } };
      }
      const type: ValueType = c.op === 'greater_than' || c.op === 'less_than' ? (Number.isFinite(Number(c.value)) && c.value.trim() !== '' ? 'number' : 'text') : c.valueType;
      const value = typed(c.value, type);
      if (value === undefined || value === '') return fail(`enter a ${type === 'text' ? 'value' : `${type} value`}`);
      return { ok: true, filter: { ...withAttr, value } };
    }
    case 'custom_event':
    case 'purchase':
    case 'last_session': {
      const days = wholeNumber(c.days, 1, 3650);
      if (days === undefined) return fail('days must be a whole number from 1 to 3650');
      if (c.filter === 'last_session') return { ok: true, filter: { ...base, days } };
      const times = wholeNumber(c.count, 0, 1_000_000_000);
      if (times === undefined) return fail('count must be a whole number ≥ 0');
      if (c.filter === 'custom_event') return c.name.trim() ? { ok: true, filter: { ...base, name: c.name.trim(), count: times, days } } : fail('enter an event name');
      return { ok: true, filter: { ...base, ...(c.productId.trim() ? { product_id: c.productId.trim() } : {}), count: times, days } };
    }
    default:
      return fail(`unknown filter ${c.filter}`);
  }
}

export function toFilter(node: EditorNode): Translation {
  if (node.kind === 'condition') return conditionToFilter(node);
  const children: FilterJson[] = [];
  for (const child of node.children) {
    const t = toFilter(child);
    if (!t.ok) return t;
    children.push(t.filter);
  }
  const group = { [node.op]: children };
  return { ok: true, filter: node.negate ? { not: group } : group };
}

function text(v: unknown): string {
  return v === undefined || v === null ? '' : String(v);
}

function valueTypeOf(v: unknown): ValueType {
  const first = Array.isArray(v) ? v[0] : v;
  return typeof first === 'number' ? 'number' : typeof first === 'boolean' ? 'boolean' : 'text';
}

/** A stored filter back into the editor; `not` becomes a negated group. */
export function fromFilter(json: unknown): Group {
  const node = fromNode(json);
  return node.kind === 'group' ? node : newGroup('and', [node]);
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function fromNode(json: unknown): EditorNode {
  const o: Record<string, unknown> = isRecord(json) ? json : {};
  if (Array.isArray(o.and)) return newGroup('and', o.and.map(fromNode));
  if (Array.isArray(o.or)) return newGroup('or', o.or.map(fromNode));
  if (o.not) {
    const inner = fromNode(o.not);
    const group = inner.kind === 'group' && !inner.negate ? inner : newGroup('and', [inner]);
    return { ...group, negate: true };
  }
  const c = newCondition(text(o.filter), text(o.op));
  c.value = Array.isArray(o.value) ? o.value.map(text).join(', ') : text(o.value);
  c.valueType = valueTypeOf(o.value);
  c.attribute = text(o.attribute);
  c.name = text(o.name);
  c.productId = text(o.product_id);
  if (o.count !== undefined) c.count = text(o.count);
  if (o.days !== undefined) c.days = text(o.days);
  return c;
}

/** Immutable update of the node with `id`. */
export function updateNode(root: Group, id: string, change: (n: EditorNode) => EditorNode | null): Group {
  const walk = (n: EditorNode): EditorNode | null => {
    if (n.id === id) return change(n);
    if (n.kind === 'condition') return n;
    return { ...n, children: n.children.map(walk).filter((c): c is EditorNode => c !== null) };
  };
  const out = walk(root);
  return out?.kind === 'group' ? out : newGroup();
}

export const OPERATOR_LABELS: Record<string, string> = {
  includes: 'includes',
  does_not_include: 'does not include',
  equals: 'equals',
  not_equals: 'does not equal',
  exists: 'exists',
  does_not_exist: 'does not exist',
  greater_than: 'is greater than',
  less_than: 'is less than',
  contains: 'contains',
  in: 'is one of',
  identified: 'is identified (has an external id)',
  anonymous: 'is anonymous',
  at_least: 'at least',
  at_most: 'at most',
  more_than_days_ago: 'more than … days ago',
  less_than_days_ago: 'less than … days ago',
};

export const FILTER_LABELS: Record<string, string> = {
  custom_attribute: 'Custom attribute',
  identity: 'Identity',
  email: 'Email address',
  alias_label: 'Alias label',
  custom_event: 'Custom event performed',
  purchase: 'Purchase made',
  last_session: 'Last session',
};

export const CATEGORY_LABELS: Record<string, string> = {
  cohorts: 'Partner cohorts',
  attributes: 'Attributes',
  identity: 'Identity',
  behaviour: 'Behaviour',
};
