// The greylist store, behind one small interface so the policy never sees the file system.
// Implementations: the jgreylist tree (tree.ts); later a shared Redis store for several MX hosts.
// Times are seconds since the epoch (fractions allowed); keys come from core/key.ts.

import type { Layout } from '../core/key.js';

export interface Entry {
  readonly key: string;
  /** first seen (the tree's mtime) */
  readonly first: number;
  /** last seen (the tree's atime) */
  readonly last: number;
}

/** Something found in the store that is not an entry and was left alone. */
export interface Anomaly {
  readonly key: string;
  readonly what: 'symlink' | 'not-regular' | 'bad-name' | 'unreadable';
  readonly detail: string;
}

export interface GreyStore {
  readonly layout: Layout;
  /** The entry for `key`, or null when there is none. */
  get(key: string): Promise<Entry | null>;
  /** A first sighting: create the entry with first = last = now (jgreylist's creat()). */
  create(key: string, now: number): Promise<void>;
  /** A revisit: set last seen, keep first seen. */
  touch(key: string, last: number): Promise<void>;
  /** Write an entry with both times (rebuild, import). */
  put(entry: Entry): Promise<void>;
  /** Remove one entry; false when it was not there. */
  remove(key: string): Promise<boolean>;
  /** Every entry, and every anomaly met on the way. */
  scan(): AsyncIterable<Entry | Anomaly>;
}

export function isAnomaly(x: Entry | Anomaly): x is Anomaly {
  return (x as Anomaly).what !== undefined;
}
