import { describe, expect, it } from 'vitest';
import { batchForImport, serializeBatch } from './batching.js';
import type { MixpanelEvent } from './mapping.js';

const ev = (i: number, pad = 0): MixpanelEvent => ({ event: 'E', properties: { distinct_id: 'u', $insert_id: `id-${i}`, time: 1, pad: 'x'.repeat(pad) } });
const identity = (e: MixpanelEvent) => e;

describe('batchForImport', () => {
  it('returns no batch for no events', () => {
    expect(batchForImport([], identity)).toEqual([]);
  });

  it('caps a batch at 2,000 events by default', () => {
    const events = Array.from({ length: 4001 }, (_, i) => ev(i));
    expect(batchForImport(events, identity).map((b) => b.items.length)).toEqual([2000, 2000, 1]);
  });

  it('keeps input order and builds the exact JSON array body', () => {
    const events = Array.from({ length: 5 }, (_, i) => ev(i));
    const [batch, ...rest] = batchForImport(events, identity, { maxEvents: 3 });
    expect(rest).toHaveLength(1);
    expect(batch!.items).toEqual(events.slice(0, 3));
    expect(batch!.body).toBe(serializeBatch(events.slice(0, 3)));
    expect(JSON.parse(batch!.body)).toEqual(events.slice(0, 3));
    expect(batch!.bytes).toBe(Buffer.byteLength(batch!.body));
  });

  it('fills a batch up to the byte cap exactly, and no further', () => {
    const one = Buffer.byteLength(JSON.stringify(ev(0, 100)));
    const events = Array.from({ length: 7 }, (_, i) => ev(i, 100));
    const cap = 2 + 3 * one + 2;
    const batches = batchForImport(events, identity, { maxBytes: cap });
    expect(batches.map((b) => b.items.length)).toEqual([3, 3, 1]);
    expect(batches[0]!.bytes).toBe(cap);
    expect(batchForImport(events, identity, { maxBytes: cap - 1 }).map((b) => b.items.length)).toEqual([2, 2, 2, 1]);
    for (const b of batches) expect(b.bytes).toBeLessThanOrEqual(cap);
  });

  it('counts bytes in UTF-8', () => {
    const wide = (i: number): MixpanelEvent => ({ event: 'E', properties: { $insert_id: `id-${i}`, s: 'é'.repeat(50) } });
    const batches = batchForImport([wide(0), wide(1)], identity, { maxBytes: 2 + 2 * JSON.stringify(wide(0)).length + 1 });
    expect(batches.map((b) => b.items.length)).toEqual([1, 1]);
  });

  it('gives an event larger than the cap a batch of its own', () => {
    const batches = batchForImport([ev(0), ev(1, 5000), ev(2)], identity, { maxBytes: 1000 });
    expect(batches.map((b) => b.items.map((e) => e.properties['$insert_id']))).toEqual([['id-0'], ['id-1'], ['id-2']]);
  });

  it('carries arbitrary items through, serializing their Mixpanel event', () => {
    const items = [0, 1, 2].map((i) => ({ logSeq: i, event: ev(i) }));
    const batches = batchForImport(items, (item) => item.event, { maxEvents: 2 });
    expect(batches.map((b) => b.items.map((i) => i.logSeq))).toEqual([[0, 1], [2]]);
    expect(JSON.parse(batches[1]!.body)).toEqual([ev(2)]);
  });
});
