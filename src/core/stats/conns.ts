// The collector's open connections: for each pid, the decision its wrapper line gave, the
// address and the time, until `tcpserver: end PID`. A hash table of typed arrays, by pid: a
// decision line and an end line per connection are the commonest lines after the accepted
// ones, and a Map of an object per connection made and dropped that many entries and tables
// (its deletions shrink it) that the garbage collector had to carry.

import type { ConnectionKind } from './schema.js';
import type { Id } from './table.js';

/** the kinds a connection can have, by number; 0 (none) marks an empty slot */
export const KINDS: readonly ConnectionKind[] = ['none', 'known', 'whitelisted', 'relayclient', 'failOpen', 'other'];

const FIRST_SLOTS = 1024;

/** a slot of a pid: the low 32 bits and those above mixed, times the golden ratio, top bits */
const hashOf = (pid: number, shift: number) => Math.imul((pid | 0) ^ ((pid / 4294967296) | 0), 0x9e3779b1) >>> shift;

/**
 * Connections by pid, with linear probing (an entry goes where its hash says or after it,
 * deleted entries shift back, so there are no tombstones); at most half the slots used.
 */
export class Conns {
  private pids = new Float64Array(FIRST_SLOTS);
  /** the kind's number in KINDS; 0: empty slot */
  private kinds = new Uint8Array(FIRST_SLOTS);
  private times = new Float64Array(FIRST_SLOTS);
  private ips: Id[] = new Array<Id>(FIRST_SLOTS).fill(0);
  private mask = FIRST_SLOTS - 1;
  private shift = 32 - Math.log2(FIRST_SLOTS);
  private n = 0;

  get size(): number {
    return this.n;
  }

  private slotOf(pid: number): number {
    const { pids, kinds, mask } = this;
    for (let i = hashOf(pid, this.shift); ; i = (i + 1) & mask) if (kinds[i] === 0 || pids[i] === pid) return i;
  }

  /**
   * The kind of the connection `pid` when it is open from the address `ip` and began less
   * than `window` seconds before `time`; else 0 (none).
   */
  kindFor(pid: number, ip: Id, time: number, window: number): number {
    const i = this.slotOf(pid);
    const k = this.kinds[i]!;
    return k !== 0 && this.ips[i] === ip && time - this.times[i]! < window ? k : 0;
  }

  /** Open (or replace) the connection `pid`: `kind` a number of KINDS, not 0. */
  set(pid: number, kind: number, ip: Id, time: number): void {
    let i = this.slotOf(pid);
    if (this.kinds[i] === 0) {
      if ((this.n + 1) * 2 > this.kinds.length) {
        this.resize(this.kinds.length * 2, -Infinity, NaN);
        i = this.slotOf(pid);
      }
      this.n++;
      this.pids[i] = pid;
    }
    this.kinds[i] = kind;
    this.ips[i] = ip;
    this.times[i] = time;
  }

  delete(pid: number): void {
    const { pids, kinds, times, ips, mask } = this;
    let i = this.slotOf(pid);
    if (kinds[i] === 0) return;
    this.n--;
    // shift back the entries after it that may not sit past the hole
    for (let j = (i + 1) & mask; kinds[j] !== 0; j = (j + 1) & mask) {
      const home = hashOf(pids[j]!, this.shift);
      // the entry at j stays when its home is cyclically in (i, j]
      if (i <= j ? i < home && home <= j : i < home || home <= j) continue;
      pids[i] = pids[j]!;
      kinds[i] = kinds[j]!;
      times[i] = times[j]!;
      ips[i] = ips[j]!;
      i = j;
    }
    kinds[i] = 0;
    ips[i] = 0;
  }

  /** Keep only the connections that began less than `window` seconds before `time`. */
  forgetBefore(time: number, window: number): void {
    this.resize(this.kinds.length, time, window);
  }

  clear(): void {
    this.kinds.fill(0);
    this.ips.fill(0);
    this.n = 0;
  }

  /** The entries into `slots` slots, those whose time is not within `window` of `now` left out (none with now = -Infinity). */
  private resize(slots: number, now: number, window: number): void {
    const { pids, kinds, times, ips } = this;
    this.pids = new Float64Array(slots);
    this.kinds = new Uint8Array(slots);
    this.times = new Float64Array(slots);
    this.ips = new Array<Id>(slots).fill(0);
    this.mask = slots - 1;
    this.shift = 32 - Math.log2(slots);
    this.n = 0;
    for (let j = 0; j < kinds.length; j++) {
      if (kinds[j] === 0 || (now !== -Infinity && !(now - times[j]! < window))) continue;
      const i = this.slotOf(pids[j]!);
      this.pids[i] = pids[j]!;
      this.kinds[i] = kinds[j]!;
      this.times[i] = times[j]!;
      this.ips[i] = ips[j]!;
      this.n++;
    }
  }
}
