// `qgrey rebuild`: the greylist tree from the accepted mail of the last N days.
//
//  1. lock the tree; remove what a killed earlier run left (ROOT/.qgrey-rebuild.*)
//  2. walk the live tree (layout, entries, odd things; a mixed tree is refused)
//  3. read the logs: `result=accepted code=250` lines, minus relay, authenticated and
//     excluded senders -> per key the earliest and the latest accepted time
//  4. merge: a live entry seen within --keep-recent keeps its earlier first / later last seen;
//     a rebuilt entry never has atime == mtime (jgreylist-clean would drop it after a day)
//  5. build the new tree beside the live one, in ROOT/.qgrey-rebuild.PID.TIME (0700/0600,
//     owner, both times set through the descriptor)
//  6. swap it in, never leaving a moment without an entry: a subtree missing from the live
//     tree is renamed in whole; an entry present in both gets its times written in place
//     (merged again with what the wrapper wrote meanwhile); a missing entry is renamed in
//  7. remove live entries that are neither rebuilt nor recent (looked at again first), then
//     the directories that left empty, then the staging tree
// A crash or a full disk before step 6 leaves the live tree as it was; during 6-7 every
// entry is either its old or its new self. The next run removes the leftovers.

import { closeSync, fchownSync, futimesSync, lchownSync, lutimesSync, lstatSync, mkdirSync, openSync, readdirSync, renameSync, rmdirSync, rmSync, unlinkSync, constants as C, type Stats } from 'node:fs';
import type { RebuildArgs } from '../commands/rebuild.js';
import { QgreyError, permanent, quote, reason } from '../core/errors.js';
import { DEFAULT_EXCLUDES, parseCidr, cidrContains, type Cidr, type Ip } from '../core/ip.js';
import { keyOf, type Layout } from '../core/key.js';
import { parseDuration } from '../core/when.js';
import { openLogs, recordFacts } from '../logs/read.js';
import { progress } from '../render/progress.js';
import { lockTree } from '../store/lock.js';
import {
  DIR_MODE,
  FILE_MODE,
  STAGE_PREFIX,
  anomalyLine,
  byIpFromEnv,
  layoutName,
  parseOwner,
  removeLeftovers,
  rootOwner,
  sanitizeName,
  treeDir,
  walkTree,
  type Owner,
} from '../store/tree.js';
import { zoneOption, cidrOptions } from './options.js';
import { treeFs } from '../native/treefs.js';

export const DEFAULT_LOGS = ['/var/log/qmail/smtpd', '/var/log/qmail/backup/qmail-smtpd.*'];

export interface RebuildReport {
  dir: string;
  layout: Layout;
  dryRun: boolean;
  files: number;
  /** accepted lines read (the reader only delivers lines holding `result=accepted code=250`) */
  lines: number;
  bad: number;
  duplicates: number;
  accepted: number;
  relay: number;
  auth: number;
  excluded: number;
  badAddress: number;
  future: number;
  /** entries written from the logs */
  written: number;
  /** of those, entries the live tree did not have */
  added: number;
  /** live entries kept as they are: seen within --keep-recent, or created during the run */
  carried: number;
  /** live entries neither in the logs nor recent */
  removed: number;
  anomalies: number;
  leftovers: number;
  scanSeconds: number;
  treeSeconds: number;
  seconds: number;
}

interface Times {
  first: number;
  last: number;
}
interface Live extends Times {
  atime: number;
  mtime: number;
}

const secs = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e9;
const code = (err: unknown) => (err as { code?: string } | null)?.code;

/** v4 networks as numeric ranges (the hot path), v6 networks as CIDRs. */
function excluder(nets: readonly Cidr[]): (ip: Ip) => boolean {
  const v4: [number, number][] = [];
  const v6: Cidr[] = [];
  for (const n of nets) {
    if (n.ip.family === 4) {
      const size = 2 ** (32 - n.prefix);
      v4.push([n.ip.value, n.ip.value + size - 1]);
    } else v6.push(n);
  }
  return (ip) => {
    if (ip.family === 4) {
      const v = ip.value;
      for (const [lo, hi] of v4) if (v >= lo && v <= hi) return true;
      return false;
    }
    for (const n of v6) if (cidrContains(n, ip)) return true;
    return false;
  };
}

