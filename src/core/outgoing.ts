// Where our own users write to: the remote domains of mail that local senders sent, from
// qmail-smtpd's accepted qlog lines of relayed or authenticated sessions and from qmail-send's
// delivery lines. Pure: lines in, domains with their senders and last times out; the caller
// reads the logs and turns domains into whitelist entries (`qgrey whitelist outgoing`).
//
// qmail-send logs (its own multilog directory, /var/log/qmail/send):
//   new msg 706430
//   info msg 706430: bytes 2737 from <alice@example.org> qp 31064 uid 1001
//   starting delivery 190552: msg 706430 to remote bob@remote.example
//   delivery 190552: success: 192.0.2.25_accepted_message./Remote_host_said:_250_ok/
//   bounce msg 706430 qp 31070
//   end msg 706430
// qmail-send replaces every byte below 33 or above 126 with `?` (so an address never holds a
// space, and a UTF-8 domain comes out as question marks and is not a name).
//
// Who counts (the guards):
// - qmail-smtpd: `result=accepted code=250` qlog lines with `relay=yes` or a non-empty
//   `authuser=`; every `rcptto=` address (qlogreceived joins them with commas). The sender is
//   the authenticated user, else the envelope sender. Lines of other sessions (inbound mail,
//   a backup MX relaying for a domain in rcpthosts) never count, whatever their recipients.
// - qmail-send lines carry no client, so a remote delivery counts only when the message's
//   envelope sender (its `info msg` line) is at one of our own domains (the --locals files)
//   and the message did not come in over SMTP from outside: an `info msg` whose `qp` is the
//   `qp=` of an accepted qlogreceived line of a session that was neither relayed nor
//   authenticated, within QP_WINDOW seconds, is inbound (a forged local sender). Without
//   --locals, qmail-send lines are read and never count. The sender that counts toward
//   --min-senders is the envelope sender.
// - Bounces never count: an empty envelope sender (`mailfrom=`, `from <>`) or qmail's
//   double-bounce sender `#@[]`, so a bounce to a forged address whitelists nobody.
// - Recipient domains are lower-cased, IDN names turned to punycode (node:url's
//   domainToASCII); address literals (`[192.0.2.1]`), single-label names and anything that is
//   not a host name are dropped; our own domains (--locals) never count.
//
// The reply pairs (src/core/pairs.ts): from the same lines that count, each (recipient address,
// envelope sender) pair, both normalised by pairAddress(); the sender is the envelope sender
// (`mailfrom=`, qmail-send's `from <...>`), where the reply goes, even in an authenticated
// session. With --locals, only a sender at one of our own domains makes a pair. A recipient or
// sender that is no such address (a local part with blanks, an address literal) makes none.

import { normaliseDomain } from './domain.js';
import { pairAddress } from './pairs.js';

export { normaliseDomain };

/** seconds either side in which a qmail-send `qp` is matched to a qmail-smtpd `qp=` */
export const QP_WINDOW = 600;

export type SendLine =
  | { readonly kind: 'new'; readonly msg: string }
  | { readonly kind: 'info'; readonly msg: string; readonly sender: string; readonly qp: string }
  | { readonly kind: 'start'; readonly msg: string; readonly channel: 'local' | 'remote'; readonly to: string }
  | { readonly kind: 'end'; readonly msg: string };

const INFO = /^info msg ([0-9]+): bytes [0-9]+ from <(.*)> qp ([0-9]+) uid [0-9]+$/;
const START = /^starting delivery [0-9]+: msg ([0-9]+) to (local|remote) (\S+)$/;
const NEW_END = /^(new|end) msg ([0-9]+)$/;

