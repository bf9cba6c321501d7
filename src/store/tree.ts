// The jgreylist tree: one empty file per key, mtime = first seen, atime = last seen.
//
//   ROOT/aaa/bbb/ccc            class C (jgreylist's default)
//   ROOT/aaa/bbb/ccc/ddd        per IP (JGREYLIST_BY_IP=1)
//   ROOT/v6/HHHHHHHH/HHHHHHHH   IPv6 /64 (jgreylist never looks under v6/)
//   ROOT/v6/HHHHHHHH/HHHHHHHH/HHHHHHHHHHHHHHHH   IPv6 per address (--by-ip)
//   ROOT/.qgrey*                our lock file and rebuild staging trees (jgreylist ignores them)
//
// Directories 0700, files 0600 (reduced by the umask, as jgreylist does), owned like the
// root directory or as given. The tree is writable by the qmail user and the maintenance
// jobs may run as root, so nothing here follows a symlink inside the tree: every directory
// component is lstat'ed (or mkdir'ed and then lstat'ed), and entry files are opened with
// O_NOFOLLOW | O_NONBLOCK and checked with fstat before their times are written through
// the descriptor. What is not a directory or a regular file is reported and left alone.
//
// Remaining race (documented in README): a component that is swapped for a symlink
// between its lstat and the final open is not detected; the final component never is
// followed. Node has no openat(), which would close it.
//
// No npm imports: the per-connection wrapper uses this module.

import {
  closeSync,
  constants as C,
  fstatSync,
  fchownSync,
  futimesSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  rmdirSync,
  unlinkSync,
  type Dirent,
  type Stats,
} from 'node:fs';
import { getSystemErrorName } from 'node:util';
import { V6_DIR, validKey, type Layout } from '../core/key.js';
import { QgreyError, quote, reason } from '../core/errors.js';
import type { Anomaly, Entry, GreyStore } from './store.js';
import type { TreeFs } from '../native/treefs.js';

export const DIR_MODE = 0o700;
export const FILE_MODE = 0o600;
/** names in the root that belong to qgrey itself (lock, staging trees) */
export const OURS_PREFIX = '.qgrey';

const O_OPEN_ENTRY = C.O_RDONLY | C.O_NOFOLLOW | C.O_NONBLOCK | C.O_NOCTTY;
const O_CREATE_ENTRY = C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW | C.O_NONBLOCK | C.O_NOCTTY;

export interface Owner {
  readonly uid: number;
  readonly gid: number;
}

/** Something in the tree that is not what the layout expects; operations refuse it. */
export class TreeAnomalyError extends QgreyError {
  readonly anomaly: Anomaly;
  constructor(root: string, anomaly: Anomaly) {
    super(`unsafe greylist entry ${root}/${anomaly.key}: ${anomaly.detail}`, 111);
    this.name = 'TreeAnomalyError';
    this.anomaly = anomaly;
  }
}

function kindOf(st: Stats): string {
  if (st.isSymbolicLink()) return 'a symbolic link';
  if (st.isDirectory()) return 'a directory';
  if (st.isFile()) return 'a regular file';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  return 'not a regular file';
}

function anomalyOf(key: string, st: Stats, expected: 'directory' | 'regular file'): Anomaly {
  return {
    key,
    what: st.isSymbolicLink() ? 'symlink' : 'not-regular',
    detail: `is ${kindOf(st)}, expected a ${expected}; left alone`,
  };
}

function code(err: unknown): string | undefined {
  return (err as { code?: string } | null)?.code;
}

/** seconds (float) of a Stats time, to the microsecond */
const secs = (ms: number) => ms / 1000;

export interface TreeOptions {
  /** chown new files and directories to this owner (skipped when it is already ours) */
  readonly owner?: Owner | undefined;
}

export class TreeStore implements GreyStore {
  readonly root: string;
  readonly layout: Layout;
  readonly owner: Owner | undefined;
  private readonly chown: boolean;

  constructor(root: string, layout: Layout, opts: TreeOptions = {}) {
    this.root = root.length > 1 && root.endsWith('/') ? root.slice(0, -1) : root;
    this.layout = layout;
    this.owner = opts.owner;
    const o = opts.owner;
    this.chown = o !== undefined && (o.uid !== process.geteuid?.() || o.gid !== process.getegid?.());
  }

