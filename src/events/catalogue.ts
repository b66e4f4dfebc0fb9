/**
 * The Currents event catalogue (docs/reference/currents.md §1): every event type Rivulet accepts,
 * its category and its field schema. The publish API, the core's event builders, the Mixpanel
 * mapping and the connector form all read this one table, so a type or a field exists here or
 * nowhere. It is platform-neutral: what a destination calls an event is the destination's
 * (src/currents/mixpanel/event-names.ts for Mixpanel).
 * The rows themselves live in `catalogue-rows.ts`, in the reference's notation.
 */
import { CATALOGUE_TABLES, FIELD_GROUPS, type CatalogueRow, type CatalogueTable, type EventCategory, type MessageChannel } from './catalogue-rows.js';

export type FieldType = 'string' | 'int' | 'float' | 'boolean' | 'object' | 'array<string>' | 'array<string?>';

/** Where a field sits in the Currents HTTP envelope (docs/reference/currents.md §4). */
export type FieldPlacement = 'top' | 'user' | 'properties';

export interface FieldSpec {
  type: FieldType;
  nullable: boolean;
  placement: FieldPlacement;
}

export type { EventCategory, MessageChannel } from './catalogue-rows.js';

export interface EventTypeSpec {
  /** The full type string, e.g. `users.messages.email.Send`. */
  type: string;
  category: EventCategory;
  /** Set for message types only. */
  channel: MessageChannel | null;
  /** Legacy types are accepted into the log but never selectable and never exported. */
  legacy: boolean;
  /** Field name → schema, in the order the reference lists them (groups first, then other fields). */
  fields: Readonly<Record<string, FieldSpec>>;
}

/** An event in the Currents HTTP format: the publish body item and the event-log record. */
export interface CurrentsEvent {
  event_type: string;
  id: string;
  time: number;
  user: {
    user_id?: string | null;
    external_user_id?: string | null;
    device_id?: string | null;
    timezone?: string | null;
  };
  properties: Record<string, unknown>;
}

const TOP_LEVEL_FIELDS = new Set(['id', 'time', 'event_type']);
/** The `user` block; `device_id` and `timezone` are accepted there on every type (§4). */
export const USER_FIELDS: readonly string[] = ['user_id', 'external_user_id', 'device_id', 'timezone'];
const USER_FIELD_SET = new Set(USER_FIELDS);

export function fieldPlacement(name: string): FieldPlacement {
  if (TOP_LEVEL_FIELDS.has(name)) return 'top';
  if (USER_FIELD_SET.has(name)) return 'user';
  return 'properties';
}

const FIELD_TYPES = new Set<string>(['string', 'int', 'float', 'boolean', 'object', 'array<string>', 'array<string?>']);

function parseFields(list: string, into: Record<string, FieldSpec>): void {
  for (const part of list.split(',')) {
    const item = part.trim();
    if (!item) continue;
    const match = /^([a-z_]+):(.+?)(\?)?$/.exec(item);
    if (!match || !FIELD_TYPES.has(match[2]!)) throw new Error(`catalogue: bad field spec "${item}"`);
    const name = match[1]!;
    // A field in both a group and the other fields takes the other-fields spec, listed last.
    delete into[name];
    into[name] = { type: match[2] as FieldType, nullable: match[3] === '?', placement: fieldPlacement(name) };
  }
}

function buildSpec(table: CatalogueTable, row: CatalogueRow): EventTypeSpec {
  const [suffix, groups, other] = row;
  const fields: Record<string, FieldSpec> = {};
  for (const group of groups.split(' ')) {
    const list = FIELD_GROUPS[group];
    if (list === undefined) throw new Error(`catalogue: unknown group ${group}`);
    parseFields(list, fields);
  }
  parseFields(other, fields);
  return {
    type: table.prefix + suffix,
    category: table.category,
    channel: table.channel,
    legacy: table.legacy === true,
    fields: Object.freeze(fields),
  };
}

const CATALOGUE: ReadonlyMap<string, EventTypeSpec> = new Map(
  CATALOGUE_TABLES.flatMap((table) => table.rows.map((row) => buildSpec(table, row))).map((spec) => [spec.type, Object.freeze(spec)]),
);

/** Every event type of the catalogue, legacy ones included, in the reference's order. */
export const CURRENTS_EVENT_TYPES: readonly string[] = Object.freeze([...CATALOGUE.keys()]);

/** The types a connector may choose: every type except legacy ones. */
export const SELECTABLE_EVENT_TYPES: readonly string[] = Object.freeze(CURRENTS_EVENT_TYPES.filter((t) => !CATALOGUE.get(t)!.legacy));

export function eventTypeSpec(type: string): EventTypeSpec | undefined {
  return CATALOGUE.get(type);
}

export function isKnownEventType(type: unknown): type is string {
  return typeof type === 'string' && CATALOGUE.has(type);
}

export function isSelectableType(type: string): boolean {
  const spec = CATALOGUE.get(type);
  return spec !== undefined && !spec.legacy;
}

