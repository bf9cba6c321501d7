// The one setting that selects the shared Redis store: QGREY_STORE (or --store), read by
// parseStoreUrl() into the options the Redis store connects with. Pure; no npm imports (the
// wrapper and qgreyd read the setting before anything loads the Redis client).
//
//   redis://[[USER]:PASSWORD@]HOST[:PORT][/DB][?OPTIONS]           plain TCP (port 6379)
//   rediss://[[USER]:PASSWORD@]HOST[:PORT][/DB][?OPTIONS]          TLS
//   redis+sentinel://[[USER]:PASSWORD@]H1[:P1],H2[:P2],.../MASTER[/DB][?OPTIONS]   (port 26379)
//   rediss+sentinel://...                                          TLS to the sentinels and the master
//
// USER and PASSWORD are those of the Redis server (ACL user, or requirepass with no USER),
// percent-encoded. OPTIONS, `&`-separated:
//   ca=FILE                 CA certificate(s) to check a TLS server against (default: the system's)
//   sentinel-password=PW    the sentinels' own requirepass, if they have one
//   timeout=MS              connect and command timeout in milliseconds (default 1500)
//   max-age=DURATION        jgreylist-clean's max age, as TTL from the last visit (default 30d)
//   one-time=DURATION       how long an entry never revisited lives (default 1d)
//   prefix=TEXT             key prefix (default `qgrey:`), for several greylists in one database

import { permanent, quote } from '../core/errors.js';

export interface RedisTarget {
  readonly kind: 'redis';
  readonly tls: boolean;
  /** one host:port, or the sentinels' */
  readonly hosts: readonly { readonly host: string; readonly port: number }[];
  /** the Sentinel master name, or null for a direct connection */
  readonly master: string | null;
  readonly db: number;
  readonly username: string | null;
  readonly password: string | null;
  readonly sentinelPassword: string | null;
  readonly ca: string | null;
  /** milliseconds */
  readonly timeout: number;
  /** seconds */
  readonly maxAge: number;
  /** seconds */
  readonly oneTime: number;
  readonly prefix: string;
  /** the URL without its passwords, for messages */
  readonly display: string;
}

export const DEFAULT_REDIS_TIMEOUT = 1500;
export const DEFAULT_MAX_AGE = 30 * 86400;
export const DEFAULT_ONE_TIME = 86400;

const SHAPE = 'redis://[USER:PASSWORD@]HOST[:PORT][/DB], rediss://..., or redis+sentinel://[USER:PASSWORD@]HOST:PORT,HOST:PORT/MASTER[/DB]';

/** Does this QGREY_STORE value name Redis (as opposed to a tree directory)? */
export function isRedisUrl(s: string): boolean {
  return /^rediss?(\+sentinel)?:\/\//i.test(s);
}

/** `30d`, `12h`, `90m`, `45s` or plain seconds. */
function duration(text: string, what: string, url: string): number {
  const m = /^([0-9]{1,9})([smhd]?)$/.exec(text);
  if (!m) throw permanent(`unable to read ${what} in the store URL ${quote(url)}: expected a duration such as 30d, 12h, 90m or 3600, got ${quote(text, 40)}`);
  return Number(m[1]) * ({ '': 1, s: 1, m: 60, h: 3600, d: 86400 } as Record<string, number>)[m[2]!]!;
}

function decode(s: string, what: string, url: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw permanent(`unable to read the ${what} in the store URL ${quote(url)}: bad percent-encoding`);
  }
}

/** The URL with every password replaced by `***`. */
export function hidePasswords(url: string): string {
  return url.replace(/^([a-z+]+:\/\/[^:@/]*:)[^@/]*@/i, '$1***@').replace(/(sentinel-password=)[^&]*/i, '$1***');
}