  /** Open a tree, detecting its layout (or checking the one given against it). */
  static open(root: string, opts: TreeOptions & { layout?: Layout | undefined } = {}): TreeStore {
    const found = detectLayout(root);
    if (opts.layout !== undefined && found !== null && found !== opts.layout) {
      throw new QgreyError(
        `${root} holds ${layoutName(found)} entries, but ${layoutName(opts.layout)} was asked for; refusing to mix layouts`,
        100,
      );
    }
    return new TreeStore(root, opts.layout ?? found ?? 'classc', opts);
  }

  private check(key: string): string[] {
    if (!validKey(key, this.layout)) throw new QgreyError(`not a ${layoutName(this.layout)} key: ${JSON.stringify(key)}`, 100);
    return key.split('/');
  }

  /** lstat every directory component of `parts` (all but the last); throws on anything but a directory. */
  private checkDirs(parts: string[]): boolean {
    let p = this.root;
    let rel = '';
    for (let i = 0; i < parts.length - 1; i++) {
      p += '/' + parts[i];
      rel = rel === '' ? parts[i]! : rel + '/' + parts[i];
      let st: Stats;
      try {
        st = lstatSync(p);
      } catch (err) {
        if (code(err) === 'ENOENT') return false;
        throw this.fsError('examine', p, err);
      }
      if (!st.isDirectory()) throw new TreeAnomalyError(this.root, anomalyOf(rel, st, 'directory'));
    }
    return true;
  }

  private fsError(verb: string, path: string, err: unknown): QgreyError {
    if (err instanceof QgreyError) return err;
    const e = new QgreyError(`unable to ${verb} ${path}: ${reason(err)}`, 111, { cause: err });
    return e;
  }

  path(key: string): string {
    this.check(key);
    return this.root + '/' + key;
  }

  /** lstat of an entry with every directory on the way checked; null when missing. */
  statSync(key: string): Stats | null {
    const parts = this.check(key);
    const p = this.root + '/' + key;
    let st: Stats;
    try {
      st = lstatSync(p);
    } catch (err) {
      const c = code(err);
      if (c === 'ENOENT' || c === 'ENOTDIR') {
        // missing, or a file where a directory belongs: make sure no component on the way
        // is a symlink or a file (reported), else it is simply not there
        this.checkDirs(parts);
        return null;
      }
      throw this.fsError('examine', p, err);
    }
    if (!this.checkDirs(parts)) return null;
    if (!st.isFile()) throw new TreeAnomalyError(this.root, anomalyOf(key, st, 'regular file'));
    return st;
  }

  getSync(key: string): Entry | null {
    const st = this.statSync(key);
    return st === null ? null : { key, first: secs(st.mtimeMs), last: secs(st.atimeMs) };
  }

  async get(key: string): Promise<Entry | null> {
    return this.getSync(key);
  }

  /** mkdir each missing directory (0700), lstat-checking existing ones. */
  private makeDirs(parts: string[]): void {
    let p = this.root;
    let rel = '';
    for (let i = 0; i < parts.length - 1; i++) {
      p += '/' + parts[i];
      rel = rel === '' ? parts[i]! : rel + '/' + parts[i];
      try {
        mkdirSync(p, DIR_MODE);
        if (this.chown) fchownPath(p, this.owner!);
        continue;
      } catch (err) {
        if (err instanceof QgreyError) throw err;
        if (code(err) !== 'EEXIST') throw this.fsError('create directory', p, err);
      }
      let st: Stats;
      try {
        st = lstatSync(p);
      } catch (err) {
        throw this.fsError('examine', p, err);
      }
      if (!st.isDirectory()) throw new TreeAnomalyError(this.root, anomalyOf(rel, st, 'directory'));
    }
  }

  /**
   * Create the entry with both times set through the descriptor. Returns false when it
   * already existed (left as it was, like a concurrent creator's entry).
   */
  private createWith(key: string, parts: string[], first: number, last: number): boolean {
    const p = this.root + '/' + key;
    for (let attempt = 0; ; attempt++) {
      this.makeDirs(parts);
      let fd: number;
      try {
        fd = openSync(p, O_CREATE_ENTRY, FILE_MODE);
      } catch (err) {
        const c = code(err);
        if (c === 'EEXIST') {
          this.statSync(key); // refuses a symlink or a directory in its place
          return false;
        }
        // a maintenance run removed an empty directory between our mkdir and open
        if (c === 'ENOENT' && attempt < 3) continue;
        throw this.fsError('create', p, err);
      }
      try {
        if (this.chown) fchownSync(fd, this.owner!.uid, this.owner!.gid);
        futimesSync(fd, last, first);
      } catch (err) {
        closeQuiet(fd);
        throw this.fsError('set the times of', p, err);
      }
      closeSync(fd);
      return true;
    }
  }

