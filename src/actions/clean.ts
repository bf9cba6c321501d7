// `qgrey clean`: jgreylist-clean's rules on the tree, walk first, then apply.
//   last seen (atime) more than --max-age ago                   -> removed (max-age)
//   never revisited (atime == mtime, whole seconds) and last
//   seen more than --one-time ago                               -> removed (one-time)
//   then every directory left empty. Symlinks and other odd things are reported, left alone.
// Also drops expired entries from the white- and blacklist files.

import { fork, type ChildProcess } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CleanArgs } from '../commands/clean.js';
import { parseDuration } from '../core/when.js';
import { QgreyError, permanent, quote, temporary } from '../core/errors.js';
import type { Layout } from '../core/key.js';
import { treeDir, layoutName, OURS_PREFIX } from '../store/tree.js';
import { applyPart, walkPart, type Applied, type PartParams } from './clean-part.js';
import type { FromChild, ToChild } from './clean-child.js';
import { lockTree } from '../store/lock.js';
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
  /** processes that shared the walk (--jobs, at most one per top-level directory) */
  jobs: number;
  seconds: number;
}

/** A share of the walk in a child process (see clean-child.ts). */
class Child {
  private readonly proc: ChildProcess;
  private readonly queue: FromChild[] = [];
  private waiter: ((m: FromChild | null) => void) | null = null;
  private exit: number | null = null;

  constructor(params: PartParams) {
    this.proc = fork(fileURLToPath(new URL('./clean-child.js', import.meta.url)), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.proc.on('message', (m) => this.deliver(m as FromChild));
    this.proc.on('exit', (c, sig) => {
      this.exit = c ?? (sig ? 128 : 111);
      this.deliver(null);
    });
    this.proc.on('error', () => this.deliver(null));
    this.proc.send({ params } satisfies ToChild);
  }

  private deliver(m: FromChild | null): void {
    if (m !== null) this.queue.push(m);
    const w = this.waiter;
    if (w !== null && (this.queue.length > 0 || m === null)) {
      this.waiter = null;
      w(this.queue.shift() ?? null);
    }
  }

  /** the next message; a child that died without a word is a temporary failure */
  private async next(): Promise<FromChild> {
    const m = this.queue.shift() ?? (this.exit !== null ? null : await new Promise<FromChild | null>((res) => (this.waiter = res)));
    if (m === null) throw temporary(`clean: a helper process walking part of the tree died (exit ${this.exit ?? '?'}); nothing it had not removed yet was removed`);
    if ('error' in m) throw new QgreyError(m.error, m.exitCode === 100 ? 100 : 111);
    return m;
  }

  async walked(): Promise<Extract<FromChild, { walked: unknown }>['walked']> {
    const m = await this.next();
    if (!('walked' in m)) throw temporary('clean: protocol error with a helper process');
    return m.walked;
  }

  go(yes: boolean): void {
    if (this.proc.connected) this.proc.send({ go: yes } satisfies ToChild);
  }

  async applied(): Promise<Applied> {
    const m = await this.next();
    if (!('applied' in m)) throw temporary('clean: protocol error with a helper process');
    return m.applied;
  }

  /** wait for the process to end */
  async done(): Promise<void> {
    if (this.exit === null) await new Promise<void>((res) => this.proc.once('exit', () => res()));
  }

  kill(): void {
    if (this.exit === null) this.proc.kill('SIGTERM');
  }
}

/** The tree's top-level names, sorted; empty when they cannot be read (the walk then says why). */
function topNames(root: string): string[] {
  try {
    return readdirSync(root).filter((n) => !n.startsWith(OURS_PREFIX)).sort();
  } catch {
    return [];
  }
}

export async function run(argv: CleanArgs): Promise<number> {
  const t0 = process.hrtime.bigint();
  // absolute: the apply phase changes directory, and a relative name would then point elsewhere
  const root = resolve(treeDir(argv.dir));
  const maxAge = parseDuration(argv['max-age'], '--max-age');
  const oneTime = parseDuration(argv['one-time'], '--one-time');
  const jobs = argv.jobs;
  if (!Number.isInteger(jobs) || jobs < 1 || jobs > 16) throw permanent(`bad --jobs ${quote(String(argv.jobs))}: expected a whole number from 1 to 16`);
  const dry = argv['dry-run'];
  const lock = dry ? null : await lockTree(root, 'qgrey clean');
  const children: Child[] = [];
  try {
    const now = Math.floor(Date.now() / 1000);
    const params: PartParams = { root, now, maxAge, oneTime, dry };
    // the top-level directories dealt round-robin: share 0 to this process, the others to children
    const tops = jobs > 1 ? topNames(root) : [];
    const shares = Math.min(jobs, tops.length);
    const mine: string[] = [];
    const theirs: string[][] = Array.from({ length: Math.max(0, shares - 1) }, () => []);
    tops.forEach((n, i) => (i % shares === 0 ? mine : theirs[(i % shares) - 1]!).push(n));
    for (const only of theirs) children.push(new Child({ ...params, only }));
    const skip = theirs.flat();
    const w = walkPart(skip.length ? { ...params, skip } : params);
    const walked = [w, ...(await Promise.all(children.map((c) => c.walked())))];
    const seen: Partial<Record<Layout, string>> = {};
    for (const x of walked) {
      seen.classc ??= x.seen.classc;
      seen.byip ??= x.seen.byip;
    }
    if (seen.classc !== undefined && seen.byip !== undefined) {
      for (const c of children) c.go(false);
      throw new QgreyError(
        `${root} mixes the two layouts (${layoutName('classc')} entry ${seen.classc}, ${layoutName('byip')} entry ${seen.byip}); jgreylist cannot use such a tree: refusing to clean it (rebuild it with qgrey rebuild)`,
        100,
      );
    }
    for (const c of children) c.go(true);
    const applied = [applyPart(params, w), ...(await Promise.all(children.map((c) => c.applied())))];
    await Promise.all(children.map((c) => c.done()));
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
      jobs: walked.length,
      seconds: 0,
    };
    for (const x of walked) {
      rep.kept += x.kept;
      rep.anomalies += x.anomalies;
    }
    for (const a of applied) {
      rep.removedMaxAge += a.removedMaxAge;
      rep.removedOneTime += a.removedOneTime;
      rep.removedDirs += a.removedDirs;
      rep.removedTemps += a.removedTemps;
      rep.changed += a.changed;
      rep.kept += a.changed;
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
    for (const c of children) c.kill();
    lock?.release();
  }
}
