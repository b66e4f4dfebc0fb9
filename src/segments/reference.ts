/**
 * The reference evaluator: the filter language's meaning, written as plainly as possible over
 * users held in memory, one user at a time. It shares nothing with the bitmap evaluator or its SQL
 * (not even the plan), so the property test that compares the two checks the semantics, not the
 * same code twice. Not used in production.
 */
import { isCohortFilter, type AttributeFilter, type FilterNode, type Scalar } from './filter.js';

export interface PopulationUser {
  ordinal: number;
  external_id: string | null;
  email: string | null;
  custom_attributes: Record<string, unknown>;
  /** Epoch ms. */
  last_session_at: number | null;
  alias_labels: string[];
  stats: Array<{ kind: 'event' | 'purchase'; name: string; day: string; count: number }>;
  /** Ids of the cohorts the user is a member of. */
  cohorts: string[];
}

/** JSON equality as jsonb sees it: numbers by value, objects by keys regardless of order. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => jsonEqual(x, b[i]));
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => Object.hasOwn(b, k) && jsonEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

/** Byte order of UTF-8, as PostgreSQL's "C" collation compares text. */
function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function storedTime(v: unknown): string | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  const t = (v as { $time?: unknown }).$time;
  return typeof t === 'string' ? t : undefined;
}

function matchesAttribute(f: AttributeFilter, attrs: Record<string, unknown>): boolean {
  const present = Object.hasOwn(attrs, f.attribute);
  const v = attrs[f.attribute];
  const equals = (x: Scalar) => present && jsonEqual(v, x);
  switch (f.op) {
    case 'exists':
      return present;
    case 'does_not_exist':
      return !present;
    case 'equals':
      return equals(f.value);
    case 'not_equals':
      return !equals(f.value);
    case 'in':
      return f.value.some(equals);
    case 'greater_than':
    case 'less_than': {
      const sign = f.op === 'greater_than' ? 1 : -1;
      if (typeof f.value === 'number') return typeof v === 'number' && Math.sign(v - f.value) === sign;
      const t = storedTime(v);
      return t !== undefined && Math.sign(compareBytes(t, f.value)) === sign;
    }
    case 'contains':
      if (Array.isArray(v) && v.some((x) => x === f.value)) return true;
      return typeof f.value === 'string' && typeof v === 'string' && v.includes(f.value);
  }
}

function timesPerformed(user: PopulationUser, kind: 'event' | 'purchase', name: string | undefined, days: number, nowMs: number): number {
  const today = Date.parse(new Date(nowMs).toISOString().slice(0, 10));
  const inWindow = (day: string) => (today - Date.parse(day)) / 86_400_000 < days;
  let n = 0;
  for (const s of user.stats) if (s.kind === kind && (name === undefined || s.name === name) && inWindow(s.day)) n += s.count;
  return n;
}

export function matches(node: FilterNode, user: PopulationUser, nowMs: number): boolean {
  if ('and' in node) return node.and.every((c) => matches(c, user, nowMs));
  if ('or' in node) return node.or.some((c) => matches(c, user, nowMs));
  if ('not' in node) return !matches(node.not, user, nowMs);
  if (isCohortFilter(node)) return user.cohorts.includes(node.value) === (node.op === 'includes');
  switch (node.filter) {
    case 'custom_attribute':
      return matchesAttribute(node, user.custom_attributes);
    case 'identity':
      return (user.external_id !== null) === (node.op === 'identified');
    case 'email':
      return (user.email !== null) === (node.op === 'exists');
    case 'alias_label':
      return user.alias_labels.includes(node.value) === (node.op === 'exists');
    case 'custom_event':
    case 'purchase': {
      const n =
        node.filter === 'custom_event'
          ? timesPerformed(user, 'event', node.name, node.days, nowMs)
          : timesPerformed(user, 'purchase', node.product_id, node.days, nowMs);
      return node.op === 'at_least' ? n >= node.count : n <= node.count;
    }
    case 'last_session': {
      if (user.last_session_at === null) return false;
      const bound = nowMs - node.days * 86_400_000;
      return node.op === 'more_than_days_ago' ? user.last_session_at < bound : user.last_session_at > bound;
    }
  }
  return false;
}

/** The ordinals of the matching users, ascending. */
export function referenceMembers(filter: FilterNode, users: readonly PopulationUser[], nowMs: number): number[] {
  return users
    .filter((u) => matches(filter, u, nowMs))
    .map((u) => u.ordinal)
    .sort((a, b) => a - b);
}
