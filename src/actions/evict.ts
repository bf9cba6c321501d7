// `qgrey evict`: remove the greylist entries of clients that behave like spam bots:
//   qmail-smtpd[PID]: GREETDELAY from IP: client disconnected       (hung up before the greeting)
//   qmail-smtpd: read failed (…): (null) from IP to (null) helo unknown   (three wordings)
// Safe by default: a key that delivered accepted mail within the window is kept (and named in
// the report); --min-events sets how many bad events a key needs within the window.
// Incremental with --state: the file remembers, per inode, how far each log file was read
// (so a `current` that multilog renamed to @….s is continued, not re-read) and, per key, the
// bad events and the last accepted delivery still inside the window.

import { bytesAt } from '../core/text.js';
import { keyOf, keyLabel, type Layout } from '../core/key.js';
import { isEvictable } from '../core/logline.js';
import { parseDuration } from '../core/when.js';
import { openLogs, recordFacts } from '../logs/read.js';
import { fileMarks, resumeFrom } from '../logs/state.js';
import { loadStateFile, saveStateFile } from '../store/state-file.js';
import { byIp, treeDir, type Env } from '../core/config.js';
import { openStore, type OpenStore } from '../store/open.js';
import { AnomalyError, anomalyLine, type Entry, type StoreLock } from '../store/store.js';
import { count } from '../core/words.js';
import { wholeNumber, zoneOption } from './options.js';
import { warn } from '../render/diag.js';
import type { Clock } from '../core/clock.js';

/** What `qgrey evict` is given (built by src/commands/evict.ts). */
export interface EvictArgs {
  /** the environment: the settings a flag does not give (src/core/config.ts) */
  env: Env;
  /** log sources; empty: DEFAULT_EVICT_LOGS */
  paths: string[];
  dir?: string;
  /** run as root: who does the tree work (default: the tree root's owner) */
  owner?: string;
  /** --store: the shared Redis store (openStore) */
  store?: string;
  since: string;
  state?: string;
  minEvents: number;
  byIp?: boolean;
  tz?: string;
  dryRun: boolean;
  json: boolean;
  quiet: boolean;
}

export const DEFAULT_EVICT_LOGS = ['/var/log/qmail/smtpd'];

const latin1 = (t: string) => Buffer.from(t, 'latin1');
const QLOG = latin1('qlog');
const ACCEPTED = latin1(': result=accepted code=250 ');
const SMTPD = latin1('qmail-smtpd');
const READ_FAILED = latin1(': read failed');
const GREETDELAY = latin1(']: GREETDELAY from ');

const STATE_VERSION = 1;
/** bad-event times kept per key in the state file */
const MAX_TIMES = 64;

/** entries looked up at once (their round trips overlap) */
const LOOKUPS = 256;

interface KeyState {
  /** times (seconds) of bad events inside the window */
  bad: number[];
  /** last accepted delivery inside the window, or 0 */
  accepted: number;
}

interface State {
  version: number;
  layout: Layout;
  files: { path: string; ino: number; offset: number }[];
  keys: Record<string, KeyState>;
}

export interface EvictReport {
  dir: string;
  dryRun: boolean;
  files: number;
  lines: number;
  bad: number;
  /** evictable events read in this run */
  events: number;
  /** keys with enough bad events and no accepted mail whose entry was removed (with --dry-run: would be) */
  evicted: string[];
  /** keys with enough bad events and no accepted mail that had no entry to remove */
  absent: string[];
  /** keys kept because they delivered accepted mail inside the window */
  protected: string[];
  /** keys with fewer than --min-events bad events */
  below: number;
  anomalies: number;
  seconds: number;
}

