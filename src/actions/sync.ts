// `qgrey sync --from A --to B`: every entry of A merged into B, where one side is a greylist
// tree (a directory) and the other the shared Redis store (a redis://, rediss:// or
// redis+sentinel:// URL), either way round. Moves a site between the tree and Redis, and lets
// a host that keeps the C jgreylist share one greylist from cron (one run each way).
// Idempotent: for a key both sides have, the earliest first seen and the latest last seen win,
// exactly (MergeOptions.exact: no whole-second adjustment, so an entry never revisited stays
// so and jgreylist-clean's one-time rule still applies to it); B's other entries are kept;
// nothing is removed from either side. Both sides are locked for the run (not with --dry-run).
// Entries past max-age or one-time are not written to Redis (they would expire at once).
//
// The lists too: the whitelist and blacklist files of the list directory (--listdir, else
// $QGREY_LISTDIR) and the store's lists, merged the same way round with every entry's expiry,
// source, message and comment (store/list-merge.ts: same addresses and source are one entry,
// the longer-lasting wins, nothing is removed, expired entries are not carried over). Each list
// is written once, under its lock (a file) or in one transaction (Redis).

import { listDir, type Env } from '../core/config.js';
import { resolve } from 'node:path';
import { permanent, quote } from '../core/errors.js';
import type { Layout } from '../core/key.js';
import { openStore, type OpenStore } from '../store/open.js';
import type { RedisStore } from '../store/redis.js';
import { hidePasswords, isRedisUrl } from '../store/redis-url.js';
import { anomalyLine, type Entry, type GreyStore, type StoreLock } from '../store/store.js';
import { FileLists, type ListStore } from '../store/list-store.js';
import { mergeListLines, type ListMergeCounts } from '../store/list-merge.js';
import { LIST_NAMES, type ListName } from '../store/lists.js';
import { openLists } from '../store/open.js';
import { detectLayout } from '../store/walk.js';
import { warn } from '../render/diag.js';
import type { Clock } from '../core/clock.js';

export interface SyncArgs {
  /** the environment: the settings a flag does not give (src/core/config.ts) */
  env: Env;
  from: string;
  to: string;
  /** --owner USER:GROUP for the tree side (default: the owner of the tree's root) */
  owner?: string;
  /** the list files' directory (default: $QGREY_LISTDIR, else the default) */
  listdir?: string;
  /** --entries-only: leave the lists alone */
  entriesOnly?: boolean;
  dryRun: boolean;
  json: boolean;
  quiet: boolean;
}

export interface SyncReport {
  from: string;
  to: string;
  dryRun: boolean;
  /** entries read from the source */
  read: number;
  /** keys the target did not have */
  added: number;
  /** keys whose merged times differ from the target's */
  updated: number;
  /** keys the target already had with the same (or wider) times */
  unchanged: number;
  /** source entries past jgreylist-clean's rules, not written to Redis (where they would expire at once) */
  expired: number;
  /** the lists, each merged from the source's into the target's */
  lists: Record<ListName, ListMergeCounts & { from: string; to: string }> | null;
  seconds: number;
}

/** Times as both stores keep them: microseconds. */
const us = (x: number) => Math.round(x * 1e6) / 1e6;

