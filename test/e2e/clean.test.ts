// `qgrey clean` on real trees: jgreylist-clean's verified cases (FORMATS.md §4.7), symlinks,
// mixed layouts, the lock, and expired list entries.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync, lstatSync } from 'node:fs';
import { giveTree, tempDir, qgrey } from '../helpers/util.js';
import { TreeEntries as TreeStore } from '../../src/store/entries.js';
import { LOCK_NAME } from '../../src/store/lock.js';

const NOW = Math.floor(Date.now() / 1000);
const D = 86400;

test("jgreylist-clean's cases: max-age, one-time, kept, then empty directories", () => {
  using d = tempDir();
  const t = new TreeStore(d.path, 'classc');
  t.putSync({ key: '001/001/001', first: NOW - 40 * D, last: NOW - 31 * D }); // atime 31 d -> removed
  t.putSync({ key: '001/001/002', first: NOW - 2 * D, last: NOW - 2 * D }); // atime == mtime 2 d -> removed
  t.putSync({ key: '001/002/001', first: NOW - 3 * D, last: NOW - 2 * D }); // revisited 2 d -> kept
  t.putSync({ key: '002/001/001', first: NOW - 3600, last: NOW - 3600 }); // atime == mtime 1 h -> kept
  t.putSync({ key: '003/001/001', first: NOW - 40 * D, last: NOW - 30 * D + 5 }); // 30 d - 5 s -> kept
  writeFileSync(`${d.path}/notes.txt`, 'a file in the root is never touched');
  giveTree(d.path);
  const r = qgrey(['clean', '--dir', d.path, '--no-lists']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^clean: removed 1 max-age and 1 one-time entries and 1 empty directories; kept 3 entries; left 1 odd things alone; [0-9.]+ s\n$/);
  assert.equal(existsSync(`${d.path}/001/001`), false);
  for (const k of ['001/002/001', '002/001/001', '003/001/001']) assert.ok(existsSync(`${d.path}/${k}`), k);
  assert.ok(existsSync(`${d.path}/notes.txt`));
  assert.match(r.stderr, /notes\.txt: is not part of a jgreylist tree; left alone/);
});

