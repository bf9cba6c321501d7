// One qmail-smtpd log line into a typed event. Pure: no I/O, no clock.
// Prefix first (TAI64N label, readable local time, asctime), then the body by kind.

import { decodeLabel, type Stamp } from './tai64n.js';
import { daysFromCivil, type Zone } from './zone.js';
import { parseIp, formatIp, type Ip } from './ip.js';
import { isDecision, type Decision } from './decision.js';

// ---------------------------------------------------------------------------------------
// prefixes

export type Prefix =
  | { readonly type: 'tai64n'; readonly stamp: Stamp; /** body starts here */ readonly body: number; /** text after the hex run */ readonly rest: number }
  | { readonly type: 'local'; readonly stamp: Stamp; readonly fold: boolean; readonly gap: boolean; readonly body: number }
  | { readonly type: 'none'; readonly body: number }
  | { readonly type: 'bad'; readonly why: string };

const READABLE = /^([0-9]{4})-([0-9]{2})-([0-9]{2}) ([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{3,9}))? /;
const ASCTIME = /^[A-Z][a-z]{2} ([A-Z][a-z]{2}) ([ 0-9][0-9]) ([0-9]{2}):([0-9]{2}):([0-9]{2}) ([0-9]{4})  /;
const MONTHS = 'JanFebMarAprMayJunJulAugSepOctNovDec';

function localStamp(zone: Zone, y: number, mo: number, d: number, h: number, mi: number, s: number, frac: string | undefined) {
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return null;
  const local = daysFromCivil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
  const r = zone.fromLocal(local);
  const nsec = frac === undefined ? 0 : Number(frac.padEnd(9, '0'));
  return { stamp: { sec: r.sec, nsec }, fold: r.fold, gap: r.gap };
}

/** Recognise the timestamp prefix of a line. `zone` reads the zone-less readable forms. */
export function parsePrefix(line: string, zone: Zone): Prefix {
  const c0 = line.charCodeAt(0);
  if (c0 === 64 /* @ */) {
    const r = decodeLabel(line);
    if (!r.ok) return { type: 'bad', why: r.why };
    return { type: 'tai64n', stamp: r.stamp, rest: r.end, body: line.charCodeAt(r.end) === 32 ? r.end + 1 : r.end };
  }
  if (c0 >= 48 && c0 <= 57 && line.charCodeAt(4) === 45) {
    const m = READABLE.exec(line);
    if (m) {
      const st = localStamp(zone, +m[1]!, +m[2]!, +m[3]!, +m[4]!, +m[5]!, +m[6]!, m[7]);
      if (st) return { type: 'local', stamp: st.stamp, fold: st.fold, gap: st.gap, body: m[0].length };
    }
  } else if (c0 >= 65 && c0 <= 90 && line.charCodeAt(3) === 32) {
    const m = ASCTIME.exec(line);
    if (m) {
      const mo = MONTHS.indexOf(m[1]!) / 3 + 1;
      if (mo >= 1) {
        const st = localStamp(zone, +m[6]!, mo, +m[2]!.trim(), +m[3]!, +m[4]!, +m[5]!, undefined);
        if (st) return { type: 'local', stamp: st.stamp, fold: st.fold, gap: st.gap, body: m[0].length };
      }
    }
  }
  return { type: 'none', body: 0 };
}

// ---------------------------------------------------------------------------------------
// events

export interface QlogEvent {
  readonly kind: 'qlogenvelope' | 'qlogreceived';
  readonly result: string;
  readonly code: string;
  readonly reason: string;
  readonly detail: string;
  readonly helo: string;
  readonly mailfrom: string;
  readonly rcptto: string;
  readonly relay: boolean;
  readonly rcpthosts: string;
  readonly size: string;
  readonly authuser: string;
  readonly authtype: string;
  readonly encrypted: string;
  readonly sslverified: string;
  readonly sslproto?: string;
  readonly localip: string;
  readonly localport: string;
  /** the remoteip text as logged */
  readonly remoteip: string;
  /** the validated address, or null when remoteip is not an address */
  readonly ip: Ip | null;
  readonly remoteport: string;
  readonly remotehost: string;
  readonly qp: string;
  readonly pid: number;
}

