/**
 * Mixpanel's `$insert_id` for a Currents event (docs/reference/currents.md §2.3). It is a pure function of the
 * event `id`, so every retry, replay and backfill of an event carries the same key and Mixpanel's
 * dedup absorbs redeliveries.
 */
import { createHash } from 'node:crypto';

/** Values Mixpanel refuses as `distinct_id` or `$insert_id`, compared case-insensitively (docs/reference/mixpanel-apis.md §4). */
export const DISALLOWED_ID_VALUES: ReadonlySet<string> = new Set([
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

export function isDisallowedIdValue(value: string): boolean {
  return DISALLOWED_ID_VALUES.has(value.toLowerCase());
}

/** Rivulet's UUIDv5 namespace for event ids that cannot serve as `$insert_id` as they are (ours). */
export const INSERT_ID_NAMESPACE = 'c31f00a0-63a4-4d42-bfe6-f3a9d91a25b3';

const INSERT_ID_SHAPE = /^[A-Za-z0-9-]{1,36}$/;

export function isUsableInsertId(value: string): boolean {
  return INSERT_ID_SHAPE.test(value) && !isDisallowedIdValue(value);
}

function uuidBytes(uuid: string): Buffer {
  return Buffer.from(uuid.replace(/-/g, ''), 'hex');
}

/** RFC 9562 name-based UUID, version 5 (SHA-1), in lower-case canonical form. */
export function uuidV5(namespace: string, name: string): string {
  const hash = createHash('sha1').update(uuidBytes(namespace)).update(name, 'utf8').digest();
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The event id itself when Mixpanel accepts it, else its UUIDv5 in Rivulet's namespace. */
export function insertIdFor(eventId: string): string {
  return isUsableInsertId(eventId) ? eventId : uuidV5(INSERT_ID_NAMESPACE, eventId);
}
