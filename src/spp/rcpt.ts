// One RCPT's decision for the qmail-spp plugin (bin/qgrey-spp, qgrey-spp(8)): the settings
// from the environment qmail-spp gives the plugin, our lists, the triplet store, and the
// qmail-spp command to print. qgreyd (src/server/) and the per-process program (main.ts) both
// call runRcpt(), so the answer and the stored triplet are the same either way.
//
// qmail-spp (its documentation, "plugin commands"): a plugin prints commands on stdout, one
// per line; `Emsg` refuses this command with msg (the SMTP code is part of msg); printing
// nothing accepts it as far as this plugin goes and lets the next plugin of the [rcpt]
// section run (`N` would accept it and skip the remaining plugins, which is not ours to
// decide). The plugin never reads stdin and logs on stderr.
//
// No npm imports: the per-RCPT path.

import { QgreyError, quote } from '../core/errors.js';
import { parseIp, type Ip } from '../core/ip.js';
import { formatIp } from '../core/ip.js';
import { keyOf, type Layout } from '../core/key.js';
import { trapOf, trapSource, type Traps } from '../core/traps.js';
import { clientId, clientNet, decideTriplet, tripletId, tripletKey, type Timers, type TripletEvent, type TripletKey } from '../core/triplet.js';
import { findInList, listPath, type ListName } from '../store/lists.js';
import { openEntries } from '../store/open-entries.js';
import type { EntryAccess } from '../store/store.js';
import { blacklistTrapped, readTraps } from '../store/trap-list.js';
import { TreeTriplets, type TripletAccess } from '../store/triplets.js';
import { timersFrom } from '../store/spp-control.js';
export { timersFrom } from '../store/spp-control.js';
export { DEFAULT_CONTROL } from '../core/config.js';
import { atoi } from '../core/atoi.js';
import { byIp, controlPath, holdtime, listDir, lockWait, rcptDir, storeSetting, treeDir, type Env } from '../core/config.js';
import { clean, logAddress, replyText } from '../wrapper/text.js';
import { substitute } from '../core/policy.js';
import { pairAddress, type Pair } from '../core/pairs.js';
import { findReply } from '../store/pairs.js';
import { DEFAULT_POOL_CACHE, DEFAULT_POOL_TIMEOUT, lookupPool, type PoolMatch, type PoolSettings } from './pool.js';

export const SPP_PROG = 'qgrey-spp';
export const DEFER = 'E451 greylisted, please try again later (#4.7.1)';
export const FAIL_DEFER = 'E451 temporary local problem, please try again later (#4.3.0)';

export interface SppConfig extends PoolSettings {
  /** GREYLISTING is set (any value, as the MySQL plugin reads it) */
  readonly greylisting: boolean;
  readonly relayclient: boolean;
  /** SMTPAUTHUSER, '' when unset */
  readonly authUser: string;
  /** TCPREMOTEIP, else TCP6REMOTEIP */
  readonly remoteIp: string;
  readonly from: string | undefined;
  readonly to: string | undefined;
  /** QGREY_RCPT_DIR */
  readonly dir: string;
  /** QGREY_RCPT_BY_IP non-zero: the client's address, not its /24 or /64 */
  readonly byIp: boolean;
  /** the control file of the timers: GLCONFIGFILE (the MySQL plugin's variable), resolved against PWD */
  readonly control: string;
  readonly listDir: string;
  readonly fail: 'open' | 'closed';
  readonly log: boolean;
  /** QGREY_AWL: triplets a client network passes before it gets a connection-level entry (0: never) */
  readonly awl: number;
  /** the jgreylist tree of that entry (JGREYLIST_DIR), its layout (JGREYLIST_BY_IP), qgreylist's delay (JGREYLIST_HOLDTIME) */
  readonly tree: string;
  readonly treeLayout: Layout;
  readonly holdtime: number;
  /** QGREY_TRAP_TIME: seconds a client that sent RCPT to a trap stays blacklisted */
  readonly trapTime: number;
  /** QGREY_STORE: '' for the triplet directory and the list files, else the shared Redis store's URL (redis-rcpt.ts) */
  readonly store: string;
}

export const DEFAULT_AWL = 5;
export const DEFAULT_TRAP_TIME = 86400;

