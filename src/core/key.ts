// Greylist keys: which entry an address belongs to, and the relative path of that entry in
// a jgreylist tree. Pure. Only validated addresses (see ip.ts) ever become keys.
//
// IPv4, class C (jgreylist default):  aaa/bbb/ccc          (ccc is an empty file)
// IPv4, per IP (JGREYLIST_BY_IP=1):   aaa/bbb/ccc/ddd
// IPv6, /64 (default):                v6/HHHHHHHH/HHHHHHHH (the two halves of the /64 prefix)
// IPv6, per address (--by-ip):        v6/HHHHHHHH/HHHHHHHH/HHHHHHHHHHHHHHHH
// jgreylist only ever builds three-digit octet paths, so it never reads or writes under v6/.

import { formatIp, ip4Octets, type Ip } from './ip.js';

export type Layout = 'classc' | 'byip';

export const V6_DIR = 'v6';

const d3 = (n: number) => (n < 10 ? '00' + n : n < 100 ? '0' + n : String(n));

/** The key (relative path, '/'-separated) of the entry that `ip` falls into. */
export function keyOf(ip: Ip, layout: Layout): string {
  if (ip.family === 4) {
    const [a, b, c, d] = ip4Octets(ip);
    const base = d3(a) + '/' + d3(b) + '/' + d3(c);
    return layout === 'byip' ? base + '/' + d3(d) : base;
  }
  const g = ip.groups;
  return key6(word(g[0]!, g[1]!), word(g[2]!, g[3]!), word(g[4]!, g[5]!), word(g[6]!, g[7]!), layout);
}

const word = (hi: number, lo: number) => ((hi << 16) | lo) >>> 0;
const hex8 = (w: number) => w.toString(16).padStart(8, '0');

/** keyOf for an IPv6 address given as four unsigned 32-bit words, the first the highest. */
export function key6(w0: number, w1: number, w2: number, w3: number, layout: Layout): string {
  const base = V6_DIR + '/' + hex8(w0) + '/' + hex8(w1);
  return layout === 'byip' ? base + '/' + hex8(w2) + hex8(w3) : base;
}

const OCTET = /^(?:[01][0-9][0-9]|2[0-4][0-9]|25[0-5])$/;
const HEX8 = /^[0-9a-f]{8}$/;
const HEX16 = /^[0-9a-f]{16}$/;

/** Is `key` a well-formed key of `layout`? (Used before any path is built from a stored key.) */
export function validKey(key: string, layout: Layout): boolean {
  const p = key.split('/');
  if (p[0] === V6_DIR) {
    const n = layout === 'byip' ? 4 : 3;
    return p.length === n && HEX8.test(p[1]!) && HEX8.test(p[2]!) && (n === 3 || HEX16.test(p[3]!));
  }
  const n = layout === 'byip' ? 4 : 3;
  return p.length === n && p.every((x) => OCTET.test(x));
}

/** A readable form of a key: `192.0.2` (class C), `192.0.2.7`, `2001:db8:0:1::/64`, or the IPv6 address. */
/** The key as a network, as the top lists print it: `192.0.2.0/24`, `2001:db8:1::/64`, or the address (per-IP). */
export function keyNetwork(key: string): string {
  const l = keyLabel(key);
  return key.split('/').length === 3 && !key.startsWith(V6_DIR + '/') ? `${l}.0/24` : l;
}

export function keyLabel(key: string): string {
  const p = key.split('/');
  if (p[0] === V6_DIR) {
    const hex = p.slice(1).join('').padEnd(32, '0');
    const groups: number[] = [];
    for (let i = 0; i < 32; i += 4) groups.push(parseInt(hex.slice(i, i + 4), 16));
    const text = formatIp({ family: 6, groups });
    return p.length === 3 ? text + '/64' : text;
  }
  return p.map((x) => String(Number(x))).join('.');
}