export async function run(argv: RebuildArgs): Promise<number> {
  const t0 = process.hrtime.bigint();
  const root = treeDir(argv.dir);
  const zone = zoneOption(argv.tz, '--tz');
  const days = argv.days;
  if (!(days > 0)) throw permanent(`unable to use --days ${quote(String(days))}: expected a number of days above 0`);
  const keepRecent = parseDuration(argv['keep-recent'], '--keep-recent');
  const nets = [...(argv['default-excludes'] ? DEFAULT_EXCLUDES.map((t) => parseCidr(t)!) : []), ...cidrOptions(argv.exclude, '--exclude')];
  const excluded = excluder(nets);
  const dry = argv['dry-run'];
  const paths = argv.paths.length ? argv.paths : DEFAULT_LOGS;
  // a month of logs takes a while: a line count on a terminal, nothing in cron
  const prog = progress('rebuild');
  const warn = prog.warn;

  const lock = dry ? null : await lockTree(root, 'qgrey rebuild');
  let stage: string | null = null;
  const onSignal = (sig: NodeJS.Signals) => {
    if (stage) rmSync(stage, { recursive: true, force: true });
    lock?.release();
    process.kill(process.pid, sig);
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const s of signals) process.once(s, onSignal);
  try {
    const now = Date.now() / 1000;
    const rep: RebuildReport = {
      dir: root,
      layout: 'classc',
      dryRun: dry,
      files: 0,
      lines: 0,
      bad: 0,
      duplicates: 0,
      accepted: 0,
      relay: 0,
      auth: 0,
      excluded: 0,
      badAddress: 0,
      future: 0,
      written: 0,
      added: 0,
      carried: 0,
      removed: 0,
      anomalies: 0,
      leftovers: 0,
      scanSeconds: 0,
      treeSeconds: 0,
      seconds: 0,
    };
    if (!dry) rep.leftovers = removeLeftovers(root).length;
    const owner: Owner = argv.owner !== undefined ? parseOwner(argv.owner) : rootOwner(root);

    // 2. the live tree
    const live = new Map<string, Live>();
    const seen: Partial<Record<Layout, string>> = {};
    for (const x of walkTree(root, { native: treeFs() })) {
      if (x.type === 'entry') {
        seen[x.layout] ??= x.entry.key;
        live.set(x.entry.key, { first: x.entry.first, last: x.entry.last, atime: x.atime, mtime: x.mtime });
      } else if (x.type === 'anomaly') {
        rep.anomalies++;
        warn(anomalyLine(root, x.anomaly));
      }
    }
    if (seen.classc !== undefined && seen.byip !== undefined) {
      throw permanent(
        `${root} mixes the two layouts (${layoutName('classc')} entry ${seen.classc}, ${layoutName('byip')} entry ${seen.byip}); jgreylist cannot use such a tree. Move it aside and rebuild into an empty directory with the layout you want`,
      );
    }
    const found: Layout | null = seen.classc !== undefined ? 'classc' : seen.byip !== undefined ? 'byip' : null;
    const asked: Layout | null = argv['by-ip'] === true ? 'byip' : argv['by-ip'] === false ? 'classc' : byIpFromEnv() ? 'byip' : null;
    if (found !== null && asked !== null && found !== asked) {
      throw permanent(
        `${root} holds ${layoutName(found)} entries (e.g. ${seen[found]}), but ${layoutName(asked)} was asked for${argv['by-ip'] === undefined ? ' (JGREYLIST_BY_IP)' : ''}; refusing to mix layouts`,
      );
    }
    const layout: Layout = found ?? asked ?? 'classc';
    rep.layout = layout;

    // 3. the logs
    const tScan = process.hrtime.bigint();
    const since = { sec: Math.floor(now - days * 86400), nsec: 0 };
    const fromLogs = new Map<string, Times>();
    const { batches, stats } = openLogs(paths, { zone, since, needle: 'result=accepted code=250', warn });
    let badWarned = 0;
    for await (const batch of batches) {
      prog.tick(stats.lines);
      for (const r of batch) {
        const st = r.stamp;
        if (st === null) continue;
        const f = recordFacts(r);
        if (f === null) continue;
        rep.accepted++;
        if (f.relay) {
          rep.relay++;
          continue;
        }
        if (f.authuser !== '') {
          rep.auth++;
          continue;
        }
        const ip = f.ip;
        if (ip === null) {
          rep.badAddress++;
          if (badWarned++ < 10) warn(`${r.source}:${r.lineno}: skipped an accepted line whose remoteip is not an address: ${quote(f.remoteip)}`);
          continue;
        }
        if (excluded(ip)) {
          rep.excluded++;
          continue;
        }
        let t = st.sec + st.nsec / 1e9;
        if (t > now) {
          rep.future++;
          t = now;
        }
        const key = keyOf(ip, layout);
        const e = fromLogs.get(key);
        if (e === undefined) fromLogs.set(key, { first: t, last: t });
        else {
          if (t < e.first) e.first = t;
          if (t > e.last) e.last = t;
        }
      }
    }
    prog.done();
    rep.files = stats.files;
    rep.lines = stats.lines;
    rep.bad = stats.bad;
    rep.duplicates = stats.duplicates;
    rep.scanSeconds = secs(tScan);

    // 4. merge
    const cutoff = now - keepRecent;
    const recent = (l: Times) => l.last >= cutoff;
    const merge = (e: Times, l: Times | undefined): void => {
      if (l !== undefined && recent(l)) {
        if (l.first < e.first && l.first <= now) e.first = l.first;
        const ll = Math.min(l.last, now);
        if (ll > e.last) e.last = ll;
      }
      // jgreylist-clean compares whole seconds: a rebuilt entry must never look unrevisited
      if (Math.floor(e.first) >= Math.floor(e.last)) e.first = Math.floor(e.last) - 1;
    };
    for (const [key, e] of fromLogs) merge(e, live.get(key));
    const stale: string[] = [];
    for (const [key, l] of live) {
      if (fromLogs.has(key)) continue;
      if (recent(l)) rep.carried++;
      else stale.push(key);
    }
    rep.written = fromLogs.size;
    for (const key of fromLogs.keys()) if (!live.has(key)) rep.added++;

    if (dry) {
      rep.removed = stale.length;
      rep.seconds = secs(t0);
      report(rep, argv);
      return 0;
    }

    // 5. build beside
    const tTree = process.hrtime.bigint();
    stage = `${root}/${STAGE_PREFIX}${process.pid}.${Math.floor(now)}`;
    const builder = new Builder(stage, owner);
    builder.mkdir('');
    // only what the live tree lacks is staged; entries it has are updated in place in step 6
    const keys = [...fromLogs.keys()].sort();
    const existing: string[] = [];
    try {
      for (const key of keys) {
        if (live.has(key)) {
          existing.push(key);
          continue;
        }
        const e = fromLogs.get(key)!;
        builder.file(key, e.first, e.last);
      }
    } catch (err) {
      rmSync(stage, { recursive: true, force: true });
      stage = null;
      throw err;
    }

    // 6. swap in
    const swap = new Swapper(root, stage, owner, fromLogs, (l) => merge(l.staged, l.live), warn);
    swap.dir('');
    for (const key of existing) swap.updateKey(key);
    rep.anomalies += swap.anomalies;

    // 7. prune
    const emptied = new Set<string>();
    for (const key of stale) {
      const l = live.get(key)!;
      const p = root + '/' + key;
      let st: Stats;
      try {
        st = lstatSync(p);
      } catch {
        continue;
      }
      // revisited or recreated since the walk: the wrapper's, keep it
      if (!st.isFile() || Math.floor(st.atimeMs / 1000) !== l.atime || Math.floor(st.mtimeMs / 1000) !== l.mtime) {
        rep.carried++;
        continue;
      }
      try {
        unlinkSync(p);
        rep.removed++;
      } catch (err) {
        if (code(err) !== 'ENOENT') throw new QgreyError(`unable to remove ${p}: ${reason(err)}`, 111, { cause: err });
      }
      let d = key;
      for (let i = d.lastIndexOf('/'); i > 0; i = d.lastIndexOf('/')) {
        d = d.slice(0, i);
        emptied.add(d);
      }
    }
    for (const d of [...emptied].sort((a, b) => b.length - a.length || (a < b ? 1 : -1))) {
      try {
        rmdirSync(root + '/' + d);
      } catch {
        /* not empty: fine */
      }
    }
    rmSync(stage, { recursive: true, force: true });
    stage = null;
    rep.treeSeconds = secs(tTree);
    rep.seconds = secs(t0);
    report(rep, argv);
    return 0;
  } catch (err) {
    if (stage) rmSync(stage, { recursive: true, force: true });
    throw err;
  } finally {
    for (const s of signals) process.off(s, onSignal);
    lock?.release();
  }
}