/** The plugin's settings, one pure function of its environment. */
export function readSppConfig(env: Env): SppConfig {
  const tcp = env.TCPREMOTEIP ?? '';
  const by = env.QGREY_RCPT_BY_IP ?? '';
  return {
    greylisting: env.GREYLISTING !== undefined,
    relayclient: env.RELAYCLIENT !== undefined,
    authUser: env.SMTPAUTHUSER ?? '',
    remoteIp: tcp !== '' ? tcp : (env.TCP6REMOTEIP ?? ''),
    from: env.SMTPMAILFROM,
    to: env.SMTPRCPTTO,
    dir: rcptDir(undefined, env),
    byIp: by !== '' && by !== '0',
    control: controlPath(env),
    listDir: listDir(undefined, env),
    fail: env.QGREY_FAIL === 'closed' ? 'closed' : 'open',
    log: env.JGREYLIST_LOG !== '0',
    awl: env.QGREY_AWL ? Math.max(0, atoi(env.QGREY_AWL)) : DEFAULT_AWL,
    tree: treeDir(undefined, env),
    treeLayout: byIp(env) ? 'byip' : 'classc',
    holdtime: holdtime(env),
    trapTime: env.QGREY_TRAP_TIME ? Math.max(0, atoi(env.QGREY_TRAP_TIME)) : DEFAULT_TRAP_TIME,
    store: storeSetting(undefined, env),
    pools: env.QGREY_POOLS === 'spf',
    dnsServer: env.QGREY_DNS_SERVER ?? '',
    poolTimeout: seconds(env.QGREY_POOL_TIMEOUT, DEFAULT_POOL_TIMEOUT, 30),
    poolCache: seconds(env.QGREY_POOL_CACHE, DEFAULT_POOL_CACHE, 7 * 86400),
  };
}

/** A number of seconds (decimals allowed) from the environment, within (0, max]; else the default. */
function seconds(v: string | undefined, def: number, max: number): number {
  if (v === undefined || !/^[0-9]{1,9}(?:\.[0-9]{1,3})?$/.test(v)) return def;
  const n = Number(v);
  return n > 0 && n <= max ? n : def;
}

export type SppEvent =
  | `RCPT GREY ${Exclude<TripletEvent, 'passed' | 'known'>}`
  | `RCPT OK ${Extract<TripletEvent, 'passed' | 'known'>}`
  | 'RCPT OK whitelisted'
  | 'RCPT OK reply'
  | 'RCPT DENIED blacklisted'
  | 'RCPT TRAP'
  | 'FAIL open'
  | 'FAIL closed';

export interface SppResult {
  /** the qmail-spp command line to print (without its LF), or null for none */
  readonly command: string | null;
  /** null: the plugin does not apply (no GREYLISTING, a relay client, an authenticated one): no log line */
  readonly event: SppEvent | null;
  /** why it failed (FAIL lines) */
  readonly detail?: string;
  /** what else was done (a trap blacklisted, a client auto-whitelisted), after the addresses */
  readonly note?: string;
}

/** Where the decision reads and records; qgreyd passes its own (lists in memory, one store). */
export interface SppIo {
  readonly triplets?: (cfg: SppConfig) => TripletAccess;
  readonly timers?: (cfg: SppConfig) => Timers;
  readonly list?: (name: ListName, cfg: SppConfig, ip: Ip, now: number) => { readonly label: string; readonly message: string } | null;
  /** the jgreylist tree, for auto-whitelisting */
  readonly entries?: (cfg: SppConfig) => EntryAccess;
  readonly traps?: (cfg: SppConfig) => Traps;
  /** blacklist a trapped client (trap-list.ts) */
  readonly trapped?: (cfg: SppConfig, address: string, source: string, until: number) => void;
  /** the live reply pair (remote, local), both normalised (store/pairs.ts) */
  readonly reply?: (cfg: SppConfig, remote: string, local: string, now: number) => Pair | null;
  /** the sender pool found for this RCPT (runRcptPooled looks it up) */
  readonly pool?: PoolMatch;
  /** qgreyd's pool look-ups under way */
  readonly inflight?: Parameters<typeof lookupPool>[5];
}

/** Whether the plugin has anything to do for this session (the bash client checks the same first). */
export function applies(cfg: SppConfig): boolean {
  return cfg.greylisting && !cfg.relayclient && cfg.authUser === '';
}

