// IP addresses and networks, parsed strictly. Every address that comes from a log line,
// an environment variable or a list file goes through parseIp before anything may build a
// path or a key from it. No npm imports: the per-connection wrapper uses this module.

export interface Ip4 {
  readonly family: 4;
  /** the address as an unsigned 32-bit integer */
  readonly value: number;
  /** true when it was written as an IPv4-mapped IPv6 address (::ffff:a.b.c.d) */
  readonly mapped: boolean;
}

export interface Ip6 {
  readonly family: 6;
  /** 8 groups of 16 bits */
  readonly groups: readonly number[];
}

export type Ip = Ip4 | Ip6;

export interface Cidr {
  readonly ip: Ip;
  readonly prefix: number;
}

/** Dotted-quad IPv4 (leading zeros allowed, as jgreylist treats 001.002.003.004 as 1.2.3.4). */
export function parseIp4(s: string): Ip4 | null {
  const n = s.length;
  if (n < 7 || n > 15) return null;
  let v = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || dots === 3) return null;
      v = v * 256 + octet;
      octet = 0;
      digits = 0;
      dots++;
    } else {
      const d = c - 48;
      if (d < 0 || d > 9 || digits === 3) return null;
      octet = octet * 10 + d;
      if (octet > 255) return null;
      digits++;
    }
  }
  if (dots !== 3 || digits === 0) return null;
  return { family: 4, value: v * 256 + octet, mapped: false };
}

function parseHexGroup(s: string): number {
  if (s.length === 0 || s.length > 4) return -1;
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    let d: number;
    if (c >= 48 && c <= 57) d = c - 48;
    else if (c >= 97 && c <= 102) d = c - 87;
    else if (c >= 65 && c <= 70) d = c - 55;
    else return -1;
    n = n * 16 + d;
  }
  return n;
}

/** IPv6 in any RFC 4291 text form, with an optional dotted IPv4 tail. No zone ids. */
export function parseIp6Groups(s: string): number[] | null {
  if (s.length < 2 || s.length > 45) return null;
  const dbl = s.indexOf('::');
  if (dbl !== -1 && s.indexOf('::', dbl + 1) !== -1) return null;
  const expand = (part: string): number[] | null => {
    if (part === '') return [];
    const out: number[] = [];
    const pieces = part.split(':');
    for (let i = 0; i < pieces.length; i++) {
      const p = pieces[i] as string;
      if (i === pieces.length - 1 && p.includes('.')) {
        const v4 = parseIp4(p);
        if (!v4) return null;
        out.push(v4.value >>> 16, v4.value & 0xffff);
      } else {
        const g = parseHexGroup(p);
        if (g < 0) return null;
        out.push(g);
      }
    }
    return out;
  };
  let groups: number[];
  if (dbl === -1) {
    const g = expand(s);
    if (!g || g.length !== 8) return null;
    groups = g;
  } else {
    const head = expand(s.slice(0, dbl));
    const tail = expand(s.slice(dbl + 2));
    if (!head || !tail) return null;
    const fill = 8 - head.length - tail.length;
    if (fill < 1) return null;
    groups = [...head, ...new Array<number>(fill).fill(0), ...tail];
  }
  return groups;
}

/**
 * Parse an address as it appears in logs and in tcpserver's environment: IPv4, IPv6, or
 * an IPv4-mapped IPv6 address, which becomes the IPv4 address it stands for.
 */
export function parseIp(s: string): Ip | null {
  if (s.includes(':')) {
    const g = parseIp6Groups(s);
    if (!g) return null;
    if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
      return { family: 4, value: ((g[6] as number) * 65536 + (g[7] as number)) >>> 0, mapped: true };
    }
    return { family: 6, groups: g };
  }
  return parseIp4(s);
}

export function ip4Octets(ip: Ip4): [number, number, number, number] {
  const v = ip.value;
  return [Math.floor(v / 16777216) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];
}

/** Canonical text: dotted quad without leading zeros; RFC 5952 compressed IPv6. */
export function formatIp(ip: Ip): string {
  if (ip.family === 4) return ip4Octets(ip).join('.');
  const g = ip.groups;
  // longest run of zero groups (length >= 2), first one on ties
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (a: readonly number[]) => a.map((x) => x.toString(16)).join(':');
  if (bestStart < 0) return hex(g);
  return hex(g.slice(0, bestStart)) + '::' + hex(g.slice(bestStart + bestLen));
}

/** The full 32-hex-digit form of an IPv6 address (used for tree keys). */
export function ip6Hex(ip: Ip6): string {
  return ip.groups.map((x) => x.toString(16).padStart(4, '0')).join('');
}

/** Parse `a.b.c.d/n`, `v6/n` or a bare address (host network). Host bits must be zero only if strict. */
export function parseCidr(s: string, strict = false): Cidr | null {
  const slash = s.indexOf('/');
  const addr = slash === -1 ? s : s.slice(0, slash);
  const ip = parseIp(addr);
  if (!ip) return null;
  // an IPv4-mapped address keeps a v4 prefix only when written without a prefix
  const max = ip.family === 4 ? 32 : 128;
  let prefix = max;
  if (slash !== -1) {
    const p = s.slice(slash + 1);
    if (!/^[0-9]{1,3}$/.test(p)) return null;
    prefix = Number(p);
    if (ip.family === 4 && ip.mapped) {
      if (prefix < 96) return null;
      prefix -= 96;
    }
    if (prefix > max) return null;
  }
  const net = networkOf(ip, prefix);
  if (strict && !sameIp(net, ip)) return null;
  return { ip: net, prefix };
}

export function sameIp(a: Ip, b: Ip): boolean {
  if (a.family === 4) return b.family === 4 && a.value === b.value;
  if (b.family !== 6) return false;
  for (let i = 0; i < 8; i++) if (a.groups[i] !== b.groups[i]) return false;
  return true;
}

/** The network address of `ip` under `prefix` bits. */
export function networkOf(ip: Ip, prefix: number): Ip {
  if (ip.family === 4) {
    const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
    return { family: 4, value: (ip.value & mask) >>> 0, mapped: false };
  }
  const out = ip.groups.slice();
  for (let i = 0; i < 8; i++) {
    const bits = Math.max(0, Math.min(16, prefix - i * 16));
    const mask = bits === 0 ? 0 : (0xffff << (16 - bits)) & 0xffff;
    out[i] = (out[i] as number) & mask;
  }
  return { family: 6, groups: out };
}

export function cidrContains(net: Cidr, ip: Ip): boolean {
  if (net.ip.family !== ip.family) return false;
  return sameIp(networkOf(ip, net.prefix), net.ip);
}

export function formatCidr(c: Cidr): string {
  const max = c.ip.family === 4 ? 32 : 128;
  return c.prefix === max ? formatIp(c.ip) : `${formatIp(c.ip)}/${c.prefix}`;
}

/** Networks that say nothing about a sender's MTA: loopback, private, link-local, CGNAT, ULA. */
export const DEFAULT_EXCLUDES: readonly string[] = [
  '0.0.0.0/8',
  '10.0.0.0/8',
  '100.64.0.0/10',
  '127.0.0.0/8',
  '169.254.0.0/16',
  '172.16.0.0/12',
  '192.168.0.0/16',
  '::1/128',
  '::/128',
  'fc00::/7',
  'fe80::/10',
];
