// Whitelist and blacklist files: the line format, a tolerant parser, a strict writer
// (lock + temp + fsync + rename), and the one-call lookup the per-connection wrapper makes.
// No npm imports here: only node: builtins and src/core/* (the wrapper imports this module).
//
// ---------------------------------------------------------------------------------------
// FILE FORMAT (qgrey(5), "LIST FILES"; copy from here into the man page)
//
// Location: the directory named by --listdir, else $QGREY_LISTDIR, else
// /var/qmail/control/qgrey; the files in it are `whitelist` and `blacklist`. A missing file
// is an empty list. A file that exists but cannot be read is a failure: the wrapper does
// what QGREY_FAIL says (by default lets the client through, `FAIL open`; `closed`: 451),
// never a bounce; a qgrey command exits 111. A rewrite keeps the file's mode and owner; a new
// list is 0644 and a new list directory 0755, whatever the umask (the wrapper reads them as
// the tcpserver uid).
//
// One entry per line, fields separated by one or more spaces or tabs:
//
//     ADDRESS  EXPIRY  SOURCE  ["MESSAGE"]  [# COMMENT]
//
//   ADDRESS  the addresses the entry covers, one of:
//              192.0.2.7          one IPv4 address (leading zeros allowed: 192.000.002.007)
//              129.74.  129.74    an IPv4 prefix of 1 to 3 octets (addlist and tcprules style);
//                                 qgrey writes it with the trailing dot
//              192.0.2.0/24       an IPv4 CIDR network (192.0.2.9/24 means 192.0.2.0/24)
//              192.0.2.10-20      a range in the last octet given, as tcprules writes it;
//              10.1.4-7.          also in a shorter prefix (10.1.4.0 to 10.1.7.255)
//              2001:db8::25       one IPv6 address (::ffff:192.0.2.7 means 192.0.2.7)
//              2001:db8::/32      an IPv6 CIDR network
//   EXPIRY   `never`, or the time the entry stops counting, in UTC: 2026-12-31T23:59:59Z.
//            An entry whose expiry is at or before now is ignored by every reader and
//            removed by `qgrey clean`.
//   SOURCE   who wrote the entry: `manual` (qgrey whitelist add/load, or an editor), or an
//            import: `mx:DOMAIN`, `spf:DOMAIN`, or the NAME given to `load --source NAME`.
//            Letters, digits and `. _ - : @ / +`. Re-running an import replaces the entries of
//            its source and of no other; `manual` entries are never replaced by an import.
//   MESSAGE  blacklist only, optional: the text the client gets after `553 DENIED `; the first
//            `%` becomes the client's address. Written in double quotes, `\"` and `\\`
//            escaped, printable ASCII only. Without it: `% is blacklisted` (DEFAULT_BLACK_MESSAGE).
//   COMMENT  optional: everything after a `#` that follows the other fields.
//
// Blank lines and lines whose first non-blank character is `#` are comments. When qgrey
// rewrites a file it keeps comments, and lines it did not change, byte for byte; a line it
// cannot parse is ignored by every reader, reported by `qgrey whitelist list`, and kept.
// When several entries cover an address, the most specific one (fewest addresses) is the
// match; on a tie, the first in the file. The blacklist is consulted before the whitelist.
//
// Example:
//     129.74.        never                 manual        # nd.edu
//     192.0.2.0/24   2026-12-31T23:59:59Z  spf:example.org  # ip4:192.0.2.0/24
//     198.51.100.7   never                 manual  "Go away %"  # sent 400 spams on 2026-03-01
// ---------------------------------------------------------------------------------------

import { lstatSync, readFileSync, statSync, type Stats } from 'node:fs';
import { checkWritable, ensureDir, writeFileAtomic } from './atomic.js';
import { lockFileSync, type LockWait } from './lock.js';
import { DEFAULT_LOCK_WAIT } from '../core/config.js';
import { basename, dirname, join } from 'node:path';
import { permanent, quote, reason, temporary } from '../core/errors.js';
import { formatCidr, parseCidr, type Cidr, type Ip, type Ip6 } from '../core/ip.js';