  createSync(key: string, now: number): boolean {
    return this.createWith(key, this.check(key), now, now);
  }

  async create(key: string, now: number): Promise<void> {
    this.createSync(key, now);
  }

  /**
   * Write times on an existing entry through an O_NOFOLLOW descriptor, after fstat shows a
   * regular file. `first` undefined keeps the current mtime. False when the entry is missing.
   */
  private setTimes(key: string, parts: string[], first: number | undefined, last: number): boolean {
    const p = this.root + '/' + key;
    if (!this.checkDirs(parts)) return false;
    let fd: number;
    try {
      fd = openSync(p, O_OPEN_ENTRY);
    } catch (err) {
      const c = code(err);
      if (c === 'ENOENT') return false;
      if (c === 'ELOOP' || c === 'ENXIO' || c === 'EISDIR') {
        this.statSync(key); // throws the anomaly
      }
      throw this.fsError('open', p, err);
    }
    try {
      const st = fstatSync(fd);
      if (!st.isFile()) throw new TreeAnomalyError(this.root, anomalyOf(key, st, 'regular file'));
      futimesSync(fd, last, first ?? secs(st.mtimeMs));
    } catch (err) {
      closeQuiet(fd);
      throw this.fsError('set the times of', p, err);
    }
    closeSync(fd);
    return true;
  }

  /** A revisit: atime = last, mtime kept. False when the entry is missing. */
  touchSync(key: string, last: number): boolean {
    return this.setTimes(key, this.check(key), undefined, last);
  }

  async touch(key: string, last: number): Promise<void> {
    this.touchSync(key, last);
  }

  /**
   * Write an entry with both times. An existing entry gets its times written in place; a
   * missing one is written as a temporary file beside it and renamed into place, so no
   * reader ever sees it with the wrong times.
   */
  putSync(e: Entry): void {
    const parts = this.check(e.key);
    if (this.setTimes(e.key, parts, e.first, e.last)) return;
    this.makeDirs(parts);
    const p = this.root + '/' + e.key;
    const tmp = p.slice(0, p.lastIndexOf('/') + 1) + `${OURS_PREFIX}-tmp.${process.pid}.${parts[parts.length - 1]}`;
    let fd: number;
    try {
      fd = openSync(tmp, O_CREATE_ENTRY, FILE_MODE);
    } catch (err) {
      throw this.fsError('create', tmp, err);
    }
    try {
      if (this.chown) fchownSync(fd, this.owner!.uid, this.owner!.gid);
      futimesSync(fd, e.last, e.first);
      closeSync(fd);
    } catch (err) {
      closeQuiet(fd);
      unlinkQuiet(tmp);
      throw this.fsError('write', tmp, err);
    }
    try {
      // rename() replaces the final name itself, never what a symlink there points to;
      // but an entry that appeared meanwhile must not be clobbered by a non-file check
      const st = lstatOrNull(p);
      if (st !== null && !st.isFile()) throw new TreeAnomalyError(this.root, anomalyOf(e.key, st, 'regular file'));
      renameSync(tmp, p);
    } catch (err) {
      unlinkQuiet(tmp);
      throw this.fsError('rename into place', p, err);
    }
  }

  async put(e: Entry): Promise<void> {
    this.putSync(e);
  }

  /** Unlink one entry (never a symlink or a directory). False when it was not there. */
  removeSync(key: string): boolean {
    const st = this.statSync(key);
    if (st === null) return false;
    const p = this.root + '/' + key;
    try {
      unlinkSync(p);
    } catch (err) {
      if (code(err) === 'ENOENT') return false;
      throw this.fsError('remove', p, err);
    }
    return true;
  }

  async remove(key: string): Promise<boolean> {
    return this.removeSync(key);
  }

  /** Remove the now-empty directories above `key`, deepest first (never the root). */
  pruneDirsSync(key: string): number {
    const parts = key.split('/');
    let n = 0;
    for (let i = parts.length - 1; i >= 1; i--) {
      const p = this.root + '/' + parts.slice(0, i).join('/');
      try {
        rmdirSync(p);
        n++;
      } catch {
        break;
      }
    }
    return n;
  }

