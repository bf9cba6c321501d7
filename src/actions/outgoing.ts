// `qgrey whitelist outgoing`: whitelist the servers that replies to our own users come from.
// The logs say which remote domains local senders wrote to (src/core/outgoing.ts has the
// rules); each such domain gets the networks of its SPF record, flattened as `whitelist spf`
// does (else the addresses of its MX hosts, as `whitelist mx` does), under the source
// `out:DOMAIN` with the expiry --until. Every run replaces the entries of the domains it
// whitelists, so a domain users keep writing to is renewed; one they stopped writing to is
// left alone and its entries expire. A temporary DNS failure exits 111 with nothing written
// (neither the list nor the state file), as `whitelist spf` does.
//
// For qgrey-spp, the exact reply pairs too (src/core/pairs.ts): each (remote address, local
// sender) of the same lines, written into the list directory's `replies` file with source
// `out:DOMAIN` and the same expiry, renewed the same way. Only --skip and our own domains leave
// a pair out (--min-senders and --max-domains are about whitelisting a domain's servers; a
// pair lets one address reach one user). A pair not written to inside --since is left to expire;
// expired out: pairs are dropped when the file is rewritten.

import { warn } from '../render/diag.js';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { QgreyError, isTemporaryErrno, permanent, quote, reason, temporary } from '../core/errors.js';
import { DomainSet, OutgoingCollector, normaliseDomain, parseControlDomains, parseSendLine, type OutgoingCounts } from '../core/outgoing.js';
import { PAIRS_HEADER, formatPair, pairAddress, pairDomain, parsePairLine, type PairLine } from '../core/pairs.js';
import { ensureListDir } from '../store/lists.js';
import { listDir, lockWait, type Env } from '../core/config.js';
import { repliesPath, updatePairs } from '../store/pairs.js';
import { parseDuration } from '../core/when.js';
import { dnsLookups, dnsServer, type Lookups } from '../dns/resolve.js';
import { openLogs, recordFacts } from '../logs/read.js';
import { fileMarks, resumeFrom, type FileMark } from '../logs/state.js';
import { loadStateFile, saveStateFile } from '../store/state-file.js';
import { type ListLine } from '../store/lists.js';
import { openLists } from '../store/open.js';
import { MIN_PREFIX4, MIN_PREFIX6, eachDomain, mxLive, spfLive, type Found } from './list-import.js';
import { parseUntil, replaceSource } from './lists.js';
import { count } from '../core/words.js';
import { wholeNumber, zoneOption } from './options.js';

export const DEFAULT_OUTGOING_LOGS = ['/var/log/qmail/smtpd', '/var/log/qmail/send'];
export const SOURCE_PREFIX = 'out:';
const STATE_VERSION = 1;

export interface OutgoingArgs {
  /** the environment: the settings a flag does not give (src/core/config.ts) */
  env: Env;
  paths: string[];
  since: string;
  until: string;
  state?: string;
  minSenders: number;
  maxDomains: number;
  /** repeatable: one value or several */
  skip?: string | string[];
  locals?: string | string[];
  listdir?: string;
  /** --store: the lists in the shared Redis store (openLists) */
  store?: string;
  dnsServer?: string;
  tz?: string;
  dryRun: boolean;
  json: boolean;
  quiet: boolean;
}

interface State {
  version: number;
  files: FileMark[];
  /** domain -> sender -> last time (seconds) */
  domains: Record<string, Record<string, number>>;
  /** reply pairs: remote address -> local sender -> last time (seconds); absent in state files of before the pairs */
  pairs?: Record<string, Record<string, number>>;
}

export interface PairsReport {
  /** the replies file */
  file: string;
  /** pairs written to inside --since (and not skipped or ours) */
  pairs: number;
  added: number;
  renewed: number;
  /** out: pairs dropped: expired, or of a skipped domain or one of ours */
  removed: number;
}

export interface DomainReport {
  domain: string;
  senders: number;
  /** last time a local sender wrote there (seconds) */
  last: number;
  /** whitelisted | below | over | skip | failed */
  status: 'whitelisted' | 'below' | 'over' | 'failed';
  /** where the entries came from, when whitelisted */
  from?: 'spf' | 'mx';
  entries?: string[];
  added?: number;
  removed?: number;
  kept?: number;
  error?: string;
}

