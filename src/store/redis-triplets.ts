// The triplets of qgrey-spp on the shared Redis store (qgrey(5), REDIS STORE: PREFIX t:ID, the
// TTL its expiry gives): the compare-and-set every write goes through, and the merge of triplets
// from elsewhere (`qgrey import --store`). qgrey-spp's RCPT path (src/spp/redis-rcpt.ts) and the
// commands share them here, below both.
//
// No npm imports.

import { QgreyError } from '../core/errors.js';
import { formatTriplet, parseTriplet, type Triplet } from '../core/triplet.js';

/** Writes a triplet tries before it gives up on one that other hosts keep changing. */
export const TRIES = 10;

/** Compare-and-set: ARGV[1] the value read ('' : absent), ARGV[2] the new value, ARGV[3] its TTL in ms. 1 written, 0 changed meanwhile. */
export const CAS = `
local v = redis.call('GET', KEYS[1])
if ARGV[1] == '' then
  if v then return 0 end
elseif v ~= ARGV[1] then
  return 0
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
`;

/**
 * Triplets from elsewhere (`qgrey import --store`) merged into the store's: each key read,
 * merged with `merge`, written back only if unchanged meanwhile (CAS), with the TTL its expiry
 * gives; one already expired at `now` is left out. Returns how many were written.
 */
export async function mergeTripletsInto(
  c: { get(k: string): Promise<string | null>; eval(script: string, keys: number, ...args: (string | number)[]): Promise<unknown> },
  prefix: string,
  triplets: Iterable<readonly [string, Triplet]>,
  merge: (stored: Triplet, incoming: Triplet) => Triplet,
  now: number,
): Promise<number> {
  let written = 0;
  for (const [id, t] of triplets) {
    const k = `${prefix}t:${id}`;
    for (let i = 0; ; i++) {
      const v = await c.get(k);
      const old = v === null ? null : parseTriplet(v);
      const m = old === null ? t : merge(old, t);
      if (m.expires <= now) break;
      if ((await c.eval(CAS, 1, k, v ?? '', formatTriplet(m), Math.max(1000, Math.ceil((m.expires - now) * 1000)))) === 1) {
        written++;
        break;
      }
      if (i === TRIES) throw new QgreyError(`unable to write the triplet ${k}: changed by another host ${TRIES} times in a row`, 111);
    }
  }
  return written;
}
