// The collection half of `qgrey stats`: feed every event with its time (Unix seconds, NaN
// when the line had none) in log order; result.ts turns what was counted into the report.
// Pure: no I/O, no clock.
//
// Memory: one row per greylisted key and one per greylisted address (table.ts: typed
// columns behind an IdIndex, 26 bytes a row for a key and 10 for an address, and 5 to 11 of
// the index's slots; more for IPv6, whose ids are strings in a Map); besides, one entry per
// open connection (conns.ts: 50 to 100 bytes, at most 65536 of them), per evictable address
// (an IdSet, 5 to 11 bytes), per time bucket, and with by='net' one small object per key
// seen. Each map stops at `maxKeys`; what did not fit is counted in `truncated`.

import { keyLabel, keyNetwork, type Layout } from '../key.js';
import type { Ip } from '../ip.js';
import { DECISION_NAMES, decisionName, zeroCounts, type Decision, type DecisionName } from '../decision.js';
import type { DecisionEvent, LogEvent } from '../logline.js';
import { formatCivil, type Zone } from '../zone.js';
import type { ConnectionKind, DecisionCounts, QlogFacts, StatsBy, StatsOptions, StatsResult } from './schema.js';
import { BACK, DELIVERED, IdSet, Table, ipId, keyOfId, keyOfIpId, type Id } from './table.js';
import { resultOf } from './result.js';
import { Conns, KINDS } from './conns.js';

/** One row of the per-day (per-hour, per-key) table. */
export class Bucket {
  readonly d: DecisionCounts = zeroCounts();
  messages = 0;
  recipients = 0;
  hangups = 0;
  evictable = 0;
  greylisted = 0;
  delivered = 0;
  backNotDelivered = 0;
  neverBack = 0;
  constructor(
    readonly label: string,
    readonly start: number | null,
  ) {}
}

const HOUR = 3600;
const DAY = 86400;
/** a connection's decision and its qlog lines are at most this far apart */
const CONN_WINDOW = 3600;
/** the number in KINDS of the connection a decision opens */
const CONN_KIND: Record<DecisionName, number> = Object.fromEntries(
  DECISION_NAMES.map((name) => [name, KINDS.indexOf(name === 'known' || name === 'whitelisted' || name === 'relayclient' || name === 'failOpen' ? name : 'other')]),
) as Record<DecisionName, number>;

export class StatsCollector {
  readonly layout: Layout;
  readonly by: StatsBy;
  readonly zone: Zone;
  readonly top: number;
  private readonly maxKeys: number;
  readonly recent: number;

  // the state below is read by result.ts (resultOf), and written here only
  from = NaN;
  to = NaN;
  events = 0;
  readonly decisions = zeroCounts();
  readonly programs = { jgreylist: 0, greylist: 0, qgreylist: 0 };
  badAddresses = 0;
  readonly keys: Table;
  readonly ips: Table;
  private readonly conns = new Conns();
  readonly evictable = new IdSet();
  readonly nets = new Map<Id, Bucket>();
  readonly buckets = new Map<number, Bucket>();
  noTime: Bucket | null = null;
  readonly clients = { hangups: 0, nullSessionHangups: 0, greetdelayDisconnects: 0, pregreet: 0, evictableEvents: 0 };
  readonly accepted = {
    messages: 0,
    recipients: 0,
    messagesAfter: { known: 0, whitelisted: 0, relayclient: 0, failOpen: 0, other: 0, none: 0 } as Record<ConnectionKind, number>,
    relayOrAuth: 0,
  };
  readonly truncated = { keys: 0, addresses: 0, nets: 0, evictable: 0 };
  // bucket lookup cache: the zone offset is constant within a 15-minute quarter
  private lastQuarter = NaN;
  private lastOffset = 0;
  // the times [lo, hi) known to fall in the row `last` (in its quarter too): most lines
  // find their row with two comparisons
  private lo = Infinity;
  private hi = -Infinity;
  private last: Bucket | null = null;
  // the last key and address looked up, their rows, and the size of the table then
  private lastKid: Id | null = null;
  private lastK = -1;
  private keysAt = -1;
  private lastIid: Id | null = null;
  private lastR = -1;
  private ipsAt = -1;

