/**
 * Mixpanel's per-event limits as the emulator enforces them (docs/reference/mixpanel-apis.md §3), with the
 * emulator's failure messages. Written independently of the exporter's pre-validation on purpose:
 * the emulator is the check on the exporter.
 */

export const EVENT_BYTES_LIMIT = 1_048_576;
export const PROPERTY_COUNT_LIMIT = 255;
export const OBJECT_KEYS_LIMIT = 255;
export const ARRAY_ELEMENTS_LIMIT = 255;
export const MAX_DEPTH = 3;

export interface LimitFailure {
  field: string;
  message: string;
}

const invalid = (field: string, limit: string): LimitFailure => ({ field, message: `'properties' is invalid: ${limit}` });

/** Depth counts the objects and arrays that enclose a value, the property's own value being 1. */
function nestedFailure(value: unknown, depth: number): string | null {
  if (typeof value !== 'object' || value === null) return null;
  if (depth > MAX_DEPTH) return `nesting must be at most ${MAX_DEPTH} levels deep`;
  if (Array.isArray(value)) {
    if (value.length >= ARRAY_ELEMENTS_LIMIT) return `arrays must have fewer than ${ARRAY_ELEMENTS_LIMIT} elements`;
    for (const item of value) {
      const failure = nestedFailure(item, depth + 1);
      if (failure) return failure;
    }
    return null;
  }
  const keys = Object.keys(value);
  if (keys.length >= OBJECT_KEYS_LIMIT) return `nested objects must have fewer than ${OBJECT_KEYS_LIMIT} keys`;
  for (const key of keys) {
    const failure = nestedFailure((value as Record<string, unknown>)[key], depth + 1);
    if (failure) return failure;
  }
  return null;
}

/** The first limit the record breaks, or `null`. `serializedBytes` is the record's JSON size. */
export function limitFailure(properties: Record<string, unknown>, serializedBytes: number): LimitFailure | null {
  const keys = Object.keys(properties);
  if (keys.length >= PROPERTY_COUNT_LIMIT) return invalid('properties', `must have fewer than ${PROPERTY_COUNT_LIMIT} properties`);
  if (serializedBytes >= EVENT_BYTES_LIMIT) return invalid('properties', `event must be under ${EVENT_BYTES_LIMIT} bytes of JSON`);
  for (const key of keys) {
    const failure = nestedFailure(properties[key], 1);
    if (failure) return invalid(`properties.${key}`, failure);
  }
  return null;
}
