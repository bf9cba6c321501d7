// `qgrey evict`: hang-up patterns, protection by accepted mail, --min-events, and incremental
// runs with --state across a multilog rotation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, lstatSync, mkdirSync, renameSync, readFileSync, symlinkSync } from 'node:fs';
import { giveTree, qgrey, tempDir } from '../helpers/util.js';
import { accepted, greetdelay, readFailed, writeLog, label } from './rebuild-gen.js';
import { TreeEntries as TreeStore } from '../../src/store/entries.js';

const NOW = Math.floor(Date.now() / 1000);
const D = 86400;

function seed(root: string, layout: 'classc' | 'byip', keys: string[]): void {
  const t = new TreeStore(root, layout);
  for (const k of keys) t.putSync({ key: k, first: NOW - 2 * D, last: NOW - D });
}

test('evicts GREETDELAY and the three null-HELO wordings; accepted mail protects; other read failures do not count', () => {
  using root = tempDir();
  using logs = tempDir();
  seed(root.path, 'classc', ['198/051/100', '203/000/113', '192/000/002', '093/184/216', '081/002/069', '045/033/002']);
  writeLog(`${logs.path}/current`, [
    [NOW - 600, greetdelay('198.51.100.7')],
    [NOW - 590, readFailed('192.0.2.9', 'closed-before-quit')],
    [NOW - 580, readFailed('93.184.216.34', 'hang-up-before-quit')],
    [NOW - 570, readFailed('81.2.69.142', 'plain')],
    [NOW - 560, readFailed('45.33.2.1', 'plain', 'mail.example')], // it said HELO: not the pattern
    [NOW - 550, greetdelay('203.0.113.9')],
    [NOW - 540, accepted('203.0.113.45')], // a good sender in the same class C
  ]);
  giveTree(root.path);
  const r = qgrey(['evict', '--dir', root.path, `${logs.path}/current`]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^evict: 5 hang-ups in 1 file \(7 lines read\); removed 4 entries: 81\.2\.69 93\.184\.216 192\.0\.2 198\.51\.100; kept 1 that delivered accepted mail: 203\.0\.113; [0-9.]+ s\n$/);
  for (const k of ['198/051/100', '192/000/002', '093/184/216', '081/002/069']) assert.equal(existsSync(`${root.path}/${k}`), false, k);
  assert.ok(existsSync(`${root.path}/203/000/113`));
  assert.ok(existsSync(`${root.path}/045/033/002`));
  assert.equal(existsSync(`${root.path}/198`), false, 'emptied directories go too');
});

