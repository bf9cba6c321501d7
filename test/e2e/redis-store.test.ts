// The Redis store against real redis-server processes: the interface's semantics (create if
// absent, touch, merge, remove if unchanged, scan, lock), the TTLs that stand for
// jgreylist-clean, the layout guard, and each way of connecting (password, ACL user, TLS,
// Sentinel), and what a caller gets when Redis is away.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { QgreyError } from '../../src/core/errors.js';
import { parseStoreUrl } from '../../src/store/redis-url.js';
import { RedisStore } from '../../src/store/redis.js';
import type { Walked } from '../../src/store/store.js';
import { freePort, rawCommand, startRedis, startSentinels } from './redis-harness.js';

const NOW = Math.floor(Date.now() / 1000);
const open = (url: string, layout: 'classc' | 'byip' | null = 'classc', mode: 'server' | 'command' = 'command') => RedisStore.open(parseStoreUrl(url), { layout, mode, lockWait: 0.3 });

async function all(s: RedisStore): Promise<Walked[]> {
  const out: Walked[] = [];
  for await (const b of s.scan({ batch: 7 })) out.push(...b);
  return out.sort((a, b) => (a.key < b.key ? -1 : 1));
}

test('redis store: create is create-if-absent; touch keeps first seen; TTLs follow jgreylist-clean', async () => {
  await using r = await startRedis();
  const s = await open(r.url + '/?max-age=30d&one-time=1d');
  try {
    const now = Date.now() / 1000;
    assert.equal(await s.create('192/000/002', now), true);
    assert.equal(await s.create('192/000/002', now + 5), false, 'a second create does not replace');
    const e = await s.get('192/000/002');
    assert.deepEqual(e, { key: '192/000/002', first: now, last: now });
    // never revisited: lives one-time (1d) from first seen
    const pttl1 = Number(await s.client.pttl('qgrey:e:192/000/002'));
    assert.ok(Math.abs(pttl1 - 86400_000) < 5000, `one-time TTL ${pttl1}`);
    // revisited: max-age (30d) from the last visit; first seen kept
    assert.equal(await s.touch('192/000/002', now + 200), true);
    assert.deepEqual(await s.get('192/000/002'), { key: '192/000/002', first: now, last: now + 200 });
    const pttl2 = Number(await s.client.pttl('qgrey:e:192/000/002'));
    assert.ok(Math.abs(pttl2 - (30 * 86400 + 200) * 1000) < 5000, `max-age TTL ${pttl2}`);
    // an earlier visit reported late does not move last seen back
    assert.equal(await s.touch('192/000/002', now + 100), true);
    assert.equal((await s.get('192/000/002'))!.last, now + 200);
    assert.equal(await s.touch('010/000/000', now), false, 'touch of a missing entry');
    assert.equal(await s.get('010/000/000'), null);
    // a revisit within the same whole second is still "never revisited" for jgreylist-clean
    const t = Math.floor(now) + 0.1;
    await s.create('192/000/003', t);
    await s.touch('192/000/003', t + 0.5);
    const pttl3 = Number(await s.client.pttl('qgrey:e:192/000/003'));
    assert.ok(pttl3 <= 86400_000 + 1000, `same-second revisit keeps the one-time TTL: ${pttl3}`);
    // an entry whose time is already past its TTL is not written
    assert.equal(await s.touch('192/000/003', t - 40 * 86400), true);
  } finally {
    await s.close();
  }
});

test('redis store: two hosts creating the same new key at once make one entry with one first-seen time', async () => {
  await using r = await startRedis();
  const a = await open(r.url);
  const b = await open(r.url);
  try {
    const base = Date.now() / 1000;
    for (let round = 0; round < 20; round++) {
      const key = `198/051/${String(round).padStart(3, '0')}`;
      const tries = Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).create(key, base + i / 1000));
      const made = (await Promise.all(tries)).filter((x) => x).length;
      assert.equal(made, 1, `one create won for ${key}`);
      const e = (await a.get(key))!;
      assert.equal(e.first, e.last);
    }
  } finally {
    await a.close();
    await b.close();
  }
});

