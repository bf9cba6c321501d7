// `qgrey clean`: jgreylist-clean's rules on the tree, walk first, then apply.
//   last seen (atime) more than --max-age ago                   -> removed (max-age)
//   never revisited (atime == mtime, whole seconds) and last
//   seen more than --one-time ago                               -> removed (one-time)
//   then every directory left empty. Symlinks and other odd things are reported, left alone.
// Also drops expired entries from the white- and blacklist files.

import { lstatSync, rmdirSync, unlinkSync } from 'node:fs';
import { resolve } from 'node:path';
import type { CleanArgs } from '../commands/clean.js';
import { parseDuration } from '../core/when.js';
import { QgreyError, reason } from '../core/errors.js';
import type { Layout } from '../core/key.js';
import { treeDir, walkTree, layoutName, anomalyLine, tempPid, enterDir } from '../store/tree.js';
import { lockTree, pidExists } from '../store/lock.js';
import { treeFs, type TreeFs } from '../native/treefs.js';
import { getSystemErrorName } from 'node:util';
import { listDir, listPath, purgeExpired, LIST_NAMES } from '../store/lists.js';

export interface CleanReport {
  dir: string;
  dryRun: boolean;
  removedMaxAge: number;
  removedOneTime: number;
  removedDirs: number;
  kept: number;
  /** removals skipped because the entry changed between the walk and the apply */
  changed: number;
  /** temporary files left by interrupted runs (their process is gone), removed */
  removedTemps: number;
  anomalies: number;
  listsPurged: number;
  seconds: number;
}

type Removal = { key: string; atime: number; mtime: number; why: 'max-age' | 'one-time' };

/**
 * The removals through the C helper, one directory at a time: each entry is looked at again
 * (fstatat) and unlinked only if its times are still those the walk saw, relative to a
 * descriptor of its directory opened from the root without following any symlink.
 */
function removeNative(native: TreeFs, root: string, removals: readonly Removal[], rep: CleanReport): void {
  for (let i = 0; i < removals.length; ) {
    const dir = removals[i]!.key.slice(0, removals[i]!.key.lastIndexOf('/'));
    let j = i + 1;
    while (j < removals.length && removals[j]!.key.lastIndexOf('/') === dir.length && removals[j]!.key.startsWith(dir)) j++;
    const group = removals.slice(i, j);
    i = j;
    const names = group.map((r) => r.key.slice(dir.length + 1));
    let res: Int32Array;
    try {
      res = native.removeIfUnchanged(root, dir, names, Float64Array.from(group, (r) => r.atime), Float64Array.from(group, (r) => r.mtime));
    } catch (err) {
      const c = (err as NodeJS.ErrnoException).code;
      if (c !== 'ENOENT' && c !== 'ENOTDIR' && c !== 'ELOOP') throw new QgreyError(`unable to open ${root}/${dir}: ${reason(err)}`, 111, { cause: err });
      process.stderr.write(`qgrey: warning: ${root}/${dir}: changed since the walk (gone, or no longer a directory); left its entries alone\n`);
      rep.changed += group.length;
      rep.kept += group.length;
      continue;
    }
    for (let k = 0; k < group.length; k++) {
      const v = res[k]!;
      if (v === 0) {
        if (group[k]!.why === 'max-age') rep.removedMaxAge++;
        else rep.removedOneTime++;
      } else if (v === 2) {
        rep.changed++;
        rep.kept++;
      } else if (v < 0) {
        throw new QgreyError(`unable to remove ${root}/${group[k]!.key}: ${getSystemErrorName(v)}`, 111);
      }
    }
  }
}

