import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseTime } from './time.js';
import { checkAttributes, checkEvent, checkPurchase, checkTarget } from './validate.js';

const NOW = Date.parse('2025-06-01T00:00:00Z');

describe('parseTime', () => {
  it.each([
    ['2022-12-06T19:20:45+01:00', '2022-12-06T18:20:45.000Z'],
    ['2017-05-12T18:47:12.250Z', '2017-05-12T18:47:12.250Z'],
    ['2013-07-16T19:20:30:000+0100', '2013-07-16T18:20:30.000Z'],
    ['2013-07-16T19:20:30:123-0130', '2013-07-16T20:50:30.123Z'],
    ['2024-01-01T00:00:00', '2024-01-01T00:00:00.000Z'],
    ['2024-01-01T00:00', '2024-01-01T00:00:00.000Z'],
    ['2024-02-29T12:00:00.123456789Z', '2024-02-29T12:00:00.123Z'],
  ])('reads %s', (input, iso) => {
    expect(new Date(parseTime(input)!).toISOString()).toBe(iso);
  });

  it.each(['yesterday', '2023-02-29T00:00:00Z', '2024-13-01T00:00:00Z', '2024-01-01T24:00:00Z', '2024-01-01', 1700000000, '', null])(
    'refuses %s',
    (input) => {
      expect(parseTime(input)).toBeUndefined();
    },
  );

  it('reads the canonical UTC shape (its fast path) exactly as the same instant written with +00:00', () => {
    // +00:00 takes the general path: the two must agree on every date, valid or not.
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 9999 }),
        fc.integer({ min: 0, max: 13 }),
        fc.integer({ min: 0, max: 32 }),
        fc.integer({ min: 0, max: 25 }),
        fc.integer({ min: 0, max: 61 }),
        fc.integer({ min: 0, max: 61 }),
        fc.option(fc.integer({ min: 0, max: 999 })),
        (y, mo, d, h, mi, s, ms) => {
          const p = (n: number, w = 2) => String(n).padStart(w, '0');
          const base = `${p(y, 4)}-${p(mo)}-${p(d)}T${p(h)}:${p(mi)}:${p(s)}${ms === null ? '' : `.${p(ms, 3)}`}`;
          expect(parseTime(`${base}Z`)).toBe(parseTime(`${base}+00:00`));
        },
      ),
      { numRuns: 5000 },
    );
    expect(parseTime('2024-02-30T00:00:00Z')).toBeUndefined();
    expect(parseTime('2099-01-01T00:00:00.5x0Z')).toBeUndefined();
    expect(parseTime('2024-01-01T00:00:0xZ')).toBeUndefined();
  });

  it('reads date-only values where allowed, as midnight UTC', () => {
    expect(parseTime('2024-01-02', { dateOnly: true })).toBe(Date.parse('2024-01-02T00:00:00Z'));
  });
});

describe('identifiers', () => {
  it('takes exactly one of external_id, user_alias, braze_id, else email', () => {
    expect(checkTarget({ external_id: 'u' })).toMatchObject({ ok: true, value: { identifier: { kind: 'external_id', externalId: 'u' } } });
    expect(checkTarget({ email: 'a@b.co' })).toMatchObject({ ok: true, value: { identifier: { kind: 'email' } } });
    expect(checkTarget({})).toEqual({ ok: false, error: 'missing identifier' });
    expect(checkTarget({ external_id: 'u', braze_id: 'x' })).toEqual({ ok: false, error: 'multiple identifiers' });
    expect(checkTarget({ external_id: 'x'.repeat(513) })).toEqual({ ok: false, error: 'invalid external_id' });
    expect(checkTarget({ external_id: 'é'.repeat(257) })).toEqual({ ok: false, error: 'invalid external_id' });
    expect(checkTarget({ user_alias: { alias_name: 'n' } })).toEqual({ ok: false, error: 'invalid user_alias' });
    expect(checkTarget({ braze_id: 'not-a-uuid' })).toEqual({ ok: false, error: 'invalid braze_id' });
    expect(checkTarget({ external_id: 'u', _update_existing_only: 'yes' })).toEqual({ ok: false, error: 'invalid _update_existing_only' });
  });
});

