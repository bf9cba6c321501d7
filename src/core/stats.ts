// What greylisting did, from the log: a pure aggregation over LogEvents. Feed every event
// with its time (Unix seconds, NaN when the line had none) in log order, then ask for the
// result. No I/O, no clock.
//
// Definitions (the man page repeats them):
// - a "key" is what the greylist stores: the class C (IPv4) or /64 (IPv6) of the address, or
//   the address itself with layout 'byip' (src/core/key.ts);
// - a key is "greylisted" when it got a GREY decision (first time or too soon) in the logs
//   read; its first greylist is the first such decision;
// - a greylisted key "came back" when any later decision or qmail-smtpd qlog line names it;
//   it "delivered" when a later `result=accepted code=250` line (not relay, not AUTH) names it;
//   the delay is from its first greylist to its first accepted line after it;
// - a greylisted sender address "never retried" when no later decision or qlog line names
//   that address;
// - a connection ties a wrapper decision to qmail-smtpd's lines by pid (FORMATS.md §3): the
//   decision's `[pid]` equals the qlog line's `pid=`, the address agrees, and the pair is
//   less than an hour apart (tcpserver's `end PID` line closes the connection).
//
// Memory: one row per greylisted key and one per greylisted address, kept as a Map entry
// (id -> row) plus typed columns (21 bytes a key row, 5 an address row); with the Map's own
// growth and the evictable set, bench/stats.bench.ts measured about 180 bytes per row. Besides: one entry per open connection, per
// evictable address, per time bucket, and with by='net' one small object per key seen. Each
// map stops growing at `maxKeys` entries; what did not
// fit is counted in `truncated` and the result says so.

import { keyOf, keyLabel, type Layout } from './key.js';
import { formatIp, ip6Hex, ip4Octets, type Ip } from './ip.js';
import type { Decision, DecisionEvent, LogEvent, QlogEvent } from './logline.js';
import { formatCivil, type Zone } from './zone.js';

export type StatsBy = 'day' | 'hour' | 'net';

/** What stats needs from a qlog line. */
export type QlogFacts = Pick<QlogEvent, 'kind' | 'result' | 'code' | 'ip' | 'pid' | 'relay' | 'authuser'>;

export interface StatsOptions {
  /** the key layout of the greylist (default class C) */
  layout?: Layout;
  /** the rows of the table (default day) */
  by?: StatsBy;
  /** the zone of day and hour buckets */
  zone: Zone;
  /** entries in each top list (default 10) */
  top?: number;
  /** cap on every per-key and per-address map (default 1,000,000) */
  maxKeys?: number;
  /** a key that never came back and was first greylisted this close to the end of the logs may still come back (default 3600 s) */
  recent?: number;
}

/** Decision counts by kind, in a stable JSON shape. */
export interface DecisionCounts {
  firstTime: number;
  tooSoon: number;
  known: number;
  whitelisted: number;
  relayclient: number;
  blacklisted: number;
  noReverseDns: number;
  tooManyRcpt: number;
  clientClosed: number;
  failOpen: number;
  failClosed: number;
}

export type DecisionName = keyof DecisionCounts;

export const DECISION_NAMES: readonly DecisionName[] = [
  'firstTime',
  'tooSoon',
  'known',
  'whitelisted',
  'relayclient',
  'blacklisted',
  'noReverseDns',
  'tooManyRcpt',
  'clientClosed',
  'failOpen',
  'failClosed',
];

/** The JSON name of a wrapper decision (exhaustive: a new Decision fails to compile here). */
export function decisionName(d: Decision): DecisionName {
  switch (d) {
    case 'GREY first time':
      return 'firstTime';
    case 'GREY too soon':
      return 'tooSoon';
    case 'OK known':
      return 'known';
    case 'OK whitelisted':
      return 'whitelisted';
    case 'OK relayclient':
      return 'relayclient';
    case 'DENY blacklisted':
      return 'blacklisted';
    case 'DENY no reverse DNS':
      return 'noReverseDns';
    case 'HANGUP too many RCPT commands':
      return 'tooManyRcpt';
    case 'HANGUP client closed':
      return 'clientClosed';
    case 'FAIL open':
      return 'failOpen';
    case 'FAIL closed':
      return 'failClosed';
  }
}

