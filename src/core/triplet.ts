// Triplet greylisting at RCPT (qgrey-spp(8)): the key of a (client, sender, recipient)
// triplet, the timers of the MySQL plugin's control/greylisting, and the decision. Pure: the
// clock, the environment and the control file's text are parameters.
//
// The key, as postgrey normalises it, so that one sender retrying makes one triplet:
//
//   client     the /24 (IPv4) or /64 (IPv6) network, or the address itself when asked (by IP);
//              ::ffff:a.b.c.d is IPv4
//   sender     lower case, <> taken off; BATV `prvs=TAG=local@domain` (and the older
//              `prvs=local/TAG@domain`) becomes `local@domain`; `+extension` dropped; every run
//              of digits in the local part becomes one `#`, so VERP senders
//              (`bounce-12345-678@list`) make one key; the null sender stays empty
//   recipient  lower case, <> taken off
//
// Stored triplets are named by tripletId(), the SHA-256 of the key text in hex: a file name or
// a Redis key is never built from an address.
//
// The timers (the MySQL plugin's, read the same way: `name=value` lines, `#` and `;` start a
// comment line, numbers as C's atoi; GLBLOCKEXPIRE, GLRECORDEXPIRE and GLRECORDEXPIREGOOD in the
// environment win):
//
//   block_expire        minutes a new triplet is deferred (the delay)
//   record_expire       minutes a deferred triplet waits for its retry (the window); retried
//                       later, it starts again as a new triplet
//   record_expire_good  days a passed triplet stays passed, counted again from each pass
//
// Defaults: the values the first seed guide writes into control/greylisting (2, 2000, 36).
//
// No npm imports: the per-RCPT path.

import type { Env } from './config.js';
import { createHash } from 'node:crypto';
import { formatIp, networkOf, type Ip } from './ip.js';
import { atoi } from './atoi.js';

export interface Timers {
  /** seconds a new triplet is deferred */
  readonly block: number;
  /** seconds a deferred triplet may take to retry */
  readonly window: number;
  /** seconds a passed triplet stays passed after its last pass */
  readonly good: number;
}

/** The guide's control/greylisting: block_expire=2, record_expire=2000, record_expire_good=36. */
export const DEFAULT_TIMERS: Timers = { block: 2 * 60, window: 2000 * 60, good: 36 * 86400 };

/** A minute or day count as the plugin would use it (unsigned int): negative counts become 0. */
const count = (n: number) => (n < 0 ? 0 : n);

/**
 * The timers from control/greylisting's text (null: no such file) and the environment.
 * Unknown lines (mysql_default_file=, loglevel=, explicit=) are ignored, as the plugin
 * ignores what it does not know.
 */
export function readTimers(text: string | null, env: Env = {}): Timers {
  let block = DEFAULT_TIMERS.block / 60;
  let window = DEFAULT_TIMERS.window / 60;
  let good = DEFAULT_TIMERS.good / 86400;
  for (const raw of text === null ? [] : text.split('\n')) {
    if (raw.startsWith('#') || raw.startsWith(';')) continue;
    const line = raw.replace(/[\r\n].*$/, '');
    // the plugin matches the prefixes in this order (record_expire= before record_expire_good=)
    if (line.startsWith('block_expire=')) block = atoi(line.slice(13));
    else if (line.startsWith('record_expire=')) window = atoi(line.slice(14));
    else if (line.startsWith('record_expire_good=')) good = atoi(line.slice(19));
  }
  if (env.GLBLOCKEXPIRE !== undefined) block = atoi(env.GLBLOCKEXPIRE);
  if (env.GLRECORDEXPIRE !== undefined) window = atoi(env.GLRECORDEXPIRE);
  if (env.GLRECORDEXPIREGOOD !== undefined) good = atoi(env.GLRECORDEXPIREGOOD);
  return { block: count(block) * 60, window: count(window) * 60, good: count(good) * 86400 };
}

/** An address as SMTP gave it: `<a@b>` or `a@b`, blanks around it dropped. */
function bare(addr: string): string {
  let a = addr.trim();
  if (a.startsWith('<') && a.endsWith('>')) a = a.slice(1, -1);
  return a;
}

/** The sender as a triplet key holds it (see the top of this file). */
export function normaliseSender(addr: string): string {
  const a = plainAddress(addr);
  const at = a.lastIndexOf('@');
  return (at === -1 ? a : a.slice(0, at)).replace(/[0-9]+/g, '#') + (at === -1 ? '' : a.slice(at));
}

