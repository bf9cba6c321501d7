// The tree store against a real file system: paths, modes, times to the second, and no
// symlink ever followed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { lstatSync, mkdirSync, readFileSync, symlinkSync, utimesSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { tempDir } from '../helpers/util.js';
import { TreeEntries as TreeStore, TreeAnomalyError } from '../../src/store/entries.js';
import { openTree } from '../../src/store/tree.js';
import { walkTree, detectLayout, layoutsIn, rootStat } from '../../src/store/walk.js';
import { Sweeper, sweepTree } from '../../src/store/sweep.js';
import { Cursor } from '../../src/store/cursor.js';
import { parseOwner } from '../../src/store/owner.js';
import { holdtime as holdtimeFromEnv, byIp as byIpFromEnv, treeDir } from '../../src/core/config.js';
import { lockTree, LOCK_NAME } from '../../src/store/lock.js';
import { keyOf } from '../../src/core/key.js';
import { parseIp } from '../../src/core/ip.js';

const T0 = 1_700_000_000;

function mode(p: string): number {
  return lstatSync(p).mode & 0o777;
}
function times(p: string): { m: number; a: number } {
  const st = lstatSync(p);
  return { m: Math.floor(st.mtimeMs / 1000), a: Math.floor(st.atimeMs / 1000) };
}

test('create, get, touch, put, remove on a class-C tree: paths, modes, times', async () => {
  using d = tempDir();
  const t = new TreeStore(d.path, 'classc');
  const key = keyOf(parseIp('192.0.2.7')!, 'classc');
  assert.equal(key, '192/000/002');
  assert.equal(t.getSync(key), null);
  assert.equal(t.createSync(key, T0), true);
  assert.equal(mode(`${d.path}/192`), 0o700);
  assert.equal(mode(`${d.path}/192/000`), 0o700);
  assert.equal(mode(`${d.path}/192/000/002`), 0o600);
  assert.equal(lstatSync(`${d.path}/192/000/002`).size, 0);
  assert.deepEqual(times(`${d.path}/192/000/002`), { m: T0, a: T0 });
  // a second create leaves the first one's times alone
  assert.equal(t.createSync(key, T0 + 50), false);
  assert.deepEqual(times(`${d.path}/192/000/002`), { m: T0, a: T0 });
  assert.equal(t.touchSync(key, T0 + 300), true);
  assert.deepEqual(times(`${d.path}/192/000/002`), { m: T0, a: T0 + 300 });
  assert.deepEqual(t.getSync(key), { key, first: T0, last: T0 + 300 });
  assert.equal(t.touchSync('198/051/100', T0), false, 'touch of a missing entry');
  t.putSync({ key: '198/051/100', first: T0 - 86400, last: T0 - 3600 });
  assert.deepEqual(times(`${d.path}/198/051/100`), { m: T0 - 86400, a: T0 - 3600 });
  assert.equal(mode(`${d.path}/198/051/100`), 0o600);
  t.putSync({ key: '198/051/100', first: T0 - 7200, last: T0 });
  assert.deepEqual(times(`${d.path}/198/051/100`), { m: T0 - 7200, a: T0 });
  assert.deepEqual(readdirSync(`${d.path}/198/051`), ['100'], 'no temporary file left');
  const store = openTree({ dir: d.path });
  const w = { key: '198/051/100', first: T0 - 7200, last: T0, mtime: T0 - 7200, atime: T0 };
  assert.deepEqual(await store.removeIfUnchanged([{ ...w, atime: T0 - 1 }]), { removed: 0, changed: 1, gone: 0 }, 'changed since the scan: kept');
  assert.deepEqual(await store.removeIfUnchanged([w]), { removed: 1, changed: 0, gone: 0 });
  assert.deepEqual(await store.removeIfUnchanged([w]), { removed: 0, changed: 0, gone: 1 });
  assert.deepEqual(await store.tidy(), { dirs: 2, temps: 0 });
  assert.equal(existsSync(`${d.path}/198`), false);
  assert.ok(existsSync(d.path), 'the root stays');
});