/** Decide one RCPT and record the triplet. Never throws: what breaks is a FAIL result. */
export function runRcpt(cfg: SppConfig, nowMs: number, env: Env, io: SppIo = {}): SppResult {
  if (!applies(cfg)) return { command: null, event: null };
  try {
    return decide(cfg, nowMs, env, io);
  } catch (err) {
    return failResult(cfg, err);
  }
}

/** What breaks, as QGREY_FAIL answers it. */
export function failResult(cfg: SppConfig, err: unknown): SppResult {
  const why = err instanceof QgreyError ? err.message : `internal error: ${err instanceof Error ? err.message : String(err)}`;
  return cfg.fail === 'closed' ? { command: FAIL_DEFER, event: 'FAIL closed', detail: why } : { command: null, event: 'FAIL open', detail: why };
}

/**
 * runRcpt() after the sender pool's look-up (QGREY_POOLS=spf; pool.ts), which is asynchronous
 * (DNS) and bounded by QGREY_POOL_TIMEOUT. Never throws.
 */
export async function runRcptPooled(cfg: SppConfig, nowMs: number, env: Env, io: SppIo = {}): Promise<SppResult> {
  if (!applies(cfg) || !cfg.pools || cfg.from === undefined) return runRcpt(cfg, nowMs, env, io);
  const ip = parseIp(cfg.remoteIp);
  if (ip === null) return runRcpt(cfg, nowMs, env, io);
  let pool: PoolMatch;
  try {
    const store = (io.triplets ?? ((c: SppConfig) => new TreeTriplets(c.dir)))(cfg);
    pool = await lookupPool(cfg, ip, cfg.from, store, nowMs / 1000, io.inflight);
  } catch {
    pool = { net: null };
  }
  return runRcpt(cfg, nowMs, env, { ...io, pool });
}

function decide(cfg: SppConfig, nowMs: number, env: Env, io: SppIo): SppResult {
  if (cfg.remoteIp === '') throw new QgreyError('TCPREMOTEIP is empty or missing', 111);
  const ip = parseIp(cfg.remoteIp);
  if (ip === null) throw new QgreyError(`TCPREMOTEIP is not an address: ${quote(cfg.remoteIp, 64)}`, 111);
  if (cfg.from === undefined || cfg.to === undefined) throw new QgreyError('SMTPMAILFROM or SMTPRCPTTO is not set (not run by qmail-spp at RCPT?)', 111);
  const now = nowMs / 1000;
  const listOf = io.list ?? ((name: ListName, c: SppConfig, a: Ip, t: number) => findInList(listPath(c.listDir, name), a, t));
  const black = listOf('blacklist', cfg, ip, Math.floor(now));
  if (black !== null) return { command: `E553 ${replyText('DENIED ' + substitute(black.message, cfg.remoteIp))}`, event: 'RCPT DENIED blacklisted' };
  if (listOf('whitelist', cfg, ip, Math.floor(now)) !== null) return { command: null, event: 'RCPT OK whitelisted' };

  const store = (io.triplets ?? ((c: SppConfig) => new TreeTriplets(c.dir)))(cfg);
  const plain = tripletKey(ip, cfg.from, cfg.to, cfg.byIp);
  // a sender pool's host is keyed as the pool; traps and auto-whitelisting stay per network
  const key = io.pool?.net ? { ...plain, net: io.pool.net } : plain;
  const cid = clientId(plain.net);

  // a spamtrap: deferred quietly (as spamd does), and the client blacklisted, unless its
  // network has passed triplets (it delivered wanted mail)
  const trap = trapOf((io.traps ?? ((c: SppConfig) => readTraps(c.listDir)))(cfg), cfg.to);
  if (trap !== null) {
    const client = store.getClient(cid);
    if (client !== null && client.passed > 0) return { command: DEFER, event: 'RCPT TRAP', note: `not blacklisted: ${client.passed} triplet${client.passed === 1 ? '' : 's'} of ${plain.net} passed` };
    const address = formatIp(ip);
    const until = now + cfg.trapTime;
    try {
      (io.trapped ?? ((c: SppConfig, a: string, src: string, u: number) => void blacklistTrapped(c.listDir, a, src, u, { lockWait: () => lockWait(env) })))(cfg, address, trapSource(trap), until);
    } catch (err) {
      return { command: DEFER, event: 'RCPT TRAP', note: `unable to blacklist ${address}: ${err instanceof Error ? err.message : String(err)}` };
    }
    return { command: DEFER, event: 'RCPT TRAP', note: `${address} blacklisted for ${cfg.trapTime}s, source ${trapSource(trap)}` };
  }

  // a reply to one of our users, from the address that user wrote to (whitelist outgoing's
  // pairs): passed at once, no triplet. A null sender or anything that is not an address is
  // never looked up. The pairs unreadable: the triplet decides, and the line says so.
  let pairNote: string | undefined;
  const remote = pairAddress(cfg.from);
  const local = remote === null ? null : pairAddress(cfg.to);
  if (remote !== null && local !== null) {
    try {
      const p = (io.reply ?? ((c: SppConfig, r: string, l: string, t: number) => findReply(c.listDir, r, l, t)))(cfg, remote, local, now);
      if (p !== null) return { command: null, event: 'RCPT OK reply', note: `pair of ${p.source}` };
    } catch (err) {
      pairNote = `reply pairs not read: ${err instanceof Error ? err.message : String(err)}`;
    }
  }
  const r = tripletDecision(cfg, ip, key, cid, store, now, env, io);
  return pairNote === undefined ? r : { ...r, note: r.note === undefined ? pairNote : `${r.note}; ${pairNote}` };
}

