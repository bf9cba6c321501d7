// Sender pools for qgrey-spp (qgrey-spp(8), SENDER POOLS): when QGREY_POOLS=spf, a client
// that the sender domain's SPF record lets pass (the record flattened as `qgrey whitelist spf`
// flattens it, src/dns/spf.ts) is keyed as the pool `spf:DOMAIN` instead of its own network, so
// a retry from another host of the same outbound pool finds the same triplet.
//
// Bounded: one SPF evaluation follows RFC 7208's limits (10 DNS-querying terms, 2 void
// look-ups); the whole evaluation has QGREY_POOL_TIMEOUT seconds (1.5 by default), after which
// its queries are cancelled. Validated: the sender domain must be a domain name with a dot;
// networks wider than an IPv4 /16 or an IPv6 /32 are left out of a pool, a record with +all is
// refused (no pool), and more than MAX_POOL_NETS networks is no pool. Cached in the triplet
// store (core/pool.ts) for QGREY_POOL_CACHE seconds (3600); a DNS failure or a timeout for 60
// seconds at most, and meanwhile the client is keyed by its own network: a slow DNS never
// holds an RCPT past the timeout.
//
// No npm imports: the per-RCPT path (node:dns only).

import { QgreyError } from '../core/errors.js';
import { formatIp, type Cidr, type Ip } from '../core/ip.js';
import { inPool, MAX_POOL_NETS, poolId, senderDomain, WIDEST, type PoolRecord } from '../core/pool.js';
import { POOL_PREFIX } from '../core/triplet.js';
import type { TripletAccess } from '../store/triplets.js';

export const DEFAULT_POOL_TIMEOUT = 1.5;
export const DEFAULT_POOL_CACHE = 3600;
/** the longest a failed look-up is remembered */
export const FAIL_CACHE = 60;

export interface PoolSettings {
  /** QGREY_POOLS=spf */
  readonly pools: boolean;
  /** QGREY_DNS_SERVER as given ('' : the system's resolv.conf) */
  readonly dnsServer: string;
  /** seconds for one domain's whole evaluation */
  readonly poolTimeout: number;
  /** seconds an answer is kept */
  readonly poolCache: number;
}

/** What the pool look-up found for one RCPT. */
export interface PoolMatch {
  /** the triplet's NET (`spf:DOMAIN`), or null: key the client by its own network */
  readonly net: string | null;
  /** for the log line: the pool used, or why none could be looked up */
  readonly note?: string;
}

interface Fetched {
  readonly rec: PoolRecord;
  readonly why?: string;
}

/** Look the pool of `domain` up in DNS, within the time allowed. Never throws. */
export async function fetchPool(domain: string, s: PoolSettings, now: number): Promise<Fetched> {
  const fail = (why: string): Fetched => ({ rec: { domain, fetched: now, expires: now + Math.min(FAIL_CACHE, s.poolCache), status: 'fail', nets: [] }, why });
  const none = (why: string): Fetched => ({ rec: { domain, fetched: now, expires: now + s.poolCache, status: 'none', nets: [] }, why });
  // the resolver is loaded here, when a pool is first looked up: qgrey-spp without pools (the
  // default) starts no DNS module per RCPT
  const [{ dnsLookups, parseServer }, { aggregate, flattenSpf }] = await Promise.all([import('../dns/resolve.js'), import('../dns/spf.js')]);
  let server: string | undefined;
  try {
    server = s.dnsServer === '' ? undefined : parseServer(s.dnsServer, 'QGREY_DNS_SERVER');
  } catch (err) {
    return fail(`QGREY_DNS_SERVER: ${(err as Error).message}`);
  }
  const ms = Math.max(1, Math.round(s.poolTimeout * 1000));
  const dns = dnsLookups(server, { timeoutMs: ms, tries: 1 });
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new QgreyError(`no answer within ${s.poolTimeout}s`, 111)), ms);
  });
  try {
    const r = await Promise.race([flattenSpf(domain, dns), late]);
    const nets: Cidr[] = [];
    for (const n of aggregate(r.nets)) if (n.cidr.prefix >= WIDEST[n.cidr.ip.family]) nets.push(n.cidr);
    if (nets.length === 0) return none(`spf:${domain}: no network of /16 (IPv4) or /32 (IPv6) or narrower`);
    if (nets.length > MAX_POOL_NETS) return none(`spf:${domain}: ${nets.length} networks, over ${MAX_POOL_NETS}`);
    return { rec: { domain, fetched: now, expires: now + s.poolCache, status: 'ok', nets } };
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    // permanent: no SPF record, a permerror, +all: there is no pool to speak of
    if (err instanceof QgreyError && err.permanent) return none(msg);
    return fail(msg);
  } finally {
    clearTimeout(timer);
    dns.cancel?.();
  }
}

/**
 * The pool key for this client and sender, from the cache when it is fresh, else from DNS
 * (and then cached). `inflight`: qgreyd's look-ups under way, so that RCPTs at once for one
 * domain wait for one evaluation. Never throws: a broken cache is looked past.
 */
export async function lookupPool(s: PoolSettings, ip: Ip, from: string, store: TripletAccess, now: number, inflight?: Map<string, Promise<Fetched>>): Promise<PoolMatch> {
  if (!s.pools) return { net: null };
  const domain = senderDomain(from);
  if (domain === null) return { net: null };
  const id = poolId(domain);
  let rec: PoolRecord | null = null;
  let why: string | undefined;
  try {
    rec = store.getPool(id);
  } catch {
    rec = null;
  }
  if (rec === null || rec.domain !== domain || now >= rec.expires || rec.fetched > now + 60) {
    let p = inflight?.get(domain);
    if (p === undefined) {
      p = fetchPool(domain, s, now);
      if (inflight !== undefined) {
        inflight.set(domain, p);
        void p.finally(() => inflight.delete(domain));
      }
      const f = await p;
      try {
        store.putPool(id, f.rec);
      } catch {
        /* not cached: asked again next time */
      }
      rec = f.rec;
      why = f.why;
    } else {
      const f = await p;
      rec = f.rec;
      why = f.why;
    }
  }
  if (inPool(rec, ip)) return { net: POOL_PREFIX + domain, note: `sender pool ${POOL_PREFIX}${domain}` };
  if (rec.status === 'fail') return { net: null, note: `sender pool of ${domain} unknown (${why ?? 'a look-up failed less than a minute ago'}): keyed by ${formatIp(ip)}'s network` };
  return { net: null };
}