  async *scan(): AsyncIterable<Entry | Anomaly> {
    for (const x of walkTree(this.root, { layout: this.layout })) {
      if (x.type === 'entry') yield x.entry;
      else if (x.type === 'anomaly') yield x.anomaly;
    }
  }
}

// ---------------------------------------------------------------------------------------
// walking

const OCTET_NAME = /^(?:[01][0-9][0-9]|2[0-4][0-9]|25[0-5])$/;
const HEX8_NAME = /^[0-9a-f]{8}$/;
const HEX16_NAME = /^[0-9a-f]{16}$/;

export type WalkItem =
  | { readonly type: 'entry'; readonly entry: Entry; readonly layout: Layout; /** integer seconds as stat(2) shows them */ readonly mtime: number; readonly atime: number }
  | { readonly type: 'anomaly'; readonly anomaly: Anomaly }
  /** a directory, after its contents (post-order) */
  | { readonly type: 'dir'; readonly key: string }
  /** a temporary file an interrupted put() may have left beside entries (only with `temps`) */
  | { readonly type: 'temp'; readonly key: string };

export interface WalkOptions {
  /** entries of the other layout are anomalies; undefined: accept both and report each with its layout */
  readonly layout?: Layout | undefined;
  /** also yield directories (after their contents) */
  readonly dirs?: boolean;
  /** yield our temporary files as `temp` items instead of reporting them as foreign names */
  readonly temps?: boolean;
  /** the C helper (src/native/treefs.ts), for the leaf directories; the same items either way */
  readonly native?: TreeFs | null;
}

function readDir(path: string): Dirent[] {
  return readdirSync(path, { withFileTypes: true });
}

/**
 * Walk the tree depth-first in sorted order, lstat-ing every entry file. Never follows a
 * symlink; reports symlinks, non-regular files and foreign names as anomalies.
 */
export function* walkTree(root: string, opts: WalkOptions = {}): Generator<WalkItem> {
  const wantDirs = opts.dirs === true;
  const temps = opts.temps === true;
  const native = opts.native ?? undefined;
  const only = opts.layout;
  let top: Dirent[];
  try {
    top = readDir(root);
  } catch (err) {
    throw treeRootError(root, err);
  }
  top.sort(byName);
  for (const d of top) {
    const name = d.name;
    if (name.startsWith(OURS_PREFIX)) continue;
    if (d.isSymbolicLink()) {
      yield { type: 'anomaly', anomaly: { key: name, what: 'symlink', detail: 'is a symbolic link; left alone' } };
      continue;
    }
    if (name === V6_DIR) {
      if (!d.isDirectory()) {
        yield { type: 'anomaly', anomaly: { key: name, what: 'not-regular', detail: 'is not a directory; left alone' } };
        continue;
      }
      yield* walkLevel(root, name, 1, true, only, wantDirs, temps, native);
      continue;
    }
    if (!OCTET_NAME.test(name)) {
      // jgreylist-clean never touches files in the root; report foreign names, change nothing
      yield { type: 'anomaly', anomaly: { key: name, what: 'bad-name', detail: 'is not part of a jgreylist tree; left alone' } };
      continue;
    }
    if (!d.isDirectory()) {
      yield { type: 'anomaly', anomaly: { key: name, what: 'not-regular', detail: 'is not a directory; left alone' } };
      continue;
    }
    yield* walkLevel(root, name, 1, false, only, wantDirs, temps, native);
  }
}

// depth = number of components in `rel`. v4: aaa(1) / bbb(2) / ccc(3: file or dir) / ddd(4: file)
// v6: v6(1) / h8(2) / h8(3: file or dir) / h16(4: file)
function* walkLevel(root: string, rel: string, depth: number, v6: boolean, only: Layout | undefined, wantDirs: boolean, temps: boolean, native: TreeFs | undefined): Generator<WalkItem> {
  if (depth >= 2) {
    yield* walkLeaves(root, rel, depth, v6, only, wantDirs, temps, native);
    return;
  }
  const dirPath = root + '/' + rel;
  let list: Dirent[];
  try {
    list = readDir(dirPath);
  } catch (err) {
    yield { type: 'anomaly', anomaly: { key: rel, what: 'unreadable', detail: `cannot be read: ${reason(err)}` } };
    return;
  }
  list.sort(byName);
  const nameOk = v6 ? HEX8_NAME : OCTET_NAME;
  for (const d of list) {
    const name = d.name;
    const key = rel + '/' + name;
    if (!nameOk.test(name)) {
      yield { type: 'anomaly', anomaly: { key, what: 'bad-name', detail: 'is not part of a jgreylist tree; left alone' } };
      continue;
    }
    if (d.isSymbolicLink()) {
      yield { type: 'anomaly', anomaly: { key, what: 'symlink', detail: 'is a symbolic link; left alone' } };
      continue;
    }
    if (!d.isDirectory()) {
      yield { type: 'anomaly', anomaly: { key, what: 'not-regular', detail: `is ${d.isFile() ? 'a regular file' : 'not a directory'}, expected a directory; left alone` } };
      continue;
    }
    yield* walkLevel(root, key, depth + 1, v6, only, wantDirs, temps, native);
  }
  if (wantDirs) yield { type: 'dir', key: rel };
}