test('per-IP and IPv6 keys', async () => {
  using d = tempDir();
  const t = new TreeStore(d.path, 'byip');
  const k4 = keyOf(parseIp('::ffff:192.0.2.7')!, 'byip');
  const k6 = keyOf(parseIp('2001:db8::25')!, 'byip');
  assert.equal(k4, '192/000/002/007');
  assert.equal(k6, 'v6/20010db8/00000000/0000000000000025');
  t.createSync(k4, T0);
  t.createSync(k6, T0 + 1);
  assert.deepEqual(t.getSync(k6), { key: k6, first: T0 + 1, last: T0 + 1 });
  assert.equal(mode(`${d.path}/v6/20010db8/00000000`), 0o700);
  const seen: string[] = [];
  for await (const b of openTree({ dir: d.path }).scan()) for (const x of b) seen.push(x.key);
  assert.deepEqual(seen, [k4, k6]);
  assert.deepEqual(detectLayout(d.path), { layout: 'byip', key: '192/000/002' });
  assert.throws(() => openTree({ dir: d.path, layout: 'classc' }), /per-IP entries \(e\.g\. 192\/000\/002\), but class-C was asked for/);
  assert.equal(openTree({ dir: d.path }).layout, 'byip');
  assert.throws(() => t.getSync('192/000/002'), /not a per-IP key/);
});

test('a symlink anywhere on the path is refused, never followed', async () => {
  using d = tempDir();
  using outside = tempDir();
  mkdirSync(`${outside.path}/002`, { recursive: true });
  writeFileSync(`${outside.path}/002/bait`, 'x');
  writeFileSync(`${outside.path}/002`.replace('/002', '/003'), '');
  utimesSync(`${outside.path}/003`, T0, T0);
  const t = new TreeStore(d.path, 'classc');
  // a directory component
  mkdirSync(`${d.path}/192`, { mode: 0o700 });
  symlinkSync(outside.path, `${d.path}/192/000`);
  for (const f of [() => t.getSync('192/000/003'), () => t.createSync('192/000/004', T0), () => t.touchSync('192/000/003', T0 + 5), () => t.putSync({ key: '192/000/003', first: 1, last: 2 })]) {
    assert.throws(f, (e: unknown) => e instanceof TreeAnomalyError && e.anomaly.what === 'symlink' && e.anomaly.key === '192/000');
  }
  assert.deepEqual(times(`${outside.path}/003`), { m: T0, a: T0 }, 'the target was not touched');
  assert.equal(existsSync(`${outside.path}/004`), false, 'nothing created through the link');
  // the entry itself
  mkdirSync(`${d.path}/010/000`, { recursive: true });
  symlinkSync(`${outside.path}/003`, `${d.path}/010/000/001`);
  assert.throws(() => t.getSync('010/000/001'), /symbolic link/);
  assert.throws(() => t.touchSync('010/000/001', T0 + 9), /symbolic link/);
  assert.throws(() => t.createSync('010/000/001', T0 + 9), /symbolic link/);
  assert.deepEqual(times(`${outside.path}/003`), { m: T0, a: T0 });
  assert.ok(lstatSync(`${d.path}/010/000/001`).isSymbolicLink(), 'the link is left alone');
  // removal: never through the link, neither the entry nor a directory on the way
  const store = openTree({ dir: d.path });
  const w = (key: string) => ({ key, first: T0, last: T0, mtime: T0, atime: T0 });
  assert.deepEqual(await store.removeIfUnchanged([w('192/000/003'), w('010/000/001')]), { removed: 0, changed: 2, gone: 0 });
  assert.ok(existsSync(`${outside.path}/003`), 'the target is still there');
  assert.ok(lstatSync(`${d.path}/010/000/001`).isSymbolicLink(), 'the link is left alone');
  // a FIFO in place of an entry: no hang, refused
  execFileSync('mkfifo', [`${d.path}/010/000/002`]);
  assert.throws(() => t.touchSync('010/000/002', T0), /FIFO/);
  // the walk reports both and goes on
  const items = [...walkTree(d.path)];
  assert.deepEqual(
    items.map((x) => (x.type === 'anomaly' ? `${x.anomaly.what}:${x.anomaly.key}` : x.type)),
    ['symlink:010/000/001', 'not-regular:010/000/002', 'symlink:192/000'],
  );
});

