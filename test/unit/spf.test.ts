import { test } from 'node:test';
import assert from 'node:assert/strict';
import { QgreyError } from '../../src/core/errors.js';
import { formatCidr } from '../../src/core/ip.js';
import { flattenSpf, aggregate, pickSpf } from '../../src/dns/spf.js';
import type { Lookups, MxRecord } from '../../src/dns/resolve.js';
import { parseDig, mxFromDig } from '../../src/dns/dig.js';

/** In-memory DNS: TXT as chunk lists, A/AAAA/MX by name; 'FAIL' names throw a temporary error. */
function fake(zone: { txt?: Record<string, string[][]>; a?: Record<string, string[]>; aaaa?: Record<string, string[]>; mx?: Record<string, MxRecord[]> }, counter?: { n: number }): Lookups {
  const get = <T>(m: Record<string, T[]> | undefined, name: string): Promise<T[]> => {
    if (counter) counter.n++;
    if (name.startsWith('fail.')) return Promise.reject(new QgreyError(`unable to look up ${name}: timed out`, 111));
    return Promise.resolve(m?.[name] ?? []);
  };
  return { txt: (n) => get(zone.txt, n), a: (n) => get(zone.a, n), aaaa: (n) => get(zone.aaaa, n), mx: (n) => get(zone.mx, n) };
}

const nets = async (d: string, l: Lookups) => (await flattenSpf(d, l)).nets.map((n) => formatCidr(n.cidr));
const spf = (t: string) => [[t]];

test('chunks are joined without spaces; only v=spf1 records count', async () => {
  assert.deepEqual(pickSpf([['v=spf1 ip4:1.2.3.4 ', '-all'], ['v=spf10 x'], ['hello']]), ['v=spf1 ip4:1.2.3.4 -all']);
  const l = fake({ txt: { 'x.test': [['v=spf1 ip4:192.0.2.0/24 ip4:198.51', '.100.0/24 -all'], ['site-verification=1']] } });
  assert.deepEqual(await nets('x.test', l), ['192.0.2.0/24', '198.51.100.0/24']);
});

test('a, mx with dual prefix lengths; include; redirect; mechanisms after all ignored', async () => {
  const l = fake({
    txt: {
      'x.test': spf('v=spf1 a/24//64 mx:m.test include:i.test redirect=r.test'),
      'i.test': spf('v=spf1 ip6:2001:db8:5::/48 -all'),
      'r.test': spf('v=spf1 ip4:203.0.113.0/24'),
      'y.test': spf('v=spf1 ip4:192.0.2.1 -all ip4:192.0.2.2 redirect=r.test'),
    },
    a: { 'x.test': ['192.0.2.77'], 'mx1.m.test': ['198.51.100.5'] },
    aaaa: { 'x.test': ['2001:db8::77'] },
    mx: { 'm.test': [{ exchange: 'mx1.m.test', priority: 10 }] },
  });
  assert.deepEqual(await nets('x.test', l), ['192.0.2.0/24', '2001:db8::/64', '198.51.100.5', '2001:db8:5::/48', '203.0.113.0/24']);
  assert.deepEqual(await nets('y.test', l), ['192.0.2.1']);
});

test('non-pass terms: their networks are not whitelisted, and later overlapping pass networks are dropped', async () => {
  const l = fake({ txt: { 'x.test': spf('v=spf1 -ip4:192.0.2.8 ~include:s.test ip4:192.0.2.0/24 ip4:198.51.100.0/24 ?all'), 's.test': spf('v=spf1 ip4:10.0.0.0/8') } });
  const r = await flattenSpf('x.test', l);
  assert.deepEqual(r.nets.map((n) => formatCidr(n.cidr)), ['198.51.100.0/24']);
  assert.match(r.skipped.join('\n'), /192\.0\.2\.0\/24 overlaps 192\.0\.2\.8 /);
});

