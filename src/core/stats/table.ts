// The collector's columnar rows (one per greylisted key or address, kept in typed arrays
// behind a hash index of typed arrays) and the ids they are kept under: a number for IPv4,
// hex for IPv6.

import { keyOf, type Layout } from '../key.js';
import { formatIp, ip4Octets, type Ip } from '../ip.js';

export type Id = number | string;

/** row flags: came back (keys) or retried (addresses); delivered (addresses) */
export const BACK = 1;
export const DELIVERED = 2;

/**
 * Rows set aside when a table is made, up to its maximum: typed arrays that large are mapped
 * from the system zero-filled and become memory only as rows are written, so a table that
 * stays small costs little, and one that grows to this never copies its columns (a copy holds
 * the old and the new array at once: the peak). Past it, the columns double as they fill.
 */
const RESERVED_ROWS = 1 << 20;

/** a slot is the top bits of the id times the golden ratio */
const hashOf = (id: number, shift: number) => Math.imul(id, 0x9e3779b1) >>> shift;

/**
 * Row numbers 0, 1, 2, ... of ids, in the order they were added. Number ids (IPv4, signed
 * 32-bit) are found through an open-addressing table of row numbers (4 bytes a slot, at most
 * three quarters of the slots used) and kept in a column, 5 bytes a row with the column that
 * says which rows have a string id; string ids (IPv6, few) are in a Map.
 */
export class IdIndex {
  /** per row: the number id, or for a string id its place in `strList` */
  private nums: Int32Array;
  /** per row: 1 when the id is a string */
  private isStr: Uint8Array;
  /** row + 1 of a number id, 0 for an empty slot */
  private slots = new Int32Array(1024);
  private mask = 1023;
  private shift = 22;
  /** number ids, for the load of `slots` */
  private nnums = 0;
  private readonly strs = new Map<string, number>();
  private readonly strList: string[] = [];
  private n = 0;

  constructor(reserve: number) {
    this.nums = new Int32Array(reserve);
    this.isStr = new Uint8Array(reserve);
  }

  get size(): number {
    return this.n;
  }

  /** the rows the columns hold now */
  get capacity(): number {
    return this.nums.length;
  }

  /** The row of a number id, or -1. */
  rowOfNum(id: number): number {
    const { slots, nums, mask } = this;
    for (let i = hashOf(id, this.shift); ; i = (i + 1) & mask) {
      const s = slots[i]!;
      if (s === 0) return -1;
      if (nums[s - 1] === id) return s - 1;
    }
  }

  /** The row of `id`, or -1. */
  rowOf(id: Id): number {
    return typeof id === 'number' ? this.rowOfNum(id) : (this.strs.get(id) ?? -1);
  }

  has(id: Id): boolean {
    return this.rowOf(id) >= 0;
  }

  /** The id of a row. */
  idOf(row: number): Id {
    return this.isStr[row] === 1 ? this.strList[this.nums[row]!]! : this.nums[row]!;
  }

  /** A new row for `id`, which must be absent; the caller makes room first (grow). */
  add(id: Id): number {
    const row = this.n++;
    if (typeof id !== 'number') {
      this.isStr[row] = 1;
      this.nums[row] = this.strList.length;
      this.strList.push(id);
      this.strs.set(id, row);
      return row;
    }
    this.nums[row] = id;
    if (++this.nnums * 4 > this.slots.length * 3) this.rehash(this.slots.length * 2);
    else this.place(row);
    return row;
  }

  /** Columns for `cap` rows (more than now), the rows kept. */
  grow(cap: number): void {
    this.nums = widen(this.nums, cap);
    this.isStr = widen(this.isStr, cap);
  }

  private place(row: number): void {
    const { slots, mask } = this;
    let i = hashOf(this.nums[row]!, this.shift);
    while (slots[i] !== 0) i = (i + 1) & mask;
    slots[i] = row + 1;
  }

  private rehash(size: number): void {
    this.slots = new Int32Array(size);
    this.mask = size - 1;
    this.shift = 32 - Math.log2(size);
    for (let row = 0; row < this.n; row++) if (this.isStr[row] === 0) this.place(row);
  }
}

/** `a` with room for `cap` items, its items kept (a itself when it is that long already). */
function widen<T extends Float64Array | Int32Array | Uint8Array>(a: T, cap: number): T {
  if (a.length >= cap) return a;
  const b = new (a.constructor as new (n: number) => T)(cap);
  b.set(a);
  return b;
}

/**
 * A set of ids: number ids in an open-addressing table of the ids themselves (4 bytes a
 * slot, at most three quarters used; 0 marks an empty slot, so the id 0 is a flag of its
 * own), string ids in a Set.
 */
export class IdSet {
  private slots = new Int32Array(1024);
  private mask = 1023;
  private shift = 22;
  private nnums = 0;
  private zero = false;
  private readonly strs = new Set<string>();

  get size(): number {
    return this.nnums + (this.zero ? 1 : 0) + this.strs.size;
  }

  has(id: Id): boolean {
    if (typeof id !== 'number') return this.strs.has(id);
    if (id === 0) return this.zero;
    const { slots, mask } = this;
    for (let i = hashOf(id, this.shift); ; i = (i + 1) & mask) {
      const s = slots[i]!;
      if (s === 0) return false;
      if (s === id) return true;
    }
  }

  add(id: Id): void {
    if (typeof id !== 'number') {
      this.strs.add(id);
      return;
    }
    if (id === 0) {
      this.zero = true;
      return;
    }
    const { slots, mask } = this;
    let i = hashOf(id, this.shift);
    for (; slots[i] !== 0; i = (i + 1) & mask) if (slots[i] === id) return;
    slots[i] = id;
    if (++this.nnums * 4 > slots.length * 3) this.rehash();
  }

