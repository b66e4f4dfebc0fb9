/**
 * What an operator may configure on a Mixpanel export, and the checks on it (docs/reference/currents.md §3,
 * docs/reference/mixpanel-apis.md §1–§2). Pure: the admin API and the CLI both hand their input here, so a bad
 * field gets the same 400 naming it whichever way it arrives.
 */
import { isKnownEventType, isSelectableType, SELECTABLE_EVENT_TYPES } from '../../events/index.js';
import { ApiError, type ErrorEntry } from '../../http/index.js';
import { DEFAULT_BATCH_BYTE_CAP } from '../mixpanel/batching.js';
import { DEFAULT_PARTNER_ID } from '../mixpanel/mapping.js';

export const REGIONS = ['US', 'EU', 'IN'] as const;
export type Region = (typeof REGIONS)[number];

/** Mixpanel's ingestion hosts by data residency (docs/reference/mixpanel-apis.md §1): the defaults. */
export const INGESTION_HOSTS: Readonly<Record<Region, string>> = {
  US: 'https://api.mixpanel.com',
  EU: 'https://api-eu.mixpanel.com',
  IN: 'https://api-in.mixpanel.com',
};

export const DEFAULT_MAX_IN_FLIGHT = 4;
export const MAX_IN_FLIGHT = 20;
/** Mixpanel's current limit is 10 MB of uncompressed body; a cap above it would only earn 413s. */
export const MAX_BATCH_BYTE_CAP = 10 * 1024 * 1024;
export const MIN_BATCH_BYTE_CAP = 1024;

export type MixpanelCredentials =
  | { kind: 'service_account'; username: string; secret: string; projectId: string }
  | { kind: 'api_secret'; apiSecret: string };

/** Everything sealed at rest: the credentials and the project token. */
export interface SealedSecrets {
  credentials: MixpanelCredentials;
  projectToken: string;
}

export type StartFrom = 'now' | 'earliest';

export interface MixpanelExportInput {
  name: string;
  contactEmail: string;
  secrets: SealedSecrets;
  region: Region;
  baseUrl: string | null;
  eventTypes: string[];
  partnerId: string;
  batchByteCap: number;
  maxInFlight: number;
  startFrom: StartFrom;
}

type Json = Record<string, unknown>;

class Problems {
  readonly entries: ErrorEntry[] = [];
  add(path: string, type: string): void {
    this.entries.push({ type, path });
  }
  throwIfAny(): void {
    if (this.entries.length === 0) return;
    const first = this.entries[0]!;
    throw new ApiError(400, first.type, this.entries);
  }
}

const EMAIL = /^[^\s@<>(),;:"]+@[^\s@<>(),;:"]+\.[^\s@<>(),;:"]+$/;
const PROJECT_ID = /^[A-Za-z0-9_-]{1,64}$/;
const PARTNER_ID = /^[A-Za-z0-9_.-]{1,64}$/;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function text(body: Json, key: string, path: string, problems: Problems, opts: { max?: number; optional?: boolean } = {}): string | undefined {
  const v = body[key];
  if (v === undefined || v === null) {
    if (!opts.optional) problems.add(path, `${path} is required`);
    return undefined;
  }
  if (typeof v !== 'string' || v.trim() === '') {
    problems.add(path, `${path} must be a non-empty string`);
    return undefined;
  }
  if (v.length > (opts.max ?? 255)) {
    problems.add(path, `${path} must be at most ${opts.max ?? 255} characters`);
    return undefined;
  }
  return v;
}

function integer(body: Json, key: string, fallback: number, min: number, max: number, problems: Problems): number {
  const v = body[key];
  if (v === undefined || v === null) return fallback;
  if (!Number.isInteger(v) || (v as number) < min || (v as number) > max) {
    problems.add(key, `${key} must be an integer between ${min} and ${max}`);
    return fallback;
  }
  return v as number;
}

/** The base URL an operator may point a connector at instead of Mixpanel: http(s), no credentials, no query. */
export function checkBaseUrl(raw: string): string | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return null;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
  if (url.username || url.password || url.search || url.hash) return null;
  return url.toString().replace(/\/+$/, '');
}