export type ListName = 'whitelist' | 'blacklist';
export const LIST_NAMES: readonly ListName[] = ['whitelist', 'blacklist'];
export const DEFAULT_BLACK_MESSAGE = '% is blacklisted';
export const MANUAL = 'manual';


export function listPath(dir: string, name: ListName): string {
  return join(dir, name);
}

// ---------------------------------------------------------------------------------------
// addresses

/** What an entry covers: an inclusive IPv4 range, or an IPv6 network. */
export type Net = { readonly family: 4; readonly lo: number; readonly hi: number } | { readonly family: 6; readonly cidr: Cidr };

export interface ParsedAddress {
  readonly net: Net;
  /** the canonical spelling qgrey writes */
  readonly canon: string;
}

const p4 = (v: number) => `${(v >>> 24) & 255}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;

/** Parse 1-3 decimal digits at s[i..j) as an octet; -1 if not digits, -2 if over 255. */
function octet(s: string, i: number, j: number): number {
  if (j <= i || j - i > 3) return -1;
  let n = 0;
  for (let k = i; k < j; k++) {
    const c = s.charCodeAt(k) - 48;
    if (c < 0 || c > 9) return -1;
    n = n * 10 + c;
  }
  return n > 255 ? -2 : n;
}

const EXPECTED =
  'expected an IPv4 address (192.0.2.7), a prefix of 1-3 octets (129.74), a CIDR network (192.0.2.0/24), a range (192.0.2.10-20) or an IPv6 address or network';

/** Parse the ADDRESS field. Returns the reason as a string when it is not valid. */
export function parseAddress(text: string): ParsedAddress | string {
  const s = text;
  if (s.length === 0) return 'empty address';
  if (s.includes(':') || s.includes('/')) {
    const slash = s.indexOf('/');
    if (slash !== -1) {
      const p = s.slice(slash + 1);
      if (!/^[0-9]{1,3}$/.test(p)) return `bad prefix length ${quote(p)}`;
      const max = s.includes(':') ? 128 : 32;
      if (Number(p) > max && !(s.includes('.') && s.includes(':'))) return `prefix length ${p} is over ${max}`;
    }
    const c = parseCidr(s);
    if (!c) {
      if (!s.includes(':')) {
        const why = parseAddress(s.slice(0, slash === -1 ? s.length : slash));
        if (typeof why === 'string') return why;
      }
      return EXPECTED;
    }
    if (c.ip.family === 4) {
      const lo = c.ip.value >>> 0;
      const hi = (lo + 2 ** (32 - c.prefix) - 1) >>> 0;
      return { net: { family: 4, lo, hi }, canon: c.prefix === 32 ? p4(lo) : `${p4(lo)}/${c.prefix}` };
    }
    return { net: { family: 6, cidr: c }, canon: formatCidr(c) };
  }
  // dotted IPv4: address, prefix (with or without a trailing dot), range in the last octet given
  let body = s;
  const dot = body.endsWith('.');
  if (dot) body = body.slice(0, -1);
  const parts = body.split('.');
  if (parts.length > 4 || (dot && parts.length === 4)) return 'a prefix has at most three octets (129.74.), an address four (192.0.2.7)';
  let lo = 0;
  let hi = 0;
  let canon = '';
  for (let k = 0; k < parts.length; k++) {
    const part = parts[k] as string;
    const dash = part.indexOf('-');
    let a: number;
    let b: number;
    if (dash !== -1 && k === parts.length - 1) {
      a = octet(part, 0, dash);
      b = octet(part, dash + 1, part.length);
      if (a === -2 || b === -2) return `octet ${quote(part)} is over 255`;
      if (a < 0 || b < 0) return EXPECTED;
      if (a > b) return `range ${quote(part)} runs backwards`;
      canon += a === b ? String(a) : `${a}-${b}`;
    } else {
      a = b = octet(part, 0, part.length);
      if (a === -2) return `octet ${part} is over 255`;
      if (a < 0) return EXPECTED;
      canon += String(a);
    }
    lo = lo * 256 + a;
    hi = hi * 256 + b;
    if (k < parts.length - 1) canon += '.';
  }
  const free = 4 - parts.length;
  lo = lo * 256 ** free;
  hi = hi * 256 ** free + (256 ** free - 1);
  if (free > 0) canon += '.';
  return { net: { family: 4, lo, hi }, canon };
}

/** How many addresses a net covers (for "most specific wins"). */
export function netSize(n: Net): number {
  return n.family === 4 ? n.hi - n.lo + 1 : 2 ** (128 - n.cidr.prefix);
}

/** A key that is equal for two spellings of the same addresses. */
export function netKey(n: Net): string {
  return n.family === 4 ? `${n.lo}-${n.hi}` : formatCidr(n.cidr);
}

function netContains(n: Net, ip: Ip): boolean {
  if (n.family === 4) return ip.family === 4 && ip.value >= n.lo && ip.value <= n.hi;
  if (ip.family !== 6) return false;
  const c = n.cidr;
  if (c.ip.family !== 6) return false;
  let bits = c.prefix;
  for (let i = 0; i < 8 && bits > 0; i++, bits -= 16) {
    const mask = bits >= 16 ? 0xffff : (0xffff << (16 - bits)) & 0xffff;
    if (((ip.groups[i] as number) & mask) !== (c.ip.groups[i] as number)) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------
// times

const ISO = /^([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})Z$/;

/** `never` -> null; `2026-12-31T23:59:59Z` -> seconds; anything else -> undefined. */
export function parseExpiry(text: string): number | null | undefined {
  if (text === 'never') return null;
  const m = ISO.exec(text);
  if (!m) return undefined;
  const ms = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
  if (!Number.isFinite(ms)) return undefined;
  const d = new Date(ms);
  if (d.getUTCDate() !== +m[3]! || d.getUTCHours() !== +m[4]! || +m[6]! > 59) return undefined;
  return ms / 1000;
}

/** Times in or after the year 9999 (addlist's `9999-12-31 23:59:59`) are written as `never`. */
export function formatExpiry(t: number | null): string {
  if (t === null || t >= 253370764800) return 'never';
  return new Date(Math.floor(t) * 1000).toISOString().replace(/\.000Z$/, 'Z');
}

// ---------------------------------------------------------------------------------------
// lines

export const SOURCE_RE = /^[A-Za-z0-9._\-:@/+]{1,200}$/;

export interface ListEntry {
  /** ADDRESS as written in the file */
  readonly address: string;
  readonly net: Net;
  /** seconds since the epoch, or null for never */
  readonly expires: number | null;
  readonly source: string;
  /** blacklist text, or null when the line has none */
  readonly message: string | null;
  readonly comment: string;
}

export type ListLine =
  | { readonly kind: 'entry'; readonly line: number; readonly text: string; readonly entry: ListEntry }
  | { readonly kind: 'comment'; readonly line: number; readonly text: string }
  | { readonly kind: 'bad'; readonly line: number; readonly text: string; readonly why: string };

function isBlank(c: number): boolean {
  return c === 32 || c === 9;
}

/** Printable ASCII only (messages go into an SMTP reply, comments into listings). */
export function printable(text: string): boolean {
  return /^[\x20-\x7e]*$/.test(text);
}

/** Parse the fields after ADDRESS (from index i of `line`). */
function parseRest(line: string, i: number, address: string, net: Net): ListEntry | string {
  const n = line.length;
  const token = (): string => {
    while (i < n && isBlank(line.charCodeAt(i))) i++;
    const st = i;
    while (i < n && !isBlank(line.charCodeAt(i))) i++;
    return line.slice(st, i);
  };
  const exp = token();
  if (exp === '') return 'missing EXPIRY and SOURCE after the address';
  const expires = parseExpiry(exp);
  if (expires === undefined) return `bad expiry ${quote(exp)}: expected never or 2026-12-31T23:59:59Z`;
  const source = token();
  if (source === '' || source.startsWith('#')) return 'missing SOURCE after the expiry (manual, mx:DOMAIN, spf:DOMAIN)';
  if (!SOURCE_RE.test(source)) return `bad source ${quote(source)}: expected letters, digits and . _ - : @ / +`;
  while (i < n && isBlank(line.charCodeAt(i))) i++;
  let message: string | null = null;
  if (line.charCodeAt(i) === 34 /* " */) {
    let m = '';
    i++;
    for (;;) {
      if (i >= n) return 'unterminated "MESSAGE"';
      const c = line[i] as string;
      if (c === '"') break;
      if (c === '\\') {
        const d = line[i + 1];
        if (d !== '"' && d !== '\\') return 'in "MESSAGE", a backslash must be followed by " or \\';
        m += d;
        i += 2;
        continue;
      }
      m += c;
      i++;
    }
    i++;
    if (!printable(m)) return 'MESSAGE has characters outside printable ASCII';
    message = m;
    if (i < n && !isBlank(line.charCodeAt(i))) return 'expected a blank after "MESSAGE"';
    while (i < n && isBlank(line.charCodeAt(i))) i++;
  }
  let comment = '';
  if (i < n) {
    if (line.charCodeAt(i) !== 35 /* # */) return `unexpected ${quote(line.slice(i), 40)}: expected "MESSAGE" or # COMMENT`;
    comment = line.slice(i + 1).trim();
  }
  return { address, net, expires, source, message, comment };
}