test('--min-events, --dry-run, a per-IP tree', () => {
  using root = tempDir();
  using logs = tempDir();
  seed(root.path, 'byip', ['198/051/100/007', '198/051/100/008', '203/000/113/009']);
  writeLog(`${logs.path}/current`, [
    [NOW - 600, greetdelay('198.51.100.7')],
    [NOW - 500, greetdelay('198.51.100.7')],
    [NOW - 400, greetdelay('198.51.100.8')],
    [NOW - 300, greetdelay('203.0.113.9')],
    [NOW - 200, greetdelay('203.0.113.9')],
  ]);
  giveTree(root.path);
  const dry = qgrey(['evict', '--dir', root.path, '--min-events', '2', '--dry-run', '--json', `${logs.path}/current`]);
  assert.equal(dry.code, 0, dry.stderr);
  const j = JSON.parse(dry.stdout) as { evicted: string[]; below: number; absent: number };
  assert.deepEqual(j.evicted, ['198.51.100.7', '203.0.113.9']);
  assert.equal(j.below, 1);
  assert.ok(existsSync(`${root.path}/198/051/100/007`), 'dry run removed nothing');
  const r = qgrey(['evict', '--dir', root.path, '--min-events', '2', `${logs.path}/current`]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(existsSync(`${root.path}/198/051/100/007`), false);
  assert.ok(existsSync(`${root.path}/198/051/100/008`), 'one event is below --min-events 2');
  assert.equal(existsSync(`${root.path}/203`), false);
});

test('--state: each run reads only new lines, across a rotation of current; counts add up over runs', () => {
  using root = tempDir();
  using logs = tempDir();
  const dir = `${logs.path}/smtpd`;
  mkdirSync(dir);
  const state = `${logs.path}/evict.state`;
  seed(root.path, 'classc', ['198/051/100', '203/000/113']);
  writeLog(`${dir}/current`, [[NOW - 900, greetdelay('198.51.100.7')]]);
  giveTree(root.path);
  const run = () => {
    const r = qgrey(['evict', '--dir', root.path, '--state', state, '--min-events', '2', '--json', dir]);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as { events: number; evicted: string[]; below: number };
  };
  let j = run();
  assert.equal(j.events, 1);
  assert.equal(j.below, 1);
  assert.ok(existsSync(`${root.path}/198/051/100`));
  // nothing new: nothing read
  j = run();
  assert.equal(j.events, 0);
  // multilog rotates current to @….s (same inode) and starts a new current
  appendFileSync(`${dir}/current`, `${label(NOW - 800)} ${greetdelay('203.0.113.5')}\n`);
  renameSync(`${dir}/current`, `${dir}/${label(NOW - 700)}.s`);
  writeLog(`${dir}/current`, [[NOW - 600, greetdelay('198.51.100.7')]]);
  j = run();
  assert.equal(j.events, 2, 'the tail of the rotated file and the new current, nothing twice');
  assert.deepEqual(j.evicted, ['198.51.100'], 'the second event comes from this run, the first from the state');
  assert.equal(existsSync(`${root.path}/198/051/100`), false);
  assert.ok(existsSync(`${root.path}/203/000/113`), 'one event is not enough');
  const s = JSON.parse(readFileSync(state, 'utf8')) as { files: { path: string }[] };
  assert.deepEqual(s.files.map((f) => f.path.slice(dir.length + 1)).sort(), [`${label(NOW - 700)}.s`, 'current']);
});

test('removed and absent apart: the keys that had no entry are named on their own, in the text and the JSON', () => {
  using root = tempDir();
  using logs = tempDir();
  seed(root.path, 'classc', ['198/051/100']);
  writeLog(`${logs.path}/current`, [
    [NOW - 600, greetdelay('198.51.100.7')],
    [NOW - 500, greetdelay('192.0.2.9')],
    [NOW - 400, greetdelay('203.0.113.9')],
  ]);
  giveTree(root.path);
  const dry = qgrey(['evict', '-n', '--dir', root.path, `${logs.path}/current`]);
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stdout, /^evict: 3 hang-ups in 1 file \(3 lines read\); would remove 1 entry: 198\.51\.100; 2 had no entry: 192\.0\.2 203\.0\.113; [0-9.]+ s\n$/);
  const j = JSON.parse(qgrey(['evict', '--json', '--dir', root.path, `${logs.path}/current`]).stdout) as { evicted: string[]; absent: string[] };
  assert.deepEqual(j.evicted, ['198.51.100']);
  assert.deepEqual(j.absent, ['192.0.2', '203.0.113']);
  assert.equal(existsSync(`${root.path}/198/051/100`), false);
});