test('redis store: merge keeps the earliest first and the latest last, and never leaves an entry looking unrevisited', async () => {
  await using r = await startRedis();
  const s = await open(r.url);
  try {
    const now = Math.floor(Date.now() / 1000);
    await s.create('192/000/010', now - 1000); // live, earlier first seen
    await s.touch('192/000/010', now - 10);
    await s.create('192/000/011', now - 100);
    await s.client.set('qgrey:e:192/000/012', `${now - 40 * 86400} ${now - 39 * 86400}`); // stale (older than keepSince)
    const n = await s.merge(
      [
        { key: '192/000/010', first: now - 500, last: now - 400 },
        { key: '192/000/011', first: now - 50, last: now - 50 },
        { key: '192/000/012', first: now - 3000, last: now - 2000 },
        { key: '192/000/013', first: now - 90 * 86400, last: now - 60 * 86400 }, // past max-age: not written
      ],
      { keepSince: now - 86400, now },
    );
    assert.equal(n, 3);
    assert.deepEqual(await s.get('192/000/010'), { key: '192/000/010', first: now - 1000, last: now - 10 });
    assert.deepEqual(await s.get('192/000/011'), { key: '192/000/011', first: now - 100, last: now - 50 });
    assert.deepEqual(await s.get('192/000/012'), { key: '192/000/012', first: now - 3000, last: now - 2000 });
    assert.equal(await s.get('192/000/013'), null);
    // equal whole seconds: first is moved one second back
    await s.merge([{ key: '192/000/014', first: now - 5, last: now - 5 }], { keepSince: now, now });
    assert.deepEqual(await s.get('192/000/014'), { key: '192/000/014', first: now - 6, last: now - 5 });
    // fractions survive the round trip through Lua
    await s.merge([{ key: '192/000/015', first: now - 5.123456, last: now - 1.654321 }], { keepSince: now, now });
    assert.deepEqual(await s.get('192/000/015'), { key: '192/000/015', first: now - 5.123456, last: now - 1.654321 });
  } finally {
    await s.close();
  }
});

test('redis store: scan gives every entry once; removeIfUnchanged removes only what is still as scanned', async () => {
  await using r = await startRedis();
  const s = await open(r.url);
  try {
    const now = Math.floor(Date.now() / 1000);
    const keys = Array.from({ length: 60 }, (_, i) => `10.0.${i}`.split('.').map((x) => x.padStart(3, '0')).join('/'));
    await s.merge(
      keys.map((key, i) => ({ key, first: now - 1000 - i, last: now - i })),
      { keepSince: now, now },
    );
    await s.client.set('qgrey:e:../../etc', '1 2'); // not a key: never given out
    const bad: string[] = [];
    const got: Walked[] = [];
    for await (const b of s.scan({ batch: 7, onBadKey: (k) => bad.push(k) })) got.push(...b);
    assert.equal(got.length, 60);
    assert.equal(new Set(got.map((w) => w.key)).size, 60);
    assert.deepEqual(bad, ['../../etc']);
    const w0 = got.find((w) => w.key === keys[0])!;
    assert.deepEqual(w0, { key: keys[0], first: now - 1000, last: now, mtime: now - 1000, atime: now });
    // one is revisited after the scan, one is gone
    await s.touch(keys[1]!, now + 5);
    await s.remove(keys[2]!);
    const dry = await s.removeIfUnchanged(got, { dryRun: true });
    assert.deepEqual(dry, { removed: 58, changed: 1, gone: 1 });
    assert.equal((await all(s)).length, 59, 'a dry run removes nothing');
    const res = await s.removeIfUnchanged(got);
    assert.deepEqual(res, { removed: 58, changed: 1, gone: 1 });
    assert.deepEqual((await all(s)).map((w) => w.key), [keys[1]]);
  } finally {
    await s.close();
  }
});

test('redis store: the layout is the first writer\'s, and a host of the other layout is refused (100)', async () => {
  await using r = await startRedis();
  const a = await open(r.url, 'byip');
  await a.create('192/000/002/007', NOW);
  await a.close();
  await assert.rejects(open(r.url, 'classc'), (e: QgreyError) => e.exitCode === 100 && /holds per-IP entries and this host asks for class-C/.test(e.message));
  const c = await open(r.url, null);
  try {
    assert.equal(c.layout, 'byip');
    await assert.rejects(c.create('192/000/002', NOW), (e: QgreyError) => e.exitCode === 100);
  } finally {
    await c.close();
  }
});

test('redis store: one maintenance lock across hosts; the second waits, then fails with 111 naming the holder', async () => {
  await using r = await startRedis();
  const a = await open(r.url);
  const b = await open(r.url);
  try {
    const l = await a.lock('rebuild');
    await assert.rejects(b.lock('clean'), (e: QgreyError) => e.exitCode === 111 && new RegExp(`locked by another maintenance run \\(.* pid ${process.pid}, rebuild\\)`).test(e.message));
    await l.release();
    const l2 = await b.lock('clean');
    await l2.release();
  } finally {
    await a.close();
    await b.close();
  }
});