/**
 * lstat each valid name in `dir` (which ends with '/'): a Stats, undefined when it is gone,
 * or why it could not be examined. With enough names, from inside the directory: relative
 * names are looked up faster than full paths (one component instead of five or six), and once
 * inside (checked: '.' is the directory we lstat'ed, not a symlink swapped in) no component
 * above can be swapped under us. The working directory is restored before anything is yielded.
 */
function lstatAll(dir: string, names: readonly string[], nameOk: RegExp): (Stats | undefined | string)[] {
  const out: (Stats | undefined | string)[] = new Array<Stats | undefined | string>(names.length);
  // the working directory to come back to (null when it is gone: full paths only)
  let home: string | null = null;
  try {
    home = process.cwd();
  } catch {
    /* full paths */
  }
  let prefix = dir;
  if (home !== null && names.length >= 16 && enterDir(dir, home)) prefix = '';
  try {
    for (let i = 0; i < names.length; i++) {
      const name = names[i]!;
      if (!nameOk.test(name)) continue;
      try {
        out[i] = lstatSync(prefix + name, { throwIfNoEntry: false });
      } catch (err) {
        out[i] = reason(err);
      }
    }
  } finally {
    if (prefix === '') process.chdir(home!);
  }
  return out;
}

/**
 * chdir into `path` if it is a real directory (not a symlink), making sure '.' is that
 * directory; when it is not, come back to `home`.
 */
export function enterDir(path: string, home: string): boolean {
  let st: Stats;
  try {
    st = lstatSync(path);
    if (!st.isDirectory()) return false;
    process.chdir(path);
  } catch {
    return false;
  }
  try {
    const here = lstatSync('.');
    if (here.ino === st.ino && here.dev === st.dev) return true;
  } catch {
    /* fall through */
  }
  process.chdir(home);
  return false;
}

/** What a leaf directory holds: names in order, and what lstat says of each. */
interface Leaf {
  names: string[];
  /** 1 regular file, 2 directory, 3 symlink, 4 other, 0 gone meanwhile, 5 not examined; -1 not looked at */
  kinds: Int8Array;
  /** times as Node's Stats give them (ms), and in whole seconds */
  aMs: Float64Array;
  mMs: Float64Array;
  aSec: Float64Array;
  mSec: Float64Array;
  /** why, for kind 5 */
  errs: (string | undefined)[];
}

/** A leaf directory through lstatSync (from inside it when it is big enough: see lstatAll). */
function leafJs(dirPath: string, nameOk: RegExp): Leaf {
  const names = readdirSync(dirPath).sort();
  const n = names.length;
  const leaf: Leaf = { names, kinds: new Int8Array(n).fill(-1), aMs: new Float64Array(n), mMs: new Float64Array(n), aSec: new Float64Array(n), mSec: new Float64Array(n), errs: [] };
  const stats = lstatAll(dirPath, names, nameOk);
  for (let i = 0; i < n; i++) {
    if (!nameOk.test(names[i]!)) continue;
    const st = stats[i];
    if (typeof st === 'string') {
      leaf.kinds[i] = 5;
      leaf.errs[i] = st;
    } else if (st === undefined) leaf.kinds[i] = 0;
    else {
      leaf.kinds[i] = st.isFile() ? 1 : st.isDirectory() ? 2 : st.isSymbolicLink() ? 3 : 4;
      leaf.aMs[i] = st.atimeMs;
      leaf.mMs[i] = st.mtimeMs;
      leaf.aSec[i] = Math.floor(st.atimeMs / 1000);
      leaf.mSec[i] = Math.floor(st.mtimeMs / 1000);
    }
  }
  return leaf;
}

