// The shared greylist store for several MX hosts: Redis, through the same interface as the
// jgreylist tree. Selected by QGREY_STORE=redis://… (redis-url.ts); the client library
// (ioredis) is imported only here, and only when this store is opened.
//
// KEY SCHEMA (qgrey(5), "REDIS STORE"; PREFIX is `qgrey:` unless the URL says prefix=)
//
//   PREFIX e:KEY        one greylist entry. KEY is the tree's relative path (core/key.ts):
//                       `192/000/002`, `192/000/002/007`, `v6/20010db8/00000001[/…]`.
//                       Value: `FIRST LAST`, seconds since the epoch in decimal (fractions
//                       kept), first seen and last seen (the tree's mtime and atime).
//                       TTL, jgreylist-clean's rules: while FIRST and LAST are the same whole
//                       second (never revisited), it expires at FIRST + min(one-time, max-age);
//                       once revisited, at LAST + max-age. Every write sets it again.
//   PREFIX layout       `classc` or `byip`: set by the first writer, and every writer of the
//                       other layout is refused (a tree never mixes them, nor does this).
//   PREFIX lock         the maintenance lock (rebuild, evict, sync): `HOST PID WHAT TOKEN`,
//                       30 s TTL renewed every 10 s by its holder, so a killed run's lock goes.
//   PREFIX list:whitelist, PREFIX list:blacklist
//                       the lists, as the text of the list files (qgrey(5), LIST FILES).
//   PREFIX lists:version
//                       a counter raised by every list write; qgreyd polls it (redis-lists.ts).
//
// Atomicity: create is one SET NX (two MX hosts seeing a new sender at the same instant make
// one entry with one first-seen time); touch, merge and remove-if-unchanged are Lua scripts,
// so no read-modify-write can interleave with another host's.

import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { Redis as Client, RedisOptions } from 'ioredis';
import { permanent, temporary, QgreyError } from '../core/errors.js';
import { validKey, type Layout } from '../core/key.js';
import { expireByScan, type Anomaly, type Entry, type ExpireRules, type Expired, type GreyStore, type MergeOptions, type Removed, type ScanOptions, type StoreLock, type Walked } from './store.js';
import type { RedisTarget } from './redis-url.js';
import { clean } from '../core/text.js';

/**
 * How the client behaves when Redis is away: 'server' (qgreyd) never queues a command while
 * disconnected (it fails at once, and the failure switch answers) and reconnects forever in
 * the background; 'command' (the CLI) tries a little, then fails; 'connection' (the
 * per-process wrapper, one SMTP connection) tries once and fails.
 */
export type RedisMode = 'server' | 'command' | 'connection';

export interface RedisStoreOptions {
  /** the layout the caller writes (JGREYLIST_BY_IP); null: whatever the store holds */
  readonly layout: Layout | null;
  readonly mode: RedisMode;
  /** QGREY_LOCK_WAIT seconds */
  readonly lockWait?: number;
  /** keys under PREFIX e: that are not entries of the layout, or values that are not two times: left alone */
  readonly onAnomaly?: ((a: Anomaly) => void) | undefined;
  /** called on every connection state change (qgreyd logs one line for each) */
  readonly onState?: (state: 'up' | 'down', detail: string) => void;
}

const SCRIPT_TOUCH = `
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local sp = string.find(v, ' ', 1, true)
local fs, ls = string.sub(v, 1, sp - 1), string.sub(v, sp + 1)
local f, l = tonumber(fs), tonumber(ls)
local nl = tonumber(ARGV[1])
if nl > l then ls = ARGV[1]; l = nl end
local exp
if math.floor(f) == math.floor(l) then exp = f + math.min(tonumber(ARGV[2]), tonumber(ARGV[3])) else exp = l + tonumber(ARGV[3]) end
local ms = math.floor(exp * 1000)
if ms <= tonumber(ARGV[4]) then redis.call('DEL', KEYS[1]); return 0 end
redis.call('SET', KEYS[1], fs .. ' ' .. ls, 'PXAT', string.format('%.0f', ms))
return 1
`;