/** A qmail-send line's body (after the timestamp), or null for any other line. Never throws. */
export function parseSendLine(body0: string): SendLine | null {
  const body = body0.charCodeAt(body0.length - 1) === 13 ? body0.slice(0, -1) : body0;
  const c = body.charCodeAt(0);
  if (c === 115 /* s */) {
    const m = START.exec(body);
    return m ? { kind: 'start', msg: m[1]!, channel: m[2] as 'local' | 'remote', to: m[3]! } : null;
  }
  if (c === 105 /* i */) {
    const m = INFO.exec(body);
    return m ? { kind: 'info', msg: m[1]!, sender: m[2]!, qp: m[3]! } : null;
  }
  if (c === 110 /* n */ || c === 101 /* e */) {
    const m = NEW_END.exec(body);
    return m ? { kind: m[1] as 'new' | 'end', msg: m[2]! } : null;
  }
  return null;
}

/** The domain of an address (after its last `@`), normalised; null when there is none. */
export function addressDomain(address: string): string | null {
  const at = address.lastIndexOf('@');
  if (at <= 0) return null;
  return normaliseDomain(address.slice(at + 1));
}

/** An envelope sender that is a bounce: empty, or qmail's double-bounce `#@[]`. */
export function isBounceSender(sender: string): boolean {
  return sender === '' || sender === '#@[]';
}

/**
 * A set of domains, each covering its subdomains too (`example.org` covers
 * `mail.example.org`), as rcpthosts' `.example.org` lines do.
 */
export class DomainSet {
  private readonly names = new Set<string>();
  add(d: string): void {
    this.names.add(d);
  }
  get size(): number {
    return this.names.size;
  }
  has(d: string): boolean {
    for (let x = d; ; ) {
      if (this.names.has(x)) return true;
      const i = x.indexOf('.');
      if (i === -1) return false;
      x = x.slice(i + 1);
    }
  }
  [Symbol.iterator](): Iterator<string> {
    return [...this.names].sort()[Symbol.iterator]();
  }
}

/**
 * The domains of a qmail control file: `locals` and `rcpthosts` (one name per line; a leading
 * dot in rcpthosts means the subdomains, which a DomainSet covers anyway), `virtualdomains`
 * (`domain:prefix`; `user@domain:prefix` lines name one address and are skipped). `#` lines
 * and blank lines are skipped; so is anything that is not a name (reported in `bad`).
 */
export function parseControlDomains(text: string): { domains: string[]; bad: { line: number; text: string }[] } {
  const domains: string[] = [];
  const bad: { line: number; text: string }[] = [];
  text.split('\n').forEach((raw, k) => {
    let t = raw.replace(/\r$/, '').trim();
    if (t === '' || t.startsWith('#')) return;
    const colon = t.indexOf(':');
    if (colon !== -1) t = t.slice(0, colon);
    if (t.includes('@')) return;
    if (t.startsWith('.')) t = t.slice(1);
    const d = normaliseDomain(t);
    if (d === null) bad.push({ line: k + 1, text: raw });
    else domains.push(d);
  });
  return { domains, bad };
}

/** What is known of one remote domain: its senders, each with the last time they wrote there. */
export interface DomainSeen {
  /** sender -> last time (seconds) */
  readonly senders: Map<string, number>;
  last: number;
}

/** Counts of what was read and why lines did not count (for the summary and --json). */
export interface OutgoingCounts {
  /** recipients of relayed or authenticated accepted qlog lines */
  smtpdRecipients: number;
  /** remote deliveries of local senders' messages (qmail-send) */
  sendDeliveries: number;
  /** accepted qlog lines of sessions neither relayed nor authenticated (never counted) */
  inbound: number;
  /** relayed or authenticated lines, and qmail-send remote deliveries, of bounces (empty sender) */
  bounces: number;
  /** recipients at one of our own domains (--locals) */
  ours: number;
  /** recipients whose domain is not a host name */
  badDomains: number;
  /** remote deliveries of messages whose sender is not ours, or unknown */
  sendForeign: number;
  /** remote deliveries of messages that came in over SMTP from outside (matched by qp) */
  sendInbound: number;
}

/** Just what outgoing needs of an accepted qlog line. */
export interface QlogLine {
  readonly kind: 'qlogenvelope' | 'qlogreceived';
  readonly relay: boolean;
  readonly authuser: string;
  readonly mailfrom: string;
  readonly rcptto: string;
  readonly qp: string;
}