function report(rep: RebuildReport, argv: RebuildArgs): void {
  if (argv.json) {
    process.stdout.write(JSON.stringify(rep) + '\n');
    return;
  }
  if (argv.quiet) return;
  const would = rep.dryRun ? 'would write' : 'wrote';
  const skipped = [
    rep.relay ? `${rep.relay} relay` : '',
    rep.auth ? `${rep.auth} authenticated` : '',
    rep.excluded ? `${rep.excluded} excluded` : '',
    rep.badAddress ? `${rep.badAddress} without an address` : '',
  ].filter(Boolean);
  process.stdout.write(
    `rebuild: ${rep.accepted} accepted deliveries in ${rep.files} files (${rep.lines} lines read` +
      (rep.bad ? `, ${rep.bad} bad` : '') +
      (rep.duplicates ? `, ${rep.duplicates} duplicates` : '') +
      ')' +
      `; ${would} ${rep.written} ${layoutName(rep.layout)} entries (${rep.added} new)` +
      `, ${rep.dryRun ? 'would carry' : 'carried'} over ${rep.carried}, ${rep.dryRun ? 'would remove' : 'removed'} ${rep.removed}` +
      (skipped.length ? `; skipped ${skipped.join(', ')}` : '') +
      (rep.anomalies ? `; left ${rep.anomalies} odd things alone` : '') +
      (rep.leftovers ? `; removed ${rep.leftovers} leftovers of an interrupted run` : '') +
      `; ${rep.seconds.toFixed(2)} s (logs ${rep.scanSeconds.toFixed(2)} s, tree ${rep.treeSeconds.toFixed(2)} s)\n`,
  );
}

