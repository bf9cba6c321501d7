// A GreyStore in memory: the same contract as the tree without a file system, so the actions'
// tests can run against both and compare (and a second store has a model to follow).
//
// No npm imports.

import { QgreyError } from '../core/errors.js';
import { validKey, type Layout } from '../core/key.js';
import { layoutName, mergeTimes, unchanged, expireByScan, type Entry, type EntryAccess, type ExpireRules, type Expired, type GreyStore, type MergeOptions, type Removed, type ScanOptions, type StoreLock, type Tidied, type Walked } from './store.js';

export class MemoryStore implements GreyStore, EntryAccess {
  private readonly data = new Map<string, { first: number; last: number }>();
  private locked: string | null = null;

  constructor(
    readonly layout: Layout,
    readonly where = 'memory',
  ) {}

  private check(key: string): void {
    if (!validKey(key, this.layout)) throw new QgreyError(`not a ${layoutName(this.layout)} key: ${JSON.stringify(key)}`, 100);
  }

  /** Write an entry as it is (tests' set-up). */
  put(e: Entry): void {
    this.check(e.key);
    this.data.set(e.key, { first: e.first, last: e.last });
  }

  /** Every entry, sorted by key. */
  all(): Entry[] {
    return [...this.data].map(([key, t]) => ({ key, ...t })).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  getSync(key: string): Entry | null {
    this.check(key);
    const t = this.data.get(key);
    return t === undefined ? null : { key, first: t.first, last: t.last };
  }

  createSync(key: string, now: number): boolean {
    this.check(key);
    if (this.data.has(key)) return false;
    this.data.set(key, { first: now, last: now });
    return true;
  }

  touchSync(key: string, last: number): boolean {
    this.check(key);
    const t = this.data.get(key);
    if (t === undefined) return false;
    t.last = last;
    return true;
  }

  async get(key: string): Promise<Entry | null> {
    return this.getSync(key);
  }

  async create(key: string, now: number): Promise<boolean> {
    return this.createSync(key, now);
  }

  async touch(key: string, last: number): Promise<boolean> {
    return this.touchSync(key, last);
  }

  async merge(entries: readonly Entry[], opts: MergeOptions): Promise<number> {
    for (const e of entries) this.check(e.key);
    for (const e of entries) this.data.set(e.key, mergeTimes(e, this.data.get(e.key) ?? null, opts));
    return entries.length;
  }

  async removeIfUnchanged(batch: readonly Walked[], opts: { readonly dryRun?: boolean } = {}): Promise<Removed> {
    let removed = 0;
    let changed = 0;
    let gone = 0;
    for (const w of batch) {
      const t = this.data.get(w.key);
      if (t === undefined) gone++;
      else if (!unchanged(w, t.first, t.last)) changed++;
      else {
        if (opts.dryRun !== true) this.data.delete(w.key);
        removed++;
      }
    }
    return { removed, changed, gone };
  }

  async *scan(opts: ScanOptions = {}): AsyncIterable<readonly Walked[]> {
    const size = opts.batch ?? 4096;
    let batch: Walked[] = [];
    for (const e of this.all()) {
      batch.push({ ...e, mtime: Math.floor(e.first), atime: Math.floor(e.last) });
      if (batch.length >= size) {
        yield batch;
        batch = [];
      }
    }
    if (batch.length > 0) yield batch;
  }

  expire(rules: ExpireRules, opts: { readonly dryRun?: boolean } = {}): Promise<Expired> {
    return expireByScan(this, rules, opts);
  }

  async tidy(): Promise<Tidied> {
    return { dirs: 0, temps: 0 };
  }

  async lock(what: string): Promise<StoreLock> {
    if (this.locked !== null) throw new QgreyError(`${this.where} is locked by another maintenance run (${this.locked}); try again later`, 111);
    this.locked = what;
    return {
      recovered: 0,
      release: async () => {
        this.locked = null;
      },
    };
  }

  async close(): Promise<void> {}
}
