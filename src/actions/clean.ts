// `qgrey clean`: jgreylist-clean's rules on the tree, one directory at a time (store.expire;
// the tree's: src/store/sweep.ts), each expired entry looked at again just before it goes.
//   last seen (atime) more than --max-age ago                   -> removed (max-age)
//   never revisited (atime == mtime, whole seconds) and last
//   seen more than --one-time ago                               -> removed (one-time)
//   then every directory left empty. Symlinks and other odd things are reported, left alone.
// Also drops expired entries from the white- and blacklist files.

import { resolve } from 'node:path';
import { parseDuration } from '../core/when.js';
import { treeDir, type Env } from '../core/config.js';
import { openStore, type OpenStore } from '../store/open.js';
import { anomalyLine } from '../store/store.js';
import { LIST_NAMES } from '../store/lists.js';
import { withLists } from './lists.js';
import { warn } from '../render/diag.js';
import type { Clock } from '../core/clock.js';

/** What `qgrey clean` is given (built by src/commands/clean.ts). */
export interface CleanArgs {
  /** the environment: the settings a flag does not give (src/core/config.ts) */
  env: Env;
  dir?: string;
  /** run as root: who does the tree work (default: the tree root's owner) */
  owner?: string;
  /** --store: the shared Redis store (openStore) */
  store?: string;
  maxAge: string;
  oneTime: string;
  lists: boolean;
  listdir?: string;
  dryRun: boolean;
  json: boolean;
  quiet: boolean;
}

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

export async function run(argv: CleanArgs, clock: Clock, open: OpenStore = openStore): Promise<number> {
  const t0 = process.hrtime.bigint();
  const root = resolve(treeDir(argv.dir, argv.env));
  const maxAge = parseDuration(argv.maxAge, '--max-age');
  const oneTime = parseDuration(argv.oneTime, '--one-time');
  const dry = argv.dryRun;
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
  const store = await open({
    dir: root,
    env: argv.env,
    owner: argv.owner,
    store: argv.store,
    onAnomaly: (a) => {
      rep.anomalies++;
      warn(anomalyLine(root, a));
    },
  });
  try {
    const now = Math.floor(clock());
    // the shared store's entries expire by their TTLs (jgreylist-clean's rules): nothing to do
    if (store.shared) rep.dir = store.where;
    const lock = dry || store.shared ? null : await store.lock('qgrey clean');
    try {
      // in one call: where the tree belongs to another user, its tree process does it all;
      // the shared store's entries expire by their TTLs: nothing to do there
      if (!store.shared) {
        const e = await store.expire({ now, maxAge, oneTime }, { dryRun: dry });
        rep.removedMaxAge = e.maxAge;
        rep.removedOneTime = e.oneTime;
        rep.changed = e.changed;
        rep.kept = e.kept;
        rep.removedDirs = e.dirs;
        rep.removedTemps = e.temps;
      }
    } finally {
      await lock?.release();
    }
    // the lists: expired entries go
    if (argv.lists) {
      await withLists(argv, async (ls) => {
        for (const name of LIST_NAMES) rep.listsPurged += (await ls.purge(name, now, { dryRun: dry })).removed.length;
      });
    }
    rep.seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    if (argv.json) process.stdout.write(JSON.stringify(store.shared ? { ...rep, shared: true } : rep) + '\n');
    else if (!argv.quiet && store.shared) {
      process.stdout.write(
        `clean: nothing to do in the Redis store ${store.where}: its entries expire by themselves (TTLs: jgreylist-clean's rules, see qgrey(5))` +
          (argv.lists ? `; ${rep.listsPurged} expired list entries ${dry ? 'to drop' : 'dropped'}` : '') +
          '\n',
      );
    } else if (!argv.quiet) {
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
    await store.close();
  }
}
