/**
 * A map from a dedup key to the position of its latest record, held in typed arrays instead of a
 * `Map` of strings: a key is a 128-bit digest and one number (a time or a day), so millions of keys
 * cost neither garbage collection nor a string each. Open addressing with linear probing, at most
 * half full. The digest is the caller's (store.ts); equal digests and numbers are the same key.
 */

const EMPTY = -1;

export class KeyTable {
  private lanes: Uint32Array;
  private nums: Float64Array;
  private positions: Float64Array;
  private mask: number;
  size = 0;

  constructor(capacity = 1024) {
    const cap = 2 ** Math.ceil(Math.log2(Math.max(16, capacity)));
    this.lanes = new Uint32Array(cap * 4);
    this.nums = new Float64Array(cap);
    this.positions = new Float64Array(cap).fill(EMPTY);
    this.mask = cap - 1;
  }

  /** Sets the key (digest lanes a–d and `num`) to `position`, replacing an earlier one. */
  set(a: number, b: number, c: number, d: number, num: number, position: number): void {
    if ((this.size + 1) * 2 > this.mask + 1) this.grow();
    this.place(a, b, c, d, num, position);
  }

  private place(a: number, b: number, c: number, d: number, num: number, position: number): void {
    const { lanes, nums, positions, mask } = this;
    let i = (a ^ Math.imul((num % 4294967296) | 0, 0x9e3779b1)) & mask;
    for (;;) {
      if (positions[i] === EMPTY) {
        const l = i * 4;
        lanes[l] = a;
        lanes[l + 1] = b;
        lanes[l + 2] = c;
        lanes[l + 3] = d;
        nums[i] = num;
        positions[i] = position;
        this.size += 1;
        return;
      }
      const l = i * 4;
      if (lanes[l] === a && lanes[l + 1] === b && lanes[l + 2] === c && lanes[l + 3] === d && nums[i] === num) {
        positions[i] = position;
        return;
      }
      i = (i + 1) & mask;
    }
  }

  private grow(): void {
    const { lanes, nums, positions } = this;
    const cap = (this.mask + 1) * 2;
    this.lanes = new Uint32Array(cap * 4);
    this.nums = new Float64Array(cap);
    this.positions = new Float64Array(cap).fill(EMPTY);
    this.mask = cap - 1;
    this.size = 0;
    for (let i = 0; i < positions.length; i++) {
      const p = positions[i]!;
      if (p === EMPTY) continue;
      const l = i * 4;
      this.place(lanes[l]!, lanes[l + 1]!, lanes[l + 2]!, lanes[l + 3]!, nums[i]!, p);
    }
  }

  /** The positions held, in no particular order. */
  values(): Float64Array {
    const out = new Float64Array(this.size);
    let n = 0;
    for (const p of this.positions) if (p !== EMPTY) out[n++] = p;
    return out;
  }
}
