/**
 * A compressed set of user ordinals (unsigned 32-bit), in the manner of Roaring bitmaps: the
 * ordinal space is cut into chunks of 65,536; a chunk holds a sorted Uint16Array while it has at
 * most 4,096 members and a 65,536-bit bitset beyond. A 30 % cohort of 10,000,000 users takes
 * 1.2 MiB, a 1,000-user cohort a few KiB, and AND / OR / AND-NOT over 10,000,000 users run in a
 * few milliseconds (word-wide loops over bitsets).
 *
 * Written here rather than taken from npm: the pure-JS/WASM Roaring packages either need manual
 * memory release (WASM heaps) or native builds, and segments need only these few operations.
 * Bitmaps are immutable: operations return new ones and share untouched chunks, so a cached
 * bitmap can be read by a running export while the cache moves on.
 */

const ARRAY_MAX = 4096;
const WORDS = 2048;
/** 'RVB1', the first four bytes of a serialized bitmap. */
const MAGIC = 0x31425652;

/** Whether `serialize` output can be read back here: typed arrays are little-endian on this platform. */
export const PERSISTABLE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

type Chunk = ArrayChunk | BitsetChunk;

class ArrayChunk {
  constructor(readonly values: Uint16Array) {}
  get size(): number {
    return this.values.length;
  }
}

class BitsetChunk {
  private cardinality: number;
  constructor(
    readonly words: Uint32Array,
    cardinality = -1,
  ) {
    this.cardinality = cardinality;
  }
  get size(): number {
    if (this.cardinality < 0) {
      let n = 0;
      const w = this.words;
      for (let i = 0; i < WORDS; i++) n += popcount(w[i]!);
      this.cardinality = n;
    }
    return this.cardinality;
  }
}