/** The decision a message's connection had, for "accepted messages after ..." */
export type ConnectionKind = 'known' | 'whitelisted' | 'relayclient' | 'failOpen' | 'other' | 'none';

export interface Percent {
  count: number;
  /** share of the greylisted keys, 0..100, one decimal */
  pct: number;
}

export interface DelayStats {
  /** keys with a delay */
  count: number;
  /** seconds; null when no key delivered */
  median: number | null;
  p90: number | null;
  max: number | null;
}

export interface Row {
  /** `2026-11-20`, `2026-11-20T13:00`, a network label, or `(no time)` */
  label: string;
  /** first second of the bucket (Unix time), null for network rows and lines without time */
  start: number | null;
  decisions: DecisionCounts;
  /** denied = blacklisted + no reverse DNS */
  denied: number;
  /** accepted messages (qlogreceived) and recipients (qlogenvelope) */
  messages: number;
  recipients: number;
  /** qmail-smtpd `read failed` hang-ups and GREETDELAY disconnects */
  hangups: number;
  evictable: number;
  /** outcome of the keys first greylisted in this row */
  greylisted: number;
  delivered: number;
  backNotDelivered: number;
  neverBack: number;
}

export interface NetworkTop {
  /** class C or IPv6 /64 of the senders, as a CIDR */
  network: string;
  greylists: number;
  addresses: number;
  neverRetried: number;
  delivered: number;
}

export interface SenderTop {
  address: string;
  network: string;
  greylists: number;
  retried: boolean;
  delivered: boolean;
}

export interface KeyOutcome {
  key: string;
  label: string;
  firstGreylist: number;
  greylists: number;
  outcome: 'delivered' | 'back-not-delivered' | 'never-back';
  /** seconds from the first greylist to the first accepted mail */
  delay: number | null;
}

export interface StatsResult {
  layout: Layout;
  by: StatsBy;
  zone: string;
  /** time of the first and last event with a time, or null */
  from: number | null;
  to: number | null;
  events: number;
  /** wrapper decision lines */
  decisions: DecisionCounts & { total: number; denied: number };
  programs: { jgreylist: number; greylist: number; qgreylist: number };
  /** decision lines whose address is not a valid IPv4/IPv6 address */
  badAddresses: number;
  greylisted: {
    keys: number;
    delivered: Percent;
    backNotDelivered: Percent;
    neverBack: Percent;
    /** never came back, first greylisted within `recent` seconds of the end of the logs */
    neverBackRecent: number;
    delay: DelayStats;
    addresses: number;
    addressesNeverRetried: number;
  };
  clients: {
    /** qmail-smtpd `read failed` lines, all wordings */
    hangups: number;
    /** of which the null-session pattern (no HELO, no sender, no recipient): evictable */
    nullSessionHangups: number;
    greetdelayDisconnects: number;
    pregreet: number;
    /** evictable lines (GREETDELAY disconnects + null-session hang-ups) */
    evictableEvents: number;
    /** distinct addresses with an evictable line */
    evictableClients: number;
    /** of which were greylisted too */
    evictableGreylisted: number;
  };
  accepted: {
    messages: number;
    recipients: number;
    /** accepted messages by the wrapper decision of their connection */
    messagesAfter: Record<ConnectionKind, number>;
    /** accepted messages of relay or AUTH clients (not counted as a key's delivery) */
    relayOrAuth: number;
  };
  top: {
    networks: NetworkTop[];
    senders: SenderTop[];
    neverRetried: NetworkTop[];
  };
  /** one row per day (per hour with by='hour'), in time order; `(no time)` last */
  rows: Row[];
  /** with by='net': one row per key, most decisions first; otherwise empty */
  nets: Row[];
  /** what did not fit in the maps (0 when all was followed) */
  truncated: { keys: number; addresses: number; nets: number; evictable: number };
}

