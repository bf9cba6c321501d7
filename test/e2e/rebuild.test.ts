// `qgrey rebuild` against real trees in temp dirs, real multilog-shaped logs, and backups
// converted by the real tai64nlocal in another time zone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { giveTree, tempDir, qgrey, QGREY } from '../helpers/util.js';
import { accepted, greetdelay, label, writeLog } from './rebuild-gen.js';
import { TreeEntries as TreeStore } from '../../src/store/entries.js';
import { parseOwner } from '../../src/store/owner.js';
import { walkTree } from '../../src/store/walk.js';
import { LOCK_NAME } from '../../src/store/lock.js';

const NOW = Math.floor(Date.now() / 1000);
const H = 3600;
const D = 86400;
const ENV = { TZ: 'UTC' };

function times(p: string): [number, number] {
  const st = lstatSync(p);
  return [Math.floor(st.mtimeMs / 1000), Math.floor(st.atimeMs / 1000)];
}

/** every path under root with its type and mode, sorted (dot files of qgrey excluded) */
function tree(root: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const n of readdirSync(rel ? `${root}/${rel}` : root).sort()) {
      if (!rel && n.startsWith('.qgrey')) continue;
      const r = rel ? `${rel}/${n}` : n;
      const st = lstatSync(`${root}/${r}`);
      const kind = st.isSymbolicLink() ? 'l' : st.isDirectory() ? 'd' : 'f';
      out.push(`${kind} ${(st.mode & 0o777).toString(8)} ${r}`);
      if (kind === 'd') walk(r);
    }
  };
  walk('');
  return out;
}

/** A snapshot to compare trees before and after: paths with times to the second. */
function snapshot(root: string): string[] {
  return [...walkTree(root)].map((x) => (x.type === 'entry' ? `${x.entry.key} ${x.entry.mtime} ${x.entry.atime}` : x.type === 'anomaly' ? `! ${x.anomaly.key}` : `d ${x.key}`));
}