export type GreetdelayWhat = 'disconnected' | 'pregreet' | 'pregreet-ignored' | 'error';
export interface GreetdelayEvent {
  readonly kind: 'greetdelay';
  readonly pid: number;
  readonly remoteip: string;
  readonly ip: Ip | null;
  readonly what: GreetdelayWhat;
  readonly text: string;
}

/** `read failed` hang-ups, in their three historic wordings. */
export type ReadFailedWording = 'closed-before-quit' | 'hang-up-before-quit' | 'plain' | 'other';
export interface ReadFailedEvent {
  readonly kind: 'readfailed';
  readonly wording: ReadFailedWording;
  readonly why: string;
  readonly mailfrom: string;
  readonly remoteip: string;
  readonly ip: Ip | null;
  readonly to: string;
  readonly helo: string;
  /** the spammer pattern: null sender, null recipient, no HELO given */
  readonly nullSession: boolean;
}

export interface DecisionEvent {
  readonly kind: 'decision';
  readonly program: 'jgreylist' | 'greylist' | 'qgreylist';
  readonly pid: number | null;
  readonly remoteip: string;
  readonly ip: Ip | null;
  readonly decision: Decision;
  /** the reason after `FAIL open:` / `FAIL closed:` (qgreylist only) */
  readonly detail?: string;
}

export interface RblsmtpdEvent {
  readonly kind: 'rblsmtpd';
  readonly remoteip: string;
  readonly ip: Ip | null;
  readonly pid: number;
  readonly code: number;
  readonly text: string;
}

export interface TcpserverEvent {
  readonly kind: 'tcpserver';
  readonly what: 'status' | 'pid' | 'ok' | 'deny' | 'end';
  readonly pid: number | null;
  readonly remoteip: string;
  readonly ip: Ip | null;
  readonly status: number | null;
  readonly text: string;
}

export interface OtherEvent {
  readonly kind: 'other';
  readonly text: string;
}

export type LogEvent =
  | QlogEvent
  | GreetdelayEvent
  | ReadFailedEvent
  | DecisionEvent
  | RblsmtpdEvent
  | TcpserverEvent
  | OtherEvent;

export type EventKind = LogEvent['kind'];
export const EVENT_KINDS: readonly EventKind[] = [
  'qlogenvelope',
  'qlogreceived',
  'greetdelay',
  'readfailed',
  'decision',
  'rblsmtpd',
  'tcpserver',
  'other',
];

/** The address an event is about, if it names a valid one. */
export function eventIp(e: LogEvent): Ip | null {
  return e.kind === 'other' ? null : e.ip;
}

// ---------------------------------------------------------------------------------------
// body parsers

// Client text (detail, helo, mailfrom, rcptto, authuser) may hold spaces, CRs and key-like text
// in SMTPUTF8 sessions, so `.` matches anything (s flag) and the server-made keys are found from
// the right: rcptto is greedy (the last relay= block before authuser wins) and remotehost, a DNS
// name, holds no space (else a helo carrying a whole fake tail could supply remoteip).
const QLOG =
  /^(qlogenvelope|qlogreceived): result=(\S*) code=(\S*) reason=(\S*) detail=(.*?) helo=(.*?) mailfrom=(.*?) rcptto=(.*) relay=(yes|no) rcpthosts=(yes|no)? size=([0-9]*) authuser=(.*?) authtype=(\S*) encrypted=(ssl|tls)? sslverified=(yes|no)?(?: sslproto=(\S*))? localip=(\S*) localport=([0-9]*) remoteip=(\S*) remoteport=([0-9]*) remotehost=(\S*) qp=([0-9]*) pid=([0-9]+)$/s;
const GREETDELAY = /^qmail-smtpd\[([0-9]+)\]: GREETDELAY from (\S+): (.*)$/;
const READFAILED = /^qmail-smtpd: read failed(?: \(([^)]*)\))?: (.*) from (\S+) to (.*) helo (.*)$/;
// qgreylist's FAIL lines carry the reason after a colon: `qgreylist[7]: 192.0.2.7: FAIL open: <reason>`
const DECISION = /^(jgreylist|greylist|qgreylist)(?:\[([0-9]+)\])?: (\S+): ([A-Z]+ [a-zA-Z ]+?)(?:: (.*))?$/;

