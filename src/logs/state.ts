// Where incremental log readers (`evict --state`, `whitelist outgoing --state`, `traps
// --state`) left off: per inode how far each log file was read, so a `current` that multilog
// renamed to @….s is continued, not re-read. The state file that holds these marks is read and
// written by store/state-file.ts.

import type { ReadOptions, ReadStats } from './read.js';

export interface FileMark {
  path: string;
  ino: number;
  offset: number;
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