// ARGV: keepSince, now, oneTime, maxAge, nowMs, exact (0/1), then FIRST LAST per key
const SCRIPT_MERGE = `
local keep, now, one, max, nowms = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local exact = ARGV[6] == '1'
local written = 0
for i, k in ipairs(KEYS) do
  local fs, ls = ARGV[5 + 2 * i], ARGV[6 + 2 * i]
  local f, l = tonumber(fs), tonumber(ls)
  local v = redis.call('GET', k)
  if v then
    local sp = string.find(v, ' ', 1, true)
    local sfs, sls = string.sub(v, 1, sp - 1), string.sub(v, sp + 1)
    local sf, sl = tonumber(sfs), tonumber(sls)
    if exact and sl and sf then
      if sf < f then f = sf; fs = sfs end
      if sl > l then l = sl; ls = sls end
    elseif sl and sf and sl >= keep then
      if sf < f and sf <= now then f = sf; fs = sfs end
      if sl > now then sl = now; sls = ARGV[2] end
      if sl > l then l = sl; ls = sls end
    end
  end
  if not exact and math.floor(f) >= math.floor(l) then f = math.floor(l) - 1; fs = string.format('%.0f', f) end
  local exp
  if math.floor(f) == math.floor(l) then exp = f + math.min(one, max) else exp = l + max end
  local ms = math.floor(exp * 1000)
  if ms > nowms then
    redis.call('SET', k, fs .. ' ' .. ls, 'PXAT', string.format('%.0f', ms))
    written = written + 1
  else
    redis.call('DEL', k)
  end
end
return written
`;

// ARGV: dry (0/1), then MTIME ATIME per key
const SCRIPT_REMOVE = `
local removed, changed, gone = 0, 0, 0
for i, k in ipairs(KEYS) do
  local v = redis.call('GET', k)
  if not v then gone = gone + 1 else
    local sp = string.find(v, ' ', 1, true)
    local f, l = tonumber(string.sub(v, 1, sp - 1)), tonumber(string.sub(v, sp + 1))
    if f and l and math.floor(f) == tonumber(ARGV[2 * i]) and math.floor(l) == tonumber(ARGV[2 * i + 1]) then
      if ARGV[1] == '0' then redis.call('DEL', k) end
      removed = removed + 1
    else changed = changed + 1 end
  end
end
return {removed, changed, gone}
`;

