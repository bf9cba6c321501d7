// The lists in the shared Redis store: the list-file text kept byte for byte, writers on two
// hosts at once both kept (WATCH/MULTI), the version a reader polls, and a watcher that sees
// another host's change within the poll interval.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseLine } from '../../src/store/lists.js';
import { parseStoreUrl } from '../../src/store/redis-url.js';
import { connectRedis } from '../../src/store/redis.js';
import { ListsWatcher, RedisLists } from '../../src/store/redis-lists.js';
import { startRedis } from './redis-harness.js';

const add = (text: string) => (lines: ReturnType<typeof parseLine>[]) => [...lines, parseLine(text, lines.length + 1)];

test('redis lists: an empty list until written; updates keep every other line byte for byte and raise the version', async () => {
  await using r = await startRedis();
  const c = await connectRedis(parseStoreUrl(r.url), 'command');
  try {
    const l = new RedisLists(c, 'qgrey:', r.url);
    assert.equal(await l.readText('whitelist'), '');
    assert.equal(await l.version(), '0');
    await c.set('qgrey:list:whitelist', '# our partners\n129.74.   never   manual   # nd.edu\n');
    assert.equal(await l.update('whitelist', add('192.0.2.0/24  never  manual'), { dryRun: true }), true);
    assert.equal(await l.version(), '0', 'a dry run writes nothing');
    assert.equal(await l.update('whitelist', add('192.0.2.0/24  never  manual')), true);
    assert.equal(await l.readText('whitelist'), '# our partners\n129.74.   never   manual   # nd.edu\n192.0.2.0/24  never  manual\n');
    assert.equal(await l.version(), '1');
    assert.equal(await l.update('whitelist', () => null), false, 'no change, no write');
    assert.equal(await l.version(), '1');
    const lines = await l.read('whitelist');
    assert.deepEqual(lines.map((x) => x.kind), ['comment', 'entry', 'entry']);
  } finally {
    c.disconnect();
  }
});

test('redis lists: two hosts adding at the same moment both keep their entry', async () => {
  await using r = await startRedis();
  const a = await connectRedis(parseStoreUrl(r.url), 'command');
  const b = await connectRedis(parseStoreUrl(r.url), 'command');
  try {
    const la = new RedisLists(a, 'qgrey:', r.url);
    const lb = new RedisLists(b, 'qgrey:', r.url);
    const writes: Promise<boolean>[] = [];
    for (let i = 0; i < 20; i++) writes.push((i % 2 ? la : lb).update('blacklist', add(`198.51.100.${i}  never  manual  "Go away %"`)));
    assert.deepEqual(await Promise.all(writes), Array(20).fill(true));
    const got = (await la.read('blacklist')).filter((x) => x.kind === 'entry').map((x) => (x.kind === 'entry' ? x.entry.address : ''));
    assert.deepEqual(got.sort(), Array.from({ length: 20 }, (_, i) => `198.51.100.${i}`).sort());
    assert.equal(await la.version(), '20');
  } finally {
    a.disconnect();
    b.disconnect();
  }
});

test('redis lists: a watcher reloads another host\'s change within its poll interval, and keeps the last lists while Redis is away', async () => {
  const r = await startRedis();
  const c = await connectRedis(parseStoreUrl(`${r.url}/?timeout=300`), 'server');
  const w = await connectRedis(parseStoreUrl(r.url), 'command');
  const errors: string[] = [];
  const loads: string[] = [];
  const watcher = new ListsWatcher(new RedisLists(c, 'qgrey:', r.url), (text) => text.split('\n').filter((x) => x !== '').length, (v) => loads.push(v), (e) => errors.push(e.message));
  try {
    await watcher.start(100);
    assert.equal(watcher.get('whitelist'), 0);
    await new RedisLists(w, 'qgrey:', r.url).update('whitelist', add('192.0.2.7  never  manual'));
    const t0 = Date.now();
    while (watcher.get('whitelist') !== 1 && Date.now() - t0 < 3000) await new Promise((res) => setTimeout(res, 20));
    assert.equal(watcher.get('whitelist'), 1, 'the change was seen');
    assert.deepEqual(loads, ['0', '1']);
    await r.stop();
    await new Promise((res) => setTimeout(res, 500));
    assert.equal(watcher.get('whitelist'), 1, 'the last lists stay in force');
    assert.ok(errors.length > 0);
  } finally {
    watcher.stop();
    c.disconnect();
    w.disconnect();
    await r.stop();
  }
});
