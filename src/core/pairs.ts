// Reply pairs (relaydelay's reverse triplet): a remote address one of our local users wrote to,
// and that local user. A reply from the remote address to that user passes qgrey-spp at once,
// without a greylisting delay. `qgrey whitelist outgoing` finds the pairs in the logs (the
// lines it trusts: src/core/outgoing.ts) and keeps them in the list directory's `replies` file;
// qgrey-spp looks the RCPT's (sender, recipient) up there. Pure: texts in, answers out.
//
// ---------------------------------------------------------------------------------------
// FILE FORMAT (qgrey(5), "REPLIES FILE")
//
// `replies` in the list directory. A missing file has no pairs. One pair per line, fields
// separated by one or more spaces or tabs:
//
//     REMOTE  LOCAL  EXPIRY  SOURCE  [# COMMENT]
//
//   REMOTE   the address our user wrote to, the sender of the reply
//   LOCAL    our user's address (the envelope sender of the mail out), the reply's recipient
//            Both in their normal form, as qgrey writes them: lower case, no <>, a BATV tag
//            (prvs=TAG=local@domain) and a +extension taken off, the domain in punycode.
//            A line in another spelling is not understood (every reader skips it).
//   EXPIRY   `never`, or the time the pair stops counting, in UTC: 2026-12-31T23:59:59Z
//   SOURCE   `out:DOMAIN` (DOMAIN: REMOTE's), written by `qgrey whitelist outgoing`, or
//            anything a list's SOURCE may be (`manual` for a line added by hand)
//   COMMENT  optional: everything after a `#` that follows the other fields
//
// Blank lines and `#` lines are comments; a rewrite keeps them, and every line it did not
// change, byte for byte. Several lines of one pair: the one that lasts longest counts.
// ---------------------------------------------------------------------------------------
//
// No npm imports: the per-RCPT path.

import { quote } from './errors.js';
import { normaliseDomain } from './domain.js';
import { plainAddress } from './triplet.js';

/** The longest address kept (RFC 5321: a path of 256 octets, less the <>). */
const MAX_ADDRESS = 254;
/** A local part: printable ASCII without blanks, `@`, `"`, `\`, `<`, `>`, `#` (so it stays one field), at most 64 octets. */
const LOCAL = /^[\x21\x24-\x3b\x3d\x3f\x41-\x5b\x5d-\x7e]{1,64}$/;

/**
 * An address as a pair holds it: lower case, <> off, BATV tag and +extension dropped (as the
 * triplet sender, but digit runs kept: the pair is exact), the domain a host name of at least
 * two labels in punycode. Null for what is no such address: the null sender, qmail's `#@[]`,
 * an address literal, a local part with blanks or quotes, anything too long.
 */
export function pairAddress(text: string): string | null {
  if (text.length > MAX_ADDRESS + 2) return null;
  const a = plainAddress(text);
  const at = a.lastIndexOf('@');
  if (at <= 0) return null;
  const local = a.slice(0, at);
  if (!LOCAL.test(local)) return null;
  // no control bytes or blanks (domainToASCII would quietly drop a tab or a new line)
  const raw = a.slice(at + 1);
  if (/[\x00-\x20\x7f]/.test(raw)) return null;
  const domain = normaliseDomain(raw);
  if (domain === null) return null;
  const out = `${local}@${domain}`;
  return out.length > MAX_ADDRESS ? null : out;
}

/** The domain of a normalised address. */
export function pairDomain(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1);
}

const SOURCE = /^[A-Za-z0-9._\-:@/+]{1,200}$/;
const ISO = /^([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})Z$/;

function expiryOf(text: string): number | null | undefined {
  if (text === 'never') return null;
  const m = ISO.exec(text);
  if (!m) return undefined;
  const ms = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
  const d = new Date(ms);
  if (!Number.isFinite(ms) || d.getUTCDate() !== +m[3]! || d.getUTCHours() !== +m[4]! || +m[6]! > 59) return undefined;
  return ms / 1000;
}

/** Times in or after the year 9999 are written as `never` (as the lists do). */
export function formatPairExpiry(t: number | null): string {
  if (t === null || t >= 253370764800) return 'never';
  return new Date(Math.floor(t) * 1000).toISOString().replace(/\.000Z$/, 'Z');
}

export interface Pair {
  readonly remote: string;
  readonly local: string;
  /** seconds since the epoch, or null for never */
  readonly expires: number | null;
  readonly source: string;
  readonly comment: string;
}

export type PairLine =
  | { readonly kind: 'pair'; readonly line: number; readonly text: string; readonly pair: Pair }
  | { readonly kind: 'comment'; readonly line: number; readonly text: string }
  | { readonly kind: 'bad'; readonly line: number; readonly text: string; readonly why: string };