export interface OutgoingReport {
  dryRun: boolean;
  files: number;
  lines: number;
  bad: number;
  counts: OutgoingCounts;
  /** domains written to inside --since */
  written: number;
  domains: DomainReport[];
  /** out: sources removed because the domain is skipped or ours */
  dropped: string[];
  expires: number | null;
  /** the reply pairs for qgrey-spp */
  replies: PairsReport;
}


function readLocals(files: readonly string[]): DomainSet {
  const set = new DomainSet();
  for (const f of files) {
    let text: string;
    try {
      if (statSync(f).isDirectory()) throw permanent(`unable to read --locals ${quote(f)}: it is a directory`);
      text = readFileSync(f, 'latin1');
    } catch (err) {
      if (err instanceof QgreyError) throw err;
      const msg = `unable to read --locals ${quote(f)}: ${reason(err)}`;
      throw isTemporaryErrno(err) ? temporary(msg, err) : permanent(msg, err);
    }
    const p = parseControlDomains(text);
    if (p.bad.length > 0) {
      const b = p.bad[0]!;
      throw permanent(`unable to read --locals ${f} line ${b.line}: ${quote(b.text)}: expected a domain per line (locals, rcpthosts) or domain:prefix (virtualdomains)`);
    }
    for (const d of p.domains) set.add(d);
  }
  return set;
}

