/**
 * The dedup views' storage (store.ts), in typed arrays instead of `Map`s of strings, so that millions
 * of keys cost neither garbage collection nor a string each.
 *
 * - `KeyLog`: one entry per record received, in ingestion order (its position): the record's
 *   128-bit key digest (four 32-bit lanes) and its time in ms. Chunked, so growing never copies.
 * - `KeyIndex`: one view, from a key to the position of its latest record. The key is the digest and
 *   a number derived from the entry's time (the time itself for `dedup`, the UTC day for
 *   `dedup_daily`). Open addressing with linear probing, at most half full; a slot holds the entry's
 *   position + 1 (0 = empty) and a 32-bit tag of the key side by side, so most probes never touch
 *   the log and a probe costs one cache miss.
 *
 * At 5,000,000 distinct keys both views together hold ≈ 120 MB of log and 2 × 128 MB of slots
 * (the former per-view tables of 32-byte slots needed ≈ 1 GB). Equal digests and numbers are the
 * same key: the digest is the caller's (store.ts).
 */

const CHUNK_BITS = 16;
const CHUNK = 1 << CHUNK_BITS;
const CHUNK_MASK = CHUNK - 1;

export class KeyLog {
  private lanes: Uint32Array[] = [];
  private times: Float64Array[] = [];
  size = 0;

  /** Appends an entry; returns its position. */
  push(a: number, b: number, c: number, d: number, timeMs: number): number {
    const position = this.size;
    const chunk = position >>> CHUNK_BITS;
    if (chunk === this.lanes.length) {
      this.lanes.push(new Uint32Array(CHUNK * 4));
      this.times.push(new Float64Array(CHUNK));
    }
    const at = position & CHUNK_MASK;
    const lanes = this.lanes[chunk]!;
    lanes[at * 4] = a;
    lanes[at * 4 + 1] = b;
    lanes[at * 4 + 2] = c;
    lanes[at * 4 + 3] = d;
    this.times[chunk]![at] = timeMs;
    this.size = position + 1;
    return position;
  }

  lane(position: number, k: number): number {
    return this.lanes[position >>> CHUNK_BITS]![(position & CHUNK_MASK) * 4 + k]!;
  }

  timeMs(position: number): number {
    return this.times[position >>> CHUNK_BITS]![position & CHUNK_MASK]!;
  }

  /** Whether the entry at `position` has the digest a–d. */
  sameDigest(position: number, a: number, b: number, c: number, d: number): boolean {
    const lanes = this.lanes[position >>> CHUNK_BITS]!;
    const l = (position & CHUNK_MASK) * 4;
    return lanes[l] === a && lanes[l + 1] === b && lanes[l + 2] === c && lanes[l + 3] === d;
  }
}

/** The number a view keys an entry by, from the entry's time in ms. */
export type ViewNumber = (timeMs: number) => number;

function tagOf(a: number, num: number): number {
  let h = (a ^ Math.imul(num % 4294967296 | 0, 0x9e3779b1) ^ Math.imul(Math.floor(num / 4294967296) | 0, 0x85ebca6b)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return (h ^ (h >>> 16)) >>> 0;
}

export class KeyIndex {
  /** Slot i: [2i] the position + 1 (0 = empty), [2i + 1] the key's tag; side by side, one cache line. */
  private slots: Uint32Array;
  private mask: number;
  size = 0;

  constructor(
    private readonly log: KeyLog,
    private readonly numberOf: ViewNumber,
    capacity = 1024,
  ) {
    const cap = 2 ** Math.ceil(Math.log2(Math.max(16, capacity)));
    this.slots = new Uint32Array(cap * 2);
    this.mask = cap - 1;
  }

  /** Points the key of the log entry at `position` (already pushed) to it, replacing an earlier record. */
  set(position: number, a: number, b: number, c: number, d: number, timeMs: number): void {
    if ((this.size + 1) * 2 > this.mask + 1) this.grow();
    const num = this.numberOf(timeMs);
    const tag = tagOf(a, num);
    const { slots, mask, log, numberOf } = this;
    let i = tag & mask;
    for (;;) {
      const held = slots[i * 2]!;
      if (held === 0) {
        slots[i * 2] = position + 1;
        slots[i * 2 + 1] = tag;
        this.size += 1;
        return;
      }
      if (slots[i * 2 + 1] === tag && log.sameDigest(held - 1, a, b, c, d) && numberOf(log.timeMs(held - 1)) === num) {
        slots[i * 2] = position + 1;
        return;
      }
      i = (i + 1) & mask;
    }
  }

  private grow(): void {
    const old = this.slots;
    const cap = (this.mask + 1) * 2;
    const slots = new Uint32Array(cap * 2);
    const mask = cap - 1;
    for (let j = 0; j < old.length; j += 2) {
      const held = old[j]!;
      if (held === 0) continue;
      const tag = old[j + 1]!;
      let i = tag & mask;
      while (slots[i * 2] !== 0) i = (i + 1) & mask;
      slots[i * 2] = held;
      slots[i * 2 + 1] = tag;
    }
    this.slots = slots;
    this.mask = mask;
  }

  /** The positions held, in no particular order. */
  values(): Float64Array {
    const out = new Float64Array(this.size);
    let n = 0;
    for (let j = 0; j < this.slots.length; j += 2) if (this.slots[j] !== 0) out[n++] = this.slots[j]! - 1;
    return out;
  }
}