test('mixed layouts: the walk sees both, the store refuses the other shape', () => {
  using d = tempDir();
  new TreeStore(d.path, 'classc').createSync('001/002/003', T0);
  new TreeStore(d.path, 'byip').createSync('001/002/004/005', T0);
  const layouts = [...walkTree(d.path)].map((x) => (x.type === 'entry' ? x.layout : x.type));
  assert.deepEqual(layouts, ['classc', 'byip']);
  const c = new TreeStore(d.path, 'classc');
  assert.throws(() => c.getSync('001/002/004'), /is a directory, expected a regular file/);
  const b = new TreeStore(d.path, 'byip');
  assert.throws(() => b.getSync('001/002/003/009'), /is a regular file, expected a directory/);
  const only = [...walkTree(d.path, { layout: 'classc' })].map((x) => x.type);
  assert.deepEqual(only, ['entry', 'anomaly']);
});

test('walk: foreign names reported, our own dot files skipped, post-order directories', () => {
  using d = tempDir();
  new TreeStore(d.path, 'classc').createSync('001/002/003', T0);
  writeFileSync(`${d.path}/README`, '');
  writeFileSync(`${d.path}/${LOCK_NAME}`, '1 2 x\n');
  mkdirSync(`${d.path}/.qgrey-rebuild.1.2/001`, { recursive: true });
  writeFileSync(`${d.path}/001/002/\n..evil`, '');
  const got = [...walkTree(d.path, { dirs: true })].map((x) => (x.type === 'entry' ? 'e:' + x.entry.key : x.type === 'dir' ? 'd:' + x.key : x.type === 'temp' ? 't:' + x.key : `${x.anomaly.what}:${JSON.stringify(x.anomaly.key)}`));
  assert.deepEqual(got, ['bad-name:"001/002/\\n..evil"', 'e:001/002/003', 'd:001/002', 'd:001', 'bad-name:"README"']);
});

test('owner: chown on create when an owner is given', () => {
  using d = tempDir();
  const o = parseOwner('nobody:nogroup');
  assert.ok(o.uid > 0 && o.gid > 0);
  const t = new TreeStore(d.path, 'classc', { owner: o });
  t.createSync('001/002/003', T0);
  for (const p of ['001', '001/002', '001/002/003']) {
    const st = lstatSync(`${d.path}/${p}`);
    assert.deepEqual([st.uid, st.gid], [o.uid, o.gid], p);
  }
  assert.deepEqual(parseOwner('65534:65534'), { uid: 65534, gid: 65534 });
  assert.throws(() => parseOwner('no-such-user-here:root'), /unknown user 'no-such-user-here'/);
  assert.throws(() => parseOwner('root:no-such-group'), /unknown group/);
  assert.throws(() => parseOwner('a b'), /expected USER:GROUP/);
});

test('jgreylist environment: JGREYLIST_HOLDTIME, _BY_IP, _DIR read like atoi', () => {
  assert.equal(holdtimeFromEnv({}), 120);
  assert.equal(holdtimeFromEnv({ JGREYLIST_HOLDTIME: '' }), 120);
  assert.equal(holdtimeFromEnv({ JGREYLIST_HOLDTIME: '0' }), 0);
  assert.equal(holdtimeFromEnv({ JGREYLIST_HOLDTIME: '300s' }), 300);
  assert.equal(holdtimeFromEnv({ JGREYLIST_HOLDTIME: 'abc' }), 0);
  assert.equal(byIpFromEnv({ JGREYLIST_BY_IP: '1' }), true);
  assert.equal(byIpFromEnv({ JGREYLIST_BY_IP: '0' }), false);
  assert.equal(byIpFromEnv({ JGREYLIST_BY_IP: 'yes' }), false);
  assert.equal(treeDir(undefined, { JGREYLIST_DIR: '/x' }), '/x');
  assert.equal(treeDir('/y', { JGREYLIST_DIR: '/x' }), '/y');
  assert.equal(treeDir(undefined, {}), '/var/qmail/jgreylist');
});

