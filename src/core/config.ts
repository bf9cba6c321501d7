// Every setting qgrey takes from its environment, read in one place. Each reader is a pure
// function of (flag, env): a flag given on the command line wins, then the variable, then the
// default. The environment itself is read only by processEnv(), which the programs' entry points
// (the CLI's commands, qgreylist, qgrey-spp, qgreyd) call once and hand down; everything below
// them takes `env` as an argument, so a test gives it any environment without touching its own.
//
// Numbers that jgreylist reads are read as its getenv_int() does (atoi; unset or empty takes
// the default). Our own variables start with QGREY_.
//
// No npm imports: on the per-connection path.

import { isAbsolute, resolve } from 'node:path';
import { atoi } from './atoi.js';
import { QgreyError, quote } from './errors.js';

/** An environment as a program receives it. */
export type Env = Readonly<Record<string, string | undefined>>;

/** The process's environment: the one read of process.env in qgrey. */
export function processEnv(): Env {
  return process.env;
}

export const DEFAULT_TREE_DIR = '/var/qmail/jgreylist';
export const DEFAULT_LISTDIR = '/var/qmail/control/qgrey';
export const DEFAULT_RCPT_DIR = '/var/qmail/qgrey-rcpt';
/** the control file of qgrey-spp's timers, where the MySQL plugin keeps its own */
export const DEFAULT_CONTROL = '/var/qmail/control/greylisting';
/** seconds a second maintenance run waits for the lock before giving up with 111 */
export const DEFAULT_LOCK_WAIT = 5;

/** The value of a flag or a variable that is set and not empty; else undefined. */
function given(v: string | undefined): string | undefined {
  return v !== undefined && v !== '' ? v : undefined;
}

/** jgreylist's getenv_int(): unset or empty gives the default, anything else atoi(). */
export function envInt(env: Env, name: string, def: number): number {
  const v = env[name];
  return v !== undefined && v !== '' ? atoi(v) : def;
}

/** The tree: --dir, else $JGREYLIST_DIR, else /var/qmail/jgreylist. */
export function treeDir(flag: string | undefined, env: Env): string {
  return given(flag) ?? given(env.JGREYLIST_DIR) ?? DEFAULT_TREE_DIR;
}

/** JGREYLIST_BY_IP as jgreylist reads it: non-zero keys by the whole address, else by /24. */
export function byIp(env: Env): boolean {
  return envInt(env, 'JGREYLIST_BY_IP', 0) !== 0;
}

/** JGREYLIST_HOLDTIME as jgreylist reads it: 120 seconds when unset or empty. */
export function holdtime(env: Env): number {
  return envInt(env, 'JGREYLIST_HOLDTIME', 120);
}

/** JGREYLIST_NOREV: the text a client without a reverse name is refused with ('' when unset: no check). */
export function noRev(env: Env): string {
  return env.JGREYLIST_NOREV ?? '';
}

/** The list directory: --listdir, else $QGREY_LISTDIR, else /var/qmail/control/qgrey. */
export function listDir(flag: string | undefined, env: Env): string {
  return given(flag) ?? given(env.QGREY_LISTDIR) ?? DEFAULT_LISTDIR;
}

/** qgrey-spp's triplet directory: --rcpt-dir, else $QGREY_RCPT_DIR, else /var/qmail/qgrey-rcpt. */
export function rcptDir(flag: string | undefined, env: Env): string {
  return flag ?? given(env.QGREY_RCPT_DIR) ?? DEFAULT_RCPT_DIR;
}

/** The store as given: --store, else $QGREY_STORE; '' for the tree and the list files. */
export function storeSetting(flag: string | undefined, env: Env): string {
  return flag ?? env.QGREY_STORE ?? '';
}

/** The DNS server as given: --dns-server, else $QGREY_DNS_SERVER; undefined for resolv.conf's. */
export function dnsServerSetting(flag: string | undefined, env: Env): string | undefined {
  return given(flag) ?? given(env.QGREY_DNS_SERVER);
}

/** The timers' control file: GLCONFIGFILE (relative to PWD, the plugin's cwd), else the default. */
export function controlPath(env: Env): string {
  const gl = given(env.GLCONFIGFILE) ?? DEFAULT_CONTROL;
  return isAbsolute(gl) ? gl : resolve(given(env.PWD) ?? '/', gl);
}

/** $QGREY_LOCK_WAIT seconds, DEFAULT_LOCK_WAIT when unset or empty; anything else is refused (100). */
export function lockWait(env: Env): number {
  const v = env.QGREY_LOCK_WAIT;
  if (v === undefined || v === '') return DEFAULT_LOCK_WAIT;
  const n = Number(v);
  if (/^[0-9][0-9.e+-]*$/.test(v) && Number.isFinite(n) && n <= 86400) return n;
  throw new QgreyError(`bad QGREY_LOCK_WAIT ${quote(v)}: expected the seconds to wait for a lock, at most 86400 (default ${DEFAULT_LOCK_WAIT})`, 100);
}

/** QGREY_NO_WASM=1: the accepted-line scan in JavaScript only (for the differential tests and benches). */
export function wasmOff(env: Env): boolean {
  return env.QGREY_NO_WASM === '1';
}
