// The commonest lines `qgrey stats` counts after the accepted ones, read from their bytes with
// no string, record or regex: the reader's `consume` hook (src/logs/read.ts) offers each line
// `keep` kept, and a line taken here is counted as parseBody (src/core/logline.ts) and the
// collector would count its record. Each reader below takes only a shape whose reading by
// parseBody's regex is certain (every value free of spaces, printable ASCII, an IPv4 address
// or none); anything else, a near miss or an IPv6 address, is left to the record. Pure.

import { bytesAt } from '../text.js';
import { DECISIONS } from '../decision.js';
import type { StatsCollector } from './collector.js';

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

/**
 * What parseIp makes of the address b[at, end) when it has no colon (parseIp4: the number, or
 * -1 for no address); -2 when it has one (IPv6 or IPv4-mapped: for the record).
 */
function addressOf(b: Buffer, at: number, end: number): number {
  for (let i = at; i < end; i++) if (b[i] === 58) return -2;
  return ip4Of(b, at, end);
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
const F_RESULT = 0;
const F_CODE = 1;
const F_REMOTEIP = QLOG_FIELDS.findIndex((f) => f.key.toString('latin1') === 'remoteip=');
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

/**
 * A qlog line of the plain shape (each field `key=value`, one space between them, no space in
 * a value) that is not `result=accepted code=250`: then QLOG matches it with those very values
 * (no value can hold the next key's ` key=`), and the collector needs only its address (a key
 * or address that came back). Accepted lines stay with the reader's scan or the record.
 * `fields` gets the start and end of each value.
 */
function qlogSeen(c: StatsCollector, b: Buffer, at: number, e: number, time: number, fields: Int32Array): boolean {
  if (!bytesAt(b, at, e, QLOG_KINDS[0]!) && !bytesAt(b, at, e, QLOG_KINDS[1]!)) return false;
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
  if (isText(b, fields[2 * F_RESULT]!, fields[2 * F_RESULT + 1]!, ACCEPTED) && isText(b, fields[2 * F_CODE]!, fields[2 * F_CODE + 1]!, CODE_250)) return false;
  const ip4 = addressOf(b, fields[2 * F_REMOTEIP]!, fields[2 * F_REMOTEIP + 1]!);
  if (ip4 === -2) return false;
  c.addQlogSeen4(time, ip4);
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
function smtpd(c: StatsCollector, b: Buffer, at: number, e: number, time: number, words: Int32Array): boolean {
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
    const ip4 = addressOf(b, a, t - 1);
    if (ip4 === -2) return false;
    const text = t + 1;
    const what = isText(b, text, e, DISCONNECTED) ? 'disconnected' : isText(b, text, e, PREGREET) ? 'pregreet' : 'other';
    c.addGreetdelay(time, what, ip4);
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
  const ip4 = addressOf(b, words[4]!, words[5]!);
  if (ip4 === -2) return false;
  const nullSession = wording !== 'other' && word(0, NULL) && word(4, NULL) && word(6, UNKNOWN);
  c.addReadFailed(time, nullSession, ip4);
  return true;
}

/**
 * The reader's `consume` hook for `c`: `tcpserver: end PID status N`; a decision line
 * `jgreylist[PID]: A.B.C.D: WORDS` (greylist, qgreylist) whose WORDS end the line and need no
 * more than the counts; the qlog lines that are not accepted deliveries; qmail-smtpd's
 * GREETDELAY and `read failed` lines. Any other shape (a reason after the words, no pid, an
 * IPv6 address, a whitelisted decision, anything parseBody would read otherwise) is left to
 * the record. false: not taken.
 */
export function lineConsumer(c: StatsCollector): (b: Buffer, at: number, end: number, sec: number, nsec: number) => boolean {
  const num = { n: 0, at: 0 };
  const fields = new Int32Array(2 * QLOG_FIELDS.length);
  const words = new Int32Array(14);
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
      if (c1 === 108) return qlogSeen(c, b, at, e, sec + nsec / 1e9, fields);
      if (c1 === 109) return smtpd(c, b, at, e, sec + nsec / 1e9, words);
    } else if (c0 !== 106 && c0 !== 103) return false;
    const p = c0 === 106 ? PROGRAMS[0]! : c0 === 103 ? PROGRAMS[1]! : PROGRAMS[2]!;
    if (!bytesAt(b, at, e, p.open) || !digitsAt(b, at + p.open.length, e, num)) return false;
    const pid = num.n;
    let i = num.at;
    if (b[i] !== 93 || b[i + 1] !== 58 || b[i + 2] !== 32) return false;
    i += 3;
    const ipAt = i;
    while (i < e && ((b[i]! >= 48 && b[i]! <= 57) || b[i] === 46)) i++;
    if (b[i] !== 58 || b[i + 1] !== 32) return false;
    const ip4 = ip4Of(b, ipAt, i);
    if (ip4 < 0) return false;
    i += 2;
    for (const d of PLAIN) {
      if (e - i === d.bytes.length && bytesAt(b, i, e, d.bytes)) {
        c.addDecision4(sec + nsec / 1e9, p.name, d.text, ip4, pid);
        return true;
      }
    }
    return false;
  };
}
