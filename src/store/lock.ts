// One lock per greylist tree, so two maintenance runs (rebuild, clean, evict) never overlap.
//
// The lock is the file ROOT/.qgrey.lock, created with O_EXCL|O_NOFOLLOW and holding
// "PID STARTTIME WHAT". Node has no flock(), so a lock left by a killed run is recognised
// by its holder: a pid that is gone, or a pid whose start time (field 22 of /proc/PID/stat)
// differs from the recorded one because the pid was reused. Breaking a stale lock is itself
// serialised by a second O_EXCL file (ROOT/.qgrey.lock.break), so two runs that find the
// same stale lock cannot both take it. jgreylist never looks at dot files in the root, and
// jgreylist-clean never touches files in the root.
//
// No npm imports.

import { clean } from '../core/text.js';
import { closeSync, constants as C, fstatSync, lstatSync, openSync, readFileSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { performance } from 'node:perf_hooks';
import { QgreyError, quote, reason } from '../core/errors.js';
import { notWritable } from './atomic.js';

export const LOCK_NAME = '.qgrey.lock';
/** Seconds to wait for a lock, or how to read them (QGREY_LOCK_WAIT) when the lock is first tried. */
export type LockWait = number | (() => number);
/** a breaker file older than this was left by a run killed while breaking a lock */
const BREAKER_STALE_MS = 10_000;

export interface TreeLock {
  readonly path: string;
  /** Remove the lock (idempotent). Also done at process exit. */
  release(): void;
}

/** Fields 3 (state) and 22 (start time) of /proc/PID/stat; null when it cannot be read. */
function procStat(pid: number): { state: string; start: string } | null {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // the command name in field 2 may contain spaces and parentheses: count from the last ')'
    const rest = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return { state: rest[0] ?? '', start: rest[19] ?? '' };
  } catch {
    return null;
  }
}

function startTime(pid: number): string | null {
  return procStat(pid)?.start ?? null;
}

/** whether process `pid` exists (signal 0: EPERM means it does, under another user) */
export function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function alive(pid: number, start: string): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  const now = procStat(pid);
  // a zombie holds nothing: a killed run whose parent died too waits for init to reap it
  if (now !== null) return now.state !== 'Z' && now.state !== 'X' && (start === '-' || now.start === start);
  return pidExists(pid);
}

interface Holder {
  pid: number;
  start: string;
  what: string;
  text: string;
}

/** What is at the lock's name when it is not a lock file: a FIFO, a directory, a symlink... */
class NotALock {
  constructor(readonly what: string) {}
}

function kindOf(mode: number): string {
  switch (mode & C.S_IFMT) {
    case C.S_IFDIR:
      return 'a directory';
    case C.S_IFLNK:
      return 'a symbolic link';
    case C.S_IFIFO:
      return 'a FIFO';
    case C.S_IFSOCK:
      return 'a socket';
    case C.S_IFCHR:
    case C.S_IFBLK:
      return 'a device';
    default:
      return 'not a regular file';
  }
}

/**
 * The holder written in the lock file: opened O_NOFOLLOW|O_NONBLOCK (a symlink, FIFO or device
 * planted there is never followed, waited on or read), checked with fstat, at most 4 KB read.
 */
function readHolder(path: string): Holder | NotALock | null {
  let fd: number;
  try {
    fd = openSync(path, C.O_RDONLY | C.O_NOFOLLOW | C.O_NONBLOCK | C.O_NOCTTY);
  } catch (err) {
    const c = (err as NodeJS.ErrnoException).code;
    if (c === 'ENOENT') return null;
    if (c === 'ELOOP') return new NotALock('a symbolic link');
    try {
      return new NotALock(kindOf(lstatSync(path).mode));
    } catch {
      return new NotALock(`unreadable (${reason(err)})`);
    }
  }
  let text: string;
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return new NotALock(kindOf(st.mode));
    const buf = Buffer.alloc(4096);
    const n = readSync(fd, buf, 0, buf.length, 0);
    text = buf.toString('latin1', 0, n);
  } catch (err) {
    return new NotALock(`unreadable (${reason(err)})`);
  } finally {
    closeSync(fd);
  }
  const m = /^([0-9]+) (\S+) ?([^\n]*)\n/.exec(text);
  if (!m) return { pid: NaN, start: '-', what: '', text };
  return { pid: Number(m[1]), start: m[2]!, what: m[3]!, text };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function tryCreate(path: string, body: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW | C.O_NONBLOCK, 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  try {
    writeSync(fd, body);
  } finally {
    closeSync(fd);
  }
  return true;
}

function stale(path: string, h: Holder): boolean {
  if (Number.isInteger(h.pid)) return !alive(h.pid, h.start);
  // unreadable content: a run killed between creating and writing it, once it is old enough
  try {
    return Date.now() - lstatSync(path).mtimeMs > BREAKER_STALE_MS;
  } catch {
    return false;
  }
}

