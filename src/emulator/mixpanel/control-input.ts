/**
 * Reads the JSON bodies of the `/_emulator/` control endpoints into the emulator's own types.
 * Pure; a bad field throws a `ControlInputError` naming it, which the routes answer with 400.
 */
import type { ImportSettings } from './emulator.js';
import type { FaultSpec, OutageWindow } from './faults.js';
import { PROJECT_ROLES, type ProjectInput, type ProjectRole, type ServiceAccountGrant } from './projects.js';

export class ControlInputError extends Error {}

type Json = Record<string, unknown>;

function object(v: unknown, name: string): Json {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new ControlInputError(`${name} must be an object`);
  return v as Json;
}

function optString(body: Json, key: string): string | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'number' && key === 'project_id') return String(v);
  if (typeof v !== 'string' || v === '') throw new ControlInputError(`${key} must be a non-empty string`);
  return v;
}

function optNumber(body: Json, key: string, min = 0, max = Number.POSITIVE_INFINITY): number | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) throw new ControlInputError(`${key} must be a number in [${min}, ${max}]`);
  return v;
}

function optStatus(body: Json, key: string): number | undefined {
  const v = optNumber(body, key, 100, 599);
  if (v !== undefined && !Number.isInteger(v)) throw new ControlInputError(`${key} must be an HTTP status`);
  return v;
}

/** `expires_at`: epoch ms or an ISO date-time. */
function optTime(body: Json, key: string): number | null | undefined {
  const v = body[key];
  if (v === undefined) return undefined;
  if (v === null) return null;
  const ms = typeof v === 'number' ? v : typeof v === 'string' ? Date.parse(v) : Number.NaN;
  if (!Number.isFinite(ms)) throw new ControlInputError(`${key} must be epoch ms or an ISO date-time`);
  return ms;
}

export function readGrant(raw: unknown): ServiceAccountGrant {
  const body = object(raw, 'service account');
  const username = optString(body, 'username');
  const secret = optString(body, 'secret');
  if (!username || !secret) throw new ControlInputError('a service account needs username and secret');
  const role = (optString(body, 'role') ?? 'owner') as ProjectRole;
  if (!PROJECT_ROLES.includes(role)) throw new ControlInputError(`role must be one of ${PROJECT_ROLES.join(', ')}`);
  const expiresAtMs = optTime(body, 'expires_at');
  return { username, secret, role, ...(expiresAtMs !== undefined ? { expiresAtMs } : {}) };
}

export function readProject(raw: unknown): ProjectInput {
  const body = object(raw, 'body');
  const accounts = body['service_accounts'] ?? [];
  if (!Array.isArray(accounts)) throw new ControlInputError('service_accounts must be an array');
  const input: ProjectInput = { serviceAccounts: accounts.map(readGrant) };
  const id = optString(body, 'project_id');
  const token = optString(body, 'token');
  const apiSecret = optString(body, 'api_secret');
  if (id !== undefined) input.id = id;
  if (token !== undefined) input.token = token;
  if (apiSecret !== undefined) input.apiSecret = apiSecret;
  return input;
}

function readOutage(raw: unknown, nowMs: number): OutageWindow {
  const body = object(raw, 'outage');
  const status = optStatus(body, 'status') ?? 503;
  const durationMs = optNumber(body, 'duration_ms');
  if (durationMs === undefined) throw new ControlInputError('an outage needs duration_ms');
  const startMs = nowMs + (optNumber(body, 'start_in_ms') ?? 0);
  return { startMs, endMs: startMs + durationMs, status };
}

/** A fault spec and its scope; outage windows are placed relative to `nowMs`. */
export function readFaults(raw: unknown, nowMs: number): { projectId?: string; spec: FaultSpec; seed?: number } {
  const body = object(raw, 'body');
  const spec: FaultSpec = {};
  const rate = (key: string) => optNumber(body, key, 0, 1);
  const assign = <K extends keyof FaultSpec>(key: K, value: FaultSpec[K] | undefined) => {
    if (value !== undefined) spec[key] = value;
  };
  assign('rate429', rate('rate_429'));
  assign('rate5xx', rate('rate_5xx'));
  assign('status5xx', optStatus(body, 'status_5xx'));
  assign('rate401', rate('rate_401'));
  assign('rate413', rate('rate_413'));
  assign('latencyMs', optNumber(body, 'latency_ms', 0, 600_000));
  assign('latencyJitterMs', optNumber(body, 'latency_jitter_ms', 0, 600_000));
  const retryAfter = body['retry_after'];
  if (retryAfter !== undefined) {
    if (typeof retryAfter !== 'number' && typeof retryAfter !== 'string') throw new ControlInputError('retry_after must be seconds or an HTTP date');
    spec.retryAfter = retryAfter;
  }
  const outages = [...(body['outage'] !== undefined ? [body['outage']] : []), ...(Array.isArray(body['outages']) ? body['outages'] : [])];
  if (outages.length > 0) spec.outages = outages.map((o) => readOutage(o, nowMs));
  const script = body['script'];
  if (script !== undefined) {
    if (!Array.isArray(script) || !script.every((s) => Number.isInteger(s) && s >= 100 && s <= 599)) {
      throw new ControlInputError('script must be an array of HTTP statuses');
    }
    spec.script = script as number[];
  }
  const projectId = optString(body, 'project_id');
  const seed = optNumber(body, 'seed');
  return { spec, ...(projectId !== undefined ? { projectId } : {}), ...(seed !== undefined ? { seed } : {}) };
}

export function readSettings(raw: unknown): Partial<ImportSettings> {
  const body = object(raw, 'body');
  const patch: Partial<ImportSettings> = {};
  const maxBodyBytes = optNumber(body, 'max_body_bytes', 1);
  const maxEvents = optNumber(body, 'max_events_per_request', 1);
  const rateLimit = optNumber(body, 'rate_limit_bytes_per_minute', 1);
  const idKey = optString(body, 'failed_record_id_key');
  if (maxBodyBytes !== undefined) patch.maxBodyBytes = Math.floor(maxBodyBytes);
  if (maxEvents !== undefined) patch.maxEventsPerRequest = Math.floor(maxEvents);
  if (rateLimit !== undefined) patch.rateLimitBytesPerMinute = rateLimit;
  if (idKey !== undefined) {
    if (idKey !== '$insert_id' && idKey !== 'insert_id') throw new ControlInputError('failed_record_id_key must be $insert_id or insert_id');
    patch.failedRecordIdKey = idKey;
  }
  return patch;
}