test('rebuild from a live multilog directory (current + rotated .s), and a backup converted in another zone', () => {
  using root = tempDir();
  using logs = tempDir();
  const live = `${logs.path}/smtpd`;
  mkdirSync(live);
  mkdirSync(`${logs.path}/backup`);
  // a rotated file, with CRLF line ends: the earliest and a duplicated line
  writeLog(
    `${live}/${label(NOW - 4 * D)}.s`,
    [
      [NOW - 6 * D, accepted('203.0.113.45')],
      [NOW - 6 * D + 5, greetdelay('198.51.100.99')],
      [NOW - 5 * D, accepted('81.2.69.142')],
      [NOW - 5 * D + 1, accepted('2001:db8:1::25', { kind: 'qlogreceived' })],
    ],
    { crlf: true },
  );
  writeLog(`${live}/current`, [
    [NOW - 3 * D, accepted('192.0.2.77', { helo: 'mail .example remoteip=6.6.6.6 x', mailfrom: 'a b@c remoteip=7.7.7.7' })], // SMTPUTF8-style raw spaces
    [NOW - 2 * D, accepted('2001:db8:1::26')],
    [NOW - D, accepted('203.0.113.46')],
    [NOW - H, accepted('233.252.0.5', { relay: true })],
    [NOW - H, accepted('45.33.2.1', { authuser: 'bob@example.org' })],
    [NOW - H, accepted('192.168.0.5')],
    [NOW - H, accepted('10.1.2.3')],
    [NOW - H, accepted('172.20.1.1')],
    [NOW - H, accepted('fe80::1')],
    [NOW - H, accepted('::1')],
    [NOW - H, accepted('127.0.0.1')],
    [NOW - H, accepted('172.32.0.1')], // outside 172.16.0.0/12: a network, not text
    [NOW - H, accepted('::ffff:198.51.100.20')],
  ]);
  writeFileSync(`${live}/state`, '');
  // a backup written by tai64nlocal under Europe/Rome (the earliest time of 203.0.113, a line
  // also in the rotated file, and one that is too old)
  const raw = [
    [NOW - 40 * D, accepted('93.184.216.34')],
    [NOW - 20 * D, accepted('203.0.113.47')],
  ] as const;
  writeLog(`${logs.path}/raw`, raw);
  const dup = readFileSync(`${live}/${label(NOW - 4 * D)}.s`, 'latin1').split('\n')[2]!; // the same bytes, CR included
  const conv = spawnSync('tai64nlocal', { input: readFileSync(`${logs.path}/raw`, 'latin1') + dup + '\n', env: { ...process.env, TZ: 'Europe/Rome' }, encoding: 'latin1' });
  assert.equal(conv.status, 0);
  writeFileSync(`${logs.path}/backup/qmail-smtpd.2026-11-01`, conv.stdout, 'latin1');

  giveTree(root.path);
  const r = qgrey(['rebuild', '--dir', root.path, '--tz', 'Europe/Rome', live, `${logs.path}/backup/qmail-smtpd.*`], { env: ENV });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  assert.match(r.stdout, /^rebuild: 1 message and 16 recipients accepted in 3 files \(20 lines read, 1 duplicate\); wrote 6 class-C entries \(6 new\), carried over 0, removed 0; skipped 1 relay, 1 authenticated, 6 excluded; [0-9.]+ s \(logs [0-9.]+ s, tree [0-9.]+ s\)\n$/);
  assert.deepEqual(tree(root.path), [
    'd 700 081',
    'd 700 081/002',
    'f 600 081/002/069',
    'd 700 172',
    'd 700 172/032',
    'f 600 172/032/000',
    'd 700 192',
    'd 700 192/000',
    'f 600 192/000/002',
    'd 700 198',
    'd 700 198/051',
    'f 600 198/051/100',
    'd 700 203',
    'd 700 203/000',
    'f 600 203/000/113',
    'd 700 v6',
    'd 700 v6/20010db8',
    'f 600 v6/20010db8/00010000',
  ]);
  // first seen = the earliest accepted time wherever it was (the backup, read in its zone)
  assert.deepEqual(times(`${root.path}/203/000/113`), [NOW - 20 * D, NOW - D]);
  // one delivery: atime one second after mtime, so jgreylist-clean's one-time rule keeps it
  assert.deepEqual(times(`${root.path}/081/002/069`), [NOW - 5 * D - 1, NOW - 5 * D]);
  assert.deepEqual(times(`${root.path}/192/000/002`), [NOW - 3 * D - 1, NOW - 3 * D]);
  assert.deepEqual(times(`${root.path}/v6/20010db8/00010000`), [NOW - 5 * D + 1, NOW - 2 * D]);
  assert.deepEqual(times(`${root.path}/198/051/100`), [NOW - H - 1, NOW - H]);
  assert.equal(existsSync(`${root.path}/.qgrey.lock`), false, 'lock released');
  assert.deepEqual(readdirSync(root.path).filter((n) => n.startsWith('.')), [], 'no staging tree left');

  // the same backup read as if it were UTC is an hour (or two) off: the zone matters
  using root2 = tempDir();
  giveTree(root2.path);
  const r2 = qgrey(['rebuild', '--dir', root2.path, '--json', `${logs.path}/backup/qmail-smtpd.*`], { env: ENV });
  assert.equal(r2.code, 0, r2.stderr);
  const j = JSON.parse(r2.stdout) as Record<string, unknown>;
  assert.equal(j.written, 2);
  const off = times(`${root2.path}/203/000/113`)[1] - (NOW - 20 * D);
  assert.ok(off === 3600 || off === 7200, `offset ${off}`);
});

