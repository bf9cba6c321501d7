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
  assert.match(r.stderr, /warning: not exported: whitelist 2001:db8::\/32 \(manual\): IPv6/);
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
  // change the lists, run again: one block, new content, admin lines untouched
  qgrey(['blacklist', 'remove', '198.51.100.9'], { env });
  const dry = qgrey(['tcprules', '--merge', rules, '--dry-run'], { env });
  assert.doesNotMatch(dry.stdout, /198\.51\.100\.9/);
  assert.equal(readFileSync(rules, 'utf8'), text);
  assert.equal(qgrey(['tcprules', '--merge', rules, '--cdb', cdb], { env }).code, 0);
  const after = readFileSync(rules, 'utf8');
  assert.equal(after.match(/# qgrey lists: begin/g)?.length, 1);
  assert.doesNotMatch(after, /198\.51\.100\.9/);
  assert.ok(after.startsWith(admin));
  assert.equal(check(cdb, '198.51.100.9').jg, undefined);
  // a broken admin file: tcprules' own message, exit 100
  writeFileSync(rules, admin + '10.0.0.1:alow\n');
  const bad = qgrey(['tcprules', '--merge', rules, '--cdb', cdb], { env });
  assert.equal(bad.code, 100);
  assert.match(bad.stderr, /tcprules .* failed \(exit 100\): tcprules: fatal: unable to parse this line: 10\.0\.0\.1:alow/);
  // markers out of order are refused rather than guessed at
  writeFileSync(rules, '# qgrey lists: begin\n1.2.3.4:deny\n');
  const m = qgrey(['tcprules', '--merge', rules], { env });
  assert.equal(m.code, 100);
  assert.match(m.stderr, /has no '# qgrey lists: end' after it/);
});
