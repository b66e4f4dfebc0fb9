/**
 * Pure validation of segment bodies and filter trees. It never stops at the first mistake: every
 * problem is reported with the JSON path at fault (`filter.and[2].value`), so the dashboard's
 * builder can mark each field at once. Valid input comes back normalized (dates as ISO-8601 UTC).
 * Whether a cohort exists is a question for the store; see `cohortFilters`.
 */
import { isStorableString } from '../http/index.js';
import { parseTime } from '../tracking/index.js';
import {
  ATTRIBUTE_OPS,
  BEHAVIOUR_OPS,
  COHORT_OPS,
  IDENTITY_OPS,
  LAST_SESSION_OPS,
  PRESENCE_OPS,
  MIXPANEL_ONLY,
  type CohortFilterNames,
  type Filter,
  type FilterNode,
  type Scalar,
} from './filter.js';

export interface Problem {
  path: string;
  type: string;
}

export const LIMITS = {
  depth: 16,
  nodes: 500,
  inValues: 1000,
  string: 255,
  description: 1000,
  days: 3650,
  count: 1_000_000_000,
} as const;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(v: unknown): v is string {
  return typeof v === 'string' && UUID.test(v);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Text PostgreSQL can hold (no U+0000, no lone surrogate): anything else could match nothing stored. */
function isText(v: unknown, min: number, max: number): v is string {
  return typeof v === 'string' && v.length >= min && v.length <= max && isStorableString(v);
}

function isShortString(v: unknown): v is string {
  return isText(v, 1, LIMITS.string);
}

function isScalar(v: unknown): v is Scalar {
  return isText(v, 0, LIMITS.string) || (typeof v === 'number' && Number.isFinite(v)) || typeof v === 'boolean';
}

function isIntegerIn(v: unknown, min: number, max: number): v is number {
  return Number.isInteger(v) && (v as number) >= min && (v as number) <= max;
}

const KINDS = ['custom_attribute', 'identity', 'email', 'alias_label', 'custom_event', 'purchase', 'last_session'];

const oneOf = (ops: readonly string[]) => `must be one of: ${ops.join(', ')}`;

class Checker {
  readonly problems: Problem[] = [];
  private nodes = 0;

  constructor(private readonly cohortFilters: CohortFilterNames) {}

  fail(path: string, what: string): undefined {
    this.problems.push({ path, type: `${path} ${what}` });
    return undefined;
  }

  node(raw: unknown, path: string, depth: number): FilterNode | undefined {
    if (++this.nodes === LIMITS.nodes + 1) this.fail('filter', `holds more than ${LIMITS.nodes} groups and filters`);
    if (!isObject(raw)) return this.fail(path, 'must be an object');
    const kinds = ['and', 'or', 'not', 'filter'].filter((k) => k in raw);
    if (kinds.length !== 1) return this.fail(path, 'must have exactly one of and, or, not, filter');
    const kind = kinds[0]!;
    if (kind === 'filter') return this.leaf(raw, path);
    for (const key of Object.keys(raw)) if (key !== kind) this.fail(`${path}.${key}`, 'is not allowed');
    if (depth >= LIMITS.depth) return this.fail(path, `nests deeper than ${LIMITS.depth} groups`);
    if (kind === 'not') {
      const child = this.node(raw.not, `${path}.not`, depth + 1);
      return child && { not: child };
    }
    const list = raw[kind];
    if (!Array.isArray(list)) return this.fail(`${path}.${kind}`, 'must be an array');
    const children = list.map((c, i) => this.node(c, `${path}.${kind}[${i}]`, depth + 1));
    if (children.some((c) => c === undefined)) return undefined;
    return kind === 'and' ? { and: children as FilterNode[] } : { or: children as FilterNode[] };
  }

  private leaf(raw: Record<string, unknown>, path: string): Filter | undefined {
    const kind = raw.filter;
    if (typeof kind !== 'string') return this.fail(`${path}.filter`, 'must be a string');
    const before = this.problems.length;
    const allowed = (keys: string[]) => {
      for (const key of Object.keys(raw)) if (key !== 'filter' && key !== 'op' && !keys.includes(key)) this.fail(`${path}.${key}`, 'is not allowed');
    };
    const op = <T extends string>(ops: readonly T[]): T | undefined =>
      typeof raw.op === 'string' && (ops as readonly string[]).includes(raw.op) ? (raw.op as T) : this.fail(`${path}.op`, oneOf(ops));
    const done = <F extends Filter>(f: F): F | undefined => (this.problems.length === before ? f : undefined);

    if (this.cohortFilters.has(kind)) {
      allowed(['value']);
      const o = op(COHORT_OPS);
      if (!isUuid(raw.value)) this.fail(`${path}.value`, 'must be a cohort id');
      return done({ filter: kind as `${string}_Cohorts`, op: o!, value: String(raw.value).toLowerCase() });
    }
    switch (kind) {
      case 'custom_attribute':
        return this.attribute(raw, path, op(ATTRIBUTE_OPS), allowed, done);
      case 'identity':
        allowed([]);
        return done({ filter: 'identity', op: op(IDENTITY_OPS)! });
      case 'email':
        allowed([]);
        return done({ filter: 'email', op: op(PRESENCE_OPS)! });
      case 'alias_label': {
        allowed(['value']);
        const o = op(PRESENCE_OPS);
        if (!isShortString(raw.value)) this.fail(`${path}.value`, `must be an alias label (1 to ${LIMITS.string} characters)`);
        return done({ filter: 'alias_label', op: o!, value: raw.value as string });
      }
      case 'custom_event':
      case 'purchase': {
        const nameKey = kind === 'custom_event' ? 'name' : 'product_id';
        allowed([nameKey, 'count', 'days']);
        const o = op(BEHAVIOUR_OPS);
        const name = raw[nameKey];
        if ((kind === 'custom_event' || name !== undefined) && !isShortString(name)) {
          this.fail(`${path}.${nameKey}`, `must be a string of 1 to ${LIMITS.string} characters`);
        }
        if (!isIntegerIn(raw.count, 0, LIMITS.count)) this.fail(`${path}.count`, `must be an integer from 0 to ${LIMITS.count}`);
        this.days(raw.days, path);
        const counts = { op: o!, count: raw.count as number, days: raw.days as number };
        if (kind === 'custom_event') return done({ filter: 'custom_event', name: name as string, ...counts });
        return done({ filter: 'purchase', ...(name === undefined ? {} : { product_id: name as string }), ...counts });
      }
      case 'last_session':
        allowed(['days']);
        return done({ filter: 'last_session', op: op(LAST_SESSION_OPS)!, days: this.days(raw.days, path)! });
      default:
        return this.fail(`${path}.filter`, `names no known filter (${[...KINDS, ...this.cohortFilters.keys()].join(', ')})`);
    }
  }

  private days(v: unknown, path: string): number | undefined {
    return isIntegerIn(v, 1, LIMITS.days) ? v : this.fail(`${path}.days`, `must be an integer from 1 to ${LIMITS.days}`);
  }

  private attribute(
    raw: Record<string, unknown>,
    path: string,
    op: (typeof ATTRIBUTE_OPS)[number] | undefined,
    allowed: (keys: string[]) => void,
    done: <F extends Filter>(f: F) => F | undefined,
  ): Filter | undefined {
    const attribute = raw.attribute;
    if (!isShortString(attribute) || attribute.startsWith('$')) {
      this.fail(`${path}.attribute`, `must be a custom attribute name (1 to ${LIMITS.string} characters, not starting with $)`);
    }
    const at = `${path}.value`;
    const v = raw.value;
    const base = { filter: 'custom_attribute' as const, attribute: attribute as string };
    switch (op) {
      case undefined:
        allowed(['attribute', 'value']);
        return undefined;
      case 'exists':
      case 'does_not_exist':
        allowed(['attribute']);
        return done({ ...base, op });
      case 'equals':
      case 'not_equals':
        allowed(['attribute', 'value']);
        if (!isScalar(v)) this.fail(at, `must be a string (at most ${LIMITS.string} characters), a number or a boolean`);
        return done({ ...base, op, value: v as Scalar });
      case 'greater_than':
      case 'less_than': {
        allowed(['attribute', 'value']);
        if (typeof v === 'number' && Number.isFinite(v)) return done({ ...base, op, value: v });
        const ms = parseTime(v, { dateOnly: true });
        if (ms === undefined) return this.fail(at, 'must be a number or an ISO-8601 date-time');
        return done({ ...base, op, value: new Date(ms).toISOString() });
      }
      case 'contains':
        allowed(['attribute', 'value']);
        if (!(isShortString(v) || (typeof v === 'number' && Number.isFinite(v)))) this.fail(at, `must be a string of 1 to ${LIMITS.string} characters or a number`);
        return done({ ...base, op, value: v as string | number });
      case 'in':
        allowed(['attribute', 'value']);
        if (!Array.isArray(v) || v.length < 1 || v.length > LIMITS.inValues) return this.fail(at, `must be an array of 1 to ${LIMITS.inValues} values`);
        v.forEach((x, i) => {
          if (!isScalar(x)) this.fail(`${at}[${i}]`, `must be a string (at most ${LIMITS.string} characters), a number or a boolean`);
        });
        return done({ ...base, op, value: v as Scalar[] });
    }
  }
}

export type Checked<T> = { ok: true; value: T } | { ok: false; problems: Problem[] };

/**
 * The size check that runs before any other: walks the tree iteratively and stops at the first
 * node past `LIMITS.nodes` or the first group past `LIMITS.depth`, so a 270,000-leaf body costs
 * 501 steps and answers one problem, not one per leaf. Anything in a group's list counts as a node.
 */
export function treeTooLarge(raw: unknown, path = 'filter'): Problem | undefined {
  const tooMany: Problem = { path, type: `${path} holds more than ${LIMITS.nodes} groups and filters` };
  const tooDeep: Problem = { path, type: `${path} nests deeper than ${LIMITS.depth} groups` };
  const stack: Array<[unknown, number]> = [[raw, 0]];
  let nodes = 0;
  while (stack.length) {
    const [node, depth] = stack.pop()!;
    if (++nodes > LIMITS.nodes) return tooMany;
    if (!isObject(node) || 'filter' in node) continue;
    const children = Array.isArray(node.and) ? node.and : Array.isArray(node.or) ? node.or : 'not' in node ? [node.not] : [];
    if (children.length === 0) continue;
    if (depth >= LIMITS.depth) return tooDeep;
    if (nodes + stack.length + children.length > LIMITS.nodes) return tooMany;
    for (const child of children) stack.push([child, depth + 1]);
  }
  return undefined;
}

/** Validates a filter tree found at `path` of the request body; `cohortFilters` are the partners' filter names. */
export function checkFilter(raw: unknown, cohortFilters: CohortFilterNames = MIXPANEL_ONLY, path = 'filter'): Checked<FilterNode> {
  const tooLarge = treeTooLarge(raw, path);
  if (tooLarge) return { ok: false, problems: [tooLarge] };
  const checker = new Checker(cohortFilters);
  const node = raw === undefined ? checker.fail(path, 'is required') : checker.node(raw, path, 0);
  return node && !checker.problems.length ? { ok: true, value: node } : { ok: false, problems: checker.problems };
}

export interface SegmentInput {
  name: string;
  description: string | null;
  filter: FilterNode;
}

/** The body of create and update: `{name, description?, filter}`. */
export function checkSegmentBody(raw: unknown, cohortFilters: CohortFilterNames = MIXPANEL_ONLY): Checked<SegmentInput> {
  if (!isObject(raw)) return { ok: false, problems: [{ path: 'body', type: 'the body must be a JSON object' }] };
  const problems: Problem[] = [];
  for (const key of Object.keys(raw)) if (!['name', 'description', 'filter'].includes(key)) problems.push({ path: key, type: `${key} is not allowed` });
  const name = typeof raw.name === 'string' ? raw.name.trim() : raw.name;
  if (!isShortString(name)) problems.push({ path: 'name', type: `name must be a string of 1 to ${LIMITS.string} characters` });
  const description = raw.description ?? null;
  if (description !== null && !isText(description, 0, LIMITS.description)) {
    problems.push({ path: 'description', type: `description must be a string of at most ${LIMITS.description} characters, or null` });
  }
  const filter = checkFilter(raw.filter, cohortFilters);
  if (!filter.ok) problems.push(...filter.problems);
  if (problems.length || !filter.ok) return { ok: false, problems };
  return { ok: true, value: { name: name as string, description: description as string | null, filter: filter.value } };
}
