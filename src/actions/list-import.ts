// qgrey whitelist mx|spf DOMAIN…: whitelist what DNS (or saved dig output) says about a
// domain's mail hosts, tagged with the source `mx:DOMAIN` / `spf:DOMAIN`. Re-running an
// import replaces that source's entries and no other. All domains are resolved first; a
// temporary DNS failure anywhere exits 111 with nothing written; a domain with no usable
// record is reported (exit 100) and its source left as it was, the others are applied.
// What is left out on purpose (SPF ptr/exists/macros, a network wider than --min-prefix, a
// private or loopback one) is known and expected, the same every run: it is listed on stdout
// after the summary, not warned about, and -q leaves it out with the summary. What may be a
// fault (an MX host without an address) is a warning on stderr, with -q too.

import type { Env } from '../core/config.js';
import { wholeNumber } from './options.js';
import { readFileSync } from 'node:fs';
import { clean } from '../core/text.js';
import { error, warn } from '../render/diag.js';
import { QgreyError, isTemporaryErrno, permanent, quote, reason, temporary } from '../core/errors.js';
import { DEFAULT_EXCLUDES, parseCidr, parseIp, cidrContains, formatCidr, type Cidr } from '../core/ip.js';
import { mxFromDig, parseDig, type DigRecord } from '../dns/dig.js';
import { dnsLookups, dnsServer, normDomain, validDomain, type Lookups } from '../dns/resolve.js';
import { aggregate, flattenSpf } from '../dns/spf.js';
import { parseAddress, type ListLine } from '../store/lists.js';
import { editReport, parseUntil, replaceSource, sayJson, withLists, type EditReport, type NewEntry } from './lists.js';

/** the widest networks an SPF import whitelists (--min-prefix4, --min-prefix6 of `whitelist spf`) */
export const MIN_PREFIX4 = 12;
export const MIN_PREFIX6 = 28;

const EXCLUDES: Cidr[] = DEFAULT_EXCLUDES.map((c) => parseCidr(c) as Cidr);

export interface ImportCommon {
  /** the environment: the settings a flag does not give (src/core/config.ts) */
  env: Env;
  domains: string[];
  until?: string;
  listdir?: string;
  /** --store (openLists) */
  store?: string;
  dnsServer?: string;
  dryRun: boolean;
  quiet: boolean;
  /** print what changed as one JSON object (lists.ts EditReport) instead of the summary */
  json?: boolean;
}

export interface MxArgs extends ImportCommon {
  dig?: string[];
}

export interface SpfArgs extends ImportCommon {
  minPrefix4: number;
  minPrefix6: number;
}

export interface Found {
  readonly domain: string;
  readonly source: string;
  readonly entries: NewEntry[];
  /** possible faults: stderr, always */
  readonly warnings: string[];
  /** left out on purpose: stdout, unless -q */
  readonly skipped: string[];
}

function checkDomains(domains: readonly string[]): string[] {
  if (domains.length === 0) throw permanent('give at least one domain');
  const out: string[] = [];
  for (const d of domains) {
    if (!validDomain(d)) throw permanent(`bad domain ${quote(d)}: expected a name such as example.org`);
    const n = normDomain(d);
    if (!out.includes(n)) out.push(n);
  }
  return out;
}

function excluded(c: Cidr): Cidr | undefined {
  return EXCLUDES.find((x) => x.ip.family === c.ip.family && (cidrContains(x, c.ip) || cidrContains(c, x.ip)));
}

/** Turn networks into list entries, sorted by address, dropping private/loopback ones. */
function toEntries(source: string, nets: readonly { cidr: Cidr; comment: string }[], skipped: string[]): NewEntry[] {
  const out: NewEntry[] = [];
  const seen = new Set<string>();
  for (const n of nets) {
    const x = excluded(n.cidr);
    if (x) {
      skipped.push(`${source}: ${formatCidr(n.cidr)} overlaps ${formatCidr(x)} (loopback, private or link-local): not whitelisted`);
      continue;
    }
    const a = parseAddress(formatCidr(n.cidr));
    if (typeof a === 'string') continue;
    if (seen.has(a.canon)) continue;
    seen.add(a.canon);
    out.push({ canon: a.canon, net: a.net, comment: clean(n.comment, Infinity), message: null });
  }
  return out.sort(compareEntries);
}