test('keep-recent, stale entries, merge with the live tree; the result survives clean and passes check', () => {
  using root = tempDir();
  using logs = tempDir();
  const t = new TreeStore(root.path, 'classc');
  t.putSync({ key: '005/005/005', first: NOW - 600, last: NOW - 600 }); // greylisting in progress
  t.putSync({ key: '006/006/006', first: NOW - 10 * D, last: NOW - 5 * D }); // stale, not in the logs
  t.putSync({ key: '203/000/113', first: NOW - 2 * H, last: NOW - 60 }); // recent, and in the logs
  t.putSync({ key: '198/051/100', first: NOW + 3 * H, last: NOW + 3 * H }); // the seed's future entry
  writeLog(`${logs.path}/current`, [
    [NOW - 3 * D, accepted('203.0.113.45')],
    [NOW - 3 * D, accepted('198.51.100.7')],
    [NOW - D, accepted('203.0.113.46')],
  ]);
  giveTree(root.path);
  const r = qgrey(['rebuild', '--dir', root.path, '--json', `${logs.path}/current`], { env: ENV });
  const after = Math.ceil(Date.now() / 1000);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as Record<string, number>;
  assert.equal(j.written, 2);
  assert.equal(j.carried, 1);
  assert.equal(j.removed, 1);
  assert.deepEqual(times(`${root.path}/005/005/005`), [NOW - 600, NOW - 600], 'kept as it was');
  assert.equal(existsSync(`${root.path}/006`), false, 'stale entry and its directories removed');
  assert.deepEqual(times(`${root.path}/203/000/113`), [NOW - 3 * D, NOW - 60]);
  const [m, a] = times(`${root.path}/198/051/100`);
  assert.equal(m, NOW - 3 * D, 'the future first-seen is repaired');
  assert.ok(a >= NOW && a <= after, 'last seen clamped to now');

  const c = qgrey(['clean', '--dir', root.path, '--json', '--no-lists'], { env: ENV });
  assert.equal(c.code, 0, c.stderr);
  const cj = JSON.parse(c.stdout) as { removedOneTime: number; removedMaxAge: number };
  assert.equal(cj.removedOneTime + cj.removedMaxAge, 0, 'no rebuilt entry looks unrevisited');

  // the wrapper-facing decision: accepted senders pass at once, greylisting in progress goes on
  const known = qgrey(['check', '--dir', root.path, '--listdir', logs.path, '--json', '198.51.100.200'], { env: ENV });
  assert.equal(JSON.parse(known.stdout).decision, 'OK known', known.stderr);
  const soon = qgrey(['check', '--dir', root.path, '--listdir', logs.path, '--json', '--holdtime', '3600', '5.5.5.9'], { env: ENV });
  assert.equal(JSON.parse(soon.stdout).decision, 'GREY too soon', soon.stderr);
});

test('owner: like the root directory, or --owner user:group', () => {
  const nobody = parseOwner('nobody:nogroup');
  using logs = tempDir();
  writeLog(`${logs.path}/current`, [[NOW - D, accepted('203.0.113.45')]]);
  using root = tempDir();
  chownSync(root.path, nobody.uid, nobody.gid);
  assert.equal(qgrey(['rebuild', '-q', '--dir', root.path, `${logs.path}/current`], { env: ENV }).code, 0);
  for (const p of ['203', '203/000', '203/000/113']) {
    const st = lstatSync(`${root.path}/${p}`);
    assert.deepEqual([st.uid, st.gid], [nobody.uid, nobody.gid], p);
  }
  // a root-owned tree that group nogroup may write: run as root, the work is done as --owner
  using root2 = tempDir();
  chownSync(root2.path, 0, nobody.gid);
  chmodSync(root2.path, 0o770);
  const r = qgrey(['rebuild', '-q', '--dir', root2.path, '--owner', 'nobody:nogroup', `${logs.path}/current`], { env: ENV });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(lstatSync(`${root2.path}/203/000/113`).uid, nobody.uid);
  // an existing entry of the wrong owner is fixed too
  chownSync(`${root2.path}/203/000/113`, 0, 0);
  assert.equal(qgrey(['rebuild', '-q', '--dir', root2.path, '--owner', 'nobody:nogroup', `${logs.path}/current`], { env: ENV }).code, 0);
  assert.equal(lstatSync(`${root2.path}/203/000/113`).uid, nobody.uid);
  const bad = qgrey(['rebuild', '--dir', root2.path, '--owner', 'nosuchuser:nogroup', `${logs.path}/current`], { env: ENV });
  assert.equal(bad.code, 100);
  assert.match(bad.stderr, /^qgrey: fatal: unknown user 'nosuchuser' in --owner/);
});

test('a symlink planted in the tree is reported and left alone; nothing is written through it', () => {
  using root = tempDir();
  using outside = tempDir();
  using logs = tempDir();
  writeFileSync(`${outside.path}/113`, '');
  utimesSync(`${outside.path}/113`, 1000, 1000);
  mkdirSync(`${root.path}/203`, { mode: 0o700 });
  symlinkSync(outside.path, `${root.path}/203/000`);
  writeLog(`${logs.path}/current`, [
    [NOW - D, accepted('203.0.113.45')],
    [NOW - D, accepted('198.51.100.7')],
  ]);
  giveTree(root.path);
  const r = qgrey(['rebuild', '--dir', root.path, `${logs.path}/current`], { env: ENV });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /203\/000: is a symbolic link; left alone/);
  assert.deepEqual(times(`${outside.path}/113`), [1000, 1000]);
  assert.deepEqual(readdirSync(outside.path), ['113']);
  assert.ok(lstatSync(`${root.path}/203/000`).isSymbolicLink());
  assert.ok(existsSync(`${root.path}/198/051/100`), 'the rest is written');
});

