// Walking a jgreylist tree: depth-first in sorted order, one lstat per entry file, never
// following a symlink. Directories are entered one relative component at a time through a
// Cursor (cursor.ts), so every name is looked up inside the directory the walk means.
// Symlinks, non-regular files, hard-linked entries and foreign names are reported as
// anomalies and left alone. Also: the layout of a tree from its first entries.
//
// No npm imports.

import { lstatSync, readdirSync, statSync, statfsSync, type Dirent, type Stats } from 'node:fs';
import { V6_DIR, type Layout } from '../core/key.js';
import { QgreyError, reason } from '../core/errors.js';
import { Cursor } from './cursor.js';
import { OURS_PREFIX, linkedAnomaly } from './entries.js';
import { layoutName, type Anomaly, type Walked } from './store.js';

export const OCTET_NAME = /^(?:[01][0-9][0-9]|2[0-4][0-9]|25[0-5])$/;
export const HEX8_NAME = /^[0-9a-f]{8}$/;
export const HEX16_NAME = /^[0-9a-f]{16}$/;

export type WalkItem =
  | { readonly type: 'entry'; readonly entry: Walked; readonly layout: Layout }
  | { readonly type: 'anomaly'; readonly anomaly: Anomaly }
  /**
   * a directory, after its contents (post-order); `holds`: how many things in it stay that no
   * item of their own says (clean's sweep: the entries it kept, sweep.ts)
   */
  | { readonly type: 'dir'; readonly key: string; readonly holds?: number }
  /** a temporary file an interrupted put may have left beside entries (only with `temps`) */
  | { readonly type: 'temp'; readonly key: string };

export interface WalkOptions {
  /** entries of the other layout are anomalies; undefined: accept both, each with its layout */
  readonly layout?: Layout | undefined;
  /** also yield directories (after their contents) */
  readonly dirs?: boolean;
  /** yield our temporary files as `temp` items instead of reporting them as foreign names */
  readonly temps?: boolean;
}

const TEMP_NAME = /^\.qgrey-tmp\.([1-9][0-9]{0,9})\.[0-9a-f]{1,16}$/;

/** The name of a temporary file the tree writes beside an entry (`.qgrey-tmp.PID.NAME`). */
export function isOurTemp(name: string): boolean {
  return TEMP_NAME.test(name);
}

/** The pid in a temporary file's name. */
export function tempPid(name: string): number {
  const m = TEMP_NAME.exec(name);
  return m === null ? 0 : Number(m[1]);
}

export const left = (what: Anomaly['what'], key: string, detail: string): WalkItem => ({ type: 'anomaly', anomaly: { key, what, detail } });

function code(err: unknown): string | undefined {
  return (err as { code?: string } | null)?.code;
}

export function treeRootError(root: string, err: unknown): QgreyError {
  const c = code(err);
  if (c === 'ENOENT' || c === 'ENOTDIR') return new QgreyError(`greylist directory ${root} does not exist or is not a directory`, 100, { cause: err });
  return new QgreyError(`unable to read greylist directory ${root}: ${reason(err)}`, 111, { cause: err });
}

function byName(a: Dirent, b: Dirent): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** stat of the tree's root (following a symlink the admin may have made), as the cursor's anchor */
export function rootStat(root: string): Stats {
  let st: Stats;
  try {
    st = statSync(root);
  } catch (err) {
    throw treeRootError(root, err);
  }
  if (!st.isDirectory()) throw new QgreyError(`greylist directory ${root} does not exist or is not a directory`, 100);
  return st;
}

/** The walk; leaves() is what clean's sweep (sweep.ts) does its own way. */
export class Walker {
  constructor(
    protected readonly cur: Cursor,
    private readonly only: Layout | undefined,
    protected readonly wantDirs: boolean,
    private readonly temps: boolean,
  ) {}

