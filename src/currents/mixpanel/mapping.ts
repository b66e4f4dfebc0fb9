/**
 * Maps a stored Currents event to the event Mixpanel's `/import` receives (docs/reference/currents.md §2): the
 * skip rules in their fixed order, the payload shape, and the dead-letter pre-check. Pure, so the
 * delivery loop, backfill, dead-letter re-send and the dashboard preview all produce the same bytes.
 */
import { isSelectableType, type CurrentsEvent } from '../../events/index.js';
import { mixpanelEventName } from './event-names.js';
import { insertIdFor, isDisallowedIdValue } from './insert-id.js';
import {
  EVENT_BYTES_LIMIT,
  fitToMixpanelLimits,
  listTooLarge,
  mixpanelLimitViolation,
  PROPERTY_COUNT_LIMIT,
  textTooLong,
  valueNeedsFit,
  type FitChanges,
  type MixpanelLimitRule,
} from './limits.js';

export type { MixpanelEvent } from './event.js';
import type { MixpanelEvent } from './event.js';

export const DEFAULT_PARTNER_ID = 'rivulet';
/** 2010-01-01T00:00:00Z: nothing earlier is exported (docs/reference/cohort-import.md §7). */
export const EXPORT_CUTOFF_SECONDS = 1262304000;

export interface MixpanelMappingSettings {
  /** The connector's chosen event types. Legacy types are never selected, whatever this holds. */
  selectedTypes: ReadonlySet<string>;
  /** The connector's project token, sent as `token`. */
  token: string;
  /** `$partner_id`; defaults to `"rivulet"`. */
  partnerId?: string | undefined;
}

export type SkipReason = 'not_selected' | 'no_external_user_id' | 'invalid_distinct_id' | 'before_2010';
export type DeadLetterReason = `invalid_for_mixpanel: ${MixpanelLimitRule}`;

export type MappingOutcome =
  /** `changes`: what was cut or dropped to fit Mixpanel's limits, by reason; absent when nothing was. */
  | { outcome: 'send'; event: MixpanelEvent; changes?: FitChanges }
  | { outcome: 'skip'; reason: SkipReason }
  | { outcome: 'dead_letter'; reason: DeadLetterReason; event: MixpanelEvent };

/** The first §2.1 skip rule that matches, or `null` when the event is to be mapped. */
export function skipReason(event: CurrentsEvent, settings: Pick<MixpanelMappingSettings, 'selectedTypes'>): SkipReason | null {
  if (!settings.selectedTypes.has(event.event_type) || !isSelectableType(event.event_type)) return 'not_selected';
  const externalId = event.user.external_user_id;
  if (externalId === undefined || externalId === null || externalId === '') return 'no_external_user_id';
  if (isDisallowedIdValue(externalId)) return 'invalid_distinct_id';
  if (event.time < EXPORT_CUTOFF_SECONDS) return 'before_2010';
  return null;
}

const NOT_COPIED = new Set(['id', 'time', 'external_user_id', 'user_id', 'timezone', 'device_model', 'os_version']);
/** A Map, not an object: a field named `constructor` or `toString` must not find Object.prototype's. */
const PREFIXED_CONTAINERS: ReadonlyMap<string, string> = new Map([
  ['custom_properties', '[Custom event property] '],
  ['purchase_properties', '[Purchase property] '],
]);

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `target[key] = value` as an own data property, also for `__proto__` (which assignment would take as the prototype). */
function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  else target[key] = value;
}

/**
 * The Mixpanel event for a Currents event that passed `skipReason`. Throws for an event that has
 * no Mixpanel name (unknown or legacy type): such an event must have been skipped.
 */
export function toMixpanelEvent(event: CurrentsEvent, settings: Pick<MixpanelMappingSettings, 'token' | 'partnerId'>): MixpanelEvent {
  const name = mixpanelEventName(event);
  if (name === null) throw new Error(`event type ${event.event_type} is never exported`);
  const source = event.properties;
  const properties: Record<string, unknown> = {
    distinct_id: event.user.external_user_id,
    $insert_id: insertIdFor(event.id),
    time: event.time,
    token: settings.token,
    $partner_id: settings.partnerId ?? DEFAULT_PARTNER_ID,
  };
  if (source['device_model'] != null) properties['$device'] = source['device_model'];
  if (source['os_version'] != null) properties['$os'] = source['os_version'];
  if (event.user.device_id != null) properties['device_id'] = event.user.device_id;
  for (const [key, value] of Object.entries(source)) {
    if (value === null || value === undefined || NOT_COPIED.has(key)) continue;
    const prefix = PREFIXED_CONTAINERS.get(key);
    if (prefix === undefined) {
      setOwn(properties, key, value);
    } else if (isPlainObject(value)) {
      for (const [inner, innerValue] of Object.entries(value)) properties[prefix + inner] = innerValue;
    }
  }
  return { event: name, properties };
}

