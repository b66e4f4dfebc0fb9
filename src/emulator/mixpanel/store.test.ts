import { describe, expect, it } from 'vitest';
import { EventStore, keyDigest } from './store.js';
import type { DedupKey, ImportRecord } from './validation.js';

const DAY = 86_400_000;
const T = Date.UTC(2024, 4, 1, 12);

function add(store: EventStore, event: string, distinctId: string, timeMs: number, insertId: string, tag: string) {
  const record: ImportRecord = { event, properties: { distinct_id: distinctId, time: timeMs, $insert_id: insertId, tag } };
  const key: DedupKey = { event, distinctId, timeMs, insertId };
  store.add('p1', record, key);
}

const tags = (records: ImportRecord[]) => records.map((r) => r.properties['tag']);

describe('EventStore views (docs/reference/mixpanel-apis.md §6)', () => {
  it('keeps every record in raw, the latest per key in dedup and dedup_daily', () => {
    const store = new EventStore();
    add(store, 'E', 'u1', T, 'i1', 'a');
    add(store, 'E', 'u1', T, 'i1', 'b'); // same key: b wins
    add(store, 'E', 'u1', T + 1000, 'i1', 'c'); // other time: own dedup row, same day as a/b
    add(store, 'F', 'u1', T, 'i1', 'd'); // other event
    add(store, 'E', 'u2', T, 'i1', 'e'); // other user
    add(store, 'E', 'u1', T, 'i2', 'f'); // other insert id
    add(store, 'E', 'u1', T + DAY, 'i1', 'g'); // next day
    expect(tags(store.records('p1', 'raw'))).toEqual(['a', 'b', 'c', 'd', 'e', 'f', 'g']);
    expect(tags(store.records('p1', 'dedup'))).toEqual(['b', 'c', 'd', 'e', 'f', 'g']);
    expect(tags(store.records('p1', 'dedup_daily'))).toEqual(['c', 'd', 'e', 'f', 'g']);
    expect([store.count('p1', 'raw'), store.count('p1', 'dedup'), store.count('p1', 'dedup_daily')]).toEqual([7, 6, 5]);
  });

  it('uses the UTC day for compaction', () => {
    const store = new EventStore();
    const midnight = Date.UTC(2024, 4, 2);
    add(store, 'E', 'u1', midnight - 1, 'i1', 'late');
    add(store, 'E', 'u1', midnight, 'i1', 'early');
    expect(store.count('p1', 'dedup_daily')).toBe(2);
  });

  it('pages a view and keeps projects apart', () => {
    const store = new EventStore();
    for (let i = 0; i < 5; i++) add(store, 'E', 'u', T, `i${i}`, String(i));
    expect(store.page('p1', 'dedup', 1, 2)).toEqual({ total: 5, records: [expect.stringContaining('"i1"'), expect.stringContaining('"i2"')] });
    expect(store.page('p2', 'raw')).toEqual({ total: 0, records: [] });
    store.clear();
    expect(store.count('p1', 'raw')).toBe(0);
  });
});

describe('EventStore at volume', () => {
  it('counts the same views as a map of the keys themselves, through many table growths', () => {
    const store = new EventStore(false);
    const dedup = new Map<string, number>();
    const daily = new Map<string, number>();
    let seed = 7;
    const rand = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    for (let i = 0; i < 20_000; i++) {
      const event = ['E', 'F', 'E\ud800', 'E\ud801'][rand(4)]!;
      const distinctId = `u${rand(50)}`;
      const insertId = `i${rand(300)}`;
      const timeMs = T + rand(5) * 3_600_000 * 7;
      store.add('p1', { event, properties: {} }, { event, distinctId, timeMs, insertId });
      dedup.set(JSON.stringify([event, distinctId, timeMs, insertId]), i);
      daily.set(JSON.stringify([event, distinctId, insertId, Math.floor(timeMs / DAY)]), i);
    }
    expect(store.count('p1', 'raw')).toBe(20_000);
    expect(store.count('p1', 'dedup')).toBe(dedup.size);
    expect(store.count('p1', 'dedup_daily')).toBe(daily.size);
  });

  it('keeps the latest record per key in order when the table grows', () => {
    const store = new EventStore();
    for (let i = 0; i < 3000; i++) add(store, 'E', 'u', T, `i${i % 1000}`, String(i));
    expect(tags(store.records('p1', 'dedup'))).toEqual(Array.from({ length: 1000 }, (_, i) => String(2000 + i)));
  });
});

describe('keyDigest', () => {
  const digest = (event: string, distinctId: string, insertId: string) => {
    const out = new Uint32Array(4);
    keyDigest({ event, distinctId, insertId, timeMs: 0 }, out);
    return Array.from(out).join(',');
  };

  it('keeps the three fields apart, whatever their lengths and code units', () => {
    const keys: Array<[string, string, string]> = [
      ['ab', 'c', 'd'],
      ['a', 'bc', 'd'],
      ['a', 'b', 'cd'],
      ['abc', '', 'd'],
      ['', 'abc', 'd'],
      ['a\u0000', '', 'd'],
      ['a', '\u0000', 'd'],
      ['E\ud800', 'u', 'i'],
      ['E\ud801', 'u', 'i'],
      ['E', 'u', 'i'],
      ['E', 'u', 'i\u0000'],
      ['E', 'u', 'i\u0000\u0000'],
    ];
    const digests = keys.map((k) => digest(...k));
    expect(new Set(digests).size).toBe(keys.length);
    expect(digest('E', 'u', 'i')).toBe(digests[9]);
  });

  it('spreads 200,000 near-identical keys over distinct digests', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200_000; i++) seen.add(digest('Email Open', `user-${i % 1000}`, `ins-${i}`));
    expect(seen.size).toBe(200_000);
  });
});
