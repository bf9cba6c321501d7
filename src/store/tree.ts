// The jgreylist tree as a GreyStore: entries (entries.ts), the walk (walk.ts) in batches, the
// lock (lock.ts), and the maintenance operations:
//   merge: the entries the tree lacks are built beside it in ROOT/.qgrey-rebuild.PID.TIME
//     and renamed in, a whole missing subtree at once; an entry the tree has gets its times
//     written in place, merged with what it holds at that moment (the wrapper may have written
//     since the scan). No moment without an entry; a crash leaves a staging tree that the next
//     lock removes.
//   removeIfUnchanged: each entry looked at again from inside its directory, unlinked only
//     if its whole-second times are still those the scan saw.
//   tidy: directories left empty (post-order), temporary files of dead processes.
//   expire (`qgrey clean`): all three in one pass, directory by directory (sweep.ts), after a
//     look at the directory names that refuses a mixed tree (layoutsIn); memory stays flat.
// This runs as the tree's owner: in-process for the wrapper and for a user who owns the tree,
// in a child process of that uid for a command started as root (privsep.ts).
//
// No npm imports.

import { DEFAULT_LOCK_WAIT } from '../core/config.js';
import { closeSync, constants as C, fchownSync, futimesSync, lchownSync, lstatSync, lutimesSync, mkdirSync, openSync, readdirSync, renameSync, rmdirSync, rmSync, unlinkSync, type Stats } from 'node:fs';
import { resolve } from 'node:path';
import { QgreyError, reason } from '../core/errors.js';
import type { Layout } from '../core/key.js';
import { Cursor } from './cursor.js';
import { DIR_MODE, FILE_MODE, OURS_PREFIX, TreeEntries, anomalyOf, linkedAnomaly } from './entries.js';
import { lockTree, type LockWait } from './lock.js';
import type { Owner } from './owner.js';
import {
  keyLayout,
  layoutName,
  mergeTimes,
  mixedMessage,
  type Anomaly,
  type Entry,
  type ExpireRules,
  type Expired,
  type GreyStore,
  type MergeOptions,
  type Removed,
  type ScanOptions,
  type StoreLock,
  type Tidied,
  type Walked,
} from './store.js';
import { detectLayout, layoutsIn, rootStat, tempPid, walkTree } from './walk.js';
import { GONE, REMOVED, Sweeper, pidExists, sweepTree, unlinkIfUnchanged } from './sweep.js';

/** Staging trees of rebuild runs live in the root under this prefix. */
export const STAGE_PREFIX = OURS_PREFIX + '-rebuild.';

export interface TreeConfig {
  readonly dir: string;
  /** the layout asked for; refused when the tree holds the other one */
  readonly layout?: Layout | undefined;
  /** where the asked layout came from when not a flag, for the refusal (e.g. JGREYLIST_BY_IP) */
  readonly layoutSource?: string | undefined;
  /** owner of new files and directories (chown'ed when it is not us) */
  readonly owner?: Owner | undefined;
  /** things in the tree that are not entries, left alone */
  readonly onAnomaly?: ((a: Anomaly) => void) | undefined;
  /** asked now and then during long work; false stops it (the tree process's parent is gone) */
  readonly alive?: (() => boolean) | undefined;
  /** seconds lock() waits for another run's lock (QGREY_LOCK_WAIT), or how to read them when a lock is taken; DEFAULT_LOCK_WAIT when not given */
  readonly lockWait?: LockWait | undefined;
}

const code = (err: unknown) => (err as { code?: string } | null)?.code;

function fsFail(verb: string, p: string, err: unknown): QgreyError {
  if (err instanceof QgreyError) return err;
  // a full disk, a quota, an I/O error: temporary; everything else is one too (cron retries)
  return new QgreyError(`unable to ${verb} ${p}: ${reason(err)}`, 111, { cause: err });
}

const parentOf = (key: string) => {
  const i = key.lastIndexOf('/');
  return i === -1 ? '' : key.slice(0, i);
};

/** Open the tree at `dir`, detecting its layout (or checking the one asked for against it). */
export function openTree(cfg: TreeConfig, where = cfg.dir): TreeStore {
  const root = resolve(cfg.dir);
  const st = rootStat(root);
  const found = detectLayout(root);
  if (cfg.layout !== undefined && found !== null && found.layout !== cfg.layout) {
    throw new QgreyError(
      `${where} holds ${layoutName(found.layout)} entries (e.g. ${found.key}), but ${layoutName(cfg.layout)} was asked for${cfg.layoutSource ? ` (${cfg.layoutSource})` : ''}; refusing to mix layouts`,
      100,
    );
  }
  return new TreeStore(root, where, cfg.layout ?? found?.layout ?? 'classc', Cursor.of(root, st), cfg);
}