  constructor(opts: StatsOptions) {
    this.layout = opts.layout ?? 'classc';
    this.by = opts.by ?? 'day';
    this.zone = opts.zone;
    this.top = opts.top ?? 10;
    this.maxKeys = opts.maxKeys ?? 1_000_000;
    this.recent = opts.recent ?? HOUR;
    this.keys = new Table(true, this.maxKeys);
    this.ips = new Table(false, this.maxKeys);
  }

  /** Bucket size in seconds: hours for by=hour, days otherwise (the chart is per day then). */
  private get span(): number {
    return this.by === 'hour' ? HOUR : DAY;
  }

  private localOf(t: number): number {
    const q = Math.floor(t / 900);
    if (q !== this.lastQuarter) {
      this.lastQuarter = q;
      this.lastOffset = this.zone.offsetAt(q * 900);
    }
    return t + this.lastOffset;
  }

  /**
   * The row of a key (keys.rowOf), the last one's again while no row was added since: a
   * connection's lines after its decision name the same key and address.
   */
  private keyRow(kid: Id): number {
    if (kid !== this.lastKid || this.keys.size !== this.keysAt) {
      this.lastKid = kid;
      this.lastK = this.keys.rowOf(kid);
      this.keysAt = this.keys.size;
    }
    return this.lastK;
  }

  /** The row of an address (ips.rowOf), as keyRow. */
  private ipRow(iid: Id): number {
    if (iid !== this.lastIid || this.ips.size !== this.ipsAt) {
      this.lastIid = iid;
      this.lastR = this.ips.rowOf(iid);
      this.ipsAt = this.ips.size;
    }
    return this.lastR;
  }

  /** The time row of `t` (made when first needed). */
  bucketAt(t: number): Bucket {
    return t >= this.lo && t < this.hi ? this.last! : this.findBucket(t);
  }

  private findBucket(t: number): Bucket {
    if (Number.isNaN(t)) return (this.noTime ??= new Bucket('(no time)', null));
    const span = this.span;
    const n = Math.floor(this.localOf(t) / span);
    let b = this.buckets.get(n);
    if (!b) {
      b = this.newBucket(n);
      this.buckets.set(n, b);
    }
    // the times in the same quarter and row, a millisecond inside both (where the sums and
    // quotients above cannot round the other way)
    const q = this.lastQuarter * 900;
    this.lo = Math.max(q, n * span - this.lastOffset) + 0.001;
    this.hi = Math.min(q + 900, (n + 1) * span - this.lastOffset) - 0.001;
    this.last = b;
    return b;
  }

  /** The time row number `n` (days or hours since the epoch, local time). */
  newBucket(n: number): Bucket {
    const civil = formatCivil(n * this.span);
    const label = this.span === DAY ? civil.slice(0, 10) : civil.slice(0, 10) + 'T' + civil.slice(11, 16);
    // the first instant of the bucket in UTC (its local start minus the offset then)
    const startLocal = n * this.span;
    return new Bucket(label, startLocal - this.zone.offsetAt(startLocal));
  }

  private netRow(kid: Id): Bucket | null {
    if (this.by !== 'net') return null;
    let b = this.nets.get(kid);
    if (!b) {
      if (this.nets.size >= this.maxKeys) {
        this.truncated.nets++;
        return null;
      }
      b = new Bucket(keyNetwork(keyOfId(kid, this.layout)), null);
      this.nets.set(kid, b);
    }
    return b;
  }

  /** A line another collector counted (qgrey-spp's RCPTs): its time widens the period read. */
  seen(time: number): void {
    if (Number.isNaN(time)) return;
    if (!(time >= this.from)) this.from = time;
    if (!(time <= this.to)) this.to = time;
  }

  /** One more event, at `time` (NaN: none). */
  private count(time: number): void {
    this.events++;
    this.seen(time);
  }

