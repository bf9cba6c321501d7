// `qgrey list` records and `qgrey check` decisions on real trees and list files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstatSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { run, tempDir, qgrey } from '../helpers/util.js';
import { TreeEntries as TreeStore } from '../../src/store/entries.js';

const NOW = Math.floor(Date.now() / 1000);
const D = 86400;

test('list: one typed record per line, kind first; --json', () => {
  using d = tempDir();
  const t = new TreeStore(d.path, 'classc');
  t.putSync({ key: '192/000/002', first: NOW - 60, last: NOW - 60 });
  t.putSync({ key: '198/051/100', first: NOW - 2 * D, last: NOW - D });
  t.putSync({ key: 'v6/20010db8/00000001', first: NOW - 3 * D, last: NOW - D });
  mkdirSync(`${d.path}/203`);
  symlinkSync('/etc', `${d.path}/203/000`);
  // FIRST and LAST in the local zone, as tai64nlocal prints them: the same instants in Rome
  // (UTC+1 in winter, +2 in summer) and with --utc, checked against the date(1) of the system
  const at = (sec: number, tz: string) => run('date', ['-d', `@${sec}`, '+%Y-%m-%d %H:%M:%S'], { env: { ...process.env, TZ: tz } }).stdout.trim();
  for (const [tz, args] of [['Europe/Rome', []], ['America/New_York', ['--utc']]] as const) {
    const r = qgrey(['list', '--dir', d.path, ...args], { env: { ...process.env, TZ: tz } });
    assert.equal(r.code, 0, r.stderr);
    const z = args.length > 0 ? 'UTC' : tz;
    assert.equal(
      r.stdout,
      [
        `GREY|192.0.2|192/000/002|${at(NOW - 60, z)}|${at(NOW - 60, z)}`,
        `KNOWN|198.51.100|198/051/100|${at(NOW - 2 * D, z)}|${at(NOW - D, z)}`,
        'SYMLINK|203/000|is a symbolic link; left alone',
        `KNOWN|2001:db8:0:1::/64|v6/20010db8/00000001|${at(NOW - 3 * D, z)}|${at(NOW - D, z)}`,
        '',
      ].join('\n'),
    );
  }
  // a fixed instant, so the zone is seen to apply: 2026-07-01 12:00:00 UTC is 14:00 in Rome
  using f = tempDir();
  new TreeStore(f.path, 'classc').putSync({ key: '192/000/002', first: 1782907200, last: 1782907200 });
  assert.match(qgrey(['list', '--dir', f.path], { env: { ...process.env, TZ: 'Europe/Rome' } }).stdout, /^KNOWN\|192\.0\.2\|192\/000\/002\|2026-07-01 14:00:00\|2026-07-01 14:00:00\n$/);
  assert.match(qgrey(['list', '--dir', f.path, '--utc'], { env: { ...process.env, TZ: 'Europe/Rome' } }).stdout, /\|2026-07-01 12:00:00\n$/);
  const j = qgrey(['list', '--dir', d.path, '--json', '--holdtime', '0']).stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(j.length, 4);
  assert.deepEqual(j[0], { kind: 'known', label: '192.0.2', key: '192/000/002', layout: 'classc', first: NOW - 60, last: NOW - 60, firstSeen: j[0]!.firstSeen, lastSeen: j[0]!.lastSeen });
  assert.match(String(j[0]!.firstSeen), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.deepEqual(j[2], { kind: 'symlink', key: '203/000', detail: 'is a symbolic link; left alone' });
});

test('check: first time, too soon, known, blacklisted, whitelisted; changes nothing', () => {
  using d = tempDir();
  using lists = tempDir();
  const t = new TreeStore(d.path, 'classc');
  t.putSync({ key: '192/000/002', first: NOW - 30, last: NOW - 30 });
  t.putSync({ key: '198/051/100', first: NOW - 2 * D, last: NOW - D });
  writeFileSync(`${lists.path}/blacklist`, '198.51.100.66  never  manual  "Go away %"\n');
  writeFileSync(`${lists.path}/whitelist`, '129.74.  never  manual  # nd.edu\n');
  const check = (ip: string, extra: string[] = []) => {
    const r = qgrey(['check', '--dir', d.path, '--listdir', lists.path, ...extra, ip]);
    return r;
  };
  const before = lstatSync(`${d.path}/192/000/002`);
  let r = check('192.0.2.7');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^192\.0\.2\.7: GREY too soon\n  why: first seen [0-9]+s ago, [0-9]+s of the hold time left\n/);
  assert.match(r.stdout, /passes from /);
  r = check('192.0.2.7', ['--holdtime', '10']);
  assert.match(r.stdout, /^192\.0\.2\.7: OK known\n/);
  r = check('198.51.100.7');
  assert.match(r.stdout, /^198\.51\.100\.7: OK known\n/);
  assert.match(r.stdout, /first seen .* \(2d ago\)/);
  r = check('198.51.100.66');
  assert.match(r.stdout, /^198\.51\.100\.66: DENY blacklisted\n  why: blacklist entry 198\.51\.100\.66\n  reply: 553 DENIED Go away 198\.51\.100\.66 \(answered from RCPT on; permanent: the client should not retry\)\n/);
  assert.deepEqual((JSON.parse(check('198.51.100.66', ['--json']).stdout) as { reply: unknown }).reply, { code: 553, text: 'DENIED Go away 198.51.100.66' });
  assert.equal((JSON.parse(check('129.74.1.2', ['--json']).stdout) as { reply: unknown }).reply, null);
  r = check('129.74.1.2');
  assert.match(r.stdout, /^129\.74\.1\.2: OK whitelisted\n/);
  assert.match(r.stdout, /whitelist: 129\.74\. \(manual, .*whitelist line 1\) # nd\.edu/);
  r = check('2001:db8::25', ['--json']);
  const j = JSON.parse(r.stdout) as Record<string, unknown>;
  assert.equal(j.decision, 'GREY first time');
  assert.equal(j.key, 'v6/20010db8/00000000');
  const after = lstatSync(`${d.path}/192/000/002`);
  assert.equal(after.atimeMs, before.atimeMs, 'check touches nothing');
  r = check('300.1.2.3');
  assert.equal(r.code, 100);
  assert.equal(r.stderr, "qgrey: fatal: unable to parse address '300.1.2.3': expected an IPv4 or IPv6 address such as 192.0.2.7 or 2001:db8::25\n");
});

test('check: an entry replaced by a symlink is reported, not followed', () => {
  using d = tempDir();
  mkdirSync(`${d.path}/192/000`, { recursive: true });
  symlinkSync('/etc/passwd', `${d.path}/192/000/002`);
  const r = qgrey(['check', '--dir', d.path, '--listdir', d.path, '192.0.2.7']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^192\.0\.2\.7: the wrapper cannot use its entry: unsafe greylist entry .*192\/000\/002: is a symbolic link/);
});