function readCredentials(raw: unknown, problems: Problems): MixpanelCredentials | undefined {
  if (!isObject(raw)) {
    problems.add('credentials', 'credentials must be an object with kind "service_account" or "api_secret"');
    return undefined;
  }
  const kind = raw['kind'];
  const allowed = kind === 'service_account' ? ['kind', 'username', 'secret', 'project_id'] : ['kind', 'api_secret'];
  if (kind !== 'service_account' && kind !== 'api_secret') {
    problems.add('credentials.kind', 'credentials.kind must be "service_account" or "api_secret"');
    return undefined;
  }
  for (const key of Object.keys(raw)) if (!allowed.includes(key)) problems.add(`credentials.${key}`, `credentials.${key} is not allowed with kind ${kind}`);
  if (kind === 'api_secret') {
    const apiSecret = text(raw, 'api_secret', 'credentials.api_secret', problems, { max: 1024 });
    return apiSecret === undefined ? undefined : { kind, apiSecret };
  }
  const username = text(raw, 'username', 'credentials.username', problems, { max: 1024 });
  const secret = text(raw, 'secret', 'credentials.secret', problems, { max: 1024 });
  const projectRaw = typeof raw['project_id'] === 'number' ? String(raw['project_id']) : raw['project_id'];
  let projectId: string | undefined;
  if (projectRaw === undefined || projectRaw === null) problems.add('credentials.project_id', 'credentials.project_id is required with a service account');
  else if (typeof projectRaw !== 'string' || !PROJECT_ID.test(projectRaw)) problems.add('credentials.project_id', 'credentials.project_id must be a Mixpanel project id');
  else projectId = projectRaw;
  if (username === undefined || secret === undefined || projectId === undefined) return undefined;
  return { kind, username, secret, projectId };
}

function readEventTypes(raw: unknown, problems: Problems): string[] {
  if (!Array.isArray(raw) || raw.length === 0) {
    problems.add('event_types', 'event_types must be a non-empty array of event types');
    return [];
  }
  const chosen = new Set<string>();
  raw.forEach((t, i) => {
    const path = `event_types[${i}]`;
    if (typeof t !== 'string') problems.add(path, `${path} must be a string`);
    else if (!isKnownEventType(t)) problems.add(path, `${path}: unknown event type ${t}`);
    else if (!isSelectableType(t)) problems.add(path, `${path}: ${t} is a legacy type and is never exported`);
    else chosen.add(t);
  });
  // The catalogue's order, so the stored list reads like the dashboard's.
  return SELECTABLE_EVENT_TYPES.filter((t) => chosen.has(t));
}

const KNOWN_KEYS = new Set([
  'name',
  'contact_email',
  'credentials',
  'project_token',
  'region',
  'event_types',
  'base_url',
  'partner_id',
  'batch_byte_cap',
  'max_in_flight',
  'start_from',
]);