const hasChanges = (changes: FitChanges): boolean => Object.keys(changes).length > 0;

/**
 * Skip, map and fit one event to Mixpanel's limits: what the export does with it. Fitting leaves
 * every event within the limits; the dead-letter outcome remains only as a guard, should a fitted
 * event still break one.
 */
export function mapCurrentsEvent(event: CurrentsEvent, settings: MixpanelMappingSettings): MappingOutcome {
  const reason = skipReason(event, settings);
  if (reason) return { outcome: 'skip', reason };
  const { event: mapped, changes } = fitToMixpanelLimits(toMixpanelEvent(event, settings));
  const rule = mixpanelLimitViolation(mapped);
  if (rule) return { outcome: 'dead_letter', reason: `invalid_for_mixpanel: ${rule}`, event: mapped };
  return hasChanges(changes) ? { outcome: 'send', event: mapped, changes } : { outcome: 'send', event: mapped };
}

export type SerializedOutcome =
  | { outcome: 'send'; insertId: string; json: string; bytes: number; changes?: FitChanges }
  | { outcome: 'skip'; reason: SkipReason }
  | { outcome: 'dead_letter'; reason: DeadLetterReason; event: MixpanelEvent; insertId: string; json: string; bytes: number };

/**
 * `mapCurrentsEvent` for the export's hot path: the same outcome, with the event serialized once.
 * The text is exactly `JSON.stringify` of `mapCurrentsEvent`'s event (mapping.test.ts checks it
 * against that over the golden events and generated ones); for almost every event, one that needs
 * no fitting, it is written directly (`serializeDirect`), without building the object.
 */
export function mapForImport(event: CurrentsEvent, settings: MixpanelMappingSettings): SerializedOutcome {
  const reason = skipReason(event, settings);
  if (reason) return { outcome: 'skip', reason };
  const direct = serializeDirect(event, settings);
  if (direct !== null) {
    const bytes = Buffer.byteLength(direct.json);
    // The writer vouched for every other limit; these two it could only count.
    if (direct.properties < PROPERTY_COUNT_LIMIT && bytes < EVENT_BYTES_LIMIT) return { outcome: 'send', insertId: direct.insertId, json: direct.json, bytes };
  }
  const { event: mapped, changes } = fitToMixpanelLimits(toMixpanelEvent(event, settings));
  const json = JSON.stringify(mapped);
  const bytes = Buffer.byteLength(json);
  const insertId = mapped.properties['$insert_id'] as string;
  const rule = mixpanelLimitViolation(mapped, bytes);
  if (rule) return { outcome: 'dead_letter', reason: `invalid_for_mixpanel: ${rule}`, event: mapped, insertId, json, bytes };
  return hasChanges(changes) ? { outcome: 'send', insertId, json, bytes, changes } : { outcome: 'send', insertId, json, bytes };
}

// ---------------------------------------------------------------------------------------------
// The direct writer
// ---------------------------------------------------------------------------------------------

/** Keys `toMixpanelEvent` writes before the event's own fields: a field of that name would be merged into them. */
const HEAD_KEYS = new Set(['distinct_id', '$insert_id', 'time', 'token', '$partner_id', '$device', '$os']);
const MAX_CACHED_KEYS = 4096;

/** `"key":` for a property name, cached: the same few dozen names come back in every event. */
class QuotedKeys {
  private readonly cache = new Map<string, string>();
  constructor(private readonly prefix = '') {}
  get(key: string): string {
    let quoted = this.cache.get(key);
    if (quoted === undefined) {
      quoted = `${JSON.stringify(this.prefix + key)}:`;
      if (this.cache.size < MAX_CACHED_KEYS) this.cache.set(key, quoted);
    }
    return quoted;
  }
}