/** Read a Redis store URL; a bad one is a permanent error that quotes it (passwords hidden). */
export function parseStoreUrl(url: string): RedisTarget {
  const shown = hidePasswords(url);
  const bad = (why: string) => permanent(`unable to read the store URL ${quote(shown)}: ${why}; expected ${SHAPE}`);
  const m = /^(rediss?)(\+sentinel)?:\/\/(?:([^@/?]*)@)?([^/?]+)(\/[^?]*)?(?:\?(.*))?$/i.exec(url);
  if (!m) throw bad('not a Redis URL');
  const tls = m[1]!.toLowerCase() === 'rediss';
  const sentinel = m[2] !== undefined;
  let username: string | null = null;
  let password: string | null = null;
  if (m[3] !== undefined) {
    const i = m[3].indexOf(':');
    if (i === -1) username = decode(m[3], 'user', shown);
    else {
      username = i === 0 ? null : decode(m[3].slice(0, i), 'user', shown);
      password = decode(m[3].slice(i + 1), 'password', shown);
    }
  }
  const hosts = m[4]!.split(',').map((hp) => {
    const h = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(?::([0-9]{1,5}))?$/.exec(hp);
    if (!h) throw bad(`bad host ${quote(hp, 60)}`);
    const port = h[2] === undefined ? (sentinel ? 26379 : 6379) : Number(h[2]);
    if (port < 1 || port > 65535) throw bad(`bad port ${quote(h[2]!, 10)}`);
    const host = h[1]!.startsWith('[') ? h[1]!.slice(1, -1) : h[1]!;
    return { host, port };
  });
  if (!sentinel && hosts.length > 1) throw bad('several hosts are only for redis+sentinel://');
  const path = (m[5] ?? '').split('/').filter((p) => p !== '');
  let master: string | null = null;
  if (sentinel) {
    if (path.length < 1) throw bad('the Sentinel master name is missing');
    master = decode(path.shift()!, 'master name', shown);
    if (!/^[A-Za-z0-9._-]{1,100}$/.test(master)) throw bad(`bad master name ${quote(master, 60)}`);
  }
  if (path.length > 1) throw bad('too many path components');
  let db = 0;
  if (path.length === 1) {
    if (!/^[0-9]{1,5}$/.test(path[0]!)) throw bad(`the database must be a number, not ${quote(path[0]!, 20)}`);
    db = Number(path[0]);
  }
  let ca: string | null = null;
  let sentinelPassword: string | null = null;
  let timeout = DEFAULT_REDIS_TIMEOUT;
  let maxAge = DEFAULT_MAX_AGE;
  let oneTime = DEFAULT_ONE_TIME;
  let prefix = 'qgrey:';
  for (const kv of (m[6] ?? '').split('&').filter((x) => x !== '')) {
    const i = kv.indexOf('=');
    const k = i === -1 ? kv : kv.slice(0, i);
    const v = decode(i === -1 ? '' : kv.slice(i + 1), k, shown);
    switch (k) {
      case 'ca':
        if (!v.startsWith('/')) throw bad('ca= needs an absolute file name');
        ca = v;
        break;
      case 'sentinel-password':
        sentinelPassword = v;
        break;
      case 'timeout':
        if (!/^[0-9]{1,6}$/.test(v) || Number(v) < 50) throw bad(`timeout= is milliseconds, at least 50, not ${quote(v, 20)}`);
        timeout = Number(v);
        break;
      case 'max-age':
        maxAge = duration(v, 'max-age', shown);
        break;
      case 'one-time':
        oneTime = duration(v, 'one-time', shown);
        break;
      case 'prefix':
        if (!/^[A-Za-z0-9._:-]{1,64}$/.test(v)) throw bad(`prefix= takes letters, digits and . _ : -, not ${quote(v, 70)}`);
        prefix = v;
        break;
      default:
        throw bad(`unknown option ${quote(k, 40)} (ca, sentinel-password, timeout, max-age, one-time, prefix)`);
    }
  }
  if (maxAge < 1 || oneTime < 1) throw bad('max-age and one-time must be at least one second');
  return { kind: 'redis', tls, hosts, master, db, username, password, sentinelPassword, ca, timeout, maxAge, oneTime, prefix, display: shown };
}