  protected list(rel: string): Dirent[] | string {
    if (!this.cur.cd(rel)) return 'it changed during the walk (gone, or no longer a directory reached without a symlink)';
    try {
      return readdirSync('.', { withFileTypes: true }).sort(byName);
    } catch (err) {
      return reason(err);
    }
  }

  *top(): Generator<WalkItem> {
    const top = this.list('');
    if (typeof top === 'string') throw new QgreyError(`unable to read greylist directory ${this.cur.root}: ${top}`, 111);
    for (const d of top) {
      const name = d.name;
      if (name.startsWith(OURS_PREFIX)) continue;
      if (d.isSymbolicLink()) {
        yield left('symlink', name, 'is a symbolic link; left alone');
        continue;
      }
      if (name !== V6_DIR && !OCTET_NAME.test(name)) {
        // jgreylist-clean never touches files in the root; report foreign names, change nothing
        yield left('bad-name', name, 'is not part of a jgreylist tree; left alone');
        continue;
      }
      if (!d.isDirectory()) {
        yield left('not-regular', name, 'is not a directory; left alone');
        continue;
      }
      yield* this.level(name, 1, name === V6_DIR);
    }
  }

  // depth = number of components in `rel`. v4: aaa(1) / bbb(2) / ccc(3: file or dir) / ddd(4: file)
  // v6: v6(1) / h8(2) / h8(3: file or dir) / h16(4: file)
  private *level(rel: string, depth: number, v6: boolean): Generator<WalkItem> {
    if (depth >= 2) {
      yield* this.leaves(rel, depth, v6);
      return;
    }
    const list = this.list(rel);
    if (typeof list === 'string') {
      yield left('unreadable', rel, `cannot be read: ${list}`);
      return;
    }
    const nameOk = v6 ? HEX8_NAME : OCTET_NAME;
    for (const d of list) {
      const name = d.name;
      const key = rel + '/' + name;
      if (!nameOk.test(name)) yield left('bad-name', key, 'is not part of a jgreylist tree; left alone');
      else if (d.isSymbolicLink()) yield left('symlink', key, 'is a symbolic link; left alone');
      else if (!d.isDirectory()) yield left('not-regular', key, `is ${d.isFile() ? 'a regular file' : 'not a directory'}, expected a directory; left alone`);
      else yield* this.level(key, depth + 1, v6);
    }
    if (this.wantDirs) yield { type: 'dir', key: rel };
  }

  /**
   * A directory whose children are entry files or per-IP containers: names from readdir, then
   * one lstat per child from inside the directory, which says what it is and gives its times.
   */
  protected *leaves(rel: string, depth: number, v6: boolean): Generator<WalkItem> {
    const nameOk = leafNames(depth, v6);
    const list = this.list(rel);
    if (typeof list === 'string') {
      yield left('unreadable', rel, `cannot be read: ${list}`);
      return;
    }
    // lstat everything first, while the working directory is this one (a consumer may move it)
    const stats: (Stats | undefined | string)[] = new Array<Stats | undefined | string>(list.length);
    for (let i = 0; i < list.length; i++) {
      const name = list[i]!.name;
      if (!nameOk.test(name)) continue;
      try {
        stats[i] = lstatSync(name, { throwIfNoEntry: false });
      } catch (err) {
        stats[i] = reason(err);
      }
    }
    const leafDepth = depth + 1; // depth of each child's key
    const layout: Layout = leafDepth === 3 ? 'classc' : 'byip';
    const only = this.only;
    for (let i = 0; i < list.length; i++) {
      const name = list[i]!.name;
      const key = rel + '/' + name;
      if (!nameOk.test(name)) {
        if (this.temps && isOurTemp(name)) yield { type: 'temp', key };
        else yield left('bad-name', key, 'is not part of a jgreylist tree; left alone');
        continue;
      }
      const st = stats[i];
      if (typeof st === 'string') {
        yield left('unreadable', key, `cannot be examined: ${st}`);
        continue;
      }
      if (st === undefined) continue; // removed meanwhile
      if (st.isFile()) {
        if (only !== undefined && layout !== only) {
          yield left('not-regular', key, `is a ${layoutName(layout)} entry in a ${layoutName(only)} tree; left alone`);
          continue;
        }
        if (st.nlink > 1) {
          yield { type: 'anomaly', anomaly: linkedAnomaly(key, st) };
          continue;
        }
        const mtime = Math.floor(st.mtimeMs / 1000);
        const atime = Math.floor(st.atimeMs / 1000);
        yield { type: 'entry', entry: { key, first: st.mtimeMs / 1000, last: st.atimeMs / 1000, mtime, atime }, layout };
        continue;
      }
      if (st.isSymbolicLink()) {
        yield left('symlink', key, 'is a symbolic link; left alone');
        continue;
      }
      if (st.isDirectory()) {
        if (leafDepth === 3) {
          // a per-IP container
          if (only === 'classc') {
            yield left('not-regular', key, 'is a directory (per-IP layout) in a class-C tree; left alone');
            continue;
          }
          yield* this.leaves(key, leafDepth, v6);
          continue;
        }
        yield left('not-regular', key, 'is a directory, expected a regular file; left alone');
        continue;
      }
      yield left('not-regular', key, 'is not a regular file; left alone');
    }
    if (this.wantDirs) yield { type: 'dir', key: rel };
  }
}

