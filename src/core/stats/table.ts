// The collector's columnar rows (one per greylisted key or address, kept in typed arrays
// behind a Map) and the ids they are kept under: a number for IPv4, hex for IPv6.

import { keyOf, type Layout } from '../key.js';
import { formatIp, ip6Hex, ip4Octets, type Ip } from '../ip.js';

export type Id = number | string;

/** row flags: came back (keys) or retried (addresses); delivered (addresses) */
export const BACK = 1;
export const DELIVERED = 2;

/**
 * A map from ids to whole numbers of at least 0 (row numbers): the number ids (IPv4, signed
 * 32-bit) in an open-addressing hash table of two typed arrays (8 bytes a slot, at most half
 * of them used: no Map entry for the collector to allocate or trace), the IPv6 ids (strings)
 * in a Map. Iterates the number ids first, in no particular order, then the strings.
 */
export class IdMap {
  private keys = new Int32Array(1024);
  /** -1: the slot is empty */
  private vals = new Int32Array(1024).fill(-1);
  private mask = 1023;
  /** 32 - log2(slots): a slot is the top bits of the id times the golden ratio */
  private shift = 22;
  private nums = 0;
  private readonly strs = new Map<string, number>();

  get size(): number {
    return this.nums + this.strs.size;
  }

  private slot(id: number): number {
    return Math.imul(id, 0x9e3779b1) >>> this.shift;
  }

  get(id: Id): number | undefined {
    if (typeof id !== 'number') return this.strs.get(id);
    const { keys, vals, mask } = this;
    for (let i = this.slot(id); ; i = (i + 1) & mask) {
      const v = vals[i]!;
      if (v < 0) return undefined;
      if (keys[i] === id) return v;
    }
  }

  has(id: Id): boolean {
    return this.get(id) !== undefined;
  }

  /** `value` must be at least 0 */
  set(id: Id, value: number): void {
    if (typeof id !== 'number') {
      this.strs.set(id, value);
      return;
    }
    const { keys, vals, mask } = this;
    for (let i = this.slot(id); ; i = (i + 1) & mask) {
      if (vals[i]! < 0) {
        keys[i] = id;
        vals[i] = value;
        if (++this.nums * 2 > mask) this.grow();
        return;
      }
      if (keys[i] === id) {
        vals[i] = value;
        return;
      }
    }
  }

  /** Every id with its value, in the order entries() gives them, with no pair made for each. */
  forEach(f: (id: Id, value: number) => void): void {
    const { keys, vals } = this;
    for (let i = 0; i < vals.length; i++) if (vals[i]! >= 0) f(keys[i]!, vals[i]!);
    for (const [id, v] of this.strs) f(id, v);
  }

  *entries(): IterableIterator<[Id, number]> {
    const { keys, vals } = this;
    for (let i = 0; i < vals.length; i++) if (vals[i]! >= 0) yield [keys[i]!, vals[i]!];
    yield* this.strs.entries();
  }

  [Symbol.iterator](): IterableIterator<[Id, number]> {
    return this.entries();
  }

  private grow(): void {
    const { keys, vals } = this;
    const cap = vals.length * 2;
    this.keys = new Int32Array(cap);
    this.vals = new Int32Array(cap).fill(-1);
    this.mask = cap - 1;
    this.shift--;
    for (let j = 0; j < vals.length; j++) {
      if (vals[j]! < 0) continue;
      let i = this.slot(keys[j]!);
      while (this.vals[i]! >= 0) i = (i + 1) & this.mask;
      this.keys[i] = keys[j]!;
      this.vals[i] = vals[j]!;
    }
  }
}

/** A set of ids, kept as IdMap keeps them. */
export class IdSet {
  private readonly map = new IdMap();
  get size(): number {
    return this.map.size;
  }
  has(id: Id): boolean {
    return this.map.has(id);
  }
  add(id: Id): void {
    this.map.set(id, 0);
  }
  *[Symbol.iterator](): IterableIterator<Id> {
    for (const [id] of this.map.entries()) yield id;
  }
}

/**
 * Rows of numbers per key or address, kept in typed columns: an IdMap from the id to a row
 * number plus one array per field. About 40 bytes a row (16 of the index, 21 of columns, both
 * at most twice what is used), instead of an object per row.
 */
export class Table {
  readonly index = new IdMap();
  /** time of the first greylist (keys only) */
  first: Float64Array;
  /** time of the first accepted mail after it, NaN until then (keys only) */
  delivered: Float64Array;
  greys: Int32Array;
  /** BACK (came back / retried), DELIVERED (addresses) */
  flags: Uint8Array;
  private cap: number;
  constructor(
    private readonly times: boolean,
    private readonly max: number,
  ) {
    this.cap = Math.min(1024, max);
    this.first = new Float64Array(times ? this.cap : 0);
    this.delivered = new Float64Array(times ? this.cap : 0);
    this.greys = new Int32Array(this.cap);
    this.flags = new Uint8Array(this.cap);
  }

  get size(): number {
    return this.index.size;
  }

  /** A new row for `id` (the caller checked it is absent), or -1 when the table is full. */
  add(id: Id, time: number): number {
    const row = this.index.size;
    if (row >= this.max) return -1;
    if (row === this.cap) this.grow();
    this.index.set(id, row);
    this.greys[row] = 1;
    if (this.times) {
      this.first[row] = time;
      this.delivered[row] = NaN;
    }
    return row;
  }

  private grow(): void {
    const cap = Math.min(this.cap * 2, this.max);
    const more = <T extends Float64Array | Int32Array | Uint8Array>(a: T, make: (n: number) => T): T => {
      if (a.length === 0) return a;
      const b = make(cap);
      b.set(a);
      return b;
    };
    this.first = more(this.first, (n) => new Float64Array(n));
    this.delivered = more(this.delivered, (n) => new Float64Array(n));
    this.greys = more(this.greys, (n) => new Int32Array(n));
    this.flags = more(this.flags, (n) => new Uint8Array(n));
    this.cap = cap;
  }
}

/** An address as a map id: the number for IPv4 (as a signed 32-bit integer, a small integer to V8), 32 hex digits for IPv6. */
export function ipId(ip: Ip): Id {
  return ip.family === 4 ? ip.value | 0 : ip6Hex(ip);
}

/** The key of an address as a map id: class C number / address number, or hex of the /64 / address. */
export function keyId(ip: Ip, layout: Layout): Id {
  if (ip.family === 4) return layout === 'byip' ? ip.value | 0 : ip.value >>> 8;
  const h = ip6Hex(ip);
  return layout === 'byip' ? h : h.slice(0, 16);
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