const topKeys = new QuotedKeys();
const prefixedKeys = new Map([...PREFIXED_CONTAINERS].map(([container, prefix]) => [container, new QuotedKeys(prefix)]));
/** `,"token":…,"$partner_id":…` of a settings object. */
const settingsText = new WeakMap<object, { token: string; partnerId: string; text: string }>();
/** `{"event":"<name>","properties":{"distinct_id":` of an event name. */
const openings = new Map<string, string>();

function openingFor(name: string): string {
  let opening = openings.get(name);
  if (opening === undefined) {
    opening = `{"event":${JSON.stringify(name)},"properties":{"distinct_id":`;
    if (openings.size < MAX_CACHED_KEYS) openings.set(name, opening);
  }
  return opening;
}

interface DirectText {
  json: string;
  insertId: string;
  /** Keys of `properties`. */
  properties: number;
}

/**
 * `JSON.stringify(toMixpanelEvent(event, settings))` written key by key, or `null` for an event
 * whose object form would not simply list its keys in the order written: a field named like one of
 * the head keys (it would overwrite it in place), an integer-like name (objects list those first),
 * `__proto__`, a name that could equal a prefixed one, or values that are not plain data. Such
 * events (none that the catalogue's validation lets in) take the general path, and so does an event
 * that needs fitting to a limit other than the property count and size (`fitToMixpanelLimits`):
 * a long name or string, a list too long or too large, nesting too deep.
 */
function serializeDirect(event: CurrentsEvent, settings: Pick<MixpanelMappingSettings, 'token' | 'partnerId'>): DirectText | null {
  const name = mixpanelEventName(event);
  if (name === null) throw new Error(`event type ${event.event_type} is never exported`);
  if (textTooLong(name)) return null;
  const { user, properties: source, id, time } = event;
  const externalId = user.external_user_id;
  if (typeof externalId !== 'string' || typeof id !== 'string' || typeof time !== 'number' || !Number.isFinite(time)) return null;
  const partnerId = settings.partnerId ?? DEFAULT_PARTNER_ID;
  if (typeof settings.token !== 'string' || typeof partnerId !== 'string' || textTooLong(partnerId)) return null;
  let cached = settingsText.get(settings);
  if (cached === undefined || cached.token !== settings.token || cached.partnerId !== partnerId) {
    cached = { token: settings.token, partnerId, text: `,"token":${JSON.stringify(settings.token)},"$partner_id":${JSON.stringify(partnerId)}` };
    settingsText.set(settings, cached);
  }
  const tail = cached.text;
  // Letters, digits and '-' only (insert-id.ts): nothing to escape.
  const insertId = insertIdFor(id);
  let json = `${openingFor(name)}${JSON.stringify(externalId)},"$insert_id":"${insertId}","time":${String(time)}${tail}`;
  let count = 5;
  /** Writes one property; `false` when the value is not plain data or needs fitting. */
  const add = (quotedKey: string, value: unknown): boolean => {
    const text = JSON.stringify(value);
    if (text === undefined) return false;
    if (typeof value === 'string' ? textTooLong(value) : typeof value === 'object' && value !== null && (valueNeedsFit(value) || listTooLarge(value, text))) return false;
    json += `,${quotedKey}${text}`;
    count += 1;
    return true;
  };
  const deviceModel = source['device_model'];
  if (deviceModel != null && !add('"$device":', deviceModel)) return null;
  const osVersion = source['os_version'];
  if (osVersion != null && !add('"$os":', osVersion)) return null;
  const userDevice = user.device_id;
  if (userDevice != null && !add('"device_id":', userDevice)) return null;
  for (const key of Object.keys(source)) {
    const value = source[key];
    if (value === null || value === undefined || NOT_COPIED.has(key)) continue;
    const first = key.charCodeAt(0);
    if (HEAD_KEYS.has(key) || (key === 'device_id' && userDevice != null) || key === '__proto__' || (first >= 48 && first <= 57) || first === 91) return null;
    const prefix = PREFIXED_CONTAINERS.get(key);
    if (prefix === undefined) {
      if (textTooLong(key) || !add(topKeys.get(key), value)) return null;
    } else if (typeof prefix !== 'string') {
      return null;
    } else if (isPlainObject(value)) {
      const keys = prefixedKeys.get(key)!;
      for (const inner of Object.keys(value)) if (((prefix.length + inner.length) * 3 > 255 && textTooLong(prefix + inner)) || !add(keys.get(inner), value[inner])) return null;
    }
  }
  return { json: `${json}}}`, insertId, properties: count };
}

