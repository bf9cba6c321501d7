// Spamtrap patterns (the `traps` list of qgrey-spp(8) and `qgrey traps`): recipient addresses
// nobody sends wanted mail to. Pure.
//
//   trap@example.net      that address (lower case, <> taken off, as triplet recipients)
//   @example.net          every address of that domain
//   @.example.net         every address of that domain and of its subdomains
//   # comment             blank lines and `#` lines are skipped; text after the first blank
//                         of an entry line is a comment too
//
// No npm imports: the per-RCPT path.

import { normaliseRecipient } from './triplet.js';

export interface Traps {
  readonly addresses: ReadonlySet<string>;
  readonly domains: ReadonlySet<string>;
  /** domains whose subdomains are traps too, without the leading dot */
  readonly trees: readonly string[];
  /** lines that are not a pattern: [line number, text] */
  readonly bad: readonly (readonly [number, string])[];
}

const LOCAL = /^[\x21-\x3f\x41-\x7e]+$/;
const DOMAIN = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*$/;

export function parseTraps(text: string): Traps {
  const addresses = new Set<string>();
  const domains = new Set<string>();
  const trees: string[] = [];
  const bad: [number, string][] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/\r$/, '').trim();
    if (line === '' || line.startsWith('#')) return;
    const word = normaliseRecipient(line.split(/[ \t]/)[0]!);
    const at = word.lastIndexOf('@');
    const local = at === -1 ? '' : word.slice(0, at);
    let domain = at === -1 ? '' : word.slice(at + 1);
    const tree = local === '' && domain.startsWith('.');
    if (tree) domain = domain.slice(1);
    if (at === -1 || !DOMAIN.test(domain) || (local !== '' && !LOCAL.test(local))) {
      bad.push([i + 1, raw.slice(0, 200)]);
      return;
    }
    if (local !== '') addresses.add(word);
    else if (tree) trees.push(domain);
    else domains.add(domain);
  });
  return { addresses, domains, trees, bad };
}

/** The pattern `rcpt` (as SMTP gave it) falls under, or null. */
export function trapOf(traps: Traps, rcpt: string): string | null {
  const a = normaliseRecipient(rcpt);
  if (traps.addresses.has(a)) return a;
  const at = a.lastIndexOf('@');
  if (at === -1) return null;
  const domain = a.slice(at + 1);
  if (traps.domains.has(domain)) return '@' + domain;
  for (const t of traps.trees) if (domain === t || domain.endsWith('.' + t)) return '@.' + t;
  return null;
}

/** The blacklist SOURCE of a trap hit: `trap:ADDRESS`, with what a SOURCE may not hold as `_`. */
export function trapSource(address: string): string {
  return ('trap:' + address.replace(/[^A-Za-z0-9._\-:@/+]/g, '_')).slice(0, 200);
}