export async function run(argv: CleanArgs): Promise<number> {
  const t0 = process.hrtime.bigint();
  // absolute: the apply phase changes directory, and a relative name would then point elsewhere
  const root = resolve(treeDir(argv.dir));
  const maxAge = parseDuration(argv['max-age'], '--max-age');
  const oneTime = parseDuration(argv['one-time'], '--one-time');
  const dry = argv['dry-run'];
  const native = treeFs();
  const lock = dry ? null : await lockTree(root, 'qgrey clean');
  try {
    const now = Math.floor(Date.now() / 1000);
    const rep: CleanReport = {
      dir: root,
      dryRun: dry,
      removedMaxAge: 0,
      removedOneTime: 0,
      removedDirs: 0,
      kept: 0,
      changed: 0,
      removedTemps: 0,
      anomalies: 0,
      listsPurged: 0,
      seconds: 0,
    };
    // walk: collect removals; remember which directories keep something
    const removals: Removal[] = [];
    const dirs: string[] = [];
    const temps: string[] = [];
    const keep = new Set<string>();
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
    const seen: Partial<Record<Layout, string>> = {};
    for (const x of walkTree(root, { dirs: true, temps: true, native })) {
      if (x.type === 'entry') {
        seen[x.layout] ??= x.entry.key;
        const age = now - x.atime;
        if (age > maxAge) removals.push({ key: x.entry.key, atime: x.atime, mtime: x.mtime, why: 'max-age' });
        else if (oneTime > 0 && x.atime === x.mtime && age > oneTime) removals.push({ key: x.entry.key, atime: x.atime, mtime: x.mtime, why: 'one-time' });
        else {
          rep.kept++;
          keepUp(x.entry.key);
        }
      } else if (x.type === 'anomaly') {
        rep.anomalies++;
        process.stderr.write(`qgrey: warning: ${anomalyLine(root, x.anomaly)}\n`);
        keepUp(x.anomaly.key);
      } else if (x.type === 'temp') temps.push(x.key);
      else dirs.push(x.key);
    }
    if (seen.classc !== undefined && seen.byip !== undefined) {
      throw new QgreyError(
        `${root} mixes the two layouts (${layoutName('classc')} entry ${seen.classc}, ${layoutName('byip')} entry ${seen.byip}); jgreylist cannot use such a tree: refusing to clean it (rebuild it with qgrey rebuild)`,
        100,
      );
    }
    // apply, one directory at a time from inside it (short lookups, and a directory that was
    // swapped for a symlink since the walk is noticed: '.' must be the directory we lstat'ed)
    const home = process.cwd();
    let inDir: string | null = null;
    let dirOk = false;
    try {
      if (native && !dry) removeNative(native, root, removals, rep);
      else for (const r of removals) {
        if (dry) {
          if (r.why === 'max-age') rep.removedMaxAge++;
          else rep.removedOneTime++;
          continue;
        }
        const slash = r.key.lastIndexOf('/');
        const dir = r.key.slice(0, slash);
        const name = r.key.slice(slash + 1);
        if (dir !== inDir) {
          inDir = dir;
          dirOk = enterDir(root + '/' + dir, home);
          if (!dirOk) process.stderr.write(`qgrey: warning: ${root}/${dir}: changed since the walk (gone, or no longer a directory); left its entries alone\n`);
        }
        if (!dirOk) {
          rep.changed++;
          rep.kept++;
          continue;
        }
        // the wrapper may have touched it since the walk: look again, and only at this file
        let st;
        try {
          st = lstatSync(name);
        } catch {
          continue;
        }
        if (!st.isFile() || Math.floor(st.atimeMs / 1000) !== r.atime || Math.floor(st.mtimeMs / 1000) !== r.mtime) {
          rep.changed++;
          rep.kept++;
          continue;
        }
        try {
          unlinkSync(name);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
          throw new QgreyError(`unable to remove ${root}/${r.key}: ${reason(err)}`, 111, { cause: err });
        }
        if (r.why === 'max-age') rep.removedMaxAge++;
        else rep.removedOneTime++;
      }
      // temporary files of interrupted puts (ours hold the tree lock, as this run does): once
      // their process is gone
      inDir = null;
      for (const key of temps) {
        const slash = key.lastIndexOf('/');
        const dir = key.slice(0, slash);
        const name = key.slice(slash + 1);
        const pid = tempPid(name);
        if (pid <= 0 || pidExists(pid)) continue; // not a pid we can check, or alive: keep it
        if (dry) {
          rep.removedTemps++;
          continue;
        }
        if (dir !== inDir) {
          inDir = dir;
          dirOk = enterDir(root + '/' + dir, home);
        }
        if (!dirOk) continue;
        const st = lstatSync(name, { throwIfNoEntry: false });
        if (st === undefined || !st.isFile()) continue;
        try {
          unlinkSync(name);
          rep.removedTemps++;
        } catch {
          /* gone meanwhile, or not ours to remove: leave it */
        }
      }
    } finally {
      process.chdir(home);
    }
    // directories come post-order (deepest first): remove those that kept nothing
    for (const d of dirs) {
      if (keep.has(d)) continue;
      if (dry) {
        rep.removedDirs++;
        continue;
      }
      try {
        rmdirSync(root + '/' + d);
        rep.removedDirs++;
      } catch {
        /* something new arrived in it meanwhile: keep it */
      }
    }
    // the lists: expired entries go
    if (argv.lists) {
      const ld = listDir(argv.listdir);
      for (const name of LIST_NAMES) {
        const r = await purgeExpired(listPath(ld, name), now, { dryRun: dry });
        rep.listsPurged += r.removed.length;
      }
    }
    rep.seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    if (argv.json) process.stdout.write(JSON.stringify(rep) + '\n');
    else if (!argv.quiet) {
      process.stdout.write(
        `clean: ${dry ? 'would remove' : 'removed'} ${rep.removedMaxAge} max-age and ${rep.removedOneTime} one-time entries and ${rep.removedDirs} empty directories; kept ${rep.kept} entries` +
          (rep.changed ? ` (${rep.changed} revisited during the run)` : '') +
          (rep.removedTemps ? `; ${dry ? 'would remove' : 'removed'} ${rep.removedTemps} temporary files left by interrupted runs` : '') +
          (rep.anomalies ? `; left ${rep.anomalies} odd things alone` : '') +
          (argv.lists ? `; ${rep.listsPurged} expired list entries ${dry ? 'to drop' : 'dropped'}` : '') +
          `; ${rep.seconds.toFixed(2)} s\n`,
      );
    }
    return 0;
  } finally {
    lock?.release();
  }
}
