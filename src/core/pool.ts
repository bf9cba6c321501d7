// Sender pools (qgrey-spp(8), SENDER POOLS): what the sender domain's SPF record, flattened,
// says about its outbound hosts, as qgrey-spp caches it. Pure: the clock is a parameter.
//
// A cached answer for one domain (the stored form, one line; tree file ROOT/p/ID, Redis value):
//
//   qgrey-pool1 FETCHED EXPIRES STATUS DOMAIN NETS
//
//   FETCHED, EXPIRES  seconds since the epoch: when it was looked up, until when it is used
//   STATUS            ok (NETS is the pool), none (no usable SPF record: no pool), fail (DNS
//                     failed or was too slow: no pool, asked again after a short time)
//   DOMAIN            lower case, a valid domain name
//   NETS              the pass networks, comma-separated CIDRs, `-` for none
//
// Names are poolId(DOMAIN), the SHA-256 of `pool\0DOMAIN` in hex: never the domain itself.
//
// No npm imports: the per-RCPT path.

import { createHash } from 'node:crypto';
import { cidrContains, formatCidr, parseCidr, type Cidr, type Ip } from './ip.js';

export type PoolStatus = 'ok' | 'none' | 'fail';

export interface PoolRecord {
  readonly domain: string;
  readonly fetched: number;
  readonly expires: number;
  readonly status: PoolStatus;
  readonly nets: readonly Cidr[];
}

/** At most this many networks in one pool (a bigger one is `none`: a record that wide is no pool). */
export const MAX_POOL_NETS = 1000;
/** The widest network a pool may hold: an IPv4 /16, an IPv6 /32 (wider ones are left out). */
export const WIDEST = { 4: 16, 6: 32 } as const;

export function poolId(domain: string): string {
  return createHash('sha256').update(`pool\0${domain}`, 'utf8').digest('hex');
}

const DOMAIN = /^(?=.{1,253}$)(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\.)+[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;

/** The sender's domain as a pool is named, or null (the null sender, no `@`, not a valid name with a dot). */
export function senderDomain(from: string): string | null {
  let a = from.trim();
  if (a.startsWith('<') && a.endsWith('>')) a = a.slice(1, -1);
  const at = a.lastIndexOf('@');
  if (at <= 0) return null;
  const d = a.slice(at + 1).toLowerCase().replace(/\.$/, '');
  return DOMAIN.test(d) ? d : null;
}

export function formatPool(p: PoolRecord): string {
  const nets = p.nets.length === 0 ? '-' : p.nets.map(formatCidr).join(',');
  return `qgrey-pool1 ${p.fetched} ${p.expires} ${p.status} ${p.domain} ${nets}\n`;
}

const NUM = /^[0-9]{1,12}(?:\.[0-9]{1,9})?$/;

export function parsePool(text: string): PoolRecord | null {
  const f = text.replace(/\n$/, '').split(' ');
  if (f.length !== 6 || f[0] !== 'qgrey-pool1' || !NUM.test(f[1]!) || !NUM.test(f[2]!)) return null;
  const status = f[3] as PoolStatus;
  if (status !== 'ok' && status !== 'none' && status !== 'fail') return null;
  if (!DOMAIN.test(f[4]!)) return null;
  const nets: Cidr[] = [];
  if (f[5] !== '-') {
    const parts = f[5]!.split(',');
    if (parts.length > MAX_POOL_NETS) return null;
    for (const t of parts) {
      const c = parseCidr(t);
      if (c === null) return null;
      nets.push(c);
    }
  }
  return { fetched: Number(f[1]), expires: Number(f[2]), status, domain: f[4]!, nets };
}

/** Whether the address is one of the pool's hosts. */
export function inPool(p: PoolRecord, ip: Ip): boolean {
  return p.status === 'ok' && p.nets.some((c) => cidrContains(c, ip));
}
