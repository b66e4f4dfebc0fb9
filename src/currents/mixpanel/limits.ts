/**
 * Mixpanel's per-event limits (docs/reference/currents.md §2.4, docs/reference/mixpanel-apis.md §3): the check
 * of a mapped event, and the fitting that brings any event within them before it is sent, counting
 * each change by reason. Deliberately independent of the emulator's own validation: the emulator
 * checks the exporter, so the two must not share code.
 */
import type { MixpanelEvent } from './event.js';

/** Each limit is the first value that fails: "255 or more properties", "1 MiB or more". */
export const PROPERTY_COUNT_LIMIT = 255;
export const EVENT_BYTES_LIMIT = 1024 * 1024;
export const OBJECT_KEYS_LIMIT = 255;
export const ARRAY_ELEMENTS_LIMIT = 255;
/** A property value may hold objects and arrays nested this many levels deep; one more fails. */
export const MAX_NESTING_DEPTH = 3;

export type MixpanelLimitRule = 'too_many_properties' | 'event_too_large' | 'nesting_too_deep' | 'object_too_many_keys' | 'array_too_long';

/** Walks one property value; `level` counts the containers enclosing `value`, itself included. */
function valueViolation(value: unknown, level: number): MixpanelLimitRule | null {
  if (typeof value !== 'object' || value === null) return null;
  if (level > MAX_NESTING_DEPTH) return 'nesting_too_deep';
  const children = Array.isArray(value) ? value : Object.values(value);
  if (Array.isArray(value) && value.length >= ARRAY_ELEMENTS_LIMIT) return 'array_too_long';
  if (!Array.isArray(value) && children.length >= OBJECT_KEYS_LIMIT) return 'object_too_many_keys';
  for (const child of children) {
    const rule = valueViolation(child, level + 1);
    if (rule) return rule;
  }
  return null;
}

/** The first nesting rule a property's value breaks (objects and arrays only), or `null`. */
export function valueRule(value: object): MixpanelLimitRule | null {
  return valueViolation(value, 1);
}

/**
 * The first Mixpanel limit the event breaks, or `null` when it may be sent. A caller that has
 * already serialized the event passes its UTF-8 length, so it is not serialized twice.
 */
export function mixpanelLimitViolation(event: { event: string; properties: Record<string, unknown> }, serializedBytes?: number): MixpanelLimitRule | null {
  if (Object.keys(event.properties).length >= PROPERTY_COUNT_LIMIT) return 'too_many_properties';
  if ((serializedBytes ?? Buffer.byteLength(JSON.stringify(event))) >= EVENT_BYTES_LIMIT) return 'event_too_large';
  for (const value of Object.values(event.properties)) {
    const rule = valueViolation(value, 1);
    if (rule) return rule;
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// Fitting an event to the limits (docs/reference/currents.md §2.4)
// ---------------------------------------------------------------------------------------------

/** Event names, property names (nested keys too) and string values: at most this many UTF-8 bytes. */
export const TEXT_BYTES_LIMIT = 255;
/** A list property: at most this many bytes of JSON (Mixpanel's 8 KB for an event's list property). */
export const LIST_PROPERTY_BYTES_LIMIT = 8192;

/** Why a part of an event was changed to fit; every change is counted under one of these. */
export type MixpanelFitReason =
  | 'event_name_truncated'
  | 'property_name_truncated'
  | 'property_dropped_name_clash'
  | 'string_truncated'
  | 'property_dropped_too_many'
  | 'object_keys_dropped'
  | 'array_elements_dropped'
  | 'nested_value_dropped'
  | 'list_elements_dropped'
  | 'property_dropped_event_size';

export const MIXPANEL_FIT_REASONS: readonly MixpanelFitReason[] = [
  'event_name_truncated',
  'property_name_truncated',
  'property_dropped_name_clash',
  'string_truncated',
  'property_dropped_too_many',
  'object_keys_dropped',
  'array_elements_dropped',
  'nested_value_dropped',
  'list_elements_dropped',
  'property_dropped_event_size',
];

/** Counts of changes by reason; absent reasons did not occur. */
export type FitChanges = Partial<Record<MixpanelFitReason, number>>;

/** Properties the mapping itself sets: never truncated, never dropped (Mixpanel's dedup key and routing). */
const KEPT_AS_IS: ReadonlySet<string> = new Set(['distinct_id', '$insert_id', 'time', 'token']);

/** Whether `s` is over `TEXT_BYTES_LIMIT` UTF-8 bytes; cheap for the usual short string. */
export function textTooLong(s: string): boolean {
  return s.length * 3 > TEXT_BYTES_LIMIT && Buffer.byteLength(s) > TEXT_BYTES_LIMIT;
}

/** The longest prefix of `s` of at most `TEXT_BYTES_LIMIT` UTF-8 bytes that splits no character. */
export function truncateText(s: string): string {
  if (!textTooLong(s)) return s;
  let bytes = 0;
  let end = 0;
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    const size = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    if (bytes + size > TEXT_BYTES_LIMIT) break;
    bytes += size;
    end += ch.length;
  }
  return s.slice(0, end);
}

/** Sets an own enumerable key, `__proto__` included (plain assignment would set the prototype). */
function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  else target[key] = value;
}