function decisionOf(body: string): DecisionEvent | null {
  const m = DECISION.exec(body);
  const decision = m?.[4];
  if (!m || decision === undefined || !isDecision(decision)) return null;
  return {
    kind: 'decision',
    program: m[1] as DecisionEvent['program'],
    pid: m[2] === undefined ? null : Number(m[2]),
    remoteip: m[3]!,
    ip: parseIp(m[3]!),
    decision,
    ...(m[5] !== undefined ? { detail: m[5] } : {}),
  };
}
const RBLSMTPD = /^rblsmtpd: (\S*) pid ([0-9]+): (451|553) (.*)$/;
const TCPSERVER = /^tcpserver: (?:(status): [0-9]+\/[0-9]+(?:\/[0-9]+)?|(pid) ([0-9]+) from (\S+)|(ok|deny) ([0-9]+) \S* (\S*)|(end) ([0-9]+) status ([0-9]+))$/;

/** Parse the body of a line (prefix already removed). Never throws. */
export function parseBody(raw: string): LogEvent {
  const body = raw.charCodeAt(raw.length - 1) === 13 ? raw.slice(0, -1) : raw;
  const c0 = body.charCodeAt(0);
  if (c0 === 113 /* q */) {
    if (body.startsWith('qlog')) {
      const m = QLOG.exec(body);
      if (m) {
        const e: QlogEvent = {
          kind: m[1] as 'qlogenvelope' | 'qlogreceived',
          result: m[2]!,
          code: m[3]!,
          reason: m[4]!,
          detail: m[5]!,
          helo: m[6]!,
          mailfrom: m[7]!,
          rcptto: m[8]!,
          relay: m[9] === 'yes',
          rcpthosts: m[10] ?? '',
          size: m[11]!,
          authuser: m[12]!,
          authtype: m[13]!,
          encrypted: m[14] ?? '',
          sslverified: m[15] ?? '',
          ...(m[16] !== undefined ? { sslproto: m[16] } : {}),
          localip: m[17]!,
          localport: m[18]!,
          remoteip: m[19]!,
          ip: parseIp(m[19]!),
          remoteport: m[20]!,
          remotehost: m[21]!,
          qp: m[22]!,
          pid: Number(m[23]),
        };
        return e;
      }
    } else if (body.startsWith('qgreylist')) {
      const d = decisionOf(body);
      if (d) return d;
    } else if (body.startsWith('qmail-smtpd')) {
      if (body.charCodeAt(11) === 91 /* [ */) {
        const m = GREETDELAY.exec(body);
        if (m) {
          const text = m[3]!;
          const what: GreetdelayWhat =
            text === 'client disconnected'
              ? 'disconnected'
              : text === 'client sent data before greeting'
                ? 'pregreet'
                : text.startsWith('client sent data before greeting')
                  ? 'pregreet-ignored'
                  : 'error';
          return { kind: 'greetdelay', pid: Number(m[1]), remoteip: m[2]!, ip: parseIp(m[2]!), what, text };
        }
      } else if (body.startsWith('qmail-smtpd: read failed')) {
        const m = READFAILED.exec(body);
        if (m) {
          const why = m[1] ?? '';
          const wording: ReadFailedWording =
            m[1] === undefined
              ? 'plain'
              : why === 'connection closed by the client before the quit cmd'
                ? 'closed-before-quit'
                : why === 'hang up before quit cmd'
                  ? 'hang-up-before-quit'
                  : 'other';
          const mailfrom = m[2] === '(null)' ? '' : m[2]!;
          const to = m[4] === '(null)' ? '' : m[4]!;
          const helo = m[5]!;
          return {
            kind: 'readfailed',
            wording,
            why,
            mailfrom,
            remoteip: m[3]!,
            ip: parseIp(m[3]!),
            to,
            helo,
            nullSession: wording !== 'other' && mailfrom === '' && to === '' && helo === 'unknown',
          };
        }
      }
    }
  } else if (c0 === 106 || c0 === 103 /* j g */) {
    const d = decisionOf(body);
    if (d) return d;
  } else if (c0 === 114 /* r */) {
    const m = RBLSMTPD.exec(body);
    if (m) return { kind: 'rblsmtpd', remoteip: m[1]!, ip: parseIp(m[1]!), pid: Number(m[2]), code: Number(m[3]), text: m[4]! };
  } else if (c0 === 116 /* t */) {
    const m = TCPSERVER.exec(body);
    if (m) {
      if (m[1]) return { kind: 'tcpserver', what: 'status', pid: null, remoteip: '', ip: null, status: null, text: body };
      if (m[2]) return { kind: 'tcpserver', what: 'pid', pid: Number(m[3]), remoteip: m[4]!, ip: parseIp(m[4]!), status: null, text: body };
      if (m[5]) {
        // LOCALHOST:LOCALIP:LOCALPORT REMOTEHOST:REMOTEIP:REMOTEINFO:REMOTEPORT; IPv6 colons make it ambiguous
        const remote = m[7]!;
        const parts = remote.split(':');
        const guess = parts.length === 4 ? parts[1]! : parts.slice(1, -2).join(':');
        const ip = parseIp(guess);
        return { kind: 'tcpserver', what: m[5] as 'ok' | 'deny', pid: Number(m[6]), remoteip: ip ? guess : '', ip, status: null, text: body };
      }
      if (m[8]) return { kind: 'tcpserver', what: 'end', pid: Number(m[9]), remoteip: '', ip: null, status: Number(m[10]), text: body };
    }
  }
  return { kind: 'other', text: body };
}

