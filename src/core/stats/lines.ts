// The commonest lines `qgrey stats` counts after the accepted ones, read from their bytes with
// no string, record or regex: the reader's `consume` hook (src/logs/read.ts) offers each line
// `keep` kept, and a line taken here is counted as parseBody (src/core/logline.ts) and the
// collector would count its record. Each reader below takes only a shape whose reading by
// parseBody's regex is certain (every value free of spaces, printable ASCII), and reads its
// address as parseIp would (addressId); anything else, a near miss, is left to the record.
// Pure.

import { bytesAt } from '../text.js';
import { DECISIONS } from '../decision.js';
import type { StatsCollector } from './collector.js';
import { ip6Id, type Id } from './table.js';

const latin1 = (t: string) => Buffer.from(t, 'latin1');
const END = latin1('tcpserver: end ');
const STATUS = latin1(' status ');
const PROGRAMS = (['jgreylist', 'greylist', 'qgreylist'] as const).map((name) => ({ name, open: latin1(name + '[') }));
// the decisions whose line ends with the words (FAIL may carry a reason; a whitelisted one is
// also looked up in the list of replies, from the record)
const PLAIN = DECISIONS.filter((d) => d.name !== 'whitelisted' && !d.text.startsWith('FAIL')).map((d) => ({ text: d.text, bytes: latin1(d.text) }));

/** 1 to 15 digits at b[at...] before `end`, and no more: their value and the index after them in `into` */
function digitsAt(b: Buffer, at: number, end: number, into: { n: number; at: number }): boolean {
  let n = 0;
  let i = at;
  while (i < end && b[i]! >= 48 && b[i]! <= 57 && i - at < 16) n = n * 10 + b[i++]! - 48;
  if (i === at || i - at > 15) return false;
  into.n = n;
  into.at = i;
  return true;
}

/** parseIp4 (core/ip.ts) of the bytes b[at, end): the address as a number, or -1 */
function ip4Of(b: Buffer, at: number, end: number): number {
  const n = end - at;
  if (n < 7 || n > 15) return -1;
  let v = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = at; i < end; i++) {
    const c = b[i]!;
    if (c === 46) {
      if (digits === 0 || dots === 3) return -1;
      v = v * 256 + octet;
      octet = 0;
      digits = 0;
      dots++;
    } else {
      const d = c - 48;
      if (d < 0 || d > 9 || digits === 3) return -1;
      octet = octet * 10 + d;
      if (octet > 255) return -1;
      digits++;
    }
  }
  if (dots !== 3 || digits === 0) return -1;
  return v * 256 + octet;
}

/** the hex digit of the byte c, or -1 (parseHexGroup's digits: either case) */
function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/**
 * parseIp6Groups' expand() of the part b[from, to) into out[o...]: the groups it adds, -1
 * where expand gives null, or where they would pass eight (no address can use them then).
 */
function expand(b: Buffer, from: number, to: number, out: Int32Array, o: number): number {
  if (from === to) return 0;
  let k = o;
  for (let ps = from; ; ) {
    let pe = ps;
    let dot = false;
    for (; pe < to && b[pe] !== 58; pe++) if (b[pe] === 46) dot = true;
    if (pe === to && dot) {
      // a dotted IPv4 tail: two groups
      const v4 = ip4Of(b, ps, pe);
      if (v4 < 0 || k + 2 > 8) return -1;
      out[k++] = v4 >>> 16;
      out[k++] = v4 & 0xffff;
    } else {
      if (pe - ps === 0 || pe - ps > 4 || k === 8) return -1;
      let g = 0;
      for (let i = ps; i < pe; i++) {
        const d = hexDigit(b[i]!);
        if (d < 0) return -1;
        g = g * 16 + d;
      }
      out[k++] = g;
    }
    if (pe === to) return k - o;
    ps = pe + 1;
  }
}

/**
 * parseIp6Groups of b[at, end) into g, as it reads the text: false where it gives null.
 * `tail` is room for the groups after a `::`.
 */
function ip6Groups(b: Buffer, at: number, end: number, g: Int32Array, tail: Int32Array): boolean {
  const n = end - at;
  if (n < 2 || n > 45) return false;
  let dbl = -1;
  for (let i = at; i + 1 < end; i++) {
    if (b[i] === 58 && b[i + 1] === 58) {
      if (dbl !== -1) return false;
      dbl = i;
      i++;
      // a third colon makes a second `::` (indexOf('::', dbl + 1))
      if (i + 1 < end && b[i + 1] === 58) return false;
    }
  }
  if (dbl === -1) return expand(b, at, end, g, 0) === 8;
  const h = expand(b, at, dbl, g, 0);
  if (h < 0) return false;
  const t = expand(b, dbl + 2, end, tail, 0);
  if (t < 0) return false;
  const fill = 8 - h - t;
  if (fill < 1) return false;
  g.fill(0, h, h + fill);
  for (let i = 0; i < t; i++) g[h + fill + i] = tail[i]!;
  return true;
}

