// qgrey-spp on the shared Redis store (QGREY_STORE=redis://…; qgrey(5) REDIS STORE): the
// triplets, the client networks of auto-whitelisting and the cached sender pools are Redis
// keys, so that every MX host sharing the store sees the same triplet.
//
//   PREFIX t:ID   one triplet (ID tripletId(), value formatTriplet()'s line), TTL until its
//                 expiry: the retry window while deferred, the lifetime once passed
//   PREFIX c:ID   one client network (ID clientId(NET), value formatClient()'s line), TTL the
//                 triplets' lifetime (record_expire_good) from its last pass
//   PREFIX p:ID   one sender domain's cached pool (ID poolId(DOMAIN), value formatPool()'s line),
//                 TTL until its expiry
//
// The decision is runRcpt()'s, on what was read first: the client's record, the pool, the
// triplet and the client's connection-level entry (for auto-whitelisting), with the lists of
// the store. What it writes is then put back with one compare-and-set script per key: a key
// absent when read is created only if it is still absent (two hosts seeing a new triplet at
// once make one, with one first-seen time), a key read is replaced only if it still holds what
// was read. When another host wrote the triplet in between, the RCPT is decided again on the
// new value (ten tries in all). The spamtraps stay in the list directory's traps file; a trapped
// client goes into the store's blacklist.
//
// Imports node: builtins, src/core, src/store and src/spp only; ioredis through
// src/store/redis.js, loaded lazily (bin/qgrey-spp's bundle leaves it out).

import type { Env } from '../core/config.js';
import { QgreyError } from '../core/errors.js';
import { parseIp, type Ip } from '../core/ip.js';
import { keyOf } from '../core/key.js';
import { poolId, senderDomain, formatPool, parsePool, type PoolRecord } from '../core/pool.js';
import { clientId, formatClient, formatTriplet, parseClient, parseTriplet, tripletId, tripletKey, type ClientRecord, type Timers, type Triplet } from '../core/triplet.js';
import { findInText, type ListName } from '../store/lists.js';
import type { Entry, EntryAccess } from '../store/store.js';
import { trapChange } from '../store/trap-list.js';
import type { TripletAccess } from '../store/triplets.js';
import { lookupPool, type PoolMatch } from './pool.js';
import { applies, failResult, runRcpt, timersFrom, type SppConfig, type SppIo, type SppResult } from './rcpt.js';
import type { RedisStore } from '../store/redis.js';
import { CAS, TRIES } from '../store/redis-triplets.js';
import { selectedStore } from '../store/select.js';
import type { RedisLists } from '../store/redis-lists.js';



/** a write lost to another host's is decided again, this many times in all (each round, one writer wins) */

/** What the RCPT is decided with on Redis. */
export interface RedisRcpt {
  readonly store: RedisStore;
  readonly lists: RedisLists;
  /** the lists (qgreyd: its copy in memory); default: read from the store */
  readonly find?: (name: ListName, ip: Ip, now: number) => { readonly label: string; readonly message: string } | null;
  /** qgreyd's pool look-ups under way */
  readonly inflight?: SppIo['inflight'];
  /** the reply pairs (qgreyd: its copy of the list directory's replies file); default: the file, read per RCPT */
  readonly reply?: SppIo['reply'];
}

interface Write {
  readonly text: string;
  readonly ttlMs: number;
}

/** The store's keys as read, and the writes of one decision (a synchronous TripletAccess for runRcpt). */
class Snapshot implements TripletAccess {
  readonly writes = new Map<string, Write>();
  constructor(
    readonly where: string,
    private readonly read: Map<string, string | null>,
    private readonly now: number,
    private readonly clientTtl: number,
  ) {}

  private raw(k: string): string | null {
    const v = this.read.get(k);
    if (v === undefined) throw new QgreyError(`internal error: ${k} was not read first`, 111);
    return v;
  }

  private ttl(until: number): number {
    return Math.max(1000, Math.ceil((until - this.now) * 1000));
  }

  getTriplet(id: string): Triplet | null {
    const v = this.raw(`t:${id}`);
    return v === null ? null : parseTriplet(v);
  }

  putTriplet(id: string, t: Triplet): void {
    this.writes.set(`t:${id}`, { text: formatTriplet(t), ttlMs: this.ttl(t.expires) });
  }

  getClient(id: string): ClientRecord | null {
    const v = this.raw(`c:${id}`);
    return v === null ? null : parseClient(v);
  }

  putClient(id: string, c: ClientRecord): void {
    this.writes.set(`c:${id}`, { text: formatClient(c), ttlMs: this.ttl(c.last + this.clientTtl) });
  }

  getPool(id: string): PoolRecord | null {
    const v = this.read.get(`p:${id}`);
    return v === undefined || v === null ? null : parsePool(v);
  }

  putPool(id: string, p: PoolRecord): void {
    this.writes.set(`p:${id}`, { text: formatPool(p), ttlMs: this.ttl(p.expires) });
  }

  /** what was read under k ('' for absent), for the compare-and-set */
  was(k: string): string {
    return this.read.get(k) ?? '';
  }
}

/** Decide one RCPT on the Redis store. Never throws: what breaks is a FAIL result. */
export async function runRcptOnRedis(cfg: SppConfig, nowMs: number, env: Env, r: RedisRcpt): Promise<SppResult> {
  if (!applies(cfg)) return { command: null, event: null };
  try {
    const ip = parseIp(cfg.remoteIp);
    // what runRcpt refuses before it reads anything: let it say so
    if (ip === null || cfg.from === undefined || cfg.to === undefined) return runRcpt(cfg, nowMs, env, { triplets: () => new Snapshot(r.store.where, new Map(), 0, 0) });
    const timers = timersFrom(cfg.control, env);
    for (let attempt = 1; ; attempt++) {
      const res = await once(cfg, nowMs, env, r, ip, cfg.from, cfg.to, timers);
      if (res !== null) return res;
      if (attempt >= TRIES) throw new QgreyError(`the triplet changed under us ${TRIES} times in a row`, 111);
    }
  } catch (err) {
    return failResult(cfg, err);
  }
}

