import { describe, expect, it } from 'vitest';
import { mixpanelLimitViolation } from './limits.js';
import { mapCurrentsEvent, type MixpanelEvent } from './mapping.js';

const HEAD = { distinct_id: 'u42', $insert_id: 'e1', time: 1_700_000_000, token: 'tok', $partner_id: 'rivulet' };
const withProps = (extra: Record<string, unknown>): MixpanelEvent => ({ event: 'Email Send', properties: { ...HEAD, ...extra } });
const keys = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i]));

describe('Mixpanel per-event limits (docs/reference/currents.md §2.4)', () => {
  it('accepts an ordinary event', () => {
    expect(mixpanelLimitViolation(withProps({ a: 1, b: 'x', c: [1, 2], d: { e: true } }))).toBeNull();
  });

  it('fails at 255 properties, not at 254', () => {
    expect(mixpanelLimitViolation(withProps(keys(254 - 5)))).toBeNull();
    expect(mixpanelLimitViolation(withProps(keys(255 - 5)))).toBe('too_many_properties');
  });

  it('fails at 1 MiB serialized, not one byte below', () => {
    const sized = (bytes: number) => {
      const probe = withProps({ blob: '' });
      return withProps({ blob: 'a'.repeat(bytes - Buffer.byteLength(JSON.stringify(probe))) });
    };
    expect(mixpanelLimitViolation(sized(1024 * 1024 - 1))).toBeNull();
    expect(mixpanelLimitViolation(sized(1024 * 1024))).toBe('event_too_large');
  });

  it('allows nesting three levels deep, not four', () => {
    expect(mixpanelLimitViolation(withProps({ p: { a: { b: { c: 1 } } } }))).toBeNull();
    expect(mixpanelLimitViolation(withProps({ p: { a: { b: { c: { d: 1 } } } } }))).toBe('nesting_too_deep');
    expect(mixpanelLimitViolation(withProps({ p: [[['x']]] }))).toBeNull();
    expect(mixpanelLimitViolation(withProps({ p: [[[['x']]]] }))).toBe('nesting_too_deep');
    expect(mixpanelLimitViolation(withProps({ p: [{ a: { b: 1 } }] }))).toBeNull();
  });

  it('fails a nested object of 255 keys and an array of 255 elements', () => {
    expect(mixpanelLimitViolation(withProps({ p: keys(254) }))).toBeNull();
    expect(mixpanelLimitViolation(withProps({ p: keys(255) }))).toBe('object_too_many_keys');
    expect(mixpanelLimitViolation(withProps({ p: { q: keys(255) } }))).toBe('object_too_many_keys');
    expect(mixpanelLimitViolation(withProps({ p: Array(254).fill(1) }))).toBeNull();
    expect(mixpanelLimitViolation(withProps({ p: Array(255).fill(1) }))).toBe('array_too_long');
    expect(mixpanelLimitViolation(withProps({ p: { q: Array(300).fill('x') } }))).toBe('array_too_long');
  });

  it('sends a mapped event that broke a limit, fitted, instead of dead-lettering it', () => {
    const outcome = mapCurrentsEvent(
      {
        event_type: 'users.behaviors.CustomEvent',
        id: 'e1',
        time: 1_700_000_000,
        user: { external_user_id: 'u42' },
        properties: { name: 'deep', custom_properties: { tags: Array(255).fill('t') } },
      },
      { selectedTypes: new Set(['users.behaviors.CustomEvent']), token: 'tok' },
    );
    expect(outcome).toEqual({
      outcome: 'send',
      event: {
        event: '[Braze Custom Event] deep',
        properties: { ...HEAD, name: 'deep', '[Custom event property] tags': Array(254).fill('t') },
      },
      changes: { array_elements_dropped: 1 },
    });
  });
});
