// `qgrey traps`: blacklist the clients that sent RCPT to a spamtrap, from the logs, for sites
// that run only the wrapper (qgrey-spp blacklists at RCPT itself). A trap RCPT is found in
//   qmail-smtpd's qlogenvelope lines:   qlogenvelope: result=… rcptto=TRAP … remoteip=IP …
//   the wrapper's dialogue trace:       qgreylist[PID]: <<< RCPT TO:<TRAP>  (JGREYLIST_LOG_SMTP=1;
//                                       the IP from that PID's decision line; jgreylist's too)
//   qgrey-spp's lines that could not blacklist: qgrey-spp[PID]: IP: RCPT TRAP <…> -> <TRAP>; …
// and blacklisted as qgrey-spp does (store/trap-list.ts): `IP EXPIRY trap:PATTERN`, until the
// hit's time plus --trap-time. Never a client that delivered accepted mail (to a recipient
// that is not a trap) within the window, unless --force; those are named in the report.
// Incremental with --state, as evict: per inode how far each file was read, and the window's
// accepted deliveries per address. With the shared Redis store selected (--store,
// QGREY_STORE), the entries go into its blacklist, which every qgreyd and qgreylist on it reads;
// the traps list itself is the list directory's file, as qgrey-spp reads it.

import { permanent, quote } from '../core/errors.js';
import { formatIp, parseIp } from '../core/ip.js';
import { trapOf, trapSource } from '../core/traps.js';
import { parseDuration } from '../core/when.js';
import { openLogs } from '../logs/read.js';
import { fileMarks, resumeFrom } from '../logs/state.js';
import { loadStateFile, saveStateFile } from '../store/state-file.js';
import { listDir, type Env } from '../core/config.js';
import { openLists } from '../store/open.js';
import { readTraps, trapChange, TRAPS_FILE } from '../store/trap-list.js';
import { zoneOption } from './options.js';
import { warn } from '../render/diag.js';
import type { Clock } from '../core/clock.js';

export interface TrapsArgs {
  /** the environment: the settings a flag does not give (src/core/config.ts) */
  env: Env;
  paths: string[];
  listdir?: string;
  /** --store: the blacklist of the shared Redis store (openLists) */
  store?: string;
  since: string;
  trapTime: string;
  state?: string;
  force: boolean;
  tz?: string;
  dryRun: boolean;
  json: boolean;
  quiet: boolean;
}

export const DEFAULT_TRAPS_LOGS = ['/var/log/qmail/smtpd'];
const STATE_VERSION = 1;

interface State {
  version: number;
  files: { path: string; ino: number; offset: number }[];
  /** address -> last accepted delivery (seconds) inside the window */
  accepted: Record<string, number>;
}

export interface TrapsReport {
  listdir: string;
  /** where the entries went: the blacklist file, or the store's URL and key */
  blacklist: string;
  dryRun: boolean;
  files: number;
  lines: number;
  bad: number;
  /** trap RCPTs read in this run */
  hits: number;
  /** addresses blacklisted (added or extended) */
  blacklisted: string[];
  /** already blacklisted long enough */
  kept: number;
  /** not blacklisted: they delivered accepted mail inside the window */
  protected: string[];
  seconds: number;
}

const QLOG = /^qlogenvelope: result=\S* code=\S* reason=\S* detail=.*? rcptto=(.*?) relay=(yes|no) .*? remoteip=(\S*) /;
const ACCEPTED = /^qlog(?:envelope|received): result=accepted code=250 .*? rcptto=(.*?) relay=(yes|no) .*? remoteip=(\S*) /;
const DECISION = /^((?:q|j)?greylist)\[([0-9]+)\]: (\S+): [A-Z]+ /;
const TRACE = /^((?:q|j)?greylist)\[([0-9]+)\]: (?:<<<|>>>) ?RCPT TO:\s*<([^>]*)>/i;
const SPP = /^qgrey-spp\[[0-9]+\]: (\S+): RCPT TRAP <.*?> -> <([^>]*)>/;