/** One try: null when another host wrote the triplet between our read and our write. */
async function once(cfg: SppConfig, nowMs: number, env: Env, r: RedisRcpt, ip: Ip, from: string, to: string, timers: Timers): Promise<SppResult | null> {
  const c = r.store.client;
  const prefix = r.store.target.prefix;
  const now = nowMs / 1000;
  const plain = tripletKey(ip, from, to, cfg.byIp);
  const cid = clientId(plain.net);
  const domain = cfg.pools ? senderDomain(from) : null;
  const pid = domain === null ? null : poolId(domain);
  const entryKey = keyOf(ip, r.store.layout);

  const names = [`c:${cid}`, ...(pid === null ? [] : [`p:${pid}`])];
  const [values, entry, lists] = await Promise.all([
    c.mget(...names.map((n) => prefix + n)),
    r.store.get(entryKey),
    r.find === undefined ? r.lists.snapshot() : Promise.resolve(null),
  ]);
  const read = new Map<string, string | null>(names.map((n, i) => [n, values[i] ?? null]));
  const snap = new Snapshot(r.store.where, read, now, Math.max(timers.good, 86400));

  let pool: PoolMatch = { net: null };
  if (cfg.pools) {
    try {
      pool = await lookupPool(cfg, ip, from, snap, now, r.inflight);
    } catch {
      pool = { net: null };
    }
  }
  const key = pool.net !== null ? { ...plain, net: pool.net } : plain;
  const id = tripletId(key);
  read.set(`t:${id}`, await c.get(prefix + `t:${id}`));

  // the connection-level entry of auto-whitelisting, written after the decision
  const made: { create?: number; touch?: number } = {};
  const entries: EntryAccess = {
    layout: r.store.layout,
    getSync: (k) => (k === entryKey ? (entry as Entry | null) : null),
    createSync: (k, first) => {
      if (k === entryKey) made.create = first;
      return true;
    },
    touchSync: (k, last) => {
      if (k === entryKey) made.touch = last;
      return true;
    },
  };
  const trapped: { address: string; source: string; until: number }[] = [];
  const io: SppIo = {
    triplets: () => snap,
    timers: () => timers,
    pool,
    entries: () => entries,
    trapped: (_c, address, source, until) => void trapped.push({ address, source, until }),
    ...(r.reply ? { reply: r.reply } : {}),
    list: (name, _c, a, t) => {
      if (r.find !== undefined) return r.find(name, a, t);
      const m = findInText(lists![name], a, t);
      return m === null ? null : { label: m.label, message: m.message };
    },
  };
  const res = runRcpt(cfg, nowMs, env, io);
  if (res.event === 'FAIL open' || res.event === 'FAIL closed') return res;

  // the triplet first: when another host changed it, nothing of this try is written
  const tw = snap.writes.get(`t:${id}`);
  if (tw !== undefined && (await c.eval(CAS, 1, prefix + `t:${id}`, snap.was(`t:${id}`), tw.text, tw.ttlMs)) !== 1) return null;
  for (const [k, w] of snap.writes) {
    if (k.startsWith('t:')) continue;
    // the client's count and the pool cache: a lost race costs one count or one look-up
    await c.set(prefix + k, w.text, 'PX', w.ttlMs);
  }
  if (made.create !== undefined) await r.store.create(entryKey, made.create);
  if (made.touch !== undefined) await r.store.touch(entryKey, made.touch);
  for (const t of trapped) {
    try {
      await r.lists.update('blacklist', trapChange(t.address, t.source, t.until).change);
    } catch (err) {
      return { ...res, note: `unable to blacklist ${t.address}: ${err instanceof Error ? err.message : String(err)}` };
    }
  }
  return res;
}

/**
 * The per-process program on Redis: one connection, one try at everything; the whole RCPT
 * gives up after twice the URL's timeout= (1500 ms by default) and follows QGREY_FAIL.
 */
export async function runRcptRedisProcess(cfg: SppConfig, nowMs: number, env: Env): Promise<SppResult> {
  if (!applies(cfg)) return { command: null, event: null };
  let t;
  try {
    t = selectedStore(cfg.store, {})!;
  } catch (err) {
    return failResult(cfg, err);
  }
  const budget = 2 * t.timeout;
  let opened: Promise<RedisRcpt> | null = null;
  let timer: NodeJS.Timeout | undefined;
  try {
    const work = (async () => {
      const { RedisStore } = await import('../store/redis.js');
      const { RedisLists } = await import('../store/redis-lists.js');
      opened = RedisStore.open(t, { layout: cfg.treeLayout, mode: 'connection' }).then((store) => ({ store, lists: new RedisLists(store.client, t.prefix, t.display) }));
      return runRcptOnRedis(cfg, nowMs, env, await opened);
    })();
    return await Promise.race([
      work.catch((err: unknown) => failResult(cfg, err)),
      new Promise<SppResult>((resolve) => {
        timer = setTimeout(() => resolve(failResult(cfg, new QgreyError(`the Redis store did not answer within ${budget} ms`, 111))), budget);
      }),
    ]);
  } finally {
    clearTimeout(timer);
    (opened as Promise<RedisRcpt> | null)?.then((o) => o.store.client.disconnect(), () => {});
  }
}
