// `qgrey sync` between a real tree and a real redis-server: tree -> Redis -> tree compared
// entry by entry (paths, first and last seen), idempotence, the merge rule when both sides
// have a key, nothing removed from either side, and its errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstatSync, mkdirSync, readdirSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { giveTree, qgrey, tempDir } from '../helpers/util.js';
import { freePort, rawCommandBulk, startRedis } from './redis-harness.js';

const NOW = Math.floor(Date.now() / 1000);
const D = 86400;
const ENV = { NODE_EXTRA_CA_CERTS: '' };

function put(root: string, key: string, first: number, last: number): void {
  const parts = key.split('/');
  mkdirSync(join(root, ...parts.slice(0, -1)), { recursive: true, mode: 0o700 });
  writeFileSync(join(root, key), '', { mode: 0o600 });
  utimesSync(join(root, key), last, first);
}

/** Every entry of a tree: key -> [first, last] to the microsecond. */
function entries(root: string): Map<string, [number, number]> {
  const out = new Map<string, [number, number]>();
  const walk = (rel: string) => {
    for (const name of readdirSync(join(root, rel))) {
      if (name.startsWith('.')) continue;
      const r = rel === '' ? name : `${rel}/${name}`;
      const st = lstatSync(join(root, r));
      if (st.isDirectory()) walk(r);
      else if (st.isFile()) out.set(r, [Math.round(st.mtimeMs * 1000) / 1e6, Math.round(st.atimeMs * 1000) / 1e6]);
    }
  };
  walk('');
  return out;
}

/** Same keys, and times within two microseconds (a double holds today's epoch seconds to about 0.24 us). */
function sameEntries(got: Map<string, [number, number]>, want: Map<string, [number, number]>, msg: string): void {
  assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort(), msg);
  for (const [k, [f, l]] of want) {
    const [gf, gl] = got.get(k)!;
    assert.ok(Math.abs(gf - f) <= 2e-6 && Math.abs(gl - l) <= 2e-6, `${msg}: ${k} has ${gf} ${gl}, expected ${f} ${l}`);
  }
}

test('sync: tree -> Redis -> tree gives the same entries, first and last seen to the microsecond; a second run changes nothing', async () => {
  await using r = await startRedis();
  using a = tempDir();
  using b = tempDir();
  const want = new Map<string, [number, number]>([
    ['192/000/002', [NOW - 3 * D, NOW - 60]],
    ['192/000/003', [NOW - 100.25, NOW - 99.5]],
    ['192/000/004', [NOW - 3600, NOW - 3600]], // never revisited, within the one-time window
    ['198/051/100', [NOW - 20 * D + 0.123456, NOW - 2 * D + 0.654321]],
    ['v6/20010db8/00000001', [NOW - 5 * D, NOW - 1]],
  ]);
  for (const [k, [f, l]] of want) put(a.path, k, f, l);
  put(a.path, '010/000/000', NOW - 90 * D, NOW - 60 * D); // past max-age: clean would remove it
  // as root, the tree work is done as the tree's owner: not root
  giveTree(a.path);
  giveTree(b.path);
  const up = qgrey(['sync', '--json', '--from', a.path, '--to', r.url], { env: ENV });
  assert.equal(up.code, 0, up.stderr);
  assert.equal(up.stderr, '');
  const j = JSON.parse(up.stdout);
  assert.deepEqual([j.read, j.added, j.updated, j.unchanged, j.expired], [6, 5, 0, 0, 1]);
  assert.equal(await rawCommandBulk(r.port, null, ['GET', 'qgrey:layout']), 'classc');

  const down = qgrey(['sync', '--from', r.url, '--to', b.path], { env: ENV });
  assert.equal(down.code, 0, down.stderr);
  assert.match(down.stdout, /^sync: 5 entries read from redis:\/\/127\.0\.0\.1:\d+; 5 added, 0 updated, 0 unchanged in \/\S+ \(\d+\.\d s\)\n$/);
  const sent = entries(a.path);
  sent.delete('010/000/000');
  sameEntries(entries(b.path), sent, 'the tree that came back is the tree that went');
  sameEntries(entries(b.path), want, 'and has the times written at first');
  assert.equal((lstatSync(join(b.path, '192/000/002')).mode & 0o777).toString(8), '600');
  assert.equal((lstatSync(join(b.path, '192')).mode & 0o777).toString(8), '700');

  for (const [from, to] of [[a.path, r.url], [r.url, b.path]] as const) {
    const again = qgrey(['sync', '--json', '--from', from, '--to', to], { env: ENV });
    assert.equal(again.code, 0, again.stderr);
    const k = JSON.parse(again.stdout);
    assert.deepEqual([k.added, k.updated], [0, 0], `a second run ${from} -> ${to} changes nothing`);
  }
  sameEntries(entries(b.path), want, 'after the second runs');
});