test('a mixed layout is refused; --by-ip must match the tree', () => {
  using root = tempDir();
  using logs = tempDir();
  writeLog(`${logs.path}/current`, [[NOW - D, accepted('203.0.113.45')]]);
  new TreeStore(root.path, 'classc').putSync({ key: '001/002/003', first: NOW - D, last: NOW });
  new TreeStore(root.path, 'byip').putSync({ key: '001/002/004/005', first: NOW - D, last: NOW });
  giveTree(root.path);
  const before = snapshot(root.path);
  const r = qgrey(['rebuild', '--dir', root.path, `${logs.path}/current`], { env: ENV });
  assert.equal(r.code, 100);
  assert.match(r.stderr, /^qgrey: fatal: .* mixes the two layouts \(class-C entry 001\/002\/003, per-IP entry 001\/002\/004\/005\)/);
  assert.deepEqual(snapshot(root.path), before);

  using c = tempDir();
  new TreeStore(c.path, 'classc').putSync({ key: '001/002/003', first: NOW - D, last: NOW });
  giveTree(c.path);
  const r2 = qgrey(['rebuild', '--dir', c.path, '--by-ip', `${logs.path}/current`], { env: ENV });
  assert.equal(r2.code, 100);
  assert.match(r2.stderr, /holds class-C entries \(e\.g\. 001\/002\/003\), but per-IP was asked for/);
  const r3 = qgrey(['rebuild', '--dir', c.path, `${logs.path}/current`], { env: { ...ENV, JGREYLIST_BY_IP: '1' } });
  assert.equal(r3.code, 100);
  assert.match(r3.stderr, /\(JGREYLIST_BY_IP\)/);

  using e = tempDir();
  giveTree(e.path);
  assert.equal(qgrey(['rebuild', '-q', '--dir', e.path, '--by-ip', `${logs.path}/current`], { env: ENV }).code, 0);
  assert.deepEqual(times(`${e.path}/203/000/113/045`), [NOW - D - 1, NOW - D]);
});

test('--dry-run writes nothing and says what it would do', () => {
  using root = tempDir();
  using logs = tempDir();
  new TreeStore(root.path, 'classc').putSync({ key: '006/006/006', first: NOW - 10 * D, last: NOW - 5 * D });
  writeLog(`${logs.path}/current`, [[NOW - D, accepted('203.0.113.45')]]);
  giveTree(root.path);
  const before = snapshot(root.path);
  const r = qgrey(['rebuild', '--dir', root.path, '--dry-run', `${logs.path}/current`], { env: ENV });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^rebuild: 0 messages and 1 recipient accepted in 1 file \(1 line read\); would write 1 class-C entry \(1 new\), would carry over 0, would remove 1/);
  assert.deepEqual(snapshot(root.path), before);
  assert.deepEqual(readdirSync(root.path), ['006']);
});

function bigLog(path: string, n: number): void {
  const parts: string[] = [];
  for (let i = 0; i < n; i++) {
    const ip = `${11 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}.1`;
    parts.push(`${label(NOW - D - (i % 5000))} ${accepted(ip)}\n`);
  }
  writeFileSync(path, parts.join(''));
}

async function waitFor(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 2));
  }
  return cond();
}

test('a rebuild killed with SIGKILL half way leaves the live tree intact; the next run cleans up', async () => {
  using root = tempDir();
  using logs = tempDir();
  bigLog(`${logs.path}/current`, 5000);
  const t = new TreeStore(root.path, 'classc');
  t.putSync({ key: '005/005/005', first: NOW - 600, last: NOW - 600 });
  t.putSync({ key: '011/000/000', first: NOW - 9 * D, last: NOW - 8 * D });
  t.putSync({ key: '006/006/006', first: NOW - 10 * D, last: NOW - 5 * D });
  giveTree(root.path);
  const before = snapshot(root.path);
  const child = spawn(process.execPath, [QGREY, 'rebuild', '--dir', root.path, `${logs.path}/current`], { env: { ...process.env, ...ENV }, stdio: 'ignore' });
  const exited = new Promise<NodeJS.Signals | null>((r) => child.on('exit', (_c, sig) => r(sig)));
  const staged = () => readdirSync(root.path).some((n) => n.startsWith('.qgrey-rebuild.'));
  assert.ok(await waitFor(staged, 20000), 'the staging tree appeared');
  child.kill('SIGKILL');
  assert.equal(await exited, 'SIGKILL');
  assert.ok(staged(), 'killed while building beside the live tree');
  assert.ok(existsSync(`${root.path}/${LOCK_NAME}`), 'the dead run left its lock');
  assert.deepEqual(snapshot(root.path), before, 'the live tree is as it was');

  const r = qgrey(['rebuild', '--dir', root.path, '--json', `${logs.path}/current`], { env: { ...ENV, QGREY_LOCK_WAIT: '1' } });
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as Record<string, number>;
  assert.equal(j.leftovers, 1);
  assert.equal(j.written, 5000);
  assert.equal(j.added, 4999);
  assert.equal(j.carried, 1);
  assert.equal(j.removed, 1);
  assert.deepEqual(readdirSync(root.path).filter((n) => n.startsWith('.')), []);
  assert.deepEqual(times(`${root.path}/005/005/005`), [NOW - 600, NOW - 600]);
  assert.deepEqual(times(`${root.path}/011/000/000`), [NOW - D - 1, NOW - D], 'an old live entry takes the logs\' times');
});

