// The greylist store, behind one interface so the actions and the policy never see the file
// system. Implementations: the jgreylist tree (tree.ts, run in a process of the tree's owner
// when started as root: privsep.ts), an in-memory store (memory.ts, for tests), and the shared
// Redis store for several MX hosts (redis.ts): every method that may need the network is async.
// Times are seconds since the epoch (fractions allowed); keys come from core/key.ts.
// openStore() (open.ts) is the one way to get one.
//
// No npm imports.

import { clean } from '../core/text.js';
import { QgreyError } from '../core/errors.js';
import type { Layout } from '../core/key.js';

export interface Entry {
  readonly key: string;
  /** first seen (the tree's mtime) */
  readonly first: number;
  /** last seen (the tree's atime) */
  readonly last: number;
}

/** An entry as a scan saw it, with its times in whole seconds as removeIfUnchanged compares them. */
export interface Walked extends Entry {
  readonly mtime: number;
  readonly atime: number;
}

/** Something found in a tree that is not an entry and was left alone (tree-only report). */
export interface Anomaly {
  readonly key: string;
  readonly what: 'symlink' | 'not-regular' | 'bad-name' | 'unreadable' | 'linked';
  readonly detail: string;
}

/** Something where an entry belongs that the store will not use (get, create, touch refuse it). */
export class AnomalyError extends QgreyError {
  readonly anomaly: Anomaly;
  constructor(where: string, anomaly: Anomaly) {
    super(`unsafe greylist entry ${where}/${sanitizeName(anomaly.key)}: ${anomaly.detail}`, 111);
    this.name = 'AnomalyError';
    this.anomaly = anomaly;
  }
}

export interface MergeOptions {
  /** a stored entry last seen at or after this keeps its earlier first / later last seen; an older one is replaced */
  readonly keepSince: number;
  /** no stored time later than this is kept */
  readonly now: number;
  /**
   * sync: the earliest first and the latest last seen exactly, whatever keepSince, now and
   * whole seconds say (an entry never revisited stays so, and jgreylist-clean's rule for it)
   */
  readonly exact?: boolean | undefined;
}

export interface Removed {
  /** entries removed (or, in a dry run, that would be) */
  readonly removed: number;
  /** entries left because they changed since the scan (revisited, recreated, replaced) */
  readonly changed: number;
  /** entries already gone */
  readonly gone: number;
}

export interface Tidied {
  /** containers left empty, removed (the tree's directories) */
  readonly dirs: number;
  /** what interrupted runs left (the tree's temporary files of dead processes), removed */
  readonly temps: number;
}

export interface StoreLock {
  /** what killed runs had left (the tree's staging directories), removed under the lock */
  readonly recovered: number;
  release(): Promise<void>;
}

export interface ScanOptions {
  /** entries per batch (default 4096) */
  readonly batch?: number;
  /**
   * What to do when both layouts are met: 'refuse' (default) throws one error saying so;
   * 'report' passes every entry and calls onMixed once at the end.
   */
  readonly mixed?: 'refuse' | 'report';
  readonly onMixed?: (message: string) => void;
  /** record what tidy() needs (the tree's directories, temporary files) */
  readonly forTidy?: boolean;
}

export interface GreyStore {
  readonly layout: Layout;
  /**
   * Other hosts write these entries too (the shared Redis store): rebuild only merges into
   * it (never removes what it did not read from its own logs), and clean has nothing to do
   * (entries expire by their TTLs). Absent or false: this host's own tree.
   */
  readonly shared?: boolean;
  /** where it is, for messages (the tree's root directory) */
  readonly where: string;
  /** The entry for `key`, or null when there is none. */
  get(key: string): Promise<Entry | null>;
  /** A first sighting: create with first = last = now, only if absent (O_EXCL, SET NX). True when it created. */
  create(key: string, now: number): Promise<boolean>;
  /** A revisit: set last seen, keep first seen. False when the entry is missing. */
  touch(key: string, last: number): Promise<boolean>;
  /**
   * Write entries from another source (rebuild, imports), merged with what is stored at the
   * moment of writing: first = earliest, last = latest (see MergeOptions); a merged entry
   * always looks revisited (whole-second first < last). Returns how many were written.
   */
  merge(entries: readonly Entry[], opts: MergeOptions): Promise<number>;
  /** Remove each entry whose whole-second times are still those scanned (as jgreylist-clean compares). */
  removeIfUnchanged(batch: readonly Walked[], opts?: { readonly dryRun?: boolean }): Promise<Removed>;
  /** Every entry, in batches. */
  scan(opts?: ScanOptions): AsyncIterable<readonly Walked[]>;
  /** After removals: drop what they left empty, and what interrupted runs left. */
  tidy(opts?: { readonly dryRun?: boolean }): Promise<Tidied>;
  /**
   * `qgrey clean` in one call: remove what jgreylist-clean's rules expire at `rules.now`, each
   * only if unchanged since the walk, then tidy (expireByScan). One call so that a store worked
   * on by another process (the tree's owner's) does it there, not entry by entry over a pipe.
   */
  expire(rules: ExpireRules, opts?: { readonly dryRun?: boolean }): Promise<Expired>;
  /** The maintenance lock: one rebuild, clean or evict at a time; waits, then fails with 111. */
  lock(what: string): Promise<StoreLock>;
  close(): Promise<void>;
}

