// The jgreylist tree's entries, one at a time: one empty file per key, mtime = first seen,
// atime = last seen.
//
//   ROOT/aaa/bbb/ccc            class C (jgreylist's default)
//   ROOT/aaa/bbb/ccc/ddd        per IP (JGREYLIST_BY_IP=1)
//   ROOT/v6/HHHHHHHH/HHHHHHHH   IPv6 /64 (jgreylist never looks under v6/)
//   ROOT/v6/HHHHHHHH/HHHHHHHH/HHHHHHHHHHHHHHHH   IPv6 per address (--by-ip)
//   ROOT/.qgrey*                our lock file and rebuild staging trees (jgreylist ignores them)
//
// Directories 0700, files 0600 (reduced by the umask, as jgreylist does). Every directory
// component is lstat'ed (or mkdir'ed and then lstat'ed), and entry files are opened with
// O_NOFOLLOW | O_NONBLOCK and checked with fstat before their times are written through the
// descriptor. What is not a directory or a regular file, or is a hard-linked file, is refused
// and left alone. This runs as the tree's owner (the wrapper, or the maintenance commands'
// tree process: privsep.ts), so a component swapped for a symlink between the lstat and the
// open gives that owner nothing it could not do itself.
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
  renameSync,
  rmdirSync,
  unlinkSync,
  type Stats,
} from 'node:fs';
import { validKey, type Layout } from '../core/key.js';
import { QgreyError, reason } from '../core/errors.js';
import { AnomalyError, layoutName, type Anomaly, type Entry, type EntryAccess } from './store.js';
import type { Owner } from './owner.js';

export const DIR_MODE = 0o700;
export const FILE_MODE = 0o600;
/** names in the root that belong to qgrey itself (lock, staging trees) */
export const OURS_PREFIX = '.qgrey';

const O_OPEN_ENTRY = C.O_RDONLY | C.O_NOFOLLOW | C.O_NONBLOCK | C.O_NOCTTY;
const O_CREATE_ENTRY = C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW | C.O_NONBLOCK | C.O_NOCTTY;

export { AnomalyError as TreeAnomalyError };

function kindOf(st: Stats): string {
  if (st.isSymbolicLink()) return 'a symbolic link';
  if (st.isDirectory()) return 'a directory';
  if (st.isFile()) return 'a regular file';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  return 'not a regular file';
}

export function anomalyOf(key: string, st: Stats, expected: 'directory' | 'regular file'): Anomaly {
  return {
    key,
    what: st.isSymbolicLink() ? 'symlink' : 'not-regular',
    detail: `is ${kindOf(st)}, expected a ${expected}; left alone`,
  };
}

/** A hard-linked entry: its other names may be anywhere on the file system; never re-timed or chowned. */
export function linkedAnomaly(key: string, st: Stats): Anomaly {
  return { key, what: 'linked', detail: `has ${st.nlink} hard links, expected 1; left alone` };
}

function code(err: unknown): string | undefined {
  return (err as { code?: string } | null)?.code;
}

/** seconds (float) of a Stats time, to the microsecond */
const secs = (ms: number) => ms / 1000;

/** lstat's options: a missing path is undefined, not an exception */
const MAYBE = { throwIfNoEntry: false } as const;

export interface TreeOptions {
  /** chown new files and directories to this owner (skipped when it is already ours) */
  readonly owner?: Owner | undefined;
}

export class TreeEntries implements EntryAccess {
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

  /** The key's components; throws when it is not a key of this layout. */
  check(key: string): string[] {
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
      let st: Stats | undefined;
      try {
        st = lstatSync(p, MAYBE);
      } catch (err) {
        throw this.fsError('examine', p, err);
      }
      if (st === undefined) return false;
      if (!st.isDirectory()) throw new AnomalyError(this.root, anomalyOf(rel, st, 'directory'));
    }
    return true;
  }

  private fsError(verb: string, path: string, err: unknown): QgreyError {
    if (err instanceof QgreyError) return err;
    const e = new QgreyError(`unable to ${verb} ${path}: ${reason(err)}`, 111, { cause: err });
    return e;
  }

  /** lstat of an entry with every directory on the way checked; null when missing. */
  statSync(key: string): Stats | null {
    const parts = this.check(key);
    const p = this.root + '/' + key;
    let st: Stats | undefined;
    try {
      // (a missing entry, the commonest answer, as undefined: an exception costs ten times the lstat)
      st = lstatSync(p, MAYBE);
    } catch (err) {
      if (code(err) !== 'ENOTDIR') throw this.fsError('examine', p, err);
    }
    if (st === undefined) {
      // missing, or a file where a directory belongs: make sure no component on the way
      // is a symlink or a file (reported), else it is simply not there
      this.checkDirs(parts);
      return null;
    }
    if (!this.checkDirs(parts)) return null;
    if (!st.isFile()) throw new AnomalyError(this.root, anomalyOf(key, st, 'regular file'));
    return st;
  }

  getSync(key: string): Entry | null {
    const st = this.statSync(key);
    return st === null ? null : { key, first: secs(st.mtimeMs), last: secs(st.atimeMs) };
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
      if (!st.isDirectory()) throw new AnomalyError(this.root, anomalyOf(rel, st, 'directory'));
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
      if (!st.isFile()) throw new AnomalyError(this.root, anomalyOf(key, st, 'regular file'));
      if (st.nlink > 1) throw new AnomalyError(this.root, linkedAnomaly(key, st));
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
      if (st !== null && !st.isFile()) throw new AnomalyError(this.root, anomalyOf(e.key, st, 'regular file'));
      renameSync(tmp, p);
    } catch (err) {
      unlinkQuiet(tmp);
      throw this.fsError('rename into place', p, err);
    }
  }

}

function lstatOrNull(p: string): Stats | null {
  try {
    return lstatSync(p, { throwIfNoEntry: false }) ?? null;
  } catch (err) {
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