interface Pending {
  readonly sender: string;
  readonly qp: string;
  readonly at: number;
  /** remote deliveries seen before the message was decided: [domain, time, recipient] */
  readonly deliveries: [string, number, string][];
  /** its `end msg` was read: forget it once decided */
  ended: boolean;
}

/** what a qmail-send message counts as */
type Verdict = { readonly kind: 'local'; readonly sender: string } | { readonly kind: 'foreign' } | { readonly kind: 'inbound' } | { readonly kind: 'bounce' };
const FOREIGN: Verdict = { kind: 'foreign' };
const INBOUND: Verdict = { kind: 'inbound' };
const BOUNCE: Verdict = { kind: 'bounce' };

const MAX_SENDERS = 64;
/** reply pairs held at most (the oldest forgotten first) */
export const MAX_PAIRS = 200000;

/**
 * Collects the domains local users wrote to. Feed it lines in time order (`qlog`, `send`),
 * then `finish()`. A qmail-send message is decided QP_WINDOW seconds (of log time) after its
 * `info msg` line, when any qmail-smtpd line with the same qp has been read; deliveries after
 * that count at once, until its `end msg`.
 */
export class OutgoingCollector {
  readonly domains = new Map<string, DomainSeen>();
  /** reply pairs, `remote local` (both normalised) -> last time, least recent first */
  readonly pairs = new Map<string, number>();
  readonly counts: OutgoingCounts = { smtpdRecipients: 0, sendDeliveries: 0, inbound: 0, bounces: 0, ours: 0, badDomains: 0, sendForeign: 0, sendInbound: 0 };
  /** qp of accepted inbound qlogreceived lines -> time, in arrival order */
  private readonly inboundQp = new Map<string, number>();
  private readonly pending = new Map<string, Pending>();
  /** decided messages still in the queue: msg -> the sender that counts, or why it does not */
  private readonly decided = new Map<string, Verdict>();

  constructor(
    private readonly ours: DomainSet,
    /** read qmail-send lines at all (only with --locals: see the header) */
    private readonly useSend: boolean,
  ) {}

  /** `sender` wrote to `domain` at `t` (also: what a state file remembers of earlier runs). */
  remember(domain: string, sender: string, t: number): void {
    let d = this.domains.get(domain);
    if (!d) this.domains.set(domain, (d = { senders: new Map(), last: 0 }));
    if (t > d.last) d.last = t;
    const s = sender.toLowerCase();
    const prev = d.senders.get(s);
    if (prev === undefined || t > prev) {
      d.senders.delete(s);
      d.senders.set(s, t);
    }
    if (d.senders.size > MAX_SENDERS) d.senders.delete(d.senders.keys().next().value as string);
  }

  /** `local` (our sender) wrote to `remote` at `t`; both normalised by pairAddress (also: what a state file remembers). */
  rememberPair(remote: string, local: string, t: number): void {
    const k = `${remote} ${local}`;
    const prev = this.pairs.get(k);
    if (prev !== undefined && prev >= t) return;
    this.pairs.delete(k);
    this.pairs.set(k, t);
    if (this.pairs.size > MAX_PAIRS) this.pairs.delete(this.pairs.keys().next().value as string);
  }

  /** The pair of a counted recipient and its envelope sender, when both are addresses (and, with --locals, the sender is ours). */
  private pair(recipient: string, sender: string, t: number): void {
    const local = pairAddress(sender);
    if (local === null) return;
    if (this.ours.size > 0 && !this.ours.has(local.slice(local.lastIndexOf('@') + 1))) return;
    const remote = pairAddress(recipient);
    if (remote !== null) this.rememberPair(remote, local, t);
  }

  /** A remote recipient address: its domain, unless it is ours or not a name. */
  private recipient(address: string): string | null {
    const d = addressDomain(address);
    if (d === null) {
      this.counts.badDomains++;
      return null;
    }
    if (this.ours.has(d)) {
      this.counts.ours++;
      return null;
    }
    return d;
  }

