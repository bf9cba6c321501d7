// The report of `qgrey stats` from what the collector counted: outcomes per greylisted key,
// delays, networks and senders, the time rows. Pure.
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

import { formatIp } from '../ip.js';
import { DECISION_NAMES, columnCount, type DecisionCounts } from '../decision.js';
import type { Bucket, StatsCollector } from './collector.js';
import type { NetworkTop, Row, SenderTop, StatsResult } from './schema.js';
import { BACK, DELIVERED, IdIndex, byId, ipOfId, netOfIpId, type Id } from './table.js';

/** Put `x` in its place among `out`, the first `n` in `cmp` order so far (it may fall off the end). */
function place<T>(out: T[], x: T, n: number, cmp: (a: T, b: T) => number): void {
  if (out.length === n && cmp(x, out[n - 1] as T) >= 0) return;
  let i = out.length === n ? n - 1 : out.length;
  while (i > 0 && cmp(x, out[i - 1] as T) < 0) {
    out[i] = out[i - 1] as T;
    i--;
  }
  out[i] = x;
}

/** The first `n` items in `cmp` order, without sorting them all. */
export function topN<T>(items: Iterable<T>, n: number, cmp: (a: T, b: T) => number): T[] {
  const out: T[] = [];
  if (n <= 0) return out;
  for (const x of items) place(out, x, n, cmp);
  return out;
}

/** topN of the row numbers 0 to `rows` - 1 (those `keep` takes), with nothing made per row. */
function topRows(rows: number, n: number, cmp: (a: number, b: number) => number, keep?: (row: number) => boolean): number[] {
  const out: number[] = [];
  if (n <= 0) return out;
  for (let r = 0; r < rows; r++) if (keep === undefined || keep(r)) place(out, r, n, cmp);
  return out;
}

function pct(n: number, of: number): number {
  return of === 0 ? 0 : Math.round((1000 * n) / of) / 10;
}

/** Nearest-rank percentile of sorted values (p in 0..100). */
export function percentile(sorted: ArrayLike<number>, p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1] as number;
}