/** The triplet's decision (after the lists, the traps and the reply pairs). */
function tripletDecision(cfg: SppConfig, ip: Ip, key: TripletKey, cid: string, store: TripletAccess, now: number, env: Env, io: SppIo): SppResult {
  // a sender pool's key (key.net spf:DOMAIN): the client's own network still counts passes
  const plain = { net: clientNet(ip, cfg.byIp) };
  const poolNote = io.pool?.note !== undefined ? { note: io.pool.note } : {};
  const timers = (io.timers ?? ((c: SppConfig) => timersFrom(c.control, env)))(cfg);
  const id = tripletId(key);
  const d = decideTriplet(store.getTriplet(id), key, now, timers, plain.net);
  store.putTriplet(id, d.next);
  if (!d.pass) return { command: DEFER, event: d.event === 'new' ? 'RCPT GREY new' : 'RCPT GREY too soon', ...poolNote };
  if (d.event === 'known') return { command: null, event: 'RCPT OK known', ...poolNote };

  // a first pass: counted for the client network; at QGREY_AWL of them, a connection-level
  // entry in the jgreylist tree, so qgreylist knows the client at connect
  const old = store.getClient(cid);
  const client = { net: plain.net, first: old?.first ?? now, last: now, passed: (old?.passed ?? 0) + 1 };
  store.putClient(cid, client);
  if (cfg.awl === 0 || client.passed < cfg.awl) return { command: null, event: 'RCPT OK passed', ...poolNote };
  try {
    const tree = (io.entries ?? ((c: SppConfig) => openEntries(c.tree, c.treeLayout)))(cfg);
    const k = keyOf(ip, tree.layout);
    const e = tree.getSync(k);
    if (e === null) {
      // first seen far enough back that qgreylist finds it known
      tree.createSync(k, Math.floor(now) - Math.max(cfg.holdtime, 0) - 1);
      tree.touchSync(k, now);
      return { command: null, event: 'RCPT OK passed', note: `${plain.net} auto-whitelisted after ${client.passed} triplets` };
    }
    tree.touchSync(k, now);
  } catch (err) {
    return { command: null, event: 'RCPT OK passed', note: `unable to auto-whitelist ${plain.net}: ${err instanceof Error ? err.message : String(err)}` };
  }
  return { command: null, event: 'RCPT OK passed', ...poolNote };
}

/** The RCPT's log line after `qgrey-spp[PID]: `, or null for none. Addresses cleaned, at most 100 characters each. */
export function sppLogLine(cfg: SppConfig, r: SppResult): string | null {
  if (r.event === null) return null;
  const who = logAddress(cfg.remoteIp, cfg.remoteIp !== '' && parseIp(cfg.remoteIp) !== null);
  const addr = (a: string | undefined) => (a === undefined ? '-' : `<${clean(a.replace(/^<(.*)>$/, '$1'), 100, false)}>`);
  if (r.detail !== undefined) return `${who}: ${r.event}: ${clean(r.detail, 300)}`;
  if (!cfg.log) return null;
  return `${who}: ${r.event} ${addr(cfg.from)} -> ${addr(cfg.to)}${r.note === undefined ? '' : `; ${clean(r.note, 300)}`}`;
}
