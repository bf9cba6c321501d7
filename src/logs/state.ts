// The state file of incremental log readers (`evict --state`, `whitelist outgoing --state`):
// a JSON document, written atomically (mode 0600), that remembers per inode how far each log
// file was read, so a `current` that multilog renamed to @….s is continued, not re-read, plus
// whatever the command keeps of its window. A missing file is a first run; an unreadable one
// a temporary error; one of another shape is warned about and started afresh.

import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { reason, temporary } from '../core/errors.js';
import { ensureDir, writeFileAtomic } from '../store/atomic.js';
import type { ReadOptions, ReadStats } from './read.js';

export interface FileMark {
  path: string;
  ino: number;
  offset: number;
}

/** The saved document, or null (first run, or not one this command wrote: `valid` said no). */
export function loadStateFile<T extends { files: FileMark[] }>(path: string, valid: (s: T) => boolean, warn: (m: string) => void): T | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw temporary(`unable to read state file ${path}: ${reason(err)}`, err);
  }
  try {
    const s = JSON.parse(text) as T;
    if (typeof s !== 'object' || s === null || !Array.isArray(s.files) || !valid(s)) throw new Error('unknown shape');
    return s;
  } catch (err) {
    warn(`state file ${path} is not one qgrey wrote (${reason(err)}); starting afresh from --since`);
    return null;
  }
}

export function saveStateFile<T extends { files: FileMark[] }>(path: string, s: T): void {
  // as whitelist add creates the list directory (the README's state files are in it)
  ensureDir(dirname(path), 'state directory');
  writeFileAtomic(path, JSON.stringify(s) + '\n', { mode: 0o600, what: 'state file' });
}

/** openLogs' `resume` for the files a state remembers: a file seen before goes on where it was left. */
export function resumeFrom(files: readonly FileMark[] | undefined): ReadOptions['resume'] | undefined {
  if (files === undefined) return undefined;
  const byIno = new Map<number, number>();
  for (const f of files) if (Number.isInteger(f.ino) && Number.isInteger(f.offset)) byIno.set(f.ino, f.offset);
  return (f) => {
    const off = byIno.get(f.ino);
    return off !== undefined && off <= f.size ? off : 0;
  };
}

/** Where each file read ended, for the next run. */
export function fileMarks(stats: ReadStats): FileMark[] {
  const out: FileMark[] = [];
  for (const [path, end] of stats.ends) out.push({ path, ino: end.ino, offset: end.offset });
  return out;
}