/** Parse one line (without its newline). */
export function parseLine(text: string, line: number): ListLine {
  let i = 0;
  const n = text.length;
  while (i < n && isBlank(text.charCodeAt(i))) i++;
  if (i === n || text.charCodeAt(i) === 35) return { kind: 'comment', line, text };
  const st = i;
  while (i < n && !isBlank(text.charCodeAt(i))) i++;
  const address = text.slice(st, i);
  const a = parseAddress(address);
  if (typeof a === 'string') return { kind: 'bad', line, text, why: `bad address ${quote(address)}: ${a}` };
  const e = parseRest(text, i, address, a.net);
  if (typeof e === 'string') return { kind: 'bad', line, text, why: e };
  return { kind: 'entry', line, text, entry: e };
}

function splitLines(data: string): string[] {
  const lines = data.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines.map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
}

export function parseList(data: string): ListLine[] {
  return splitLines(data).map((t, k) => parseLine(t, k + 1));
}

/** The line qgrey writes for an entry (canonical address given by the caller). */
export function formatEntry(e: { address: string; expires: number | null; source: string; message: string | null; comment: string }): string {
  let s = `${e.address}\t${formatExpiry(e.expires)}\t${e.source}`;
  if (e.message !== null) s += `\t"${e.message.replace(/[\\"]/g, (c) => '\\' + c)}"`;
  if (e.comment !== '') s += `\t# ${e.comment}`;
  return s;
}