test('redis store: password, ACL user and TLS servers; a wrong password or no server is one temporary error', async () => {
  await using pw = await startRedis({ password: 'p@ss:w/rd', user: { name: 'mx', password: 's3cret' } });
  for (const url of [`redis://:${encodeURIComponent('p@ss:w/rd')}@127.0.0.1:${pw.port}`, pw.url]) {
    const s = await open(url);
    await s.create('192/000/002', NOW);
    assert.ok(await s.get('192/000/002'));
    await s.close();
  }
  const t0 = Date.now();
  await assert.rejects(open(`redis://mx:wrong@127.0.0.1:${pw.port}/?timeout=300`), (e: QgreyError) => {
    assert.equal(e.exitCode, 111);
    assert.match(e.message, /^unable to connect to the Redis store redis:\/\/mx:\*\*\*@127\.0\.0\.1:\d+\/\?timeout=300: .*(WRONGPASS|invalid username-password)/);
    assert.doesNotMatch(e.message, /wrong/);
    return true;
  });
  await assert.rejects(open(`redis://127.0.0.1:${pw.port}/?timeout=300`), (e: QgreyError) => e.exitCode === 111 && /NOAUTH|Authentication required/.test(e.message));
  const dead = await freePort();
  await assert.rejects(open(`redis://127.0.0.1:${dead}/?timeout=300`), (e: QgreyError) => e.exitCode === 111 && /ECONNREFUSED/.test(e.message));
  assert.ok(Date.now() - t0 < 5000, `failures come quickly (${Date.now() - t0} ms)`);

  await using tls = await startRedis({ tls: true });
  const s = await open(`${tls.url}/?ca=${encodeURIComponent(tls.tls!.ca)}`);
  await s.create('192/000/002', NOW);
  assert.equal((await s.get('192/000/002'))!.first, NOW);
  await s.close();
  // without our CA the certificate is not trusted
  await assert.rejects(open(`${tls.url}/?timeout=500`), (e: QgreyError) => e.exitCode === 111 && /certificate/i.test(e.message));
  assert.equal(await rawCommand(tls.port, ['PING'], { tls: tls.tls }), '+PONG');
});

// ioredis's failover detector used to end the client for good when +switch-master came while
// it was asking a sentinel for the new master ('Connection is closed.' for ever after): it is
// off, and qgreyd's client is started again should it end anyway (redis.ts, connectRedis).
test('redis store via Sentinel: the master killed mid-load; every call settles within the timeout, the store resumes by itself, earlier entries are there', async () => {
  const set = await startSentinels({ password: 'pw' });
  const states: string[] = [];
  const t = parseStoreUrl(`${set.url}?timeout=500`);
  const s = await RedisStore.open(t, { layout: 'classc', mode: 'server', onState: (st) => states.push(st) });
  try {
    await s.checkLayout();
    const now = Math.floor(Date.now() / 1000);
    const before = Array.from({ length: 200 }, (_, i) => `172/${String(i >> 8).padStart(3, '0')}/${String(i & 255).padStart(3, '0')}`);
    for (const k of before) await s.create(k, now);
    assert.equal(await s.client.wait(1, 2000), 1, 'the replica has them');
    let worst = 0;
    let ok = 0;
    let failed = 0;
    let killedAt = 0;
    const start = Date.now();
    for (let i = 0; Date.now() - start < 30_000; i++) {
      if (i === 20) {
        killedAt = Date.now();
        set.master.signal('SIGKILL');
      }
      const t0 = Date.now();
      try {
        await s.create(`010/${String((i >> 8) & 255).padStart(3, '0')}/${String(i & 255).padStart(3, '0')}`, now);
        ok++;
      } catch (err) {
        assert.ok(err instanceof QgreyError && err.exitCode === 111, String(err));
        failed++;
      }
      worst = Math.max(worst, Date.now() - t0);
      // resumed on the new master: stop a little after the first success past the failover
      if (killedAt && ok > 20 && failed > 0 && (await set.masterPort()) === set.replica.port && Date.now() - killedAt > 1000) {
        const again = await s.get(before[0]!).catch(() => null);
        if (again !== null) break;
      }
      await new Promise((res) => setTimeout(res, 20));
    }
    assert.ok(failed > 0, 'some calls met the dead master');
    assert.ok(worst <= 500 + 300, `every call settled within the timeout (worst ${worst} ms)`);
    assert.equal(await set.masterPort(), set.replica.port, 'failed over');
    // on a loaded machine a read may still time out (500 ms), or meet a connection being
    // replaced, right after the failover: try again for a while (the store must resume by itself)
    const until = Date.now() + 20_000;
    const read = async (k: string) => {
      for (;;) {
        try {
          return await s.get(k);
        } catch (err) {
          if (Date.now() > until || !(err instanceof QgreyError && err.exitCode === 111)) throw err;
          await new Promise((res) => setTimeout(res, 100));
        }
      }
    };
    for (const k of before) assert.ok(await read(k), `${k} survived the failover`);
    assert.deepEqual(states.slice(0, 3), ['up', 'down', 'up'], 'one state change each way');
  } finally {
    await s.close();
    await set.stop();
  }
});