export function resultOf(c: StatsCollector): StatsResult {
  const rowsOf = (m: Iterable<Bucket>): Row[] =>
    [...m].map((b) => ({
      label: b.label,
      start: b.start,
      decisions: { ...b.d },
      denied: columnCount(b.d, 'denied'),
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
  for (const b of c.buckets.values()) b.greylisted = b.delivered = b.backNotDelivered = b.neverBack = 0;
  if (c.noTime) c.noTime.greylisted = c.noTime.delivered = c.noTime.backNotDelivered = c.noTime.neverBack = 0;
  for (const b of c.nets.values()) b.greylisted = b.delivered = b.backNotDelivered = b.neverBack = 0;
  let delivered = 0;
  let backOnly = 0;
  let never = 0;
  let neverRecent = 0;
  // the delays, of at most every key: in a typed array, sorted as numbers without a comparison function
  const delays = new Float64Array(c.keys.size);
  let nd = 0;
  const K = c.keys;
  const byNet = c.by === 'net';
  K.forEach((kid, k) => {
    const first = K.first[k]!;
    const b = c.bucketAt(first);
    const nb = byNet ? c.nets.get(kid) : undefined;
    b.greylisted++;
    if (nb) nb.greylisted++;
    const got = K.delivered[k]!;
    if (!Number.isNaN(got)) {
      delivered++;
      if (!Number.isNaN(first)) delays[nd++] = got - first;
      b.delivered++;
      if (nb) nb.delivered++;
    } else if (K.flags[k]! & BACK) {
      backOnly++;
      b.backNotDelivered++;
      if (nb) nb.backNotDelivered++;
    } else {
      never++;
      if (first > c.to - c.recent) neverRecent++;
      b.neverBack++;
      if (nb) nb.neverBack++;
    }
  });
  const sorted = delays.subarray(0, nd).sort();
  const round = (x: number | null) => (x === null ? null : Math.round(x * 1000) / 1000);
  const nkeys = c.keys.size;

  // networks (class C / IPv6 /64) of the greylisted addresses, as rows of typed columns
  // (no object per network); only the top entries get labels
  const I = c.ips;
  const G = new IdIndex(I.size);
  const gGreylists = new Int32Array(I.size);
  const gAddresses = new Int32Array(I.size);
  const gNever = new Int32Array(I.size);
  const gDelivered = new Int32Array(I.size);
  let neverRetried = 0;
  I.forEach((iid, r) => {
    const nid = typeof iid === 'number' ? iid >>> 8 : iid.slice(0, 16);
    let n = G.rowOf(nid);
    if (n < 0) n = G.add(nid);
    gGreylists[n]! += I.greys[r]!;
    gAddresses[n]!++;
    if (!(I.flags[r]! & BACK)) {
      gNever[n]!++;
      neverRetried++;
    }
    if (I.flags[r]! & DELIVERED) gDelivered[n]!++;
  });
  const netLabel = (nid: Id) => netOfIpId(typeof nid === 'number' ? nid * 256 : nid);
  const asTop = (n: number): NetworkTop => ({
    network: netLabel(G.idOf(n)),
    greylists: gGreylists[n]!,
    addresses: gAddresses[n]!,
    neverRetried: gNever[n]!,
    delivered: gDelivered[n]!,
  });
  const topNets = topRows(G.size, c.top, (a, b) => gGreylists[b]! - gGreylists[a]! || gAddresses[b]! - gAddresses[a]! || byId(G.idOf(a), G.idOf(b))).map(asTop);
  const topNever = topRows(
    G.size,
    c.top,
    (a, b) => gNever[b]! - gNever[a]! || gGreylists[b]! - gGreylists[a]! || byId(G.idOf(a), G.idOf(b)),
    (n) => gNever[n]! > 0,
  ).map(asTop);
  const senders = topRows(I.size, c.top, (a, b) => I.greys[b]! - I.greys[a]! || byId(I.index.idOf(a), I.index.idOf(b))).map((r): SenderTop => {
    const iid = I.index.idOf(r);
    return {
      address: formatIp(ipOfId(iid)),
      network: netOfIpId(iid),
      greylists: I.greys[r]!,
      retried: (I.flags[r]! & BACK) !== 0,
      delivered: (I.flags[r]! & DELIVERED) !== 0,
    };
  });

  let evictableGreylisted = 0;
  c.evictable.forEach((id) => {
    if (I.index.has(id)) evictableGreylisted++;
  });

  const total = (d: DecisionCounts) => DECISION_NAMES.reduce((s, n) => s + d[n], 0);
  // every day (hour) from the first to the last, the quiet ones too
  const ns = [...c.buckets.keys()].sort((a, b) => a - b);
  const timeRows: Bucket[] = [];
  if (ns.length) {
    const lo = ns[0] as number;
    const hi = ns[ns.length - 1] as number;
    if (hi - lo <= 100_000) for (let n = lo; n <= hi; n++) timeRows.push(c.buckets.get(n) ?? c.newBucket(n));
    else for (const n of ns) timeRows.push(c.buckets.get(n) as Bucket);
  }
  if (c.noTime) timeRows.push(c.noTime);
  const nets =
    c.by === 'net'
      ? rowsOf([...c.nets.values()].sort((a, b) => total(b.d) - total(a.d) || b.greylisted - a.greylisted || (a.label < b.label ? -1 : a.label > b.label ? 1 : 0)))
      : [];
  return {
    layout: c.layout,
    by: c.by,
    zone: c.zone.name,
    from: Number.isNaN(c.from) ? null : round(c.from),
    to: Number.isNaN(c.to) ? null : round(c.to),
    events: c.events,
    decisions: { ...c.decisions, total: total(c.decisions), denied: columnCount(c.decisions, 'denied') },
    programs: { ...c.programs },
    badAddresses: c.badAddresses,
    greylisted: {
      keys: nkeys,
      delivered: { count: delivered, pct: pct(delivered, nkeys) },
      backNotDelivered: { count: backOnly, pct: pct(backOnly, nkeys) },
      neverBack: { count: never, pct: pct(never, nkeys) },
      neverBackRecent: neverRecent,
      delay: {
        count: sorted.length,
        median: round(percentile(sorted, 50)),
        p90: round(percentile(sorted, 90)),
        max: round(sorted.length ? sorted[sorted.length - 1]! : null),
      },
      addresses: c.ips.size,
      addressesNeverRetried: neverRetried,
    },
    clients: { ...c.clients, evictableClients: c.evictable.size, evictableGreylisted },
    accepted: { ...c.accepted, messagesAfter: { ...c.accepted.messagesAfter } },
    top: {
      networks: topNets,
      senders,
      neverRetried: topNever,
    },
    rows: rowsOf(timeRows),
    nets,
    truncated: { ...c.truncated },
  };
}
