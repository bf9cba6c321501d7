// The per-process decision on the shared Redis store (QGREY_STORE=redis://…): the slow path,
// taken when qgreyd cannot answer. Loaded by main.ts only when QGREY_STORE is set; the Redis
// client (ioredis) is loaded only when the connection needs the store (JGREYLIST and
// RELAYCLIENT decide without it). One connection to Redis, one try: the lists (one MGET of
// both texts), one GET, then one SET NX or touch script. The whole decision gives up after
// twice the URL's timeout= (1500 ms by default, so 3 s) and follows the failure switch
// (QGREY_FAIL): never a 5xx, never a hang.
//
// Imports node: builtins, src/core and src/store only; ioredis is imported by
// src/store/redis.ts when the store is opened (scripts/bundle.sh leaves it out of the
// bundle, test/unit/wrapper-bundle.test.ts checks that only that import is).

import { findInText } from '../store/lists.js';
import { selectedStore } from '../store/select.js';
import type { WrapperConfig } from './config.js';
import { failure, runAsync, type AsyncIo, type Result } from './connection.js';

async function connect(cfg: WrapperConfig) {
  const t = selectedStore(cfg.store, {})!;
  const { RedisStore } = await import('../store/redis.js');
  const { RedisLists } = await import('../store/redis-lists.js');
  const store = await RedisStore.open(t, { layout: cfg.layout, mode: 'connection' });
  return { store, lists: new RedisLists(store.client, t.prefix, t.display) };
}

export async function runOnRedis(cfg: WrapperConfig, nowMs: number): Promise<Result> {
  let budget: number;
  try {
    budget = 2 * selectedStore(cfg.store, {})!.timeout;
  } catch (err) {
    return failure(cfg, (err as Error).message);
  }
  const held: { opened: ReturnType<typeof connect> | null } = { opened: null };
  const open = () => (held.opened ??= connect(cfg));
  let snapshot: Promise<{ whitelist: string; blacklist: string }> | null = null;
  const io: AsyncIo = {
    store: {
      get: async (key) => (await open()).store.get(key),
      create: async (key, now) => (await open()).store.create(key, now),
      touch: async (key, last) => (await open()).store.touch(key, last),
    },
    list: async (name, _cfg, ip, now) => {
      snapshot ??= open().then((o) => o.lists.snapshot());
      const m = findInText((await snapshot)[name], ip, now);
      return m === null ? null : { label: m.label, message: m.message };
    },
  };
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      runAsync(cfg, nowMs, io),
      new Promise<Result>((resolve) => {
        timer = setTimeout(() => resolve(failure(cfg, `the Redis store did not answer within ${budget} ms`)), budget);
      }),
    ]);
  } finally {
    clearTimeout(timer);
    held.opened?.then((o) => o.store.client.disconnect(), () => {});
  }
}
