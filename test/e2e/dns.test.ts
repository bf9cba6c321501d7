// MX and SPF imports against a real DNS server (dnsmasq on a loopback port), and from saved dig output.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { qgrey, tempDir, FIXTURES } from '../helpers/util.js';
import { startDns, deadServer, RECORDS, type DnsServer } from './dns-server.js';

let dns: DnsServer;
before(async () => {
  dns = await startDns(RECORDS);
});
after(async () => {
  await dns.stop();
});

const F = (n: string) => join(FIXTURES, 'lists', n);
const list = (dir: string) => readFileSync(join(dir, 'whitelist'), 'utf8');
const entries = (dir: string, source: string) =>
  list(dir)
    .split('\n')
    .filter((l) => l.split('\t')[2] === source)
    .map((l) => l.split('\t')[0]);

test('whitelist mx: MX hosts, their A and AAAA; private addresses left out; several domains, one missing', () => {
  using d = tempDir();
  const env = { QGREY_LISTDIR: d.path, QGREY_DNS_SERVER: dns.server };
  const r = qgrey(['whitelist', 'mx', 'mx.test', 'private.test', 'nosuch.test'], { env });
  assert.equal(r.code, 100, r.stderr);
  assert.match(r.stdout, /^whitelist mx:mx\.test: 3 entries \(3 added, 0 removed, 0 kept\)$/m);
  assert.match(r.stdout, /^mx:private\.test: 10\.1\.2\.3 overlaps 10\.0\.0\.0\/8/m);
  assert.match(r.stderr, /error: mx:nosuch\.test: no MX record for nosuch\.test; that source is left as it was/);
  assert.deepEqual(entries(d.path, 'mx:mx.test'), ['192.0.2.10', '192.0.2.11', '2001:db8::10']);
  assert.deepEqual(entries(d.path, 'mx:private.test'), ['192.0.2.99']);
  assert.match(list(d.path), /^192\.0\.2\.10\tnever\tmx:mx\.test\t# mx1\.mx\.test$/m);
  // --json: the same run again, for a script: one source unchanged, the skipped, the failed
  const j = qgrey(['whitelist', 'mx', '--json', 'mx.test', 'private.test', 'nosuch.test'], { env });
  assert.equal(j.code, 100, j.stderr);
  const o = JSON.parse(j.stdout) as { list: string; written: boolean; sources: { source: string; domain: string; added: string[]; unchanged: string[] }[]; skipped: string[]; failed: { domain: string; error: string }[] };
  assert.equal(o.list, 'whitelist');
  assert.equal(o.written, false);
  assert.deepEqual(o.sources.map((x) => [x.source, x.domain, x.added, x.unchanged]), [
    ['mx:mx.test', 'mx.test', [], ['192.0.2.10', '192.0.2.11', '2001:db8::10']],
    ['mx:private.test', 'private.test', [], ['192.0.2.99']],
  ]);
  assert.ok(o.skipped.some((x) => /^mx:private\.test: 10\.1\.2\.3 overlaps 10\.0\.0\.0\/8/.test(x)), j.stdout);
  assert.deepEqual(o.failed, [{ domain: 'nosuch.test', error: 'mx:nosuch.test: no MX record for nosuch.test' }]);
  const one = qgrey(['whitelist', 'mx', 'noaddr.test'], { env });
  assert.equal(one.code, 100);
  assert.equal(one.stderr, 'qgrey: fatal: mx:noaddr.test: none of the MX hosts (ghost.noaddr.test) has an address\n');
});

test('whitelist spf: includes, redirect, a, mx, a long TXT in chunks; the result is what the record allows', () => {
  using d = tempDir();
  const env = { QGREY_LISTDIR: d.path };
  const r = qgrey(['whitelist', 'spf', '--dns-server', dns.server, 'spf.test', 'redir.test', 'long.test', 'macro.test'], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(entries(d.path, 'spf:spf.test'), ['192.0.2.10', '192.0.2.20', '198.51.100.0/24', '203.0.113.0/25', '203.0.113.128/26', '2001:db8::10', '2001:db8:100::/48']);
  assert.deepEqual(entries(d.path, 'spf:redir.test'), ['192.0.2.64/27', '203.0.113.128/26']);
  assert.deepEqual(entries(d.path, 'spf:long.test'), ['198.18.0.0/24', '198.18.1.0/24', '198.18.2.0/24', '198.18.3.0/24', '198.18.4.0/24', '2001:db8:200::/48']);
  assert.deepEqual(entries(d.path, 'spf:macro.test'), ['192.0.2.128/28']);
  assert.match(r.stdout, /spf:macro\.test: exists:%\{i\}\.bl\.test: exists depends on the connecting client: not flattenable/);
  assert.match(r.stdout, /spf:macro\.test: include:%\{d\}\.x\.test: uses a macro/);
  assert.match(list(d.path), /^203\.0\.113\.128\/26\tnever\tspf:spf\.test\t# include:inc\.test include:inc2\.test ip4:203\.0\.113\.128\/26$/m);
  // the lookup the wrapper makes sees them
  assert.equal(qgrey(['whitelist', 'lookup', '203.0.113.130'], { env }).stdout, 'WHITE|203.0.113.130|203.0.113.128/26|never|spf:spf.test||include:inc.test include:inc2.test ip4:203.0.113.128/26\n');
});

test('whitelist spf: permanent errors exit 100 with one clear line and change nothing', () => {
  using d = tempDir();
  const env = { QGREY_LISTDIR: d.path, QGREY_DNS_SERVER: dns.server };
  writeFileSync(join(d.path, 'whitelist'), '1.1.1.1\tnever\tmanual\n');
  const cases: [string, RegExp][] = [
    ['loop1.test', /^qgrey: fatal: spf:loop1\.test: include:loop2\.test include:loop1\.test: loop: loop1\.test -> loop2\.test -> loop1\.test \(permerror\)\n$/],
    ['many.test', /more than 10 DNS-querying terms/],
    ['plusall.test', /\+all lets every address pass/],
    ['two.test', /2 SPF records/],
    ['nospf.test', /^qgrey: fatal: spf:nospf\.test: no SPF record/],
    ['nosuch.test', /^qgrey: fatal: spf:nosuch\.test: no SPF record/],
    ['badinc.test', /nosuch\.test has no SPF record \(permerror\)/],
  ];
  for (const [dom, re] of cases) {
    const r = qgrey(['whitelist', 'spf', dom], { env });
    assert.equal(r.code, 100, dom);
    assert.match(r.stderr, re, dom);
  }
  assert.equal(list(d.path), '1.1.1.1\tnever\tmanual\n');
  const w = qgrey(['whitelist', 'spf', 'wide.test'], { env });
  assert.equal(w.code, 0);
  assert.match(w.stdout, /10\.0\.0\.0\/8 overlaps 10\.0\.0\.0\/8 \(loopback, private|10\.0\.0\.0\/8 is wider than \/12/);
  assert.match(w.stdout, /20\.0\.0\.0\/8 is wider than \/12: not whitelisted/);
  assert.deepEqual(entries(d.path, 'spf:wide.test'), ['198.51.100.7']);
});

test('re-import replaces that source only; temporary DNS failure exits 111 and changes nothing; missing domain leaves the source', async () => {
  using d = tempDir();
  const env = { QGREY_LISTDIR: d.path };
  assert.equal(qgrey(['whitelist', 'add', '192.0.2.10', '--comment', 'mine'], { env }).code, 0);
  assert.equal(qgrey(['whitelist', 'mx', '--dns-server', dns.server, 'mx.test'], { env }).code, 0);
  assert.equal(qgrey(['whitelist', 'spf', '--dns-server', dns.server, 'inc.test'], { env }).code, 0);
  const first = list(d.path);
  // the provider moved: mx2 is gone, mx1 has a new address
  await using moved = await startDns(['mx-host=mx.test,mx1.mx.test,10', 'host-record=mx1.mx.test,192.0.2.50', 'txt-record=inc.test,"v=spf1 ip4:203.0.113.0/25 -all"']);
  const r = qgrey(['whitelist', 'mx', '--dns-server', moved.server, 'mx.test'], { env });
  assert.equal(r.stdout, 'whitelist mx:mx.test: 1 entry (1 added, 3 removed, 0 kept)\n');
  assert.deepEqual(entries(d.path, 'mx:mx.test'), ['192.0.2.50']);
  assert.deepEqual(entries(d.path, 'manual'), ['192.0.2.10']);
  assert.deepEqual(entries(d.path, 'spf:inc.test'), ['203.0.113.0/25', '203.0.113.128/26']);
  // same answer again: the file does not change
  const mid = list(d.path);
  assert.match(qgrey(['whitelist', 'mx', '--dns-server', moved.server, 'mx.test'], { env }).stdout, /0 added, 0 removed, 1 kept/);
  assert.equal(list(d.path), mid);
  // nothing answers: 111, nothing written (not even for the domain that would have worked)
  const dead = await deadServer();
  const t = qgrey(['whitelist', 'spf', '--dns-server', dead, 'inc.test'], { env });
  assert.equal(t.code, 111);
  assert.match(t.stderr, /^qgrey: fatal: unable to look up TXT 'inc\.test': no DNS server answering \(connection refused\); nothing changed\n$/);
  // a refusing server (dnsmasq answers REFUSED outside .test): 111 as well
  const refused = qgrey(['whitelist', 'spf', '--dns-server', moved.server, 'inc.test', 'example.org'], { env });
  assert.equal(refused.code, 111);
  assert.match(refused.stderr, /query refused \(REFUSED\); nothing changed/);
  assert.equal(list(d.path), mid);
  // the domain vanished: 100, its entries stay as they were
  await using gone = await startDns([]);
  const g = qgrey(['whitelist', 'spf', '--dns-server', gone.server, 'inc.test'], { env });
  assert.equal(g.code, 100);
  assert.equal(list(d.path), mid);
  assert.notEqual(first, mid);
});

test('--dig: saved dig output (full and +short), no DNS asked', () => {
  using d = tempDir();
  const env = { QGREY_LISTDIR: d.path, QGREY_DNS_SERVER: '127.0.0.1:9' };
  const r = qgrey(['whitelist', 'mx', 'mx.test', '--dig', F('dig-mx.test-MX.txt')], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(entries(d.path, 'mx:mx.test'), ['192.0.2.10', '192.0.2.11', '2001:db8::10']);
  const s = qgrey(['whitelist', 'mx', 'example.test', '--dig', F('dig-short-mx.test-MX.txt'), '--dig', F('dig-short-mx1.mx.test-A.txt')], { env });
  assert.equal(s.code, 0, s.stderr);
  assert.deepEqual(entries(d.path, 'mx:example.test'), ['192.0.2.10']);
  const n = qgrey(['whitelist', 'mx', 'nosuch.test', '--dig', F('dig-nosuch.test-MX.txt')], { env });
  assert.equal(n.code, 100);
  assert.match(n.stderr, /mx:nosuch\.test: the saved dig output says NXDOMAIN for nosuch\.test/);
  const b = qgrey(['whitelist', 'mx', 'mx.test', '--dig', F('bad_ip.txt')], { env });
  assert.equal(b.code, 100);
  assert.match(b.stderr, /bad_ip\.txt line 5: expected OWNER TTL CLASS TYPE DATA/);
});

test('bad domain and bad --dns-server are usage errors', () => {
  using d = tempDir();
  const env = { QGREY_LISTDIR: d.path };
  const a = qgrey(['whitelist', 'spf', 'exa mple..org', '--dns-server', dns.server], { env });
  assert.equal(a.code, 100);
  assert.match(a.stderr, /bad domain 'exa mple\.\.org'/);
  const b = qgrey(['whitelist', 'spf', 'spf.test', '--dns-server', 'localhost:53'], { env });
  assert.equal(b.code, 100);
  assert.match(b.stderr, /unable to parse DNS server 'localhost:53' \(--dns-server\): expected IP/);
  // from the environment, the message says so
  const c = qgrey(['whitelist', 'spf', 'spf.test'], { env: { ...env, QGREY_DNS_SERVER: '127.0.0.1:99999' } });
  assert.equal(c.code, 100);
  assert.match(c.stderr, /unable to parse DNS server '127\.0\.0\.1:99999' \(QGREY_DNS_SERVER\): expected IP/);
  assert.equal(c.stderr.trim().split('\n').length, 1, c.stderr);
});