test('two runs at once: the second waits briefly, then exits 111', async (t) => {
  using root = tempDir();
  using logs = tempDir();
  // the first run reads its log from a FIFO the test holds open, so it holds the lock until then
  const fifo = `${logs.path}/current`;
  spawnSync('mkfifo', [fifo]);
  const writer = spawn('sh', ['-c', 'exec cat > "$1"', 'sh', fifo], { stdio: ['pipe', 'ignore', 'inherit'] });
  giveTree(root.path);
  const child = spawn(process.execPath, [QGREY, 'rebuild', '-q', '--dir', root.path, fifo], { env: { ...process.env, ...ENV }, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  // whatever fails below, leave no process behind (a writer blocked on the FIFO would hang the test)
  t.after(() => {
    writer.kill('SIGKILL');
    child.kill('SIGKILL');
  });
  assert.ok(await waitFor(() => existsSync(`${root.path}/${LOCK_NAME}`), 20000), 'the first run holds the lock');
  const t0 = Date.now();
  const r = qgrey(['clean', '--dir', root.path], { env: { ...ENV, QGREY_LOCK_WAIT: '0.3' } });
  const waited = Date.now() - t0;
  assert.equal(r.code, 111, r.stderr);
  assert.match(r.stderr, /^qgrey: fatal: greylist directory .* is locked by another maintenance run \(pid [0-9]+, qgrey rebuild\); try again later\n$/);
  assert.ok(waited >= 300, `waited ${waited} ms`);
  writer.stdin!.end(`${label(NOW - D)} ${accepted('203.0.113.45')}\n`);
  assert.equal(await exited, 0, err);
  assert.ok(existsSync(`${root.path}/203/000/113`));
  const r2 = qgrey(['clean', '-q', '--no-lists', '--dir', root.path], { env: ENV });
  assert.equal(r2.code, 0, r2.stderr);
});

test('--help has examples; bad options are one-line errors', () => {
  const h = qgrey(['rebuild', '--help']);
  assert.equal(h.code, 0);
  assert.match(h.stdout, /Examples:/);
  const b = qgrey(['rebuild', '--dir', '/nonexistent/qgrey', '--keep-recent', 'soon']);
  assert.equal(b.code, 100);
  assert.match(b.stderr, /^qgrey: fatal: unable to parse --keep-recent 'soon'/);
  const m = qgrey(['rebuild', '--dir', '/nonexistent/qgrey', '/dev/null']);
  assert.equal(m.code, 100);
  assert.match(m.stderr, /^qgrey: fatal: greylist directory \/nonexistent\/qgrey does not exist or is not a directory\n$/);
  const x = qgrey(['rebuild', '--dir', '/tmp', '--exclude', '10.0.0.0/33', '/dev/null']);
  assert.equal(x.code, 100);
  assert.match(x.stderr, /unable to parse --exclude '10\.0\.0\.0\/33'/);
});

test('one log (the sinks take its plain lines as numbers): IPv6 keys, the default and given IPv6 exclusions, both layouts, the same with WebAssembly off', () => {
  using logs = tempDir();
  const lines: [number, string][] = [];
  const v6 = ['2001:db8:1::25', '2001:db8:1::26', '2001:db8:1:0:ffff::1', '2001:db8:2::1', '2001:db8:77::9', 'fe80::1', '::1', 'fd12:3456::1', '::ffff:198.51.100.20', '2001:DB8:1::25'];
  v6.forEach((ip, i) => {
    // a message's recipients, one after the other, as qmail-smtpd logs them
    lines.push([NOW - 3 * D + 10 * i, accepted(ip, { kind: 'qlogreceived' })]);
    lines.push([NOW - 3 * D + 10 * i + 1, accepted(ip)]);
    lines.push([NOW - D + 10 * i, accepted(ip)]);
  });
  lines.push([NOW - H, accepted('2001:db8:3::1', { relay: true })], [NOW - H, accepted('2001:db8:4::1', { authuser: 'bob@example.org' })], [NOW - 2 * H, accepted('203.0.113.9')]);
  writeLog(`${logs.path}/current`, lines);
  const runs: string[][] = [];
  for (const layout of [[], ['--by-ip']]) {
    for (const env of [ENV, { ...ENV, QGREY_NO_WASM: '1' }]) {
      using root = tempDir();
      giveTree(root.path);
      const r = qgrey(['rebuild', '--json', '--dir', root.path, '--exclude', '2001:db8:77::/48', ...layout, `${logs.path}/current`], { env });
      assert.equal(r.code, 0, r.stderr);
      const rep = JSON.parse(r.stdout) as Record<string, unknown>;
      const entries = tree(root.path).filter((x) => x.startsWith('f ')).map((x) => `${x} ${times(`${root.path}/${x.slice(6)}`).map((t) => t - NOW).join(' ')}`);
      runs.push([`${rep.accepted} accepted, ${rep.excluded} excluded, ${rep.relay} relay, ${rep.auth} auth, ${rep.written} written`, ...entries]);
    }
  }
  assert.deepEqual(runs[1], runs[0], 'class C: WebAssembly on and off');
  assert.deepEqual(runs[3], runs[2], 'per IP: WebAssembly on and off');
  assert.deepEqual(runs[0], [
    '33 accepted, 12 excluded, 1 relay, 1 auth, 4 written',
    `f 600 198/051/100 ${-3 * D + 80} ${-D + 80}`,
    `f 600 203/000/113 ${-2 * H - 1} ${-2 * H}`,
    `f 600 v6/20010db8/00010000 ${-3 * D} ${-D + 90}`,
    `f 600 v6/20010db8/00020000 ${-3 * D + 30} ${-D + 30}`,
  ]);
  assert.deepEqual(runs[2]!.slice(0, 1), ['33 accepted, 12 excluded, 1 relay, 1 auth, 6 written']);
  assert.deepEqual(runs[2]!.slice(-4), [
    `f 600 v6/20010db8/00010000/0000000000000025 ${-3 * D} ${-D + 90}`,
    `f 600 v6/20010db8/00010000/0000000000000026 ${-3 * D + 10} ${-D + 10}`,
    `f 600 v6/20010db8/00010000/ffff000000000001 ${-3 * D + 20} ${-D + 20}`,
    `f 600 v6/20010db8/00020000/0000000000000001 ${-3 * D + 30} ${-D + 30}`,
  ]);
});

test('--dry-run reads the logs while the tree opens: a per-IP tree nobody named is found out, the logs read again by address, their warnings given once', () => {
  using root = tempDir();
  using logs = tempDir();
  mkdirSync(`${root.path}/198/051/100`, { recursive: true, mode: 0o700 });
  writeFileSync(`${root.path}/198/051/100/007`, '', { mode: 0o600 });
  utimesSync(`${root.path}/198/051/100/007`, NOW - 2 * D, NOW - 3 * D);
  writeLog(`${logs.path}/current`, [
    [NOW - 3 * D, accepted('203.0.113.45')],
    [NOW - 2 * D, accepted('203.0.113.46')],
    [NOW - D, accepted('198.51.100.7')],
    [NOW - H, accepted('not-an-address')],
  ]);
  giveTree(root.path);
  const runs = ['', '--by-ip'].map((flag) => {
    const r = qgrey(['rebuild', '--dry-run', '--json', '--dir', root.path, ...(flag ? [flag] : []), `${logs.path}/current`], { env: ENV });
    assert.equal(r.code, 0, r.stderr);
    const rep = JSON.parse(r.stdout) as Record<string, unknown>;
    delete rep.seconds;
    delete rep.scanSeconds;
    return { rep, stderr: r.stderr };
  });
  assert.deepEqual(runs[0], runs[1]);
  assert.equal(runs[0]!.rep.layout, 'byip');
  assert.equal(runs[0]!.rep.written, 3);
  assert.equal(runs[0]!.rep.added, 2);
  assert.equal(runs[0]!.rep.badAddress, 1);
  assert.equal(runs[0]!.stderr.match(/not an address/g)?.length, 1, runs[0]!.stderr);
});