/**
 * Walk the tree at `root` (absolute, or relative to the working directory at the call). The
 * working directory moves inside the tree while the walk runs: `cursor.leave()` restores it.
 */
export function* walkTree(root: string, opts: WalkOptions = {}, cursor: Cursor = Cursor.of(root, rootStat(root))): Generator<WalkItem> {
  const w = new Walker(cursor, opts.layout, opts.dirs === true, opts.temps === true);
  try {
    yield* w.top();
  } finally {
    cursor.leave();
  }
}

/** The names a directory at `depth` (components of its key) holds, below the top two levels. */
export function leafNames(depth: number, v6: boolean): RegExp {
  return v6 ? (depth === 3 ? HEX16_NAME : HEX8_NAME) : OCTET_NAME;
}

function readDir(path: string): Dirent[] {
  return readdirSync(path, { withFileTypes: true });
}

/**
 * The layout of an existing tree and the first entry that shows it, from a few readdirs; null
 * for an empty tree. Maintenance commands walk the whole tree and refuse a mixed one.
 */
export function detectLayout(root: string): { layout: Layout; key: string } | null {
  let top: Dirent[];
  try {
    top = readDir(root);
  } catch (err) {
    throw treeRootError(root, err);
  }
  const firstDirs = (p: string, re: RegExp): string[] => {
    try {
      return readDir(p)
        .filter((d) => d.isDirectory() && re.test(d.name))
        .map((d) => d.name)
        .sort();
    } catch {
      return [];
    }
  };
  const look = (dir: string, rel: string, re: RegExp): { layout: Layout; key: string } | null => {
    let third: Dirent[];
    try {
      third = readDir(dir).sort(byName);
    } catch {
      return null;
    }
    for (const c of third) {
      if (!re.test(c.name)) continue;
      if (c.isFile()) return { layout: 'classc', key: rel + '/' + c.name };
      if (c.isDirectory()) return { layout: 'byip', key: rel + '/' + c.name };
    }
    return null;
  };
  for (const a of top.filter((d) => d.isDirectory() && OCTET_NAME.test(d.name)).map((d) => d.name).sort()) {
    for (const b of firstDirs(root + '/' + a, OCTET_NAME)) {
      const r = look(root + '/' + a + '/' + b, a + '/' + b, OCTET_NAME);
      if (r !== null) return r;
    }
  }
  // only IPv6 entries: they tell the layout too
  for (const a of firstDirs(root + '/' + V6_DIR, HEX8_NAME)) {
    const r = look(root + '/' + V6_DIR + '/' + a, V6_DIR + '/' + a, HEX8_NAME);
    if (r !== null) return r;
  }
  return null;
}