/** Remove a lock whose holder is gone. True when this run removed it. */
function breakStale(path: string, seen: Holder): boolean {
  const breaker = path + '.break';
  if (!tryCreate(breaker, `${process.pid}\n`)) {
    try {
      if (Date.now() - lstatSync(breaker).mtimeMs > BREAKER_STALE_MS) unlinkSync(breaker);
    } catch {
      /* gone meanwhile */
    }
    return false;
  }
  try {
    const again = readHolder(path);
    if (again === null) return true; // released meanwhile
    if (again instanceof NotALock || again.text !== seen.text) return false; // someone else took it: not stale any more
    unlinkSync(path);
    return true;
  } catch {
    return false;
  } finally {
    try {
      unlinkSync(breaker);
    } catch {
      /* ignore */
    }
  }
}

/**
 * Take the lock of the tree at `root`, waiting up to `waitSeconds` for another run to
 * finish; then fail with a temporary (111) error naming the holder.
 */
export async function lockTree(root: string, what: string, waitSeconds: LockWait): Promise<TreeLock> {
  return lockFile(root + '/' + LOCK_NAME, what, `greylist directory ${root}`, waitSeconds);
}

/**
 * The taking of a lock, one attempt per step: returns when `path` was created holding `me`,
 * yields the milliseconds to wait before the next attempt, throws 111 at the deadline. Shared
 * by the asynchronous taker (the tree's) and the synchronous one (the lists').
 */
function* attempts(path: string, me: string, label: string, wait: LockWait): Generator<number, void> {
  const waitSeconds = typeof wait === 'number' ? wait : wait();
  const dir = dirname(path);
  const tree = label === `greylist directory ${dir}`;
  // elapsed time, not the wall clock: a clock stepped back (ntpdate at boot) cannot stretch the wait
  const deadline = performance.now() + waitSeconds * 1000;
  let delay = 20;
  for (;;) {
    let created: boolean;
    try {
      created = tryCreate(path, me);
    } catch (err) {
      const c = (err as NodeJS.ErrnoException).code;
      if (c === 'ENOENT' || c === 'ENOTDIR') throw new QgreyError(`${tree ? label : `${label}: directory ${dir}`} does not exist or is not a directory`, 100, { cause: err });
      if (c === 'EACCES' || c === 'EPERM' || c === 'EROFS') {
        // a directory this uid cannot write: say so, permanent, rather than 'unable to lock'
        throw notWritable(tree ? label : `${label}: directory ${dir}`, dir, tree ? "the tree's owner" : 'its owner', err);
      }
      throw new QgreyError(`unable to lock ${path}: ${reason(err)}`, 111, { cause: err });
    }
    if (created) return;
    const holder = readHolder(path);
    if (holder === null) continue; // released between our open and read
    if (!(holder instanceof NotALock) && stale(path, holder) && breakStale(path, holder)) continue;
    if (performance.now() >= deadline) {
      if (holder instanceof NotALock) throw new QgreyError(`unable to lock ${label}: ${path} is ${holder.what}, not a lock file; remove it`, 111);
      const who = Number.isInteger(holder.pid) ? `pid ${holder.pid}${holder.what ? ', ' + holder.what : ''}` : 'unknown holder';
      throw new QgreyError(`${label} is locked by another ${tree ? 'maintenance run' : 'run'} (${who}); try again later`, 111);
    }
    yield Math.min(delay, Math.max(1, deadline - performance.now()));
    delay = Math.min(delay * 2, 250);
  }
}

function holderLine(what: string): string {
  return `${process.pid} ${startTime(process.pid) ?? '-'} ${clean(what, Infinity)}\n`;
}

/** The lock just taken: released by release() or at process exit, only while it is still ours. */
function held(path: string, me: string): TreeLock {
  let holding = true;
  const release = () => {
    if (!holding) return;
    holding = false;
    process.off('exit', release);
    const h = readHolder(path);
    if (h !== null && !(h instanceof NotALock) && h.text === me) {
      try {
        unlinkSync(path);
      } catch {
        /* ignore */
      }
    }
  };
  process.on('exit', release);
  return { path, release };
}

/**
 * Take the lock file `path` for `label` (what is locked, for messages), waiting up to
 * `waitSeconds`; the one lock of the tree and of the list files.
 */
export async function lockFile(path: string, what: string, label: string, waitSeconds: LockWait): Promise<TreeLock> {
  const me = holderLine(what);
  for (const ms of attempts(path, me, label, waitSeconds)) await sleep(ms);
  return held(path, me);
}

const sleepCell = new Int32Array(new SharedArrayBuffer(4));

/** lockFile for synchronous callers (the list writers): the waits block the thread. */
export function lockFileSync(path: string, what: string, label: string, waitSeconds: LockWait): TreeLock {
  const me = holderLine(what);
  for (const ms of attempts(path, me, label, waitSeconds)) Atomics.wait(sleepCell, 0, 0, ms);
  return held(path, me);
}

