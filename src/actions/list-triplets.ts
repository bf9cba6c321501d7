// `qgrey list --triplets`: qgrey-spp's triplets, one typed record per line, kind first:
//   DEFERRED|NET|FROM|TO|FIRST|LAST|UNTIL|PASSED|BLOCKED   not passed yet (UNTIL: end of the delay)
//   PASSED|NET|FROM|TO|FIRST|LAST|EXPIRES|PASSED|BLOCKED   passed, until EXPIRES unless seen again
//   EXPIRED|NET|FROM|TO|FIRST|LAST|EXPIRES|PASSED|BLOCKED  past its expiry (the next RCPT starts again)
// NET is the client network or the sender pool (spf:DOMAIN), FROM `-` for the null sender;
// times as `qgrey list` prints them. From the triplet directory (--rcpt-dir), or the shared
// Redis store's PREFIX t: keys when --store or QGREY_STORE names one. --json: one object per line.

import { existsSync } from 'node:fs';
import { temporary } from '../core/errors.js';
import { parseTriplet, type Triplet } from '../core/triplet.js';
import { Zone } from '../core/zone.js';
import { LineWriter } from '../render/writer.js';
import { selectedStore } from '../store/select.js';
import { TreeTriplets } from '../store/triplets.js';
import { rcptDir, storeSetting, type Env } from '../core/config.js';
import { clean } from '../core/text.js';
import type { Clock } from '../core/clock.js';

export interface ListTripletsArgs {
  /** the environment: the settings a flag does not give (src/core/config.ts) */
  env: Env;
  rcptDir?: string;
  store?: string;
  utc?: boolean;
  json: boolean;
}

export function tripletKind(t: Triplet, now: number): 'DEFERRED' | 'PASSED' | 'EXPIRED' {
  if (now >= t.expires) return 'EXPIRED';
  return t.passed > 0 ? 'PASSED' : 'DEFERRED';
}

async function* fromRedis(store: string): AsyncIterable<Triplet> {
  const t = selectedStore(store, {})!;
  const { RedisStore } = await import('../store/redis.js');
  const s = await RedisStore.open(t, { layout: null, mode: 'command' });
  try {
    let cursor = '0';
    do {
      let keys: string[];
      let values: (string | null)[];
      try {
        [cursor, keys] = await s.client.scan(cursor, 'MATCH', `${t.prefix}t:*`, 'COUNT', 1000);
        values = keys.length === 0 ? [] : await s.client.mget(...keys);
      } catch (err) {
        throw temporary(`unable to read the triplets of the Redis store ${t.display}: ${err instanceof Error ? err.message : String(err)}`, err);
      }
      for (const v of values) {
        const x = v === null ? null : parseTriplet(v);
        if (x !== null) yield x;
      }
    } while (cursor !== '0');
  } finally {
    await s.close();
  }
}

export async function runTriplets(argv: ListTripletsArgs, clock: Clock): Promise<number> {
  const now = clock();
  const zone = argv.utc ? new Zone('UTC') : new Zone();
  const when = (s: number) => zone.formatSeconds(Math.floor(s));
  const out = new LineWriter(process.stdout, process.stdout.isTTY === true);
  const store = storeSetting(argv.store, argv.env);
  let source: Iterable<Triplet> | AsyncIterable<Triplet>;
  if (store !== '') source = fromRedis(store);
  else {
    const dir = rcptDir(argv.rcptDir, argv.env);
    // no directory yet: qgrey-spp has kept no triplet
    source = existsSync(dir) ? (function* () {
      for (const [, t] of new TreeTriplets(dir).scanTriplets()) yield t;
    })() : [];
  }
  for await (const t of source) {
    const kind = tripletKind(t, now);
    const net = clean(t.net, 120, false);
    const from = t.from === '' ? '-' : clean(t.from, 200, false);
    const to = clean(t.to, 200, false);
    if (argv.json) {
      await out.write(
        JSON.stringify({ kind: kind.toLowerCase(), net, from: t.from, to: t.to, first: t.first, last: t.last, blockUntil: t.blockUntil, expires: t.expires, passed: t.passed, blocked: t.blocked, ...(t.origin !== undefined ? { origin: t.origin, moved: t.moved ?? 0 } : {}) }),
        false,
      );
    } else {
      const third = kind === 'DEFERRED' ? t.blockUntil : t.expires;
      await out.write(`${kind}|${net}|${from}|${to}|${when(t.first)}|${when(t.last)}|${when(third)}|${t.passed}|${t.blocked}`);
    }
  }
  await out.end();
  return 0;
}