const FIELDS = /^[ \t]*(\S+)[ \t]+(\S+)[ \t]+(\S+)[ \t]+([^ \t#]\S*)[ \t]*(?:#(.*))?$/;

/** One line of the replies file (without its newline). */
export function parsePairLine(text: string, line: number): PairLine {
  const t = text.endsWith('\r') ? text.slice(0, -1) : text;
  if (/^[ \t]*(?:#|$)/.test(t)) return { kind: 'comment', line, text };
  const m = FIELDS.exec(t);
  if (!m) return { kind: 'bad', line, text, why: 'expected REMOTE LOCAL EXPIRY SOURCE [# COMMENT]' };
  const [, remote, local, exp, source, comment] = m as unknown as [string, string, string, string, string, string | undefined];
  for (const [what, a] of [['REMOTE', remote], ['LOCAL', local]] as const) {
    const n = pairAddress(a);
    if (n === null) return { kind: 'bad', line, text, why: `bad ${what} ${quote(a, 80)}: expected an address such as bob@example.org` };
    if (n !== a) return { kind: 'bad', line, text, why: `${what} ${quote(a, 80)} is not in its normal form: expected ${n}` };
  }
  const expires = expiryOf(exp);
  if (expires === undefined) return { kind: 'bad', line, text, why: `bad expiry ${quote(exp)}: expected never or 2026-12-31T23:59:59Z` };
  if (!SOURCE.test(source)) return { kind: 'bad', line, text, why: `bad source ${quote(source)}: expected letters, digits and . _ - : @ / +` };
  return { kind: 'pair', line, text, pair: { remote, local, expires, source, comment: (comment ?? '').trim() } };
}

export function parsePairs(text: string): PairLine[] {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines.map((l, k) => parsePairLine(l, k + 1));
}

export function formatPair(p: Pair): string {
  return `${p.remote}\t${p.local}\t${formatPairExpiry(p.expires)}\t${p.source}${p.comment !== '' ? `\t# ${p.comment}` : ''}`;
}

export function renderPairs(lines: readonly PairLine[]): string {
  return lines.map((l) => l.text + '\n').join('');
}

export const PAIRS_HEADER =
  '# qgrey replies: REMOTE LOCAL EXPIRY SOURCE [# COMMENT], one pair per line; see qgrey(5).\n' +
  '# A reply from REMOTE to LOCAL passes qgrey-spp at once. Written by qgrey whitelist outgoing.\n';

const live = (p: Pair, now: number) => p.expires === null || p.expires > now;

/**
 * The live pair (remote, local) of the replies file's text at `now` (seconds), or null. Both
 * addresses normalised (pairAddress). Only lines that start with `remote` and a blank are
 * parsed; of several, the one that lasts longest.
 */
export function findPair(text: string, remote: string, local: string, now: number): Pair | null {
  let best: Pair | null = null;
  for (let i = text.indexOf(remote); i !== -1; i = text.indexOf(remote, i + 1)) {
    let st = i;
    while (st > 0 && (text.charCodeAt(st - 1) === 32 || text.charCodeAt(st - 1) === 9)) st--;
    if (st > 0 && text.charCodeAt(st - 1) !== 10) continue;
    const after = text.charCodeAt(i + remote.length);
    if (after !== 32 && after !== 9) continue;
    let end = text.indexOf('\n', i);
    if (end === -1) end = text.length;
    const l = parsePairLine(text.slice(st, end), 0);
    if (l.kind !== 'pair' || l.pair.remote !== remote || l.pair.local !== local || !live(l.pair, now)) continue;
    if (best === null || (best.expires !== null && (l.pair.expires === null || l.pair.expires > best.expires))) best = l.pair;
  }
  return best;
}

/** The live pairs of a text by `remote\0local`, for a reader that holds them (qgreyd). */
export class PairIndex {
  readonly pairs: number;
  readonly bad: number;
  private readonly map = new Map<string, Pair>();

  constructor(text: string) {
    let pairs = 0;
    let bad = 0;
    for (const l of parsePairs(text)) {
      if (l.kind === 'bad') bad++;
      if (l.kind !== 'pair') continue;
      pairs++;
      const k = `${l.pair.remote}\0${l.pair.local}`;
      const old = this.map.get(k);
      if (old === undefined || (old.expires !== null && (l.pair.expires === null || l.pair.expires > old.expires))) this.map.set(k, l.pair);
    }
    this.pairs = pairs;
    this.bad = bad;
  }

  find(remote: string, local: string, now: number): Pair | null {
    const p = this.map.get(`${remote}\0${local}`);
    return p !== undefined && live(p, now) ? p : null;
  }
}
