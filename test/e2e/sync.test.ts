// `qgrey sync` between a real tree and a real redis-server: tree -> Redis -> tree compared
// entry by entry (paths, first and last seen), idempotence, the merge rule when both sides
// have a key, nothing removed from either side, and its errors.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { giveTree, qgrey, tempDir } from '../helpers/util.js';
import { freePort, rawCommandBulk, startRedis } from './redis-harness.js';

const NOW = Math.floor(Date.now() / 1000);
const D = 86400;
// the list files of these tests: none (the lists are synced too; the lists test names its own)
const NOLISTS = tempDir('qgrey-sync-lists-');
after(() => NOLISTS[Symbol.dispose]());
const ENV = { NODE_EXTRA_CA_CERTS: '', QGREY_LISTDIR: join(NOLISTS.path, 'none') };

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
  assert.match(down.stdout, /^sync: 5 entries read from redis:\/\/127\.0\.0\.1:\d+; 5 added, 0 updated, 0 unchanged in \/\S+ \(\d+\.\d s\)\nsync: whitelist: 0 entries read from redis:\/\/127\.0\.0\.1:\d+ qgrey:list:whitelist; 0 added, 0 updated, 0 unchanged in \/\S+\/none\/whitelist\nsync: blacklist: 0 entries .*\n$/);
  assert.equal(existsSync(ENV.QGREY_LISTDIR), false, 'no lists on either side: nothing made');
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

test('sync: the lists go both ways with expiry, source, message and comment; the longer-lasting entry wins; nothing is removed; --entries-only leaves them', async () => {
  await using r = await startRedis();
  using t = tempDir();
  const tree = join(t.path, 'tree');
  const lists = join(t.path, 'lists');
  mkdirSync(tree, { mode: 0o700 });
  giveTree(tree);
  mkdirSync(lists);
  const soon = new Date((NOW + 3600) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const later = new Date((NOW + 7 * D) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  writeFileSync(
    join(lists, 'whitelist'),
    `# our partners\n129.74.\tnever\tmanual\t# nd.edu\n192.0.2.0/24\t${soon}\tspf:example.org\t# ip4:192.0.2.0/24\n198.18.0.0/24\t2020-01-01T00:00:00Z\tmanual\t# expired\nnot an entry\n`,
  );
  writeFileSync(join(lists, 'blacklist'), `203.0.113.7\tnever\tmanual\t"Go away %"\t# 400 spams\n`, { mode: 0o640 });
  const env = { ...ENV, QGREY_LISTDIR: lists };
  const dry = qgrey(['sync', '--dry-run', '--from', tree, '--to', r.url], { env });
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stdout, /^sync: whitelist: 3 entries read from \S+\/whitelist; 2 added, 0 updated, 0 unchanged in redis:\/\/127\.0\.0\.1:\d+ qgrey:list:whitelist; 1 expired not written; 1 lines not understood left out \(dry run: nothing written\)$/m);
  assert.equal(await rawCommandBulk(r.port, null, ['GET', 'qgrey:list:whitelist']), null, 'a dry run writes nothing');

  const up = qgrey(['sync', '--json', '--from', tree, '--to', r.url], { env });
  assert.equal(up.code, 0, up.stderr);
  const j = JSON.parse(up.stdout) as { lists: Record<string, { added: number; expired: number }> };
  assert.deepEqual([j.lists.whitelist!.added, j.lists.whitelist!.expired, j.lists.blacklist!.added], [2, 1, 1]);
  assert.equal(await rawCommandBulk(r.port, null, ['GET', 'qgrey:list:whitelist']), `# our partners\n129.74.\tnever\tmanual\t# nd.edu\n192.0.2.0/24\t${soon}\tspf:example.org\t# ip4:192.0.2.0/24\n`);
  assert.equal(await rawCommandBulk(r.port, null, ['GET', 'qgrey:list:blacklist']), `203.0.113.7\tnever\tmanual\t"Go away %"\t# 400 spams\n`);
  // the store's lists as every qgreyd reads them
  assert.match(qgrey(['check', '--dir', tree, '203.0.113.7'], { env: { ...env, QGREY_STORE: r.url } }).stdout, /^203\.0\.113\.7: DENY blacklisted/);

  // another host renews the SPF entry (longer) and adds one in the store; this host adds one in its file
  const store = { ...env, QGREY_STORE: r.url };
  assert.equal(qgrey(['whitelist', 'add', '198.51.100.0/24', '--comment', 'mx2'], { env: store }).code, 0);
  const renewed = (await rawCommandBulk(r.port, null, ['GET', 'qgrey:list:whitelist']))!.replace(soon, later);
  await rawCommandBulk(r.port, null, ['SET', 'qgrey:list:whitelist', renewed]);
  writeFileSync(join(lists, 'whitelist'), readFileSync(join(lists, 'whitelist'), 'latin1') + '10.9.8.7\tnever\tmanual\n');
  const down = qgrey(['sync', '--json', '--from', r.url, '--to', tree], { env });
  assert.equal(down.code, 0, down.stderr);
  const k = JSON.parse(down.stdout) as { lists: Record<string, { added: number; updated: number; unchanged: number }> };
  assert.deepEqual(k.lists.whitelist, { ...k.lists.whitelist, added: 1, updated: 1, unchanged: 1 });
  const file = readFileSync(join(lists, 'whitelist'), 'latin1');
  assert.equal(
    file,
    `# our partners\n129.74.\tnever\tmanual\t# nd.edu\n192.0.2.0/24\t${later}\tspf:example.org\t# ip4:192.0.2.0/24\n198.18.0.0/24\t2020-01-01T00:00:00Z\tmanual\t# expired\nnot an entry\n10.9.8.7\tnever\tmanual\n` +
      /^198\.51\.100\.0\/24\t.*$/m.exec(renewed)![0] + '\n',
    'the file keeps its own lines, takes the longer expiry and the new entry, removes nothing',
  );
  assert.equal(statSync(join(lists, 'blacklist')).mode & 0o777, 0o640);
  // and back: the file's new entry reaches the store; then both sides agree and nothing changes
  assert.equal(qgrey(['sync', '-q', '--from', tree, '--to', r.url], { env }).code, 0);
  assert.match((await rawCommandBulk(r.port, null, ['GET', 'qgrey:list:whitelist']))!, /^10\.9\.8\.7\tnever\tmanual$/m);
  for (const [from, to] of [[tree, r.url], [r.url, tree]] as const) {
    const again = JSON.parse(qgrey(['sync', '--json', '--from', from, '--to', to], { env }).stdout) as { lists: Record<string, { added: number; updated: number }> };
    assert.deepEqual([again.lists.whitelist!.added, again.lists.whitelist!.updated, again.lists.blacklist!.added, again.lists.blacklist!.updated], [0, 0, 0, 0], `${from} -> ${to}`);
  }
  // --entries-only: the lists are left alone
  writeFileSync(join(lists, 'blacklist'), '203.0.113.8\tnever\tmanual\n');
  const only = JSON.parse(qgrey(['sync', '--json', '--entries-only', '--from', tree, '--to', r.url], { env }).stdout) as { lists: unknown };
  assert.equal(only.lists, null);
  assert.doesNotMatch((await rawCommandBulk(r.port, null, ['GET', 'qgrey:list:blacklist']))!, /203\.0\.113\.8/);
});