export function isExpired(e: ListEntry, now: number): boolean {
  return e.expires !== null && e.expires <= now;
}

// ---------------------------------------------------------------------------------------
// reading

/** The list file's text; '' when it does not exist; temporary error when it cannot be read. */
export function readListText(path: string): string {
  try {
    return readFileSync(path, 'latin1');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return '';
    throw temporary(`unable to read ${path}: ${reason(err)}`, err);
  }
}

export function readList(path: string): ListLine[] {
  return parseList(readListText(path));
}

export interface ListMatch {
  /** the ADDRESS field of the matching line, as written */
  readonly label: string;
  /** the whole line, as written */
  readonly entry: string;
  readonly source: string;
  /** the blacklist text (DEFAULT_BLACK_MESSAGE when the line has none); `%` not yet substituted */
  readonly message: string;
  readonly comment: string;
  readonly expires: number | null;
  /** line number in the file (findInList counts it when it is first read) */
  readonly line: number;
}

// The wrapper's hot path. The list is not parsed as a whole: one native regular-expression
// scan over the file text finds the lines whose ADDRESS can cover the address looked up,
// and only those go through parseLine, as with every other reader. So the scan can only save
// time, never change an answer: a line it lets through needlessly is rejected by the parse;
// what it must never do is leave out a line that covers the address.
//
// The scan is built for each address (and kept for the next lookup of the same address: the
// wrapper looks up the blacklist, then the whitelist). It matches:
//   - at a line start, the address's own first octet (IPv6: first group) without leading
//     zeros, then the rest of the ADDRESS token followed octet by octet (see buildScan).
//     A line that does not share the first octet costs a glance at its first characters;
//   - at a line start, the rare forms: leading blanks, a leading `0` or `:` (zero-padded
//     octets, and every IPv6 spelling of an IPv4-mapped address, `::ffff:…` or
//     `0:0:0:0:0:ffff:…`, starts with one of them), a range in the first octet (`9-11.`);
//   - anywhere, a prefix length that reaches across the first octet or group: `/0` to `/7`
//     (IPv6 `/0` to `/15`), leading zeros allowed.
// A rare hit is parsed at once; after RARE_PARSED of them (a file written in an unusual
// style throughout), the rest are first matched against the whole grammar (`full`).
// Measured in a fresh process on 10,000 lines (bench/lists.bench.ts): a regular expression
// whose alternatives start at every newline reads about 1 ns per character, a literal needle
// several times less, a JavaScript loop over the lines or a per-line expression several
// milliseconds (the code is still cold); compiling one of these expressions costs 0.2-0.5 ms.

