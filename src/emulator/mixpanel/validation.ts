/**
 * Per-record validation of `/import` (docs/reference/mixpanel-apis.md §4) with the emulator's exact messages,
 * and the normalisation applied to an accepted record before it is stored (strings and property
 * names truncated to 255 characters, a future time within the hour replaced by the ingestion time).
 * Pure: the caller passes the clock.
 */
import { ARRAY_ELEMENTS_LIMIT, EVENT_BYTES_LIMIT, limitFailure, MAX_DEPTH, OBJECT_KEYS_LIMIT, PROPERTY_COUNT_LIMIT } from './record-limits.js';

export const DISALLOWED_IDS: ReadonlySet<string> = new Set([
  '00000000-0000-0000-0000-000000000000',
  'anon',
  'anonymous',
  'nil',
  'none',
  'null',
  'n/a',
  'na',
  'undefined',
  'unknown',
  '<nil>',
  '0',
  '-1',
  'true',
  'false',
  '[]',
  '{}',
]);

const MIN_TIME_MS = 31_536_000_000;
const MAX_FUTURE_MS = 3_600_000;
/** A time at or above this is read as milliseconds (ours): valid seconds are all below it. */
const MILLIS_THRESHOLD = 1e10;
const MAX_STRING_CHARS = 255;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export interface ImportRecord {
  event: string;
  properties: Record<string, unknown>;
}

/** The parts of Mixpanel's dedup key, time normalised to epoch ms. */
export interface DedupKey {
  event: string;
  distinctId: string;
  timeMs: number;
  insertId: string;
}

export type RecordCheck =
  | { ok: true; record: ImportRecord; key: DedupKey; ignored: boolean }
  | { ok: false; field: string; message: string; insertId: unknown };

const MSG = {
  notObject: "'record' is invalid: must be a JSON object",
  notAllowed: (key: string) => `'${key}' is not allowed`,
  event: "'event' is invalid: must be a non-empty string",
  properties: "'properties' is invalid: must be an object",
  timeMissing: "'properties.time' is invalid: must be specified as seconds since epoch",
  timeRange: "'properties.time' is invalid: must be after 1971-01-01 and at most 1 hour in the future",
  distinctRequired: "'properties.distinct_id' is required",
  distinctType: "'properties.distinct_id' is invalid: must be a string",
  distinctValue: "'properties.distinct_id' is invalid: value is not allowed",
  insertRequired: "'properties.$insert_id' is required",
  insertShape: "'properties.$insert_id' is invalid: must be at most 36 bytes of alphanumerics and '-'",
  insertValue: "'properties.$insert_id' is invalid: value is not allowed",
  utf8: (key: string) => `properties.${key} is invalid: string should be valid utf8`,
} as const;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isDisallowed(value: string): boolean {
  // Every disallowed value has at most 9 characters, but the all-zero UUID (36, starting with '0').
  const n = value.length;
  if (n > 9 && (n !== 36 || value.charCodeAt(0) !== 48)) return false;
  return DISALLOWED_IDS.has(value.toLowerCase());
}

/** `/^[A-Za-z0-9-]{1,36}$/.test(value)`, by hand: 1–36 characters of `[A-Za-z0-9-]`. */
function hasInsertIdShape(value: string): boolean {
  const n = value.length;
  if (n < 1 || n > 36) return false;
  for (let i = 0; i < n; i++) {
    const c = value.charCodeAt(i);
    if (!((c >= 97 && c <= 122) || (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || c === 45)) return false;
  }
  return true;
}

function hasLoneSurrogate(value: unknown): boolean {
  if (typeof value === 'string') return LONE_SURROGATE.test(value);
  if (Array.isArray(value)) return value.some(hasLoneSurrogate);
  if (isPlainObject(value)) return Object.entries(value).some(([k, v]) => LONE_SURROGATE.test(k) || hasLoneSurrogate(v));
  return false;
}

function truncate(s: string): string {
  if (s.length <= MAX_STRING_CHARS) return s;
  return Array.from(s).slice(0, MAX_STRING_CHARS).join('');
}

/**
 * Whether `truncateStrings` would change anything: a string or key over the cap, or a `__proto__`
 * key (which its copy drops). Allocates nothing, so a record that needs no change is stored as is.
 */
function needsTruncation(value: unknown): boolean {
  if (typeof value === 'string') return value.length > MAX_STRING_CHARS;
  if (Array.isArray(value)) {
    for (const item of value) if (needsTruncation(item)) return true;
    return false;
  }
  if (isPlainObject(value)) {
    for (const k in value) {
      if (!Object.hasOwn(value, k)) continue;
      if (k.length > MAX_STRING_CHARS || k === '__proto__' || needsTruncation(value[k])) return true;
    }
  }
  return false;
}

function truncateStrings(value: unknown): unknown {
  if (typeof value === 'string') return truncate(value);
  if (Array.isArray(value)) return value.map(truncateStrings);
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[truncate(k)] = truncateStrings(v);
    return out;
  }
  return value;
}

