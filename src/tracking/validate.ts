/**
 * Pure validation of `/users/track` items (docs/reference/rest-api.md §2): each raw object becomes either a
 * normalized item or one error `type` string. No I/O; the caller decides what to apply.
 */
import type { Identifier, StandardField, StandardValues, UserAlias } from '../identity/index.js';
import { isPlainObject, measureJson } from './json-shape.js';
import { isCalendarDate, isDateTimeString, parseTime } from './time.js';

export const MAX_ITEMS_PER_ARRAY = 75;
const MAX_STRING = 255;
const MAX_EXTERNAL_ID_BYTES = 512;
const EVENT_PROPERTIES_MAX_BYTES = 100 * 1024;
const PURCHASE_PROPERTIES_MAX_BYTES = 50 * 1024;
const NESTED_ATTRIBUTE_MAX_BYTES = 100 * 1024;
/** Deeper than this is refused outright: no real payload nests 32 levels, and it bounds every walk. */
const MAX_NESTING = 32;
const MIN_TIME_MS = 0; // 1970-01-01

export type Invalid = { ok: false; error: string };
export type Valid<T> = { ok: true; value: T };
export type Checked<T> = Valid<T> | Invalid;
const fail = (error: string): Invalid => ({ ok: false, error });

export interface Target {
  identifier: Identifier;
  updateExistingOnly: boolean | undefined;
}

export type CustomAttributeOp =
  | { key: string; op: 'set'; value: unknown }
  | { key: string; op: 'unset' }
  | { key: string; op: 'inc'; by: number }
  | { key: string; op: 'add_remove'; add: Array<string | number>; remove: Array<string | number> };

export interface AttributesItem extends Target {
  standard: Partial<StandardValues>;
  custom: CustomAttributeOp[];
}

export interface EventItem extends Target {
  appId: string | undefined;
  name: string;
  timeMs: number;
  properties: Record<string, unknown> | undefined;
}