interface Scan {
  /** the scan over the whole text (global); group 1 is set for a line with the address's own first octet */
  readonly re: RegExp;
  /** the whole grammar at a line start (sticky), for rare hits; compiled when first needed */
  full: RegExp | null;
  readonly fullSource: string;
}

const RARE_PARSED = 16;

// Prefix lengths below 8, 16, 24, 32 (IPv4; IPv6 below 16, 32, 48, 64), leading zeros
// allowed, then no digit. Written out: building them costs more in a cold process.
const BELOW4 = ['0{0,2}[0-7](?![0-9])', '0{0,2}(?:[0-9]|1[0-5])(?![0-9])', '0{0,2}(?:1?[0-9]|2[0-3])(?![0-9])', '0{0,2}(?:[12]?[0-9]|3[01])(?![0-9])'];
const BELOW6 = [BELOW4[1] as string, BELOW4[3] as string, '0{0,2}(?:[1-3]?[0-9]|4[0-7])(?![0-9])', '0{0,2}(?:[1-5]?[0-9]|6[0-3])(?![0-9])'];

/** A hex group as a list may write it: leading zeros, either case. */
function hexGroup(v: number): string {
  const s = v.toString(16);
  let out = s.length < 4 ? `0{0,${4 - s.length}}` : '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i] as string;
    out += c >= 'a' ? `[${c}${c.toUpperCase()}]` : c;
  }
  return out + '(?![0-9a-fA-F])';
}