export function toEpochMs(time: number): number {
  return Math.round(time >= MILLIS_THRESHOLD ? time : time * 1000);
}

/**
 * Whether a request body's text can hold a lone surrogate once parsed. Its UTF-8 was decoded
 * strictly, so a surrogate can only come from a `\\uD800`–`\\uDFFF` escape: a body without one
 * (almost every body) needs no per-value surrogate walk.
 */
export function mayHoldLoneSurrogates(text: string): boolean {
  return /\\u[dD][89a-fA-F]/.test(text);
}

export interface CheckOptions {
  /** `false` when the body is known to hold no lone surrogate (see `mayHoldLoneSurrogates`). */
  surrogates?: boolean;
}

/** What `scanProperties` found. */
interface Scan {
  /** Certainly passes `limitFailure`: no limit broken and the record's JSON under the byte limit. */
  withinLimits: boolean;
  /** Might need `truncateStrings` (a long string or key, or a `__proto__` key). */
  needsTruncation: boolean;
}

const SCAN: Scan = { withinLimits: true, needsTruncation: false };
let scanTruncation = false;
/** JSON.stringify of a number is at most 25 characters ("-0.0000012345678901234567"). */
const NUMBER_BYTES = 32;

/**
 * An upper bound of `value`'s JSON size in UTF-8 bytes (a UTF-16 unit is at most 6 bytes once
 * escaped, `\uXXXX`), or -1 when the value breaks a nesting limit of record-limits.ts or is not
 * plain JSON data; notes in `scanTruncation` whether a string or key would be truncated.
 * `depth` as in record-limits.ts: the property's own value is 1.
 */
function boundOf(value: unknown, depth: number): number {
  switch (typeof value) {
    case 'string':
      if (value.length > MAX_STRING_CHARS) scanTruncation = true;
      return value.length * 6 + 2;
    case 'number':
      return NUMBER_BYTES;
    case 'boolean':
      return 5;
    case 'object': {
      if (value === null) return 4;
      if (depth > MAX_DEPTH) return -1;
      let bytes = 2;
      if (Array.isArray(value)) {
        const n = value.length;
        if (n >= ARRAY_ELEMENTS_LIMIT) return -1;
        for (let i = 0; i < n; i++) {
          const item = boundOf(value[i], depth + 1);
          if (item < 0) return -1;
          bytes += item + 1;
        }
        return bytes;
      }
      const keys = Object.keys(value);
      if (keys.length >= OBJECT_KEYS_LIMIT) return -1;
      for (const key of keys) {
        if (key.length > MAX_STRING_CHARS || key === '__proto__') scanTruncation = true;
        const item = boundOf((value as Record<string, unknown>)[key], depth + 1);
        if (item < 0) return -1;
        bytes += key.length * 6 + 4 + item;
      }
      return bytes;
    }
    default:
      return -1;
  }
}

/**
 * The record `{"event":…,"properties":props}` against the limits of §3, in one walk that
 * allocates nothing but the key lists: within the limits when it has fewer than 255 properties,
 * no nesting limit is broken and an upper bound of its JSON size is under the byte limit (the exact
 * size is then never needed). Truncation is flagged as `needsTruncation` would find it, for a
 * record within the limits (the walk stops at the first broken limit).
 */