/**
 * ipId (table.ts) of parseIp of the address b[at, end), with no Ip made: a number for IPv4
 * (dotted, or IPv4-mapped IPv6), the hex for IPv6, null where parseIp gives null. `g` and
 * `tail` are room for eight groups.
 */
export function addressId(b: Buffer, at: number, end: number, g: Int32Array, tail: Int32Array): Id | null {
  let colon = false;
  for (let i = at; i < end; i++) if (b[i] === 58) colon = true;
  if (!colon) {
    const v = ip4Of(b, at, end);
    return v < 0 ? null : v | 0;
  }
  if (!ip6Groups(b, at, end, g, tail)) return null;
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) return (g[6]! * 65536 + g[7]!) | 0;
  return ip6Id(g);
}

/** The end of the token at b[at...]: the index of the space or `end` after it; -1 at a byte that is not printable ASCII. */
function tokenEnd(b: Buffer, at: number, end: number): number {
  let i = at;
  for (; i < end; i++) {
    const c = b[i]!;
    if (c === 32) return i;
    if (c < 33 || c > 126) return -1;
  }
  return i;
}

/** b[at, end) is the text `lit` */
const isText = (b: Buffer, at: number, end: number, lit: Buffer) => end - at === lit.length && bytesAt(b, at, end, lit);

// qmail-smtpd's qlog lines: the keys of the regex QLOG in order, and what each value may be
const enum V {
  /** \S* */
  Any,
  /** [0-9]* */
  Digits,
  /** [0-9]+ */
  Digits1,
  /** yes|no */
  YesNo,
  /** (yes|no)? */
  YesNoOrNot,
  /** (ssl|tls)? */
  SslTlsOrNot,
}
const QLOG_KINDS = [latin1('qlogenvelope: '), latin1('qlogreceived: ')];
const QLOG_FIELDS: { key: Buffer; value: V; optional?: true }[] = (
  [
    ['result', V.Any],
    ['code', V.Any],
    ['reason', V.Any],
    ['detail', V.Any],
    ['helo', V.Any],
    ['mailfrom', V.Any],
    ['rcptto', V.Any],
    ['relay', V.YesNo],
    ['rcpthosts', V.YesNoOrNot],
    ['size', V.Digits],
    ['authuser', V.Any],
    ['authtype', V.Any],
    ['encrypted', V.SslTlsOrNot],
    ['sslverified', V.YesNoOrNot],
    ['sslproto', V.Any, true],
    ['localip', V.Any],
    ['localport', V.Digits],
    ['remoteip', V.Any],
    ['remoteport', V.Digits],
    ['remotehost', V.Any],
    ['qp', V.Digits],
    ['pid', V.Digits1],
  ] as [string, V, true?][]
).map(([key, value, optional]) => ({ key: latin1(key + '='), value, ...(optional ? { optional } : {}) }));
const field = (name: string) => QLOG_FIELDS.findIndex((f) => f.key.toString('latin1') === name + '=');
const F_RESULT = field('result');
const F_CODE = field('code');
const F_RELAY = field('relay');
const F_AUTHUSER = field('authuser');
const F_REMOTEIP = field('remoteip');
const F_PID = field('pid');
const YES = latin1('yes');
const NO = latin1('no');
const SSL = latin1('ssl');
const TLS = latin1('tls');
const ACCEPTED = latin1('accepted');
const CODE_250 = latin1('250');

function valueFits(b: Buffer, at: number, end: number, v: V): boolean {
  switch (v) {
    case V.Any:
      return true;
    case V.Digits:
    case V.Digits1:
      for (let i = at; i < end; i++) if (b[i]! < 48 || b[i]! > 57) return false;
      return v === V.Digits || end > at;
    case V.YesNo:
      return isText(b, at, end, YES) || isText(b, at, end, NO);
    case V.YesNoOrNot:
      return end === at || isText(b, at, end, YES) || isText(b, at, end, NO);
    case V.SslTlsOrNot:
      return end === at || isText(b, at, end, SSL) || isText(b, at, end, TLS);
  }
}

/** Room for the values of a qlog line and the groups of an IPv6 address, one per consumer. */
interface Scratch {
  fields: Int32Array;
  words: Int32Array;
  groups: Int32Array;
  tail: Int32Array;
}

/**
 * A qlog line of the plain shape: each field `key=value`, one space between them, no space in
 * a value. QLOG then matches it with those very values (no value can hold the next key's
 * ` key=`); an accepted one (`result=accepted code=250`) is what acceptedFacts reads with its
 * plain regex, and takes a pid of at most 15 digits here (Number() of more may round
 * otherwise). Of any other, the collector needs only the address: its key came back.
 */