export const CUSTOM_EVENT_TYPE = 'users.behaviors.CustomEvent';

/** Braze's Currents drops events larger than 900 KB; the publish API enforces 900 KiB (§4). */
export const MAX_CURRENTS_EVENT_BYTES = 900 * 1024;
/** How far ahead of the server clock an event time may be (§4, ours). */
export const MAX_FUTURE_SECONDS = 3600;
const MAX_ID_CHARS = 128;

export interface CurrentsValidationError {
  type: string;
  /** Dotted path inside the event, `''` for the event itself. */
  path: string;
}

export type CurrentsValidation = { ok: true; event: CurrentsEvent } | { ok: false; errors: CurrentsValidationError[] };

const ENVELOPE_KEYS = new Set(['event_type', 'id', 'time', 'user', 'properties']);
const ANY_TYPE_USER_FIELD: FieldSpec = { type: 'string', nullable: true, placement: 'user' };

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function matchesType(type: FieldType, v: unknown): boolean {
  switch (type) {
    case 'string':
      return typeof v === 'string';
    case 'int':
      return Number.isInteger(v);
    case 'float':
      return typeof v === 'number' && Number.isFinite(v);
    case 'boolean':
      return typeof v === 'boolean';
    case 'object':
      return isPlainObject(v);
    case 'array<string>':
      return Array.isArray(v) && v.every((x) => typeof x === 'string');
    case 'array<string?>':
      return Array.isArray(v) && v.every((x) => x === null || typeof x === 'string');
  }
}

function serializedBytes(v: unknown): number {
  try {
    return Buffer.byteLength(JSON.stringify(v));
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

/**
 * Validates one event of the Currents envelope (docs/reference/currents.md §4) against the catalogue. Pure:
 * the caller supplies the clock. A missing `user.user_id` is accepted on every type because the
 * caller resolves the user afterwards; every other non-nullable field must be present and non-null.
 * On success the event is returned in canonical shape (`user` and `properties` always objects).
 */
export function validateCurrentsEvent(raw: unknown, nowSeconds: number): CurrentsValidation {
  if (!isPlainObject(raw)) return { ok: false, errors: [{ type: 'invalid event', path: '' }] };
  const errors: CurrentsValidationError[] = [];
  const error = (type: string, path: string) => errors.push({ type, path });

  if (serializedBytes(raw) > MAX_CURRENTS_EVENT_BYTES) error('event too large', '');

  const type = raw['event_type'];
  const spec = isKnownEventType(type) ? CATALOGUE.get(type) : undefined;
  if (type === undefined || type === null) error('missing field event_type', 'event_type');
  else if (!spec) error('unknown event_type', 'event_type');
  if (!spec) return { ok: false, errors };

  for (const key of Object.keys(raw)) if (!ENVELOPE_KEYS.has(key)) error(`unknown field ${key}`, key);

  const id = raw['id'];
  if (id === undefined || id === null) error('missing field id', 'id');
  else if (typeof id !== 'string' || id.length === 0 || [...id].length > MAX_ID_CHARS) error('invalid id', 'id');

  const time = raw['time'];
  if (time === undefined || time === null) error('missing field time', 'time');
  else if (!Number.isSafeInteger(time) || (time as number) < 0 || (time as number) > nowSeconds + MAX_FUTURE_SECONDS) {
    error('invalid time', 'time');
  }

  const checkField = (name: string, field: FieldSpec, value: unknown, path: string) => {
    if (value === undefined || value === null) {
      if (!field.nullable && name !== 'user_id') error(`missing field ${name}`, path);
    } else if (!matchesType(field.type, value)) {
      error(`invalid field ${name}`, path);
    }
  };

  const block = (key: 'user' | 'properties'): Record<string, unknown> | null => {
    const value = raw[key];
    if (value === undefined) return {};
    if (isPlainObject(value)) return value;
    error(`invalid field ${key}`, key);
    return null;
  };
  const user = block('user');
  const properties = block('properties');

  if (user) {
    for (const key of Object.keys(user)) if (!USER_FIELD_SET.has(key)) error(`unknown field ${key}`, `user.${key}`);
    for (const name of USER_FIELDS) {
      const field = spec.fields[name] ?? ANY_TYPE_USER_FIELD;
      checkField(name, field, user[name], `user.${name}`);
    }
  }
  if (properties) {
    for (const key of Object.keys(properties)) {
      if (spec.fields[key]?.placement !== 'properties') error(`unknown field ${key}`, `properties.${key}`);
    }
    for (const [name, field] of Object.entries(spec.fields)) {
      if (field.placement === 'properties') checkField(name, field, properties[name], `properties.${name}`);
    }
  }

  if (errors.length > 0 || !user || !properties) return { ok: false, errors };
  return {
    ok: true,
    event: { event_type: spec.type, id: id as string, time: time as number, user: { ...user }, properties: { ...properties } },
  };
}
