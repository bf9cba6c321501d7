// One connection's decision: the policy (src/core/policy.ts) fed from the environment, our
// lists and the greylist tree, and the tree updated as jgreylist v8 updates it. Whatever
// breaks becomes a FAIL result that the failure switch (QGREY_FAIL) resolves.
// Imports node: builtins, src/core and src/store only (no npm package, no CLI code).

import type { Env } from '../core/config.js';
import { accessSync, constants } from 'node:fs';
import { QgreyError, quote } from '../core/errors.js';
import { parseIp, type Ip } from '../core/ip.js';
import { keyOf } from '../core/key.js';
import type { Decision } from '../core/decision.js';
import { decide, substitute, type Outcome, type PolicyInput } from '../core/policy.js';
import { findInList, listPath, type ListName } from '../store/lists.js';
import { openEntries } from '../store/open-entries.js';
import type { Entry, EntryAccess } from '../store/store.js';
import type { WrapperConfig } from './config.js';
import { logAddress, replyText } from './text.js';

export const PROG = 'qgreylist';
export const GREY_FIRST = 'GREYLIST Try again later.';
export const GREY_AGAIN = 'GREYLIST I said to try later.';
export const FAIL_TEXT = 'Temporary local problem, please try again later.';

/** What happens to the connection. */
export type Verdict =
  | { readonly kind: 'pass' }
  /** answer every command but HELO/EHLO/MAIL/RSET/QUIT with an error: `code text` */
  | { readonly kind: 'reject'; readonly permanent: boolean; readonly text: string; /** our own dialogue's code (jgreylist's) */ readonly code: 450 | 451 | 553 };

export interface Result {
  readonly verdict: Verdict;
  /** the decision line's event, or null for none */
  readonly decision: Decision | null;
  /** reason for a FAIL decision */
  readonly detail?: string;
}

/** Not a decision: something of ours broke. The failure switch says what the client gets. */
class Failure extends Error {}

export function failure(cfg: WrapperConfig, why: string): Result {
  const verdict: Verdict = cfg.fail === 'closed' ? { kind: 'reject', permanent: false, text: FAIL_TEXT, code: 451 } : { kind: 'pass' };
  return { verdict, decision: cfg.fail === 'closed' ? 'FAIL closed' : 'FAIL open', detail: why };
}

function verdictOf(o: Outcome, cfg: WrapperConfig): Verdict {
  switch (o.action) {
    case 'pass':
      return { kind: 'pass' };
    case 'grey':
      return { kind: 'reject', permanent: false, text: o.create ? GREY_FIRST : GREY_AGAIN, code: 450 };
    case 'deny':
      return { kind: 'reject', permanent: true, text: replyText('DENIED ' + substitute(o.message, cfg.remoteIp)), code: 553 };
  }
}

/**
 * Where the decision reads and records: by default the list files of cfg.listDir, read for
 * this connection, and the tree of cfg.dir. qgreyd (src/server/) passes its lists held in
 * memory and the one store it opened. Either may throw a QgreyError (a FAIL result).
 */
export interface Io {
  readonly store?: (cfg: WrapperConfig) => EntryAccess;
  /** the matching entry of list `name` for `ip` at `now` (seconds), or null */
  /** the list lookup; it reads only the list directory of the settings (the wrapper's or qgrey-spp's) */
  readonly list?: (name: ListName, cfg: Pick<WrapperConfig, 'listDir'>, ip: Ip, now: number) => { readonly label: string; readonly message: string } | null;
}

const fileList = (name: ListName, cfg: WrapperConfig, ip: Ip, now: number) => findInList(listPath(cfg.listDir, name), ip, now);

const treeOf = (cfg: WrapperConfig): EntryAccess => openEntries(cfg.dir, cfg.layout);

/**
 * Decide one connection and update the greylist entry. `nowMs` is the clock; the tree and
 * list files are the only I/O. Never throws: whatever breaks becomes a FAIL result.
 */
export function run(cfg: WrapperConfig, nowMs: number, io: Io = {}): Result {
  try {
    const listOf = io.list ?? fileList;
    const pre = beforeLists(cfg, nowMs);
    if ('verdict' in pre) return pre;
    const black = listOf('blacklist', cfg, pre.ip, pre.base.now);
    const white = black === null ? listOf('whitelist', cfg, pre.ip, pre.base.now) : null;
    const mid = afterLists(cfg, pre, black, white);
    if ('verdict' in mid) return mid;
    const store = (io.store ?? treeOf)(cfg);
    const fin = afterEntry(cfg, mid, store.getSync(mid.key));
    if (fin.write === 'create') store.createSync(mid.key, nowMs / 1000);
    else if (fin.write === 'touch') store.touchSync(mid.key, nowMs / 1000);
    return fin.result;
  } catch (err) {
    return failed(cfg, err);
  }
}

