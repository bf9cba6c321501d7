// Saved `dig` output as a record source for `qgrey whitelist mx --dig FILE…`, for admins
// who looked the addresses up by hand (seed 2: `dig nd.edu MX`, `dig pickering.cc.nd.edu`).
// Pure. Read tolerantly: the default output (header, QUESTION/ANSWER/AUTHORITY/ADDITIONAL
// sections, `;;` statistics), `+short` output (`10 mx1.example.org.`, bare addresses, CNAME
// targets), `+noall +answer`, with or without TTL and class. Lines that are none of these
// are reported with their line number.

import { quote } from '../core/errors.js';
import { formatIp, parseIp } from '../core/ip.js';
import { normDomain, validDomain } from './resolve.js';

export type DigType = 'MX' | 'A' | 'AAAA' | 'CNAME';

export interface DigRecord {
  /** the owner name; null for +short lines, which do not say */
  readonly owner: string | null;
  readonly type: DigType;
  /** MX: the exchange; A/AAAA: the canonical address; CNAME: the target */
  readonly data: string;
  readonly priority?: number;
  readonly file: string;
  readonly line: number;
}

export interface DigParse {
  readonly records: DigRecord[];
  /** `status:` values from `->>HEADER<<-` lines (NOERROR, NXDOMAIN, SERVFAIL…) with their question */
  readonly statuses: { status: string; question: string | null; line: number }[];
  readonly bad: { line: number; text: string; why: string }[];
}

const CLASSES = new Set(['IN', 'CH', 'HS', 'CS', 'ANY']);
const WANTED = new Set(['MX', 'A', 'AAAA', 'CNAME']);
// types we meet in full output and ignore
const OTHER = /^(?:SOA|NS|TXT|PTR|SRV|CAA|DS|DNSKEY|RRSIG|NSEC3?|NSEC3PARAM|HINFO|SPF|TLSA|SSHFP|HTTPS|SVCB|OPT|TYPE[0-9]+)$/;

export function parseDig(text: string, file: string): DigParse {
  const records: DigRecord[] = [];
  const statuses: DigParse['statuses'] = [];
  const bad: DigParse['bad'] = [];
  const lines = text.split('\n');
  let pendingStatus: { status: string; line: number } | null = null;
  let inQuestion = false;
  for (let k = 0; k < lines.length; k++) {
    const line = (lines[k] as string).replace(/\r$/, '');
    const n = k + 1;
    const t = line.trim();
    if (t === '') continue;
    if (t.startsWith(';')) {
      const st = /status: ([A-Z]+)/.exec(t);
      if (st && t.includes('->>HEADER<<-')) pendingStatus = { status: st[1]!, line: n };
      if (/^;; QUESTION SECTION:/.test(t)) inQuestion = true;
      else if (inQuestion && /^;[^;]/.test(t)) {
        const q = t.slice(1).trim().split(/\s+/)[0] ?? null;
        if (pendingStatus) statuses.push({ status: pendingStatus.status, question: q ? normDomain(q) : null, line: pendingStatus.line });
        pendingStatus = null;
        inQuestion = false;
      }
      continue;
    }
    if (pendingStatus) {
      statuses.push({ status: pendingStatus.status, question: null, line: pendingStatus.line });
      pendingStatus = null;
    }
    const tok = t.split(/\s+/);
    // +short forms
    if (tok.length === 1) {
      const ip = parseIp(tok[0]!);
      if (ip) {
        records.push({ owner: null, type: ip.family === 4 && !tok[0]!.includes(':') ? 'A' : 'AAAA', data: formatIp(ip), file, line: n });
        continue;
      }
      if (tok[0]!.endsWith('.') && validDomain(tok[0]!)) {
        records.push({ owner: null, type: 'CNAME', data: normDomain(tok[0]!), file, line: n });
        continue;
      }
      bad.push({ line: n, text: line, why: 'expected an address, a host name or a dig answer line' });
      continue;
    }
    if (tok.length === 2 && /^[0-9]{1,5}$/.test(tok[0]!)) {
      const host = tok[1]!;
      if (host === '.' || validDomain(host)) {
        records.push({ owner: null, type: 'MX', data: host === '.' ? '.' : normDomain(host), priority: Number(tok[0]), file, line: n });
        continue;
      }
    }
    // full answer line: OWNER [TTL] [CLASS] TYPE RDATA
    let i = 1;
    const owner = tok[0]!;
    if (i < tok.length && /^[0-9]+$/.test(tok[i]!)) i++;
    if (i < tok.length && CLASSES.has(tok[i]!.toUpperCase())) i++;
    if (i < tok.length && /^[0-9]+$/.test(tok[i]!)) i++; // class before TTL (dig +ttlunits off, some tools)
    const type = (tok[i] ?? '').toUpperCase();
    const rdata = tok.slice(i + 1);
    if (!validDomain(owner) || type === '' || (!WANTED.has(type) && !OTHER.test(type))) {
      bad.push({ line: n, text: line, why: 'expected OWNER TTL CLASS TYPE DATA' });
      continue;
    }
    if (!WANTED.has(type)) continue;
    const o = normDomain(owner);
    if (type === 'MX') {
      if (rdata.length !== 2 || !/^[0-9]{1,5}$/.test(rdata[0]!) || !(rdata[1] === '.' || validDomain(rdata[1]!))) {
        bad.push({ line: n, text: line, why: 'expected MX PRIORITY HOST' });
        continue;
      }
      records.push({ owner: o, type: 'MX', data: rdata[1] === '.' ? '.' : normDomain(rdata[1]!), priority: Number(rdata[0]), file, line: n });
    } else if (type === 'CNAME') {
      if (rdata.length !== 1 || !validDomain(rdata[0]!)) {
        bad.push({ line: n, text: line, why: 'expected CNAME HOST' });
        continue;
      }
      records.push({ owner: o, type: 'CNAME', data: normDomain(rdata[0]!), file, line: n });
    } else {
      const ip = rdata.length === 1 ? parseIp(rdata[0]!) : null;
      const fam = type === 'A' ? 4 : 6;
      if (!ip || ip.family !== fam || (fam === 4 && rdata[0]!.includes(':'))) {
        bad.push({ line: n, text: line, why: `expected ${type} ${type === 'A' ? 'IPv4' : 'IPv6'}-ADDRESS` });
        continue;
      }
      records.push({ owner: o, type: type as DigType, data: formatIp(ip), file, line: n });
    }
  }
  return { records, statuses, bad };
}