/** A leaf directory through the C helper: opened from the root without following any symlink. */
function leafNative(native: TreeFs, root: string, rel: string): Leaf {
  const r = native.scanLeaf(root, rel); // in strcmp order: the order of a JS sort of ASCII names
  const n = r.names.length;
  const leaf: Leaf = { names: r.names, kinds: new Int8Array(r.kinds.buffer, r.kinds.byteOffset, n), aMs: new Float64Array(n), mMs: new Float64Array(n), aSec: r.asec, mSec: r.msec, errs: [] };
  for (let i = 0; i < n; i++) {
    if (r.kinds[i] === 5) leaf.errs[i] = errnoText(r.errs[i]!);
    // the same arithmetic as Node's Stats (sec * 1e3 + nsec / 1e6), so both walks agree
    leaf.aMs[i] = r.asec[i]! * 1e3 + r.ansec[i]! / 1e6;
    leaf.mMs[i] = r.msec[i]! * 1e3 + r.mnsec[i]! / 1e6;
  }
  return leaf;
}

function errnoText(errno: number): string {
  try {
    return `${getSystemErrorName(-errno)}`;
  } catch {
    return `errno ${errno}`;
  }
}

/**
 * A directory whose children are entry files or per-IP containers: names only from readdir,
 * then one lstat per child, which says what it is and gives its times (the type readdir could
 * give would cost as much again, and lstat is needed for the times anyway).
 */
function* walkLeaves(root: string, rel: string, depth: number, v6: boolean, only: Layout | undefined, wantDirs: boolean, temps: boolean, native: TreeFs | undefined): Generator<WalkItem> {
  const nameOk = v6 ? (depth === 3 ? HEX16_NAME : HEX8_NAME) : OCTET_NAME;
  let leaf: Leaf;
  try {
    leaf = native ? leafNative(native, root, rel) : leafJs(root + '/' + rel + '/', nameOk);
  } catch (err) {
    yield { type: 'anomaly', anomaly: { key: rel, what: 'unreadable', detail: `cannot be read: ${reason(err)}` } };
    return;
  }
  const leafDepth = depth + 1; // depth of each child's key
  const layout: Layout = leafDepth === 3 ? 'classc' : 'byip';
  const { names, kinds } = leaf;
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!;
    const key = rel + '/' + name;
    if (!nameOk.test(name)) {
      if (temps && isOurTemp(name)) yield { type: 'temp', key };
      else yield { type: 'anomaly', anomaly: { key, what: 'bad-name', detail: 'is not part of a jgreylist tree; left alone' } };
      continue;
    }
    const kind = kinds[i];
    if (kind === 5) {
      yield { type: 'anomaly', anomaly: { key, what: 'unreadable', detail: `cannot be examined: ${leaf.errs[i] ?? 'unknown error'}` } };
      continue;
    }
    if (kind === 0) continue; // removed meanwhile
    if (kind === 1) {
      if (only !== undefined && layout !== only) {
        yield {
          type: 'anomaly',
          anomaly: { key, what: 'not-regular', detail: `is a ${layoutName(layout)} entry in a ${layoutName(only)} tree; left alone` },
        };
        continue;
      }
      yield { type: 'entry', entry: { key, first: secs(leaf.mMs[i]!), last: secs(leaf.aMs[i]!) }, layout, mtime: leaf.mSec[i]!, atime: leaf.aSec[i]! };
      continue;
    }
    if (kind === 3) {
      yield { type: 'anomaly', anomaly: { key, what: 'symlink', detail: 'is a symbolic link; left alone' } };
      continue;
    }
    if (kind === 2) {
      if (leafDepth === 3) {
        // a per-IP container
        if (only === 'classc') {
          yield { type: 'anomaly', anomaly: { key, what: 'not-regular', detail: 'is a directory (per-IP layout) in a class-C tree; left alone' } };
          continue;
        }
        yield* walkLeaves(root, key, leafDepth, v6, only, wantDirs, temps, native);
        continue;
      }
      yield { type: 'anomaly', anomaly: { key, what: 'not-regular', detail: 'is a directory, expected a regular file; left alone' } };
      continue;
    }
    yield { type: 'anomaly', anomaly: { key, what: 'not-regular', detail: 'is not a regular file; left alone' } };
  }
  if (wantDirs) yield { type: 'dir', key: rel };
}

function byName(a: Dirent, b: Dirent): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