/** An address lower case, <> taken off, BATV tags and `+extension` dropped: the sender's key before its digit runs collapse. */
export function plainAddress(addr: string): string {
  const a = bare(addr).toLowerCase();
  const at = a.lastIndexOf('@');
  let local = at === -1 ? a : a.slice(0, at);
  const domain = at === -1 ? '' : a.slice(at);
  // BATV (draft-levine-smtp-batv): prvs=TAG=local, and the older prvs=local/TAG
  const batv = /^prvs=[^=]*=(.+)$/.exec(local);
  if (batv) local = batv[1]!;
  else {
    const old = /^prvs=([^/]+)\/[^/]*$/.exec(local);
    if (old) local = old[1]!;
  }
  const plus = local.indexOf('+');
  if (plus > 0) local = local.slice(0, plus);
  return local + domain;
}

/** The recipient as a triplet key holds it. */
export function normaliseRecipient(addr: string): string {
  return bare(addr).toLowerCase();
}

/** The client part of the key: `192.0.2.0/24`, `2001:db8:1:2::/64`, or the address (by IP). */
export function clientNet(ip: Ip, byIp: boolean): string {
  if (byIp) return formatIp(ip);
  const prefix = ip.family === 4 ? 24 : 64;
  return `${formatIp(networkOf(ip, prefix))}/${prefix}`;
}

export interface TripletKey {
  readonly net: string;
  readonly from: string;
  readonly to: string;
}

export function tripletKey(ip: Ip, from: string, to: string, byIp: boolean): TripletKey {
  return { net: clientNet(ip, byIp), from: normaliseSender(from), to: normaliseRecipient(to) };
}

/** The stored name of a triplet: 64 lower-case hex digits. */
export function tripletId(k: TripletKey): string {
  return createHash('sha256').update(`${k.net}\0${k.from}\0${k.to}`, 'utf8').digest('hex');
}

export const TRIPLET_ID = /^[0-9a-f]{64}$/;

/** A triplet as stored. Times in seconds since the epoch. */
export interface Triplet extends TripletKey {
  /** first seen (this record's start: a retry after the window starts a new one) */
  readonly first: number;
  /** last seen */
  readonly last: number;
  /** deferred until then */
  readonly blockUntil: number;
  /** forgotten after then (the window while deferred, the lifetime once passed) */
  readonly expires: number;
  /** RCPTs passed */
  readonly passed: number;
  /** RCPTs deferred */
  readonly blocked: number;
  /** a sender-pool triplet (NET `spf:DOMAIN`): the client network of the RCPT that started it */
  readonly origin?: string;
  /** a sender-pool triplet: RCPTs passed from another client network than `origin` (pool matches) */
  readonly moved?: number;
}

/** The NET of a sender-pool triplet (qgrey-spp(8) SENDER POOLS): `spf:DOMAIN`. */
export const POOL_PREFIX = 'spf:';

export function isPoolNet(net: string): boolean {
  return net.startsWith(POOL_PREFIX);
}

export type TripletEvent = 'new' | 'too soon' | 'passed' | 'known';

export interface TripletDecision {
  readonly pass: boolean;
  readonly event: TripletEvent;
  /** what to store */
  readonly next: Triplet;
}

/**
 * The MySQL plugin's rule. No live record (none, or past its expiry): a new one, deferred for
 * `block`, kept for `window`. Within the delay: deferred again. After it: passed, kept for `good`
 * from now (each pass extends it). `first pass` is 'passed', later ones 'known'.
 *
 * `client`: the client's own network (clientNet) when the key is a sender pool's; the record
 * keeps where it started (origin) and counts the passes from elsewhere in the pool (moved).
 */
export function decideTriplet(stored: Triplet | null, key: TripletKey, now: number, t: Timers, client?: string): TripletDecision {
  const pool = client !== undefined && isPoolNet(key.net);
  if (stored === null || now >= stored.expires) {
    const next: Triplet = { ...key, first: now, last: now, blockUntil: now + t.block, expires: now + t.window, passed: 0, blocked: 1, ...(pool ? { origin: client, moved: 0 } : {}) };
    // a zero delay passes at once, as the plugin's `block_expires < now` does a second later
    if (t.block === 0) return { pass: true, event: 'passed', next: { ...next, passed: 1, blocked: 0, expires: now + t.good } };
    return { pass: false, event: 'new', next };
  }
  if (now < stored.blockUntil) return { pass: false, event: 'too soon', next: { ...stored, ...key, last: now, blocked: stored.blocked + 1 } };
  const moved = pool ? { origin: stored.origin ?? client, moved: (stored.moved ?? 0) + (stored.origin !== undefined && stored.origin !== client ? 1 : 0) } : {};
  return {
    pass: true,
    event: stored.passed === 0 ? 'passed' : 'known',
    next: { ...stored, ...key, last: now, passed: stored.passed + 1, expires: now + t.good, ...moved },
  };
}