function scanProperties(props: Record<string, unknown>, event: string): Scan {
  scanTruncation = false;
  const keys = Object.keys(props);
  let withinLimits = keys.length < PROPERTY_COUNT_LIMIT;
  let bytes = 32 + event.length * 6;
  for (let i = 0; withinLimits && i < keys.length; i++) {
    const key = keys[i]!;
    if (key.length > MAX_STRING_CHARS || key === '__proto__') scanTruncation = true;
    const value = boundOf(props[key], 1);
    if (value < 0) withinLimits = false;
    bytes += key.length * 6 + 4 + value;
  }
  if (bytes >= EVENT_BYTES_LIMIT) withinLimits = false;
  SCAN.withinLimits = withinLimits;
  SCAN.needsTruncation = scanTruncation;
  return SCAN;
}

/** Validates one record of a strict `/import` request; on success returns what is to be stored. */
export function checkImportRecord(raw: unknown, nowMs: number, options: CheckOptions = {}): RecordCheck {
  if (!isPlainObject(raw)) return { ok: false, field: 'record', message: MSG.notObject, insertId: null };
  const props = isPlainObject(raw['properties']) ? raw['properties'] : undefined;
  const insertId = props?.['$insert_id'] ?? null;
  const fail = (field: string, message: string): RecordCheck => ({ ok: false, field, message, insertId });

  for (const key in raw) {
    if (key !== 'event' && key !== 'properties' && Object.hasOwn(raw, key)) return fail(key, MSG.notAllowed(key));
  }
  const event = raw['event'];
  if (typeof event !== 'string' || event.length === 0) return fail('event', MSG.event);
  if (!props) return fail('properties', MSG.properties);

  const time = props['time'];
  if (typeof time !== 'number' || !Number.isFinite(time)) return fail('properties.time', MSG.timeMissing);
  const timeMs = toEpochMs(time);
  if (timeMs < MIN_TIME_MS || timeMs > nowMs + MAX_FUTURE_MS) return fail('properties.time', MSG.timeRange);

  const distinctId = props['distinct_id'];
  if (distinctId === undefined) return fail('properties.distinct_id', MSG.distinctRequired);
  if (typeof distinctId !== 'string') return fail('properties.distinct_id', MSG.distinctType);
  if (isDisallowed(distinctId)) return fail('properties.distinct_id', MSG.distinctValue);

  if (insertId === null) return fail('properties.$insert_id', MSG.insertRequired);
  if (typeof insertId !== 'string' || !hasInsertIdShape(insertId)) return fail('properties.$insert_id', MSG.insertShape);
  if (isDisallowed(insertId)) return fail('properties.$insert_id', MSG.insertValue);

  if (options.surrogates !== false) {
    for (const [key, value] of Object.entries(props)) {
      if (LONE_SURROGATE.test(key) || hasLoneSurrogate(value)) return fail(`properties.${key}`, MSG.utf8(key));
    }
  }
  // One walk tells whether the record is certainly within the limits and needs no truncation; a
  // record it cannot vouch for goes through the exact checks (record-limits.ts, JSON.stringify).
  const scan = scanProperties(props, event);
  if (!scan.withinLimits) {
    const limit = limitFailure(props, Buffer.byteLength(JSON.stringify(raw)));
    if (limit) return fail(limit.field, limit.message);
  }

  // A record the walk did not vouch for is checked for truncation in full, as before.
  const mayTruncate = !scan.withinLimits || scan.needsTruncation;
  let stored = mayTruncate && needsTruncation(props) ? (truncateStrings(props) as Record<string, unknown>) : props;
  let storedTimeMs = timeMs;
  if (timeMs > nowMs) {
    if (stored === props) stored = { ...props };
    stored['time'] = time >= MILLIS_THRESHOLD ? nowMs : Math.floor(nowMs / 1000);
    storedTimeMs = toEpochMs(stored['time'] as number);
  }
  const ignore = props['$ignore'];
  return {
    ok: true,
    record: { event, properties: stored },
    key: { event, distinctId: stored['distinct_id'] as string, timeMs: storedTimeMs, insertId },
    ignored: ignore !== undefined && ignore !== null && ignore !== false,
  };
}