test('a per-IP tree: an old entry goes with all its now-empty parents; --dry-run and --json', () => {
  using d = tempDir();
  const t = new TreeStore(d.path, 'byip');
  t.putSync({ key: '010/020/030/040', first: NOW - 95 * D, last: NOW - 90 * D });
  t.putSync({ key: 'v6/20010db8/00000000/0000000000000025', first: NOW - 95 * D, last: NOW - 90 * D });
  t.putSync({ key: '010/020/031/001', first: NOW - 5 * D, last: NOW - D });
  giveTree(d.path);
  const dry = qgrey(['clean', '--dir', d.path, '--no-lists', '--dry-run', '--json']);
  assert.equal(dry.code, 0, dry.stderr);
  assert.deepEqual(JSON.parse(dry.stdout), { ...JSON.parse(dry.stdout), dryRun: true, removedMaxAge: 2, removedOneTime: 0, removedDirs: 4, kept: 1 });
  assert.ok(existsSync(`${d.path}/010/020/030/040`), 'dry run changed nothing');
  const r = qgrey(['clean', '--dir', d.path, '--no-lists', '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).removedDirs, 4);
  assert.equal(existsSync(`${d.path}/010/020/030`), false);
  assert.equal(existsSync(`${d.path}/v6`), false);
  assert.ok(existsSync(`${d.path}/010/020/031/001`));
});

test('symlinks are never followed: a link to an old file outside, and a dangling link, keep their directory', () => {
  using d = tempDir();
  using outside = tempDir();
  writeFileSync(`${outside.path}/victim`, 'keep me');
  const t = new TreeStore(d.path, 'classc');
  t.putSync({ key: '001/001/001', first: NOW - 40 * D, last: NOW - 40 * D });
  symlinkSync(`${outside.path}/victim`, `${d.path}/001/001/002`);
  mkdirSync(`${d.path}/002/002`, { recursive: true });
  symlinkSync('/nonexistent', `${d.path}/002/002/002`);
  symlinkSync(outside.path, `${d.path}/003`);
  giveTree(d.path);
  const r = qgrey(['clean', '--dir', d.path, '--no-lists', '--max-age', '1d']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(readFileSync(`${outside.path}/victim`, 'utf8'), 'keep me');
  assert.ok(lstatSync(`${d.path}/001/001/002`).isSymbolicLink());
  assert.ok(lstatSync(`${d.path}/002/002/002`).isSymbolicLink());
  assert.ok(lstatSync(`${d.path}/003`).isSymbolicLink());
  assert.equal(existsSync(`${d.path}/001/001/001`), false);
  assert.equal(r.stderr.split('\n').filter((l) => /is a symbolic link; left alone/.test(l)).length, 3);
});

test('a mixed tree is refused and left as it is', () => {
  using d = tempDir();
  new TreeStore(d.path, 'classc').putSync({ key: '001/002/003', first: NOW - 90 * D, last: NOW - 90 * D });
  new TreeStore(d.path, 'byip').putSync({ key: '001/002/004/005', first: NOW - 90 * D, last: NOW - 90 * D });
  giveTree(d.path);
  const r = qgrey(['clean', '--dir', d.path, '--no-lists']);
  assert.equal(r.code, 100);
  assert.match(r.stderr, /mixes the two layouts/);
  assert.ok(existsSync(`${d.path}/001/002/003`) && existsSync(`${d.path}/001/002/004/005`));
});

test('a mixed tree whose per-IP entries come after many class-C directories: refused before anything goes, also in a dry run', () => {
  using d = tempDir();
  const c = new TreeStore(d.path, 'classc');
  for (let a = 1; a <= 20; a++) for (let b = 1; b <= 5; b++) c.putSync({ key: `${String(a).padStart(3, '0')}/${String(b).padStart(3, '0')}/001`, first: NOW - 90 * D, last: NOW - 90 * D });
  new TreeStore(d.path, 'byip').putSync({ key: '200/001/002/003', first: NOW - 90 * D, last: NOW - 90 * D });
  giveTree(d.path);
  for (const args of [['--dry-run', '--json'], []]) {
    const r = qgrey(['clean', '--dir', d.path, '--no-lists', ...args]);
    assert.equal(r.code, 100, r.stderr);
    assert.match(r.stderr, /mixes the two layouts \(class-C entry 001\/001\/001, per-IP entry 200\/001\/002\/003\)/);
    assert.equal(r.stdout, '');
  }
  assert.ok(existsSync(`${d.path}/001/001/001`) && existsSync(`${d.path}/020/005/001`) && existsSync(`${d.path}/200/001/002/003`));
});

test('a run that holds the lock makes clean wait, then exit 111', () => {
  using d = tempDir();
  writeFileSync(`${d.path}/${LOCK_NAME}`, `1 - qgrey rebuild\n`); // pid 1 is alive
  giveTree(d.path);
  const r = qgrey(['clean', '--dir', d.path, '--no-lists'], { env: { QGREY_LOCK_WAIT: '0.2' } });
  assert.equal(r.code, 111);
  assert.match(r.stderr, /locked by another maintenance run \(pid 1, qgrey rebuild\)/);
});

test('a QGREY_LOCK_WAIT that is not seconds is refused with one line and 100', () => {
  using d = tempDir();
  giveTree(d.path);
  for (const bad of ['abc', '5s', '-1', '99999']) {
    const r = qgrey(['clean', '--dir', d.path, '--no-lists'], { env: { QGREY_LOCK_WAIT: bad } });
    assert.equal(r.code, 100, `${bad}: ${r.stderr}`);
    assert.equal(r.stderr, `qgrey: fatal: bad QGREY_LOCK_WAIT '${bad}': expected the seconds to wait for a lock, at most 86400 (default 5)\n`);
  }
  for (const ok of ['', '0', '0.2', '1e-3']) assert.equal(qgrey(['clean', '--dir', d.path, '--no-lists'], { env: { QGREY_LOCK_WAIT: ok } }).code, 0, ok);
});

test('expired white/blacklist entries are purged, live and manual ones kept', () => {
  using d = tempDir();
  using lists = tempDir();
  writeFileSync(`${lists.path}/whitelist`, '# mine\n192.0.2.0/24   2020-01-01T00:00:00Z  spf:example.org\n198.51.100.7   never  manual  # friend\n');
  giveTree(d.path);
  const r = qgrey(['clean', '--dir', d.path, '--listdir', lists.path, '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).listsPurged, 1);
  assert.equal(readFileSync(`${lists.path}/whitelist`, 'utf8'), '# mine\n198.51.100.7   never  manual  # friend\n');
});

test('a relative --dir: every expired entry goes, in every directory (the apply phase changes directory)', () => {
  using d = tempDir();
  mkdirSync(`${d.path}/tree`, 0o700);
  const t = new TreeStore(`${d.path}/tree`, 'classc');
  for (const k of ['001/001/001', '001/002/001', '002/001/001', '002/001/002']) t.putSync({ key: k, first: NOW - 95 * D, last: NOW - 90 * D });
  t.putSync({ key: '003/001/001', first: NOW - 5 * D, last: NOW - D });
  giveTree(`${d.path}/tree`);
  const r = qgrey(['clean', '--dir', 'tree', '--no-lists', '--json'], { cwd: d.path });
  assert.equal(r.code, 0, r.stderr);
  const rep = JSON.parse(r.stdout);
  assert.equal(rep.removedMaxAge, 4);
  assert.equal(rep.kept, 1);
  assert.equal(rep.dir, `${d.path}/tree`);
  assert.equal(existsSync(`${d.path}/tree/001`), false);
  assert.equal(existsSync(`${d.path}/tree/002`), false);
  assert.ok(existsSync(`${d.path}/tree/003/001/001`));
});

test('temporary files of an interrupted put are removed once their process is gone; a live one is kept', () => {
  using d = tempDir();
  const t = new TreeStore(d.path, 'classc');
  t.putSync({ key: '001/001/001', first: NOW - 40 * D, last: NOW - 31 * D }); // expired
  t.putSync({ key: '002/001/001', first: NOW - 3 * D, last: NOW - D }); // kept
  const dead = 2 ** 22 + 12345; // above pid_max's default range: no such process
  writeFileSync(`${d.path}/001/001/.qgrey-tmp.${dead}.002`, '');
  writeFileSync(`${d.path}/002/001/.qgrey-tmp.${process.pid}.002`, ''); // this test's own pid: alive
  giveTree(d.path);
  const dry = qgrey(['clean', '--dir', d.path, '--no-lists', '--dry-run']);
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stdout, /would remove 1 temporary files left by interrupted runs/);
  assert.ok(existsSync(`${d.path}/001/001/.qgrey-tmp.${dead}.002`));
  const r = qgrey(['clean', '--dir', d.path, '--no-lists', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const rep = JSON.parse(r.stdout);
  assert.equal(rep.removedTemps, 1);
  assert.equal(rep.removedMaxAge, 1);
  assert.equal(rep.anomalies, 0);
  assert.equal(existsSync(`${d.path}/001`), false, 'the directory emptied by both removals goes too');
  assert.ok(existsSync(`${d.path}/002/001/.qgrey-tmp.${process.pid}.002`));
});

