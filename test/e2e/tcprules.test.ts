// qgrey tcprules against the real tcprules and tcprulescheck (ucspi-tcp): for addresses at
// the edges of and just outside every entry, tcprulescheck must give what qgrey's lookup gives.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { qgrey, run, tempDir, FIXTURES } from '../helpers/util.js';
import { parseList } from '../../src/store/lists.js';

const p4 = (v: number) => [(v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join('.');

/** What tcprulescheck says JGREYLIST is for `ip` (undefined: not set). */
function check(cdb: string, ip: string): { jg: string | undefined; rule: string } {
  const r = run('tcprulescheck', [cdb], { env: { TCPREMOTEIP: ip } });
  assert.equal(r.code, 0, r.stderr);
  const m = /set environment variable JGREYLIST=(.*)\n/.exec(r.stdout);
  return { jg: m ? m[1] : undefined, rule: (/^rule (.*):$/m.exec(r.stdout) ?? ['', 'default'])[1]! };
}

interface Lookup {
  ip: string;
  match: { message: string; label: string } | null;
}

test('the exported rules give the same answer as the lookup, for addresses inside and outside every entry', () => {
  using d = tempDir();
  copyFileSync(join(FIXTURES, 'lists/whitelist'), join(d.path, 'whitelist'));
  copyFileSync(join(FIXTURES, 'lists/blacklist'), join(d.path, 'blacklist'));
  const env = { QGREY_LISTDIR: d.path };
  const cdb = join(d.path, 'tcp.smtp.cdb');
  const r = qgrey(['tcprules', '--cdb', cdb], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  assert.match(r.stdout, /not exported\n$/);
  assert.match(qgrey(['tcprules'], { env }).stdout, /^# not exported: whitelist 2001:db8::\/32 \(manual\): IPv6/m);
  assert.ok(existsSync(cdb));

  // probe addresses: first, last, middle of every entry, and one either side
  const probes = new Set<string>(['8.8.8.8', '127.0.0.1']);
  for (const f of ['whitelist', 'blacklist']) {
    for (const l of parseList(readFileSync(join(d.path, f), 'utf8'))) {
      if (l.kind !== 'entry' || l.entry.net.family !== 4) continue;
      const { lo, hi } = l.entry.net;
      for (const v of [lo - 1, lo, lo + 1, Math.floor((lo + hi) / 2), hi - 1, hi, hi + 1]) if (v >= 0 && v <= 0xffffffff) probes.add(p4(v));
    }
  }
  const ips = [...probes];
  assert.ok(ips.length > 60);
  const black = JSON.parse(qgrey(['blacklist', 'lookup', '--json', ...ips], { env }).stdout) as Lookup[];
  const white = JSON.parse(qgrey(['whitelist', 'lookup', '--json', ...ips], { env }).stdout) as Lookup[];
  let blacks = 0;
  let whites = 0;
  ips.forEach((ip, k) => {
    const b = black[k]!.match;
    const w = white[k]!.match;
    const want = b ? b.message : w ? '' : undefined;
    if (b) blacks++;
    else if (w) whites++;
    const got = check(cdb, ip);
    assert.equal(got.jg, want, `${ip}: tcprulescheck used rule '${got.rule}' -> ${got.jg}; lookup: black ${b?.label}, white ${w?.label}`);
  });
  // the probes cover all three outcomes, including black inside white and white inside black
  assert.ok(blacks > 10 && whites > 10);
  assert.equal(check(cdb, '129.74.250.7').jg, 'No mail from % (compromised lab)');
  assert.equal(check(cdb, '129.74.251.7').jg, '');
  assert.equal(check(cdb, '203.0.113.5').jg, 'Go away %');
  assert.equal(check(cdb, '198.51.101.1').jg, 'Say "hi" to %');
  assert.equal(check(cdb, '100.64.9.1').jg, undefined);
});

test('--merge keeps the admin rules, replaces its own block on every run, and --cdb compiles it', () => {
  using d = tempDir();
  const env = { QGREY_LISTDIR: d.path };
  const rules = join(d.path, 'tcp.smtp');
  const cdb = join(d.path, 'tcp.smtp.cdb');
  const admin = '# my rules\n127.:allow,RELAYCLIENT=""\n192.0.2.7:allow,RELAYCLIENT=""\n:allow\n';
  writeFileSync(rules, admin);
  qgrey(['whitelist', 'add', '192.0.2.0/24'], { env });
  qgrey(['blacklist', 'add', '198.51.100.9', '--message', 'Go away %'], { env });
  const r = qgrey(['tcprules', '--merge', rules, '--cdb', cdb], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `tcprules: 1 blacklist and 1 whitelist rules, merged into ${rules}, compiled into ${cdb}\n`);
  const text = readFileSync(rules, 'utf8');
  assert.ok(text.startsWith(admin));
  assert.match(text, /^# qgrey lists: begin .*\n198\.51\.100\.9:allow,JGREYLIST="Go away %"\n192\.0\.2\.:allow,JGREYLIST=""\n# qgrey lists: end\n$/m);
  assert.equal(check(cdb, '127.0.0.1').rule, '127.');
  assert.equal(check(cdb, '192.0.2.7').jg, undefined); // the admin's exact rule is more specific
  assert.equal(check(cdb, '192.0.2.8').jg, '');
  assert.equal(check(cdb, '198.51.100.9').jg, 'Go away %');
  // --json: what was made and what a merge changes (nothing now)
  const same = JSON.parse(qgrey(['tcprules', '--merge', rules, '--json', '--dry-run'], { env }).stdout) as Record<string, unknown>;
  assert.deepEqual(same, {
    rules: ['198.51.100.9:allow,JGREYLIST="Go away %"', '192.0.2.:allow,JGREYLIST=""'], black: 1, white: 1, notExported: [], leftToDeny: 0,
    merge: rules, changed: false, added: [], removed: [], cdb: null, compiled: false, dryRun: true,
  });
  // change the lists, run again: one block, new content, admin lines untouched
  qgrey(['blacklist', 'remove', '198.51.100.9'], { env });
  qgrey(['whitelist', 'add', '2001:db8::/32'], { env });
  const dj = JSON.parse(qgrey(['tcprules', '--merge', rules, '--json', '--dry-run'], { env }).stdout) as Record<string, unknown>;
  assert.deepEqual([dj.changed, dj.removed, dj.black, dj.white], [true, ['198.51.100.9:allow,JGREYLIST="Go away %"'], 0, 1]);
  assert.deepEqual(dj.added, ['# not exported: whitelist 2001:db8::/32 (manual): IPv6, tcprules cannot match it']);
  assert.deepEqual(dj.notExported, ['whitelist 2001:db8::/32 (manual): IPv6, tcprules cannot match it']);
  assert.equal(readFileSync(rules, 'utf8'), text, '--dry-run --json writes nothing');
  const dry = qgrey(['tcprules', '--merge', rules, '--dry-run'], { env });
  assert.doesNotMatch(dry.stdout, /198\.51\.100\.9/);
  assert.equal(readFileSync(rules, 'utf8'), text);
  assert.equal(qgrey(['tcprules', '--merge', rules, '--cdb', cdb], { env }).code, 0);
  const after = readFileSync(rules, 'utf8');
  assert.equal(after.match(/# qgrey lists: begin/g)?.length, 1);
  assert.doesNotMatch(after, /198\.51\.100\.9/);
  assert.ok(after.startsWith(admin));
  assert.equal(check(cdb, '198.51.100.9').jg, undefined);
  // a broken admin file: refused before anything is written, naming the line (tcprules refuses it too)
  writeFileSync(rules, admin + '10.0.0.1:alow\n');
  const bad = qgrey(['tcprules', '--merge', rules, '--cdb', cdb], { env });
  assert.equal(bad.code, 100);
  assert.match(bad.stderr, /unable to parse line 5 '10\.0\.0\.1:alow': expected allow or deny after the colon, not 'alow'/);
  assert.equal(readFileSync(rules, 'utf8'), admin + '10.0.0.1:alow\n');
  assert.equal(run('tcprules', [join(d.path, 'x.cdb'), join(d.path, 'x.tmp')], { input: admin + '10.0.0.1:alow\n' }).code, 100);
  // tcprules itself failing: its own message, its exit code
  writeFileSync(rules, admin);
  const nodir = qgrey(['tcprules', '--merge', rules, '--cdb', join(d.path, 'no/such/dir/tcp.smtp.cdb')], { env });
  assert.equal(nodir.code, 111, nodir.stderr);
  assert.match(nodir.stderr, /tcprules .* failed \(exit 111\): tcprules: fatal: unable to create /);
  // markers out of order are refused rather than guessed at
  writeFileSync(rules, '# qgrey lists: begin\n1.2.3.4:deny\n');
  const m = qgrey(['tcprules', '--merge', rules], { env });
  assert.equal(m.code, 100);
  assert.match(m.stderr, /has no '# qgrey lists: end' after it/);
});

// ---------------------------------------------------------------------------------------
// --merge never changes what the admin's rules give a client, JGREYLIST aside (issue 16)

/** What tcprulescheck says for a client: the rule used, JGREYLIST, and the rest of what it gives. */
function outcome(cdb: string, ip: string, host?: string): { rule: string; jg: string | undefined; rest: string } {
  const r = run('tcprulescheck', [cdb], { env: { TCPREMOTEIP: ip, ...(host ? { TCPREMOTEHOST: host } : {}) } });
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.split('\n').filter(Boolean);
  const jg = lines.find((l) => l.startsWith('set environment variable JGREYLIST='));
  return {
    rule: lines[0]!,
    jg: jg?.slice('set environment variable JGREYLIST='.length),
    rest: lines.slice(1).filter((l) => !l.startsWith('set environment variable JGREYLIST=')).join('; '),
  };
}

function compileRules(dir: string, name: string, text: string): string {
  const cdb = join(dir, name);
  const r = run('tcprules', [cdb, cdb + '.tmp'], { input: text });
  assert.equal(r.code, 0, r.stderr);
  return cdb;
}

test('--merge: each rule carries the variables of the admin rule it hides (simscan on :allow, RELAYCLIENT on 10.)', () => {
  using d = tempDir();
  const env = { QGREY_LISTDIR: d.path };
  const rules = join(d.path, 'tcp.smtp');
  const admin = [
    '127.:allow,RELAYCLIENT=""',
    '10.:allow,RELAYCLIENT=""',
    '10.3.:deny',
    '192.0.2.7:allow,RELAYCLIENT=""',
    '172.16.:allow,QMAILQUEUE=|/usr/local/bin/other|,JGREYLIST="admin says"',
    ':allow,QMAILQUEUE="/var/qmail/bin/simscan",CHKUSER_START="ALWAYS"',
  ].join('\n') + '\n';
  writeFileSync(rules, admin);
  assert.equal(qgrey(['whitelist', 'add', '192.0.2.0/24', '10.1.4.0/22', '10.2.3.4', '203.0.113.0/25', '172.16.5.0/24', '10.3.1.0/24'], { env }).code, 0);
  assert.equal(qgrey(['blacklist', 'add', '10.1.5.3', '198.51.100.0/24', '10.3.1.9', '172.16.9.9', '--message', 'Go away %'], { env }).code, 0);
  const cdb = join(d.path, 'tcp.smtp.cdb');
  const r = qgrey(['tcprules', '--merge', rules, '--cdb', cdb], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `tcprules: 3 blacklist and 5 whitelist rules, merged into ${rules}, compiled into ${cdb}, 2 left to your deny rules\n`);
  const text = readFileSync(rules, 'utf8');
  assert.ok(text.startsWith(admin));
  // the two cases, as written
  assert.match(text, /^192\.0\.2\.:allow,QMAILQUEUE="\/var\/qmail\/bin\/simscan",CHKUSER_START="ALWAYS",JGREYLIST=""$/m);
  assert.match(text, /^10\.1\.4-7\.:allow,RELAYCLIENT="",JGREYLIST=""$/m);
  assert.match(text, /^10\.1\.5\.3:allow,RELAYCLIENT="",JGREYLIST="Go away %"$/m);
  // the admin's own JGREYLIST is replaced, its other variables kept
  assert.match(text, /^172\.16\.5\.:allow,QMAILQUEUE=\|\/usr\/local\/bin\/other\|,JGREYLIST=""$/m);
  assert.doesNotMatch(text.slice(admin.length), /^10\.3\./m);

  // every address of the test: edges and middles of every entry and every admin rule
  const probes = new Set<string>(['8.8.8.8', '127.0.0.1', '10.1.5.3', '10.3.1.9', '172.16.9.9', '192.0.2.7']);
  const span = (lo: number, hi: number) => {
    for (const v of [lo - 1, lo, lo + 1, Math.floor((lo + hi) / 2), hi - 1, hi, hi + 1]) if (v >= 0 && v <= 0xffffffff) probes.add(p4(v));
  };
  for (const f of ['whitelist', 'blacklist']) for (const l of parseList(readFileSync(join(d.path, f), 'utf8'))) if (l.kind === 'entry' && l.entry.net.family === 4) span(l.entry.net.lo, l.entry.net.hi);
  const ip4 = (s: string) => s.split('.').reduce((a, o) => a * 256 + Number(o), 0);
  span(ip4('10.0.0.0'), ip4('10.255.255.255'));
  span(ip4('10.3.0.0'), ip4('10.3.255.255'));
  span(ip4('172.16.0.0'), ip4('172.16.255.255'));
  for (let v = ip4('10.1.3.250'); v <= ip4('10.1.8.5'); v += 97) probes.add(p4(v));
  const ips = [...probes];
  const plain = compileRules(d.path, 'admin.cdb', admin);
  const black = JSON.parse(qgrey(['blacklist', 'lookup', '--json', ...ips], { env }).stdout) as Lookup[];
  const white = JSON.parse(qgrey(['whitelist', 'lookup', '--json', ...ips], { env }).stdout) as Lookup[];
  const adminWins: string[] = [];
  ips.forEach((ip, k) => {
    const before = outcome(plain, ip);
    const after = outcome(cdb, ip);
    assert.equal(after.rest, before.rest, `${ip}: the admin's rules gave '${before.rest}' (${before.rule}), the merged rules '${after.rest}' (${after.rule})`);
    const b = black[k]!.match;
    const w = white[k]!.match;
    const want = b ? b.message : w ? '' : before.jg;
    if (after.jg !== want) adminWins.push(ip);
  });
  // only where an admin rule is more specific than ours (or denies) does JGREYLIST differ from the lookup
  assert.deepEqual(adminWins.sort(), ['10.3.1.0', '10.3.1.1', '10.3.1.10', '10.3.1.127', '10.3.1.254', '10.3.1.255', '10.3.1.8', '10.3.1.9', '192.0.2.7']);
  assert.ok(ips.length > 60);
});

test('--merge with =host rules: carried when they agree with the address rule, refused when they may not', () => {
  using d = tempDir();
  const env = { QGREY_LISTDIR: d.path };
  const rules = join(d.path, 'tcp.smtp');
  const agree = '10.:allow,RELAYCLIENT=""\n=mx.partner.example:allow,RELAYCLIENT=""\n=.partner.example:allow\n:allow\n';
  writeFileSync(rules, agree);
  assert.equal(qgrey(['whitelist', 'add', '10.9.9.9', '192.0.2.0/24'], { env }).code, 0);
  const cdb = join(d.path, 'tcp.smtp.cdb');
  const r = qgrey(['tcprules', '--merge', rules, '--cdb', cdb], { env });
  assert.equal(r.code, 0, r.stderr);
  const plain = compileRules(d.path, 'admin.cdb', agree);
  for (const ip of ['10.9.9.9', '10.9.9.8', '192.0.2.1', '192.0.3.1']) {
    for (const host of [undefined, 'mx.partner.example', 'a.partner.example', 'other.example']) {
      assert.equal(outcome(cdb, ip, host).rest, outcome(plain, ip, host).rest, `${ip} ${host}`);
    }
  }
  // a name rule that gives something else than the address rule ours would carry: refused, nothing written
  for (const [line, key] of [
    ['=mx.partner.example:allow,RELAYCLIENT="",QMAILQUEUE="/bin/other"', '10.9.9.9'],
    ['=.partner.example:deny', '192.0.2.'],
  ] as const) {
    const text = `10.:allow,RELAYCLIENT=""\n${line}\n:allow\n`;
    writeFileSync(rules, text);
    const x = qgrey(['tcprules', '--merge', rules, '--cdb', cdb], { env });
    assert.equal(x.code, 100, x.stdout);
    assert.equal(x.stderr.split('\n').length, 2, x.stderr);
    assert.ok(x.stderr.includes(`(${key}) would also hide line 2 ('${line}')`), x.stderr);
    assert.equal(readFileSync(rules, 'utf8'), text);
  }
});
