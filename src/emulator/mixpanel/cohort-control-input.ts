/**
 * Reads the JSON bodies of the cohort-side control endpoints (`/_emulator/cohorts`,
 * `/_emulator/engage`, `/_emulator/webhook-syncs`) into the emulator's types. Pure; a bad field
 * throws a `ControlInputError` naming it, which the routes answer with 400.
 */
import { ControlInputError } from './control-input.js';
import type { CohortInput, CohortMemberInput } from './cohorts.js';
import type { EngageSettings } from './engage.js';
import type { DeliveryFaults } from './webhook-messages.js';
import type { WebhookSyncConfig } from './webhook-sender.js';

type Json = Record<string, unknown>;

function object(v: unknown, name: string): Json {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new ControlInputError(`${name} must be an object`);
  return v as Json;
}

function id(v: unknown, name: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return String(v);
  if (typeof v === 'string' && v !== '' && v.length <= 255) return v;
  throw new ControlInputError(`${name} must be a non-empty string or an integer`);
}

function optInt(body: Json, key: string, min: number, max: number): number | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new ControlInputError(`${key} must be an integer in [${min}, ${max}]`);
  return v;
}

function optString(body: Json, key: string): string | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new ControlInputError(`${key} must be a string`);
  return v;
}

export function readProjectId(raw: unknown): string {
  const projectId = id(raw, 'project_id');
  if (projectId === undefined) throw new ControlInputError('project_id is required');
  return projectId;
}

/** Members as distinct ids (`"u1"`, `42`) or `{distinct_id, properties?}` objects. */
export function readMembers(raw: unknown, name = 'members'): CohortMemberInput[] {
  if (!Array.isArray(raw)) throw new ControlInputError(`${name} must be an array`);
  return raw.map((m, i) => {
    if (typeof m === 'string' || typeof m === 'number') return { distinctId: id(m, `${name}[${i}]`)! };
    const o = object(m, `${name}[${i}]`);
    const distinctId = id(o.distinct_id ?? o.$distinct_id, `${name}[${i}].distinct_id`);
    if (distinctId === undefined) throw new ControlInputError(`${name}[${i}].distinct_id is required`);
    const props = o.properties ?? o.$properties;
    if (props === undefined || props === null) return { distinctId };
    return { distinctId, properties: { ...object(props, `${name}[${i}].properties`) } };
  });
}

export function readDistinctIds(raw: unknown, name = 'distinct_ids'): string[] {
  if (!Array.isArray(raw)) throw new ControlInputError(`${name} must be an array`);
  return raw.map((v, i) => id(v, `${name}[${i}]`)!);
}

export function readCohort(raw: unknown): { projectId: string; input: CohortInput } {
  const body = object(raw, 'body');
  const name = optString(body, 'name');
  if (!name) throw new ControlInputError('name is required');
  const input: CohortInput = { name, members: readMembers(body.members ?? []) };
  const cohortId = id(body.id, 'id');
  if (cohortId !== undefined) input.id = cohortId;
  const description = optString(body, 'description');
  if (description !== undefined) input.description = description;
  if (body.is_visible !== undefined) {
    if (typeof body.is_visible !== 'boolean') throw new ControlInputError('is_visible must be a boolean');
    input.isVisible = body.is_visible;
  }
  return { projectId: readProjectId(body.project_id), input };
}

export function readEngageSettings(raw: unknown): Partial<EngageSettings> {
  const body = object(raw, 'body');
  const patch: Partial<EngageSettings> = {};
  const set = <K extends keyof EngageSettings>(key: K, value: number | undefined) => {
    if (value !== undefined) patch[key] = value;
  };
  set('pageSize', optInt(body, 'page_size', 1, 100_000));
  set('sessionTtlMs', optInt(body, 'session_ttl_ms', 1, 30 * 24 * 3_600_000));
  set('queriesPerHour', optInt(body, 'queries_per_hour', 1, 1_000_000));
  set('maxConcurrent', optInt(body, 'max_concurrent', 1, 10_000));
  set('latencyMs', optInt(body, 'latency_ms', 0, 600_000));
  return patch;
}