/** Writes the staging tree: keys in sorted order, so each directory is made once. */
class Builder {
  private readonly made = new Set<string>();
  private readonly chown: boolean;
  constructor(
    private readonly base: string,
    private readonly owner: Owner,
  ) {
    this.chown = owner.uid !== process.geteuid?.() || owner.gid !== process.getegid?.();
  }

  mkdir(rel: string): void {
    const p = rel === '' ? this.base : this.base + '/' + rel;
    try {
      mkdirSync(p, DIR_MODE);
    } catch (err) {
      throw fsFail('create directory', p, err);
    }
    if (this.chown) {
      try {
        lchownSync(p, this.owner.uid, this.owner.gid);
      } catch (err) {
        throw fsFail('change the owner of', p, err);
      }
    }
    this.made.add(rel);
  }

  file(key: string, first: number, last: number): void {
    let i = key.indexOf('/');
    while (i !== -1) {
      const d = key.slice(0, i);
      if (!this.made.has(d)) this.mkdir(d);
      i = key.indexOf('/', i + 1);
    }
    const p = this.base + '/' + key;
    let fd: number;
    try {
      fd = openSync(p, C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW, FILE_MODE);
    } catch (err) {
      throw fsFail('create', p, err);
    }
    try {
      if (this.chown) fchownSync(fd, this.owner.uid, this.owner.gid);
      futimesSync(fd, last, first);
    } catch (err) {
      closeSync(fd);
      throw fsFail('write', p, err);
    }
    closeSync(fd);
  }
}

function fsFail(verb: string, p: string, err: unknown): QgreyError {
  // a full disk, a quota, an I/O error: temporary; everything else is one too (cron retries)
  return new QgreyError(`unable to ${verb} ${p}: ${reason(err)}`, 111, { cause: err });
}

/** Moves the staged tree into the live one without a moment where an entry is missing. */
class Swapper {
  anomalies = 0;
  private readonly asRoot: boolean;
  constructor(
    private readonly root: string,
    private readonly stage: string,
    private readonly owner: Owner,
    private readonly entries: Map<string, Times>,
    private readonly merge: (x: { staged: Times; live: Times }) => void,
    private readonly warn: (m: string) => void,
  ) {
    this.asRoot = process.geteuid?.() === 0;
  }