// ---------------------------------------------------------------------------------------

type Id = number | string;

const BACK = 1;
const DELIVERED = 2;

/**
 * Rows of numbers per key or address, kept in typed columns: a Map from the id to a row
 * number plus one array per field. About 50-70 bytes a row (the Map entry and 21 bytes of
 * columns), instead of an object per row.
 */
class Table {
  readonly index = new Map<Id, number>();
  /** time of the first greylist (keys only) */
  first: Float64Array;
  /** time of the first accepted mail after it, NaN until then (keys only) */
  delivered: Float64Array;
  greys: Int32Array;
  /** BACK (came back / retried), DELIVERED (addresses) */
  flags: Uint8Array;
  private cap: number;
  constructor(
    private readonly times: boolean,
    private readonly max: number,
  ) {
    this.cap = Math.min(1024, max);
    this.first = new Float64Array(times ? this.cap : 0);
    this.delivered = new Float64Array(times ? this.cap : 0);
    this.greys = new Int32Array(this.cap);
    this.flags = new Uint8Array(this.cap);
  }

  get size(): number {
    return this.index.size;
  }

  /** A new row for `id` (the caller checked it is absent), or -1 when the table is full. */
  add(id: Id, time: number): number {
    const row = this.index.size;
    if (row >= this.max) return -1;
    if (row === this.cap) this.grow();
    this.index.set(id, row);
    this.greys[row] = 1;
    if (this.times) {
      this.first[row] = time;
      this.delivered[row] = NaN;
    }
    return row;
  }

  private grow(): void {
    const cap = Math.min(this.cap * 2, this.max);
    const more = <T extends Float64Array | Int32Array | Uint8Array>(a: T, make: (n: number) => T): T => {
      if (a.length === 0) return a;
      const b = make(cap);
      b.set(a);
      return b;
    };
    this.first = more(this.first, (n) => new Float64Array(n));
    this.delivered = more(this.delivered, (n) => new Float64Array(n));
    this.greys = more(this.greys, (n) => new Int32Array(n));
    this.flags = more(this.flags, (n) => new Uint8Array(n));
    this.cap = cap;
  }
}

interface Conn {
  kind: ConnectionKind;
  ip: Id;
  t: number;
}

class Bucket {
  readonly d: DecisionCounts = zeroDecisions();
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

function zeroDecisions(): DecisionCounts {
  return {
    firstTime: 0,
    tooSoon: 0,
    known: 0,
    whitelisted: 0,
    relayclient: 0,
    blacklisted: 0,
    noReverseDns: 0,
    tooManyRcpt: 0,
    clientClosed: 0,
    failOpen: 0,
    failClosed: 0,
  };
}

/** An address as a map id: the number for IPv4 (as a signed 32-bit integer, a small integer to V8), 32 hex digits for IPv6. */
function ipId(ip: Ip): Id {
  return ip.family === 4 ? ip.value | 0 : ip6Hex(ip);
}

/** The key of an address as a map id: class C number / address number, or hex of the /64 / address. */
function keyId(ip: Ip, layout: Layout): Id {
  if (ip.family === 4) return layout === 'byip' ? ip.value | 0 : ip.value >>> 8;
  const h = ip6Hex(ip);
  return layout === 'byip' ? h : h.slice(0, 16);
}

function ipOfId(id: Id): Ip {
  if (typeof id === 'number') return { family: 4, value: id >>> 0, mapped: false };
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push(i * 4 < id.length ? parseInt(id.slice(i * 4, i * 4 + 4), 16) : 0);
  return { family: 6, groups };
}

/** The tree key of a key id. */
function keyOfId(id: Id, layout: Layout): string {
  if (typeof id === 'number') return keyOf({ family: 4, value: layout === 'byip' ? id >>> 0 : id * 256, mapped: false }, layout);
  return keyOf(ipOfId(id) as Ip, layout);
}

/** `192.0.2.0/24` or `2001:db8:0:1::/64` for the network of an address id. */
function netOfIpId(id: Id): string {
  if (typeof id === 'number') {
    const [a, b, c] = ip4Octets({ family: 4, value: id >>> 0, mapped: false });
    return `${a}.${b}.${c}.0/24`;
  }
  return formatIp(ipOfId(id.slice(0, 16))) + '/64';
}

/** Address and network ids in address order: IPv4 (unsigned) before IPv6. */
function byId(a: Id, b: Id): number {
  if (typeof a === 'number') return typeof b === 'number' ? (a >>> 0) - (b >>> 0) : -1;
  if (typeof b === 'number') return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The first `n` items in `cmp` order, without sorting them all. */
export function topN<T>(items: Iterable<T>, n: number, cmp: (a: T, b: T) => number): T[] {
  const out: T[] = [];
  if (n <= 0) return out;
  for (const x of items) {
    if (out.length === n && cmp(x, out[n - 1] as T) >= 0) continue;
    let i = out.length === n ? n - 1 : out.length;
    while (i > 0 && cmp(x, out[i - 1] as T) < 0) {
      out[i] = out[i - 1] as T;
      i--;
    }
    out[i] = x;
  }
  return out;
}

function pct(n: number, of: number): number {
  return of === 0 ? 0 : Math.round((1000 * n) / of) / 10;
}

/** Nearest-rank percentile of sorted values (p in 0..100). */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1] as number;
}

