/**
 * Splits mapped events into `/import` request bodies (docs/reference/currents.md §3): at most 2,000 events and
 * at most the connector's byte cap of uncompressed JSON-array body per batch. The body is built
 * here once, so the byte count that decided the split is the byte count that is sent.
 */
import type { MixpanelEvent } from './mapping.js';

export const MAX_EVENTS_PER_BATCH = 2000;
/** 9 MiB: under the 10 MB of Mixpanel's current docs (the exporter splits on 413 regardless). */
export const DEFAULT_BATCH_BYTE_CAP = 9 * 1024 * 1024;

export interface BatchLimits {
  maxEvents?: number;
  maxBytes?: number;
}

export interface ImportBatch<T> {
  items: T[];
  /** The JSON array body, uncompressed. */
  body: string;
  /** UTF-8 length of `body`. */
  bytes: number;
}

/** A JSON array body for the given events, as `/import` receives it. */
export function serializeBatch(events: readonly MixpanelEvent[]): string {
  return `[${events.map((e) => JSON.stringify(e)).join(',')}]`;
}

/**
 * Greedy split in input order. An event that alone exceeds the byte cap gets a batch of its own:
 * the target then answers 413 and the delivery dead-letters it as `too_large`.
 */
export function batchForImport<T>(items: readonly T[], eventOf: (item: T) => MixpanelEvent, limits: BatchLimits = {}): ImportBatch<T>[] {
  const maxEvents = limits.maxEvents ?? MAX_EVENTS_PER_BATCH;
  const maxBytes = limits.maxBytes ?? DEFAULT_BATCH_BYTE_CAP;
  const batches: ImportBatch<T>[] = [];
  let current: T[] = [];
  let parts: string[] = [];
  let bytes = 2;
  const close = () => {
    if (current.length === 0) return;
    batches.push({ items: current, body: `[${parts.join(',')}]`, bytes });
    current = [];
    parts = [];
    bytes = 2;
  };
  for (const item of items) {
    const json = JSON.stringify(eventOf(item));
    const size = Buffer.byteLength(json);
    if (current.length > 0 && (current.length >= maxEvents || bytes + 1 + size > maxBytes)) close();
    bytes += current.length === 0 ? size : size + 1;
    current.push(item);
    parts.push(json);
  }
  close();
  return batches;
}

/** An item whose Mixpanel event is already serialized (`json`, `bytes` its UTF-8 length). */
export interface SerializedItem {
  json: string;
  bytes: number;
}

/**
 * `batchForImport` for items serialized beforehand: the same greedy split and limits, without
 * serializing again. The body is not built here (the sender joins the parts when it sends), so a
 * queued batch holds each event's text once.
 */
export function batchSerialized<T extends SerializedItem>(items: readonly T[], limits: BatchLimits = {}): Array<{ items: T[]; bytes: number }> {
  const maxEvents = limits.maxEvents ?? MAX_EVENTS_PER_BATCH;
  const maxBytes = limits.maxBytes ?? DEFAULT_BATCH_BYTE_CAP;
  const batches: Array<{ items: T[]; bytes: number }> = [];
  let current: T[] = [];
  let bytes = 2;
  for (const item of items) {
    if (current.length > 0 && (current.length >= maxEvents || bytes + 1 + item.bytes > maxBytes)) {
      batches.push({ items: current, bytes });
      current = [];
      bytes = 2;
    }
    bytes += current.length === 0 ? item.bytes : item.bytes + 1;
    current.push(item);
  }
  if (current.length > 0) batches.push({ items: current, bytes });
  return batches;
}

/** The JSON array body of serialized items. */
export function joinBatch(items: readonly SerializedItem[]): string {
  return `[${items.map((i) => i.json).join(',')}]`;
}
