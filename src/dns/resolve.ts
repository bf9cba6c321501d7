// DNS look-ups for the MX and SPF imports and qgrey-spp's sender pools (no npm imports: the
// per-RCPT path uses it), through node:dns/promises' Resolver.
// "No such name" and "no records of that type" are empty answers; everything else (a
// server failure, a refusal, a timeout, no server reachable) is a temporary error, so a
// cron refresh during a DNS outage exits 111 and changes nothing (as rblsmtpd never
// bounces on a DNS error). Answers are cached for the run: many SPF records include the
// same provider records.

import { dnsServerSetting, type Env } from '../core/config.js';
import { Resolver } from 'node:dns/promises';
import { permanent, quote, temporary } from '../core/errors.js';
import { parseIp, formatIp } from '../core/ip.js';

export interface MxRecord {
  readonly exchange: string;
  readonly priority: number;
}

/** What the importers need from DNS. Empty arrays mean "no such records". */
export interface Lookups {
  /** TXT records, each as its list of character strings (chunks), not yet joined */
  txt(name: string): Promise<string[][]>;
  mx(name: string): Promise<MxRecord[]>;
  a(name: string): Promise<string[]>;
  aaaa(name: string): Promise<string[]>;
  /** stop the queries still in flight (a caller that gave up waiting) */
  cancel?(): void;
}

/** `IP`, `IP:PORT`, `[IPv6]:PORT` -> the form Resolver.setServers takes. */
export function parseServer(text: string, source = ''): string {
  const t = text.trim();
  let host = t;
  let port: string | undefined;
  const m6 = /^\[([^\]]+)\](?::([0-9]+))?$/.exec(t);
  if (m6) {
    host = m6[1]!;
    port = m6[2];
  } else if ((t.match(/:/g) ?? []).length === 1) {
    [host, port] = t.split(':') as [string, string];
  }
  const ip = parseIp(host);
  if (!ip || (port !== undefined && !/^[0-9]{1,5}$/.test(port)) || (port !== undefined && (Number(port) < 1 || Number(port) > 65535))) {
    throw permanent(`unable to parse DNS server ${quote(text)}${source ? ` (${source})` : ''}: expected IP, IP:PORT or [IPv6]:PORT (e.g. 127.0.0.1:5353)`);
  }
  const h = formatIp(ip);
  if (port === undefined) return h;
  return ip.family === 6 ? `[${h}]:${port}` : `${h}:${port}`;
}

/** The server --dns-server, else $QGREY_DNS_SERVER names, parsed (a bad one is refused naming where it came from); undefined: the system's resolv.conf. */
export function dnsServer(flag: string | undefined, env: Env): string | undefined {
  const s = dnsServerSetting(flag, env);
  if (s === undefined) return undefined;
  return parseServer(s, s === flag ? '--dns-server' : 'QGREY_DNS_SERVER');
}

const EMPTY = new Set(['ENOTFOUND', 'ENODATA']);

function failure(type: string, name: string, err: unknown): Error {
  const code = (err as { code?: string }).code ?? 'error';
  const what: Record<string, string> = {
    ESERVFAIL: 'server failure (SERVFAIL)',
    EREFUSED: 'query refused (REFUSED)',
    ETIMEOUT: 'timed out',
    ECONNREFUSED: 'no DNS server answering (connection refused)',
    EBADRESP: 'bad reply',
    ENOTIMP: 'query type not implemented by the server',
    EFORMERR: 'server says the query is malformed',
  };
  return temporary(`unable to look up ${type} ${quote(name)}: ${what[code] ?? code}`, err);
}

/** Lookups through a real resolver. `server` as returned by parseServer; timeout per try in ms. */
export function dnsLookups(server: string | undefined, opts: { timeoutMs?: number; tries?: number } = {}): Lookups {
  const r = new Resolver({ timeout: opts.timeoutMs ?? 3000, tries: opts.tries ?? 2 });
  if (server !== undefined) r.setServers([server]);
  const cache = new Map<string, Promise<unknown>>();
  function cached<T>(type: string, name: string, f: () => Promise<T>): Promise<T> {
    const key = `${type} ${name.toLowerCase()}`;
    let p = cache.get(key) as Promise<T> | undefined;
    if (!p) {
      p = f().catch((err: unknown) => {
        if (EMPTY.has((err as { code?: string }).code ?? '')) return [] as unknown as T;
        throw failure(type, name, err);
      });
      cache.set(key, p);
    }
    return p;
  }
  return {
    txt: (name) => cached('TXT', name, () => r.resolveTxt(name)),
    mx: (name) => cached('MX', name, () => r.resolveMx(name)),
    a: (name) => cached('A', name, () => r.resolve4(name)),
    aaaa: (name) => cached('AAAA', name, () => r.resolve6(name)),
    cancel: () => r.cancel(),
  };
}

/** A syntactically valid domain name (letters, digits, hyphen, underscore; dots between labels). */
export function validDomain(name: string): boolean {
  const n = name.endsWith('.') ? name.slice(0, -1) : name;
  if (n.length === 0 || n.length > 253) return false;
  return n.split('.').every((l) => /^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/.test(l));
}

export function normDomain(name: string): string {
  return (name.endsWith('.') ? name.slice(0, -1) : name).toLowerCase();
}
