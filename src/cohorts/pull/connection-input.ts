/**
 * Validation of the admin API's Mixpanel connection bodies (docs/reference/cohort-import.md §5). Pure: it returns
 * the typed input or throws one ApiError (400) listing every problem, each naming its field. The
 * rules: credentials are a service account (`{username, secret}`) or a legacy `api_secret`; region
 * US, EU or IN; `base_url` optional http(s) (the emulator); cohort ids; mode `one_time` or
 * `dynamic` with `interval_minutes` of at least 5 (default 15); a match key; a query budget of at
 * most 60 per hour.
 */
import { ApiError, type ErrorEntry } from '../../http/index.js';
import { isPlainObject } from '../../tracking/index.js';
import { formatMatchKey, parseMatchKey } from '../webhook-payload.js';
import { checkBaseUrl, REGIONS, type Region } from './hosts.js';

export type Credentials = { kind: 'service_account'; username: string; secret: string } | { kind: 'api_secret'; secret: string };

export interface ConnectionFields {
  name: string;
  projectId: string;
  mixpanelWorkspaceId: string | null;
  region: Region;
  baseUrl: string | null;
  credentials: Credentials;
  cohortIds: string[];
  mode: 'one_time' | 'dynamic';
  intervalSeconds: number;
  matchKey: string;
  queryBudget: number;
  enabled: boolean;
}

export type ConnectionPatch = Partial<ConnectionFields>;

export const DEFAULT_INTERVAL_MINUTES = 15;
export const MIN_INTERVAL_MINUTES = 5;
export const MAX_INTERVAL_MINUTES = 7 * 24 * 60;
export const MAX_QUERY_BUDGET = 60;
export const MAX_COHORTS = 100;

const ID = /^[A-Za-z0-9_-]{1,64}$/;
const FIELDS = new Set([
  'name',
  'project_id',
  'mixpanel_workspace_id',
  'region',
  'base_url',
  'service_account',
  'api_secret',
  'cohort_ids',
  'mode',
  'interval_minutes',
  'match_key',
  'query_budget',
  'enabled',
]);

class Problems {
  readonly entries: ErrorEntry[] = [];
  add(path: string, type: string): undefined {
    this.entries.push({ type, path });
    return undefined;
  }
}

function idOf(v: unknown): string | undefined {
  const s = typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? String(v) : v;
  return typeof s === 'string' && ID.test(s) ? s : undefined;
}

