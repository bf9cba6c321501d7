// `qgrey rebuild`: the greylist tree from the accepted mail of the last N days.
//
//  1. lock the tree; remove what a killed earlier run left (ROOT/.qgrey-rebuild.*)
//  2. walk the live tree (layout, entries, odd things; a mixed tree is refused)
//  3. read the logs: `result=accepted code=250` lines, minus relay, authenticated and
//     excluded senders -> per key the earliest and the latest accepted time
//  4. merge: a live entry seen within --keep-recent keeps its earlier first / later last seen;
//     a rebuilt entry never has atime == mtime (jgreylist-clean would drop it after a day)
//  5. store.merge(): the tree builds what it lacks beside the live tree and swaps it in without
//     a moment where an entry is missing, merged with what the wrapper wrote meanwhile
//  6. store.removeIfUnchanged(): live entries neither rebuilt nor recent, looked at again
//     first; then store.tidy(): the directories that left empty. Not on a shared store
//     (Redis): it holds the other hosts' entries too; rebuild only merges into it.
// A crash or a full disk before the swap leaves the live tree as it was; during 5-6 every
// entry is either its old or its new self. The next run's lock removes the leftovers.

import { permanent, quote } from '../core/errors.js';
import { DEFAULT_EXCLUDES, parseCidr, type Cidr, type Ip } from '../core/ip.js';
import { key6, keyOf, type Layout } from '../core/key.js';
import { TimesTable } from '../core/times-table.js';
import { parseDuration } from '../core/when.js';
import { count } from '../core/words.js';
import { openLogs, recordFacts, F_AUTH, F_RECEIVED, F_RELAY, type ReadStats } from '../logs/read.js';
import { progress } from '../render/progress.js';
import { byIp, treeDir, type Env } from '../core/config.js';
import { openStore, type OpenStore } from '../store/open.js';
import { anomalyLine, layoutName, type Entry, type Walked } from '../store/store.js';
import { zoneOption, cidrOptions } from './options.js';
import type { Clock } from '../core/clock.js';

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
  /** accepted qlog lines: messages (qlogreceived) plus recipients (qlogenvelope) */
  accepted: number;
  /** accepted messages (qlogreceived lines), as stats counts them */
  messages: number;
  /** accepted recipients (qlogenvelope lines), as stats counts them */
  recipients: number;
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

const secs = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e9;

const OCTET3 = /^\d{3}$/;

/**
 * The number rebuild counts an IPv4 tree key under (the class C network, or the address with
 * `byip`), or -1 for any other key (IPv6, or not a key of the layout).
 */
export function ip4KeyId(key: string, byip: boolean): number {
  const p = key.split('/');
  if (p.length !== (byip ? 4 : 3)) return -1;
  let id = 0;
  for (const x of p) {
    if (!OCTET3.test(x)) return -1;
    const n = Number(x);
    if (n > 255) return -1;
    id = id * 256 + n;
  }
  return id;
}

/**
 * The excluded networks as numbers (the hot path): `v4` asks about an IPv4 address's number,
 * `v6` about an IPv6 address's four 32-bit words (the first the highest), `any` about an Ip.
 */
function excluder(nets: readonly Cidr[]): { any: (ip: Ip) => boolean; v4: (value: number) => boolean; v6: (w0: number, w1: number, w2: number, w3: number) => boolean } {
  // IPv4 ranges as lo, hi pairs in one flat array: an indexed loop per accepted line
  const v4: number[] = [];
  // IPv6 networks as four (mask, network) word pairs each
  const v6: number[] = [];
  for (const n of nets) {
    if (n.ip.family === 4) {
      const size = 2 ** (32 - n.prefix);
      v4.push(n.ip.value, n.ip.value + size - 1);
    } else {
      const g = n.ip.groups;
      for (let i = 0; i < 4; i++) {
        const bits = Math.min(32, Math.max(0, n.prefix - 32 * i));
        const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
        v6.push(mask, ((((g[2 * i]! << 16) | g[2 * i + 1]!) & mask) >>> 0));
      }
    }
  }
  const in4 = (v: number) => {
    for (let i = 0; i < v4.length; i += 2) if (v >= v4[i]! && v <= v4[i + 1]!) return true;
    return false;
  };
  const in6 = (w0: number, w1: number, w2: number, w3: number) => {
    for (let i = 0; i < v6.length; i += 8) {
      if (((w0 & v6[i]!) >>> 0) === v6[i + 1] && ((w1 & v6[i + 2]!) >>> 0) === v6[i + 3] && ((w2 & v6[i + 4]!) >>> 0) === v6[i + 5] && ((w3 & v6[i + 6]!) >>> 0) === v6[i + 7]) return true;
    }
    return false;
  };
  return {
    v4: in4,
    v6: in6,
    any: (ip) => {
      if (ip.family === 4) return in4(ip.value);
      const g = ip.groups;
      return in6(((g[0]! << 16) | g[1]!) >>> 0, ((g[2]! << 16) | g[3]!) >>> 0, ((g[4]! << 16) | g[5]!) >>> 0, ((g[6]! << 16) | g[7]!) >>> 0);
    },
  };
}

