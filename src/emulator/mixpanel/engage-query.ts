/**
 * Reads the parameters of an engage query (docs/reference/mixpanel-apis.md §9) from form fields or query
 * parameters into a typed query, and shapes result rows. Pure: every failure is a message the
 * route answers with 400 in Mixpanel's `{"request", "error"}` body.
 */
import type { CohortMember, Properties } from './cohorts.js';

export interface EngageQuery {
  cohortId?: string;
  /** Only with a cohort filter: members without a profile are included (the default). */
  includeAllUsers: boolean;
  /** Property names to return; undefined means all. */
  outputProperties?: string[];
  /** From `distinct_id` / `distinct_ids`: only these ids. */
  distinctIds?: string[];
  sessionId?: string;
  page: number;
}

export type EngageParse = { ok: true; query: EngageQuery } | { ok: false; error: string };

/** Mixpanel features the emulator refuses rather than silently ignoring. */
export const UNSUPPORTED_PARAMS = ['where', 'behaviors', 'data_group_id'] as const;

export const NOT_SUPPORTED = 'not supported by emulator';

function json(raw: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(raw) };
  } catch {
    return { ok: false };
  }
}

function stringArray(raw: string): string[] | undefined {
  const parsed = json(raw);
  if (!parsed.ok || !Array.isArray(parsed.value) || !parsed.value.every((v) => typeof v === 'string')) return undefined;
  return parsed.value as string[];
}

function cohortIdOf(raw: string): string | undefined {
  const parsed = json(raw);
  if (!parsed.ok || typeof parsed.value !== 'object' || parsed.value === null || Array.isArray(parsed.value)) return undefined;
  const id = (parsed.value as { id?: unknown }).id;
  if (typeof id === 'number' && Number.isSafeInteger(id)) return String(id);
  if (typeof id === 'string' && id !== '') return id;
  return undefined;
}

export function parseEngageQuery(fields: Readonly<Record<string, string | undefined>>): EngageParse {
  const fail = (error: string): EngageParse => ({ ok: false, error });
  const has = (k: string) => fields[k] !== undefined && fields[k] !== '';
  if (has('filter_by_cohort') && has('behaviors')) return fail('filter_by_cohort cannot be combined with behaviors');
  for (const p of UNSUPPORTED_PARAMS) if (has(p)) return fail(`'${p}' is ${NOT_SUPPORTED}`);

  const query: EngageQuery = { includeAllUsers: true, page: 0 };
  if (has('filter_by_cohort')) {
    const id = cohortIdOf(fields.filter_by_cohort!);
    if (id === undefined) return fail('filter_by_cohort must be a JSON object with an id, e.g. {"id": 123}');
    query.cohortId = id;
  }
  if (has('include_all_users')) {
    const v = fields.include_all_users!.toLowerCase();
    if (v !== 'true' && v !== 'false') return fail('include_all_users must be true or false');
    if (query.cohortId === undefined) return fail('include_all_users can only be used with filter_by_cohort');
    query.includeAllUsers = v === 'true';
  }
  if (has('output_properties')) {
    const names = stringArray(fields.output_properties!);
    if (!names) return fail('output_properties must be a JSON array of property names');
    query.outputProperties = names;
  }
  if (has('distinct_ids')) {
    const ids = stringArray(fields.distinct_ids!);
    if (!ids) return fail('distinct_ids must be a JSON array of strings');
    query.distinctIds = ids;
  } else if (has('distinct_id')) {
    query.distinctIds = [fields.distinct_id!];
  }
  if (has('page')) {
    const page = Number(fields.page);
    if (!Number.isSafeInteger(page) || page < 0) return fail('page must be a non-negative integer');
    query.page = page;
  }
  if (has('session_id')) query.sessionId = fields.session_id!;
  else if (query.page > 0) return fail('page > 0 requires the session_id returned by the first page');
  return { ok: true, query };
}

export interface EngageRow {
  $distinct_id: string;
  $properties: Properties;
}

/** One result row; `$properties` limited to `outputProperties` when given. */
export function engageRow(member: CohortMember, outputProperties: readonly string[] | undefined): EngageRow {
  const all = member.properties ?? {};
  if (!outputProperties) return { $distinct_id: member.distinctId, $properties: { ...all } };
  const picked: Properties = {};
  for (const name of outputProperties) if (Object.hasOwn(all, name)) picked[name] = all[name];
  return { $distinct_id: member.distinctId, $properties: picked };
}

/** The people a query selects, before paging. */
export function selectPeople(people: readonly CohortMember[], query: EngageQuery): CohortMember[] {
  let out = query.cohortId !== undefined && !query.includeAllUsers ? people.filter((p) => p.properties !== undefined) : [...people];
  if (query.distinctIds) {
    const wanted = new Set(query.distinctIds);
    out = out.filter((p) => wanted.has(p.distinctId));
  }
  return out;
}