export class TreeStore implements GreyStore {
  readonly entries: TreeEntries;
  private readonly onAnomaly: (a: Anomaly) => void;
  private readonly owner: Owner | undefined;
  private readonly alive: () => boolean;
  private readonly lockWait: LockWait;
  /** keys the last scan saw (merge updates those in place) */
  private known = new Set<string>();
  /** for tidy: per directory, how many things in it stay; directories in post-order; temporary files */
  private holds: Map<string, number> | null = null;
  private dirs: string[] = [];
  private temps: string[] = [];
  /** directories above removed entries (tidy without a scan record) */
  private emptied = new Set<string>();

  constructor(
    readonly root: string,
    readonly where: string,
    readonly layout: Layout,
    private readonly cursor: Cursor,
    cfg: TreeConfig,
  ) {
    this.entries = new TreeEntries(root, layout, { owner: cfg.owner });
    this.owner = cfg.owner;
    this.onAnomaly = cfg.onAnomaly ?? (() => {});
    this.alive = cfg.alive ?? (() => true);
    this.lockWait = cfg.lockWait ?? DEFAULT_LOCK_WAIT;
  }

  /** every 64 calls, whether to go on */
  private beat = 0;
  private check(): void {
    if ((++this.beat & 63) === 0 && !this.alive()) throw new QgreyError('stopped: the command that asked for this is gone', 111);
  }

  async get(key: string): Promise<Entry | null> {
    return this.entries.getSync(key);
  }

  async create(key: string, now: number): Promise<boolean> {
    return this.entries.createSync(key, now);
  }

  async touch(key: string, last: number): Promise<boolean> {
    return this.entries.touchSync(key, last);
  }

  async lock(what: string): Promise<StoreLock> {
    const lock = await lockTree(this.root, what, this.lockWait);
    let recovered: number;
    try {
      recovered = this.removeLeftovers();
    } catch (err) {
      lock.release();
      throw fsFail('remove the leftovers in', this.root, err);
    }
    return { recovered, release: async () => lock.release() };
  }

  /** What killed rebuild runs left in the root (only while holding the lock). */
  private removeLeftovers(): number {
    let n = 0;
    for (const name of readdirSync(this.root)) {
      if (!name.startsWith(STAGE_PREFIX)) continue;
      // rmSync never follows a symlink inside what it removes
      rmSync(this.root + '/' + name, { recursive: true, force: true });
      n++;
    }
    return n;
  }

  async *scan(opts: ScanOptions = {}): AsyncIterable<readonly Walked[]> {
    const size = opts.batch ?? 4096;
    const tidy = opts.forTidy === true;
    const known = new Set<string>();
    const holds = tidy ? new Map<string, number>() : null;
    const hold = (key: string) => {
      if (holds === null) return;
      const d = parentOf(key);
      if (d !== '') holds.set(d, (holds.get(d) ?? 0) + 1);
    };
    const dirs: string[] = [];
    const temps: string[] = [];
    const seen: Partial<Record<Layout, string>> = {};
    let batch: Walked[] = [];
    const walk = walkTree(this.root, { dirs: tidy, temps: tidy }, this.cursor);
    try {
      for (const x of walk) {
        if (x.type === 'entry') {
          const key = x.entry.key;
          if (seen[x.layout] === undefined) {
            seen[x.layout] = key;
            if (seen.classc !== undefined && seen.byip !== undefined && opts.mixed !== 'report') {
              throw new QgreyError(mixedMessage(this.where, seen.classc, seen.byip), 100);
            }
          }
          known.add(key);
          hold(key);
          batch.push(x.entry);
          if (batch.length >= size) {
            this.cursor.leave();
            yield batch;
            batch = [];
          }
        } else if (x.type === 'anomaly') {
          hold(x.anomaly.key);
          if (batch.length > 0) {
            // what came before the anomaly first, so that a listing keeps the walk's order
            this.cursor.leave();
            yield batch;
            batch = [];
          }
          this.onAnomaly(x.anomaly);
        } else if (x.type === 'temp') {
          hold(x.key);
          temps.push(x.key);
        } else dirs.push(x.key);
      }
    } finally {
      walk.return(undefined);
      this.cursor.leave();
    }
    this.known = known;
    this.holds = holds;
    this.dirs = dirs;
    this.temps = temps;
    if (batch.length > 0) yield batch;
    if (seen.classc !== undefined && seen.byip !== undefined) opts.onMixed?.(mixedMessage(this.where, seen.classc, seen.byip));
  }