test('lock: a second taker waits, then fails with 111 naming the holder', async () => {
  using d = tempDir();
  const a = await lockTree(d.path, 'qgrey rebuild', 5);
  const t = Date.now();
  await assert.rejects(lockTree(d.path, 'qgrey clean', 0.3), (e: Error & { exitCode?: number }) => {
    assert.equal(e.exitCode, 111);
    assert.match(e.message, new RegExp(`locked by another maintenance run \\(pid ${process.pid}, qgrey rebuild\\)`));
    return true;
  });
  assert.ok(Date.now() - t >= 250, 'it waited');
  a.release();
  const b = await lockTree(d.path, 'qgrey clean', 0.3);
  assert.match(readFileSync(`${d.path}/${LOCK_NAME}`, 'utf8'), /qgrey clean/);
  b.release();
  assert.equal(existsSync(`${d.path}/${LOCK_NAME}`), false);
});

test('lock: a lock left by a dead process, or by a reused pid, is taken over', async () => {
  using d = tempDir();
  const child = spawn('true');
  const pid = child.pid!;
  await new Promise((r) => child.on('exit', r));
  writeFileSync(`${d.path}/${LOCK_NAME}`, `${pid} 12345 qgrey rebuild\n`);
  const a = await lockTree(d.path, 'qgrey clean', 0.2);
  a.release();
  // our own pid with another start time: the pid was reused
  writeFileSync(`${d.path}/${LOCK_NAME}`, `${process.pid} 1 qgrey rebuild\n`);
  const b = await lockTree(d.path, 'qgrey clean', 0.2);
  b.release();
  // a live holder is respected
  const sleeper = spawn('sleep', ['30']);
  const st = readFileSync(`/proc/${sleeper.pid}/stat`, 'latin1');
  const start = st.slice(st.lastIndexOf(')') + 2).split(' ')[19];
  writeFileSync(`${d.path}/${LOCK_NAME}`, `${sleeper.pid} ${start} qgrey evict\n`);
  await assert.rejects(lockTree(d.path, 'qgrey clean', 0.2), /qgrey evict/);
  sleeper.kill();
});

test('walk: a full directory (looked at from inside) reports the same things, times to the second, and leaves the working directory alone', () => {
  using d = tempDir();
  const t = new TreeStore(d.path, 'classc');
  for (let i = 1; i <= 40; i++) t.putSync({ key: `010/020/${String(i).padStart(3, '0')}`, first: T0 + i, last: T0 + 1000 + i });
  const outside = `${d.path}/../qgrey-walk-outside-${process.pid}`;
  writeFileSync(outside, '');
  try {
    symlinkSync(outside, `${d.path}/010/020/200`);
    mkdirSync(`${d.path}/010/020/201`, 0o700); // a per-IP container in a class-C directory
    execFileSync('mkfifo', [`${d.path}/010/020/202`]);
    writeFileSync(`${d.path}/010/020/zzz`, '');
    const cwd = process.cwd();
    const items = [...walkTree(d.path, { layout: 'classc' })];
    assert.equal(process.cwd(), cwd);
    const entries = items.filter((x) => x.type === 'entry');
    assert.equal(entries.length, 40);
    assert.deepEqual(entries[6], { type: 'entry', entry: { key: '010/020/007', first: T0 + 7, last: T0 + 1007, mtime: T0 + 7, atime: T0 + 1007 }, layout: 'classc' });
    const odd = items.flatMap((x) => (x.type === 'anomaly' ? [`${x.anomaly.what} ${x.anomaly.key}`] : []));
    assert.deepEqual(odd, ['symlink 010/020/200', 'not-regular 010/020/201', 'not-regular 010/020/202', 'bad-name 010/020/zzz']);
  } finally {
    execFileSync('rm', ['-f', outside]);
  }
});

/** a sweep of the tree at `root` (clean's pass), with `beat` called for each directory and before each removal */
function sweep(root: string, beat: () => void, layout: 'classc' | 'byip' = 'classc', now = T0) {
  const cur = Cursor.of(root, rootStat(root));
  const s = new Sweeper(cur, { rules: { now, maxAge: 30 * 86400, oneTime: 0 }, dryRun: false, layout, where: root, root, beat });
  return { s, items: () => [...sweepTree(cur, s)] };
}