test('permanent errors: loops, limits, +all, bad terms, several records, includes without SPF', async () => {
  const chain: Record<string, string[][]> = {};
  for (let i = 1; i <= 11; i++) chain[`c${i}.test`] = spf(`v=spf1 include:c${i + 1}.test`);
  chain['c12.test'] = spf('v=spf1 -all');
  const l = fake({
    txt: {
      ...chain,
      'loop.test': spf('v=spf1 redirect=loop2.test'),
      'loop2.test': spf('v=spf1 include:loop.test'),
      'plus.test': spf('v=spf1 +all'),
      'bad4.test': spf('v=spf1 ip4:1.2.3.4/33'),
      'bad6.test': spf('v=spf1 ip4:2001:db8::1'),
      'unk.test': spf('v=spf1 foo:bar'),
      'two.test': [['v=spf1 -all'], ['v=spf1 ip4:1.2.3.4']],
      'inc.test': spf('v=spf1 include:none.test'),
      'void.test': spf('v=spf1 a:v1.test a:v2.test a:v3.test'),
      'mxmany.test': spf('v=spf1 mx'),
    },
    mx: { 'mxmany.test': Array.from({ length: 11 }, (_, i) => ({ exchange: `m${i}.test`, priority: i })) },
  });
  const fails = async (d: string, re: RegExp) =>
    assert.rejects(flattenSpf(d, l), (e: unknown) => e instanceof QgreyError && e.permanent && re.test(e.message));
  await fails('c1.test', /more than 10 DNS-querying terms/);
  await fails('loop.test', /loop: loop\.test -> loop2\.test -> loop\.test/);
  await fails('plus.test', /\+all lets every address pass/);
  await fails('bad4.test', /bad prefix length/);
  await fails('bad6.test', /bad ip4 address/);
  await fails('unk.test', /unknown mechanism/);
  await fails('two.test', /2 SPF records/);
  await fails('inc.test', /none\.test has no SPF record/);
  await fails('void.test', /void limit/);
  await fails('mxmany.test', /11 MX hosts/);
  await fails('missing.test', /spf:missing\.test: no SPF record/);
});

test('macros, exists and ptr are reported and skipped; temporary errors propagate', async () => {
  const l = fake({ txt: { 'm.test': spf('v=spf1 exists:%{i}.x.test ptr:example.org include:%{d}.y.test a:%{h}.z.test ip4:192.0.2.0/28 -all'), 't.test': spf('v=spf1 include:fail.test') } });
  const r = await flattenSpf('m.test', l);
  assert.deepEqual(r.nets.map((n) => formatCidr(n.cidr)), ['192.0.2.0/28']);
  assert.equal(r.skipped.length, 4);
  await assert.rejects(flattenSpf('t.test', l), (e: unknown) => e instanceof QgreyError && e.temporary);
});

test('aggregate drops duplicates and contained networks', async () => {
  const l = fake({ txt: { 'x.test': spf('v=spf1 ip4:192.0.2.0/24 ip4:192.0.2.7 ip4:192.0.2.0/24 ip6:2001:db8::/32 ip6:2001:db8:1::/48') } });
  const r = await flattenSpf('x.test', l);
  assert.deepEqual(aggregate(r.nets).map((n) => formatCidr(n.cidr)), ['192.0.2.0/24', '2001:db8::/32']);
});

test('dig output: full, +short, CNAMEs, NXDOMAIN, junk', () => {
  const full = parseDig(
    [
      ';; ->>HEADER<<- opcode: QUERY, status: NOERROR, id: 1',
      ';; QUESTION SECTION:',
      ';nd.edu.\t\t\tIN\tMX',
      '',
      ';; ANSWER SECTION:',
      'nd.edu.\t\t300\tIN\tMX\t10 pickering.cc.nd.edu.',
      'nd.edu.\t\t300\tIN\tMX\t20 alias.nd.edu.',
      'alias.nd.edu. 300 IN CNAME backup.nd.edu.',
      'backup.nd.edu. 300 IN A 129.74.9.9',
      'pickering.cc.nd.edu. IN A 129.74.250.100',
      'nd.edu. 300 IN SOA ns1.nd.edu. hostmaster.nd.edu. 1 2 3 4 5',
    ].join('\n'),
    'f',
  );
  assert.equal(full.bad.length, 0);
  assert.deepEqual(full.statuses, [{ status: 'NOERROR', question: 'nd.edu', line: 1 }]);
  const r = mxFromDig('nd.edu', full.records, false);
  assert.deepEqual([...r.addresses.entries()], [
    ['129.74.250.100', 'pickering.cc.nd.edu'],
    ['129.74.9.9', 'alias.nd.edu'],
  ]);
  const short = parseDig('10 mx1.example.org.\n192.0.2.1\n2001:db8::1\nalias.example.org.\n', 's');
  assert.equal(short.bad.length, 0);
  assert.deepEqual([...mxFromDig('example.org', short.records, true).addresses.keys()], ['192.0.2.1', '2001:db8::1']);
  assert.equal(mxFromDig('example.org', short.records, false).addresses.size, 0);
  const junk = parseDig('hello there world\nx.test. 300 IN A 300.1.1.1\n', 'j');
  assert.deepEqual(
    junk.bad.map((b) => b.line),
    [1, 2],
  );
});
