/**
 * Pre-validation of a mapped event against Mixpanel's per-event limits (docs/reference/currents.md §2.4,
 * docs/reference/mixpanel-apis.md §3). An event that would fail at Mixpanel is dead-lettered before it is sent,
 * instead of failing a batch. Deliberately independent of the emulator's own validation: the
 * emulator checks the exporter, so the two must not share code.
 */

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