/**
 * Whether a property value (at `level`, the property's own value being 1) breaks any limit the
 * fitting repairs: nesting, element and key counts, long strings or keys. Allocates nothing.
 */
export function valueNeedsFit(value: unknown, level = 1): boolean {
  if (typeof value === 'string') return textTooLong(value);
  if (typeof value !== 'object' || value === null) return false;
  if (level > MAX_NESTING_DEPTH) return true;
  if (Array.isArray(value)) {
    if (value.length >= ARRAY_ELEMENTS_LIMIT) return true;
    for (const item of value) if (valueNeedsFit(item, level + 1)) return true;
    return false;
  }
  let n = 0;
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue;
    if (++n >= OBJECT_KEYS_LIMIT || textTooLong(key)) return true;
    if (valueNeedsFit((value as Record<string, unknown>)[key], level + 1)) return true;
  }
  return false;
}

/** Whether a list property's JSON (`json`, already written) is over the list limit. */
export function listTooLarge(value: unknown, json: string): boolean {
  return Array.isArray(value) && json.length * 3 > LIST_PROPERTY_BYTES_LIMIT && Buffer.byteLength(json) > LIST_PROPERTY_BYTES_LIMIT;
}

const DROP = Symbol('drop');

class Fitter {
  readonly changes: FitChanges = {};
  count(reason: MixpanelFitReason, n = 1): void {
    this.changes[reason] = (this.changes[reason] ?? 0) + n;
  }

  text(s: string, reason: MixpanelFitReason): string {
    const t = truncateText(s);
    if (t !== s) this.count(reason);
    return t;
  }

  /** The value within the limits, or DROP for a container nested too deep. */
  value(value: unknown, level: number): unknown {
    if (typeof value === 'string') return this.text(value, 'string_truncated');
    if (typeof value !== 'object' || value === null) return value;
    if (level > MAX_NESTING_DEPTH) return DROP;
    if (!valueNeedsFit(value, level)) return value;
    if (Array.isArray(value)) {
      let items = value;
      if (items.length >= ARRAY_ELEMENTS_LIMIT) {
        items = items.slice(0, ARRAY_ELEMENTS_LIMIT - 1);
        this.count('array_elements_dropped');
      }
      const out: unknown[] = [];
      for (const item of items) {
        const fitted = this.value(item, level + 1);
        if (fitted === DROP) this.count('nested_value_dropped');
        else out.push(fitted);
      }
      return out;
    }
    const out: Record<string, unknown> = {};
    let kept = 0;
    let droppedKeys = false;
    for (const [key, inner] of Object.entries(value)) {
      if (kept >= OBJECT_KEYS_LIMIT - 1) {
        droppedKeys = true;
        continue;
      }
      const name = this.text(key, 'property_name_truncated');
      if (Object.hasOwn(out, name)) {
        this.count('property_dropped_name_clash');
        continue;
      }
      const fitted = this.value(inner, level + 1);
      if (fitted === DROP) {
        this.count('nested_value_dropped');
        continue;
      }
      setOwn(out, name, fitted);
      kept += 1;
    }
    if (droppedKeys) this.count('object_keys_dropped');
    return out;
  }

