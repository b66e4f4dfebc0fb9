/**
 * What the emulated Mixpanel holds: every stored record per project, plus the two dedup views of
 * docs/reference/mixpanel-apis.md §6. Records are kept as their JSON text and the views as indexes from a hashed
 * key to a record position (key-table.ts), so a few million small events fit in memory.
 */
import { KeyIndex, KeyLog } from './key-table.js';
import type { DedupKey, ImportRecord } from './validation.js';

export type EventView = 'raw' | 'dedup' | 'dedup_daily';
export const EVENT_VIEWS: readonly EventView[] = ['raw', 'dedup', 'dedup_daily'];

const DAY_MS = 86_400_000;

interface ProjectEvents {
  raw: string[];
  /** Records received, retained or not. */
  received: number;
  /** Every record's key digest and time, by position. */
  keys: KeyLog;
  /** (event, distinct_id, time in ms, $insert_id) → position of the latest record. */
  dedup: KeyIndex;
  /** (event, distinct_id, $insert_id, UTC day) → position of the latest record. */
  daily: KeyIndex;
}

export interface EventPage {
  total: number;
  /** The records of the page, each as its JSON text. */
  records: string[];
}

// The 128-bit digest of (event, distinct_id, $insert_id), the part both views share; each view adds
// its number (the time in ms, or the UTC day). MurmurHash3 x86_128's block and finalisation steps
// over a stream of 32-bit words: each string's length, then its UTF-16 code units two per word, so
// the stream is unambiguous (a lone surrogate stays distinct) and needs no encoding or allocation.
// Not cryptographic, which an emulator's dedup view does not need: 128 well-mixed bits make an
// accidental collision among millions of keys about as likely as it was with MD5 (≈ 1e-25).
// Keys are compared by digest, as the views always were.

let h1 = 0;
let h2 = 0;
let h3 = 0;
let h4 = 0;
let k1 = 0;
let k2 = 0;
let k3 = 0;
let words = 0;

const rotl = (x: number, r: number) => (x << r) | (x >>> (32 - r));

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

function block(k4: number): void {
  k1 = Math.imul(rotl(Math.imul(k1, 0x239b961b), 15), 0xab0e9789);
  h1 ^= k1;
  h1 = (Math.imul(rotl(h1, 19) + h2, 5) + 0x561ccd1b) | 0;
  k2 = Math.imul(rotl(Math.imul(k2, 0xab0e9789), 16), 0x38b34ae5);
  h2 ^= k2;
  h2 = (Math.imul(rotl(h2, 17) + h3, 5) + 0x0bcaa747) | 0;
  k3 = Math.imul(rotl(Math.imul(k3, 0x38b34ae5), 17), 0xa1e38b93);
  h3 ^= k3;
  h3 = (Math.imul(rotl(h3, 15) + h4, 5) + 0x96cd1c35) | 0;
  k4 = Math.imul(rotl(Math.imul(k4, 0xa1e38b93), 18), 0x239b961b);
  h4 ^= k4;
  h4 = (Math.imul(rotl(h4, 13) + h1, 5) + 0x32ac3b17) | 0;
}

function word(w: number): void {
  switch (words & 3) {
    case 0:
      k1 = w;
      break;
    case 1:
      k2 = w;
      break;
    case 2:
      k3 = w;
      break;
    default:
      block(w);
  }
  words += 1;
}

function feed(s: string): void {
  const n = s.length;
  word(n);
  let i = 0;
  for (; i + 1 < n; i += 2) word(s.charCodeAt(i) | (s.charCodeAt(i + 1) << 16));
  if (i < n) word(s.charCodeAt(i));
}

/** The digest of `key`, as four unsigned 32-bit lanes in `out`. */
export function keyDigest(key: DedupKey, out: Uint32Array): void {
  h1 = h2 = h3 = h4 = 0x9747b28c;
  k1 = k2 = k3 = 0;
  words = 0;
  feed(key.event);
  feed(key.distinctId);
  feed(key.insertId);
  while ((words & 3) !== 0) word(0);
  const len = words * 4;
  h1 ^= len;
  h2 ^= len;
  h3 ^= len;
  h4 ^= len;
  h1 = (h1 + h2 + h3 + h4) | 0;
  h2 = (h2 + h1) | 0;
  h3 = (h3 + h1) | 0;
  h4 = (h4 + h1) | 0;
  h1 = fmix(h1);
  h2 = fmix(h2);
  h3 = fmix(h3);
  h4 = fmix(h4);
  h1 = (h1 + h2 + h3 + h4) | 0;
  h2 = (h2 + h1) | 0;
  h3 = (h3 + h1) | 0;
  h4 = (h4 + h1) | 0;
  out[0] = h1;
  out[1] = h2;
  out[2] = h3;
  out[3] = h4;
}

const dayOf = (timeMs: number) => Math.floor(timeMs / DAY_MS);
const itself = (timeMs: number) => timeMs;
const lanes = new Uint32Array(4);

export class EventStore {
  private readonly projects = new Map<string, ProjectEvents>();

  /**
   * `retainRecords: false` keeps only the counts and the dedup keys, not the records: for runs of
   * millions of events that only need the views' sizes (benchmarks). Pages then hold no records.
   */
  constructor(private readonly retainRecords = true) {}

  add(projectId: string, record: ImportRecord, key: DedupKey): void {
    let events = this.projects.get(projectId);
    if (!events) {
      const keys = new KeyLog();
      events = { raw: [], received: 0, keys, dedup: new KeyIndex(keys, itself), daily: new KeyIndex(keys, dayOf) };
      this.projects.set(projectId, events);
    }
    events.received += 1;
    if (this.retainRecords) events.raw.push(JSON.stringify(record));
    keyDigest(key, lanes);
    const a = lanes[0]!;
    const b = lanes[1]!;
    const c = lanes[2]!;
    const d = lanes[3]!;
    const position = events.keys.push(a, b, c, d, key.timeMs);
    events.dedup.set(position, a, b, c, d, key.timeMs);
    events.daily.set(position, a, b, c, d, key.timeMs);
  }

  count(projectId: string, view: EventView): number {
    const events = this.projects.get(projectId);
    if (!events) return 0;
    return view === 'raw' ? events.received : view === 'dedup' ? events.dedup.size : events.daily.size;
  }

  /** A view in ingestion order; for the dedup views each key shows at its latest record. */
  page(projectId: string, view: EventView, offset = 0, limit = Number.POSITIVE_INFINITY): EventPage {
    const events = this.projects.get(projectId);
    if (!events) return { total: 0, records: [] };
    if (!this.retainRecords) return { total: this.count(projectId, view), records: [] };
    if (view === 'raw') {
      return { total: events.raw.length, records: events.raw.slice(offset, offset + limit) };
    }
    const positions = (view === 'dedup' ? events.dedup : events.daily).values().sort();
    const chosen = positions.subarray(offset, Math.min(positions.length, offset + limit));
    return { total: positions.length, records: Array.from(chosen, (p) => events.raw[p]!) };
  }

  /** Parsed records of a view, for tests and in-process callers. */
  records(projectId: string, view: EventView = 'dedup'): ImportRecord[] {
    return this.page(projectId, view).records.map((r) => JSON.parse(r) as ImportRecord);
  }

  clear(): void {
    this.projects.clear();
  }
}
