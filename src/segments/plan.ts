/**
 * A filter tree becomes set algebra over atoms: every negative operator (`does_not_include`,
 * `not_equals`, `does_not_exist`, `at_most`, `anonymous`) turns into NOT of its positive twin, so
 * there is one atom — one cached bitmap — for `plan = pro` whether a segment asks for it or its
 * complement. Atoms come in three kinds, by how their members are found and kept fresh:
 *
 * - `cohort`: the members of an imported cohort (kept per cohort, checked against members_version);
 * - `profile`: a predicate over the users row alone that does not depend on the clock (custom
 *   attributes, external id, email), kept up to date from the user change log;
 * - `live`: anything that reads other tables or the clock (aliases, event counts in the last D
 *   days, last session), asked of the database at every evaluation.
 *
 * Pure: `evaluatePlan` takes the atoms' bitmaps and returns the members.
 */
import { OrdinalBitmap } from './bitmap.js';
import { isCohortFilter, type FilterNode, type Scalar } from './filter.js';

export type ProfileAtom =
  | { kind: 'everyone' }
  | { kind: 'identified' }
  | { kind: 'has_email' }
  | { kind: 'attribute_exists'; attribute: string }
  | { kind: 'attribute_equals'; attribute: string; value: Scalar }
  | { kind: 'attribute_in'; attribute: string; values: Scalar[] }
  | { kind: 'attribute_above' | 'attribute_below'; attribute: string; value: number | string }
  | { kind: 'attribute_contains'; attribute: string; value: string | number };

export type LiveAtom =
  | { kind: 'has_alias_label'; label: string }
  | { kind: 'performed'; event: 'event' | 'purchase'; name: string | null; atLeast: number; days: number }
  | { kind: 'last_session_before' | 'last_session_after'; days: number };

export type Atom = { kind: 'cohort'; cohortId: string } | ProfileAtom | LiveAtom;

export type Plan = { all: true } | { none: true } | { atom: Atom } | { and: Plan[] } | { or: Plan[] } | { not: Plan };

export const EVERYONE: ProfileAtom = { kind: 'everyone' };

const PROFILE_KINDS = new Set<Atom['kind']>([
  'everyone',
  'identified',
  'has_email',
  'attribute_exists',
  'attribute_equals',
  'attribute_in',
  'attribute_above',
  'attribute_below',
  'attribute_contains',
]);

export function isProfileAtom(atom: Atom): atom is ProfileAtom {
  return PROFILE_KINDS.has(atom.kind);
}

export function isLiveAtom(atom: Atom): atom is LiveAtom {
  return atom.kind !== 'cohort' && !isProfileAtom(atom);
}

/** The cache key of an atom: equal atoms, equal keys. */
export function atomKey(atom: Atom): string {
  return JSON.stringify(atom);
}

const atom = (a: Atom): Plan => ({ atom: a });
const not = (p: Plan): Plan => ({ not: p });

export function planOf(node: FilterNode): Plan {
  if ('and' in node) return node.and.length ? { and: node.and.map(planOf) } : { all: true };
  if ('or' in node) return node.or.length ? { or: node.or.map(planOf) } : { none: true };
  if ('not' in node) return not(planOf(node.not));
  if (isCohortFilter(node)) {
    const member = atom({ kind: 'cohort', cohortId: node.value });
    return node.op === 'includes' ? member : not(member);
  }
  switch (node.filter) {
    case 'identity':
      return node.op === 'identified' ? atom({ kind: 'identified' }) : not(atom({ kind: 'identified' }));
    case 'email':
      return node.op === 'exists' ? atom({ kind: 'has_email' }) : not(atom({ kind: 'has_email' }));
    case 'alias_label': {
      const has = atom({ kind: 'has_alias_label', label: node.value });
      return node.op === 'exists' ? has : not(has);
    }
    case 'custom_event':
    case 'purchase': {
      const event = node.filter === 'custom_event' ? 'event' : 'purchase';
      const name = node.filter === 'custom_event' ? node.name : (node.product_id ?? null);
      const performed = (atLeast: number): Plan => (atLeast <= 0 ? { all: true } : atom({ kind: 'performed', event, name, atLeast, days: node.days }));
      return node.op === 'at_least' ? performed(node.count) : not(performed(node.count + 1));
    }
    case 'last_session':
      return atom({ kind: node.op === 'more_than_days_ago' ? 'last_session_before' : 'last_session_after', days: node.days });
    case 'custom_attribute': {
      const attribute = node.attribute;
      switch (node.op) {
        case 'exists':
          return atom({ kind: 'attribute_exists', attribute });
        case 'does_not_exist':
          return not(atom({ kind: 'attribute_exists', attribute }));
        case 'equals':
          return atom({ kind: 'attribute_equals', attribute, value: node.value });
        case 'not_equals':
          return not(atom({ kind: 'attribute_equals', attribute, value: node.value }));
        case 'in':
          return atom({ kind: 'attribute_in', attribute, values: node.value });
        case 'greater_than':
          return atom({ kind: 'attribute_above', attribute, value: node.value });
        case 'less_than':
          return atom({ kind: 'attribute_below', attribute, value: node.value });
        case 'contains':
          return atom({ kind: 'attribute_contains', attribute, value: node.value });
      }
    }
  }
  throw new Error(`unknown filter ${(node as { filter: string }).filter}`);
}

/** Every distinct atom of a plan. */
export function atomsOf(plan: Plan): Atom[] {
  const found = new Map<string, Atom>();
  const visit = (p: Plan): void => {
    if ('atom' in p) found.set(atomKey(p.atom), p.atom);
    else if ('and' in p) p.and.forEach(visit);
    else if ('or' in p) p.or.forEach(visit);
    else if ('not' in p) visit(p.not);
  };
  visit(plan);
  return [...found.values()];
}

/**
 * The members of a plan among `everyone` (the workspace's current users). An AND subtracts its
 * negated arms from its positive ones (`A and not B` is one AND-NOT), so NOT needs the universe
 * only when nothing positive bounds it.
 */
export function evaluatePlan(plan: Plan, everyone: OrdinalBitmap, bitmapOf: (atom: Atom) => OrdinalBitmap): OrdinalBitmap {
  const evaluate = (p: Plan): OrdinalBitmap => {
    if ('all' in p) return everyone;
    if ('none' in p) return OrdinalBitmap.empty();
    if ('atom' in p) return bitmapOf(p.atom);
    if ('not' in p) return everyone.andNot(evaluate(p.not));
    if ('or' in p) return p.or.map(evaluate).reduce((a, b) => a.or(b));
    const positive = p.and.filter((q) => !('not' in q));
    const negative = p.and.filter((q): q is { not: Plan } => 'not' in q);
    let result = positive.length ? positive.map(evaluate).reduce((a, b) => a.and(b)) : everyone;
    for (const q of negative) result = result.andNot(evaluate(q.not));
    return result;
  };
  return evaluate(plan).and(everyone);
}