  /** An accepted (`result=accepted code=250`) qlog line. */
  qlog(e: QlogLine, t: number): void {
    this.advance(t);
    const local = e.relay || e.authuser !== '';
    if (!local) {
      this.counts.inbound++;
      if (e.kind === 'qlogreceived' && e.qp !== '' && this.useSend) {
        this.inboundQp.delete(e.qp);
        this.inboundQp.set(e.qp, t);
      }
      return;
    }
    if (isBounceSender(e.mailfrom)) {
      this.counts.bounces++;
      return;
    }
    const sender = e.authuser !== '' ? e.authuser : e.mailfrom;
    for (const a of e.rcptto.split(',')) {
      if (a.trim() === '') continue;
      const d = this.recipient(a.trim());
      if (d === null) continue;
      this.counts.smtpdRecipients++;
      this.remember(d, sender, t);
      this.pair(a.trim(), e.mailfrom, t);
    }
  }

  /** A qmail-send line. */
  send(l: SendLine, t: number): void {
    this.advance(t);
    if (!this.useSend) return;
    switch (l.kind) {
      case 'new':
        return;
      case 'info': {
        this.decided.delete(l.msg);
        if (isBounceSender(l.sender)) {
          this.decided.set(l.msg, BOUNCE);
          this.pending.delete(l.msg);
          return;
        }
        const sd = addressDomain(l.sender);
        if (sd === null || !this.ours.has(sd)) {
          this.decided.set(l.msg, FOREIGN);
          this.pending.delete(l.msg);
          return;
        }
        this.pending.delete(l.msg);
        this.pending.set(l.msg, { sender: l.sender, qp: l.qp, at: t, deliveries: [], ended: false });
        return;
      }
      case 'start': {
        if (l.channel !== 'remote') return;
        const p = this.pending.get(l.msg);
        // no verdict: its info line was not read (before --since, or in an earlier run)
        const v = p ? undefined : (this.decided.get(l.msg) ?? FOREIGN);
        if (v !== undefined && v.kind !== 'local') {
          if (v.kind === 'bounce') this.counts.bounces++;
          else if (v.kind === 'inbound') this.counts.sendInbound++;
          else this.counts.sendForeign++;
          return;
        }
        const d = this.recipient(l.to);
        if (d === null) return;
        if (p) p.deliveries.push([d, t, l.to]);
        else {
          this.counts.sendDeliveries++;
          this.remember(d, v!.sender, t);
          this.pair(l.to, v!.sender, t);
        }
        return;
      }
      case 'end': {
        // a message still waiting for its qp window is decided when the window is over
        const p = this.pending.get(l.msg);
        if (p) p.ended = true;
        else this.decided.delete(l.msg);
        return;
      }
    }
  }

  private decide(msg: string): void {
    const p = this.pending.get(msg);
    if (!p) return;
    this.pending.delete(msg);
    const q = this.inboundQp.get(p.qp);
    if (q !== undefined && Math.abs(q - p.at) <= QP_WINDOW) {
      this.counts.sendInbound += p.deliveries.length;
      if (!p.ended) this.decided.set(msg, INBOUND);
      return;
    }
    for (const [d, t, to] of p.deliveries) {
      this.counts.sendDeliveries++;
      this.remember(d, p.sender, t);
      this.pair(to, p.sender, t);
    }
    if (!p.ended) this.decided.set(msg, { kind: 'local', sender: p.sender });
  }

  /** Log time has reached `t`: decide messages whose qp window is over; forget old qps. */
  private advance(t: number): void {
    for (const [msg, p] of this.pending) {
      if (p.at >= t - QP_WINDOW) break;
      this.decide(msg);
    }
    for (const [qp, at] of this.inboundQp) {
      if (at >= t - 2 * QP_WINDOW) break;
      this.inboundQp.delete(qp);
    }
  }

  /** The end of the logs: decide every message still waiting. */
  finish(): void {
    for (const msg of [...this.pending.keys()]) this.decide(msg);
  }
}
