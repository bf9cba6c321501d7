// One share of a `qgrey clean` run: walk some of the tree's top-level directories (or all of
// them), then, once every share has been walked and the tree found to be of one layout, apply
// the removals. `qgrey clean` runs one share itself and the others in child processes (see
// clean-child.ts): each process walks and changes only its own top-level directories, and a
// process has its own working directory, which the apply phase needs (it removes entries from
// inside their directory, so that nothing above can be swapped for a symlink under it).

import { lstatSync, rmdirSync, statSync, unlinkSync } from 'node:fs';
import { QgreyError, reason } from '../core/errors.js';
import type { Layout } from '../core/key.js';
import { walkTree, anomalyLine, tempPid } from '../store/tree.js';

export interface PartParams {
  /** absolute path of the tree */
  root: string;
  now: number;
  maxAge: number;
  oneTime: number;
  dry: boolean;
  /** walk only these top-level names */
  only?: string[];
  /** walk every top-level name but these */
  skip?: string[];
}

interface Removal {
  key: string;
  atime: number;
  mtime: number;
  why: 'max-age' | 'one-time';
}

export interface Walked {
  removals: Removal[];
  /** directories, post-order */
  dirs: string[];
  temps: string[];
  /** directories that keep something */
  keep: Set<string>;
  kept: number;
  anomalies: number;
  /** the first entry seen of each layout */
  seen: Partial<Record<Layout, string>>;
}

export interface Applied {
  removedMaxAge: number;
  removedOneTime: number;
  removedDirs: number;
  removedTemps: number;
  /** removals skipped because the entry changed between the walk and the apply (kept) */
  changed: number;
}

export function walkPart(p: PartParams): Walked {
  const w: Walked = { removals: [], dirs: [], temps: [], keep: new Set(), kept: 0, anomalies: 0, seen: {} };
  const { keep } = w;
  let lastKept = '';
  const keepUp = (key: string) => {
    let d = key.slice(0, key.lastIndexOf('/'));
    if (d === lastKept) return;
    lastKept = d;
    while (d !== '' && !keep.has(d)) {
      keep.add(d);
      const i = d.lastIndexOf('/');
      d = i === -1 ? '' : d.slice(0, i);
    }
  };
  const only = p.only ? new Set(p.only) : null;
  const skip = p.skip ? new Set(p.skip) : null;
  const top = only ? (n: string) => only.has(n) : skip ? (n: string) => !skip.has(n) : undefined;
  for (const x of walkTree(p.root, { dirs: true, temps: true, top })) {
    if (x.type === 'entry') {
      w.seen[x.layout] ??= x.entry.key;
      const age = p.now - x.atime;
      if (age > p.maxAge) w.removals.push({ key: x.entry.key, atime: x.atime, mtime: x.mtime, why: 'max-age' });
      else if (p.oneTime > 0 && x.atime === x.mtime && age > p.oneTime) w.removals.push({ key: x.entry.key, atime: x.atime, mtime: x.mtime, why: 'one-time' });
      else {
        w.kept++;
        keepUp(x.entry.key);
      }
    } else if (x.type === 'anomaly') {
      w.anomalies++;
      process.stderr.write(`qgrey: warning: ${anomalyLine(p.root, x.anomaly)}\n`);
      keepUp(x.anomaly.key);
    } else if (x.type === 'temp') w.temps.push(x.key);
    else w.dirs.push(x.key);
  }
  return w;
}

/** chdir into a tree directory, making sure it is the directory itself and not a symlink to elsewhere. */
function enter(path: string): boolean {
  try {
    const st = lstatSync(path);
    if (!st.isDirectory()) return false;
    process.chdir(path);
    const here = statSync('.');
    return here.ino === st.ino && here.dev === st.dev;
  } catch {
    return false;
  }
}

/** whether a process with this pid exists (EPERM: it does, under another user) */
function processAlive(pid: number): boolean {
  if (pid <= 0) return true; // not a pid we can check: keep the file
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

export function applyPart(p: PartParams, w: Walked): Applied {
  const a: Applied = { removedMaxAge: 0, removedOneTime: 0, removedDirs: 0, removedTemps: 0, changed: 0 };
  const { root, dry } = p;
  // one directory at a time from inside it (short lookups, and a directory that was swapped
  // for a symlink since the walk is noticed: '.' must be the directory we lstat'ed)
  const home = process.cwd();
  let inDir: string | null = null;
  let dirOk = false;
  const cd = (dir: string, report: boolean) => {
    if (dir === inDir) return;
    inDir = dir;
    dirOk = enter(root + '/' + dir);
    if (!dirOk && report) process.stderr.write(`qgrey: warning: ${root}/${dir}: changed since the walk (gone, or no longer a directory); left its entries alone\n`);
  };
  try {
    for (const r of w.removals) {
      if (dry) {
        if (r.why === 'max-age') a.removedMaxAge++;
        else a.removedOneTime++;
        continue;
      }
      const slash = r.key.lastIndexOf('/');
      cd(r.key.slice(0, slash), true);
      if (!dirOk) {
        a.changed++;
        continue;
      }
      const name = r.key.slice(slash + 1);
      // the wrapper may have touched it since the walk: look again, and only at this file
      const st = lstatSync(name, { throwIfNoEntry: false });
      if (st === undefined) continue;
      if (!st.isFile() || Math.floor(st.atimeMs / 1000) !== r.atime || Math.floor(st.mtimeMs / 1000) !== r.mtime) {
        a.changed++;
        continue;
      }
      try {
        unlinkSync(name);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw new QgreyError(`unable to remove ${root}/${r.key}: ${reason(err)}`, 111, { cause: err });
      }
      if (r.why === 'max-age') a.removedMaxAge++;
      else a.removedOneTime++;
    }
    // temporary files of interrupted puts (ours hold the tree lock, as this run does): once
    // their process is gone
    inDir = null;
    for (const key of w.temps) {
      const slash = key.lastIndexOf('/');
      const name = key.slice(slash + 1);
      if (processAlive(tempPid(name))) continue;
      if (dry) {
        a.removedTemps++;
        continue;
      }
      cd(key.slice(0, slash), false);
      if (!dirOk) continue;
      const st = lstatSync(name, { throwIfNoEntry: false });
      if (st === undefined || !st.isFile()) continue;
      try {
        unlinkSync(name);
        a.removedTemps++;
      } catch {
        /* gone meanwhile, or not ours to remove: leave it */
      }
    }
  } finally {
    process.chdir(home);
  }
  // directories come post-order (deepest first): remove those that kept nothing
  for (const d of w.dirs) {
    if (w.keep.has(d)) continue;
    if (dry) {
      a.removedDirs++;
      continue;
    }
    try {
      rmdirSync(root + '/' + d);
      a.removedDirs++;
    } catch {
      /* something new arrived in it meanwhile: keep it */
    }
  }
  return a;
}