  /** Drops trailing elements of a list property until its JSON is within the list limit. */
  list(value: unknown): unknown {
    if (!Array.isArray(value)) return value;
    const json = JSON.stringify(value);
    if (!listTooLarge(value, json)) return value;
    // Keep the longest prefix whose JSON fits: `[` + items joined by `,` + `]`.
    let bytes = 2;
    let keep = 0;
    for (const item of value) {
      const size = Buffer.byteLength(JSON.stringify(item) ?? 'null') + (keep > 0 ? 1 : 0);
      if (bytes + size > LIST_PROPERTY_BYTES_LIMIT) break;
      bytes += size;
      keep += 1;
    }
    this.count('list_elements_dropped');
    return value.slice(0, keep);
  }
}

/**
 * The event within every limit Rivulet applies before sending (docs/reference/currents.md §2.4), and
 * the changes it took, counted by reason. The event is never lost: what cannot be kept is cut (the
 * end of a name or string, the last elements of a list) or dropped (a property, a key, a value
 * nested too deep), and the mapping's own properties are left as they are. Returns the same object
 * when nothing had to change.
 */
export function fitToMixpanelLimits(event: MixpanelEvent): { event: MixpanelEvent; changes: FitChanges } {
  const fitter = new Fitter();
  const name = fitter.text(event.event, 'event_name_truncated');
  const properties: Record<string, unknown> = {};
  let count = 0;
  let changed = name !== event.event;
  for (const [key, value] of Object.entries(event.properties)) {
    if (KEPT_AS_IS.has(key)) {
      setOwn(properties, key, value);
      count += 1;
      continue;
    }
    if (count >= PROPERTY_COUNT_LIMIT - 1) {
      fitter.count('property_dropped_too_many');
      changed = true;
      continue;
    }
    const propertyName = fitter.text(key, 'property_name_truncated');
    if (Object.hasOwn(properties, propertyName)) {
      fitter.count('property_dropped_name_clash');
      changed = true;
      continue;
    }
    let fitted = fitter.value(value, 1);
    if (fitted === DROP) {
      // Only a container can be too deep, and a property's own value is level 1: unreachable.
      fitter.count('nested_value_dropped');
      changed = true;
      continue;
    }
    fitted = fitter.list(fitted);
    if (fitted !== value || propertyName !== key) changed = true;
    setOwn(properties, propertyName, fitted);
    count += 1;
  }
  let out: MixpanelEvent = changed ? { event: name, properties } : event;
  // Under 1 MiB: drop the largest droppable properties until the event fits.
  let bytes = Buffer.byteLength(JSON.stringify(out));
  if (bytes >= EVENT_BYTES_LIMIT) {
    if (!changed) out = { event: name, properties };
    const sizes = Object.keys(out.properties)
      .filter((k) => !KEPT_AS_IS.has(k))
      .map((k) => ({ k, size: Buffer.byteLength(JSON.stringify(k)) + 2 + Buffer.byteLength(JSON.stringify(out.properties[k]) ?? '') }))
      .sort((a, b) => b.size - a.size);
    for (const { k, size } of sizes) {
      if (bytes < EVENT_BYTES_LIMIT) break;
      delete out.properties[k];
      bytes -= size;
      fitter.count('property_dropped_event_size');
    }
  }
  return { event: out, changes: fitter.changes };
}
