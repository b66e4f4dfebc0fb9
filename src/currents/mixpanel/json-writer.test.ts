/**
 * The export's hot path writes each Mixpanel event's JSON by hand (`mapForImport`). mapping.test.ts
 * checks it against `JSON.stringify` of the mapped object; this file checks both against an oracle
 * that does not share their code: parse the text back with `JSON.parse` and compare, key by key,
 * with what docs/reference/currents.md §2.2 says the properties are, for arbitrary property names,
 * including those an object literal or `obj[key] = …` mishandles (`constructor`, `__proto__`,
 * `toString`, `hasOwnProperty`, integer-like names).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CURRENTS_EVENT_TYPES, type CurrentsEvent } from '../../events/catalogue.js';
import { insertIdFor } from './insert-id.js';
import { mixpanelLimitViolation } from './limits.js';
import { mapForImport, toMixpanelEvent, type MixpanelMappingSettings } from './mapping.js';

const SETTINGS: MixpanelMappingSettings = { selectedTypes: new Set(CURRENTS_EVENT_TYPES), token: 'tok' };
const T = 1_700_000_000;
const NOT_COPIED = new Set(['id', 'time', 'external_user_id', 'user_id', 'timezone', 'device_model', 'os_version']);
const PREFIXES: Record<string, string> = { custom_properties: '[Custom event property] ', purchase_properties: '[Purchase property] ' };
const PROTOTYPE_NAMES = ['constructor', '__proto__', 'toString', 'valueOf', 'hasOwnProperty', 'isPrototypeOf', '__defineGetter__'];

/** What a JSON round trip makes of a value (-0 → 0, undefined entries dropped). */
const viaJson = (v: unknown): unknown => JSON.parse(JSON.stringify(v));

/** The §2.2 properties of `event` as [name, value] pairs, later writes replacing earlier ones. */
function expectedProperties(event: CurrentsEvent): Map<string, unknown> {
  const out = new Map<string, unknown>([
    ['distinct_id', event.user.external_user_id],
    ['$insert_id', insertIdFor(event.id)],
    ['time', event.time],
    ['token', SETTINGS.token],
    ['$partner_id', 'rivulet'],
  ]);
  const source = event.properties;
  const own = (k: string) => (Object.prototype.hasOwnProperty.call(source, k) ? source[k] : undefined);
  if (own('device_model') != null) out.set('$device', own('device_model'));
  if (own('os_version') != null) out.set('$os', own('os_version'));
  if (event.user.device_id != null) out.set('device_id', event.user.device_id);
  for (const key of Object.keys(source)) {
    const value = source[key];
    if (value === null || value === undefined || NOT_COPIED.has(key)) continue;
    const prefix = Object.prototype.hasOwnProperty.call(PREFIXES, key) ? PREFIXES[key] : undefined;
    if (prefix === undefined) out.set(key, value);
    else if (typeof value === 'object' && !Array.isArray(value)) {
      for (const inner of Object.keys(value)) {
        const innerValue = (value as Record<string, unknown>)[inner];
        if (innerValue !== undefined) out.set(prefix + inner, innerValue);
      }
    }
  }
  return new Map([...out].map(([k, v]) => [k, viaJson(v)]));
}

function check(event: CurrentsEvent): void {
  const outcome = mapForImport(event, SETTINGS);
  if (outcome.outcome === 'skip') return;
  expect(outcome.json).toBe(JSON.stringify(toMixpanelEvent(event, SETTINGS)));
  const parsed = JSON.parse(outcome.json) as { event: unknown; properties: Record<string, unknown> };
  expect(new Map(Object.entries(parsed.properties))).toEqual(expectedProperties(event));
}

const custom = (properties: Record<string, unknown>): CurrentsEvent =>
  JSON.parse(
    JSON.stringify({ event_type: 'users.behaviors.CustomEvent', id: 'e1', time: T, user: { user_id: 'b', external_user_id: 'u1' }, properties: { name: 'n', ...properties } }),
  ) as CurrentsEvent;

describe('the Mixpanel JSON writer against JSON.parse', () => {
  it('keeps a property named like a member of Object.prototype, as a value and as a container', () => {
    for (const name of PROTOTYPE_NAMES) {
      for (const value of ['x', 1, { a: 1 }, [1, 2], true]) {
        // `{ [name]: value }` would set the prototype for __proto__; parse it from text instead.
        const properties = JSON.parse(`{${JSON.stringify(name)}:${JSON.stringify(value)}}`) as Record<string, unknown>;
        const event = custom(properties);
        check(event);
        const sent = JSON.parse((mapForImport(event, SETTINGS) as { json: string }).json) as { properties: Record<string, unknown> };
        expect(Object.prototype.hasOwnProperty.call(sent.properties, name)).toBe(true);
        expect(sent.properties[name]).toEqual(value);
      }
      check(custom({ custom_properties: JSON.parse(`{${JSON.stringify(name)}:"inner"}`) }));
    }
  });

  it('agrees with the oracle for arbitrary events', () => {
    const key = fc.oneof(
      fc.constantFrom(...PROTOTYPE_NAMES, 'device_id', 'device_model', 'os_version', 'token', 'distinct_id', '0', '12', 'custom_properties', 'purchase_properties', '[Custom event property] a'),
      fc.string({ maxLength: 6 }),
    );
    const value = fc.jsonValue({ maxDepth: 3 });
    const event = fc.record({
      event_type: fc.constantFrom(...CURRENTS_EVENT_TYPES),
      id: fc.oneof(fc.uuid(), fc.string({ minLength: 1, maxLength: 40 })),
      time: fc.integer({ min: 1_262_304_000, max: 2 * T }),
      user: fc.record({
        user_id: fc.string({ maxLength: 4 }),
        external_user_id: fc.string({ minLength: 1, maxLength: 8 }),
        device_id: fc.option(fc.string({ maxLength: 4 }), { nil: undefined }),
      }),
      properties: fc.dictionary(key, fc.oneof(value, fc.dictionary(key, value, { maxKeys: 4 })), { maxKeys: 8 }),
    });
    fc.assert(
      fc.property(event, (e) => {
        const parsed = JSON.parse(JSON.stringify(e)) as CurrentsEvent;
        // An event over one of Mixpanel's limits is fitted before it is written (fit.test.ts covers
        // that); the writer's own contract is agreement with JSON.stringify on events within them.
        if (mapForImport(parsed, SETTINGS).outcome !== 'skip') fc.pre(mixpanelLimitViolation(toMixpanelEvent(parsed, SETTINGS)) === null);
        check(parsed);
      }),
      { numRuns: 1000 },
    );
  });
});
