// The C helper of `qgrey clean` (src/native/treefs.c) against a real file system, and the two
// walks (C helper and TypeScript) giving the same items. The helper is built by `npm run build`
// (the tests' pretest); a missing build fails here, it is never skipped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tempDir } from '../helpers/util.js';
import { treeFs, KIND_DIR, KIND_FILE, KIND_OTHER, KIND_SYMLINK } from '../../src/native/treefs.js';
import { TreeStore, walkTree } from '../../src/store/tree.js';

const T0 = 1_700_000_000;

function helper() {
  const n = treeFs();
  assert.ok(n, 'dist/native/treefs.node is not built (npm run build builds it with cc and the Node headers of the node package)');
  return n;
}

test('scanLeaf: names in order, kinds and times as lstat gives them, nothing followed', () => {
  const n = helper();
  using d = tempDir();
  mkdirSync(`${d.path}/001/002`, { recursive: true });
  writeFileSync(`${d.path}/001/002/010`, '');
  utimesSync(`${d.path}/001/002/010`, T0 + 5, T0 + 1);
  writeFileSync(`${d.path}/outside`, '');
  symlinkSync(`${d.path}/outside`, `${d.path}/001/002/009`);
  mkdirSync(`${d.path}/001/002/011`);
  execFileSync('mkfifo', [`${d.path}/001/002/012`]);
  const r = n.scanLeaf(d.path, '001/002');
  assert.deepEqual(r.names, ['009', '010', '011', '012']);
  assert.deepEqual([...r.kinds], [KIND_SYMLINK, KIND_FILE, KIND_DIR, KIND_OTHER]);
  assert.equal(r.asec[1], T0 + 5);
  assert.equal(r.msec[1], T0 + 1);
  // a directory on the way that is a symlink is refused, not followed
  symlinkSync(`${d.path}/001`, `${d.path}/005`);
  assert.throws(() => n.scanLeaf(d.path, '005/002'), (e: NodeJS.ErrnoException) => e.code === 'ELOOP' || e.code === 'ENOTDIR');
  assert.throws(() => n.scanLeaf(d.path, '001/../001/002'), /Invalid argument/);
  assert.throws(() => n.scanLeaf(d.path, '001/404'), (e: NodeJS.ErrnoException) => e.code === 'ENOENT');
});

test('removeIfUnchanged: removes only regular files whose times are still the walked ones', () => {
  const n = helper();
  using d = tempDir();
  const t = new TreeStore(d.path, 'classc');
  for (const k of ['001/002/001', '001/002/002', '001/002/003']) t.putSync({ key: k, first: T0, last: T0 + 10 });
  utimesSync(`${d.path}/001/002/002`, T0 + 99, T0); // touched since the walk
  mkdirSync(`${d.path}/001/002/004`);
  const asec = Float64Array.from([T0 + 10, T0 + 10, T0 + 10, T0 + 10, T0 + 10, T0 + 10]);
  const msec = Float64Array.from([T0, T0, T0, T0, T0, T0]);
  const res = n.removeIfUnchanged(d.path, '001/002', ['001', '002', '404', '004', '../x', '003'], asec, msec);
  assert.deepEqual([...res], [0, 2, 1, 2, -22, 0]);
  assert.equal(existsSync(`${d.path}/001/002/001`), false);
  assert.ok(existsSync(`${d.path}/001/002/002`));
  assert.ok(existsSync(`${d.path}/001/002/004`));
  assert.equal(existsSync(`${d.path}/001/002/003`), false);
  symlinkSync(`${d.path}/001`, `${d.path}/007`);
  assert.throws(() => n.removeIfUnchanged(d.path, '007/002', ['002'], asec, msec));
  assert.ok(existsSync(`${d.path}/001/002/002`), 'nothing removed through a symlinked directory');
});

test('the walk gives the same items through the C helper and through lstat', () => {
  const n = helper();
  using d = tempDir();
  const c = new TreeStore(d.path, 'byip');
  for (let i = 0; i < 40; i++) c.putSync({ key: `010/020/030/${String(i).padStart(3, '0')}`, first: T0 + i, last: T0 + 1000 + i });
  c.putSync({ key: '010/020/031/001', first: T0, last: T0 });
  c.putSync({ key: 'v6/20010db8/00000001/0000000000000025', first: T0, last: T0 + 3 });
  new TreeStore(d.path, 'classc').putSync({ key: '011/001/001', first: T0, last: T0 + 7 });
  symlinkSync('/etc/passwd', `${d.path}/010/020/030/200`);
  execFileSync('mkfifo', [`${d.path}/010/020/030/201`]);
  mkdirSync(`${d.path}/010/020/030/202`);
  writeFileSync(`${d.path}/010/020/030/zzz`, '');
  writeFileSync(`${d.path}/010/020/030/.qgrey-tmp.12345.007`, '');
  for (const opts of [{ dirs: true, temps: true }, { layout: 'byip' as const }, { layout: 'classc' as const, dirs: true }]) {
    const js = [...walkTree(d.path, opts)];
    const c2 = [...walkTree(d.path, { ...opts, native: n })];
    assert.deepEqual(c2, js, JSON.stringify(opts));
  }
  assert.ok([...walkTree(d.path, { native: n })].some((x) => x.type === 'anomaly' && x.anomaly.what === 'symlink'));
});