// The ADDRESS token, followed from octet k on (IPv6: group k), octets 0..k-1 having been
// the address's and the dot after them read. The line is a candidate if here comes:
//   - the token's end: a prefix of k octets written with the trailing dot (`129.74.`);
//   - a range in this octet (`10.1.4-7.`, `192.0.2.10-20`, `9-11.`);
//   - a CIDR network whose prefix length ends inside this octet or before it, whatever the
//     octets from here on are (`40.0.0.0/12` covers 40.1.2.3);
//   - this octet of the address (leading zeros allowed), then the token's end (a prefix
//     without the trailing dot) or a dot and octet k+1; after the fourth, the end or a `/`.
// At k = 0 (only in `full`: the scan sends such lines there as rare) also an IPv6 spelling of
// an IPv4-mapped address: groups 0-4 zero, then ffff.
// IPv6 likewise, with: a colon (`::` here, or at k = 0 a token that starts with it: the
// groups after it are not at fixed places), no ranges, and, after four groups (64 bits),
// every line (few lines share them; a dotted IPv4 tail comes after six).
function buildScan(ip: Ip): Scan {
  let after: string;
  if (ip.family === 4) {
    const v = ip.value;
    const o = [Math.floor(v / 16777216) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];
    after = '(?=[ \\t/])';
    for (let k = 3; k >= 0; k--) {
      const n = o[k] as number;
      const own = (n < 10 ? '0{0,2}' : n < 100 ? '0?' : '') + n + '(?![0-9])' + after;
      const from = `${k === 0 ? '[0:]*[fF]{4}:' : '(?=[ \\t])'}|[0-9]{1,3}-|[0-9]{1,3}[0-9.]*/${BELOW4[k]}|`;
      if (k === 0) return { re: new RegExp(`(?:^|\\n)(?:[ \\t0:]|[1-9][0-9]{0,2}-|(${n}(?![0-9])${after}))|/${BELOW4[0]}`, 'g'), full: null, fullSource: `[ \\t]*(?:${from}${own})` };
      after = `(?:(?=[ \\t])|\\.(?:${from}${own}))`;
    }
  }
  const g = (ip as Ip6).groups;
  after = '';
  for (let k = 3; k >= 0; k--) {
    const own = hexGroup(g[k] as number) + after;
    const from = `:|[0-9a-fA-F]{1,4}[0-9a-fA-F:.]*/${BELOW6[k]}|`;
    if (k === 0) return { re: new RegExp(`(?:^|\\n)(?:[ \\t:]|(${own}))|/${BELOW6[0]}`, 'g'), full: null, fullSource: `[ \\t]*(?:${from}${own})` };
    after = `(?:(?=[ \\t/])|:(?:${from}${own}))`;
  }
  throw new Error('unreachable');
}

let lastKey = '';
let lastScan: Scan | null = null;
function scanFor(ip: Ip): Scan {
  const key = ip.family === 4 ? String(ip.value) : ip.groups.join(':');
  if (lastScan === null || key !== lastKey) {
    lastScan = buildScan(ip);
    lastKey = key;
  }
  return lastScan;
}

/** The 1-based number of the line that starts at `pos`. */
function lineAt(data: string, pos: number): number {
  let line = 1;
  for (let k = data.indexOf('\n'); k !== -1 && k < pos; k = data.indexOf('\n', k + 1)) line++;
  return line;
}

/**
 * Is `ip` in the list at `path`, and by which entry? For the per-connection wrapper: one
 * synchronous read of the file and one native scan over its text (see above), no index, no
 * npm imports. A missing file is an empty list (null). A file that cannot be read throws
 * temporary(). Lines that cannot be parsed and entries expired at `now` (seconds) are
 * skipped. Of the entries that cover `ip`, the most specific wins (fewest addresses); on a
 * tie, the first (lists.test.ts checks it against every parsed line, most specific first).
 * `line` is counted when it is first read: counting costs as much as the scan, and the
 * wrapper never reads it.
 */
export function findInList(path: string, ip: Ip, now: number): ListMatch | null {
  return findInText(readListText(path), ip, now);
}