/**
 * The per-connection subset, synchronous: the wrapper's run() (one get, then one create or
 * touch) is synchronous and is also what a resident server calls per connection; a store that
 * needs the network would give an async variant of run().
 */
export interface EntryAccess {
  readonly layout: Layout;
  getSync(key: string): Entry | null;
  createSync(key: string, now: number): boolean;
  touchSync(key: string, last: number): boolean;
}

/** The layout a key belongs to (by its number of components). */
export function keyLayout(key: string): Layout {
  return key.split('/').length === 3 ? 'classc' : 'byip';
}

export function layoutName(l: Layout): string {
  return l === 'classc' ? 'class-C' : 'per-IP';
}

/** The one mixed-layout message (both the scan and the list command say it). */
export function mixedMessage(where: string, classc: string, byip: string): string {
  return `${where} mixes the two layouts (${layoutName('classc')} entry ${classc}, ${layoutName('byip')} entry ${byip}); jgreylist cannot use such a tree: move it aside and rebuild into an empty directory with the layout you want`;
}

/** Store keys and file names are untrusted (the qmail user can write a tree): printable ASCII only. */
export function sanitizeName(name: string): string {
  return clean(name, Infinity, false);
}

/** One line about an anomaly, for stderr: `ROOT/KEY: is a symbolic link; left alone`. */
export function anomalyLine(where: string, a: Anomaly): string {
  return `${where}/${sanitizeName(a.key)}: ${a.detail}`;
}

/** The merge rule of MergeOptions, for every store: `e` merged with the stored `s`. */
export function mergeTimes(e: { first: number; last: number }, s: { first: number; last: number } | null, opts: MergeOptions): { first: number; last: number } {
  if (opts.exact) return s === null ? { first: e.first, last: e.last } : { first: Math.min(e.first, s.first), last: Math.max(e.last, s.last) };
  let first = e.first;
  let last = e.last;
  if (s !== null && s.last >= opts.keepSince) {
    if (s.first < first && s.first <= opts.now) first = s.first;
    const sl = Math.min(s.last, opts.now);
    if (sl > last) last = sl;
  }
  // jgreylist-clean compares whole seconds: a merged entry must never look unrevisited
  if (Math.floor(first) >= Math.floor(last)) first = Math.floor(last) - 1;
  return { first, last };
}

/** Whether an entry still has the whole-second times a scan saw. */
export function unchanged(w: Walked, first: number, last: number): boolean {
  return Math.floor(first) === w.mtime && Math.floor(last) === w.atime;
}

/** jgreylist-clean's rules, in seconds: max-age after the last visit; one-time for an entry never revisited (0: off). */
export interface ExpireRules {
  readonly now: number;
  readonly maxAge: number;
  readonly oneTime: number;
}

export interface Expired {
  /** removed for max-age, for one-time */
  readonly maxAge: number;
  readonly oneTime: number;
  /** entries that stay (those revisited since the walk included) */
  readonly kept: number;
  /** revisited or replaced between the walk and the removal: kept */
  readonly changed: number;
  readonly dirs: number;
  readonly temps: number;
}

/**
 * jgreylist-clean's rules on an entry's whole-second times: 1 when it goes for max-age, 2 for
 * one-time, 0 when it stays.
 */
export function expiredAt(mtime: number, atime: number, r: ExpireRules): 0 | 1 | 2 {
  const age = r.now - atime;
  if (age > r.maxAge) return 1;
  if (r.oneTime > 0 && atime === mtime && age > r.oneTime) return 2;
  return 0;
}

/** Why an entry goes under `r`, or null when it stays. */
export function expiredBy(w: Walked, r: ExpireRules): 'max-age' | 'one-time' | null {
  const why = expiredAt(w.mtime, w.atime, r);
  return why === 1 ? 'max-age' : why === 2 ? 'one-time' : null;
}

/**
 * expire() by the seam's own steps, for the stores that hold no more than they can list (memory,
 * Redis): the whole store is walked first (a mixed one is refused before anything goes), then
 * what expired is removed if unchanged, then tidy; what goes is held between the walk and the
 * removal. The tree sweeps as it walks instead (TreeStore.expire, sweep.ts).
 */
export async function expireByScan(store: GreyStore, r: ExpireRules, opts: { readonly dryRun?: boolean } = {}): Promise<Expired> {
  const maxAgeGo: Walked[] = [];
  const oneTimeGo: Walked[] = [];
  let kept = 0;
  for await (const batch of store.scan({ forTidy: true })) {
    for (const w of batch) {
      const why = expiredBy(w, r);
      if (why === 'max-age') maxAgeGo.push(w);
      else if (why === 'one-time') oneTimeGo.push(w);
      else kept++;
    }
  }
  // the wrapper may have touched an entry since the walk: each is looked at again
  const a = await store.removeIfUnchanged(maxAgeGo, opts);
  const b = await store.removeIfUnchanged(oneTimeGo, opts);
  const t = await store.tidy(opts);
  return { maxAge: a.removed, oneTime: b.removed, kept: kept + a.changed + b.changed, changed: a.changed + b.changed, dirs: t.dirs, temps: t.temps };
}