  /** Feed one event, in log order. `time` is Unix seconds (fractions allowed), NaN if unknown. */
  add(e: LogEvent, time: number): void {
    this.count(time);
    switch (e.kind) {
      case 'decision':
        this.decision(e, time);
        return;
      case 'qlogenvelope':
      case 'qlogreceived':
        this.qlog(e, time);
        return;
      case 'readfailed':
        this.readFailed(e.nullSession, e.ip ? ipId(e.ip) : null, time);
        return;
      case 'greetdelay':
        this.greetdelay(e.what === 'disconnected' || e.what === 'pregreet' ? e.what : 'other', e.ip ? ipId(e.ip) : null, time);
        return;
      case 'tcpserver':
        if (e.what === 'end' && e.pid !== null) this.conns.delete(e.pid);
        return;
      case 'rblsmtpd':
      case 'other':
        return;
    }
  }

  /**
   * Feed the facts of one qlog line (a QlogEvent has them all). The log reader's fast path for
   * accepted lines (acceptedFacts) gives them without the full parse.
   */
  addQlog(e: QlogFacts, time: number): void {
    this.count(time);
    this.qlog(e, time);
  }

  /**
   * addQlog of an accepted (code 250) line from an IPv4 address, given as numbers (the log
   * reader's sink for plain accepted lines): `ip4` the address as an unsigned 32-bit number,
   * `relayOrAuth` for relay=yes or a non-empty authuser. The same counts as addQlog's.
   */
  addAccepted4(time: number, received: boolean, relayOrAuth: boolean, ip4: number, pid: number): void {
    this.count(time);
    // keyId and ipId of an IPv4 address
    this.qlogIds(this.layout === 'byip' ? ip4 | 0 : ip4 >>> 8, ip4 | 0, true, received, relayOrAuth, pid, time);
  }

  /**
   * addQlog of an accepted (code 250) line given its facts (the reader's, recordFacts): the
   * same counts, with no object made. `ip` null: remoteip is not an address.
   */
  addAccepted(time: number, received: boolean, relayOrAuth: boolean, ip: Ip | null, pid: number): void {
    this.addAcceptedId(time, received, relayOrAuth, ip === null ? null : ipId(ip), pid);
  }

  private qlog(e: QlogFacts, time: number): void {
    if (!e.ip) return;
    const iid = ipId(e.ip);
    this.qlogIds(keyOfIpId(iid, this.layout), iid, e.result === 'accepted' && e.code === '250', e.kind === 'qlogreceived', e.relay || e.authuser !== '', e.pid, time);
  }

  private qlogIds(kid: Id, iid: Id, accepted: boolean, received: boolean, relayOrAuth: boolean, pid: number, time: number): void {
    const k = this.keyRow(kid);
    if (k >= 0) this.keys.flags[k]! |= BACK;
    const r = this.ipRow(iid);
    if (r >= 0) this.ips.flags[r]! |= BACK;
    if (!accepted) return;
    const conn = KINDS[this.conns.kindFor(pid, iid, time, CONN_WINDOW)]!;
    const b = this.bucketAt(time);
    const nb = this.netRow(kid);
    if (received) {
      this.accepted.messages++;
      this.accepted.messagesAfter[conn]++;
      b.messages++;
      if (nb) nb.messages++;
    } else {
      this.accepted.recipients++;
      b.recipients++;
      if (nb) nb.recipients++;
    }
    if (relayOrAuth) {
      if (received) this.accepted.relayOrAuth++;
      return;
    }
    if (k >= 0 && Number.isNaN(this.keys.delivered[k])) this.keys.delivered[k] = time;
    if (r >= 0) this.ips.flags[r]! |= DELIVERED;
  }

  /**
   * add() of a qlog line that is not an accepted delivery (the lines stats reads from their
   * bytes), given its address's id (ipId; null: no address): its key and address came back.
   */
  addQlogSeen(time: number, iid: Id | null): void {
    this.count(time);
    if (iid !== null) this.qlogIds(keyOfIpId(iid, this.layout), iid, false, false, false, 0, time);
  }

  /** addAccepted given the address's id (ipId; null: no address). */
  addAcceptedId(time: number, received: boolean, relayOrAuth: boolean, iid: Id | null, pid: number): void {
    this.count(time);
    if (iid !== null) this.qlogIds(keyOfIpId(iid, this.layout), iid, true, received, relayOrAuth, pid, time);
  }