/** Reads and checks a "create Mixpanel export" body; throws a 400 `ApiError` naming every bad field. */
export function parseMixpanelExportInput(raw: unknown): MixpanelExportInput {
  const problems = new Problems();
  if (!isObject(raw)) throw new ApiError(400, 'the body must be a JSON object');
  for (const key of Object.keys(raw)) if (!KNOWN_KEYS.has(key)) problems.add(key, `unknown field ${key}`);

  const name = text(raw, 'name', 'name', problems);
  const contactEmail = text(raw, 'contact_email', 'contact_email', problems, { max: 254 });
  if (contactEmail !== undefined && !EMAIL.test(contactEmail)) problems.add('contact_email', 'contact_email must be an email address');
  const credentials = readCredentials(raw['credentials'], problems);
  const projectToken = text(raw, 'project_token', 'project_token', problems, { max: 1024 });

  const regionRaw = raw['region'] ?? 'US';
  const region = typeof regionRaw === 'string' ? (regionRaw.toUpperCase() as Region) : undefined;
  if (!region || !REGIONS.includes(region)) problems.add('region', 'region must be one of US, EU, IN');

  const eventTypes = readEventTypes(raw['event_types'], problems);

  let baseUrl: string | null = null;
  const baseRaw = text(raw, 'base_url', 'base_url', problems, { optional: true, max: 2048 });
  if (baseRaw !== undefined) {
    baseUrl = checkBaseUrl(baseRaw);
    if (baseUrl === null) problems.add('base_url', 'base_url must be an http(s) URL without credentials, query or fragment');
  }

  const partnerId = text(raw, 'partner_id', 'partner_id', problems, { optional: true, max: 64 }) ?? DEFAULT_PARTNER_ID;
  if (!PARTNER_ID.test(partnerId)) problems.add('partner_id', 'partner_id may hold letters, digits, "_", "." and "-"');
  const batchByteCap = integer(raw, 'batch_byte_cap', DEFAULT_BATCH_BYTE_CAP, MIN_BATCH_BYTE_CAP, MAX_BATCH_BYTE_CAP, problems);
  const maxInFlight = integer(raw, 'max_in_flight', DEFAULT_MAX_IN_FLIGHT, 1, MAX_IN_FLIGHT, problems);
  const startFrom = raw['start_from'] ?? 'now';
  if (startFrom !== 'now' && startFrom !== 'earliest') problems.add('start_from', 'start_from must be "now" or "earliest"');

  problems.throwIfAny();
  return {
    name: name!,
    contactEmail: contactEmail!,
    secrets: { credentials: credentials!, projectToken: projectToken! },
    region: region!,
    baseUrl,
    eventTypes,
    partnerId,
    batchByteCap,
    maxInFlight,
    startFrom: startFrom as StartFrom,
  };
}

/** Where `/import` lives for a connector: its explicit base URL, else its region's Mixpanel host. */
export function ingestionBaseUrl(c: { region: Region; baseUrl: string | null }): string {
  return c.baseUrl ?? INGESTION_HOSTS[c.region];
}

/** Fields a PATCH may change: every setting but `start_from` (the cursor stays where it is). */
const UPDATABLE_KEYS = new Set([...KNOWN_KEYS].filter((k) => k !== 'start_from'));

/** A connector's current settings in the shape of a create body, so an update can be checked as a whole. */
export function settingsAsBody(
  current: { name: string; contactEmail: string; region: Region; baseUrl: string | null; eventTypes: string[]; partnerId: string; batchByteCap: number; maxInFlight: number },
  secrets: SealedSecrets,
): Json {
  const c = secrets.credentials;
  return {
    name: current.name,
    contact_email: current.contactEmail,
    credentials: c.kind === 'service_account' ? { kind: c.kind, username: c.username, secret: c.secret, project_id: c.projectId } : { kind: c.kind, api_secret: c.apiSecret },
    project_token: secrets.projectToken,
    region: current.region,
    base_url: current.baseUrl,
    event_types: current.eventTypes,
    partner_id: current.partnerId,
    batch_byte_cap: current.batchByteCap,
    max_in_flight: current.maxInFlight,
  };
}

/**
 * Reads and checks an update (`PATCH /admin/currents/{id}`, docs/reference/currents.md §3): the given
 * fields replace the current ones (`credentials` as a whole; `base_url: null` goes back to the
 * region's host), and the result is checked like a create body. Throws a 400 naming every bad field.
 */
export function parseMixpanelExportUpdate(raw: unknown, current: Json): { input: MixpanelExportInput; changed: string[] } {
  if (!isObject(raw)) throw new ApiError(400, 'the body must be a JSON object');
  const problems = new Problems();
  for (const key of Object.keys(raw)) if (!UPDATABLE_KEYS.has(key)) problems.add(key, key === 'start_from' ? 'start_from cannot be changed: the export goes on from its cursor' : `unknown field ${key}`);
  if (Object.keys(raw).length === 0) problems.add('', 'the body must name at least one field to change');
  problems.throwIfAny();
  const merged: Json = { ...current, ...raw };
  const input = parseMixpanelExportInput(merged);
  const changed = Object.keys(raw).filter((k) => JSON.stringify(raw[k]) !== JSON.stringify(current[k]));
  return { input, changed };
}