function compareEntries(a: NewEntry, b: NewEntry): number {
  if (a.net.family !== b.net.family) return a.net.family - b.net.family;
  if (a.net.family === 4 && b.net.family === 4) return a.net.lo - b.net.lo || a.net.hi - b.net.hi;
  if (a.net.family === 6 && b.net.family === 6) {
    const ga = a.net.cidr.ip.family === 6 ? a.net.cidr.ip.groups : [];
    const gb = b.net.cidr.ip.family === 6 ? b.net.cidr.ip.groups : [];
    for (let i = 0; i < 8; i++) if (ga[i] !== gb[i]) return (ga[i] ?? 0) - (gb[i] ?? 0);
    return a.net.cidr.prefix - b.net.cidr.prefix;
  }
  return 0;
}

export async function mxLive(domain: string, dns: Lookups): Promise<Found> {
  const source = `mx:${domain}`;
  const warnings: string[] = [];
  const all = await dns.mx(domain);
  if (all.some((x) => x.exchange === '' || x.exchange === '.')) throw permanent(`${source}: the domain has a null MX (it accepts no mail)`);
  const mxs = [...all].sort((a, b) => a.priority - b.priority || a.exchange.localeCompare(b.exchange));
  if (mxs.length === 0) throw permanent(`${source}: no MX record for ${domain}`);
  const nets: { cidr: Cidr; comment: string }[] = [];
  for (const x of mxs) {
    const host = normDomain(x.exchange);
    const [v4, v6] = await Promise.all([dns.a(host), dns.aaaa(host)]);
    if (v4.length + v6.length === 0) warnings.push(`${source}: MX host ${host} has no address`);
    for (const a of [...v4, ...v6]) {
      const c = parseCidr(a);
      if (c) nets.push({ cidr: c, comment: host });
    }
  }
  if (nets.length === 0) throw permanent(`${source}: none of the MX hosts (${mxs.map((x) => normDomain(x.exchange)).join(', ')}) has an address`);
  const skipped: string[] = [];
  return { domain, source, entries: toEntries(source, nets, skipped), warnings, skipped };
}

function mxDig(domain: string, recs: readonly DigRecord[], statuses: ReturnType<typeof parseDig>['statuses'], claimShort: boolean): Found {
  const source = `mx:${domain}`;
  const st = statuses.find((s) => s.question === domain && s.status !== 'NOERROR');
  const r = mxFromDig(domain, recs, claimShort);
  if (r.addresses.size === 0) {
    if (st) throw permanent(`${source}: the saved dig output says ${st.status} for ${domain}`);
    if (r.hosts.length === 0) throw permanent(`${source}: no MX record for ${domain} in the saved dig output`);
    throw permanent(`${source}: no address for the MX hosts (${r.hosts.join(', ')}) in the saved dig output`);
  }
  const nets: { cidr: Cidr; comment: string }[] = [];
  for (const [addr, via] of r.addresses) {
    const ip = parseIp(addr);
    const c = ip ? parseCidr(addr) : null;
    if (c) nets.push({ cidr: c, comment: via });
  }
  const skipped: string[] = [];
  return { domain, source, entries: toEntries(source, nets, skipped), warnings: [...r.warnings], skipped };
}

export async function spfLive(domain: string, dns: Lookups, min4: number, min6: number): Promise<Found> {
  const source = `spf:${domain}`;
  const r = await flattenSpf(domain, dns);
  const skipped = [...r.skipped];
  const nets: { cidr: Cidr; comment: string }[] = [];
  for (const n of aggregate(r.nets)) {
    const min = n.cidr.ip.family === 4 ? min4 : min6;
    if (n.cidr.prefix < min) {
      skipped.push(`${source}: ${n.via}: ${formatCidr(n.cidr)} is wider than /${min}: not whitelisted (see --min-prefix${n.cidr.ip.family})`);
      continue;
    }
    nets.push({ cidr: n.cidr, comment: n.via });
  }
  if (nets.length === 0 && r.nets.length === 0) throw permanent(`${source}: the SPF record lets no network pass that qgrey can flatten`);
  return { domain, source, entries: toEntries(source, nets, skipped), warnings: [], skipped };
}

/** Run `f` over the domains, at most `limit` at a time; results in domain order. */
export async function eachDomain<T>(domains: readonly string[], limit: number, f: (d: string) => Promise<T>): Promise<(T | QgreyError)[]> {
  const out: (T | QgreyError)[] = new Array(domains.length);
  let next = 0;
  let temp: unknown = null;
  const worker = async () => {
    while (next < domains.length && temp === null) {
      const k = next++;
      try {
        out[k] = await f(domains[k]!);
      } catch (err) {
        if (err instanceof QgreyError && err.permanent) out[k] = err;
        else temp ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, domains.length) }, worker));
  if (temp !== null) {
    if (temp instanceof QgreyError) throw temporary(`${temp.message}; nothing changed`, temp);
    throw temp;
  }
  return out;
}