/** Stored as text (PostgreSQL cannot hold U+0000) and shown, so no control characters and no lone surrogates. */
const UNSTORABLE = /[\u0000-\u001f\u007f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function plainText(v: unknown, max: number): v is string {
  return typeof v === 'string' && v.length > 0 && v.length <= max && !UNSTORABLE.test(v);
}

function secretString(v: unknown): v is string {
  return plainText(v, 512);
}

function readCredentials(body: Record<string, unknown>, p: Problems): Credentials | undefined {
  const sa = body.service_account;
  const legacy = body.api_secret;
  if (sa !== undefined && legacy !== undefined) return p.add('service_account', 'give either service_account or api_secret, not both');
  if (legacy !== undefined) return secretString(legacy) ? { kind: 'api_secret', secret: legacy } : p.add('api_secret', 'api_secret must be a non-empty string of printable characters');
  if (sa === undefined) return undefined;
  if (!isPlainObject(sa)) return p.add('service_account', 'service_account must be an object {username, secret}');
  const username = sa.username;
  const secret = sa.secret;
  const usernameOk = plainText(username, 255);
  if (!usernameOk) p.add('service_account.username', 'service_account.username must be a non-empty string of printable characters');
  if (!secretString(secret)) p.add('service_account.secret', 'service_account.secret must be a non-empty string of printable characters');
  if (!usernameOk || !secretString(secret)) return undefined;
  return { kind: 'service_account', username, secret };
}

/** `partial` reads an update: every field optional, nothing defaulted. */
export function readConnection(raw: unknown, partial: boolean): ConnectionPatch {
  if (!isPlainObject(raw)) throw new ApiError(400, 'the body must be a JSON object', [{ type: 'the body must be a JSON object', path: 'body' }]);
  const body = raw;
  const p = new Problems();
  const out: ConnectionPatch = {};
  for (const key of Object.keys(body)) if (!FIELDS.has(key)) p.add(key, `${key} is not allowed`);

  if (body.project_id !== undefined || !partial) {
    const id = idOf(body.project_id);
    if (id === undefined) p.add('project_id', 'project_id is required: the Mixpanel project id (digits)');
    else out.projectId = id;
  }
  if (body.name !== undefined) {
    if (!plainText(body.name, 255) || !body.name.trim()) p.add('name', 'name must be a non-empty string of at most 255 printable characters');
    else out.name = body.name.trim();
  } else if (!partial && out.projectId) out.name = `Mixpanel project ${out.projectId}`;
  if (body.mixpanel_workspace_id !== undefined) {
    if (body.mixpanel_workspace_id === null) out.mixpanelWorkspaceId = null;
    else {
      const id = idOf(body.mixpanel_workspace_id);
      if (id === undefined) p.add('mixpanel_workspace_id', 'mixpanel_workspace_id must be a Mixpanel workspace id (digits) or null');
      else out.mixpanelWorkspaceId = id;
    }
  } else if (!partial) out.mixpanelWorkspaceId = null;
  if (body.region !== undefined) {
    const region = typeof body.region === 'string' ? body.region.toUpperCase() : undefined;
    if (!region || !(REGIONS as readonly string[]).includes(region)) p.add('region', 'region must be one of US, EU, IN');
    else out.region = region as Region;
  } else if (!partial) out.region = 'US';
  if (body.base_url !== undefined) {
    if (body.base_url === null) out.baseUrl = null;
    else if (typeof body.base_url !== 'string') p.add('base_url', 'base_url must be a string or null');
    else {
      const checked = checkBaseUrl(body.base_url);
      if (checked.ok) out.baseUrl = checked.url;
      else p.add('base_url', checked.error);
    }
  } else if (!partial) out.baseUrl = null;

  const credentials = readCredentials(body, p);
  if (credentials) out.credentials = credentials;
  else if (!partial && body.service_account === undefined && body.api_secret === undefined) {
    p.add('service_account', 'credentials are required: service_account {username, secret} or api_secret');
  }

  if (body.cohort_ids !== undefined || !partial) {
    const list = body.cohort_ids;
    if (!Array.isArray(list) || list.length === 0 || list.length > MAX_COHORTS) {
      p.add('cohort_ids', `cohort_ids must be an array of 1 to ${MAX_COHORTS} Mixpanel cohort ids`);
    } else {
      const ids: string[] = [];
      list.forEach((v, i) => {
        const id = idOf(v);
        if (id === undefined) p.add(`cohort_ids[${i}]`, `cohort_ids[${i}] must be a Mixpanel cohort id`);
        else if (!ids.includes(id)) ids.push(id);
      });
      out.cohortIds = ids;
    }
  }
  if (body.mode !== undefined) {
    if (body.mode !== 'one_time' && body.mode !== 'dynamic') p.add('mode', 'mode must be one_time or dynamic');
    else out.mode = body.mode;
  } else if (!partial) out.mode = 'dynamic';
  if (body.interval_minutes !== undefined) {
    const m = body.interval_minutes;
    if (typeof m !== 'number' || !Number.isInteger(m) || m < MIN_INTERVAL_MINUTES || m > MAX_INTERVAL_MINUTES) {
      p.add('interval_minutes', `interval_minutes must be an integer from ${MIN_INTERVAL_MINUTES} to ${MAX_INTERVAL_MINUTES}`);
    } else out.intervalSeconds = m * 60;
  } else if (!partial) out.intervalSeconds = DEFAULT_INTERVAL_MINUTES * 60;
  if (body.match_key !== undefined) {
    const key = parseMatchKey(body.match_key);
    if (!key || body.match_key === null) p.add('match_key', 'match_key must be distinct_id, email or property:<name>');
    else out.matchKey = formatMatchKey(key);
  } else if (!partial) out.matchKey = 'distinct_id';
  if (body.query_budget !== undefined) {
    const b = body.query_budget;
    if (typeof b !== 'number' || !Number.isInteger(b) || b < 1 || b > MAX_QUERY_BUDGET) {
      p.add('query_budget', `query_budget must be an integer from 1 to ${MAX_QUERY_BUDGET} (queries per hour)`);
    } else out.queryBudget = b;
  } else if (!partial) out.queryBudget = MAX_QUERY_BUDGET;
  if (body.enabled !== undefined) {
    if (typeof body.enabled !== 'boolean') p.add('enabled', 'enabled must be a boolean');
    else out.enabled = body.enabled;
  } else if (!partial) out.enabled = true;

  if (p.entries.length) throw new ApiError(400, p.entries[0]!.type, p.entries);
  return out;
}