export interface PurchaseItem extends Target {
  appId: string | undefined;
  productId: string;
  currency: string;
  price: number;
  quantity: number;
  timeMs: number;
  properties: Record<string, unknown> | undefined;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const EMAIL_RE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export function isValidEmail(v: unknown): v is string {
  return typeof v === 'string' && v.length <= MAX_STRING && EMAIL_RE.test(v);
}

function isShortString(v: unknown, max = MAX_STRING): v is string {
  return typeof v === 'string' && v.length >= 1 && v.length <= max;
}

export function checkAlias(v: unknown): UserAlias | undefined {
  if (!isPlainObject(v)) return undefined;
  const { alias_name, alias_label } = v;
  if (!isShortString(alias_name) || !isShortString(alias_label)) return undefined;
  return { alias_name, alias_label };
}

export function isValidExternalId(v: unknown): v is string {
  return typeof v === 'string' && v.length >= 1 && Buffer.byteLength(v) <= MAX_EXTERNAL_ID_BYTES;
}

/** §1: exactly one of external_id / user_alias / braze_id, else email. */
export function checkTarget(obj: Record<string, unknown>): Checked<Target> {
  const present: Array<'external_id' | 'user_alias' | 'braze_id'> = [];
  if (obj.external_id !== undefined && obj.external_id !== null) present.push('external_id');
  if (obj.user_alias !== undefined && obj.user_alias !== null) present.push('user_alias');
  if (obj.braze_id !== undefined && obj.braze_id !== null) present.push('braze_id');
  if (present.length > 1) return fail('multiple identifiers');
  const flag = obj._update_existing_only;
  if (flag !== undefined && typeof flag !== 'boolean') return fail('invalid _update_existing_only');
  const updateExistingOnly = flag as boolean | undefined;
  switch (present[0]) {
    case 'external_id':
      return isValidExternalId(obj.external_id)
        ? { ok: true, value: { identifier: { kind: 'external_id', externalId: obj.external_id }, updateExistingOnly } }
        : fail('invalid external_id');
    case 'user_alias': {
      const alias = checkAlias(obj.user_alias);
      return alias ? { ok: true, value: { identifier: { kind: 'user_alias', alias }, updateExistingOnly } } : fail('invalid user_alias');
    }
    case 'braze_id':
      return typeof obj.braze_id === 'string' && UUID_RE.test(obj.braze_id)
        ? { ok: true, value: { identifier: { kind: 'braze_id', userId: obj.braze_id.toLowerCase() }, updateExistingOnly } }
        : fail('invalid braze_id');
  }
  if (obj.email === undefined || obj.email === null) return fail('missing identifier');
  return isValidEmail(obj.email)
    ? { ok: true, value: { identifier: { kind: 'email', email: obj.email }, updateExistingOnly } }
    : fail('invalid email');
}

const IDENTIFIER_KEYS = new Set(['external_id', 'user_alias', 'braze_id', '_update_existing_only']);
const SUBSCRIPTION_STATES = new Set(['opted_in', 'subscribed', 'unsubscribed']);
const GENDERS = new Set(['M', 'F', 'O', 'N', 'P']);
const regionNames = new Intl.DisplayNames(['en'], { type: 'region', fallback: 'none' });
const languageNames = new Intl.DisplayNames(['en'], { type: 'language', fallback: 'none' });

function isTimeZone(v: string): boolean {
  if (v.length > 64) return false;
  try {
    new Intl.DateTimeFormat('en', { timeZone: v });
    return true;
  } catch {
    return false;
  }
}

/** Each standard field's rule; returns the stored value or undefined when invalid. `null` clears. */
const STANDARD_RULES: Record<StandardField, (v: unknown) => string | null | undefined> = {
  first_name: (v) => (v === null ? null : isShortString(v) ? v : undefined),
  last_name: (v) => (v === null ? null : isShortString(v) ? v : undefined),
  home_city: (v) => (v === null ? null : isShortString(v) ? v : undefined),
  email: (v) => (v === null ? null : isValidEmail(v) ? v : undefined),
  phone: (v) => (v === null ? null : isShortString(v, 64) && /^\+?[0-9 ()./-]{3,}$/.test(v) ? v : undefined),
  country: (v) => {
    if (v === null) return null;
    if (typeof v !== 'string' || !/^[A-Za-z]{2}$/.test(v)) return undefined;
    const code = v.toUpperCase();
    return regionNames.of(code) ? code : undefined;
  },
  language: (v) => {
    if (v === null) return null;
    if (typeof v !== 'string' || !/^[A-Za-z]{2}$/.test(v)) return undefined;
    const code = v.toLowerCase();
    return languageNames.of(code) ? code : undefined;
  },
  gender: (v) => (v === null ? null : typeof v === 'string' && GENDERS.has(v.toUpperCase()) ? v.toUpperCase() : undefined),
  dob: (v) => (v === null ? null : isCalendarDate(v) ? v : undefined),
  time_zone: (v) => (v === null ? null : typeof v === 'string' && isTimeZone(v) ? v : undefined),
  email_subscribe: (v) => (typeof v === 'string' && SUBSCRIPTION_STATES.has(v) ? v : undefined),
  push_subscribe: (v) => (typeof v === 'string' && SUBSCRIPTION_STATES.has(v) ? v : undefined),
};

function isAttributeKey(k: string): boolean {
  return k.length >= 1 && k.length <= MAX_STRING && !k.startsWith('$');
}

function isScalarArray(v: unknown[]): v is Array<string | number> {
  return v.every((x) => (typeof x === 'string' && x.length <= MAX_STRING) || (typeof x === 'number' && Number.isFinite(x)));
}

function checkCustomAttribute(key: string, v: unknown, maxArray: number): CustomAttributeOp | string {
  if (v === null) return { key, op: 'unset' };
  if (typeof v === 'boolean') return { key, op: 'set', value: v };
  if (typeof v === 'number') return Number.isFinite(v) ? { key, op: 'set', value: v } : `invalid ${key}`;
  if (typeof v === 'string') {
    if (v.length > MAX_STRING) return `invalid ${key}`;
    return { key, op: 'set', value: isDateTimeString(v) ? { $time: new Date(parseTime(v)!).toISOString() } : v };
  }
  if (Array.isArray(v)) {
    if (isScalarArray(v)) {
      const unique = [...new Set(v)];
      return unique.length > maxArray ? `too many array elements in ${key}` : { key, op: 'set', value: unique };
    }
    return v.every(isPlainObject) ? checkNested(key, v) : `invalid ${key}`;
  }
  if (isPlainObject(v)) {
    const keys = Object.keys(v);
    if (keys.length === 1 && keys[0] === 'inc') {
      return Number.isSafeInteger(v.inc) ? { key, op: 'inc', by: v.inc as number } : `invalid ${key}`;
    }
    if (keys.length > 0 && keys.every((k) => k === 'add' || k === 'remove')) {
      const add = v.add ?? [];
      const remove = v.remove ?? [];
      if (!Array.isArray(add) || !Array.isArray(remove) || !isScalarArray(add) || !isScalarArray(remove)) return `invalid ${key}`;
      if (add.length > maxArray) return `too many array elements in ${key}`;
      return { key, op: 'add_remove', add, remove };
    }
    return checkNested(key, v);
  }
  return `invalid ${key}`;
}

function checkNested(key: string, v: unknown): CustomAttributeOp | string {
  const shape = measureJson(v, NESTED_ATTRIBUTE_MAX_BYTES, MAX_NESTING);
  if (shape.depth > MAX_NESTING) return `invalid ${key}`;
  if (shape.bytes > NESTED_ATTRIBUTE_MAX_BYTES) return `properties too large`;
  return { key, op: 'set', value: v };
}

export function checkAttributes(raw: unknown, maxArray: number): Checked<AttributesItem> {
  if (!isPlainObject(raw)) return fail('invalid attributes object');
  const target = checkTarget(raw);
  if (!target.ok) return target;
  const standard: Partial<StandardValues> = {};
  const custom: CustomAttributeOp[] = [];
  const emailIsIdentifier = target.value.identifier.kind === 'email';
  for (const [key, v] of Object.entries(raw)) {
    if (IDENTIFIER_KEYS.has(key)) continue;
    if (key === 'email' && emailIsIdentifier) continue;
    if (Object.hasOwn(STANDARD_RULES, key)) {
      const stored = STANDARD_RULES[key as StandardField](v);
      if (stored === undefined) return fail(`invalid ${key}`);
      standard[key as StandardField] = stored;
      continue;
    }
    if (!isAttributeKey(key)) return fail(`invalid attribute key ${key.slice(0, 300)}`);
    const op = checkCustomAttribute(key, v, maxArray);
    if (typeof op === 'string') return fail(op);
    custom.push(op);
  }
  const { identifier, updateExistingOnly } = target.value;
  return { ok: true, value: { identifier, updateExistingOnly, standard, custom } };
}

const RESERVED_PROPERTY_KEYS = new Set(['time', 'event_name']);

function checkProperties(v: unknown, maxBytes: number): Checked<Record<string, unknown> | undefined> {
  if (v === undefined || v === null) return { ok: true, value: undefined };
  if (!isPlainObject(v)) return fail('invalid properties');
  for (const key in v) {
    if (!Object.hasOwn(v, key)) continue;
    const value = v[key];
    if (!isAttributeKey(key)) return fail(`invalid properties.${key.slice(0, 300)}`);
    if (RESERVED_PROPERTY_KEYS.has(key)) return fail(`reserved property key ${key}`);
    if (typeof value === 'string' && value.length > MAX_STRING) return fail(`invalid properties.${key}`);
    if (typeof value === 'number' && !Number.isFinite(value)) return fail(`invalid properties.${key}`);
    if (Array.isArray(value) && value.some((x) => typeof x === 'string' && isDateTimeString(x))) {
      return fail(`invalid properties.${key}`);
    }
  }
  const shape = measureJson(v, maxBytes, MAX_NESTING);
  if (shape.depth > MAX_NESTING) return fail('invalid properties');
  if (shape.bytes > maxBytes) return fail('properties too large');
  return { ok: true, value: v };
}

/** Event and purchase times: a future time becomes the time of receipt; before 1970 is an error. */
function checkEventTime(v: unknown, nowMs: number): number | undefined {
  const ms = parseTime(v);
  if (ms === undefined || ms < MIN_TIME_MS) return undefined;
  return Math.min(ms, nowMs);
}

function checkAppId(v: unknown): Checked<string | undefined> {
  if (v === undefined || v === null) return { ok: true, value: undefined };
  return isShortString(v) ? { ok: true, value: v } : fail('invalid app_id');
}

export function checkEvent(raw: unknown, nowMs: number): Checked<EventItem> {
  if (!isPlainObject(raw)) return fail('invalid event object');
  const target = checkTarget(raw);
  if (!target.ok) return target;
  if (!isShortString(raw.name)) return fail('invalid name');
  const appId = checkAppId(raw.app_id);
  if (!appId.ok) return appId;
  const timeMs = checkEventTime(raw.time, nowMs);
  if (timeMs === undefined) return fail('invalid time');
  const props = checkProperties(raw.properties, EVENT_PROPERTIES_MAX_BYTES);
  if (!props.ok) return props;
  const { identifier, updateExistingOnly } = target.value;
  return { ok: true, value: { identifier, updateExistingOnly, appId: appId.value, name: raw.name, timeMs, properties: props.value } };
}

const currencies = new Set(Intl.supportedValuesOf('currency'));

export function checkPurchase(raw: unknown, nowMs: number): Checked<PurchaseItem> {
  if (!isPlainObject(raw)) return fail('invalid purchase object');
  const target = checkTarget(raw);
  if (!target.ok) return target;
  if (!isShortString(raw.product_id)) return fail('invalid product_id');
  if (typeof raw.currency !== 'string' || !/^[A-Za-z]{3}$/.test(raw.currency) || !currencies.has(raw.currency.toUpperCase())) {
    return fail('invalid currency');
  }
  if (typeof raw.price !== 'number' || !Number.isFinite(raw.price)) return fail('invalid price');
  const quantity = raw.quantity ?? 1;
  if (!Number.isInteger(quantity) || (quantity as number) < 1 || (quantity as number) > 100) return fail('invalid quantity');
  const appId = checkAppId(raw.app_id);
  if (!appId.ok) return appId;
  const timeMs = checkEventTime(raw.time, nowMs);
  if (timeMs === undefined) return fail('invalid time');
  const props = checkProperties(raw.properties, PURCHASE_PROPERTIES_MAX_BYTES);
  if (!props.ok) return props;
  const { identifier, updateExistingOnly } = target.value;
  return {
    ok: true,
    value: {
      identifier,
      updateExistingOnly,
      appId: appId.value,
      productId: raw.product_id,
      currency: raw.currency.toUpperCase(),
      price: raw.price,
      quantity: quantity as number,
      timeMs,
      properties: props.value,
    },
  };
}