test('accepted lines counted from the scan as numbers protect exactly as records do (WebAssembly on and off, both layouts, --state)', () => {
  using logs = tempDir();
  const lines: [number, string][] = [];
  // a network of hang-ups with a delivery among them, one without, each address kind
  const ips = ['198.51.100.7', '198.51.100.8', '203.0.113.9', '192.0.2.44', '::ffff:192.0.2.45', '2001:db8::25', '2001:db8::26', '93.184.216.34'];
  let t = NOW - 3000;
  for (const ip of ips) {
    lines.push([t++, greetdelay(ip)]);
    lines.push([t++, readFailed(ip, 'plain')]);
    lines.push([t++, `tcpserver: end 4711 status 0`]);
    lines.push([t++, `jgreylist[4711]: ${ip}: GREY first time`]);
  }
  // deliveries: plain (the scan's numbers), relay and authenticated (still deliveries here),
  // an IPv4-mapped one, IPv6 ones (records), one outside --since
  lines.push([t++, accepted('198.51.100.99')]);
  lines.push([t++, accepted('192.0.2.45', { relay: true })]);
  lines.push([t++, accepted('::ffff:203.0.113.200', { kind: 'qlogreceived' })]);
  lines.push([t++, accepted('2001:db8::99')]);
  lines.push([NOW - 40 * D, accepted('93.184.216.1')]);
  lines.push([t++, accepted('192.0.2.44', { authuser: 'alice' })]);
  writeLog(`${logs.path}/current`, lines.sort((a, b) => a[0] - b[0]));
  for (const layout of ['classc', 'byip'] as const) {
    const out: string[] = [];
    for (const noWasm of ['0', '1']) {
      using root = tempDir();
      seed(root.path, layout, layout === 'classc' ? ['198/051/100', '203/000/113', '192/000/002', '093/184/216'] : ['198/051/100/007', '203/000/113/009']);
      giveTree(root.path);
      const state = `${logs.path}/state-${layout}-${noWasm}`;
      const args = ['evict', '--dir', root.path, '--dry-run', '--json', '--since', '30d', ...(layout === 'byip' ? ['--by-ip'] : [])];
      const r = qgrey([...args, `${logs.path}/current`], { env: { QGREY_NO_WASM: noWasm } });
      assert.equal(r.code, 0, r.stderr);
      const j = JSON.parse(r.stdout) as Record<string, unknown>;
      delete j.seconds;
      delete j.dir;
      // a real run with --state: the same keys remembered either way
      const s = qgrey(['evict', '--dir', root.path, '--state', state, '--since', '30d', '-q', ...(layout === 'byip' ? ['--by-ip'] : []), `${logs.path}/current`], { env: { QGREY_NO_WASM: noWasm } });
      assert.equal(s.code, 0, s.stderr);
      // the keys remembered, in key order (the file's order is the order they were met in)
      const keys = Object.entries((JSON.parse(readFileSync(state, 'utf8')) as { keys: Record<string, unknown> }).keys).sort(([a], [b]) => (a < b ? -1 : 1));
      out.push(JSON.stringify({ j, keys }));
    }
    assert.equal(out[0], out[1], `${layout}: the scan's numbers and the records agree`);
    const { j } = JSON.parse(out[0]!) as { j: { protected: string[]; evicted: string[] } };
    if (layout === 'classc') {
      // 198.51.100 and 203.0.113 (mapped) and 192.0.2 delivered; 93.184.216's delivery is too old
      assert.deepEqual(j.protected, ['192.0.2', '198.51.100', '203.0.113', '2001:db8::/64']);
      assert.deepEqual(j.evicted, ['93.184.216']);
    } else {
      assert.deepEqual(j.protected, ['192.0.2.44', '192.0.2.45']);
    }
  }
});

test('many candidates, looked up a batch at a time: a symlink and a directory where entries belong are reported in key order, the entries go, the rest are absent', () => {
  using root = tempDir();
  using logs = tempDir();
  // 600 hang-up networks (more than one batch of lookups), a third of them in the tree
  const nets = Array.from({ length: 600 }, (_, i) => [100 + (i >> 8), i & 255] as const);
  const key = ([a, b]: readonly [number, number]) => `${String(a).padStart(3, '0')}/${String(b).padStart(3, '0')}/007`;
  seed(root.path, 'classc', nets.filter((_, i) => i % 3 === 0).map(key));
  // where two of them would be: a symlink, and a directory
  mkdirSync(`${root.path}/101/010`, { recursive: true });
  symlinkSync('/etc/passwd', `${root.path}/101/010/007`);
  mkdirSync(`${root.path}/100/200/007`, { recursive: true });
  writeLog(
    `${logs.path}/current`,
    nets.map(([a, b], i) => [NOW - 900 + i, greetdelay(`${a}.${b}.7.9`)]),
  );
  giveTree(root.path);
  const r = qgrey(['evict', '--json', '--dir', root.path, `${logs.path}/current`]);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as { evicted: string[]; absent: string[]; anomalies: number };
  assert.equal(j.evicted.length, 200);
  assert.equal(j.absent.length, 398);
  assert.equal(j.anomalies, 2);
  const warned = r.stderr.trim().split('\n');
  assert.equal(warned.length, 2, r.stderr);
  assert.match(warned[0]!, /100\/200\/007/);
  assert.match(warned[1]!, /101\/010\/007/);
  assert.ok(lstatSync(`${root.path}/101/010/007`).isSymbolicLink(), 'the symlink is left');
  for (const [i, n] of nets.entries()) if (i % 3 === 0) assert.equal(existsSync(`${root.path}/${key(n)}`), false, key(n));
});