async function apply(argv: ImportCommon, domains: readonly string[], results: (Found | QgreyError)[], now: number): Promise<number> {
  const expires = parseUntil(argv.until, now);
  const ok = results.filter((r): r is Found => !(r instanceof QgreyError));
  const failed = results.filter((r): r is QgreyError => r instanceof QgreyError);
  for (const r of ok) for (const w of r.warnings) warn(w);
  if (domains.length === 1 && failed.length === 1) throw failed[0]!;
  const summaries: string[] = [];
  const sources: EditReport['sources'] = [];
  let written = false;
  if (ok.length > 0) {
    written = await withLists(argv, (ls) => ls.update(
      'whitelist',
      (lines) => {
        summaries.length = 0;
        sources.length = 0;
        let cur: ListLine[] = lines;
        let changed = false;
        for (const r of ok) {
          const x = replaceSource(cur, 'whitelist', r.source, r.entries, expires);
          sources.push({ source: r.source, domain: r.domain, ...x.which });
          summaries.push(`whitelist ${r.source}: ${r.entries.length} entr${r.entries.length === 1 ? "y" : "ies"} (${x.added} added, ${x.removed} removed, ${x.kept} kept)`);
          if (x.lines) {
            cur = x.lines;
            changed = true;
          }
        }
        return changed ? cur : null;
      },
      { dryRun: argv.dryRun, create: true },
    ));
  }
  if (argv.json === true) {
    const failedAt = domains.filter((_, k) => results[k] instanceof QgreyError);
    sayJson(editReport('whitelist', argv.dryRun, written, sources, { skipped: ok.flatMap((r) => r.skipped), failed: failed.map((f, k) => ({ domain: failedAt[k] ?? '', error: f.message })) }));
  } else if (!argv.quiet) {
    for (const s of summaries) process.stdout.write(s + (argv.dryRun ? ' (dry run: not written)' : '') + '\n');
    for (const r of ok) for (const s of r.skipped) process.stdout.write(`${s}\n`);
  }
  for (const f of failed) error(`${f.message}; that source is left as it was`);
  if (failed.length > 0) throw permanent(`${failed.length} of ${domains.length} domains failed (see above); the others were ${argv.dryRun ? 'checked' : 'applied'}`);
  return 0;
}

function readDigFiles(files: readonly string[]): ReturnType<typeof parseDig> {
  const all: ReturnType<typeof parseDig> = { records: [], statuses: [], bad: [] };
  const bads: string[] = [];
  for (const f of files) {
    let text: string;
    try {
      text = f === '-' ? readFileSync(0, 'latin1') : readFileSync(f, 'latin1');
    } catch (err) {
      const msg = `unable to read ${f}: ${reason(err)}`;
      throw isTemporaryErrno(err) ? temporary(msg, err) : permanent(msg, err);
    }
    const p = parseDig(text, f === '-' ? 'stdin' : f);
    all.records.push(...p.records);
    all.statuses.push(...p.statuses);
    for (const b of p.bad) bads.push(`${f} line ${b.line}: ${b.why}: ${quote(b.text)}`);
  }
  if (bads.length > 0) {
    for (const b of bads) error(b);
    throw permanent(`${bads.length} line${bads.length === 1 ? '' : 's'} of dig output not understood; nothing changed`);
  }
  return all;
}

export async function runMx(argv: MxArgs, now: number): Promise<number> {
  const domains = checkDomains(argv.domains);
  parseUntil(argv.until, now);
  let results: (Found | QgreyError)[];
  if (argv.dig !== undefined && argv.dig.length > 0) {
    const p = readDigFiles(argv.dig);
    const claim = domains.length === 1;
    if (!claim && p.records.some((r) => r.owner === null)) {
      warn('+short dig output does not say which name it answers: ignored (give one domain per run to use it)');
    }
    results = domains.map((d) => {
      try {
        return mxDig(d, p.records, p.statuses, claim);
      } catch (err) {
        if (err instanceof QgreyError) return err;
        throw err;
      }
    });
  } else {
    const dns = dnsLookups(dnsServer(argv.dnsServer, argv.env));
    results = await eachDomain(domains, 8, (d) => mxLive(d, dns));
  }
  return apply(argv, domains, results, now);
}

export async function runSpf(argv: SpfArgs, now: number): Promise<number> {
  const domains = checkDomains(argv.domains);
  parseUntil(argv.until, now);
  wholeNumber(argv.minPrefix4, '--min-prefix4', 0, 32);
  wholeNumber(argv.minPrefix6, '--min-prefix6', 0, 128);
  const dns = dnsLookups(dnsServer(argv.dnsServer, argv.env));
  const results = await eachDomain(domains, 8, (d) => spfLive(d, dns, argv.minPrefix4, argv.minPrefix6));
  return apply(argv, domains, results, now);
}