test('sync: where both sides have a key, the earliest first seen and the latest last seen win; nothing is removed either way', async () => {
  await using r = await startRedis();
  using tree = tempDir();
  using other = tempDir();
  // another MX host's entries, in Redis
  put(other.path, '203/000/113', NOW - 2 * D, NOW - 100);
  put(other.path, '192/000/002', NOW - 1000, NOW - 10);
  giveTree(other.path);
  assert.equal(qgrey(['sync', '-q', '--from', other.path, '--to', r.url], { env: ENV }).code, 0);
  // this host's tree
  put(tree.path, '192/000/002', NOW - 5000, NOW - 500);
  put(tree.path, '198/051/100', NOW - 300, NOW - 200);
  giveTree(tree.path);
  const dry = qgrey(['sync', '--dry-run', '--from', tree.path, '--to', r.url], { env: ENV });
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stdout, /; 1 added, 1 updated, 0 unchanged in .* \(dry run: nothing written\)/);
  assert.equal(await rawCommandBulk(r.port, null, ['GET', 'qgrey:e:198/051/100']), null, 'a dry run writes nothing');
  assert.equal(qgrey(['sync', '-q', '--from', tree.path, '--to', r.url], { env: ENV }).code, 0);
  assert.equal(qgrey(['sync', '-q', '--from', r.url, '--to', tree.path], { env: ENV }).code, 0);
  assert.deepEqual(
    entries(tree.path),
    new Map([
      ['192/000/002', [NOW - 5000, NOW - 10]],
      ['198/051/100', [NOW - 300, NOW - 200]],
      ['203/000/113', [NOW - 2 * D, NOW - 100]],
    ]),
  );
  assert.equal(await rawCommandBulk(r.port, null, ['GET', 'qgrey:e:192/000/002']), `${NOW - 5000} ${NOW - 10}`);
});

test('sync: bad arguments are one line and 100; Redis away or locked is one line and 111; a symlink in the tree is left alone', async () => {
  using t = tempDir();
  giveTree(t.path);
  const two = qgrey(['sync', '--from', t.path, '--to', t.path], { env: ENV });
  assert.equal(two.code, 100);
  assert.match(two.stderr, /^qgrey: fatal: unable to sync '.*' to '.*': one side must be a greylist directory and the other a redis:\/\/, rediss:\/\/ or redis\+sentinel:\/\/ URL\n$/);
  const bad = qgrey(['sync', '--from', t.path, '--to', 'redis://:secret@127.0.0.1:6379/x'], { env: ENV });
  assert.equal(bad.code, 100);
  assert.match(bad.stderr, /^qgrey: fatal: unable to read the store URL 'redis:\/\/:\*\*\*@127\.0\.0\.1:6379\/x': the database must be a number/);
  const dead = await freePort();
  const away = qgrey(['sync', '--from', t.path, '--to', `redis://127.0.0.1:${dead}/?timeout=300`], { env: ENV });
  assert.equal(away.code, 111);
  assert.match(away.stderr, /^qgrey: fatal: unable to connect to the Redis store redis:\/\/127\.0\.0\.1:\d+\/\?timeout=300: .*ECONNREFUSED.*\n$/);

  await using r = await startRedis();
  await rawCommandBulk(r.port, null, ['SET', 'qgrey:lock', 'mx2 4242 rebuild abc', 'PX', '20000']);
  const locked = qgrey(['sync', '--from', t.path, '--to', r.url], { env: { ...ENV, QGREY_LOCK_WAIT: '0.2' } });
  assert.equal(locked.code, 111);
  assert.match(locked.stderr, /^qgrey: fatal: the Redis store redis:\/\/127\.0\.0\.1:\d+ is locked by another maintenance run \(mx2 pid 4242, rebuild\); try again later\n$/);
  await rawCommandBulk(r.port, null, ['DEL', 'qgrey:lock']);

  using outside = tempDir();
  put(outside.path, '113', NOW - 100, NOW - 50);
  mkdirSync(join(t.path, '203'), { mode: 0o700 });
  symlinkSync(join(outside.path), join(t.path, '203/000'));
  put(t.path, '192/000/002', NOW - 100, NOW - 50);
  giveTree(t.path);
  const s = qgrey(['sync', '--from', t.path, '--to', r.url], { env: ENV });
  assert.equal(s.code, 0, s.stderr);
  assert.match(s.stderr, /203\/000: .*symbolic link/);
  assert.match(s.stdout, / 1 added/);
});