export function readDeliveryFaults(raw: unknown): DeliveryFaults {
  const body = object(raw, 'faults');
  const faults: DeliveryFaults = {};
  const twice = optInt(body, 'send_page_twice', 1, 1_000_000);
  const stop = optInt(body, 'stop_after_page', 0, 1_000_000);
  if (twice !== undefined) faults.sendPageTwice = twice;
  if (stop !== undefined) faults.stopAfterPage = stop;
  if (body.reorder_pages !== undefined) {
    if (typeof body.reorder_pages !== 'boolean') throw new ControlInputError('reorder_pages must be a boolean');
    faults.reorderPages = body.reorder_pages;
  }
  return faults;
}

function readUrl(raw: unknown): string {
  if (typeof raw !== 'string') throw new ControlInputError('url is required');
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ControlInputError('url must be an absolute http(s) URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ControlInputError('url must be an absolute http(s) URL');
  return url.toString();
}

/**
 * `{project_id, url, username?, password?, cohort_ids, properties?, schedule?: "one_time" |
 * {every_seconds}, first_sync?, page_size?, retry_delays_ms?, timeout_ms?, faults?, start?}`.
 */
export function readSyncConfig(raw: unknown): WebhookSyncConfig {
  const body = object(raw, 'body');
  const cohortIds = body.cohort_ids;
  if (!Array.isArray(cohortIds) || cohortIds.length === 0) throw new ControlInputError('cohort_ids must be a non-empty array');
  const properties = body.properties ?? [];
  if (!Array.isArray(properties) || !properties.every((p) => typeof p === 'string' && p !== '')) {
    throw new ControlInputError('properties must be an array of property names');
  }
  const config: WebhookSyncConfig = {
    projectId: readProjectId(body.project_id),
    url: readUrl(body.url),
    cohortIds: cohortIds.map((c, i) => id(c, `cohort_ids[${i}]`)!),
    properties: properties as string[],
    schedule: { kind: 'one_time' },
    firstSync: 'members',
    faults: readDeliveryFaults(body.faults),
    start: true,
  };
  const username = optString(body, 'username');
  const password = optString(body, 'password');
  if (username !== undefined || password !== undefined) config.basicAuth = { username: username ?? '', password: password ?? '' };
  const schedule = body.schedule;
  if (schedule !== undefined && schedule !== 'one_time') {
    const every = optInt(object(schedule, 'schedule'), 'every_seconds', 1, 365 * 86_400);
    if (every === undefined) throw new ControlInputError('schedule must be "one_time" or {"every_seconds": N}');
    config.schedule = { kind: 'every', seconds: every };
  }
  if (body.first_sync !== undefined) {
    if (body.first_sync !== 'members' && body.first_sync !== 'add_members') throw new ControlInputError('first_sync must be members or add_members');
    config.firstSync = body.first_sync;
  }
  const pageSize = optInt(body, 'page_size', 1, 100_000);
  if (pageSize !== undefined) config.pageSize = pageSize;
  const timeoutMs = optInt(body, 'timeout_ms', 1, 600_000);
  if (timeoutMs !== undefined) config.timeoutMs = timeoutMs;
  if (body.retry_delays_ms !== undefined) {
    const delays = body.retry_delays_ms;
    if (!Array.isArray(delays) || delays.length > 20 || !delays.every((d) => Number.isInteger(d) && d >= 0 && d <= 600_000)) {
      throw new ControlInputError('retry_delays_ms must be an array of at most 20 delays in ms');
    }
    config.retryDelaysMs = delays as number[];
  }
  if (body.start !== undefined) {
    if (typeof body.start !== 'boolean') throw new ControlInputError('start must be a boolean');
    config.start = body.start;
  }
  return config;
}