function qlogLine(c: StatsCollector, b: Buffer, at: number, e: number, time: number, s: Scratch): boolean {
  const received = bytesAt(b, at, e, QLOG_KINDS[1]!);
  if (!received && !bytesAt(b, at, e, QLOG_KINDS[0]!)) return false;
  const fields = s.fields;
  let i = at + QLOG_KINDS[0]!.length;
  for (let f = 0; f < QLOG_FIELDS.length; f++) {
    const { key, value, optional } = QLOG_FIELDS[f]!;
    if (!bytesAt(b, i, e, key)) {
      if (optional) continue;
      return false;
    }
    const v = i + key.length;
    const t = tokenEnd(b, v, e);
    if (t < 0 || !valueFits(b, v, t, value)) return false;
    fields[2 * f] = v;
    fields[2 * f + 1] = t;
    if (f === QLOG_FIELDS.length - 1) {
      if (t !== e) return false;
    } else {
      if (t === e) return false;
      i = t + 1;
    }
  }
  const iid = addressId(b, fields[2 * F_REMOTEIP]!, fields[2 * F_REMOTEIP + 1]!, s.groups, s.tail);
  const value = (f: number, lit: Buffer) => isText(b, fields[2 * f]!, fields[2 * f + 1]!, lit);
  if (!value(F_RESULT, ACCEPTED) || !value(F_CODE, CODE_250)) {
    c.addQlogSeen(time, iid);
    return true;
  }
  const p0 = fields[2 * F_PID]!;
  const p1 = fields[2 * F_PID + 1]!;
  if (p1 - p0 > 15) return false;
  let pid = 0;
  for (let k = p0; k < p1; k++) pid = pid * 10 + b[k]! - 48;
  c.addAcceptedId(time, received, value(F_RELAY, YES) || fields[2 * F_AUTHUSER + 1]! > fields[2 * F_AUTHUSER]!, iid, pid);
  return true;
}

const SMTPD = latin1('qmail-smtpd');
const GREETDELAY_FROM = latin1(']: GREETDELAY from ');
const DISCONNECTED = latin1('client disconnected');
const PREGREET = latin1('client sent data before greeting');
const READ_FAILED = latin1(': read failed');
const CLOSED_BEFORE_QUIT = latin1('connection closed by the client before the quit cmd');
const HANG_UP_BEFORE_QUIT = latin1('hang up before quit cmd');
const FROM = latin1('from');
const TO = latin1('to');
const HELO = latin1('helo');
const NULL = latin1('(null)');
const UNKNOWN = latin1('unknown');

/** every byte of b[at, end) is printable ASCII or a space */
function printable(b: Buffer, at: number, end: number): boolean {
  for (let i = at; i < end; i++) if (b[i]! < 32 || b[i]! > 126) return false;
  return true;
}

/**
 * qmail-smtpd's own lines, printable ASCII only. `qmail-smtpd[PID]: GREETDELAY from ADDR: TEXT`
 * (GREETDELAY's regex: the address is the run of non-spaces before `: `), and any other line
 * after `qmail-smtpd[`, which parseBody reads as nothing. `qmail-smtpd: read failed (WHY): FROM
 * from ADDR to TO helo HELO` with the four values single words and none of them a word of the
 * line (READFAILED's regex then cuts it there), or without `(WHY)`, and any other line after
 * `qmail-smtpd` but `read failed` ones, nothing to parseBody too.
 */