/** findInList() over a list's text (the Redis store keeps each list as the text of its file). */
export function findInText(data: string, ip: Ip, now: number): ListMatch | null {
  if (data.length === 0) return null;
  const scan = scanFor(ip);
  const re = scan.re;
  let rare = 0;
  let best: ListEntry | null = null;
  let bestText = '';
  let bestStart = -1;
  let bestSize = Infinity;
  re.lastIndex = 0;
  for (let m = re.exec(data); m !== null; m = re.exec(data)) {
    const at = m.index;
    const st = data.charCodeAt(at) === 10 ? at + 1 : data.lastIndexOf('\n', at) + 1;
    let end = data.indexOf('\n', st);
    if (end === -1) end = data.length;
    re.lastIndex = end;
    if (m[1] === undefined && ++rare > RARE_PARSED) {
      const full = (scan.full ??= new RegExp(scan.fullSource, 'y'));
      full.lastIndex = st;
      if (!full.test(data)) continue;
    }
    const text = end > st && data.charCodeAt(end - 1) === 13 ? data.slice(st, end - 1) : data.slice(st, end);
    const l = parseLine(text, 0);
    if (l.kind !== 'entry' || isExpired(l.entry, now) || !netContains(l.entry.net, ip)) continue;
    const size = netSize(l.entry.net);
    if (size >= bestSize) continue;
    best = l.entry;
    bestText = text;
    bestSize = size;
    bestStart = st;
  }
  if (best === null) return null;
  const start = bestStart;
  let line = 0;
  return {
    label: best.address,
    entry: bestText,
    source: best.source,
    message: best.message ?? DEFAULT_BLACK_MESSAGE,
    comment: best.comment,
    expires: best.expires,
    get line(): number {
      return (line ||= lineAt(data, start));
    },
  };
}

export { netContains };

// ---------------------------------------------------------------------------------------
// writing: lock, temp + fsync + rename

/**
 * Run `fn` holding the lock of the list at `path` (`.NAME.lock` next to it): the tree's lock
 * (lock.ts), so a holder that died or whose pid was reused is recognised the same way, breaking
 * it is serialised, and a FIFO, directory or symlink planted at the lock's name is never
 * followed or waited on (111 after the wait, naming it).
 */
export function withListLock<T>(path: string, fn: () => T, waitSeconds: LockWait = DEFAULT_LOCK_WAIT): T {
  const lock = lockFileSync(join(dirname(path), `.${basename(path)}.lock`), `qgrey ${basename(path)}`, `list ${path}`, waitSeconds);
  try {
    return fn();
  } finally {
    lock.release();
  }
}

/** Replace a list file with `text` atomically, keeping its mode and owner; never through a symlink. */
export function writeListAtomic(path: string, text: string): void {
  try {
    const st = lstatSync(path);
    if (st.isSymbolicLink()) throw permanent(`refusing to replace ${path}: it is a symbolic link (point --listdir at the real directory)`);
    if (!st.isFile()) throw permanent(`refusing to replace ${path}: not a regular file`);
  } catch (err) {
    if (err instanceof Error && err.name === 'QgreyError') throw err;
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw temporary(`unable to stat ${path}: ${reason(err)}`, err);
  }
  // a new list is 0644 whatever the umask: the wrapper reads it as the tcpserver uid
  writeFileAtomic(path, text, { mode: LIST_MODE, encoding: 'latin1' });
}

/** Modes of a new list file and list directory: readable by the uid tcpserver runs the wrapper as. */
export const LIST_MODE = 0o644;
export const LISTDIR_MODE = 0o755;

/**
 * Create the list directory if only its last component is missing (the default is under
 * /var/qmail/control), mode 0755 whatever the umask. An existing one is left as it is.
 */
export function ensureListDir(dir: string): void {
  ensureDir(dir, 'list directory', LISTDIR_MODE);
}

export function header(name: ListName): string {
  return (
    `# qgrey ${name}: ADDRESS EXPIRY SOURCE${name === 'blacklist' ? ' ["MESSAGE"]' : ''} [# COMMENT], one entry per line; see qgrey(5).\n` +
    `# ADDRESS: 192.0.2.7, 129.74., 192.0.2.0/24, 192.0.2.10-20, 2001:db8::/32. EXPIRY: never or 2026-12-31T23:59:59Z (UTC).\n`
  );
}