  /** add() of a GREETDELAY line, given what it says and its address's id (null: none). */
  addGreetdelay(time: number, what: 'disconnected' | 'pregreet' | 'other', iid: Id | null): void {
    this.count(time);
    this.greetdelay(what, iid, time);
  }

  /** add() of a `read failed` line, given whether it is a null session and its address's id (null: none). */
  addReadFailed(time: number, nullSession: boolean, iid: Id | null): void {
    this.count(time);
    this.readFailed(nullSession, iid, time);
  }

  private readFailed(nullSession: boolean, iid: Id | null, time: number): void {
    this.clients.hangups++;
    const b = this.bucketAt(time);
    b.hangups++;
    if (nullSession) {
      this.clients.nullSessionHangups++;
      this.evict(iid, b);
    }
  }

  private greetdelay(what: 'disconnected' | 'pregreet' | 'other', iid: Id | null, time: number): void {
    if (what === 'pregreet') this.clients.pregreet++;
    if (what !== 'disconnected') return;
    this.clients.greetdelayDisconnects++;
    const b = this.bucketAt(time);
    b.hangups++;
    this.evict(iid, b);
  }

  private evict(id: Id | null, b: Bucket): void {
    this.clients.evictableEvents++;
    b.evictable++;
    if (id === null) return;
    if (this.evictable.has(id)) return;
    if (this.evictable.size >= this.maxKeys) this.truncated.evictable++;
    else this.evictable.add(id);
  }

  /**
   * add() of a decision line from an IPv4 address with a pid, given as numbers (stats reads
   * the common lines from their bytes): `ip4` the address as an unsigned 32-bit number.
   */
  addDecision4(time: number, program: DecisionEvent['program'], decision: Decision, ip4: number, pid: number): void {
    this.count(time);
    // keyId and ipId of an IPv4 address
    this.decisionIds(decisionName(decision), program, this.layout === 'byip' ? ip4 | 0 : ip4 >>> 8, ip4 | 0, pid, time);
  }

  /** addDecision4 given the address's id (ipId; null: not an address). */
  addDecisionId(time: number, program: DecisionEvent['program'], decision: Decision, iid: Id | null, pid: number): void {
    this.count(time);
    this.decisionIds(decisionName(decision), program, iid === null ? null : keyOfIpId(iid, this.layout), iid, pid, time);
  }

  /** add() of `tcpserver: end PID status N`, given its time and pid. */
  addEnd(time: number, pid: number): void {
    this.count(time);
    this.conns.delete(pid);
  }

  private decision(e: DecisionEvent, time: number): void {
    const iid = e.ip ? ipId(e.ip) : null;
    this.decisionIds(decisionName(e.decision), e.program, iid === null ? null : keyOfIpId(iid, this.layout), iid, e.pid, time);
  }

  private decisionIds(name: DecisionName, program: DecisionEvent['program'], kid: Id | null, iid: Id | null, pid: number | null, time: number): void {
    this.decisions[name]++;
    this.programs[program]++;
    this.bucketAt(time).d[name]++;
    if (kid === null || iid === null) {
      this.badAddresses++;
      return;
    }
    const nb = this.netRow(kid);
    if (nb) nb.d[name]++;
    const grey = name === 'firstTime' || name === 'tooSoon';
    const k = this.keyRow(kid);
    if (k >= 0) {
      this.keys.flags[k]! |= BACK;
      if (grey) this.keys.greys[k]!++;
    } else if (grey && this.keys.add(kid, time) < 0) this.truncated.keys++;
    const r = this.ipRow(iid);
    if (r >= 0) {
      this.ips.flags[r]! |= BACK;
      if (grey) this.ips.greys[r]!++;
    } else if (grey && this.ips.add(iid, time) < 0) this.truncated.addresses++;
    if (pid !== null) {
      this.conns.set(pid, CONN_KIND[name], iid, time);
      if (this.conns.size > 65536) {
        // connections whose `tcpserver: end` line was not in the logs: forget the old ones
        this.conns.forgetBefore(time, CONN_WINDOW);
        if (this.conns.size > 65536) this.conns.clear();
      }
    }
  }

  /** The aggregate of everything fed so far (can be asked more than once). */
  result(): StatsResult {
    return resultOf(this);
  }
}