  async removeIfUnchanged(batch: readonly Walked[], opts: { readonly dryRun?: boolean } = {}): Promise<Removed> {
    const dry = opts.dryRun === true;
    let removed = 0;
    let changed = 0;
    let gone = 0;
    let inDir: string | null = null;
    let dirOk = false;
    try {
      for (const w of batch) {
        this.check();
        const dir = parentOf(w.key);
        const name = w.key.slice(dir.length + 1);
        if (dir !== inDir) {
          inDir = dir;
          dirOk = this.entries.layout === keyLayout(w.key) && this.cursor.cd(dir);
          if (!dirOk) this.onAnomaly({ key: dir, what: 'not-regular', detail: 'changed since the walk (gone, or no longer a directory); left its entries alone' });
        }
        if (!dirOk) {
          changed++;
          continue;
        }
        const r = unlinkIfUnchanged(name, w.mtime, w.atime, dry, dir === '' ? this.root : `${this.root}/${dir}`);
        if (r === GONE) gone++;
        else if (r !== REMOVED) changed++;
        else {
          removed++;
          this.removedOne(w.key);
        }
      }
    } finally {
      this.cursor.leave();
    }
    return { removed, changed, gone };
  }

  private removedOne(key: string): void {
    const d = parentOf(key);
    if (this.holds !== null) this.holds.set(d, (this.holds.get(d) ?? 1) - 1);
    else for (let p = d; p !== ''; p = parentOf(p)) this.emptied.add(p);
  }

  /**
   * jgreylist-clean's rules in one pass (sweep.ts): each directory's expired entries removed if
   * unchanged as it is read, its dead runs' temporary files with them, then the directory when
   * nothing in it stays. A mixed tree is refused first, from its directory names (layoutsIn).
   */
  async expire(rules: ExpireRules, opts: { readonly dryRun?: boolean } = {}): Promise<Expired> {
    const dry = opts.dryRun === true;
    const mixed = layoutsIn(this.root);
    if (mixed.classc !== undefined && mixed.byip !== undefined) throw new QgreyError(mixedMessage(this.where, mixed.classc, mixed.byip), 100);
    const s = new Sweeper(this.cursor, { rules, dryRun: dry, layout: this.layout, where: this.where, root: this.root, beat: () => this.check() });
    // per directory not yet done: how many things in it stay (its kept subdirectories, anomalies)
    const holds = new Map<string, number>();
    const hold = (key: string) => {
      const d = parentOf(key);
      if (d !== '') holds.set(d, (holds.get(d) ?? 0) + 1);
    };
    let dirs = 0;
    const walk = sweepTree(this.cursor, s);
    try {
      for (const x of walk) {
        if (x.type === 'anomaly') {
          hold(x.anomaly.key);
          this.onAnomaly(x.anomaly);
        } else if (x.type === 'dir') {
          const n = (holds.get(x.key) ?? 0) + (x.holds ?? 0);
          holds.delete(x.key);
          if (n > 0 || (!dry && !this.rmdirIn(x.key))) hold(x.key);
          else dirs++;
        }
      }
    } finally {
      walk.return(undefined);
      this.cursor.leave();
    }
    return { maxAge: s.maxAge, oneTime: s.oneTime, kept: s.kept + s.changed, changed: s.changed, dirs, temps: s.removedTemps };
  }

  async tidy(opts: { readonly dryRun?: boolean } = {}): Promise<Tidied> {
    const dry = opts.dryRun === true;
    let dirs = 0;
    let temps = 0;
    try {
      if (this.holds === null) {
        // no scan record: the directories above what was removed, deepest first
        for (const d of [...this.emptied].sort((a, b) => b.length - a.length || (a < b ? 1 : -1))) {
          if (!dry && this.rmdirIn(d)) dirs++;
        }
        this.emptied.clear();
        return { dirs, temps };
      }
      const holds = this.holds;
      const release = (d: string) => holds.set(d, (holds.get(d) ?? 1) - 1);
      for (const key of this.temps) {
        const dir = parentOf(key);
        const name = key.slice(dir.length + 1);
        const pid = tempPid(name);
        if (pid <= 0 || pidExists(pid)) continue; // not a pid we can check, or alive: keep it
        if (dry) {
          temps++;
          release(dir);
          continue;
        }
        if (!this.cursor.cd(dir)) continue;
        const st = lstatSync(name, { throwIfNoEntry: false });
        if (st === undefined || !st.isFile()) continue;
        try {
          unlinkSync(name);
          temps++;
          release(dir);
        } catch {
          /* gone meanwhile, or not ours to remove: leave it */
        }
      }
      // post-order: a directory's contents came before it
      for (const d of this.dirs) {
        const keep = (holds.get(d) ?? 0) > 0 || (!dry && !this.rmdirIn(d));
        if (keep) {
          const p = parentOf(d);
          if (p !== '') holds.set(p, (holds.get(p) ?? 0) + 1);
        } else dirs++;
      }
      this.holds = null;
      return { dirs, temps };
    } finally {
      this.cursor.leave();
    }
  }