function treeRootError(root: string, err: unknown): QgreyError {
  const c = code(err);
  if (c === 'ENOENT' || c === 'ENOTDIR') return new QgreyError(`greylist directory ${root} does not exist or is not a directory`, 100, { cause: err });
  return new QgreyError(`unable to read greylist directory ${root}: ${reason(err)}`, 111, { cause: err });
}

export function layoutName(l: Layout): string {
  return l === 'classc' ? 'class-C' : 'per-IP';
}

/**
 * The layout of an existing tree, from the first entry found (cheap: a few readdirs);
 * null for an empty tree. Maintenance commands walk the whole tree and refuse a mixed one.
 */
export function detectLayout(root: string): Layout | null {
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
  for (const a of top.filter((d) => d.isDirectory() && OCTET_NAME.test(d.name)).map((d) => d.name).sort()) {
    for (const b of firstDirs(root + '/' + a, OCTET_NAME)) {
      let third: Dirent[];
      try {
        third = readDir(root + '/' + a + '/' + b);
      } catch {
        continue;
      }
      for (const c of third) {
        if (!OCTET_NAME.test(c.name)) continue;
        if (c.isFile()) return 'classc';
        if (c.isDirectory()) return 'byip';
      }
    }
  }
  // only IPv6 entries: they tell the layout too
  for (const a of firstDirs(root + '/' + V6_DIR, HEX8_NAME)) {
    let third: Dirent[];
    try {
      third = readDir(root + '/' + V6_DIR + '/' + a);
    } catch {
      continue;
    }
    for (const c of third) {
      if (!HEX8_NAME.test(c.name)) continue;
      if (c.isFile()) return 'classc';
      if (c.isDirectory()) return 'byip';
    }
  }
  return null;
}

/** lstat of the tree root: it must be a directory (the root itself may be reached through a symlink the admin made). */
export function rootOwner(root: string): Owner {
  let st: Stats;
  try {
    st = lstatSync(root);
    if (st.isSymbolicLink()) st = fstatOfDir(root);
  } catch (err) {
    throw treeRootError(root, err);
  }
  if (!st.isDirectory()) throw new QgreyError(`greylist directory ${root} is not a directory`, 100);
  return { uid: st.uid, gid: st.gid };
}

function fstatOfDir(path: string): Stats {
  const fd = openSync(path, C.O_RDONLY | C.O_DIRECTORY);
  try {
    return fstatSync(fd);
  } finally {
    closeSync(fd);
  }
}

function lstatOrNull(p: string): Stats | null {
  try {
    return lstatSync(p);
  } catch (err) {
    if (code(err) === 'ENOENT') return null;
    throw err;
  }
}

function closeQuiet(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    /* already failing */
  }
}

function unlinkQuiet(p: string): void {
  try {
    unlinkSync(p);
  } catch {
    /* best effort */
  }
}

/** chown a directory we just created, through an O_DIRECTORY|O_NOFOLLOW descriptor. */
export function fchownPath(p: string, o: Owner): void {
  const fd = openSync(p, C.O_RDONLY | C.O_DIRECTORY | C.O_NOFOLLOW);
  try {
    fchownSync(fd, o.uid, o.gid);
  } finally {
    closeSync(fd);
  }
}

// ---------------------------------------------------------------------------------------
// for the maintenance commands

export const DEFAULT_TREE_DIR = '/var/qmail/jgreylist';

/** The tree: flag, else $JGREYLIST_DIR (as jgreylist reads it), else /var/qmail/jgreylist. */
export function treeDir(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (flag !== undefined && flag !== '') return flag;
  const e = env.JGREYLIST_DIR;
  return e !== undefined && e !== '' ? e : DEFAULT_TREE_DIR;
}

/** JGREYLIST_BY_IP as jgreylist reads it (atoi, non-zero = per IP). */
export function byIpFromEnv(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = env.JGREYLIST_BY_IP;
  if (v === undefined) return false;
  const m = /^\s*[+-]?[0-9]+/.exec(v);
  return m !== null && Number(m[0]) !== 0;
}

function lookupDb(file: string, name: string): number | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return null;
  }
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f[0] === name && f[2] !== undefined && /^[0-9]+$/.test(f[2])) return Number(f[2]);
  }
  return null;
}

