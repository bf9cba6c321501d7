// SPF flattening (RFC 7208): which networks does a domain's SPF record let pass? Pure
// apart from the injected look-ups, so tests can feed it records directly.
//
// Followed: ip4, ip6, a, mx, include, redirect (with the optional /v4//v6 prefix lengths).
// Limits: at most 10 terms that query DNS (include, a, mx, ptr, exists, redirect), at most
// 10 MX hosts per mx term, at most 2 "void" look-ups (no answer); an include or redirect
// that comes back to a domain already being evaluated is a loop. Each is a permanent error
// ("permerror") for the whole domain, as an SPF checker would report it.
// Not flattenable, left out and reported in `skipped` (known and expected, the same on every
// run: not warnings): macros (%{...}), exists, ptr. Skipping them only
// ever whitelists less. `+all` would whitelist every address and is refused. Mechanisms
// after `all` are never reached and are ignored; so is `redirect` when `all` is present.
// Qualifiers: only pass (`+`, the default) networks are returned. A pass network that
// overlaps a network an earlier `-`, `~` or `?` term named is dropped, reported in `skipped` (the
// earlier term would decide for those addresses; dropping whitelists less, never more).

import { permanent, quote } from '../core/errors.js';
import { cidrContains, formatCidr, parseCidr, parseIp, type Cidr } from '../core/ip.js';
import { normDomain, validDomain, type Lookups } from './resolve.js';

export interface SpfNet {
  readonly cidr: Cidr;
  /** how it was reached: `include:_spf.example.net ip4:192.0.2.0/24` */
  readonly via: string;
}

export interface SpfResult {
  readonly domain: string;
  readonly nets: SpfNet[];
  /** terms that could not be flattened, and networks dropped: expected, reported, not warnings */
  readonly skipped: string[];
  /** DNS-querying terms counted against the limit of 10 */
  readonly lookups: number;
}

export interface SpfLimits {
  readonly maxLookups: number;
  readonly maxVoids: number;
  readonly maxMxHosts: number;
}

export const RFC_LIMITS: SpfLimits = { maxLookups: 10, maxVoids: 2, maxMxHosts: 10 };

/** The SPF record among a name's TXT records (chunks joined without spaces, RFC 7208 3.3). */
export function pickSpf(txts: readonly (readonly string[])[]): string[] {
  return txts.map((chunks) => chunks.join('')).filter((t) => /^v=spf1(?: |$)/i.test(t));
}

function overlaps(a: Cidr, b: Cidr): boolean {
  return a.ip.family === b.ip.family && (cidrContains(a, b.ip) || cidrContains(b, a.ip));
}

const MECH = /^([+\-~?]?)([A-Za-z][A-Za-z0-9]*)(.*)$/;
const DUAL_CIDR = /^(?::([^/]*))?(?:\/([0-9]{1,3}))?(?:\/\/([0-9]{1,3}))?$/;