// ---- the stored form (tree files; Redis values): one line of text ----------------------------
//
//   qgrey-triplet1 FIRST LAST BLOCKUNTIL EXPIRES PASSED BLOCKED NET FROM TO [ORIGIN MOVED]
//
// ORIGIN and MOVED for a sender-pool triplet only (NET spf:DOMAIN): the network the record
// started from and the passes from other networks of the pool.
//
// times in decimal seconds, counts in decimal; NET, FROM and TO with every byte outside
// printable ASCII, and `%` and the space, written %HH (UTF-8), FROM `-` for the null sender.

const MAGIC = 'qgrey-triplet1';

function enc(s: string): string {
  if (s === '') return '-';
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) out += b > 0x20 && b < 0x7f && b !== 0x25 && !(out === '' && b === 0x2d && s.length === 1) ? String.fromCharCode(b) : '%' + b.toString(16).toUpperCase().padStart(2, '0');
  return out;
}

function dec(s: string): string | null {
  if (s === '-') return '';
  if (!/^(?:[\x21-\x24\x26-\x7e]|%[0-9A-Fa-f]{2})+$/.test(s)) return null;
  return Buffer.from(s.replace(/%([0-9A-Fa-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1').toString('utf8');
}

export function formatTriplet(t: Triplet): string {
  const pool = t.origin !== undefined ? ` ${enc(t.origin)} ${t.moved ?? 0}` : '';
  return `${MAGIC} ${t.first} ${t.last} ${t.blockUntil} ${t.expires} ${t.passed} ${t.blocked} ${enc(t.net)} ${enc(t.from)} ${enc(t.to)}${pool}\n`;
}

const NUM = /^[0-9]{1,12}(?:\.[0-9]{1,9})?$/;

/** The stored form read back, or null when it is not one (a damaged or foreign file). */
export function parseTriplet(text: string): Triplet | null {
  const f = text.replace(/\n$/, '').split(' ');
  if ((f.length !== 10 && f.length !== 12) || f[0] !== MAGIC) return null;
  for (let i = 1; i <= 6; i++) if (!NUM.test(f[i]!)) return null;
  const net = dec(f[7]!);
  const from = dec(f[8]!);
  const to = dec(f[9]!);
  if (net === null || net === '' || from === null || to === null) return null;
  const n = f.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const t: Triplet = { first: n[0], last: n[1], blockUntil: n[2], expires: n[3], passed: n[4], blocked: n[5], net, from, to };
  if (f.length === 10) return t;
  const origin = dec(f[10]!);
  if (origin === null || origin === '' || !/^[0-9]{1,12}$/.test(f[11]!)) return null;
  return { ...t, origin, moved: Number(f[11]) };
}

// ---- clients (auto-whitelisting): how many triplets of one client network passed -------------
//
//   qgrey-client1 FIRST LAST PASSED NET

/** A client network's record: triplets passed (first passes only), first and last of them. */
export interface ClientRecord {
  readonly net: string;
  readonly first: number;
  readonly last: number;
  readonly passed: number;
}

export function clientId(net: string): string {
  return createHash('sha256').update(`client\0${net}`, 'utf8').digest('hex');
}

export function formatClient(c: ClientRecord): string {
  return `qgrey-client1 ${c.first} ${c.last} ${c.passed} ${enc(c.net)}\n`;
}

export function parseClient(text: string): ClientRecord | null {
  const f = text.replace(/\n$/, '').split(' ');
  if (f.length !== 5 || f[0] !== 'qgrey-client1' || !NUM.test(f[1]!) || !NUM.test(f[2]!) || !NUM.test(f[3]!)) return null;
  const net = dec(f[4]!);
  if (net === null || net === '') return null;
  return { first: Number(f[1]), last: Number(f[2]), passed: Number(f[3]), net };
}