const HOUR = 3600;
const DAY = 86400;
/** a connection's decision and its qlog lines are at most this far apart */
const CONN_WINDOW = 3600;

export class StatsCollector {
  readonly layout: Layout;
  readonly by: StatsBy;
  private readonly zone: Zone;
  private readonly top: number;
  private readonly maxKeys: number;
  private readonly recent: number;

  private from = NaN;
  private to = NaN;
  private events = 0;
  private readonly decisions = zeroDecisions();
  private readonly programs = { jgreylist: 0, greylist: 0, qgreylist: 0 };
  private badAddresses = 0;
  private readonly keys: Table;
  private readonly ips: Table;
  private readonly conns = new Map<number, Conn>();
  private readonly evictable = new Set<Id>();
  private readonly nets = new Map<Id, Bucket>();
  private readonly buckets = new Map<number, Bucket>();
  private noTime: Bucket | null = null;
  private readonly clients = { hangups: 0, nullSessionHangups: 0, greetdelayDisconnects: 0, pregreet: 0, evictableEvents: 0 };
  private readonly accepted = {
    messages: 0,
    recipients: 0,
    messagesAfter: { known: 0, whitelisted: 0, relayclient: 0, failOpen: 0, other: 0, none: 0 } as Record<ConnectionKind, number>,
    relayOrAuth: 0,
  };
  private readonly truncated = { keys: 0, addresses: 0, nets: 0, evictable: 0 };
  // bucket lookup cache: the zone offset is constant within a 15-minute quarter
  private lastQuarter = NaN;
  private lastOffset = 0;

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

  private bucketAt(t: number): Bucket {
    if (Number.isNaN(t)) return (this.noTime ??= new Bucket('(no time)', null));
    const n = Math.floor(this.localOf(t) / this.span);
    let b = this.buckets.get(n);
    if (!b) {
      b = this.newBucket(n);
      this.buckets.set(n, b);
    }
    return b;
  }