export function renderList(lines: readonly ListLine[]): string {
  return lines.map((l) => l.text + '\n').join('');
}

/**
 * Read, change and rewrite one list under its lock. `change` gets the parsed lines and
 * returns the new lines, or null for "no change" (then nothing is written).
 * Returns whether the file was written. With `dryRun`, nothing is written.
 */
export function updateList(path: string, change: (lines: ListLine[]) => ListLine[] | null, opts: ListWrite = {}): boolean {
  return updateListFile(path, parseList, renderList, change, opts);
}

/** How a list is written: `dryRun` writes nothing (and takes no lock); `lockWait` for its lock (QGREY_LOCK_WAIT). */
export interface ListWrite {
  readonly dryRun?: boolean;
  readonly lockWait?: LockWait;
}

/**
 * updateList for any file of the list directory kept as lines (the lists, the replies file):
 * read under the list lock, parsed, changed, rendered, and written atomically (mode and owner
 * kept) only when the text differs.
 */
export function updateListFile<L>(
  path: string,
  parse: (text: string) => L[],
  render: (lines: readonly L[]) => string,
  change: (lines: L[]) => L[] | null,
  opts: ListWrite = {},
): boolean {
  const go = (): boolean => {
    const before = readListText(path);
    const next = change(parse(before));
    if (next === null) return false;
    const text = render(next);
    if (text === before) return false;
    if (!opts.dryRun) writeListAtomic(path, text);
    return true;
  };
  if (opts.dryRun) return go();
  checkWritable(`list directory ${dirname(path)}`, dirname(path), 'its owner');
  return withListLock(path, go, opts.lockWait);
}

/**
 * What tells a change of a file held in memory (qgreyd's lists and reply pairs): device,
 * inode, size, mtime and ctime; null when there is no file. Other errors are temporary.
 */
export function fileSignature(path: string): string | null {
  let st: Stats | undefined;
  try {
    // no exception for a missing file, the common case of a blacklist never written: qgreyd asks per connection
    st = statSync(path, { throwIfNoEntry: false });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR') throw temporary(`unable to read ${path}: ${reason(err)}`, err);
    return null;
  }
  if (st === undefined) return null;
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
}

export interface PurgeResult {
  /** the expired entries that were (or, with dryRun, would be) removed */
  readonly removed: ListEntry[];
  /** live entries left */
  readonly kept: number;
}

/**
 * Remove the entries expired at `now` (seconds) from the list at `listPath`, under its lock,
 * atomically. Comments, unparsable lines and live entries are kept byte for byte. A missing
 * file is an empty list. For `qgrey clean`.
 */
export async function purgeExpired(listPath: string, now: number, opts: ListWrite = {}): Promise<PurgeResult> {
  try {
    lstatSync(listPath);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { removed: [], kept: 0 };
    throw temporary(`unable to stat ${listPath}: ${reason(err)}`, err);
  }
  const p = purger(now);
  updateList(listPath, p.change, opts);
  return p.result;
}

/** purgeExpired's change, for any list store: `result` holds what the last call of `change` found. */
export function purger(now: number): { change: (lines: ListLine[]) => ListLine[] | null; readonly result: PurgeResult } {
  const removed: ListEntry[] = [];
  let kept = 0;
  return {
    change: (lines) => {
      removed.length = 0;
      kept = 0;
      const out = lines.filter((l) => {
        if (l.kind !== 'entry') return true;
        if (isExpired(l.entry, now)) {
          removed.push(l.entry);
          return false;
        }
        kept++;
        return true;
      });
      return removed.length === 0 ? null : out;
    },
    get result() {
      return { removed, kept };
    },
  };
}
