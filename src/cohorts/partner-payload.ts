/**
 * Pure validation of the partner cohort API bodies (docs/reference/cohort-import.md §1.2–§1.4): the documented
 * messages, every problem with its JSON path, and the 1,000-identifier cap.
 */
import { ApiError, type ErrorEntry } from '../http/index.js';
import { isPlainObject } from '../tracking/index.js';
import { parseTime } from '../tracking/index.js';
import type { UserAlias } from '../identity/index.js';

export const MAX_IDENTIFIERS_PER_REQUEST = 1000;
const MAX_REPORTED_PROBLEMS = 100;

export const Messages = {
  notAnObject: 'Request body must be a JSON object',
  cohortId: 'cohort_id must be a valid string',
  cohortChanges:
    'cohort_changes must be an array of objects each with key user_ids and/or device_ids mapping to an array of strings, or an aliases object',
  tooMany: 'Only 1,000 user_ids, device_ids, and aliases are allowed per request',
  name: 'name must be a non-empty string',
  createdAt: 'created_at must be a valid time as an ISO-8601 string',
  unknownCohort: 'cohort_id does not name a known cohort; create it with the cohort name endpoint first',
  unauthorized: 'Unauthorized access',
  invalidPartnerKey: 'Invalid Partner API key',
  invalidClientSecret: 'Invalid client secret',
} as const;

export interface PartnerCredentials {
  partnerApiKey: string;
  clientSecret: string;
}

/** The auth fields must be strings before anything else is looked at. */
export function readCredentials(body: unknown): PartnerCredentials {
  if (!isPlainObject(body)) throw new ApiError(400, Messages.notAnObject);
  const { partner_api_key, client_secret } = body;
  if (typeof partner_api_key !== 'string' || typeof client_secret !== 'string') throw new ApiError(401, Messages.unauthorized);
  return { partnerApiKey: partner_api_key, clientSecret: client_secret };
}

function checkCohortId(v: unknown): v is string {
  return typeof v === 'string' && v.length >= 1 && v.length <= 255;
}

export interface CohortNameInput {
  cohortId: string;
  name: string;
  createdAt: Date;
}

export function checkCohortName(body: Record<string, unknown>): CohortNameInput {
  const problems: ErrorEntry[] = [];
  if (!checkCohortId(body.cohort_id)) problems.push({ type: Messages.cohortId, path: 'cohort_id' });
  if (typeof body.name !== 'string' || body.name.trim().length === 0 || body.name.length > 255) problems.push({ type: Messages.name, path: 'name' });
  const created = typeof body.created_at === 'string' && /(Z|z|[+-]\d{2}:?\d{2})$/.test(body.created_at) ? parseTime(body.created_at) : undefined;
  if (created === undefined) problems.push({ type: Messages.createdAt, path: 'created_at' });
  if (problems.length) throw new ApiError(400, problems[0]!.type, problems);
  return { cohortId: body.cohort_id as string, name: body.name as string, createdAt: new Date(created!) };
}

export type CohortIdentifier = { kind: 'user_id'; value: string } | { kind: 'device_id'; value: string } | { kind: 'alias'; alias: UserAlias };

export interface CohortEntry {
  identifier: CohortIdentifier;
  remove: boolean;
}

export interface CohortChangesInput {
  cohortId: string;
  /** Every identifier occurrence in processing order: array order, then user_ids, device_ids, aliases. */
  entries: CohortEntry[];
}

export function checkCohortChanges(body: Record<string, unknown>): CohortChangesInput {
  const problems: ErrorEntry[] = [];
  const problem = (type: string, path: string) => {
    if (problems.length < MAX_REPORTED_PROBLEMS) problems.push({ type, path });
  };
  if (!checkCohortId(body.cohort_id)) problem(Messages.cohortId, 'cohort_id');
  const changes = body.cohort_changes;
  const entries: CohortEntry[] = [];
  if (!Array.isArray(changes)) {
    problem(Messages.cohortChanges, 'cohort_changes');
  } else {
    changes.forEach((change, i) => {
      const at = `cohort_changes[${i}]`;
      if (!isPlainObject(change)) return problem(Messages.cohortChanges, at);
      const remove = change.should_remove ?? false;
      if (typeof remove !== 'boolean') problem(Messages.cohortChanges, `${at}.should_remove`);
      const strings = (field: 'user_ids' | 'device_ids', kind: 'user_id' | 'device_id') => {
        const list = change[field];
        if (list === undefined) return;
        if (!Array.isArray(list)) return problem(Messages.cohortChanges, `${at}.${field}`);
        list.forEach((v, j) => {
          if (typeof v === 'string') entries.push({ identifier: { kind, value: v }, remove: remove === true });
          else problem(Messages.cohortChanges, `${at}.${field}[${j}]`);
        });
      };
      strings('user_ids', 'user_id');
      strings('device_ids', 'device_id');
      const aliases = change.aliases;
      if (aliases !== undefined) {
        if (!Array.isArray(aliases)) problem(Messages.cohortChanges, `${at}.aliases`);
        else
          aliases.forEach((a, j) => {
            if (isPlainObject(a) && typeof a.alias_name === 'string' && typeof a.alias_label === 'string') {
              entries.push({ identifier: { kind: 'alias', alias: { alias_name: a.alias_name, alias_label: a.alias_label } }, remove: remove === true });
            } else problem(Messages.cohortChanges, `${at}.aliases[${j}]`);
          });
      }
    });
  }
  if (problems.length) throw new ApiError(400, problems[0]!.type, problems);
  if (entries.length > MAX_IDENTIFIERS_PER_REQUEST) {
    throw new ApiError(400, Messages.tooMany, [{ type: `${entries.length} identifiers; at most ${MAX_IDENTIFIERS_PER_REQUEST}`, path: 'cohort_changes' }]);
  }
  return { cohortId: body.cohort_id as string, entries };
}