function popcount(v: number): number {
  v = v - ((v >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24;
}

function toWords(c: Chunk): Uint32Array {
  if (c instanceof BitsetChunk) return c.words;
  const words = new Uint32Array(WORDS);
  for (const v of c.values) words[v >>> 5]! |= 1 << (v & 31);
  return words;
}

function contains(c: Chunk, low: number): boolean {
  if (c instanceof BitsetChunk) return (c.words[low >>> 5]! & (1 << (low & 31))) !== 0;
  const values = c.values;
  let lo = 0;
  let hi = values.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const v = values[mid]!;
    if (v === low) return true;
    if (v < low) lo = mid + 1;
    else hi = mid - 1;
  }
  return false;
}

function fromSortedLows(values: Uint16Array): Chunk {
  if (values.length <= ARRAY_MAX) return new ArrayChunk(values);
  const words = new Uint32Array(WORDS);
  for (const v of values) words[v >>> 5]! |= 1 << (v & 31);
  return new BitsetChunk(words, values.length);
}

function filterArray(a: ArrayChunk, keep: (low: number) => boolean): Chunk | undefined {
  const out = new Uint16Array(a.values.length);
  let n = 0;
  for (const v of a.values) if (keep(v)) out[n++] = v;
  return n ? new ArrayChunk(out.slice(0, n)) : undefined;
}

function andChunks(a: Chunk, b: Chunk): Chunk | undefined {
  if (a instanceof ArrayChunk) return filterArray(a, (v) => contains(b, v));
  if (b instanceof ArrayChunk) return filterArray(b, (v) => contains(a, v));
  const x = a.words;
  const y = b.words;
  const out = new Uint32Array(WORDS);
  for (let i = 0; i < WORDS; i++) out[i] = x[i]! & y[i]!;
  return new BitsetChunk(out);
}

function andNotChunks(a: Chunk, b: Chunk): Chunk | undefined {
  if (a instanceof ArrayChunk) return filterArray(a, (v) => !contains(b, v));
  const out = a.words.slice();
  if (b instanceof ArrayChunk) {
    for (const v of b.values) out[v >>> 5]! &= ~(1 << (v & 31));
  } else {
    const y = b.words;
    for (let i = 0; i < WORDS; i++) out[i]! &= ~y[i]!;
  }
  return new BitsetChunk(out);
}

function orChunks(a: Chunk, b: Chunk): Chunk {
  if (a instanceof ArrayChunk && b instanceof ArrayChunk && a.size + b.size <= ARRAY_MAX) {
    const out = new Uint16Array(a.size + b.size);
    let i = 0;
    let j = 0;
    let n = 0;
    const x = a.values;
    const y = b.values;
    while (i < x.length || j < y.length) {
      const u = i < x.length ? x[i]! : 0x10000;
      const v = j < y.length ? y[j]! : 0x10000;
      out[n++] = u <= v ? u : v;
      if (u <= v) i++;
      if (v <= u) j++;
    }
    return new ArrayChunk(out.slice(0, n));
  }
  const out = toWords(a).slice();
  if (b instanceof ArrayChunk) {
    for (const v of b.values) out[v >>> 5]! |= 1 << (v & 31);
  } else {
    const y = b.words;
    for (let i = 0; i < WORDS; i++) out[i]! |= y[i]!;
  }
  return new BitsetChunk(out);
}

export class OrdinalBitmap {
  private constructor(
    /** Chunk keys (ordinal >>> 16), ascending. */
    private readonly keys: number[],
    private readonly chunks: Chunk[],
  ) {}

  static empty(): OrdinalBitmap {
    return new OrdinalBitmap([], []);
  }

  /** From ordinals in any order, duplicates allowed. */
  static of(ordinals: ArrayLike<number>): OrdinalBitmap {
    return ordinals.length < 0x10000 ? OrdinalBitmap.bySorting(ordinals) : OrdinalBitmap.byCounting(ordinals);
  }

  private static bySorting(ordinals: ArrayLike<number>): OrdinalBitmap {
    const sorted = Uint32Array.from(ordinals).sort();
    const keys: number[] = [];
    const chunks: Chunk[] = [];
    let i = 0;
    while (i < sorted.length) {
      const key = sorted[i]! >>> 16;
      const lows = new Uint16Array(Math.min(sorted.length - i, 0x10000));
      let n = 0;
      for (; i < sorted.length && sorted[i]! >>> 16 === key; i++) {
        const low = sorted[i]! & 0xffff;
        if (n === 0 || lows[n - 1] !== low) lows[n++] = low;
      }
      keys.push(key);
      chunks.push(fromSortedLows(lows.slice(0, n)));
    }
    return new OrdinalBitmap(keys, chunks);
  }

  /** Two linear passes, no sort: count per chunk, then fill bitsets directly and small arrays. */
  private static byCounting(ordinals: ArrayLike<number>): OrdinalBitmap {
    const counts = new Uint32Array(0x10000);
    for (let i = 0; i < ordinals.length; i++) counts[ordinals[i]! >>> 16]!++;
    const keys: number[] = [];
    const slot = new Int32Array(0x10000);
    const bitsets: Array<Uint32Array | undefined> = [];
    const arrays: Array<Uint16Array | undefined> = [];
    for (let key = 0; key < 0x10000; key++) {
      const n = counts[key]!;
      if (!n) continue;
      slot[key] = keys.length;
      keys.push(key);
      bitsets.push(n > ARRAY_MAX ? new Uint32Array(WORDS) : undefined);
      arrays.push(n > ARRAY_MAX ? undefined : new Uint16Array(n));
    }
    const filled = new Uint32Array(keys.length);
    for (let i = 0; i < ordinals.length; i++) {
      const o = ordinals[i]!;
      const at = slot[o >>> 16]!;
      const words = bitsets[at];
      if (words) words[(o & 0xffff) >>> 5]! |= 1 << (o & 31);
      else arrays[at]![filled[at]!++] = o & 0xffff;
    }
    const chunks = keys.map((_, at): Chunk => {
      const words = bitsets[at];
      if (words) return new BitsetChunk(words);
      const sorted = arrays[at]!.sort();
      let n = 0;
      for (let i = 0; i < sorted.length; i++) if (n === 0 || sorted[n - 1] !== sorted[i]) sorted[n++] = sorted[i]!;
      return new ArrayChunk(sorted.slice(0, n));
    });
    return new OrdinalBitmap(keys, chunks);
  }

  get size(): number {
    let n = 0;
    for (const c of this.chunks) n += c.size;
    return n;
  }

  /**
   * The bitmap as bytes, for the database (segment_bitmaps, migrations/045): a header (magic,
   * chunk count), per chunk its key, its kind and its cardinality, then each chunk's payload as it
   * is in memory — an array chunk's values (padded to 4 bytes), a bitset chunk's 2,048 words. A
   * 30 % set of 1,000,000 users takes 128 KiB. Little-endian (the typed arrays' order on every
   * platform Node runs on; `PERSISTABLE` is false elsewhere).
   */
  serialize(): Uint8Array {
    const n = this.keys.length;
    let payload = 0;
    for (const c of this.chunks) payload += c instanceof BitsetChunk ? WORDS * 4 : (c.values.byteLength + 3) & ~3;
    const out = new Uint8Array(8 + n * 8 + payload);
    const head = new Uint32Array(out.buffer, 0, 2 + n * 2);
    head[0] = MAGIC;
    head[1] = n;
    let at = 8 + n * 8;
    for (let i = 0; i < n; i++) {
      const c = this.chunks[i]!;
      const bitset = c instanceof BitsetChunk;
      head[2 + i * 2] = this.keys[i]! | (bitset ? 0x10000 : 0);
      head[3 + i * 2] = c.size;
      const bytes = bitset ? new Uint8Array(c.words.buffer, c.words.byteOffset, WORDS * 4) : new Uint8Array(c.values.buffer, c.values.byteOffset, c.values.byteLength);
      out.set(bytes, at);
      at += (bytes.byteLength + 3) & ~3;
    }
    return out;
  }

  /** The bitmap `serialize` wrote; throws on anything else (a wrong magic, a size that does not add up). */
  static deserialize(input: Uint8Array): OrdinalBitmap {
    // One aligned copy; chunks are views into it (bitmaps are immutable, so they may share it).
    const bytes = input.byteOffset % 4 === 0 ? input : input.slice();
    const fail = (why: string): never => {
      throw new Error(`not a serialized OrdinalBitmap: ${why}`);
    };
    if (bytes.byteLength < 8) fail('too short');
    const n = new Uint32Array(bytes.buffer, bytes.byteOffset, 2)[1]!;
    if (new Uint32Array(bytes.buffer, bytes.byteOffset, 1)[0] !== MAGIC) fail('wrong magic');
    if (n > 0x10000 || bytes.byteLength < 8 + n * 8) fail('truncated header');
    const head = new Uint32Array(bytes.buffer, bytes.byteOffset, 2 + n * 2);
    const keys: number[] = [];
    const chunks: Chunk[] = [];
    let at = 8 + n * 8;
    for (let i = 0; i < n; i++) {
      const key = head[2 + i * 2]! & 0xffff;
      const bitset = (head[2 + i * 2]! & 0x10000) !== 0;
      const size = head[3 + i * 2]!;
      if (i > 0 && key <= keys[i - 1]!) fail('keys out of order');
      const length = bitset ? WORDS * 4 : size * 2;
      if ((!bitset && size > ARRAY_MAX) || at + length > bytes.byteLength) fail('chunk out of bounds');
      // A bitset's cardinality is counted again (lazily) rather than trusted from the header.
      const words = () => new Uint32Array(bytes.buffer, bytes.byteOffset + at, WORDS);
      chunks.push(bitset ? new BitsetChunk(words()) : new ArrayChunk(new Uint16Array(bytes.buffer, bytes.byteOffset + at, size)));
      keys.push(key);
      at += (length + 3) & ~3;
    }
    if (at !== bytes.byteLength) fail('trailing bytes');
    return new OrdinalBitmap(keys, chunks);
  }

  /** Approximate heap bytes, for the cache's budget. */
  get bytes(): number {
    let n = 64;
    for (const c of this.chunks) n += 48 + (c instanceof BitsetChunk ? WORDS * 4 : c.values.byteLength);
    return n;
  }

  has(ordinal: number): boolean {
    const at = this.find(ordinal >>> 16);
    return at >= 0 && contains(this.chunks[at]!, ordinal & 0xffff);
  }

  and(other: OrdinalBitmap): OrdinalBitmap {
    const keys: number[] = [];
    const chunks: Chunk[] = [];
    let i = 0;
    let j = 0;
    while (i < this.keys.length && j < other.keys.length) {
      const a = this.keys[i]!;
      const b = other.keys[j]!;
      if (a < b) i++;
      else if (b < a) j++;
      else {
        const c = andChunks(this.chunks[i++]!, other.chunks[j++]!);
        if (c) {
          keys.push(a);
          chunks.push(c);
        }
      }
    }
    return new OrdinalBitmap(keys, chunks);
  }

  andNot(other: OrdinalBitmap): OrdinalBitmap {
    const keys: number[] = [];
    const chunks: Chunk[] = [];
    let j = 0;
    for (let i = 0; i < this.keys.length; i++) {
      const a = this.keys[i]!;
      while (j < other.keys.length && other.keys[j]! < a) j++;
      const c = j < other.keys.length && other.keys[j] === a ? andNotChunks(this.chunks[i]!, other.chunks[j]!) : this.chunks[i]!;
      if (c) {
        keys.push(a);
        chunks.push(c);
      }
    }
    return new OrdinalBitmap(keys, chunks);
  }

  or(other: OrdinalBitmap): OrdinalBitmap {
    const keys: number[] = [];
    const chunks: Chunk[] = [];
    let i = 0;
    let j = 0;
    while (i < this.keys.length || j < other.keys.length) {
      const a = i < this.keys.length ? this.keys[i]! : Infinity;
      const b = j < other.keys.length ? other.keys[j]! : Infinity;
      keys.push(Math.min(a, b));
      if (a < b) chunks.push(this.chunks[i++]!);
      else if (b < a) chunks.push(other.chunks[j++]!);
      else chunks.push(orChunks(this.chunks[i++]!, other.chunks[j++]!));
    }
    return new OrdinalBitmap(keys, chunks);
  }

  /** Up to `limit` members greater than `after`, ascending. */
  page(after: number, limit: number): number[] {
    const out: number[] = [];
    for (const o of this.from(after)) {
      if (out.length >= limit) break;
      out.push(o);
    }
    return out;
  }

  /** Members greater than `after` (-1 for all), ascending. */
  *from(after = -1): Generator<number> {
    const start = after + 1;
    const startKey = start >>> 16;
    for (let k = this.lowerBound(startKey); k < this.keys.length; k++) {
      const base = this.keys[k]! * 0x10000;
      const min = this.keys[k] === startKey ? start & 0xffff : 0;
      const c = this.chunks[k]!;
      if (c instanceof ArrayChunk) {
        for (const v of c.values) if (v >= min) yield base + v;
        continue;
      }
      for (let w = min >>> 5; w < WORDS; w++) {
        let word = c.words[w]!;
        if (w === min >>> 5) word &= ~0 << (min & 31);
        while (word !== 0) {
          const bit = word & -word;
          yield base + w * 32 + (31 - Math.clz32(bit));
          word ^= bit;
        }
      }
    }
  }

  private find(key: number): number {
    const at = this.lowerBound(key);
    return this.keys[at] === key ? at : -1;
  }

  private lowerBound(key: number): number {
    let lo = 0;
    let hi = this.keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.keys[mid]! < key) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