/** run() for a store on the network (the shared Redis store): the same steps, awaited. */
export interface AsyncIo {
  readonly store: { get(key: string): Promise<Entry | null>; create(key: string, now: number): Promise<boolean>; touch(key: string, last: number): Promise<boolean> };
  readonly list: (name: ListName, cfg: Pick<WrapperConfig, 'listDir'>, ip: Ip, now: number) => Promise<{ readonly label: string; readonly message: string } | null>;
}

export async function runAsync(cfg: WrapperConfig, nowMs: number, io: AsyncIo): Promise<Result> {
  try {
    const pre = beforeLists(cfg, nowMs);
    if ('verdict' in pre) return pre;
    const black = await io.list('blacklist', cfg, pre.ip, pre.base.now);
    const white = black === null ? await io.list('whitelist', cfg, pre.ip, pre.base.now) : null;
    const mid = afterLists(cfg, pre, black, white);
    if ('verdict' in mid) return mid;
    const fin = afterEntry(cfg, mid, await io.store.get(mid.key));
    if (fin.write === 'create') await io.store.create(mid.key, nowMs / 1000);
    else if (fin.write === 'touch') await io.store.touch(mid.key, nowMs / 1000);
    return fin.result;
  } catch (err) {
    return failed(cfg, err);
  }
}

function failed(cfg: WrapperConfig, err: unknown): Result {
  const why = err instanceof Failure || err instanceof QgreyError ? err.message : `internal error: ${err instanceof Error ? err.message : String(err)}`;
  return failure(cfg, why);
}

const resultOf = (o: Outcome, cfg: WrapperConfig): Result => ({ verdict: verdictOf(o, cfg), decision: o.decision });

/** Step 1: what decides without the address, and the address. */
function beforeLists(cfg: WrapperConfig, nowMs: number): Result | { ip: Ip; base: PolicyInput } {
  // jgreylist compares whole seconds: st_mtime + HOLDTIME > time(0)
  const now = Math.floor(nowMs / 1000);
  const base: PolicyInput = {
    now,
    jgreylist: cfg.jgreylist,
    relayclient: cfg.relayclient,
    norev: cfg.norev,
    hasReverse: cfg.hasReverse,
    white: null,
    black: null,
    firstSeen: null,
    holdtime: cfg.holdtime,
  };
  // JGREYLIST (from tcprules) and RELAYCLIENT decide without the address
  if (cfg.jgreylist !== undefined || cfg.relayclient) return resultOf(decide(base), cfg);

  if (cfg.remoteIp === '') throw new Failure('TCPREMOTEIP is empty or missing');
  const ip: Ip | null = parseIp(cfg.remoteIp);
  if (ip === null) throw new Failure(`TCPREMOTEIP is not an address: ${quote(cfg.remoteIp, 64)}`);
  return { ip, base };
}

type Listed = { readonly label: string; readonly message: string } | null;

/** Step 2: our lists (blacklist first, read by the caller), then JGREYLIST_NOREV; else the key to look up. */
function afterLists(cfg: WrapperConfig, pre: { ip: Ip; base: PolicyInput }, black: Listed, white: Listed): Result | { key: string; listed: PolicyInput } {
  const listed: PolicyInput = { ...pre.base, black, white };
  const early = decide(listed);
  if (early.action !== 'grey') return resultOf(early, cfg);
  if (cfg.dir === '' && cfg.store === '') throw new Failure('JGREYLIST_DIR is not set');
  return { key: keyOf(pre.ip, cfg.layout), listed };
}

/** Step 3: the greylist entry decides, and says what to write. */
function afterEntry(cfg: WrapperConfig, mid: { key: string; listed: PolicyInput }, entry: Entry | null): { result: Result; write: 'create' | 'touch' | null } {
  const o = decide({ ...mid.listed, firstSeen: entry === null ? null : Math.floor(entry.first) });
  // "too soon" and "known" both record the visit (atime), as jgreylist v8 does; to the
  // microsecond (jgreylist writes whole seconds, so a revisit within the second of the
  // first sighting could get an atime before the mtime)
  const write = o.action === 'grey' && o.create ? 'create' : o.action === 'grey' || (o.action === 'pass' && o.touch) ? 'touch' : null;
  return { result: resultOf(o, cfg), write };
}

/** The connection's log line after `prefix[pid]: `, or null for none (JGREYLIST_LOG=0 silences all but FAIL). */
export function logLine(cfg: WrapperConfig, r: Result): string | null {
  const who = logAddress(cfg.remoteIp, cfg.remoteIp !== '' && parseIp(cfg.remoteIp) !== null);
  if (r.detail !== undefined) return `${who}: ${r.decision}: ${r.detail}`;
  if (r.decision !== null && cfg.log) return `${who}: ${r.decision}`;
  return null;
}

/** rblsmtpd on PATH (as the trampoline's exec would find it), or null. */
/** The directories programs are looked for in: PATH, else the shell's default. */
export function searchPath(env: Env): string {
  return env.PATH ?? '/usr/local/bin:/usr/bin:/bin';
}

export function findRblsmtpd(env: Env): string | null {
  for (const dir of searchPath(env).split(':')) {
    const p = (dir === '' ? '.' : dir) + '/rblsmtpd';
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return null;
}