const SCRIPT_UNLOCK = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;
const SCRIPT_RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0`;

interface Script {
  readonly lua: string;
  readonly sha: string;
}
const script = (lua: string): Script => ({ lua, sha: createHash('sha1').update(lua).digest('hex') });
const TOUCH = script(SCRIPT_TOUCH);
const MERGE = script(SCRIPT_MERGE);
const REMOVE = script(SCRIPT_REMOVE);
const UNLOCK = script(SCRIPT_UNLOCK);
const RENEW = script(SCRIPT_RENEW);

const LOCK_TTL_MS = 30_000;
/** keys per Lua call and per SCAN step: a script of this size runs in about a millisecond */
const BATCH = 1000;

/** A number as Redis stores it: plain decimal, never exponent notation. */
function num(x: number): string {
  if (!Number.isFinite(x) || x < 0) throw permanent(`a greylist time must be a non-negative number, not ${x}`);
  // microseconds, as the tree keeps them
  const s = String(Math.round(x * 1e6) / 1e6);
  return s.includes('e') ? x.toFixed(6) : s;
}

function parseValue(key: string, v: string): Entry | null {
  const sp = v.indexOf(' ');
  if (sp === -1) return null;
  const first = Number(v.slice(0, sp));
  const last = Number(v.slice(sp + 1));
  if (!Number.isFinite(first) || !Number.isFinite(last)) return null;
  return { key, first, last };
}

/** The message of a client error, without the URL's password (ioredis never prints it). */
function why(err: unknown): string {
  return clean(err instanceof Error ? err.message : String(err));
}

/** clients that close() is ending: not to be started again */
const closing = new WeakSet<object>();

/** Connect (lazily importing ioredis) with the behaviour of `mode`; rejects when it cannot. */
export async function connectRedis(t: RedisTarget, mode: RedisMode, onState?: RedisStoreOptions['onState']): Promise<Client> {
  let RedisCtor: typeof import('ioredis').Redis;
  try {
    RedisCtor = (await import('ioredis')).Redis;
  } catch (err) {
    throw temporary(`unable to load the Redis client (ioredis) for ${t.display}: ${why(err)}`, err);
  }
  let tls: RedisOptions['tls'];
  if (t.tls) {
    try {
      tls = t.ca !== null ? { ca: readFileSync(t.ca) } : {};
    } catch (err) {
      throw temporary(`unable to read the CA file ${t.ca} of ${t.display}: ${why(err)}`, err);
    }
  }
  const server = mode === 'server';
  const retry = server ? (times: number) => Math.min(100 * times, 1000) : mode === 'connection' ? () => null : (times: number) => (times > 2 ? null : 100 * times);
  const opts: RedisOptions = {
    lazyConnect: true,
    db: t.db,
    connectTimeout: t.timeout,
    commandTimeout: t.timeout,
    enableOfflineQueue: !server,
    maxRetriesPerRequest: mode === 'command' ? 1 : 0,
    autoResendUnfulfilledCommands: false,
    retryStrategy: retry,
    ...(t.username !== null ? { username: t.username } : {}),
    ...(t.password !== null ? { password: t.password } : {}),
  };
  if (t.master !== null) {
    Object.assign(opts, {
      sentinels: t.hosts.map((h) => ({ host: h.host, port: h.port })),
      name: t.master,
      sentinelRetryStrategy: retry,
      sentinelMaxConnections: 3,
      ...(t.sentinelPassword !== null ? { sentinelPassword: t.sentinelPassword } : {}),
      ...(t.tls ? { enableTLSForSentinelMode: true, sentinelTLS: tls, tls } : {}),
      // Not ioredis's failover detector: its +switch-master subscription outlives the master's
      // connection, and when the message comes while the client is asking a sentinel for the
      // new master, it closes the connector under that request: connect() then fails with
      // 'Connection is closed.' and the client ends for good (status 'end', no retry), which
      // is what the failover test met. A killed or demoted master closes its clients'
      // connections anyway (Sentinel's failover disconnect), and the reconnect asks again.
      failoverDetector: false,
    } satisfies RedisOptions);
  } else {
    Object.assign(opts, { host: t.hosts[0]!.host, port: t.hosts[0]!.port, ...(t.tls ? { tls } : {}) });
  }
  const c = new RedisCtor(opts);
  let up = false;
  let lastErr = '';
  c.on('error', (err: unknown) => {
    lastErr = why(err);
    if (up) {
      up = false;
      onState?.('down', lastErr);
    }
  });
  c.on('close', () => {
    if (up && !closing.has(c)) {
      up = false;
      onState?.('down', lastErr !== '' ? lastErr : 'connection closed');
    }
  });
  c.on('ready', () => {
    if (!up) {
      up = true;
      onState?.('up', t.display);
    }
  });
  if (server) {
    // qgreyd reconnects forever: should the client still end (a failed connect() ends it
    // whatever retryStrategy says), start it again, unless close() asked for the end
    c.on('end', () => {
      if (closing.has(c)) return;
      const again = setTimeout(() => {
        if (!closing.has(c) && c.status === 'end') c.connect().catch(() => {});
      }, 500);
      again.unref();
    });
  }
  try {
    await c.connect();
  } catch (err) {
    if (!server) c.disconnect();
    const m = lastErr !== '' ? lastErr : why(err);
    // qgreyd keeps trying in the background: the first state it reports is 'down'
    if (server) {
      onState?.('down', m);
      return c;
    }
    throw temporary(`unable to connect to the Redis store ${t.display}: ${m}`, err);
  }
  return c;
}

/** QUIT (waiting at most `timeoutMs`), then drop the connection; the client is not started again. */
export async function closeClient(c: Client, timeoutMs: number): Promise<void> {
  closing.add(c);
  if (c.status === 'end') return;
  await Promise.race([c.quit().catch(() => {}), new Promise((res) => setTimeout(res, timeoutMs).unref())]);
  c.disconnect();
}

export class RedisStore implements GreyStore {
  /** other hosts write these entries too: rebuild only merges, clean leaves expiry to the TTLs */
  readonly shared = true;
  readonly where: string;
  private layoutKnown: Layout | null;

  private constructor(
    private readonly c: Client,
    private readonly t: RedisTarget,
    layout: Layout | null,
    private readonly opts: RedisStoreOptions,
  ) {
    this.where = t.display;
    this.layoutKnown = layout;
  }

  /** Connect and read the stored layout; a layout other than the caller's is refused (100). */
  static async open(t: RedisTarget, opts: RedisStoreOptions): Promise<RedisStore> {
    const c = await connectRedis(t, opts.mode, opts.onState);
    const s = new RedisStore(c, t, opts.layout, opts);
    if (opts.mode === 'command') {
      try {
        await s.checkLayout();
      } catch (err) {
        c.disconnect();
        throw err;
      }
    }
    return s;
  }

  get layout(): Layout {
    return this.layoutKnown ?? 'classc';
  }

  /** The raw client (the lists and sync share its connection). */
  get client(): Client {
    return this.c;
  }

  get target(): RedisTarget {
    return this.t;
  }

  private k(key: string): string {
    return this.t.prefix + 'e:' + key;
  }

  private fail(verb: string, err: unknown): QgreyError {
    if (err instanceof QgreyError) return err;
    return temporary(`unable to ${verb} the Redis store ${this.t.display}: ${why(err)}`, err);
  }

  private async run<T>(verb: string, f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (err) {
      throw this.fail(verb, err);
    }
  }

  private async eval(s: Script, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    try {
      return await this.c.evalsha(s.sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (!/NOSCRIPT/.test(why(err))) throw err;
      return await this.c.eval(s.lua, keys.length, ...keys, ...args);
    }
  }

  /** Read the stored layout, and claim it for ours when none is stored. */
  async checkLayout(): Promise<Layout> {
    return this.run('read the layout of', async () => {
      const lk = this.t.prefix + 'layout';
      const want = this.opts.layout;
      let stored = await this.c.get(lk);
      if (stored === null && want !== null) {
        await this.c.set(lk, want, 'NX');
        stored = await this.c.get(lk);
      }
      if (stored !== null && stored !== 'classc' && stored !== 'byip') throw permanent(`the Redis store ${this.t.display} holds an unknown layout ${JSON.stringify(stored.slice(0, 20))} in ${lk}`);
      const have = (stored ?? want ?? 'classc') as Layout;
      if (want !== null && have !== want) {
        const name = (l: Layout) => (l === 'classc' ? 'class-C' : 'per-IP');
        throw permanent(`the Redis store ${this.t.display} holds ${name(have)} entries and this host asks for ${name(want)} (JGREYLIST_BY_IP): every MX host must use one layout`);
      }
      this.layoutKnown = have;
      return have;
    });
  }

  private guard(key: string): void {
    if (!validKey(key, this.layout)) throw permanent(`not a ${this.layout === 'classc' ? 'class-C' : 'per-IP'} greylist key: ${JSON.stringify(key.slice(0, 80))}`);
  }

  async get(key: string): Promise<Entry | null> {
    const v = await this.run('read', () => this.c.get(this.k(key)));
    return v === null ? null : parseValue(key, v);
  }

  /** The layout the store holds, or null when no writer has set one yet. */
  async storedLayout(): Promise<Layout | null> {
    const v = await this.run('read the layout of', () => this.c.get(this.t.prefix + 'layout'));
    return v === 'classc' || v === 'byip' ? v : null;
  }

  /** The expiry (seconds) an entry with these times gets here: jgreylist-clean's rules as TTLs. */
  expiresAt(first: number, last: number): number {
    return Math.floor(first) === Math.floor(last) ? first + Math.min(this.t.oneTime, this.t.maxAge) : last + this.t.maxAge;
  }

  /** SET NX: true when this call created the entry (first = last = now). */
  async create(key: string, now: number): Promise<boolean> {
    this.guard(key);
    const exp = Math.floor((now + Math.min(this.t.oneTime, this.t.maxAge)) * 1000);
    const r = await this.run('write', () => this.c.set(this.k(key), num(now) + ' ' + num(now), 'PXAT', exp, 'NX'));
    return r === 'OK';
  }

  /** Last seen = max(stored, last); the TTL follows. False when the entry is missing. */
  async touch(key: string, last: number): Promise<boolean> {
    this.guard(key);
    const r = await this.run('write', () => this.eval(TOUCH, [this.k(key)], [num(last), this.t.oneTime, this.t.maxAge, Date.now()]));
    return r === 1;
  }

  /** Write entries merged with what is stored at that moment (earliest first, latest last). */
  async merge(entries: readonly Entry[], opts: MergeOptions): Promise<number> {
    let written = 0;
    for (let i = 0; i < entries.length; i += BATCH) {
      const part = entries.slice(i, i + BATCH);
      for (const e of part) this.guard(e.key);
      const args: (string | number)[] = [num(opts.keepSince), num(opts.now), this.t.oneTime, this.t.maxAge, Math.floor(opts.now * 1000), opts.exact ? '1' : '0'];
      for (const e of part) args.push(num(e.first), num(e.last));
      written += Number(await this.run('write', () => this.eval(MERGE, part.map((e) => this.k(e.key)), args)));
    }
    return written;
  }

  /** Remove each entry whose whole-second times are still those scanned. */
  async removeIfUnchanged(batch: readonly Walked[], opts: { readonly dryRun?: boolean } = {}): Promise<Removed> {
    let removed = 0;
    let changed = 0;
    let gone = 0;
    for (let i = 0; i < batch.length; i += BATCH) {
      const part = batch.slice(i, i + BATCH);
      const args: (string | number)[] = [opts.dryRun ? '1' : '0'];
      for (const w of part) args.push(w.mtime, w.atime);
      const r = (await this.run('remove entries from', () => this.eval(REMOVE, part.map((w) => this.k(w.key)), args))) as number[];
      removed += Number(r[0]);
      changed += Number(r[1]);
      gone += Number(r[2]);
    }
    return { removed, changed, gone };
  }

  async remove(key: string): Promise<boolean> {
    return (await this.run('remove an entry from', () => this.c.del(this.k(key)))) === 1;
  }

  /** Every entry, in batches (SCAN + MGET; a key SCAN returns twice is given once). */
  async *scan(opts: ScanOptions & { readonly onBadKey?: (key: string) => void } = {}): AsyncIterable<readonly Walked[]> {
    const count = opts.batch ?? BATCH;
    const match = this.t.prefix + 'e:*';
    const cut = (this.t.prefix + 'e:').length;
    const seen = new Set<string>();
    let cursor = '0';
    do {
      const [next, keys] = await this.run('read', () => this.c.scan(cursor, 'MATCH', match, 'COUNT', count));
      cursor = next;
      const fresh = keys.filter((k) => !seen.has(k));
      if (fresh.length === 0) continue;
      const vals = await this.run('read', () => this.c.mget(...fresh));
      const out: Walked[] = [];
      fresh.forEach((rk, i) => {
        seen.add(rk);
        const key = rk.slice(cut);
        const v = vals[i];
        if (v === null || v === undefined) return; // expired between SCAN and MGET
        const e = validKey(key, this.layout) ? parseValue(key, v) : null;
        if (e === null) {
          if (opts.onBadKey) opts.onBadKey(key);
          else this.opts.onAnomaly?.({ key, what: 'bad-name', detail: `not a ${this.layout === 'classc' ? 'class-C' : 'per-IP'} entry of this store (key or value); left alone` });
          return;
        }
        out.push({ ...e, mtime: Math.floor(e.first), atime: Math.floor(e.last) });
      });
      if (out.length > 0) yield out;
    } while (cursor !== '0');
  }

  /** Nothing to tidy: Redis has no directories, and expiry is Redis's own. */
  /** Entries expire by their TTLs here; this is what clean would do by the rules, all the same. */
  expire(rules: ExpireRules, opts: { readonly dryRun?: boolean } = {}): Promise<Expired> {
    return expireByScan(this, rules, opts);
  }

  async tidy(): Promise<{ dirs: number; temps: number }> {
    return { dirs: 0, temps: 0 };
  }

  /** The maintenance lock (SET NX with a TTL its holder renews): waits QGREY_LOCK_WAIT, then 111. */
  async lock(what: string): Promise<StoreLock> {
    const lk = this.t.prefix + 'lock';
    const token = `${clean(hostname(), 200, false)} ${process.pid} ${clean(what, 200, false)} ${randomBytes(6).toString('hex')}`;
    const deadline = performance.now() + (this.opts.lockWait ?? 5) * 1000;
    for (;;) {
      const r = await this.run('lock', () => this.c.set(lk, token, 'PX', LOCK_TTL_MS, 'NX'));
      if (r === 'OK') break;
      if (performance.now() >= deadline) {
        const holder = (await this.run('lock', () => this.c.get(lk))) ?? '';
        const [h, pid, w] = holder.split(' ');
        throw temporary(`the Redis store ${this.t.display} is locked by another maintenance run (${h ? `${h} pid ${pid}${w ? ', ' + w : ''}` : 'unknown holder'}); try again later`);
      }
      await new Promise((res) => setTimeout(res, 100));
    }
    const timer = setInterval(() => {
      this.eval(RENEW, [lk], [token, LOCK_TTL_MS]).catch(() => {});
    }, LOCK_TTL_MS / 3);
    timer.unref();
    let held = true;
    return {
      recovered: 0,
      release: async () => {
        if (!held) return;
        held = false;
        clearInterval(timer);
        await this.eval(UNLOCK, [lk], [token]).catch(() => {});
      },
    };
  }

  async close(): Promise<void> {
    await closeClient(this.c, this.t.timeout);
  }
}
