// Replace a file so that readers see the old or the new content, never half: a temp file
// beside it, every byte written, owner and mode set, fsync, rename, then fsync the directory
// (as tcprules does). The one writer for lists, state files and charts. No npm imports.
//
// Modes: the file being replaced keeps its mode and owner (the owner as far as the running
// uid may give it: root always). A new file gets `mode` (default 0644), set with fchmod
// after the open, so the umask does not cut it: a list written by root under `umask 077`
// must stay readable by the tcpserver uid that runs the wrapper.

import { accessSync, closeSync, constants, fchmodSync, fchownSync, fstatSync, fsyncSync, lstatSync, mkdirSync, openSync, renameSync, unlinkSync, writeSync, type Stats } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { QgreyError, permanent, reason, temporary } from '../core/errors.js';

export interface AtomicOptions {
  /** permission bits of a new file (default 0644); a file being replaced keeps its own */
  mode?: number;
  /** how `data` given as a string is encoded (default utf8) */
  encoding?: BufferEncoding;
  /** give the file this owner (default: that of the file being replaced, if any) */
  owner?: { uid: number; gid: number } | null;
  /** what the file is, for messages ("state file"); default: the path alone */
  what?: string;
}

export function writeFileAtomic(path: string, data: string | Buffer, opts: AtomicOptions = {}): void {
  const dir = dirname(path);
  const name = opts.what ? `${opts.what} ${path}` : path;
  const tmp = join(dir, `.${basename(path)}.tmp.${process.pid}`);
  const buf = typeof data === 'string' ? Buffer.from(data, opts.encoding ?? 'utf8') : data;
  const { mode, owner } = kept(path, opts);
  let fd = -1;
  try {
    fd = openTemp(tmp);
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off);
    settle(fd, mode, owner);
    closeSync(fd);
    fd = -1;
    renameSync(tmp, path);
  } catch (err) {
    if (fd >= 0) closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      /* not created */
    }
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw permanent(`unable to write ${name}: directory ${dir} does not exist`, err);
    if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS' || code === 'EISDIR') throw permanent(`unable to write ${name}: ${reason(err)}`, err);
    throw temporary(`unable to write ${name}: ${reason(err)}`, err);
  }
  syncDir(dir);
}

/** The mode and owner a rewrite of `path` gets: those of the regular file it replaces, else the options'. */
function kept(path: string, opts: AtomicOptions): { mode: number; owner: { uid: number; gid: number } | null } {
  const old = existing(path);
  if (old) return { mode: old.mode & 0o7777, owner: opts.owner !== undefined ? opts.owner : { uid: old.uid, gid: old.gid } };
  return { mode: (opts.mode ?? 0o644) & 0o7777, owner: opts.owner ?? null };
}

/** Owner, then mode (the chown clears set-id bits; fchmod is not cut by the umask), then fsync. */
function settle(fd: number, mode: number, owner: { uid: number; gid: number } | null): void {
  if (owner) giveOwner(fd, owner);
  fchmodSync(fd, mode);
  fsyncSync(fd);
}

function syncDir(dir: string): void {
  try {
    const dfd = openSync(dir, constants.O_RDONLY);
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  } catch {
    /* some file systems refuse to fsync a directory; the rename is done */
  }
}

/** The regular file at `path` (not followed if a symlink), or null when there is none to keep. */
function existing(path: string): Stats | null {
  try {
    const st = lstatSync(path);
    return st.isFile() ? st : null;
  } catch {
    return null;
  }
}

/**
 * Give the temp file `owner`. Root can give any; another uid can only keep itself as the
 * owner and give a group it is in: then the group is tried, and what cannot be given stays
 * the running uid's (the mode is still kept, so readers that could read keep reading).
 */
function giveOwner(fd: number, owner: { uid: number; gid: number }): void {
  const st = fstatSync(fd);
  if (st.uid === owner.uid && st.gid === owner.gid) return;
  if (process.getuid?.() === 0) {
    fchownSync(fd, owner.uid, owner.gid);
    return;
  }
  if (st.gid !== owner.gid) {
    try {
      fchownSync(fd, st.uid, owner.gid);
    } catch {
      /* not a member of that group */
    }
  }
}

/**
 * Create the temp file, never opening one that is there: in a directory another uid can
 * write, a name made in advance could be a hard link to a file of root's. One left behind
 * (a writer that died with our pid) is unlinked, which touches only the name, and created anew.
 */
function openTemp(tmp: string): number {
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
  try {
    return openSync(tmp, flags, 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    unlinkSync(tmp);
    return openSync(tmp, flags, 0o600);
  }
}

/**
 * Create the directory `dir` if only its last component is missing, with `mode` whatever the
 * umask (made 0700, opened without following a link, then given its mode). An existing one is
 * left as it is. `what` names it in messages ("list directory").
 */
export function ensureDir(dir: string, what: string, mode = 0o755): void {
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return;
    if (code === 'ENOENT') throw permanent(`unable to create ${what} ${dir}: ${dirname(dir)} does not exist`, err);
    throw temporary(`unable to create ${what} ${dir}: ${reason(err)}`, err);
  }
  let fd = -1;
  try {
    fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
    fchmodSync(fd, mode);
  } catch (err) {
    throw temporary(`unable to set the mode of ${what} ${dir}: ${reason(err)}`, err);
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}

/**
 * The one message for a tree or list directory this uid cannot write (a lock or temp file it
 * cannot create): permanent, since running again as the same uid cannot help. `what` names
 * the directory ("greylist directory /var/qmail/jgreylist"), `owner` who should run instead.
 */
export function notWritable(what: string, dir: string, owner: string, err: unknown): QgreyError {
  if ((err as NodeJS.ErrnoException).code === 'EROFS') return permanent(`${what} is on a read-only file system`, err);
  let by = '';
  try {
    by = ` (it belongs to uid ${lstatSync(dir).uid})`;
  } catch {
    /* unknown */
  }
  return permanent(`${what} is not writable by uid ${process.getuid?.() ?? '?'}${by}; run as ${owner} or root`, err);
}

/** Throw notWritable() unless this uid may create files in `dir` (a missing `dir` is left to the caller). */
export function checkWritable(what: string, dir: string, owner: string): void {
  try {
    accessSync(dir, constants.W_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') throw notWritable(what, dir, owner, err);
  }
}

/**
 * Put the file `staged` (written by another program, beside `path`) in the place of `path`
 * as writeFileAtomic would: the mode and owner of the file it replaces (a new one: `mode`,
 * default 0644, whatever the umask), fsync, rename, fsync of the directory. For the cdb that
 * tcprules writes. `staged` is removed on failure.
 */
export function renameAtomic(staged: string, path: string, opts: AtomicOptions = {}): void {
  const name = opts.what ? `${opts.what} ${path}` : path;
  const { mode, owner } = kept(path, opts);
  let fd = -1;
  try {
    fd = openSync(staged, constants.O_RDONLY | constants.O_NOFOLLOW);
    if (!fstatSync(fd).isFile()) throw permanent(`unable to write ${name}: ${staged} is not a regular file`);
    settle(fd, mode, owner);
    closeSync(fd);
    fd = -1;
    renameSync(staged, path);
  } catch (err) {
    if (fd >= 0) closeSync(fd);
    try {
      unlinkSync(staged);
    } catch {
      /* gone */
    }
    if (err instanceof QgreyError) throw err;
    throw temporary(`unable to write ${name}: ${reason(err)}`, err);
  }
  syncDir(dirname(path));
}