export interface MxAddresses {
  /** address -> how it was found (`mx1.example.org`, or `FILE line N` for +short lines) */
  readonly addresses: Map<string, string>;
  readonly hosts: string[];
  readonly warnings: string[];
}

/**
 * The addresses of `domain`'s mail exchangers according to saved dig output. Owned MX
 * records of `domain` name the hosts; A/AAAA (following CNAMEs) give their addresses.
 * Lines without an owner (+short) cannot say which name they answer: when `claimShort`
 * is set (one domain on the command line) their MX hosts and addresses count for `domain`.
 */
export function mxFromDig(domain: string, recs: readonly DigRecord[], claimShort: boolean): MxAddresses {
  const d = normDomain(domain);
  const warnings: string[] = [];
  const addresses = new Map<string, string>();
  const hosts: string[] = [];
  for (const r of recs) {
    if (r.type !== 'MX' || r.data === '.') continue;
    if (r.owner === d || (r.owner === null && claimShort)) if (!hosts.includes(r.data)) hosts.push(r.data);
  }
  const addrOf = (name: string, depth: number): { data: string; via: string }[] => {
    if (depth > 8) return [];
    const out: { data: string; via: string }[] = [];
    for (const r of recs) {
      if (r.owner !== name) continue;
      if (r.type === 'A' || r.type === 'AAAA') out.push({ data: r.data, via: name });
      else if (r.type === 'CNAME') for (const x of addrOf(r.data, depth + 1)) out.push({ data: x.data, via: name });
    }
    return out;
  };
  for (const h of hosts) {
    const found = addrOf(h, 0);
    if (found.length === 0 && !(claimShort && recs.some((r) => r.owner === null && (r.type === 'A' || r.type === 'AAAA')))) {
      warnings.push(`mx:${d}: no address for MX host ${quote(h)} in the saved dig output`);
    }
    for (const f of found) if (!addresses.has(f.data)) addresses.set(f.data, h);
  }
  if (claimShort) {
    for (const r of recs) {
      if (r.owner === null && (r.type === 'A' || r.type === 'AAAA') && !addresses.has(r.data)) addresses.set(r.data, `${r.file} line ${r.line}`);
    }
  }
  return { addresses, hosts, warnings };
}