  private odd(rel: string, st: Stats, expected: string): void {
    this.anomalies++;
    const what = st.isSymbolicLink() ? 'a symbolic link' : st.isDirectory() ? 'a directory' : st.isFile() ? 'a regular file' : 'not a regular file';
    this.warn(`${this.root}/${sanitizeName(rel)}: is ${what}, expected ${expected}; left alone (its rebuilt entry is not written)`);
  }

  private fixOwner(p: string, st: Stats): void {
    if (this.asRoot && (st.uid !== this.owner.uid || st.gid !== this.owner.gid)) {
      try {
        lchownSync(p, this.owner.uid, this.owner.gid);
      } catch (err) {
        throw fsFail('change the owner of', p, err);
      }
    }
  }

  /** Merge the staged directory `rel` (relative; '' = the top) into the live tree. */
  dir(rel: string): void {
    const sdir = rel === '' ? this.stage : this.stage + '/' + rel;
    const names = readdirSync(sdir, { withFileTypes: true });
    for (const d of names) {
      const r = rel === '' ? d.name : rel + '/' + d.name;
      const lp = this.root + '/' + r;
      const sp = sdir + '/' + d.name;
      let st = lstatOrNull(lp);
      if (st === null) {
        // nothing there: the whole staged subtree (or entry) appears at once
        try {
          renameSync(sp, lp);
          continue;
        } catch (err) {
          const c = code(err);
          if (c !== 'EEXIST' && c !== 'ENOTEMPTY' && c !== 'EISDIR' && c !== 'ENOTDIR') throw fsFail('rename into place', lp, err);
          st = lstatOrNull(lp); // the wrapper made it meanwhile
          if (st === null) throw fsFail('rename into place', lp, err);
        }
      }
      if (d.isDirectory()) {
        if (!st.isDirectory()) {
          this.odd(r, st, 'a directory');
          continue;
        }
        this.fixOwner(lp, st);
        this.dirsOk.add(r);
        this.dir(r);
      } else {
        if (!st.isFile()) {
          this.odd(r, st, 'a regular file');
          continue;
        }
        this.update(r, lp, st);
      }
    }
  }

  private readonly dirsOk = new Set<string>();
  private readonly dirsBad = new Set<string>();

  /** An entry the live tree had at the walk: check its directories (once each), then update it. */
  updateKey(key: string): void {
    let i = key.indexOf('/');
    while (i !== -1) {
      const d = key.slice(0, i);
      if (!this.dirsOk.has(d)) {
        if (this.dirsBad.has(d)) return;
        const st = lstatOrNull(this.root + '/' + d);
        if (st === null) return; // removed meanwhile: the entry is gone too
        if (!st.isDirectory()) {
          this.dirsBad.add(d);
          this.odd(d, st, 'a directory');
          return;
        }
        this.fixOwner(this.root + '/' + d, st);
        this.dirsOk.add(d);
      }
      i = key.indexOf('/', i + 1);
    }
    const lp = this.root + '/' + key;
    const st = lstatOrNull(lp);
    if (st === null) return;
    if (!st.isFile()) {
      this.odd(key, st, 'a regular file');
      return;
    }
    this.update(key, lp, st);
  }

  /**
   * An entry in both trees: merge with what it holds now (the wrapper may have written since
   * the walk) and write the times with lutimes (never through a symlink).
   */
  private update(key: string, lp: string, st?: Stats): void {
    const staged = this.entries.get(key);
    if (staged === undefined) return;
    if (st === undefined) {
      const s = lstatOrNull(lp);
      if (s === null) return;
      st = s;
    }
    const t = { first: staged.first, last: staged.last };
    this.merge({ staged: t, live: { first: st.mtimeMs / 1000, last: st.atimeMs / 1000 } });
    try {
      lutimesSync(lp, t.last, t.first);
      if (this.asRoot && (st.uid !== this.owner.uid || st.gid !== this.owner.gid)) lchownSync(lp, this.owner.uid, this.owner.gid);
    } catch (err) {
      if (code(err) === 'ENOENT') return;
      throw fsFail('set the times of', lp, err);
    }
  }
}

function lstatOrNull(p: string): Stats | null {
  try {
    return lstatSync(p);
  } catch (err) {
    if (code(err) === 'ENOENT') return null;
    throw fsFail('examine', p, err);
  }
}