function smtpd(c: StatsCollector, b: Buffer, at: number, e: number, time: number, s: Scratch): boolean {
  if (!bytesAt(b, at, e, SMTPD) || !printable(b, at, e)) return false;
  let i = at + SMTPD.length;
  if (b[i] === 91) {
    i++;
    const digits = i;
    while (i < e && b[i]! >= 48 && b[i]! <= 57) i++;
    if (i === digits || !bytesAt(b, i, e, GREETDELAY_FROM)) return true; // no GREETDELAY line: nothing
    const a = i + GREETDELAY_FROM.length;
    const t = tokenEnd(b, a, e);
    // the address, then `: ` (the colon ends the run of non-spaces)
    if (t === e || t - a < 2 || b[t - 1] !== 58) return true;
    const iid = addressId(b, a, t - 1, s.groups, s.tail);
    const text = t + 1;
    const what = isText(b, text, e, DISCONNECTED) ? 'disconnected' : isText(b, text, e, PREGREET) ? 'pregreet' : 'other';
    c.addGreetdelay(time, what, iid);
    return true;
  }
  if (!bytesAt(b, i, e, READ_FAILED)) return true; // neither GREETDELAY nor read failed: nothing
  i += READ_FAILED.length;
  // (WHY): up to the first `)`, or no WHY: wording plain
  let wording: 'plain' | 'known' | 'other' = 'plain';
  if (b[i] === 32 && b[i + 1] === 40) {
    const why = i + 2;
    let j = why;
    while (j < e && b[j] !== 41) j++;
    if (j === e) return true;
    wording = isText(b, why, j, CLOSED_BEFORE_QUIT) || isText(b, why, j, HANG_UP_BEFORE_QUIT) ? 'known' : 'other';
    i = j + 1;
  }
  if (b[i] !== 58 || b[i + 1] !== 32) return true;
  i += 2;
  // seven words: FROM from ADDR to TO helo HELO
  const words = s.words;
  let n = 0;
  for (;;) {
    const t = tokenEnd(b, i, e);
    if (t === i || n === 7) return false;
    words[2 * n] = i;
    words[2 * n + 1] = t;
    n++;
    if (t === e) break;
    i = t + 1;
  }
  if (n !== 7) return false;
  const word = (k: number, lit: Buffer) => isText(b, words[2 * k]!, words[2 * k + 1]!, lit);
  if (!word(1, FROM) || !word(3, TO) || !word(5, HELO)) return false;
  for (const k of [0, 2, 4, 6]) if (word(k, FROM) || word(k, TO) || word(k, HELO)) return false;
  const iid = addressId(b, words[4]!, words[5]!, s.groups, s.tail);
  const nullSession = wording !== 'other' && word(0, NULL) && word(4, NULL) && word(6, UNKNOWN);
  c.addReadFailed(time, nullSession, iid);
  return true;
}

/**
 * The reader's `consume` hook for `c`: `tcpserver: end PID status N`; a decision line
 * `jgreylist[PID]: A.B.C.D: WORDS` (greylist, qgreylist) whose WORDS end the line and need no
 * more than the counts; qlog lines (the accepted ones the WebAssembly scan did not take: IPv6
 * senders, or all of them without it); qmail-smtpd's GREETDELAY and `read failed` lines. Any
 * other shape (a reason after the words, no pid, a decision from an IPv6 address, a
 * whitelisted decision, anything parseBody would read otherwise) is left to the record.
 * false: not taken.
 */
export function lineConsumer(c: StatsCollector): (b: Buffer, at: number, end: number, sec: number, nsec: number) => boolean {
  const num = { n: 0, at: 0 };
  const s: Scratch = { fields: new Int32Array(2 * QLOG_FIELDS.length), words: new Int32Array(14), groups: new Int32Array(8), tail: new Int32Array(8) };
  return (b, at, end, sec, nsec) => {
    // the body without one CR, as parseBody reads it
    const e = b[end - 1] === 13 ? end - 1 : end;
    const c0 = b[at];
    if (c0 === 116) {
      if (!bytesAt(b, at, e, END) || !digitsAt(b, at + END.length, e, num)) return false;
      const pid = num.n;
      let i = num.at;
      if (!bytesAt(b, i, e, STATUS)) return false;
      i += STATUS.length;
      // the status: any number of digits to the end
      if (i >= e) return false;
      while (i < e && b[i]! >= 48 && b[i]! <= 57) i++;
      if (i !== e) return false;
      c.addEnd(sec + nsec / 1e9, pid);
      return true;
    }
    if (c0 === 113) {
      const c1 = b[at + 1];
      if (c1 === 108) return qlogLine(c, b, at, e, sec + nsec / 1e9, s);
      if (c1 === 109) return smtpd(c, b, at, e, sec + nsec / 1e9, s);
    } else if (c0 !== 106 && c0 !== 103) return false;
    const p = c0 === 106 ? PROGRAMS[0]! : c0 === 103 ? PROGRAMS[1]! : PROGRAMS[2]!;
    if (!bytesAt(b, at, e, p.open) || !digitsAt(b, at + p.open.length, e, num)) return false;
    const pid = num.n;
    let i = num.at;
    if (b[i] !== 93 || b[i + 1] !== 58 || b[i + 2] !== 32) return false;
    i += 3;
    // the address: the run of non-spaces before `: ` (the regex's (\S+): )
    const ipAt = i;
    const t = tokenEnd(b, ipAt, e);
    if (t < 0 || t === e || t - ipAt < 2 || b[t - 1] !== 58) return false;
    i = t + 1;
    for (const d of PLAIN) {
      if (e - i === d.bytes.length && bytesAt(b, i, e, d.bytes)) {
        // IPv4, the commonest, as a number; any other through addressId (null: not an address)
        const ip4 = ip4Of(b, ipAt, t - 1);
        if (ip4 >= 0) c.addDecision4(sec + nsec / 1e9, p.name, d.text, ip4, pid);
        else c.addDecisionId(sec + nsec / 1e9, p.name, d.text, addressId(b, ipAt, t - 1, s.groups, s.tail), pid);
        return true;
      }
    }
    return false;
  };
}