  /** rmdir `rel` from inside its parent; false when it is not empty or not there. */
  private rmdirIn(rel: string): boolean {
    const p = parentOf(rel);
    if (!this.cursor.cd(p)) return false;
    try {
      rmdirSync(rel.slice(p === '' ? 0 : p.length + 1));
      return true;
    } catch {
      return false;
    }
  }

  async merge(entries: readonly Entry[], opts: MergeOptions): Promise<number> {
    const stage = `${this.root}/${STAGE_PREFIX}${process.pid}.${Math.floor(opts.now)}`;
    const sorted = [...entries].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    for (const e of sorted) this.entries.check(e.key);
    const existing: Entry[] = [];
    let staging = true;
    const onSignal = (sig: NodeJS.Signals) => {
      if (staging) rmSync(stage, { recursive: true, force: true });
      process.kill(process.pid, sig);
    };
    const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
    for (const s of signals) process.once(s, onSignal);
    try {
      // only what the tree lacks is staged; entries it has are updated in place
      const builder = new Builder(stage, this.owner);
      builder.mkdir('');
      for (const e of sorted) {
        this.check();
        if (this.known.has(e.key)) {
          existing.push(e);
          continue;
        }
        const t = mergeTimes(e, null, opts);
        builder.file(e.key, t.first, t.last);
      }
      const byKey = new Map(sorted.map((e) => [e.key, e]));
      const swap = new Swapper(this.root, stage, this.owner, (key, live) => {
        this.check();
        const e = byKey.get(key);
        return e === undefined ? null : mergeTimes(e, live, opts);
      }, this.onAnomaly);
      swap.dir('');
      for (const e of existing) {
        this.check();
        swap.updateKey(e.key);
      }
      return sorted.length;
    } finally {
      rmSync(stage, { recursive: true, force: true });
      staging = false;
      for (const s of signals) process.off(s, onSignal);
    }
  }

  async close(): Promise<void> {
    this.cursor.leave();
  }
}

/** Writes the staging tree: keys in sorted order, so each directory is made once. */
class Builder {
  private readonly made = new Set<string>();
  private readonly chown: boolean;
  constructor(
    private readonly base: string,
    private readonly owner: Owner | undefined,
  ) {
    this.chown = owner !== undefined && (owner.uid !== process.geteuid?.() || owner.gid !== process.getegid?.());
  }

  mkdir(rel: string): void {
    const p = rel === '' ? this.base : this.base + '/' + rel;
    try {
      mkdirSync(p, DIR_MODE);
      if (this.chown) lchownSync(p, this.owner!.uid, this.owner!.gid);
    } catch (err) {
      throw fsFail('create directory', p, err);
    }
    this.made.add(rel);
  }

  file(key: string, first: number, last: number): void {
    let i = key.indexOf('/');
    while (i !== -1) {
      const d = key.slice(0, i);
      if (!this.made.has(d)) this.mkdir(d);
      i = key.indexOf('/', i + 1);
    }
    writeEntry(this.base + '/' + key, first, last, this.chown ? this.owner : undefined);
  }
}

/** A new entry file at `p` (O_EXCL, never through a symlink), both times set through the descriptor. */
function writeEntry(p: string, first: number, last: number, owner: Owner | undefined): void {
  let fd: number;
  try {
    fd = openSync(p, C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW | C.O_NONBLOCK, FILE_MODE);
  } catch (err) {
    throw fsFail('create', p, err);
  }
  try {
    if (owner !== undefined) fchownSync(fd, owner.uid, owner.gid);
    futimesSync(fd, last, first);
  } catch (err) {
    closeSync(fd);
    throw fsFail('write', p, err);
  }
  closeSync(fd);
}

type Lookup = (key: string, live: { first: number; last: number }) => { first: number; last: number } | null;