/** The event as a plain JSON-ready object (the address in canonical form). */
export function eventToJson(e: LogEvent): Record<string, unknown> {
  const out: Record<string, unknown> = { ...e };
  if (e.kind !== 'other') out.ip = e.ip ? formatIp(e.ip) : null;
  return out;
}

/** Is this an accepted delivery (`result=accepted code=250`)? */
export function isAccepted(e: LogEvent): e is QlogEvent {
  return (e.kind === 'qlogenvelope' || e.kind === 'qlogreceived') && e.result === 'accepted' && e.code === '250';
}

/** Is this one of the evictable spammer patterns (GREETDELAY disconnect or a null-HELO hang-up)? */
export function isEvictable(e: LogEvent): e is GreetdelayEvent | ReadFailedEvent {
  return (e.kind === 'greetdelay' && e.what === 'disconnected') || (e.kind === 'readfailed' && e.nullSession);
}

/** What a rebuild needs from an accepted line. */
export interface AcceptedFacts {
  readonly kind: 'qlogenvelope' | 'qlogreceived';
  readonly remoteip: string;
  readonly ip: Ip | null;
  readonly relay: boolean;
  readonly authuser: string;
}

// The usual accepted line: every value free of spaces. Matched in one linear pass; there is then
// exactly one way to cut the line at its keys, so parseBody (QLOG) would cut it the same way.
const QLOG_ACCEPTED_PLAIN =
  /^qlog(envelope|received): result=accepted code=250 reason=\S* detail=\S* helo=\S* mailfrom=\S* rcptto=\S* relay=(yes|no) rcpthosts=(?:yes|no)? size=[0-9]* authuser=(\S*) authtype=\S* encrypted=(?:ssl|tls)? sslverified=(?:yes|no)?(?: sslproto=\S*)? localip=\S* localport=[0-9]* remoteip=(\S*) remoteport=[0-9]* remotehost=\S* qp=[0-9]* pid=[0-9]+\r?$/;

/**
 * The facts of a `result=accepted code=250` qlog line, or null for any other line; always what
 * parseBody says. Fast for the usual line (no spaces in values: one linear regex pass); a line
 * with spaces in client values (SMTPUTF8) or anything unusual goes through parseBody.
 */
export function acceptedFacts(body0: string): AcceptedFacts | null {
  if (!body0.startsWith(': result=accepted code=250 ', 12)) return null;
  const m = QLOG_ACCEPTED_PLAIN.exec(body0);
  if (m !== null) {
    const remoteip = m[4]!;
    return { kind: m[1] === 'envelope' ? 'qlogenvelope' : 'qlogreceived', remoteip, ip: parseIp(remoteip), relay: m[2] === 'yes', authuser: m[3]! };
  }
  const e = parseBody(body0);
  if (e.kind !== 'qlogenvelope' && e.kind !== 'qlogreceived') return null;
  return { kind: e.kind, remoteip: e.remoteip, ip: e.ip, relay: e.relay, authuser: e.authuser };
}