describe('attributes', () => {
  const check = (o: Record<string, unknown>) => checkAttributes({ external_id: 'u', ...o }, 25);
  it.each([
    [{ country: 'Germany' }, 'invalid country'],
    [{ country: 'XX' }, 'invalid country'],
    [{ language: 'eng' }, 'invalid language'],
    [{ gender: 'X' }, 'invalid gender'],
    [{ dob: '1990-02-30' }, 'invalid dob'],
    [{ time_zone: 'Mars/Base' }, 'invalid time_zone'],
    [{ email: 'nope' }, 'invalid email'],
    [{ email_subscribe: 'yes' }, 'invalid email_subscribe'],
    [{ first_name: 'x'.repeat(256) }, 'invalid first_name'],
    [{ $plan: 'x' }, 'invalid attribute key $plan'],
    [{ plan: 'x'.repeat(256) }, 'invalid plan'],
    [{ tags: Array.from({ length: 26 }, (_, i) => `t${i}`) }, 'too many array elements in tags'],
    [{ visits: { inc: 1.5 } }, 'invalid visits'],
    [{ tags: { add: [{}] } }, 'invalid tags'],
    [{ blob: { deep: 'x'.repeat(101 * 1024) } }, 'properties too large'],
  ])('refuses %j with %s', (attrs, error) => {
    expect(check(attrs)).toEqual({ ok: false, error });
  });

  it('normalizes standard fields and turns date-time strings into dates', () => {
    const r = check({ country: 'de', language: 'EN', gender: 'o', signup: '2020-01-01T00:00:00+01:00', tags: ['a', 'a', 2] });
    expect(r).toMatchObject({
      ok: true,
      value: {
        standard: { country: 'DE', language: 'en', gender: 'O' },
        custom: [
          { key: 'signup', op: 'set', value: { $time: '2019-12-31T23:00:00.000Z' } },
          { key: 'tags', op: 'set', value: ['a', 2] },
        ],
      },
    });
  });

  it('treats email as the identifier only when no other identifier is present', () => {
    const byEmail = checkAttributes({ email: 'a@b.co', first_name: 'A' }, 25);
    expect(byEmail).toMatchObject({ ok: true, value: { identifier: { kind: 'email' }, standard: { first_name: 'A' } } });
    expect(byEmail.ok && 'email' in byEmail.value.standard).toBe(false);
    expect(check({ email: 'new@b.co' })).toMatchObject({ ok: true, value: { standard: { email: 'new@b.co' } } });
  });

  it('refuses nesting deeper than 32 levels without overflowing the stack', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(check({ nested: [{ a: deep }] })).toEqual({ ok: false, error: 'invalid nested' });
  });
});

describe('events and purchases', () => {
  const ev = (o: Record<string, unknown>) => checkEvent({ external_id: 'u', name: 'n', time: '2024-01-01T00:00:00Z', ...o }, NOW);
  it('clamps future times to now and refuses times before 1970', () => {
    expect(ev({ time: '2999-01-01T00:00:00Z' })).toMatchObject({ ok: true, value: { timeMs: NOW } });
    expect(ev({ time: '1969-12-31T23:59:59Z' })).toEqual({ ok: false, error: 'invalid time' });
  });
  it.each([
    [{ properties: { event_name: 1 } }, 'reserved property key event_name'],
    [{ properties: { $x: 1 } }, 'invalid properties.$x'],
    [{ properties: { s: 'x'.repeat(256) } }, 'invalid properties.s'],
    [{ properties: { list: ['2024-01-01T00:00:00Z'] } }, 'invalid properties.list'],
    [{ properties: { big: Array.from({ length: 2000 }, () => 'x'.repeat(60)) } }, 'properties too large'],
    [{ properties: [] }, 'invalid properties'],
    [{ name: 'x'.repeat(256) }, 'invalid name'],
    [{ app_id: 5 }, 'invalid app_id'],
  ])('refuses %j with %s', (o, error) => {
    expect(ev(o)).toEqual({ ok: false, error });
  });

  it('checks purchases: currency, price, quantity, 50 KiB of properties', () => {
    const p = (o: Record<string, unknown>) =>
      checkPurchase({ external_id: 'u', product_id: 'p', currency: 'eur', price: 1, time: '2024-01-01T00:00:00Z', ...o }, NOW);
    expect(p({})).toMatchObject({ ok: true, value: { currency: 'EUR', quantity: 1 } });
    expect(p({ currency: 'EURO' })).toEqual({ ok: false, error: 'invalid currency' });
    expect(p({ price: '1' })).toEqual({ ok: false, error: 'invalid price' });
    expect(p({ quantity: 0 })).toEqual({ ok: false, error: 'invalid quantity' });
    expect(p({ quantity: 101 })).toEqual({ ok: false, error: 'invalid quantity' });
    expect(p({ properties: { big: 'x'.repeat(200), more: Array.from({ length: 300 }, () => 'y'.repeat(200)) } })).toEqual({
      ok: false,
      error: 'properties too large',
    });
  });
});
