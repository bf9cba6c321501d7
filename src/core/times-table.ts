// The earliest and the latest time seen per numeric key (rebuild's IPv4 class-C networks or
// addresses, as unsigned 32-bit numbers), in one typed array: an open-addressing hash table with
// linear probing. A slot is three numbers side by side (key, first, last: one cache line to
// look at, not three), 24 bytes, and at most half the slots are used; no object per key for the
// garbage collector to trace, and no string until a key is written. Pure.

const EMPTY = NaN;

export class TimesTable {
  /** slot i: key at 3i, first at 3i + 1 (NaN: the slot is empty), last at 3i + 2 */
  private slots: Float64Array;
  private mask: number;
  /** 32 - log2(slots): a slot is the top bits of the key times the golden ratio (Fibonacci hashing) */
  private shift: number;
  private used = 0;

  constructor(capacity = 1024) {
    let cap = 16;
    while (cap < capacity * 2) cap *= 2;
    this.mask = cap - 1;
    this.shift = 32 - Math.log2(cap);
    this.slots = TimesTable.empty(cap);
  }

  private static empty(cap: number): Float64Array {
    const s = new Float64Array(cap * 3);
    for (let i = 1; i < s.length; i += 3) s[i] = EMPTY;
    return s;
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
    this.span(key, t, t);
  }

  /** Take the times `first` <= `last` (never NaN) for `key`, as add() of each would. */
  span(key: number, first: number, last: number): void {
    const s = this.slots;
    const mask = this.mask;
    for (let i = this.slot(key); ; i = (i + 1) & mask) {
      const at = 3 * i;
      const f = s[at + 1]!;
      if (f !== f) {
        s[at] = key;
        s[at + 1] = first;
        s[at + 2] = last;
        if (++this.used * 2 > mask) this.grow();
        return;
      }
      if (s[at] === key) {
        if (first < f) s[at + 1] = first;
        if (last > s[at + 2]!) s[at + 2] = last;
        return;
      }
    }
  }

  private find(key: number): number {
    const s = this.slots;
    const mask = this.mask;
    for (let i = this.slot(key); ; i = (i + 1) & mask) {
      const f = s[3 * i + 1]!;
      if (f !== f) return -1;
      if (s[3 * i] === key) return 3 * i;
    }
  }

  has(key: number): boolean {
    return this.find(key) >= 0;
  }

  /** Every key with its first and last time, in ascending order of the keys. */
  forEach(f: (key: number, first: number, last: number) => void): void {
    const s = this.slots;
    const keys = new Uint32Array(this.used);
    let n = 0;
    for (let at = 0; at < s.length; at += 3) if (s[at + 1] === s[at + 1]) keys[n++] = s[at]!;
    keys.sort();
    for (const key of keys) {
      const at = this.find(key);
      f(key, s[at + 1]!, s[at + 2]!);
    }
  }

  private grow(): void {
    const old = this.slots;
    const cap = (this.mask + 1) * 2;
    this.mask = cap - 1;
    this.shift--;
    const s = (this.slots = TimesTable.empty(cap));
    for (let j = 0; j < old.length; j += 3) {
      const t = old[j + 1]!;
      if (t !== t) continue;
      let i = this.slot(old[j]!);
      while (s[3 * i + 1] === s[3 * i + 1]) i = (i + 1) & this.mask;
      s[3 * i] = old[j]!;
      s[3 * i + 1] = t;
      s[3 * i + 2] = old[j + 2]!;
    }
  }
}