export async function run(argv: EvictArgs, clock: Clock, open: OpenStore = openStore): Promise<number> {
  const t0 = process.hrtime.bigint();
  const root = treeDir(argv.dir, argv.env);
  const zone = zoneOption(argv.tz, '--tz');
  const window = parseDuration(argv.since, '--since');
  const minEvents = argv.minEvents;
  wholeNumber(minEvents, '--min-events', 1);
  const dry = argv.dryRun;
  const paths = argv.paths.length ? argv.paths : DEFAULT_EVICT_LOGS;
  const asked: Layout | undefined = argv.byIp === true ? 'byip' : argv.byIp === false ? 'classc' : byIp(argv.env) ? 'byip' : undefined;

  let anomalies = 0;
  const tree = await open({
    env: argv.env,
    dir: root,
    owner: argv.owner,
    store: argv.store,
    layout: asked,
    layoutSource: argv.byIp === undefined && asked !== undefined ? 'JGREYLIST_BY_IP' : undefined,
    onAnomaly: (a) => {
      anomalies++;
      warn(anomalyLine(root, a));
    },
  });
  let lock: StoreLock | null;
  try {
    lock = dry ? null : await tree.lock('qgrey evict');
  } catch (err) {
    await tree.close(); // the tree process ends with it
    throw err;
  }
  try {
    const layout = tree.layout;
    const now = clock();
    const cutoff = now - window;
    let state = argv.state !== undefined ? loadStateFile<State>(argv.state, (s) => s.version === STATE_VERSION && typeof s.keys === 'object' && s.keys !== null, warn) : null;
    if (state && state.layout !== layout) {
      warn(`state file ${argv.state} was written for another layout; starting afresh from --since`);
      state = null;
    }
    const keys = new Map<string, KeyState>();
    for (const [k, v] of Object.entries(state?.keys ?? {})) {
      if (!Array.isArray(v.bad) || typeof v.accepted !== 'number') continue;
      keys.set(k, { bad: v.bad.filter((t) => typeof t === 'number' && t >= cutoff), accepted: v.accepted >= cutoff ? v.accepted : 0 });
    }
    const ks = (key: string) => {
      let s = keys.get(key);
      if (!s) keys.set(key, (s = { bad: [], accepted: 0 }));
      return s;
    };

    const rep: EvictReport = { dir: tree.shared ? tree.where : root, dryRun: dry, files: 0, lines: 0, bad: 0, events: 0, evicted: [], absent: [], protected: [], below: 0, anomalies: 0, seconds: 0 };
    const since = { sec: Math.floor(cutoff), nsec: 0 };
    const resume = resumeFrom(state?.files);
    // plain accepted IPv4 lines, most of a log, come from the reader's scan as numbers (no
    // record): the latest per key, the key as a number until the end (the loop below takes the
    // same steps for an accepted line that comes as a record)
    const byip = layout === 'byip';
    const accepted4 = new Map<number, number>();
    const accepted = (sec: number, nsec: number, _flags: number, ip4: number) => {
      const t = Math.min(sec + nsec / 1e9, now);
      const id = byip ? ip4 : ip4 >>> 8;
      const had = accepted4.get(id);
      if (had === undefined || t > had) accepted4.set(id, t);
    };
    // no record but of the lines the loop below can count (their bodies' beginnings, as
    // core/logline.ts reads them)
    const keep = (b: Buffer, at: number, end: number) => {
      if (bytesAt(b, at, end, QLOG)) return bytesAt(b, at + 12, end, ACCEPTED);
      if (!bytesAt(b, at, end, SMTPD)) return false;
      if (bytesAt(b, at + 11, end, READ_FAILED)) return true;
      if (b[at + 11] !== 91) return false;
      let i = at + 12;
      while (i < end && b[i]! >= 48 && b[i]! <= 57) i++;
      return i > at + 12 && bytesAt(b, i, end, GREETDELAY);
    };
    const { batches, stats } = openLogs(paths, { zone, since, warn, accepted, keep, ...(resume ? { resume } : {}) });
    const touched = new Set<string>();
    for await (const batch of batches) {
      for (const r of batch) {
        if (r.stamp === null) continue;
        const line = r.line;
        const t = Math.min(r.stamp.sec + r.stamp.nsec / 1e9, now);
        if (line.includes('result=accepted code=250')) {
          const f = recordFacts(r);
          if (f?.ip) {
            const key = keyOf(f.ip, layout);
            const s = ks(key);
            if (t > s.accepted) s.accepted = t;
          }
          continue;
        }
        if (!line.includes('GREETDELAY from ') && !line.includes('read failed')) continue;
        const e = r.event();
        if (!isEvictable(e) || e.ip === null) continue;
        rep.events++;
        const key = keyOf(e.ip, layout);
        const s = ks(key);
        s.bad.push(t);
        if (s.bad.length > MAX_TIMES) s.bad.splice(0, s.bad.length - MAX_TIMES);
        touched.add(key);
      }
    }
    for (const [id, t] of accepted4) {
      const s = ks(keyOf({ family: 4, value: byip ? id : id * 256, mapped: false }, layout));
      if (t > s.accepted) s.accepted = t;
    }
    rep.files = stats.files;
    rep.lines = stats.lines;
    rep.bad = stats.bad;

    // decide: keys with a bad event in this run (earlier runs already dealt with the rest)
    const wanted: string[] = [];
    for (const key of [...touched].sort()) {
      const s = keys.get(key)!;
      if (s.accepted >= cutoff && s.accepted > 0) {
        rep.protected.push(keyLabel(key));
        continue;
      }
      if (s.bad.filter((t) => t >= cutoff).length < minEvents) {
        rep.below++;
        continue;
      }
      wanted.push(key);
    }
    // the entries of those keys, looked up LOOKUPS at a time: the store answers them one after
    // the other, but the round trips to the tree process (or Redis) overlap instead of adding
    // up, one per key; then each is dealt with in the keys' order, as before
    const found: (Entry | null | AnomalyError)[] = [];
    for (let i = 0; i < wanted.length; i += LOOKUPS) {
      const got = await Promise.all(wanted.slice(i, i + LOOKUPS).map((key) => tree.get(key).catch((err: unknown) => (err instanceof AnomalyError ? err : Promise.reject(err)))));
      found.push(...got);
    }
    for (let i = 0; i < wanted.length; i++) {
      const key = wanted[i]!;
      const e = found[i]!;
      if (e instanceof AnomalyError) {
        anomalies++;
        warn(anomalyLine(root, e.anomaly));
        continue;
      }
      if (e === null) {
        rep.absent.push(keyLabel(key));
        continue;
      }
      const r = await tree.removeIfUnchanged([{ ...e, mtime: Math.floor(e.first), atime: Math.floor(e.last) }], { dryRun: dry });
      // gone since the look (or revisited: then it is no longer the entry the events were about)
      if (r.removed === 0) rep.absent.push(keyLabel(key));
      else rep.evicted.push(keyLabel(key));
    }
    if (!dry) await tree.tidy();
    rep.anomalies = anomalies;

    if (argv.state !== undefined && !dry) {
      const out: Record<string, KeyState> = {};
      for (const [k, v] of keys) {
        const bad = v.bad.filter((t) => t >= cutoff);
        const acc = v.accepted >= cutoff ? v.accepted : 0;
        if (bad.length || acc) out[k] = { bad, accepted: acc };
      }
      saveStateFile(argv.state, { version: STATE_VERSION, layout, files: fileMarks(stats), keys: out } satisfies State);
    }
    rep.seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    if (argv.json) process.stdout.write(JSON.stringify(rep) + '\n');
    else if (!argv.quiet) {
      const names = (a: string[]) => (a.length > 10 ? a.slice(0, 10).join(' ') + ` and ${a.length - 10} more` : a.join(' '));
      process.stdout.write(
        `evict: ${count(rep.events, 'hang-up')} in ${count(rep.files, 'file')} (${count(rep.lines, 'line')} read${rep.bad ? `, ${rep.bad} bad` : ''}); ` +
          `${dry ? 'would remove' : 'removed'} ${count(rep.evicted.length, 'entry', 'entries')}` +
          (rep.evicted.length ? `: ${names(rep.evicted)}` : '') +
          (rep.absent.length ? `; ${rep.absent.length} had no entry: ${names(rep.absent)}` : '') +
          (rep.protected.length ? `; kept ${rep.protected.length} that delivered accepted mail: ${names(rep.protected)}` : '') +
          (rep.below ? `; ${rep.below} below --min-events ${minEvents}` : '') +
          (rep.anomalies ? `; left ${rep.anomalies} odd things alone` : '') +
          `; ${rep.seconds.toFixed(2)} s\n`,
      );
    }
    return 0;
  } finally {
    await lock?.release();
    await tree.close();
  }
}