  /** Every id, in no particular order. */
  forEach(f: (id: Id) => void): void {
    if (this.zero) f(0);
    const { slots } = this;
    for (let i = 0; i < slots.length; i++) if (slots[i] !== 0) f(slots[i]!);
    for (const s of this.strs) f(s);
  }

  private rehash(): void {
    const old = this.slots;
    const slots = (this.slots = new Int32Array(old.length * 2));
    const mask = (this.mask = slots.length - 1);
    this.shift--;
    for (let j = 0; j < old.length; j++) {
      const id = old[j]!;
      if (id === 0) continue;
      let i = hashOf(id, this.shift);
      while (slots[i] !== 0) i = (i + 1) & mask;
      slots[i] = id;
    }
  }
}

/**
 * Rows of numbers per key or address, kept in typed columns behind an IdIndex: 26 bytes a
 * row with the times (keys), 10 without (addresses), the index's columns counted, and its
 * slots (5 to 11 bytes a row); no object per row. At most `max` rows.
 */
export class Table {
  readonly index: IdIndex;
  /** time of the first greylist (keys only) */
  first: Float64Array;
  /** time of the first accepted mail after it, NaN until then (keys only) */
  delivered: Float64Array;
  greys: Int32Array;
  /** BACK (came back / retried), DELIVERED (addresses) */
  flags: Uint8Array;
  constructor(
    private readonly times: boolean,
    private readonly max: number,
  ) {
    const cap = Math.min(RESERVED_ROWS, max);
    this.index = new IdIndex(cap);
    this.first = new Float64Array(times ? cap : 0);
    this.delivered = new Float64Array(times ? cap : 0);
    this.greys = new Int32Array(cap);
    this.flags = new Uint8Array(cap);
  }

  get size(): number {
    return this.index.size;
  }

  /** The row of `id`, or -1. */
  rowOf(id: Id): number {
    return this.index.rowOf(id);
  }

  /** A new row for `id` (the caller checked it is absent), or -1 when the table is full. */
  add(id: Id, time: number): number {
    const n = this.index.size;
    if (n >= this.max) return -1;
    if (n === this.index.capacity) this.grow(Math.min(n * 2, this.max));
    const row = this.index.add(id);
    this.greys[row] = 1;
    if (this.times) {
      this.first[row] = time;
      this.delivered[row] = NaN;
    }
    return row;
  }

  /** Every row with its id, in the order they were added. */
  forEach(f: (id: Id, row: number) => void): void {
    const { index } = this;
    for (let row = 0; row < index.size; row++) f(index.idOf(row), row);
  }

  private grow(cap: number): void {
    this.index.grow(cap);
    if (this.times) {
      this.first = widen(this.first, cap);
      this.delivered = widen(this.delivered, cap);
    }
    this.greys = widen(this.greys, cap);
    this.flags = widen(this.flags, cap);
  }
}

const HEX = Buffer.from('0123456789abcdef', 'latin1');
/** the text of an id being made: one flat string of it, not a string per piece joined */
const idText = Buffer.alloc(32);

/**
 * The 32 hex digits of an IPv6 address's groups (ip6Hex of core/ip.ts, without an array and
 * a string per group): its id as an address; the first 16 are its /64's.
 */
export function ip6Id(groups: ArrayLike<number>): string {
  for (let i = 0; i < 8; i++) {
    const g = groups[i]!;
    idText[4 * i] = HEX[g >>> 12]!;
    idText[4 * i + 1] = HEX[(g >>> 8) & 15]!;
    idText[4 * i + 2] = HEX[(g >>> 4) & 15]!;
    idText[4 * i + 3] = HEX[g & 15]!;
  }
  return idText.toString('latin1', 0, 32);
}

/** An address as a map id: the number for IPv4 (as a signed 32-bit integer, a small integer to V8), 32 hex digits for IPv6. */
export function ipId(ip: Ip): Id {
  return ip.family === 4 ? ip.value | 0 : ip6Id(ip.groups);
}

/**
 * The key of an address as a map id, from the address's id: the class C number or the
 * address number for IPv4, the hex of the /64 or of the address for IPv6.
 */
export function keyOfIpId(iid: Id, layout: Layout): Id {
  if (layout === 'byip') return iid;
  return typeof iid === 'number' ? iid >>> 8 : iid.slice(0, 16);
}

export function ipOfId(id: Id): Ip {
  if (typeof id === 'number') return { family: 4, value: id >>> 0, mapped: false };
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push(i * 4 < id.length ? parseInt(id.slice(i * 4, i * 4 + 4), 16) : 0);
  return { family: 6, groups };
}

/** The tree key of a key id. */
export function keyOfId(id: Id, layout: Layout): string {
  if (typeof id === 'number') return keyOf({ family: 4, value: layout === 'byip' ? id >>> 0 : id * 256, mapped: false }, layout);
  return keyOf(ipOfId(id) as Ip, layout);
}

/** `192.0.2.0/24` or `2001:db8:0:1::/64` for the network of an address id. */
export function netOfIpId(id: Id): string {
  if (typeof id === 'number') {
    const [a, b, c] = ip4Octets({ family: 4, value: id >>> 0, mapped: false });
    return `${a}.${b}.${c}.0/24`;
  }
  return formatIp(ipOfId(id.slice(0, 16))) + '/64';
}

/** Address and network ids in address order: IPv4 (unsigned) before IPv6. */
export function byId(a: Id, b: Id): number {
  if (typeof a === 'number') return typeof b === 'number' ? (a >>> 0) - (b >>> 0) : -1;
  if (typeof b === 'number') return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}