const many = (v: string | string[] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

function skipSet(list: readonly string[]): DomainSet {
  const set = new DomainSet();
  for (const item of list) {
    for (const t of item.split(',')) {
      if (t.trim() === '') continue;
      const d = normaliseDomain(t.trim().replace(/^\./, ''));
      if (d === null) throw permanent(`bad --skip domain ${quote(t)}: expected a name such as example.org`);
      set.add(d);
    }
  }
  return set;
}

/** The default log paths that exist (a site may log qmail-send elsewhere, or not at all). */
function defaultPaths(): string[] {
  const out = DEFAULT_OUTGOING_LOGS.filter((p) => {
    try {
      statSync(p);
      return true;
    } catch {
      return false;
    }
  });
  return out.length ? out : [DEFAULT_OUTGOING_LOGS[0]!];
}

/** SPF first, as `whitelist spf` flattens it; MX hosts when SPF gives nothing to whitelist. */
async function resolveDomain(domain: string, dns: Lookups): Promise<Found & { from: 'spf' | 'mx' }> {
  const source = SOURCE_PREFIX + domain;
  // what whitelist spf/mx left out, said as this command's (its source; no --min-prefix here)
  const ours = (t: string) => t.replace(/^(spf|mx):[^:]*: /, `${source}: `).replace(/ \(see --min-prefix[46]\)$/, '');
  let spfWhy = '';
  try {
    const r = await spfLive(domain, dns, MIN_PREFIX4, MIN_PREFIX6);
    if (r.entries.length > 0) {
      return { domain, source, from: 'spf', warnings: r.warnings, skipped: r.skipped.map(ours), entries: r.entries.map((e) => ({ ...e, comment: `spf ${e.comment}` })) };
    }
    spfWhy = `the SPF record gives no network qgrey whitelists`;
  } catch (err) {
    if (!(err instanceof QgreyError) || !err.permanent) throw err;
    spfWhy = err.message.replace(/^spf:[^:]*: /, '');
  }
  try {
    const r = await mxLive(domain, dns);
    return { domain, source, from: 'mx', warnings: r.warnings, skipped: r.skipped.map(ours), entries: r.entries.map((e) => ({ ...e, comment: `mx ${e.comment}` })) };
  } catch (err) {
    if (!(err instanceof QgreyError) || !err.permanent) throw err;
    throw permanent(`${source}: no SPF (${spfWhy}) and no MX (${err.message.replace(/^mx:[^:]*: /, '')})`, err);
  }
}

export async function run(argv: OutgoingArgs, now: number): Promise<number> {
  const zone = zoneOption(argv.tz, '--tz');
  const window = parseDuration(argv.since, '--since');
  const expires = parseUntil(argv.until, now);
  const minSenders = wholeNumber(argv.minSenders, '--min-senders', 1);
  const maxDomains = wholeNumber(argv.maxDomains, '--max-domains', 1);
  const skip = skipSet(many(argv.skip));
  const ours = readLocals(many(argv.locals));
  const server = dnsServer(argv.dnsServer, argv.env);
  const paths = argv.paths.length ? argv.paths : defaultPaths();
  const dry = argv.dryRun;
  const cutoff = now - window;

  const state = argv.state !== undefined ? loadStateFile<State>(argv.state, (s) => s.version === STATE_VERSION && typeof s.domains === 'object' && s.domains !== null, warn) : null;
  const c = new OutgoingCollector(ours, ours.size > 0);
  for (const [d, senders] of Object.entries(state?.domains ?? {})) {
    const n = normaliseDomain(d);
    if (n === null || typeof senders !== 'object' || senders === null) continue;
    for (const [s, t] of Object.entries(senders)) if (typeof t === 'number' && t >= cutoff) c.remember(n, s, t);
  }
  const sp = state?.pairs;
  for (const [remote, locals] of Object.entries(typeof sp === 'object' && sp !== null ? sp : {})) {
    const r = pairAddress(remote);
    if (r === null || r !== remote || typeof locals !== 'object' || locals === null) continue;
    for (const [local, t] of Object.entries(locals)) {
      const l = pairAddress(local);
      if (l !== null && l === local && (ours.size === 0 || ours.has(pairDomain(l))) && typeof t === 'number' && t >= cutoff) c.rememberPair(r, l, t);
    }
  }

  // read: accepted qlog lines and qmail-send lines
  const resume = resumeFrom(state?.files);
  const { batches, stats } = openLogs(paths, { zone, since: { sec: Math.floor(cutoff), nsec: 0 }, warn, ...(resume ? { resume } : {}) });
  for await (const batch of batches) {
    for (const r of batch) {
      if (r.stamp === null) continue;
      const t = Math.min(r.stamp.sec + r.stamp.nsec / 1e9, now);
      const at = r.bodyStart;
      const ch = r.line.charCodeAt(at);
      if (ch === 113 /* q */) {
        const f = r.line.startsWith('qlog', at) ? recordFacts(r) : null;
        if (f === null) continue;
        if (!f.relay && f.authuser === '') {
          // inbound: only its qp matters (to tell a forged local sender in qmail-send's lines)
          const body = r.body;
          const i = body.lastIndexOf(' qp=');
          const j = body.indexOf(' ', i + 4);
          c.qlog({ kind: f.kind, relay: false, authuser: '', mailfrom: '', rcptto: '', qp: i === -1 || j === -1 ? '' : body.slice(i + 4, j) }, t);
          continue;
        }
        const e = r.event();
        if (e.kind === 'qlogenvelope' || e.kind === 'qlogreceived') c.qlog(e, t);
      } else if (ch === 115 /* s */ || ch === 105 /* i */ || ch === 110 /* n */ || ch === 101 /* e */) {
        const l = parseSendLine(r.body);
        if (l !== null) c.send(l, t);
      }
    }
  }
  c.finish();

  // decide which domains
  const pairsDir = listDir(argv.listdir, argv.env);
  const rep: OutgoingReport = {
    dryRun: dry,
    files: stats.files,
    lines: stats.lines,
    bad: stats.bad,
    counts: c.counts,
    written: 0,
    domains: [],
    dropped: [],
    expires,
    replies: { file: repliesPath(pairsDir), pairs: 0, added: 0, renewed: 0, removed: 0 },
  };
  const candidates: DomainReport[] = [];
  for (const [domain, seen] of c.domains) {
    if (seen.last < cutoff) continue;
    if (skip.has(domain) || ours.has(domain)) continue;
    let n = 0;
    for (const t of seen.senders.values()) if (t >= cutoff) n++;
    if (n === 0) continue;
    candidates.push({ domain, senders: n, last: seen.last, status: n >= minSenders ? 'whitelisted' : 'below' });
  }
  rep.written = candidates.length;
  candidates.sort((a, b) => b.senders - a.senders || b.last - a.last || (a.domain < b.domain ? -1 : a.domain > b.domain ? 1 : 0));
  let taken = 0;
  for (const d of candidates) {
    if (d.status !== 'whitelisted') continue;
    if (++taken > maxDomains) d.status = 'over';
  }
  const chosen = candidates.filter((d) => d.status === 'whitelisted');

  // resolve (a temporary failure anywhere: exit 111, nothing written)
  const dns = dnsLookups(server);
  const results = chosen.length ? await eachDomain(chosen.map((d) => d.domain), 8, (d) => resolveDomain(d, dns)) : [];

  // apply: one write of the whitelist
  const ls = await openLists({ listdir: argv.listdir, store: argv.store, env: argv.env });
  try {
  const lines0 = await ls.read('whitelist');
  const drop = new Set<string>();
  for (const l of lines0) {
    if (l.kind !== 'entry' || !l.entry.source.startsWith(SOURCE_PREFIX)) continue;
    const d = l.entry.source.slice(SOURCE_PREFIX.length);
    if (skip.has(d) || ours.has(d)) drop.add(l.entry.source);
  }
  rep.dropped = [...drop].sort();
  const byDomain = new Map(chosen.map((d) => [d.domain, d]));
  chosen.forEach((d, k) => {
    const r = results[k]!;
    if (r instanceof QgreyError) {
      d.status = 'failed';
      d.error = r.message;
    }
  });
  await ls.update(
    'whitelist',
    (lines) => {
      let cur: ListLine[] = lines;
      let changed = false;
      for (const r of results) {
        if (r instanceof QgreyError) continue;
        const x = replaceSource(cur, 'whitelist', r.source, r.entries, expires);
        const d = byDomain.get(r.domain)!;
        Object.assign(d, { from: r.from, entries: r.entries.map((e) => e.canon), added: x.added, removed: x.removed, kept: x.kept });
        if (x.lines) {
          cur = x.lines;
          changed = true;
        }
      }
      for (const source of drop) {
        const x = replaceSource(cur, 'whitelist', source, [], null);
        if (x.lines) {
          cur = x.lines;
          changed = true;
        }
      }
      return changed ? cur : null;
    },
    { dryRun: dry, create: true },
  );
  } finally {
    await ls.close();
  }
  // the reply pairs, in the list directory (qgrey-spp reads them there, whatever the store)
  const pairs = new Map<string, { remote: string; local: string }>();
  for (const [k, t] of c.pairs) {
    if (t < cutoff) continue;
    const sp = k.indexOf(' ');
    const remote = k.slice(0, sp);
    const d = pairDomain(remote);
    if (skip.has(d) || ours.has(d)) continue;
    pairs.set(k, { remote, local: k.slice(sp + 1) });
  }
  rep.replies.pairs = pairs.size;
  if (!dry && pairs.size > 0) ensureListDir(pairsDir);
  if (pairs.size > 0 || existsSync(rep.replies.file)) updatePairs(pairsDir, (lines) => writePairs(lines, pairs, expires, now, (d) => skip.has(d) || ours.has(d), rep.replies), { dryRun: dry, lockWait: () => lockWait(argv.env) });

  if (argv.state !== undefined && !dry) {
    const domains: State['domains'] = {};
    for (const [d, seen] of c.domains) {
      const s: Record<string, number> = {};
      let any = false;
      for (const [who, t] of seen.senders) {
        if (t < cutoff) continue;
        s[who] = t;
        any = true;
      }
      if (any) domains[d] = s;
    }
    const statePairs: NonNullable<State['pairs']> = {};
    for (const [k, t] of c.pairs) {
      if (t < cutoff) continue;
      const sp = k.indexOf(' ');
      (statePairs[k.slice(0, sp)] ??= {})[k.slice(sp + 1)] = t;
    }
    saveStateFile(argv.state, { version: STATE_VERSION, files: fileMarks(stats), domains, pairs: statePairs } satisfies State);
  }

  rep.domains = candidates;
  if (argv.json) {
    process.stdout.write(JSON.stringify(rep) + '\n');
    return 0;
  }
  // -q: a domain users wrote to that has no SPF or MX (a typo, a dead domain) is normal, not for cron mail
  if (argv.quiet) return 0;
  for (const r of results) if (!(r instanceof QgreyError)) for (const w of r.warnings) warn(w);
  for (const d of candidates) if (d.status === 'failed') warn(`${d.error}: nothing whitelisted (old entries left to expire)`);
  const note = dry ? ' (dry run: not written)' : '';
  for (const d of candidates) {
    if (d.status !== 'whitelisted') continue;
    const n = d.entries!.length;
    process.stdout.write(`whitelist ${SOURCE_PREFIX}${d.domain}: ${n} entr${n === 1 ? 'y' : 'ies'} from ${d.from === 'spf' ? 'SPF' : 'MX'} (${d.added} added, ${d.removed} removed, ${d.kept} kept)${note}\n`);
  }
  for (const s of rep.dropped) process.stdout.write(`whitelist ${s}: removed (skipped or one of ours)${note}\n`);
  const inStatus = (st: DomainReport['status']) => candidates.filter((d) => d.status === st).length;
  const parts = [`${inStatus('whitelisted')} whitelisted`];
  if (inStatus('failed')) parts.push(`${inStatus('failed')} without SPF or MX`);
  if (inStatus('below')) parts.push(`${inStatus('below')} below --min-senders ${minSenders}`);
  if (inStatus('over')) parts.push(`${inStatus('over')} over --max-domains ${maxDomains}`);
  const k = c.counts;
  const ignored = [
    k.inbound ? `${k.inbound} inbound` : '',
    k.bounces ? `${k.bounces} bounces` : '',
    k.ours ? `${k.ours} to our own domains` : '',
    k.badDomains ? `${k.badDomains} to no host name` : '',
    k.sendForeign + k.sendInbound ? `${k.sendForeign + k.sendInbound} qmail-send deliveries not of a local sender` : '',
  ].filter((x) => x !== '');
  process.stdout.write(
    `whitelist outgoing: ${count(rep.written, 'domain')} written to by local senders in ${argv.since} ` +
      `(${count(k.smtpdRecipients, 'qmail-smtpd recipient')}, ${count(k.sendDeliveries, 'qmail-send delivery', 'qmail-send deliveries')}; ${count(rep.lines, 'line')} in ${count(rep.files, 'file')}${rep.bad ? `, ${rep.bad} bad` : ''})` +
      `: ${parts.join(', ')}` +
      (ignored.length ? `; not counted: ${ignored.join(', ')}` : '') +
      `${note}\n`,
  );
  const x = rep.replies;
  if (x.pairs + x.removed > 0) {
    process.stdout.write(`whitelist outgoing: ${count(x.pairs, 'reply pair')} for qgrey-spp in ${x.file} (${x.added} added, ${x.renewed} renewed, ${x.removed} removed)${note}\n`);
  }
  // left out on purpose (SPF terms qgrey does not flatten, networks too wide or private): as whitelist spf says them
  for (const r of results) if (!(r instanceof QgreyError)) for (const x of r.skipped) process.stdout.write(`${x}\n`);
  return 0;
}

/**
 * The replies file's new lines: every pair of `pairs` with source out:DOMAIN and expiry
 * `expires` (an out: line of the pair replaced, one that already says so kept); out: lines of
 * pairs not written to now kept until they expire; out: lines of a `dropped` domain removed.
 * Lines of other sources, comments and lines not understood are kept byte for byte.
 */
function writePairs(
  lines: PairLine[],
  pairs: ReadonlyMap<string, { remote: string; local: string }>,
  expires: number | null,
  now: number,
  dropped: (domain: string) => boolean,
  rep: PairsReport,
): PairLine[] | null {
  rep.added = rep.renewed = rep.removed = 0;
  const out: PairLine[] = [];
  const done = new Set<string>();
  let changed = false;
  for (const l of lines) {
    if (l.kind !== 'pair' || !l.pair.source.startsWith(SOURCE_PREFIX)) {
      out.push(l);
      continue;
    }
    const p = l.pair;
    const k = `${p.remote} ${p.local}`;
    const want = pairs.get(k);
    if (want === undefined || done.has(k)) {
      if (done.has(k) || dropped(pairDomain(p.remote)) || (p.expires !== null && p.expires <= now)) {
        rep.removed++;
        changed = true;
      } else out.push(l);
      continue;
    }
    done.add(k);
    const text = formatPair({ remote: p.remote, local: p.local, expires, source: SOURCE_PREFIX + pairDomain(p.remote), comment: p.comment });
    if (text !== l.text) changed = true;
    rep.renewed++;
    out.push(parsePairLine(text, l.line));
  }
  const fresh: PairLine[] = [];
  for (const [k, want] of pairs) {
    if (done.has(k)) continue;
    rep.added++;
    fresh.push(parsePairLine(formatPair({ remote: want.remote, local: want.local, expires, source: SOURCE_PREFIX + pairDomain(want.remote), comment: '' }), 0));
  }
  if (fresh.length === 0 && !changed) return null;
  const head: PairLine[] = out.length > 0 ? [] : PAIRS_HEADER.trimEnd().split('\n').map((text, i) => ({ kind: 'comment' as const, line: i + 1, text }));
  return [...head, ...out, ...fresh];
}