/**
 * File systems whose directory link counts need not be 2 + the subdirectories (gnulib's fts
 * leaves them out of its leaf optimization for that): NFS, SMB and CIFS, AFS, FUSE, proc.
 */
const NLINK_UNTRUSTED = new Set([0x6969, 0x517b, 0xfe534d42, 0xff534d42, 0x5346414f, 0x65735546, 0x9fa0]);

/** Found by layoutsIn(): the first entry of each layout, in the walk's order. */
export interface LayoutsFound {
  classc?: string;
  byip?: string;
}

/**
 * The first entry of each layout in the tree at `root`, as a walk would find them (a regular
 * file with one link and a jgreylist name at the third or fourth level), from directory
 * listings: clean removes as it walks, and refuses a mixed tree with this before it removes
 * anything. Cheap for a class-C tree: a second-level directory whose link count is 2 has no
 * subdirectories, so no per-IP entries, and is not read (on a file system whose link counts
 * say so; elsewhere, and when a per-IP entry is found, every one is). Only the candidates are
 * lstat'ed. Read-only: it reads by path, as detectLayout does.
 */
export function layoutsIn(root: string): LayoutsFound {
  const found: LayoutsFound = {};
  let trust = false;
  try {
    trust = !NLINK_UNTRUSTED.has(statfsSync(root).type);
  } catch {
    /* unknown: read every directory */
  }
  const dirs = (p: string, names: (name: string) => boolean): string[] => {
    try {
      return readDir(p)
        .filter((d) => d.isDirectory() && names(d.name))
        .map((d) => d.name)
        .sort();
    } catch {
      return [];
    }
  };
  const isEntry = (p: string): boolean => {
    try {
      const st = lstatSync(p, { throwIfNoEntry: false });
      return st !== undefined && st.isFile() && st.nlink === 1;
    } catch {
      return false;
    }
  };
  const sorted = (p: string): Dirent[] => {
    try {
      return readDir(p).sort(byName);
    } catch {
      return [];
    }
  };
  /** the first entry of a third-level directory (`rel`: two components) in the walk's order */
  const firstIn = (rel: string, v6: boolean, want: 'classc' | 'byip'): string | undefined => {
    const list = sorted(root + '/' + rel);
    const third = leafNames(2, v6);
    const fourth = leafNames(3, v6);
    for (const c of list) {
      if (!third.test(c.name)) continue;
      const key = rel + '/' + c.name;
      if (want === 'classc') {
        if (c.isFile() && isEntry(root + '/' + key)) return key;
      } else if (c.isDirectory()) {
        for (const d of sorted(root + '/' + key)) if (fourth.test(d.name) && d.isFile() && isEntry(root + '/' + key + '/' + d.name)) return key + '/' + d.name;
      }
    }
    return undefined;
  };
  const top = dirs(root, (n) => !n.startsWith(OURS_PREFIX) && (n === V6_DIR || OCTET_NAME.test(n)));
  /** every second-level directory in the walk's order, until `f` says stop */
  const each = (f: (rel: string, v6: boolean) => boolean): void => {
    for (const a of top) {
      const v6 = a === V6_DIR;
      for (const b of dirs(root + '/' + a, (n) => (v6 ? HEX8_NAME : OCTET_NAME).test(n))) if (f(a + '/' + b, v6)) return;
    }
  };
  // per-IP entries live in subdirectories of the second level's directories
  each((rel, v6) => {
    if (trust) {
      try {
        if (lstatSync(root + '/' + rel).nlink === 2) return false;
      } catch {
        return false;
      }
    }
    const key = firstIn(rel, v6, 'byip');
    if (key !== undefined) found.byip = key;
    return key !== undefined;
  });
  if (found.byip !== undefined) {
    each((rel, v6) => {
      const key = firstIn(rel, v6, 'classc');
      if (key !== undefined) found.classc = key;
      return key !== undefined;
    });
  }
  return found;
}
