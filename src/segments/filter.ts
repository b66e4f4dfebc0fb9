/**
 * The segment filter language: a JSON tree of `and` / `or` / `not` groups over filters. This is
 * the shape segments are stored in, the API accepts and returns, and both evaluators (the bitmap
 * evaluator and the in-memory reference) read. An empty `and` means everyone, an empty `or` no one.
 *
 * Partner cohorts are one filter per partner, named `<Partner>_Cohorts` (`Mixpanel_Cohorts`,
 * docs/reference/cohort-import.md §3) as the partner registry says; the value is a cohort's id.
 */

export type Scalar = string | number | boolean;

export type FilterNode = { and: FilterNode[] } | { or: FilterNode[] } | { not: FilterNode } | Filter;

export type Filter = CohortFilter | AttributeFilter | IdentityFilter | EmailFilter | AliasLabelFilter | BehaviourFilter | LastSessionFilter;

export interface CohortFilter {
  filter: `${string}_Cohorts`;
  op: 'includes' | 'does_not_include';
  /** The cohort's id (`cohorts.id`). */
  value: string;
}

interface AttributeBase {
  filter: 'custom_attribute';
  attribute: string;
}

/**
 * `greater_than` / `less_than` take a number (numeric attributes) or an ISO-8601 date-time (date
 * attributes); the other operators compare strings, numbers and booleans as they are stored.
 * `not_equals` is the exact complement of `equals`: it includes users without the attribute.
 */
export type AttributeFilter =
  | (AttributeBase & { op: 'equals' | 'not_equals'; value: Scalar })
  | (AttributeBase & { op: 'exists' | 'does_not_exist' })
  | (AttributeBase & { op: 'greater_than' | 'less_than'; value: number | string })
  | (AttributeBase & { op: 'contains'; value: string | number })
  | (AttributeBase & { op: 'in'; value: Scalar[] });

export interface IdentityFilter {
  filter: 'identity';
  op: 'identified' | 'anonymous';
}

export interface EmailFilter {
  filter: 'email';
  op: 'exists' | 'does_not_exist';
}

export interface AliasLabelFilter {
  filter: 'alias_label';
  op: 'exists' | 'does_not_exist';
  value: string;
}

/**
 * Performed a custom event (or bought a product; any product when `product_id` is absent) at least
 * or at most `count` times in the last `days` UTC days, today included. A purchase of quantity 3
 * counts 3 times, as the event log records it. "At most" includes users who never did it.
 */
export type BehaviourFilter =
  | { filter: 'custom_event'; name: string; op: 'at_least' | 'at_most'; count: number; days: number }
  | { filter: 'purchase'; product_id?: string; op: 'at_least' | 'at_most'; count: number; days: number };

/** The last session started more / less than `days` × 24 h ago; users without a session match neither. */
export interface LastSessionFilter {
  filter: 'last_session';
  op: 'more_than_days_ago' | 'less_than_days_ago';
  days: number;
}

export const COHORT_OPS = ['includes', 'does_not_include'] as const;
export const ATTRIBUTE_OPS = ['equals', 'not_equals', 'exists', 'does_not_exist', 'greater_than', 'less_than', 'contains', 'in'] as const;
export const IDENTITY_OPS = ['identified', 'anonymous'] as const;
export const PRESENCE_OPS = ['exists', 'does_not_exist'] as const;
export const BEHAVIOUR_OPS = ['at_least', 'at_most'] as const;
export const LAST_SESSION_OPS = ['more_than_days_ago', 'less_than_days_ago'] as const;

/** Cohort filter name → partner slug (`Mixpanel_Cohorts` → `mixpanel`), from the partner registry. */
export type CohortFilterNames = ReadonlyMap<string, string>;

export const MIXPANEL_ONLY: CohortFilterNames = new Map([['Mixpanel_Cohorts', 'mixpanel']]);

export function isCohortFilter(f: Filter): f is CohortFilter {
  return f.filter.endsWith('_Cohorts');
}

export function isGroup(node: FilterNode): node is { and: FilterNode[] } | { or: FilterNode[] } | { not: FilterNode } {
  return !('filter' in node);
}

/** Every cohort filter in the tree, with its path (`filter.and[2]`). */
export function cohortFilters(node: FilterNode, path = 'filter'): Array<{ path: string; filter: CohortFilter }> {
  if ('and' in node) return node.and.flatMap((child, i) => cohortFilters(child, `${path}.and[${i}]`));
  if ('or' in node) return node.or.flatMap((child, i) => cohortFilters(child, `${path}.or[${i}]`));
  if ('not' in node) return cohortFilters(node.not, `${path}.not`);
  return isCohortFilter(node) ? [{ path, filter: node }] : [];
}

/** The UTC day (`YYYY-MM-DD`) that opens a window of `days` days ending with today. */
export function windowStartDay(nowMs: number, days: number): string {
  const today = Math.floor(nowMs / 86_400_000);
  return new Date((today - days + 1) * 86_400_000).toISOString().slice(0, 10);
}
