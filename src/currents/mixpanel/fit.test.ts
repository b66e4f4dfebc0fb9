/**
 * Golden tests of fitting an event to Mixpanel's limits (docs/reference/currents.md §2.4): one per
 * limit, at the edge and past it, each with the changes it counts; then the emulator's independent
 * strict validation (src/emulator/mixpanel/validation.ts) receives every fitted event and accepts it
 * whole, storing exactly what was sent (nothing left for Mixpanel to truncate).
 */
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CurrentsEvent } from '../../events/catalogue.js';
import { buildMixpanelEmulator } from '../../emulator/mixpanel/index.js';
import { checkImportRecord } from '../../emulator/mixpanel/validation.js';
import { fitToMixpanelLimits, LIST_PROPERTY_BYTES_LIMIT, mixpanelLimitViolation, truncateText } from './limits.js';
import { mapCurrentsEvent, mapForImport, type MappingOutcome, type MixpanelEvent } from './mapping.js';

const NOW_S = 1_736_942_400;
const ID = 'a3bb189e-8bf9-3888-9912-ace4e6543002';
const SETTINGS = { selectedTypes: new Set(['users.behaviors.CustomEvent', 'users.behaviors.Purchase']), token: 'tok7' };
const HEAD = { distinct_id: 'u42', $insert_id: ID, time: NOW_S - 60, token: 'tok7', $partner_id: 'rivulet' };
const CUSTOM = '[Braze Custom Event] ';
const PROP = '[Custom event property] ';

const custom = (name: string, customProperties: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): CurrentsEvent => ({
  event_type: 'users.behaviors.CustomEvent',
  id: ID,
  time: NOW_S - 60,
  user: { external_user_id: 'u42' },
  properties: { name, custom_properties: customProperties, ...extra },
});

function sent(event: CurrentsEvent): Extract<MappingOutcome, { outcome: 'send' }> {
  const outcome = mapCurrentsEvent(event, SETTINGS);
  if (outcome.outcome !== 'send') throw new Error(`expected send, got ${JSON.stringify(outcome).slice(0, 200)}`);
  // The hot path writes the same bytes and reports the same changes.
  const fast = mapForImport(event, SETTINGS);
  expect(fast).toMatchObject({ outcome: 'send', json: JSON.stringify(outcome.event) });
  expect(fast.outcome === 'send' ? fast.changes : undefined).toEqual(outcome.changes);
  expect(mixpanelLimitViolation(outcome.event)).toBeNull();
  return outcome;
}

const bytes = (s: string) => Buffer.byteLength(s);
/** Every fitted event of the golden cases, for the emulator at the end. */
const fittedEvents: MixpanelEvent[] = [];
function fitted(event: CurrentsEvent) {
  const outcome = sent(event);
  fittedEvents.push(outcome.event);
  return outcome;
}