// getent runs only for an --owner name that /etc/passwd or /etc/group lacks, so
// node:child_process is loaded then, not with this module (the wrapper imports this module
// for every connection; importing it under ES modules took 2 ms longer with child_process).
function getent(db: 'passwd' | 'group', name: string) {
  return process.getBuiltinModule('node:child_process').spawnSync('getent', [db, name], { encoding: 'utf8' });
}

function lookupGetent(db: 'passwd' | 'group', name: string): number | null {
  const r = getent(db, name);
  if (r.status !== 0 || typeof r.stdout !== 'string') return null;
  const f = r.stdout.split('\n')[0]!.split(':');
  return f[2] !== undefined && /^[0-9]+$/.test(f[2]) ? Number(f[2]) : null;
}

/** `user:group` (names or numbers) -> uid and gid. A user alone takes the user's primary group. */
export function parseOwner(text: string): Owner {
  const m = /^([A-Za-z0-9_][A-Za-z0-9_.-]*\$?)(?::([A-Za-z0-9_][A-Za-z0-9_.-]*\$?))?$/.exec(text);
  if (!m) throw new QgreyError(`unable to parse --owner ${quote(text)}: expected USER:GROUP (names or numbers), e.g. vpopmail:vchkpw`, 100);
  const user = m[1]!;
  const group = m[2];
  const uid = /^[0-9]+$/.test(user) ? Number(user) : (lookupDb('/etc/passwd', user) ?? lookupGetent('passwd', user));
  if (uid === null) throw new QgreyError(`unknown user ${quote(user)} in --owner: no such entry in /etc/passwd or getent passwd`, 100);
  let gid: number | null;
  if (group === undefined) {
    const line = readEntry('/etc/passwd', user);
    gid = line !== null && /^[0-9]+$/.test(line[3] ?? '') ? Number(line[3]) : null;
    if (gid === null) throw new QgreyError(`no primary group known for ${quote(user)}: give --owner USER:GROUP`, 100);
  } else {
    gid = /^[0-9]+$/.test(group) ? Number(group) : (lookupDb('/etc/group', group) ?? lookupGetent('group', group));
    if (gid === null) throw new QgreyError(`unknown group ${quote(group)} in --owner: no such entry in /etc/group or getent group`, 100);
  }
  return { uid, gid };
}

function readEntry(file: string, name: string): string[] | null {
  try {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const f = line.split(':');
      if (f[0] === name) return f;
    }
  } catch {
    /* fall through */
  }
  const r = getent('passwd', name);
  return r.status === 0 && typeof r.stdout === 'string' ? r.stdout.split('\n')[0]!.split(':') : null;
}

/** Staging trees of rebuild runs live in the root under this prefix. */
export const STAGE_PREFIX = OURS_PREFIX + '-rebuild.';

/** Remove what killed rebuild runs left in the root (call only while holding the lock). */
export function removeLeftovers(root: string): string[] {
  const gone: string[] = [];
  for (const d of readDir(root)) {
    if (!d.name.startsWith(STAGE_PREFIX)) continue;
    const p = root + '/' + d.name;
    // rm -r without following symlinks: rmSync does not follow them inside the tree
    rmSync(p, { recursive: true, force: true });
    gone.push(d.name);
  }
  return gone;
}

const TEMP_NAME = /^\.qgrey-tmp\.([1-9][0-9]{0,9})\.[0-9a-f]{1,16}$/;

/** The name of a temporary file put() makes beside an entry (`.qgrey-tmp.PID.NAME`). */
export function isOurTemp(name: string): boolean {
  return TEMP_NAME.test(name);
}

/** The pid in a temporary file's name. */
export function tempPid(name: string): number {
  const m = TEMP_NAME.exec(name);
  return m === null ? 0 : Number(m[1]);
}

/** One line about an anomaly, for stderr: `ROOT/KEY: is a symbolic link; left alone`. */
export function anomalyLine(root: string, a: Anomaly): string {
  return `${root}/${sanitizeName(a.key)}: ${a.detail}`;
}

/** File names in the tree are untrusted (the qmail user can write there): printable ASCII only. */
export function sanitizeName(name: string): string {
  return name.replace(/[^\x21-\x7e]/g, '?');
}

/** JGREYLIST_HOLDTIME as jgreylist reads it: unset or empty -> 120, else atoi. */
export function holdtimeFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const v = env.JGREYLIST_HOLDTIME;
  if (v === undefined || v === '') return 120;
  const m = /^\s*[+-]?[0-9]+/.exec(v);
  return m === null ? 0 : Number(m[0]);
}