export async function run(argv: SyncArgs, clock: Clock, open: OpenStore = openStore): Promise<number> {
  const t0 = process.hrtime.bigint();
  const fromRedis = isRedisUrl(argv.from);
  const toRedis = isRedisUrl(argv.to);
  if (fromRedis === toRedis) {
    throw permanent(`unable to sync ${quote(hidePasswords(argv.from))} to ${quote(hidePasswords(argv.to))}: one side must be a greylist directory and the other a redis://, rediss:// or redis+sentinel:// URL`);
  }
  const treeArg = resolve(fromRedis ? argv.to : argv.from);
  const url = fromRedis ? argv.from : argv.to;
  const now = clock();

  // the layout: the tree's when it has entries, else the Redis store's, else class C
  const stores: GreyStore[] = [];
  const locks: StoreLock[] = [];
  try {
    const probe = (await open({ dir: treeArg, env: argv.env, store: url })) as GreyStore & Partial<Pick<RedisStore, 'storedLayout'>>;
    stores.push(probe);
    const treeLayout = detectLayout(treeArg)?.layout ?? null;
    const layout: Layout = treeLayout ?? (await probe.storedLayout?.()) ?? 'classc';
    await probe.close();
    stores.length = 0;
    const redis = (await open({ dir: treeArg, env: argv.env, store: url, layout })) as GreyStore & RedisStore;
    stores.push(redis);
    const tree = await open({ dir: treeArg, env: argv.env, store: '', layout, owner: argv.owner, onAnomaly: (a) => warn(anomalyLine(treeArg, a)) });
    stores.push(tree);
    const [src, dst] = fromRedis ? [redis, tree] : [tree, redis];
    const none = (): ListMergeCounts & { from: string; to: string } => ({ from: '', to: '', read: 0, added: 0, updated: 0, unchanged: 0, expired: 0, bad: 0 });
    const rep: SyncReport = { from: src.where, to: dst.where, dryRun: argv.dryRun, read: 0, added: 0, updated: 0, unchanged: 0, expired: 0, lists: argv.entriesOnly ? null : { whitelist: none(), blacklist: none() }, seconds: 0 };
    if (!argv.dryRun) {
      locks.push(await src.lock('qgrey sync'));
      locks.push(await dst.lock('qgrey sync'));
    }
    for await (const batch of src.scan()) {
      rep.read += batch.length;
      const have = await Promise.all(batch.map((e) => dst.get(e.key)));
      const out: Entry[] = [];
      batch.forEach((e, i) => {
        const s = have[i] ?? null;
        const first = us(s === null ? e.first : Math.min(s.first, e.first));
        const last = us(s === null ? e.last : Math.max(s.last, e.last));
        if (s !== null && us(s.first) === first && us(s.last) === last) {
          rep.unchanged++;
          return;
        }
        if (dst === redis && redis.expiresAt(first, last) <= now) {
          rep.expired++;
          return;
        }
        if (s === null) rep.added++;
        else rep.updated++;
        out.push({ key: e.key, first, last });
      });
      if (out.length > 0 && !argv.dryRun) await dst.merge(out, { keepSince: 0, now, exact: true });
    }
    if (rep.lists !== null) await syncLists(argv, url, fromRedis, now, rep.lists);
    rep.seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    if (argv.json) process.stdout.write(JSON.stringify(rep) + '\n');
    else if (!argv.quiet) {
      process.stdout.write(
        `sync: ${rep.read} entries read from ${rep.from}; ${rep.added} added, ${rep.updated} updated, ${rep.unchanged} unchanged in ${rep.to}` +
          (rep.expired > 0 ? `; ${rep.expired} past max-age or one-time not written` : '') +
          (argv.dryRun ? ' (dry run: nothing written)' : '') +
          ` (${rep.seconds.toFixed(1)} s)\n`,
      );
      for (const name of rep.lists === null ? [] : LIST_NAMES) {
        const l = rep.lists![name];
        process.stdout.write(
          `sync: ${name}: ${l.read} entries read from ${l.from}; ${l.added} added, ${l.updated} updated, ${l.unchanged} unchanged in ${l.to}` +
            (l.expired > 0 ? `; ${l.expired} expired not written` : '') +
            (l.bad > 0 ? `; ${l.bad} lines not understood left out` : '') +
            (argv.dryRun ? ' (dry run: nothing written)' : '') +
            '\n',
        );
      }
    }
    return 0;
  } finally {
    for (const l of locks.reverse()) await l.release().catch(() => {});
    for (const s of stores) await s.close().catch(() => {});
  }
}

/** Both lists, from the source side's into the target side's (see the top of the file). */
async function syncLists(argv: SyncArgs, url: string, fromRedis: boolean, now: number, rep: NonNullable<SyncReport['lists']>): Promise<void> {
  const files = new FileLists(listDir(argv.listdir, argv.env), argv.env);
  let redis: ListStore | null = null;
  try {
    redis = await openLists({ store: url, env: argv.env });
    const [src, dst] = fromRedis ? [redis, files] : [files, redis];
    for (const name of LIST_NAMES) {
      const source = await src.read(name);
      let counts: ListMergeCounts | null = null;
      // nothing to bring: the target is not touched (not even its directory made)
      if (source.length > 0) await dst.update(
        name,
        (lines) => {
          const m = mergeListLines(lines, source, now);
          counts = m.counts;
          return m.lines;
        },
        { dryRun: argv.dryRun, create: true },
      );
      rep[name] = { ...(counts ?? mergeListLines([], source, now).counts), from: src.where(name), to: dst.where(name) };
    }
  } finally {
    await redis?.close();
  }
}