describe('text: event names, property names and string values are at most 255 UTF-8 bytes', () => {
  it('keeps 255 bytes, and cuts at a character, never inside one', () => {
    expect(truncateText('a'.repeat(255))).toBe('a'.repeat(255));
    expect(truncateText('a'.repeat(256))).toBe('a'.repeat(255));
    expect(truncateText('é'.repeat(200))).toBe('é'.repeat(127)); // 254 bytes: a 128th would make 256
    expect(truncateText('😀'.repeat(100))).toBe('😀'.repeat(63)); // 252 bytes
    expect(truncateText(`${'a'.repeat(254)}😀`)).toBe('a'.repeat(254));
  });

  it('event name: a custom event of 276 characters keeps its prefix and the start of its name', () => {
    const name = 'n'.repeat(255);
    const out = fitted(custom(name));
    expect(out.event.event).toBe(CUSTOM + 'n'.repeat(255 - CUSTOM.length));
    expect(out.event.properties['name']).toBe(name.slice(0, 255));
    expect(out.changes).toEqual({ event_name_truncated: 1 });
    // At the limit: nothing changes.
    const edge = sent(custom('n'.repeat(255 - CUSTOM.length)));
    expect(edge.event.event).toHaveLength(255);
    expect(edge.changes).toBeUndefined();
  });

  it('event name with multi-byte characters: cut by bytes, whole characters', () => {
    const out = fitted(custom('é'.repeat(200)));
    expect(out.event.event).toBe(CUSTOM + 'é'.repeat(117)); // 21 + 234 bytes
    expect(out.changes).toEqual({ event_name_truncated: 1, string_truncated: 1 });
  });

  it('property name: a 274-character prefixed key keeps its prefix; two that become equal keep the first', () => {
    const long = 'k'.repeat(250);
    const out = fitted(custom('p', { [long]: 1, [`${long}-second`]: 2, short: 3 }));
    const key = PROP + 'k'.repeat(255 - PROP.length);
    expect(out.event.properties).toEqual({ ...HEAD, name: 'p', [key]: 1, [`${PROP}short`]: 3 });
    expect(out.changes).toEqual({ property_name_truncated: 2, property_dropped_name_clash: 1 });
  });

  it('nested keys are cut the same way', () => {
    const out = fitted(custom('p', { obj: { ['x'.repeat(300)]: 1 } }));
    expect(out.event.properties[`${PROP}obj`]).toEqual({ ['x'.repeat(255)]: 1 });
    expect(out.changes).toEqual({ property_name_truncated: 1 });
  });

  it('string values, at any depth, are cut; 255 bytes pass', () => {
    const out = fitted(custom('p', { s: 'v'.repeat(300), ok: 'w'.repeat(255), list: ['x'.repeat(256)], obj: { a: { b: 'y'.repeat(1000) } } }));
    expect(out.event.properties).toMatchObject({
      [`${PROP}s`]: 'v'.repeat(255),
      [`${PROP}ok`]: 'w'.repeat(255),
      [`${PROP}list`]: ['x'.repeat(255)],
      [`${PROP}obj`]: { a: { b: 'y'.repeat(255) } },
    });
    expect(out.changes).toEqual({ string_truncated: 3 });
  });

  it('leaves distinct_id and the $insert_id as they are', () => {
    const long = 'd'.repeat(300);
    const out = sent({ ...custom('p'), user: { external_user_id: long } });
    expect(out.event.properties['distinct_id']).toBe(long);
  });
});

describe('counts and sizes', () => {
  it('properties: at most 254; the mapping’s own come first and stay, the last ones are dropped', () => {
    const many = Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`p${i}`, i]));
    const out = fitted(custom('wide', many));
    const keys = Object.keys(out.event.properties);
    expect(keys).toHaveLength(254);
    expect(keys.slice(0, 6)).toEqual(['distinct_id', '$insert_id', 'time', 'token', '$partner_id', 'name']);
    expect(keys.at(-1)).toBe(`${PROP}p247`);
    expect(out.changes).toEqual({ property_dropped_too_many: 300 - 248 });
    // 254 properties pass untouched.
    expect(sent(custom('wide', Object.fromEntries(Array.from({ length: 248 }, (_, i) => [`p${i}`, i])))).changes).toBeUndefined();
  });

  it('nested object: at most 254 keys, the first ones kept', () => {
    const obj = Object.fromEntries(Array.from({ length: 260 }, (_, i) => [`k${i}`, i]));
    const out = fitted(custom('p', { obj }));
    const kept = out.event.properties[`${PROP}obj`] as Record<string, number>;
    expect(Object.keys(kept)).toHaveLength(254);
    expect(kept['k253']).toBe(253);
    expect(out.changes).toEqual({ object_keys_dropped: 1 });
    expect(sent(custom('p', { obj: Object.fromEntries(Array.from({ length: 254 }, (_, i) => [`k${i}`, i])) })).changes).toBeUndefined();
  });

  it('array: at most 254 elements, the first ones kept, nested arrays too', () => {
    const out = fitted(custom('p', { list: Array.from({ length: 300 }, (_, i) => i), obj: { inner: Array(255).fill(0) } }));
    expect(out.event.properties[`${PROP}list`]).toEqual(Array.from({ length: 254 }, (_, i) => i));
    expect((out.event.properties[`${PROP}obj`] as { inner: number[] }).inner).toHaveLength(254);
    expect(out.changes).toEqual({ array_elements_dropped: 2 });
    expect(sent(custom('p', { list: Array(254).fill(1) })).changes).toBeUndefined();
  });

  it('nesting: three levels kept, what lies deeper dropped', () => {
    const out = fitted(custom('p', { ok: { a: { b: { c: 1 } } }, deep: { a: { b: { c: { d: 1 } }, keep: 2 } }, lists: [[[1], [[2]]]] }));
    expect(out.event.properties).toMatchObject({
      [`${PROP}ok`]: { a: { b: { c: 1 } } },
      [`${PROP}deep`]: { a: { b: {}, keep: 2 } },
      [`${PROP}lists`]: [[[1], []]],
    });
    expect(out.changes).toEqual({ nested_value_dropped: 2 });
  });

  it(`list property: at most ${LIST_PROPERTY_BYTES_LIMIT} bytes of JSON, the first elements kept`, () => {
    const items = Array.from({ length: 100 }, (_, i) => `${String(i).padStart(3, '0')}${'z'.repeat(97)}`);
    const out = fitted(custom('p', { list: items }));
    const kept = out.event.properties[`${PROP}list`] as string[];
    expect(bytes(JSON.stringify(kept))).toBeLessThanOrEqual(LIST_PROPERTY_BYTES_LIMIT);
    expect(bytes(JSON.stringify(items.slice(0, kept.length + 1)))).toBeGreaterThan(LIST_PROPERTY_BYTES_LIMIT);
    expect(kept).toEqual(items.slice(0, kept.length));
    expect(out.changes).toEqual({ list_elements_dropped: 1 });
  });

  it('event size: under 1 MiB, the largest properties dropped first', () => {
    // Nested arrays are not list properties: each object below is ~0.55 MB of JSON.
    const blob = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, Array(200).fill('q'.repeat(255))]));
    const out = fitted(custom('big', { small: 1, b10: blob(10), b11: blob(11) }));
    expect(Object.keys(out.event.properties)).toEqual([...Object.keys(HEAD), 'name', `${PROP}small`, `${PROP}b10`]);
    expect(bytes(JSON.stringify(out.event))).toBeLessThan(1024 * 1024);
    expect(out.changes).toEqual({ property_dropped_event_size: 1 });
  });

  it('fitting returns the same object when nothing had to change', () => {
    const event: MixpanelEvent = { event: 'e', properties: { ...HEAD, a: [1, { b: 'c' }] } };
    expect(fitToMixpanelLimits(event)).toEqual({ event, changes: {} });
    expect(fitToMixpanelLimits(event).event).toBe(event);
  });
});

