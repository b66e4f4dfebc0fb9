/**
 * The filter catalogue the dashboard's segment builder renders: every filter kind with its
 * operators and operands, and one `<Partner>_Cohorts` filter per registered partner listing the
 * workspace's cohorts of that partner by name. Pure; the route supplies partners and cohorts.
 */
import type { Cohort, Partner } from '../cohorts/index.js';
import { ATTRIBUTE_OPS, BEHAVIOUR_OPS, COHORT_OPS, IDENTITY_OPS, LAST_SESSION_OPS, PRESENCE_OPS } from './filter.js';

export interface CatalogueEntry {
  filter: string;
  category: 'cohorts' | 'attributes' | 'identity' | 'behaviour';
  description: string;
  operators: readonly string[];
  /** Operand fields besides `filter` and `op`, with what each takes. */
  fields: Record<string, string>;
  partner?: string;
  cohorts?: Array<{ id: string; name: string; partner_cohort_id: string; member_count: number }>;
}

const STATIC_ENTRIES: CatalogueEntry[] = [
  {
    filter: 'custom_attribute',
    category: 'attributes',
    description: 'A custom attribute compared with a value. not_equals and does_not_exist include users without the attribute.',
    operators: ATTRIBUTE_OPS,
    fields: {
      attribute: 'attribute name',
      value:
        'equals, not_equals: string | number | boolean; greater_than, less_than: number or ISO-8601 date-time; contains: string (substring or array element) | number (array element); in: array of string | number | boolean; exists, does_not_exist: none',
    },
  },
  { filter: 'identity', category: 'identity', description: 'Identified (has an external id) or anonymous.', operators: IDENTITY_OPS, fields: {} },
  { filter: 'email', category: 'identity', description: 'Has an email address.', operators: PRESENCE_OPS, fields: {} },
  { filter: 'alias_label', category: 'identity', description: 'Has an alias with this label.', operators: PRESENCE_OPS, fields: { value: 'alias label' } },
  {
    filter: 'custom_event',
    category: 'behaviour',
    description: 'Performed a custom event at least / at most count times in the last days UTC days (today included).',
    operators: BEHAVIOUR_OPS,
    fields: { name: 'event name', count: 'integer ≥ 0', days: 'integer 1–3650' },
  },
  {
    filter: 'purchase',
    category: 'behaviour',
    description: 'Purchased (a product, or anything) at least / at most count times in the last days UTC days; quantity counts.',
    operators: BEHAVIOUR_OPS,
    fields: { product_id: 'product id (optional: any product)', count: 'integer ≥ 0', days: 'integer 1–3650' },
  },
  {
    filter: 'last_session',
    category: 'behaviour',
    description: 'Last session more / less than days × 24 h ago; users without a session match neither.',
    operators: LAST_SESSION_OPS,
    fields: { days: 'integer 1–3650' },
  },
];

export function filterCatalogue(partners: readonly Partner[], cohorts: readonly Cohort[]): { groups: string[]; filters: CatalogueEntry[] } {
  const cohortEntries: CatalogueEntry[] = partners.map((partner) => ({
    filter: partner.filterName,
    category: 'cohorts',
    description: `Member of one of this workspace's ${partner.name} cohorts.`,
    operators: COHORT_OPS,
    fields: { value: 'cohort id (from cohorts)' },
    partner: partner.slug,
    cohorts: cohorts
      .filter((c) => c.partner === partner.slug)
      .map((c) => ({ id: c.id, name: c.name, partner_cohort_id: c.partner_cohort_id, member_count: c.member_count })),
  }));
  return { groups: ['and', 'or', 'not'], filters: [...cohortEntries, ...STATIC_ENTRIES] };
}
