// Cron is quiet when all is well (issue 16, point 5): every list command cron may run takes
// -q and then prints nothing at all on success; known, expected conditions (SPF ptr/exists
// and macro skips, networks wider than --min-prefix, IPv6 entries tcprules cannot hold, the
// half-written last line of `current`) are not warnings; line numbers in warnings count from
// the start of the file, also when --state resumes in the middle of it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES, giveTree, qgrey, tempDir } from '../helpers/util.js';
import { startDns, RECORDS, type DnsServer } from './dns-server.js';
import { greetdelay, label, writeLog } from './rebuild-gen.js';

let dns: DnsServer;
before(async () => {
  dns = await startDns(RECORDS);
});
after(async () => {
  await dns.stop();
});

const F = (n: string) => join(FIXTURES, 'lists', n);

test('-q: the list commands of a cron job print nothing on success, the first run and every run after', () => {
  using d = tempDir();
  const env = { QGREY_LISTDIR: join(d.path, 'lists'), QGREY_DNS_SERVER: dns.server };
  const seed = readFileSync(F('whitelist_ip.txt'), 'latin1');
  const rules = join(d.path, 'tcp.smtp');
  writeFileSync(rules, '127.:allow,RELAYCLIENT=""\n');
  const jobs: { args: string[]; input?: string }[] = [
    { args: ['addlist', '-q', '-whitelist', '9999-12-31', '23:59:59'], input: seed },
    { args: ['addlist', '-blacklist', '-q', '2099-12-31', '23:59:59'], input: '203.0.113.7\n' },
    { args: ['whitelist', 'add', '-q', '192.0.2.0/24', '2001:db8::/32'] },
    { args: ['whitelist', 'load', '-q', F('whitelist_ip.txt')] },
    { args: ['whitelist', 'load', '-q', '--source', 'file:partners', '--until', '8d', '-'], input: '198.51.100.0/24\n' },
    { args: ['blacklist', 'add', '-q', '198.51.100.99', '--message', 'Go away %'] },
    { args: ['blacklist', 'load', '-q', '-'], input: '203.0.113.8\n' },
    // SPF records with ptr, exists, a macro and networks wider than /12: known, the same each week
    { args: ['whitelist', 'spf', '-q', '--until', '8d', 'macro.test', 'wide.test', 'spf.test'] },
    { args: ['whitelist', 'mx', '-q', '--until', '8d', 'mx.test', '--dig', F('dig-mx.test-MX.txt')] },
    // an IPv6 entry tcprules cannot hold: in the block's comments, not a warning
    { args: ['tcprules', '-q', '--merge', rules, '--cdb', join(d.path, 'tcp.smtp.cdb')] },
  ];
  for (const round of [1, 2]) {
    for (const j of jobs) {
      const r = qgrey(j.args, { env, input: j.input ?? '' });
      assert.equal(r.code, 0, `${j.args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stdout, '', `round ${round}: ${j.args.join(' ')}`);
      assert.equal(r.stderr, '', `round ${round}: ${j.args.join(' ')}`);
    }
  }
  assert.match(readFileSync(join(d.path, 'lists/whitelist'), 'latin1'), /^129\.74\.\tnever\tmanual\t# nd\.edu$/m);
  assert.match(readFileSync(rules, 'latin1'), /^# not exported: whitelist 2001:db8::\/32 \(manual\): IPv6/m);
  const rm = qgrey(['blacklist', 'remove', '-q', '203.0.113.8'], { env });
  assert.deepEqual([rm.code, rm.stdout, rm.stderr], [0, '', '']);
  // a failure still says one line
  const bad = qgrey(['whitelist', 'add', '-q', '300.1.2.3'], { env });
  assert.equal(bad.code, 100);
  assert.equal(bad.stderr, "qgrey: fatal: bad address '300.1.2.3': octet 300 is over 255\n");
});

test('without -q: what an import leaves out on purpose follows the summary on stdout; stderr stays empty', () => {
  using d = tempDir();
  const env = { QGREY_LISTDIR: d.path, QGREY_DNS_SERVER: dns.server };
  const r = qgrey(['whitelist', 'spf', 'macro.test', 'wide.test'], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  const out = r.stdout.split('\n');
  assert.match(out[0]!, /^whitelist spf:macro\.test: 1 entry /);
  assert.match(out[1]!, /^whitelist spf:wide\.test: 1 entry /);
  assert.match(r.stdout, /^spf:macro\.test: exists:%\{i\}\.bl\.test: exists depends on the connecting client: not flattenable, skipped$/m);
  assert.match(r.stdout, /^spf:macro\.test: include:%\{d\}\.x\.test: uses a macro: not flattenable, skipped$/m);
  assert.match(r.stdout, /^spf:wide\.test: .*20\.0\.0\.0\/8 is wider than \/12: not whitelisted \(see --min-prefix4\)$/m);
  const t = qgrey(['tcprules', '--cdb', join(d.path, 'c.cdb')], { env: { QGREY_LISTDIR: join(FIXTURES, 'lists') } });
  assert.equal(t.code, 0, t.stderr);
  assert.equal(t.stderr, '');
  assert.match(t.stdout, /^tcprules: .*compiled into .*c\.cdb, 1 entr(y|ies) not exported\n$/);
});

test('evict --state: the half-written last line of current is no warning; a bad line is named by its line in the file', () => {
  using root = tempDir();
  using logs = tempDir();
  const dir = join(logs.path, 'smtpd');
  mkdirSync(dir);
  const current = join(dir, 'current');
  const state = join(logs.path, 'evict.state');
  const now = Math.floor(Date.now() / 1000);
  const lines: [number, string][] = [];
  for (let k = 0; k < 10; k++) lines.push([now - 900 + k, greetdelay(`198.51.100.${k + 1}`)]);
  writeLog(current, lines);
  // multilog is in the middle of line 11
  appendFileSync(current, `${label(now - 880)} tcpserver: status: 1/100`);
  giveTree(root.path);
  const run = () => qgrey(['evict', '-q', '--dir', root.path, '--state', state, dir]);
  const r1 = run();
  assert.equal(r1.code, 0, r1.stderr);
  assert.equal(r1.stderr, '');
  assert.equal(r1.stdout, '');
  // the line is finished, two more come, one with a broken label (line 13 of the file)
  appendFileSync(current, `\n${label(now - 870)} tcpserver: status: 0/100\n@4000000zz bad label\n`);
  const r2 = run();
  assert.equal(r2.code, 0, r2.stderr);
  assert.match(r2.stderr, /^qgrey: warning: .*current:13: skipped a line with a malformed TAI64N label/);
  assert.equal(r2.stderr.split('\n').length, 2, r2.stderr);
});