describe('never loses an event: any input comes out within every limit', () => {
  it('for generated hostile events', () => {
    const key = fc.oneof(fc.string({ maxLength: 4 }), fc.string({ minLength: 250, maxLength: 300 }), fc.constant('__proto__'));
    const leaf = fc.oneof(fc.integer(), fc.boolean(), fc.constant(null), fc.string({ maxLength: 8 }), fc.string({ minLength: 250, maxLength: 400, unit: 'binary' }));
    const value = fc.letrec((tie) => ({
      v: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, fc.array(tie('v'), { maxLength: 6 }), fc.dictionary(key, tie('v'), { maxKeys: 4 })),
    })).v;
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 400 }), fc.dictionary(key, value, { maxKeys: 8 }), (name, props) => {
        const event = JSON.parse(JSON.stringify(custom(name, props))) as CurrentsEvent;
        const outcome = sent(event);
        const check = checkImportRecord(outcome.event, NOW_S * 1000, {});
        expect(check.ok).toBe(true);
        // Nothing left for Mixpanel (or the emulator) to truncate. (The emulator's copy drops a
        // `__proto__` key, a JavaScript artefact of its own: such events are left out of this check.)
        if (check.ok && !JSON.stringify(outcome.event).includes('"__proto__"')) expect(check.record).toEqual(outcome.event);
      }),
      { numRuns: 300, seed: 17 },
    );
  });
});

describe("the emulator's strict /import agrees", () => {
  const built = buildMixpanelEmulator({ now: () => NOW_S * 1000, projects: [{ id: '7', token: 'tok7' }] });
  let url: string;
  beforeAll(async () => {
    await built.app.listen({ port: 0, host: '127.0.0.1' });
    const address = built.app.server.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    url = `http://127.0.0.1:${address.port}/import?strict=1`;
  });
  afterAll(() => built.app.close());

  it('accepts every fitted golden event, none rejected, and stores exactly what was sent', { timeout: 60_000 }, async () => {
    expect(fittedEvents.length).toBeGreaterThanOrEqual(10);
    for (const event of fittedEvents) {
      const res = await request(url, {
        method: 'POST',
        headers: { authorization: `Basic ${Buffer.from('tok7:').toString('base64')}`, 'content-type': 'application/json', 'content-encoding': 'gzip' },
        body: gzipSync(JSON.stringify([event])),
      });
      expect(await res.body.json()).toEqual({ code: 200, num_records_imported: 1, status: 'OK' });
    }
    const stored = built.emulator.events('7', 'raw');
    expect(stored).toEqual(fittedEvents);
  });
});
