// The earliest and the latest time seen per numeric key (rebuild's IPv4 class-C networks or
// addresses, as unsigned 32-bit numbers), in typed arrays: an open-addressing hash table with
// linear probing. 20 bytes a slot and at most half the slots used, no object per key for the
// garbage collector to trace, and no string until a key is written. Pure.

const EMPTY = NaN;

export class TimesTable {
  private keys: Uint32Array;
  private first: Float64Array;
  private last: Float64Array;
  private mask: number;
  /** 32 - log2(slots): a slot is the top bits of the key times the golden ratio (Fibonacci hashing) */
  private shift: number;
  private used = 0;

  constructor(capacity = 1024) {
    let cap = 16;
    while (cap < capacity * 2) cap *= 2;
    this.mask = cap - 1;
    this.shift = 32 - Math.log2(cap);
    this.keys = new Uint32Array(cap);
    this.first = new Float64Array(cap).fill(EMPTY);
    this.last = new Float64Array(cap);
  }

  /** keys held */
  get size(): number {
    return this.used;
  }

  private slot(key: number): number {
    return Math.imul(key, 0x9e3779b1) >>> this.shift;
  }

  /** Take time `t` (never NaN) for `key` (0 to 2^32 - 1): the key's first is the least, its last the greatest. */
  add(key: number, t: number): void {
    const keys = this.keys;
    const first = this.first;
    const mask = this.mask;
    for (let i = this.slot(key); ; i = (i + 1) & mask) {
      const f = first[i]!;
      if (f !== f) {
        keys[i] = key;
        first[i] = t;
        this.last[i] = t;
        if (++this.used * 2 > mask) this.grow();
        return;
      }
      if (keys[i] === key) {
        if (t < f) first[i] = t;
        else if (t > this.last[i]!) this.last[i] = t;
        return;
      }
    }
  }

  private find(key: number): number {
    const mask = this.mask;
    for (let i = this.slot(key); ; i = (i + 1) & mask) {
      const f = this.first[i]!;
      if (f !== f) return -1;
      if (this.keys[i] === key) return i;
    }
  }

  has(key: number): boolean {
    return this.find(key) >= 0;
  }

  /** Every key with its first and last time, in ascending order of the keys. */
  forEach(f: (key: number, first: number, last: number) => void): void {
    const keys = new Uint32Array(this.used);
    let n = 0;
    for (let i = 0; i <= this.mask; i++) if (this.first[i] === this.first[i]) keys[n++] = this.keys[i]!;
    keys.sort();
    for (const key of keys) {
      const i = this.find(key);
      f(key, this.first[i]!, this.last[i]!);
    }
  }

  private grow(): void {
    const { keys, first, last } = this;
    const cap = (this.mask + 1) * 2;
    this.mask = cap - 1;
    this.shift--;
    this.keys = new Uint32Array(cap);
    this.first = new Float64Array(cap).fill(EMPTY);
    this.last = new Float64Array(cap);
    for (let j = 0; j < keys.length; j++) {
      const t = first[j]!;
      if (t !== t) continue;
      let i = this.slot(keys[j]!);
      while (this.first[i] === this.first[i]) i = (i + 1) & this.mask;
      this.keys[i] = keys[j]!;
      this.first[i] = t;
      this.last[i] = last[j]!;
    }
  }
}