export async function flattenSpf(domain: string, dns: Lookups, limits: SpfLimits = RFC_LIMITS): Promise<SpfResult> {
  const top = normDomain(domain);
  const skipped: string[] = [];
  let lookups = 0;
  let voids = 0;
  const fail = (where: string, msg: string) => permanent(`spf:${top}: ${where ? where + ': ' : ''}${msg}`);

  const count = (where: string) => {
    lookups++;
    if (lookups > limits.maxLookups) throw fail(where, `more than ${limits.maxLookups} DNS-querying terms (RFC 7208 4.6.4 limit; permerror)`);
  };
  const voidHit = (where: string) => {
    voids++;
    if (voids > limits.maxVoids) throw fail(where, `more than ${limits.maxVoids} look-ups with no answer (RFC 7208 4.6.4 void limit; permerror)`);
  };

  async function addresses(name: string, p4: number, p6: number, via: string, where: string): Promise<SpfNet[]> {
    const [v4, v6] = await Promise.all([dns.a(name), dns.aaaa(name)]);
    const out: SpfNet[] = [];
    for (const a of v4) {
      const c = parseCidr(`${a}/${p4}`);
      if (c && c.ip.family === 4) out.push({ cidr: c, via });
    }
    for (const a of v6) {
      const c = parseCidr(`${a}/${p6}`);
      if (c) out.push({ cidr: c, via });
    }
    if (v4.length + v6.length === 0) voidHit(where);
    return out;
  }

  /** The domain-spec of a term: a name, or null (reported in `skipped`) when it uses macros. */
  function target(spec: string, where: string): string | null {
    if (spec.includes('%')) {
      skipped.push(`spf:${top}: ${where}: uses a macro: not flattenable, skipped`);
      return null;
    }
    if (!validDomain(spec)) throw fail(where, `bad domain ${quote(spec)} (permerror)`);
    return normDomain(spec);
  }

  async function evaluate(d: string, stack: readonly string[], chain: string): Promise<{ pass: SpfNet[]; fail: Cidr[] }> {
    if (stack.includes(d)) throw fail(chain, `loop: ${[...stack, d].join(' -> ')} (permerror)`);
    const recs = pickSpf(await dns.txt(d));
    if (recs.length === 0) {
      if (stack.length === 0) throw permanent(`spf:${top}: no SPF record (no TXT record at ${d} starts with v=spf1)`);
      throw fail(chain, `${d} has no SPF record (permerror)`);
    }
    if (recs.length > 1) throw fail(chain, `${d} has ${recs.length} SPF records (permerror)`);
    const terms = (recs[0] as string).split(' ').filter((t) => t !== '').slice(1);
    const pass: SpfNet[] = [];
    const failNets: Cidr[] = [];
    let redirect: string | null = null;
    let seenRedirect = false;
    let sawAll = false;
    const stackHere = [...stack, d];
    const pre = chain ? chain + ' ' : '';

    const add = (qual: string, nets: readonly SpfNet[], where: string) => {
      if (qual !== '+') {
        for (const n of nets) failNets.push(n.cidr);
        return;
      }
      for (const n of nets) {
        const hole = failNets.find((f) => overlaps(f, n.cidr));
        if (hole) skipped.push(`spf:${top}: ${where}: ${formatCidr(n.cidr)} overlaps ${formatCidr(hole)} named by an earlier non-pass term: dropped`);
        else pass.push(n);
      }
    };

    for (const term of terms) {
      const mod = /^([A-Za-z][A-Za-z0-9_.-]*)=(.*)$/.exec(term);
      if (mod) {
        const name = mod[1]!.toLowerCase();
        if (name === 'redirect') {
          if (seenRedirect) throw fail(chain || d, 'two redirect= modifiers (permerror)');
          seenRedirect = true;
          redirect = mod[2]!;
        }
        continue; // exp= and unknown modifiers do not change which addresses pass
      }
      const m = MECH.exec(term);
      if (!m) throw fail(chain || d, `cannot parse term ${quote(term)} (permerror)`);
      const qual = m[1] || '+';
      const name = m[2]!.toLowerCase();
      const rest = m[3]!;
      const where = `${pre}${term}`;
      switch (name) {
        case 'all':
          if (rest !== '') throw fail(where, 'all takes no argument (permerror)');
          if (qual === '+') throw fail(where, '+all lets every address pass: refusing to whitelist the whole Internet');
          sawAll = true;
          break;
        case 'ip4':
        case 'ip6': {
          if (!rest.startsWith(':')) throw fail(where, `${name} needs an address (permerror)`);
          const v = rest.slice(1);
          const slash = v.indexOf('/');
          const addr = slash === -1 ? v : v.slice(0, slash);
          const ip = parseIp(addr);
          const want = name === 'ip4' ? 4 : 6;
          const ok = ip && (want === 4 ? ip.family === 4 && !ip.mapped && !addr.includes(':') : addr.includes(':'));
          if (!ok) throw fail(where, `bad ${name} address ${quote(addr)} (permerror)`);
          if (slash !== -1) {
            const p = v.slice(slash + 1);
            if (!/^[0-9]{1,3}$/.test(p) || Number(p) > (want === 4 ? 32 : 128)) throw fail(where, `bad prefix length ${quote(p)} (permerror)`);
          }
          const c = parseCidr(v);
          if (!c) throw fail(where, `bad ${name} network ${quote(v)} (permerror)`);
          add(qual, [{ cidr: c, via: where }], where);
          break;
        }
        case 'a':
        case 'mx': {
          const dc = DUAL_CIDR.exec(rest);
          if (!dc) throw fail(where, `cannot parse ${quote(term)} (permerror)`);
          const p4 = dc[2] === undefined ? 32 : Number(dc[2]);
          const p6 = dc[3] === undefined ? 128 : Number(dc[3]);
          if (p4 > 32 || p6 > 128) throw fail(where, 'bad prefix length (permerror)');
          count(where);
          const host = dc[1] === undefined ? d : target(dc[1], where);
          if (host === null) break;
          if (name === 'a') {
            add(qual, await addresses(host, p4, p6, where, where), where);
          } else {
            const mxs = (await dns.mx(host)).filter((x) => x.exchange !== '' && x.exchange !== '.');
            if (mxs.length === 0) {
              voidHit(where);
              break;
            }
            if (mxs.length > limits.maxMxHosts) throw fail(where, `${host} has ${mxs.length} MX hosts, over the limit of ${limits.maxMxHosts} (permerror)`);
            for (const x of mxs) {
              const [v4, v6] = await Promise.all([dns.a(x.exchange), dns.aaaa(x.exchange)]);
              const nets: SpfNet[] = [];
              for (const a of v4) {
                const c = parseCidr(`${a}/${p4}`);
                if (c) nets.push({ cidr: c, via: `${where} (${normDomain(x.exchange)})` });
              }
              for (const a of v6) {
                const c = parseCidr(`${a}/${p6}`);
                if (c) nets.push({ cidr: c, via: `${where} (${normDomain(x.exchange)})` });
              }
              add(qual, nets, where);
            }
          }
          break;
        }
        case 'include': {
          if (!rest.startsWith(':') || rest.length === 1) throw fail(where, 'include needs a domain (permerror)');
          count(where);
          const t = target(rest.slice(1), where);
          if (t === null) break;
          const sub = await evaluate(t, stackHere, where);
          // include matches exactly where the included record passes
          add(qual, sub.pass, where);
          break;
        }
        case 'exists':
        case 'ptr':
          count(where);
          skipped.push(`spf:${top}: ${where}: ${name} depends on the connecting client: not flattenable, skipped`);
          break;
        default:
          throw fail(where, `unknown mechanism ${quote(name)} (permerror)`);
      }
      if (sawAll) break;
    }
    if (redirect !== null && !sawAll) {
      const where = `${pre}redirect=${redirect}`;
      count(where);
      const t = target(redirect, where);
      if (t !== null) {
        const sub = await evaluate(t, stackHere, where);
        add('+', sub.pass, where);
        for (const f of sub.fail) failNets.push(f);
      }
    }
    return { pass, fail: failNets };
  }

  const r = await evaluate(top, [], '');
  return { domain: top, nets: r.pass, skipped, lookups };
}

/** Remove duplicates and networks contained in another one; keeps the first `via`. */
export function aggregate(nets: readonly SpfNet[]): SpfNet[] {
  const sorted = [...nets].sort((a, b) => a.cidr.prefix - b.cidr.prefix);
  const out: SpfNet[] = [];
  for (const n of sorted) if (!out.some((o) => o.cidr.ip.family === n.cidr.ip.family && cidrContains(o.cidr, n.cidr.ip) && o.cidr.prefix <= n.cidr.prefix)) out.push(n);
  return out;
}