  private newBucket(n: number): Bucket {
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
      b = new Bucket(keyLabel(keyOfId(kid, this.layout)), null);
      this.nets.set(kid, b);
    }
    return b;
  }

  /** Feed one event, in log order. `time` is Unix seconds (fractions allowed), NaN if unknown. */
  add(e: LogEvent, time: number): void {
    this.events++;
    if (!Number.isNaN(time)) {
      if (!(time >= this.from)) this.from = time;
      if (!(time <= this.to)) this.to = time;
    }
    switch (e.kind) {
      case 'decision':
        this.decision(e, time);
        return;
      case 'qlogenvelope':
      case 'qlogreceived':
        this.qlog(e, time);
        return;
      case 'readfailed': {
        this.clients.hangups++;
        const b = this.bucketAt(time);
        b.hangups++;
        if (e.nullSession) {
          this.clients.nullSessionHangups++;
          this.evict(e.ip, b);
        }
        return;
      }
      case 'greetdelay': {
        if (e.what === 'pregreet') this.clients.pregreet++;
        if (e.what !== 'disconnected') return;
        this.clients.greetdelayDisconnects++;
        const b = this.bucketAt(time);
        b.hangups++;
        this.evict(e.ip, b);
        return;
      }
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
    this.events++;
    if (!Number.isNaN(time)) {
      if (!(time >= this.from)) this.from = time;
      if (!(time <= this.to)) this.to = time;
    }
    this.qlog(e, time);
  }

  private qlog(e: QlogFacts, time: number): void {
    if (!e.ip) return;
    const kid = keyId(e.ip, this.layout);
    const iid = ipId(e.ip);
    const k = this.keys.index.get(kid);
    if (k !== undefined) this.keys.flags[k]! |= BACK;
    const r = this.ips.index.get(iid);
    if (r !== undefined) this.ips.flags[r]! |= BACK;
    if (e.result !== 'accepted' || e.code !== '250') return;
    const c = this.conns.get(e.pid);
    const conn = c && c.ip === iid && time - c.t < CONN_WINDOW ? c.kind : 'none';
    const b = this.bucketAt(time);
    const nb = this.netRow(kid);
    if (e.kind === 'qlogreceived') {
      this.accepted.messages++;
      this.accepted.messagesAfter[conn]++;
      b.messages++;
      if (nb) nb.messages++;
    } else {
      this.accepted.recipients++;
      b.recipients++;
      if (nb) nb.recipients++;
    }
    if (e.relay || e.authuser !== '') {
      if (e.kind === 'qlogreceived') this.accepted.relayOrAuth++;
      return;
    }
    if (k !== undefined && Number.isNaN(this.keys.delivered[k])) this.keys.delivered[k] = time;
    if (r !== undefined) this.ips.flags[r]! |= DELIVERED;
  }

  private evict(ip: Ip | null, b: Bucket): void {
    this.clients.evictableEvents++;
    b.evictable++;
    if (!ip) return;
    const id = ipId(ip);
    if (this.evictable.has(id)) return;
    if (this.evictable.size >= this.maxKeys) this.truncated.evictable++;
    else this.evictable.add(id);
  }

  private decision(e: DecisionEvent, time: number): void {
    const name = decisionName(e.decision);
    this.decisions[name]++;
    this.programs[e.program]++;
    this.bucketAt(time).d[name]++;
    if (!e.ip) {
      this.badAddresses++;
      return;
    }
    const kid = keyId(e.ip, this.layout);
    const iid = ipId(e.ip);
    const nb = this.netRow(kid);
    if (nb) nb.d[name]++;
    const grey = name === 'firstTime' || name === 'tooSoon';
    const k = this.keys.index.get(kid);
    if (k !== undefined) {
      this.keys.flags[k]! |= BACK;
      if (grey) this.keys.greys[k]!++;
    } else if (grey && this.keys.add(kid, time) < 0) this.truncated.keys++;
    const r = this.ips.index.get(iid);
    if (r !== undefined) {
      this.ips.flags[r]! |= BACK;
      if (grey) this.ips.greys[r]!++;
    } else if (grey && this.ips.add(iid, time) < 0) this.truncated.addresses++;
    if (e.pid !== null) {
      const kind: ConnectionKind =
        name === 'known' || name === 'whitelisted' || name === 'relayclient' || name === 'failOpen' ? name : 'other';
      this.conns.set(e.pid, { kind, ip: iid, t: time });
      if (this.conns.size > 65536) {
        // connections whose `tcpserver: end` line was not in the logs: forget the old ones
        for (const [pid, c] of this.conns) if (!(time - c.t < CONN_WINDOW)) this.conns.delete(pid);
        if (this.conns.size > 65536) this.conns.clear();
      }
    }
  }

  /** The aggregate of everything fed so far (can be asked more than once). */
  result(): StatsResult {
    const rowsOf = (m: Iterable<Bucket>): Row[] =>
      [...m].map((b) => ({
        label: b.label,
        start: b.start,
        decisions: { ...b.d },
        denied: b.d.blacklisted + b.d.noReverseDns,
        messages: b.messages,
        recipients: b.recipients,
        hangups: b.hangups,
        evictable: b.evictable,
        greylisted: b.greylisted,
        delivered: b.delivered,
        backNotDelivered: b.backNotDelivered,
        neverBack: b.neverBack,
      }));
    // outcome of every greylisted key, attributed to the row of its first greylist
    for (const b of this.buckets.values()) b.greylisted = b.delivered = b.backNotDelivered = b.neverBack = 0;
    if (this.noTime) this.noTime.greylisted = this.noTime.delivered = this.noTime.backNotDelivered = this.noTime.neverBack = 0;
    for (const b of this.nets.values()) b.greylisted = b.delivered = b.backNotDelivered = b.neverBack = 0;
    let delivered = 0;
    let backOnly = 0;
    let never = 0;
    let neverRecent = 0;
    const delays: number[] = [];
    const K = this.keys;
    for (const [kid, k] of K.index) {
      const first = K.first[k] as number;
      const rows = [this.bucketAt(first)];
      const nb = this.by === 'net' ? this.nets.get(kid) : undefined;
      if (nb) rows.push(nb);
      for (const b of rows) b.greylisted++;
      const got = K.delivered[k] as number;
      if (!Number.isNaN(got)) {
        delivered++;
        if (!Number.isNaN(first)) delays.push(got - first);
        for (const b of rows) b.delivered++;
      } else if (K.flags[k]! & BACK) {
        backOnly++;
        for (const b of rows) b.backNotDelivered++;
      } else {
        never++;
        if (first > this.to - this.recent) neverRecent++;
        for (const b of rows) b.neverBack++;
      }
    }
    delays.sort((a, b) => a - b);
    const round = (x: number | null) => (x === null ? null : Math.round(x * 1000) / 1000);
    const nkeys = this.keys.size;

    // networks (class C / IPv6 /64) of the greylisted addresses; only the top entries get labels
    const groups = new Map<Id, { id: Id; greylists: number; addresses: number; neverRetried: number; delivered: number }>();
    let neverRetried = 0;
    const I = this.ips;
    for (const [iid, r] of I.index) {
      const nid = typeof iid === 'number' ? iid >>> 8 : iid.slice(0, 16);
      let n = groups.get(nid);
      if (!n) groups.set(nid, (n = { id: nid, greylists: 0, addresses: 0, neverRetried: 0, delivered: 0 }));
      n.greylists += I.greys[r]!;
      n.addresses++;
      if (!(I.flags[r]! & BACK)) {
        n.neverRetried++;
        neverRetried++;
      }
      if (I.flags[r]! & DELIVERED) n.delivered++;
    }
    const netLabel = (nid: Id) => netOfIpId(typeof nid === 'number' ? nid * 256 : nid);
    const asTop = (n: { id: Id; greylists: number; addresses: number; neverRetried: number; delivered: number }): NetworkTop => ({
      network: netLabel(n.id),
      greylists: n.greylists,
      addresses: n.addresses,
      neverRetried: n.neverRetried,
      delivered: n.delivered,
    });
    const topNets = topN(groups.values(), this.top, (a, b) => b.greylists - a.greylists || b.addresses - a.addresses || byId(a.id, b.id)).map(asTop);
    const topNever = topN(
      [...groups.values()].filter((n) => n.neverRetried > 0),
      this.top,
      (a, b) => b.neverRetried - a.neverRetried || b.greylists - a.greylists || byId(a.id, b.id),
    ).map(asTop);
    const senders = topN(I.index.entries(), this.top, (a, b) => I.greys[b[1]]! - I.greys[a[1]]! || byId(a[0], b[0])).map(
      ([iid, r]): SenderTop => ({
        address: formatIp(ipOfId(iid)),
        network: netOfIpId(iid),
        greylists: I.greys[r]!,
        retried: (I.flags[r]! & BACK) !== 0,
        delivered: (I.flags[r]! & DELIVERED) !== 0,
      }),
    );

    let evictableGreylisted = 0;
    for (const id of this.evictable) if (I.index.has(id)) evictableGreylisted++;

    const total = (d: DecisionCounts) => DECISION_NAMES.reduce((s, n) => s + d[n], 0);
    // every day (hour) from the first to the last, the quiet ones too
    const ns = [...this.buckets.keys()].sort((a, b) => a - b);
    const timeRows: Bucket[] = [];
    if (ns.length) {
      const lo = ns[0] as number;
      const hi = ns[ns.length - 1] as number;
      if (hi - lo <= 100_000) for (let n = lo; n <= hi; n++) timeRows.push(this.buckets.get(n) ?? this.newBucket(n));
      else for (const n of ns) timeRows.push(this.buckets.get(n) as Bucket);
    }
    if (this.noTime) timeRows.push(this.noTime);
    const nets =
      this.by === 'net'
        ? rowsOf([...this.nets.values()].sort((a, b) => total(b.d) - total(a.d) || b.greylisted - a.greylisted || (a.label < b.label ? -1 : a.label > b.label ? 1 : 0)))
        : [];
    return {
      layout: this.layout,
      by: this.by,
      zone: this.zone.name,
      from: Number.isNaN(this.from) ? null : round(this.from),
      to: Number.isNaN(this.to) ? null : round(this.to),
      events: this.events,
      decisions: { ...this.decisions, total: total(this.decisions), denied: this.decisions.blacklisted + this.decisions.noReverseDns },
      programs: { ...this.programs },
      badAddresses: this.badAddresses,
      greylisted: {
        keys: nkeys,
        delivered: { count: delivered, pct: pct(delivered, nkeys) },
        backNotDelivered: { count: backOnly, pct: pct(backOnly, nkeys) },
        neverBack: { count: never, pct: pct(never, nkeys) },
        neverBackRecent: neverRecent,
        delay: {
          count: delays.length,
          median: round(percentile(delays, 50)),
          p90: round(percentile(delays, 90)),
          max: round(delays.length ? (delays[delays.length - 1] as number) : null),
        },
        addresses: this.ips.size,
        addressesNeverRetried: neverRetried,
      },
      clients: { ...this.clients, evictableClients: this.evictable.size, evictableGreylisted },
      accepted: { ...this.accepted, messagesAfter: { ...this.accepted.messagesAfter } },
      top: {
        networks: topNets,
        senders,
        neverRetried: topNever,
      },
      rows: rowsOf(timeRows),
      nets,
      truncated: { ...this.truncated },
    };
  }

  /** The outcome of each greylisted key (for tests and --json consumers that want detail). */
  keyOutcomes(): KeyOutcome[] {
    const out: KeyOutcome[] = [];
    const K = this.keys;
    for (const [kid, k] of K.index) {
      const key = keyOfId(kid, this.layout);
      const first = K.first[k] as number;
      const got = K.delivered[k] as number;
      const d = !Number.isNaN(got);
      out.push({
        key,
        label: keyLabel(key),
        firstGreylist: first,
        greylists: K.greys[k]!,
        outcome: d ? 'delivered' : K.flags[k]! & BACK ? 'back-not-delivered' : 'never-back',
        delay: d && !Number.isNaN(first) ? got - first : null,
      });
    }
    return out;
  }
}