test('sweep: each expired entry is looked at again just before its unlink; one revisited meanwhile is kept and counted', () => {
  using d = tempDir();
  const t = new TreeStore(d.path, 'classc');
  for (const k of ['010/020/001', '010/020/002', '010/020/003']) t.putSync({ key: k, first: T0 - 90 * 86400, last: T0 - 60 * 86400 });
  t.putSync({ key: '010/020/004', first: T0 - 90 * 86400, last: T0 - 86400 });
  let beats = 0;
  // the second beat comes just before the first removal: the wrapper revisits 002 then
  const { s, items } = sweep(d.path, () => {
    if (++beats === 2) utimesSync(`${d.path}/010/020/002`, T0, T0 - 90 * 86400);
  });
  const cwd = process.cwd();
  const got = items().map((x) => (x.type === 'dir' ? `d:${x.key}:${x.holds ?? '-'}` : x.type));
  assert.equal(process.cwd(), cwd, 'the working directory is restored');
  assert.deepEqual(got, ['d:010/020:2', 'd:010:-']);
  assert.deepEqual([s.maxAge, s.oneTime, s.kept, s.changed], [2, 0, 1, 1]);
  assert.deepEqual(readdirSync(`${d.path}/010/020`), ['002', '004']);
});

test('sweep: an entry of the other layout met during the pass stops it with the mixed-layout refusal', () => {
  using d = tempDir();
  new TreeStore(d.path, 'classc').putSync({ key: '001/002/003', first: T0 - 90 * 86400, last: T0 - 90 * 86400 });
  new TreeStore(d.path, 'byip').putSync({ key: '009/002/004/005', first: T0 - 90 * 86400, last: T0 - 90 * 86400 });
  const { items } = sweep(d.path, () => {});
  assert.throws(items, (e: Error & { exitCode?: number }) => e.exitCode === 100 && /mixes the two layouts \(class-C entry 001\/002\/003, per-IP entry 009\/002\/004\/005\)/.test(e.message));
});

test('layoutsIn: the first entry of each layout, in the walk order, from directory listings', () => {
  using d = tempDir();
  const c = new TreeStore(d.path, 'classc');
  for (let i = 1; i <= 30; i++) c.createSync(`0${String(i).padStart(2, '0')}/002/003`, T0);
  assert.deepEqual(layoutsIn(d.path), {}, 'a class-C tree: no per-IP entry, nothing more to know');
  mkdirSync(`${d.path}/020/002/004`); // an empty per-IP container is no entry
  mkdirSync(`${d.path}/020/002/005`);
  symlinkSync('/etc/passwd', `${d.path}/020/002/005/006`); // nor is a symlink
  writeFileSync(`${d.path}/020/002/005/zz`, ''); // nor a foreign name
  assert.deepEqual(layoutsIn(d.path), {});
  const b = new TreeStore(d.path, 'byip');
  b.createSync('025/002/004/007', T0);
  b.createSync('024/001/001/001', T0);
  assert.deepEqual(layoutsIn(d.path), { byip: '024/001/001/001', classc: '001/002/003' });
  for (const x of [...walkTree(d.path)]) if (x.type === 'entry' && x.layout === 'byip') return assert.equal(x.entry.key, '024/001/001/001');
  assert.fail('the walk sees the per-IP entry');
});

test('layoutsIn: a per-IP tree; IPv6 entries tell the layout too', () => {
  using d = tempDir();
  const b = new TreeStore(d.path, 'byip');
  b.createSync('v6/20010db8/00000000/0000000000000025', T0);
  assert.deepEqual(layoutsIn(d.path), { byip: 'v6/20010db8/00000000/0000000000000025' });
  b.createSync('192/000/002/007', T0);
  assert.deepEqual(layoutsIn(d.path), { byip: '192/000/002/007' });
  new TreeStore(d.path, 'classc').createSync('v6/20010db8/00000001', T0);
  assert.deepEqual(layoutsIn(d.path), { byip: '192/000/002/007', classc: 'v6/20010db8/00000001' });
});