/** Moves the staged tree into the live one without a moment where an entry is missing. */
class Swapper {
  private readonly asRoot: boolean;
  private readonly euid: number;
  private readonly dirsOk = new Set<string>();
  private readonly dirsBad = new Set<string>();
  constructor(
    private readonly root: string,
    private readonly stage: string,
    private readonly owner: Owner | undefined,
    private readonly lookup: Lookup,
    private readonly onAnomaly: (a: Anomaly) => void,
  ) {
    this.euid = process.geteuid?.() ?? -1;
    this.asRoot = this.euid === 0;
  }

  private odd(rel: string, st: Stats, expected: 'directory' | 'regular file'): void {
    const a = st.isFile() && st.nlink > 1 ? linkedAnomaly(rel, st) : anomalyOf(rel, st, expected);
    this.onAnomaly({ ...a, detail: `${a.detail} (its rebuilt entry is not written)` });
  }

  private fixOwner(p: string, st: Stats): void {
    const o = this.owner;
    if (this.asRoot && o !== undefined && (st.uid !== o.uid || st.gid !== o.gid)) {
      try {
        lchownSync(p, o.uid, o.gid);
      } catch (err) {
        throw fsFail('change the owner of', p, err);
      }
    }
  }

  /** Merge the staged directory `rel` (relative; '' = the top) into the live tree. */
  dir(rel: string): void {
    const sdir = rel === '' ? this.stage : this.stage + '/' + rel;
    const names = readdirSync(sdir, { withFileTypes: true });
    for (const d of names) {
      const r = rel === '' ? d.name : rel + '/' + d.name;
      const lp = this.root + '/' + r;
      const sp = sdir + '/' + d.name;
      let st = lstatOrNull(lp);
      if (st === null) {
        // nothing there: the whole staged subtree (or entry) appears at once
        try {
          renameSync(sp, lp);
          continue;
        } catch (err) {
          const c = code(err);
          if (c !== 'EEXIST' && c !== 'ENOTEMPTY' && c !== 'EISDIR' && c !== 'ENOTDIR') throw fsFail('rename into place', lp, err);
          st = lstatOrNull(lp); // the wrapper made it meanwhile
          if (st === null) throw fsFail('rename into place', lp, err);
        }
      }
      if (d.isDirectory()) {
        if (!st.isDirectory()) {
          this.odd(r, st, 'directory');
          continue;
        }
        this.fixOwner(lp, st);
        this.dirsOk.add(r);
        this.dir(r);
      } else this.update(r, lp, st);
    }
  }

  /** An entry the live tree had at the scan: check its directories (once each), then update it. */
  updateKey(key: string): void {
    let i = key.indexOf('/');
    while (i !== -1) {
      const d = key.slice(0, i);
      if (!this.dirsOk.has(d)) {
        if (this.dirsBad.has(d)) return;
        const st = lstatOrNull(this.root + '/' + d);
        if (st === null) return; // removed meanwhile: the entry is gone too
        if (!st.isDirectory()) {
          this.dirsBad.add(d);
          this.odd(d, st, 'directory');
          return;
        }
        this.fixOwner(this.root + '/' + d, st);
        this.dirsOk.add(d);
      }
      i = key.indexOf('/', i + 1);
    }
    const lp = this.root + '/' + key;
    const st = lstatOrNull(lp);
    if (st !== null) this.update(key, lp, st);
  }

  /**
   * An entry in both trees: merged with what it holds now, the times written with lutimes
   * (never through a symlink). A hard-linked file is left alone; one of another owner that we
   * may not re-time (we are not root) is replaced by a new file of ours.
   */
  private update(key: string, lp: string, st: Stats): void {
    if (!st.isFile() || st.nlink > 1) {
      this.odd(key, st, 'regular file');
      return;
    }
    const t = this.lookup(key, { first: st.mtimeMs / 1000, last: st.atimeMs / 1000 });
    if (t === null) return;
    try {
      if (!this.asRoot && st.uid !== this.euid) {
        const tmp = lp.slice(0, lp.lastIndexOf('/') + 1) + `${OURS_PREFIX}-tmp.${process.pid}.${key.slice(key.lastIndexOf('/') + 1)}`;
        writeEntry(tmp, t.first, t.last, undefined);
        renameSync(tmp, lp);
        return;
      }
      lutimesSync(lp, t.last, t.first);
      const o = this.owner;
      if (this.asRoot && o !== undefined && (st.uid !== o.uid || st.gid !== o.gid)) lchownSync(lp, o.uid, o.gid);
    } catch (err) {
      if (code(err) === 'ENOENT') return;
      throw fsFail('set the times of', lp, err);
    }
  }
}

function lstatOrNull(p: string): Stats | null {
  try {
    return lstatSync(p, { throwIfNoEntry: false }) ?? null;
  } catch (err) {
    throw fsFail('examine', p, err);
  }
}
