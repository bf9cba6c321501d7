// Which files a list of user-given paths stands for, in reading order.
// A multilog directory gives its rotated files (@<label>.s, @<label>.u) in name order, then
// `current`; lock, state, previous, processed and newstate are never read. A file is a file;
// a glob pattern is expanded (glob is imported only when a pattern is given); '-' is stdin.

import { readdirSync, statSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { permanent, reason, quote } from '../core/errors.js';

export interface FileSource {
  /** file path, or '-' for standard input */
  readonly path: string;
  /** sources with the same group never dedupe against each other (one multilog dir, one file) */
  readonly group: number;
  /** a file still being written (`current`) or left by a crash (`.u`): its unterminated last line is incomplete */
  readonly live: boolean;
  /** for rotated files: the rotation time in the name, in Unix seconds (every line in it is older) */
  readonly rotatedAt: number | null;
}

const ROTATED = /^@([0-9a-f]{24})\.([su])$/;

function rotationTime(label: string): number {
  const hi = parseInt(label.slice(0, 8), 16) - 0x40000000;
  const lo = parseInt(label.slice(8, 16), 16);
  return hi * 4294967296 + lo - 10;
}

function isMultilogDir(names: string[]): boolean {
  return names.includes('current') || names.some((n) => ROTATED.test(n));
}

function hasMagic(p: string): boolean {
  return /[*?[\]{}]/.test(p);
}

/**
 * The files of `paths`. A pattern that matches no file is an error, unless it is in
 * `optional` (the default patterns of a command: a host without backups has none).
 */
export async function expandSources(paths: readonly string[], optional: readonly string[] = []): Promise<FileSource[]> {
  const out: FileSource[] = [];
  let group = 0;
  const addFile = (path: string, st: Stats | null) => {
    void st;
    out.push({ path, group: group++, live: false, rotatedAt: null });
  };
  for (const p of paths) {
    // /dev/stdin may be a socket, which cannot be opened by name on Linux: read fd 0 instead
    if (p === '-' || p === '/dev/stdin' || p === '/dev/fd/0') {
      out.push({ path: '-', group: group++, live: false, rotatedAt: null });
      continue;
    }
    let st: Stats | null = null;
    try {
      st = statSync(p);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || !hasMagic(p)) {
        throw permanent(`unable to read log ${quote(p)}: ${reason(err)}`, err);
      }
    }
    if (st === null) {
      const { glob } = await import('glob');
      const hits = (await glob(p, { nodir: true, dot: false })).sort();
      if (hits.length === 0) {
        if (optional.includes(p)) continue;
        throw permanent(`unable to read log ${quote(p)}: the pattern matches no file`);
      }
      for (const h of hits) addFile(h, null);
      continue;
    }
    if (st.isDirectory()) {
      let names: string[];
      try {
        names = readdirSync(p);
      } catch (err) {
        throw permanent(`unable to read log directory ${quote(p)}: ${reason(err)}`, err);
      }
      if (!isMultilogDir(names)) throw permanent(`unable to read log directory ${quote(p)}: no 'current' and no @….s files: expected a multilog directory`);
      const g = group++;
      for (const n of names.filter((n) => ROTATED.test(n)).sort()) {
        const m = ROTATED.exec(n)!;
        out.push({ path: join(p, n), group: g, live: m[2] === 'u', rotatedAt: rotationTime(m[1]!) });
      }
      if (names.includes('current')) out.push({ path: join(p, 'current'), group: g, live: true, rotatedAt: null });
      continue;
    }
    if (!st.isFile() && !st.isFIFO() && !st.isCharacterDevice()) throw permanent(`unable to read log ${quote(p)}: not a regular file or directory`);
    addFile(p, st);
  }
  return out;
}
