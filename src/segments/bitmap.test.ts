import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OrdinalBitmap } from './bitmap.js';

/** Ordinals clustered so that chunks are empty, sparse (arrays) and dense (bitsets). */
const ordinals = fc.oneof(
  fc.array(fc.integer({ min: 0, max: 300_000 }), { maxLength: 300 }),
  fc.array(fc.integer({ min: 0, max: 0xffffffff }), { maxLength: 100 }),
  fc
    .tuple(fc.integer({ min: 0, max: 3 }), fc.double({ min: 0.05, max: 0.95, noNaN: true }), fc.integer())
    .map(([chunk, density, seed]) => {
      let x = seed | 1;
      const out: number[] = [];
      for (let i = 0; i < 0x10000; i++) {
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        if ((x >>> 0) / 0x100000000 < density) out.push(chunk * 0x10000 + i);
      }
      return out;
    }),
);

const sorted = (s: Iterable<number>) => [...new Set(s)].sort((a, b) => a - b);

describe('OrdinalBitmap', () => {
  it('holds exactly the given ordinals, in order', () => {
    fc.assert(
      fc.property(ordinals, fc.integer({ min: -1, max: 300_000 }), (xs, after) => {
        const b = OrdinalBitmap.of(xs);
        const expected = sorted(xs);
        expect(b.size).toBe(expected.length);
        expect([...b.from()]).toEqual(expected);
        expect(b.page(after, 50)).toEqual(expected.filter((x) => x > after).slice(0, 50));
        for (const x of xs.slice(0, 20)) expect(b.has(x)).toBe(true);
        expect(b.has(0x7fffffff) === xs.includes(0x7fffffff)).toBe(true);
      }),
      { numRuns: 150 },
    );
  });

  it('computes and, or and and-not like sets do', () => {
    fc.assert(
      fc.property(ordinals, ordinals, (xs, ys) => {
        const a = OrdinalBitmap.of(xs);
        const b = OrdinalBitmap.of(ys);
        const sy = new Set(ys);
        const sx = new Set(xs);
        const and = a.and(b);
        const or = a.or(b);
        const andNot = a.andNot(b);
        expect([...and.from()]).toEqual(sorted(xs.filter((x) => sy.has(x))));
        expect(and.size).toBe(sorted(xs.filter((x) => sy.has(x))).length);
        expect([...or.from()]).toEqual(sorted([...xs, ...ys]));
        expect(or.size).toBe(new Set([...xs, ...ys]).size);
        expect([...andNot.from()]).toEqual(sorted(xs.filter((x) => !sy.has(x))));
        expect(andNot.size).toBe(sorted(xs.filter((x) => !sy.has(x))).length);
        expect([...b.andNot(a).from()]).toEqual(sorted(ys.filter((y) => !sx.has(y))));
        // Operands are never changed by an operation.
        expect([...a.from()]).toEqual(sorted(xs));
      }),
      { numRuns: 150 },
    );
  });

  it('builds large inputs (counted, not sorted) exactly, with duplicates, sparse and dense chunks', () => {
    fc.assert(
      fc.property(ordinals, fc.integer({ min: 1, max: 40 }), fc.integer({ min: 0, max: 0xfffc }), (xs, stride, base) => {
        const big: number[] = [...xs];
        for (let i = 0; big.length < 70_000; i += stride) big.push(base * 0x10000 + (i % 0x30000), (i * 7919) % 2 ** 32);
        const b = OrdinalBitmap.of(big);
        const expected = sorted(big);
        expect(b.size).toBe(expected.length);
        expect([...b.from()]).toEqual(expected);
      }),
      { numRuns: 30 },
    );
  });

  it('keeps a 30 % set of 10,000,000 ordinals compact', () => {
    const xs: number[] = [];
    for (let i = 0; i < 10_000_000; i += 3) xs.push(i);
    const b = OrdinalBitmap.of(xs);
    expect(b.size).toBe(xs.length);
    expect(b.bytes).toBeLessThan(1.4 * 1024 * 1024);
  });
});

describe('OrdinalBitmap serialization', () => {
  it('reads back exactly what it wrote, from any byte offset, and after set operations', () => {
    fc.assert(
      fc.property(ordinals, ordinals, fc.integer({ min: 0, max: 3 }), (xs, ys, offset) => {
        const a = OrdinalBitmap.of(xs);
        const b = OrdinalBitmap.of(ys);
        for (const bitmap of [a, a.and(b), a.andNot(b), a.or(b), OrdinalBitmap.empty()]) {
          const bytes = bitmap.serialize();
          const shifted = new Uint8Array(bytes.byteLength + offset);
          shifted.set(bytes, offset);
          const back = OrdinalBitmap.deserialize(shifted.subarray(offset));
          expect(back.size).toBe(bitmap.size);
          expect([...back.from()]).toEqual([...bitmap.from()]);
        }
      }),
      { numRuns: 100 },
    );
  });

  it('refuses bytes it did not write', () => {
    const good = OrdinalBitmap.of([1, 2, 70_000, ...Array.from({ length: 5000 }, (_, i) => 200_000 + i)]).serialize();
    expect(() => OrdinalBitmap.deserialize(new Uint8Array(3))).toThrow(/too short/);
    expect(() => OrdinalBitmap.deserialize(good.slice(0, good.length - 4))).toThrow(/out of bounds|trailing/);
    const wrongMagic = good.slice();
    wrongMagic[0] = wrongMagic[0]! ^ 1;
    expect(() => OrdinalBitmap.deserialize(wrongMagic)).toThrow(/magic/);
    expect(() => OrdinalBitmap.deserialize(new Uint8Array([...good, 0, 0, 0, 0]))).toThrow(/trailing/);
  });

  it('keeps a 30 % set of 1,000,000 ordinals in about 128 KiB', () => {
    const xs: number[] = [];
    for (let i = 0; i < 1_000_000; i++) if ((i * 2654435761) % 10 < 3) xs.push(i);
    const bytes = OrdinalBitmap.of(xs).serialize();
    expect(bytes.byteLength).toBeLessThan(130 * 1024);
    expect(OrdinalBitmap.deserialize(bytes).size).toBe(xs.length);
  });
});