type LogCounts = Pick<RebuildReport, 'accepted' | 'messages' | 'recipients' | 'relay' | 'auth' | 'excluded' | 'badAddress' | 'future'>;

/** The logs read (rebuild's step 3). */
interface LogsRead {
  /** the layout the keys are of */
  layout: Layout;
  v4: TimesTable;
  v6: Map<string, Times>;
  counts: LogCounts;
  stats: ReadStats;
  seconds: number;
}

/** What `qgrey rebuild` is given (built by src/commands/rebuild.ts). */
export interface RebuildArgs {
  /** the environment: the settings a flag does not give (src/core/config.ts) */
  env: Env;
  /** log sources; empty: DEFAULT_LOGS */
  paths: string[];
  dir?: string;
  /** --store: the shared Redis store (openStore) */
  store?: string;
  days: number;
  byIp?: boolean;
  exclude: string[];
  defaultExcludes: boolean;
  keepRecent: string;
  owner?: string;
  tz?: string;
  dryRun: boolean;
  json: boolean;
  quiet: boolean;
}

export async function run(argv: RebuildArgs, clock: Clock, open: OpenStore = openStore): Promise<number> {
  const t0 = process.hrtime.bigint();
  const root = treeDir(argv.dir, argv.env);
  const zone = zoneOption(argv.tz, '--tz');
  const days = argv.days;
  if (!(days > 0)) throw permanent(`unable to parse --days ${quote(String(days))}: expected a number of days above 0 (such as 30 or 0.5)`);
  const keepRecent = parseDuration(argv.keepRecent, '--keep-recent');
  const nets = [...(argv.defaultExcludes ? DEFAULT_EXCLUDES.map((t) => parseCidr(t)!) : []), ...cidrOptions(argv.exclude, '--exclude')];
  const { any: excluded, v4: excluded4, v6: excluded6 } = excluder(nets);
  const dry = argv.dryRun;
  const paths = argv.paths.length ? argv.paths : DEFAULT_LOGS;
  // a month of logs takes a while: a line count on a terminal, nothing in cron
  const prog = progress('rebuild');
  const warn = prog.warn;
  const asked: Layout | undefined = argv.byIp === true ? 'byip' : argv.byIp === false ? 'classc' : byIp(argv.env) ? 'byip' : undefined;
  const rep: RebuildReport = {
    dir: root,
    layout: 'classc',
    dryRun: dry,
    files: 0,
    lines: 0,
    bad: 0,
    duplicates: 0,
    accepted: 0,
    messages: 0,
    recipients: 0,
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
  // 3. the logs, keyed by `layout`: per key the earliest and the latest accepted time
  const readLogs = async (layout: Layout, now: number, warn: (m: string) => void): Promise<LogsRead> => {
    const tScan = process.hrtime.bigint();
    const byip = layout === 'byip';
    const c: LogCounts = { accepted: 0, messages: 0, recipients: 0, relay: 0, auth: 0, excluded: 0, badAddress: 0, future: 0 };
    const since = { sec: Math.floor(now - days * 86400), nsec: 0 };
    // keys as numbers while reading (IPv4: the class C network or the address), made tree
    // keys once at the end: one string per key, not one per accepted line
    const v4 = new TimesTable(1 << 16);
    const v6 = new Map<string, Times>();
    // the default backup pattern matches nothing on a host without backups: skipped; one the admin typed is not
    const optional = argv.paths.length ? [] : DEFAULT_LOGS;
    const add4 = (value: number, t: number) => v4.add(byip ? value : value >>> 8, t);
    // plain accepted IPv4 lines, most of a log, come as numbers (no record): the same steps
    // as the loop below takes for a record
    const add6 = (key: string, t: number) => {
      const e = v6.get(key);
      if (e === undefined) v6.set(key, { first: t, last: t });
      else {
        if (t < e.first) e.first = t;
        if (t > e.last) e.last = t;
      }
    };
    // counted; false for a line that goes no further (relayed, authenticated)
    const counts = (flags: number): boolean => {
      c.accepted++;
      if (flags & F_RECEIVED) c.messages++;
      else c.recipients++;
      if (flags & F_RELAY) {
        c.relay++;
        return false;
      }
      if (flags & F_AUTH) {
        c.auth++;
        return false;
      }
      return true;
    };
    const timeOf = (sec: number, nsec: number): number => {
      const t = sec + nsec / 1e9;
      if (t <= now) return t;
      c.future++;
      return now;
    };
    // a message's recipients come one after the other from one address: the run's address is
    // looked up in the exclusions once, and its earliest and latest time go to the table when
    // the next address comes (flush)
    // (the run's times in a typed array: a number kept in a closure's variable is a new heap
    // object each time it changes)
    let runIp = -1;
    let runOut = false;
    const run = new Float64Array(2); // earliest, latest
    const flush = () => {
      if (runIp < 0 || runOut) return;
      v4.span(byip ? runIp : runIp >>> 8, run[0]!, run[1]!);
    };
    const accepted = (sec: number, nsec: number, flags: number, ip4: number) => {
      if (!counts(flags)) return;
      if (ip4 !== runIp) {
        flush();
        runIp = ip4;
        runOut = excluded4(ip4);
        run[0] = Infinity;
        run[1] = -Infinity;
      }
      if (runOut) {
        c.excluded++;
        return;
      }
      const t = timeOf(sec, nsec);
      if (t < run[0]!) run[0] = t;
      if (t > run[1]!) run[1] = t;
    };
    // plain accepted IPv6 lines as words; a message's recipients come one after the other
    // from one address, so the last key is kept and not made again
    let last6: string | null = null;
    let l0 = 0, l1 = 0, l2 = 0, l3 = 0;
    const accepted6 = (sec: number, nsec: number, flags: number, w0: number, w1: number, w2: number, w3: number) => {
      if (!counts(flags)) return;
      if (excluded6(w0, w1, w2, w3)) {
        c.excluded++;
        return;
      }
      if (last6 === null || w0 !== l0 || w1 !== l1 || (byip && (w2 !== l2 || w3 !== l3))) {
        last6 = key6(w0, w1, w2, w3, layout);
        l0 = w0;
        l1 = w1;
        l2 = w2;
        l3 = w3;
      }
      add6(last6, timeOf(sec, nsec));
    };
    const { batches, stats } = openLogs(paths, { zone, since, needle: 'result=accepted code=250', warn, optional, accepted, accepted6 });
    let badWarned = 0;
    for await (const batch of batches) {
      prog.tick(stats.lines);
      for (const r of batch) {
        const st = r.stamp;
        if (st === null) continue;
        const f = recordFacts(r);
        if (f === null) continue;
        c.accepted++;
        if (f.kind === 'qlogreceived') c.messages++;
        else c.recipients++;
        if (f.relay) {
          c.relay++;
          continue;
        }
        if (f.authuser !== '') {
          c.auth++;
          continue;
        }
        const ip = f.ip;
        if (ip === null) {
          c.badAddress++;
          if (badWarned++ < 10) warn(`${r.source}:${r.lineno}: skipped an accepted line whose remoteip is not an address: ${quote(f.remoteip)}`);
          continue;
        }
        if (excluded(ip)) {
          c.excluded++;
          continue;
        }
        const t = timeOf(st.sec, st.nsec);
        if (ip.family === 4) add4(ip.value, t);
        else add6(keyOf(ip, layout), t);
      }
    }
    flush();
    prog.done();
    return { layout, v4, v6, counts: c, stats, seconds: secs(tScan) };
  };

  // 1. the tree. A dry run takes no lock: its logs are read while the tree opens (the tree
  // process, a Node start, comes up beside this one meanwhile), keyed by the layout asked, else
  // class C, which is what the tree is unless it is a per-IP tree nobody said was one: then they
  // are read again. A real run takes the lock first, so that a second one gives up before it
  // reads a month of logs.
  const opening = open({
    env: argv.env,
    dir: root,
    store: argv.store,
    layout: asked,
    layoutSource: argv.byIp === undefined && asked !== undefined ? 'JGREYLIST_BY_IP' : undefined,
    owner: argv.owner,
    onAnomaly: (a) => {
      rep.anomalies++;
      warn(anomalyLine(root, a));
    },
  });
  opening.catch(() => {}); // awaited below
  const early = dry ? clock() : 0;
  let logs: LogsRead | null = null;
  if (dry) {
    try {
      logs = await readLogs(asked ?? 'classc', early, warn);
    } catch (err) {
      // a tree that cannot be opened (none, owned by root) is what to report, as when it was opened first
      await (await opening).close();
      throw err;
    }
  }
  const store = await opening;
  try {
    const lock = dry ? null : await store.lock('qgrey rebuild');
    try {
      rep.leftovers = lock?.recovered ?? 0;
      const now = dry ? early : clock();
      const layout = store.layout;
      rep.layout = layout;
      if (store.shared) rep.dir = store.where;
      // (read again: its warnings were given the first time)
      if (logs === null || logs.layout !== layout) logs = await readLogs(layout, now, logs === null ? warn : () => {});
      const { v4, v6, stats } = logs;
      Object.assign(rep, logs.counts);
      const byip = layout === 'byip';

      // 2. the live tree
      const live = new Map<string, Walked>();
      for await (const batch of store.scan()) for (const w of batch) live.set(w.key, w);

      // a live key is in the logs: its number, if it is an IPv4 key (the walk gives only the
      // layout's well-formed keys), else its string; no string is made for the keys read
      const inLogs = (key: string) => {
        const id = ip4KeyId(key, byip);
        return id >= 0 ? v4.has(id) : v6.has(key);
      };
      rep.files = stats.files;
      rep.lines = stats.lines;
      rep.bad = stats.bad;
      rep.duplicates = stats.duplicates;
      rep.scanSeconds = logs.seconds;

      // 4. what goes: live entries neither in the logs nor seen within --keep-recent
      const cutoff = now - keepRecent;
      const stale: Walked[] = [];
      let inBoth = 0;
      for (const [key, l] of live) {
        if (inLogs(key)) {
          inBoth++;
          continue;
        }
        // the shared store holds the other hosts' entries too, which this host's logs never
        // saw: merged into, never pruned (they expire by their TTLs)
        if (l.last >= cutoff || store.shared) rep.carried++;
        else stale.push(l);
      }
      rep.written = v4.size + v6.size;
      rep.added = rep.written - inBoth;

      if (dry) {
        rep.removed = stale.length;
        rep.seconds = secs(t0);
        report(rep, argv);
        return 0;
      }

      // 5. merge, 6. remove
      const tTree = process.hrtime.bigint();
      const entries: Entry[] = [];
      v4.forEach((id, first, last) => entries.push({ key: keyOf({ family: 4, value: byip ? id : id * 256, mapped: false }, layout), first, last }));
      for (const [key, t] of v6) entries.push({ key, first: t.first, last: t.last });
      // the tree phase can take most of the run: say so on a terminal (never in cron)
      prog.phase(`writing ${count(entries.length, 'entry', 'entries')} into the tree`);
      await store.merge(entries, { keepSince: cutoff, now });
      if (stale.length) prog.phase(`removing ${count(stale.length, 'stale entry', 'stale entries')}`);
      const r = await store.removeIfUnchanged(stale);
      rep.removed = r.removed;
      // revisited or recreated since the walk: the wrapper's, kept
      rep.carried += r.changed;
      prog.phase('removing empty directories');
      await store.tidy();
      prog.done();
      rep.treeSeconds = secs(tTree);
      rep.seconds = secs(t0);
      report(rep, argv);
      return 0;
    } finally {
      prog.done(); // a failure's message starts on a clean line
      await lock?.release();
    }
  } finally {
    await store.close();
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
    `rebuild: ${count(rep.messages, 'message')} and ${count(rep.recipients, 'recipient')} accepted in ${count(rep.files, 'file')} (${count(rep.lines, 'line')} read` +
      (rep.bad ? `, ${rep.bad} bad` : '') +
      (rep.duplicates ? `, ${count(rep.duplicates, 'duplicate')}` : '') +
      ')' +
      `; ${would} ${count(rep.written, `${layoutName(rep.layout)} entry`, `${layoutName(rep.layout)} entries`)} (${rep.added} new)` +
      `, ${rep.dryRun ? 'would carry' : 'carried'} over ${rep.carried}, ${rep.dryRun ? 'would remove' : 'removed'} ${rep.removed}` +
      (skipped.length ? `; skipped ${skipped.join(', ')}` : '') +
      (rep.anomalies ? `; left ${rep.anomalies} odd things alone` : '') +
      (rep.leftovers ? `; removed ${rep.leftovers} leftovers of an interrupted run` : '') +
      `; ${rep.seconds.toFixed(2)} s (logs ${rep.scanSeconds.toFixed(2)} s, tree ${rep.treeSeconds.toFixed(2)} s)\n`,
  );
}