export async function run(argv: TrapsArgs, clock: Clock): Promise<number> {
  const t0 = process.hrtime.bigint();
  const dir = listDir(argv.listdir, argv.env);
  const zone = zoneOption(argv.tz, '--tz');
  const window = parseDuration(argv.since, '--since');
  const trapTime = parseDuration(argv.trapTime, '--trap-time');
  if (trapTime <= 0) throw permanent(`unable to use --trap-time ${quote(argv.trapTime)}: expected a duration longer than 0`);
  const dry = argv.dryRun;
  const traps = readTraps(dir);
  for (const [n, text] of traps.bad) warn(`${dir}/${TRAPS_FILE}:${n}: not a trap pattern, skipped: ${quote(text)} (expected user@domain, @domain or @.domain)`);
  const now = clock();
  const cutoff = now - window;
  const state = argv.state !== undefined ? loadStateFile<State>(argv.state, (s) => s.version === STATE_VERSION && typeof s.accepted === 'object' && s.accepted !== null, warn) : null;
  const accepted = new Map<string, number>();
  for (const [a, t] of Object.entries(state?.accepted ?? {})) if (typeof t === 'number' && t >= cutoff) accepted.set(a, t);
  /** address -> [the trap pattern, the latest hit] */
  const hits = new Map<string, [string, number]>();
  const pids = new Map<string, string>();
  const rep: TrapsReport = { listdir: dir, blacklist: '', dryRun: dry, files: 0, lines: 0, bad: 0, hits: 0, blacklisted: [], kept: 0, protected: [], seconds: 0 };

  const hit = (ipText: string, rcpt: string, t: number) => {
    const trap = trapOf(traps, rcpt);
    const ip = parseIp(ipText);
    if (trap === null || ip === null) return;
    rep.hits++;
    const a = formatIp(ip);
    const old = hits.get(a);
    if (old === undefined || t > old[1]) hits.set(a, [trap, t]);
  };

  const { batches, stats } = openLogs(argv.paths.length ? argv.paths : DEFAULT_TRAPS_LOGS, { zone, since: { sec: Math.floor(cutoff), nsec: 0 }, warn, ...(resumeFrom(state?.files) ? { resume: resumeFrom(state?.files)! } : {}) });
  for await (const batch of batches) {
    for (const r of batch) {
      if (r.stamp === null) continue;
      const t = Math.min(r.stamp.sec + r.stamp.nsec / 1e9, now);
      const body = r.body;
      let m: RegExpExecArray | null;
      if (body.startsWith('qlog')) {
        if ((m = ACCEPTED.exec(body)) && m[2] === 'no') {
          // accepted mail protects its client only for a recipient that is not a trap
          const ip = parseIp(m[3]!);
          if (ip !== null && m[1]!.split(',').some((rcpt) => rcpt !== '' && trapOf(traps, rcpt) === null)) {
            const a = formatIp(ip);
            if (t > (accepted.get(a) ?? 0)) accepted.set(a, t);
          }
        }
        // a relay client (our own user) is never trapped
        if ((m = QLOG.exec(body)) && m[2] === 'no') hit(m[3]!, m[1]!, t);
      } else if ((m = SPP.exec(body))) hit(m[1]!, m[2]!, t);
      else if ((m = TRACE.exec(body))) {
        const ip = pids.get(`${m[1]}:${m[2]}`);
        if (ip !== undefined) hit(ip, m[3]!, t);
      } else if ((m = DECISION.exec(body))) pids.set(`${m[1]}:${m[2]}`, m[3]!);
    }
  }
  rep.files = stats.files;
  rep.lines = stats.lines;
  rep.bad = stats.bad;

  const todo: { address: string; t: ReturnType<typeof trapChange> }[] = [];
  for (const [a, [trap, t]] of [...hits].sort((x, y) => (x[0] < y[0] ? -1 : 1))) {
    if (t + trapTime <= now) continue;
    if (!argv.force && (accepted.get(a) ?? 0) >= cutoff && accepted.has(a)) {
      rep.protected.push(a);
      continue;
    }
    todo.push({ address: a, t: trapChange(a, trapSource(trap), t + trapTime) });
  }
  // one write of the blacklist (the file under its lock, or one Redis transaction)
  const ls = await openLists({ listdir: argv.listdir, store: argv.store, env: argv.env });
  try {
    rep.blacklist = ls.where('blacklist');
    if (todo.length > 0) {
      await ls.update(
        'blacklist',
        (lines) => {
          let cur: typeof lines | null = null;
          for (const x of todo) cur = x.t.change(cur ?? lines) ?? cur;
          return cur;
        },
        { dryRun: dry },
      );
    }
  } finally {
    await ls.close();
  }
  for (const x of todo) {
    if (x.t.what() === 'kept') rep.kept++;
    else rep.blacklisted.push(x.address);
  }

  if (argv.state !== undefined && !dry) saveStateFile(argv.state, { version: STATE_VERSION, files: fileMarks(stats), accepted: Object.fromEntries(accepted) } satisfies State);
  rep.seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (argv.json) process.stdout.write(JSON.stringify(rep) + '\n');
  else if (!argv.quiet) {
    const names = (a: string[]) => (a.length > 10 ? a.slice(0, 10).join(' ') + ` and ${a.length - 10} more` : a.join(' '));
    process.stdout.write(
      `traps: ${rep.hits} trap RCPTs in ${rep.files} files (${rep.lines} lines read${rep.bad ? `, ${rep.bad} bad` : ''}); ` +
        `${dry ? 'would blacklist' : 'blacklisted'} ${rep.blacklisted.length}${rep.blacklisted.length ? `: ${names(rep.blacklisted)}` : ''}` +
        (rep.kept ? `; ${rep.kept} already blacklisted` : '') +
        (rep.protected.length ? `; kept ${rep.protected.length} that delivered accepted mail (--force to trap them): ${names(rep.protected)}` : '') +
        `; ${rep.seconds.toFixed(2)} s\n`,
    );
  }
  return 0;
}
