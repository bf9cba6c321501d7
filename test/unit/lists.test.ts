import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { parseIp, type Ip } from '../../src/core/ip.js';
import { QgreyError } from '../../src/core/errors.js';
import { findInList, matchesInList, parseAddress, parseLine, parseList, purgeExpired, formatExpiry, parseExpiry, updateList, writeListAtomic, renderList } from '../../src/store/lists.js';
import { mergeEntries, parseLoadInput, replaceSource, parseUntil, type NewEntry } from '../../src/actions/lists.js';
import { buildBlock, keysOf, patterns, mergeBlock } from '../../src/actions/tcprules.js';
import { tempDir, FIXTURES } from '../helpers/util.js';

const ip = (s: string): Ip => parseIp(s) as Ip;
const canon = (s: string) => {
  const a = parseAddress(s);
  return typeof a === 'string' ? `ERR ${a}` : a.canon;
};

test('address forms: canonical spelling', () => {
  assert.equal(canon('129.74'), '129.74.');
  assert.equal(canon('129.74.'), '129.74.');
  assert.equal(canon('129'), '129.');
  assert.equal(canon('001.002.003.004'), '1.2.3.4');
  assert.equal(canon('192.0.2.9/24'), '192.0.2.0/24');
  assert.equal(canon('192.0.2.9/32'), '192.0.2.9');
  assert.equal(canon('192.0.2.10-20'), '192.0.2.10-20');
  assert.equal(canon('10.1.4-7.'), '10.1.4-7.');
  assert.equal(canon('2001:DB8:0::1'), '2001:db8::1');
  assert.equal(canon('2001:db8::9/32'), '2001:db8::/32');
  assert.equal(canon('::ffff:192.0.2.7'), '192.0.2.7');
  assert.equal(canon('::ffff:192.0.2.0/120'), '192.0.2.0/24');
});

test('address forms: bad input says what is wrong', () => {
  assert.match(canon('300.1.2.3'), /octet 300 is over 255/);
  assert.match(canon('1.2.3.4/33'), /prefix length 33 is over 32/);
  assert.match(canon('1.2.3.4.'), /at most three octets/);
  assert.match(canon('1.2.3.4.5'), /at most three octets/);
  assert.match(canon('1.2.3.9-4'), /runs backwards/);
  assert.match(canon('2001:db8::/129'), /over 128/);
  assert.match(canon('junk'), /^ERR expected an IPv4 address/);
  assert.match(canon('1..2'), /^ERR expected/);
  assert.match(canon('1.2.3.4/x'), /bad prefix length/);
});

test('list lines: fields, message escapes, comments, bad lines', () => {
  const l = parseLine('198.51.100.7 2026-12-31T23:59:59Z manual "Say \\"hi\\" to %" # why', 1);
  assert.equal(l.kind, 'entry');
  if (l.kind === 'entry') {
    assert.equal(l.entry.message, 'Say "hi" to %');
    assert.equal(l.entry.comment, 'why');
    assert.equal(l.entry.expires, Date.UTC(2026, 11, 31, 23, 59, 59) / 1000);
  }
  assert.equal(parseLine('  # note', 2).kind, 'comment');
  assert.equal(parseLine('', 3).kind, 'comment');
  const bad = (t: string) => {
    const x = parseLine(t, 4);
    return x.kind === 'bad' ? x.why : 'not bad';
  };
  assert.match(bad('1.2.3.4'), /missing EXPIRY/);
  assert.match(bad('1.2.3.4 never'), /missing SOURCE/);
  assert.match(bad('1.2.3.4 tomorrow manual'), /bad expiry/);
  assert.match(bad('1.2.3.4 2026-02-30T00:00:00Z manual'), /bad expiry/);
  assert.match(bad('1.2.3.4 never man!ual'), /bad source/);
  assert.match(bad('1.2.3.4 never manual "open'), /unterminated/);
  assert.match(bad('1.2.3.4 never manual stray words'), /unexpected/);
});

test('expiry: never, ISO in UTC, year 9999 written as never', () => {
  assert.equal(parseExpiry('never'), null);
  assert.equal(formatExpiry(Date.UTC(2026, 0, 2, 3, 4, 5) / 1000), '2026-01-02T03:04:05Z');
  assert.equal(formatExpiry(Date.UTC(9999, 11, 31, 23, 59, 59) / 1000), 'never');
  assert.equal(parseUntil('9999-12-31 23:59:59', 1e9), null);
  assert.equal(parseUntil('30d', 1000), 1000 + 30 * 86400);
  assert.throws(() => parseUntil('2001-01-01', 2e9), /in the past/);
});

test('findInList: most specific live entry wins; ties go to the first line; v6 and mapped v4', () => {
  using d = tempDir();
  const p = join(d.path, 'whitelist');
  writeFileSync(
    p,
    [
      '# comment',
      'garbage line here',
      '10.0.0.0/8 never manual # wide',
      '10.1.2.0/24 never spf:a.test',
      '10.1.2.0/24 never manual # same size, later',
      '10.1.2.3 2001-01-01T00:00:00Z manual # expired',
      '10.1.2.0-7 never manual "Go away %" # a range',
      '2001:db8::/32 never manual',
      '2001:db8:1::/48 never mx:b.test',
      '',
    ].join('\n'),
  );
  const now = Date.now() / 1000;
  assert.equal(findInList(p, ip('10.9.9.9'), now)?.label, '10.0.0.0/8');
  const m = findInList(p, ip('10.1.2.200'), now);
  assert.equal(m?.source, 'spf:a.test');
  assert.equal(m?.line, 4);
  const r = findInList(p, ip('10.1.2.3'), now);
  assert.equal(r?.label, '10.1.2.0-7');
  assert.equal(r?.message, 'Go away %');
  assert.equal(findInList(p, ip('::ffff:10.1.2.3'), now)?.label, '10.1.2.0-7');
  assert.equal(findInList(p, ip('2001:db8:1::5'), now)?.source, 'mx:b.test');
  assert.equal(findInList(p, ip('2001:db8:2::5'), now)?.label, '2001:db8::/32');
  assert.equal(findInList(p, ip('11.0.0.1'), now), null);
  assert.equal(findInList(p, ip('2001:db9::1'), now), null);
  // the default message of a blacklist line without one
  assert.equal(findInList(p, ip('10.200.0.1'), now)?.message, '% is blacklisted');
});

test('findInList: a missing file is empty; an unreadable one is a temporary error', () => {
  using d = tempDir();
  assert.equal(findInList(join(d.path, 'nope'), ip('1.2.3.4'), 0), null);
  mkdirSync(join(d.path, 'dir'));
  assert.throws(
    () => findInList(join(d.path, 'dir'), ip('1.2.3.4'), 0),
    (e: unknown) => e instanceof QgreyError && e.temporary,
  );
});

test('purgeExpired keeps comments, bad lines and live entries byte for byte', async () => {
  using d = tempDir();
  const p = join(d.path, 'blacklist');
  const text = '# keep me\n1.2.3.4\tnever\tmanual\nhand  edited  line\n5.6.7.8 2001-01-01T00:00:00Z manual\n9.9.9.9   2099-01-01T00:00:00Z   manual   # spaced\n';
  writeFileSync(p, text);
  const r = await purgeExpired(p, Date.now() / 1000);
  assert.equal(r.removed.length, 1);
  assert.equal(r.removed[0]!.address, '5.6.7.8');
  assert.equal(r.kept, 2);
  assert.equal(readFileSync(p, 'utf8'), text.replace('5.6.7.8 2001-01-01T00:00:00Z manual\n', ''));
  const again = await purgeExpired(p, Date.now() / 1000);
  assert.equal(again.removed.length, 0);
  assert.deepEqual(await purgeExpired(join(d.path, 'missing'), 0), { removed: [], kept: 0 });
});

test('writes refuse a symlinked list file and leave no temp files', () => {
  using d = tempDir();
  const real = join(d.path, 'real');
  writeFileSync(real, '');
  symlinkSync(real, join(d.path, 'whitelist'));
  assert.throws(() => writeListAtomic(join(d.path, 'whitelist'), 'x\n'), /symbolic link/);
  writeListAtomic(join(d.path, 'blacklist'), '1.2.3.4 never manual\n');
  assert.equal(readFileSync(join(d.path, 'blacklist'), 'utf8'), '1.2.3.4 never manual\n');
  // a change function that returns null writes nothing and leaves no lock
  assert.equal(updateList(join(d.path, 'blacklist'), () => null), false);
});

const ne = (s: string, comment = ''): NewEntry => {
  const a = parseAddress(s);
  if (typeof a === 'string') throw new Error(a);
  return { canon: a.canon, net: a.net, comment, message: null };
};

test('replaceSource: only that source changes; same answer twice changes nothing', () => {
  const lines = parseList('# head\n1.1.1.1 never manual\n2.2.2.2 never spf:x.test\n3.3.3.3 never spf:y.test\n2.2.2.3 never spf:x.test\n');
  const r = replaceSource(lines, 'whitelist', 'spf:x.test', [ne('2.2.2.2'), ne('2.2.2.9')], null);
  assert.deepEqual([r.added, r.removed, r.kept], [1, 1, 1]);
  const text = renderList(r.lines!);
  assert.equal(text, '# head\n1.1.1.1 never manual\n2.2.2.2\tnever\tspf:x.test\n2.2.2.9\tnever\tspf:x.test\n3.3.3.3 never spf:y.test\n');
  const again = replaceSource(parseList(text), 'whitelist', 'spf:x.test', [ne('2.2.2.2'), ne('2.2.2.9')], null);
  assert.equal(again.lines, null);
});

test('mergeEntries (manual): add or update by address, hand spelling kept when nothing differs', () => {
  const lines = parseList('129.74   never   manual   # nd.edu\n');
  assert.equal(mergeEntries(lines, 'whitelist', 'manual', [ne('129.74.')], null).lines, null);
  const r = mergeEntries(lines, 'whitelist', 'manual', [ne('129.74.', 'Notre Dame'), ne('192.148')], null);
  assert.deepEqual([r.added, r.updated], [1, 1]);
  assert.equal(renderList(r.lines!), '129.74.\tnever\tmanual\t# Notre Dame\n192.148.\tnever\tmanual\n');
});

test('addlist input: the seed file loads; bad lines are reported by number', () => {
  const seed = parseLoadInput(readFileSync(join(FIXTURES, 'lists/whitelist_ip.txt'), 'latin1'));
  assert.equal(seed.bad.length, 0);
  assert.equal(seed.entries.length, 12);
  assert.deepEqual(seed.entries[0], { ...ne('129.74.'), comment: 'nd.edu' });
  const bad = parseLoadInput(readFileSync(join(FIXTURES, 'lists/bad_ip.txt'), 'latin1'));
  assert.deepEqual(
    bad.bad.map((b) => b.line),
    [3, 4, 5, 6],
  );
  assert.equal(bad.entries.length, 2);
});

test('tcprules keys: aligned blocks, merged into ranges', () => {
  const k = (s: string) => {
    const a = parseAddress(s);
    if (typeof a === 'string' || a.net.family !== 4) throw new Error(s);
    return patterns(keysOf(a.net.lo, a.net.hi));
  };
  assert.deepEqual(k('10.1.4.0/22'), ['10.1.4-7.']);
  assert.deepEqual(k('10.0.0.0/9'), ['10.0-127.']);
  assert.deepEqual(k('10.1.2.0/30'), ['10.1.2.0-3']);
  assert.deepEqual(k('10.1.2.5'), ['10.1.2.5']);
  assert.deepEqual(k('129.74'), ['129.74.']);
  assert.deepEqual(k('10.1.2.0/23'), ['10.1.2-3.']);
  assert.deepEqual(k('0.0.0.0/1'), ['0-127.']);
});

test('tcprules block: black wins over a more specific white; IPv6 listed as not exported', () => {
  const entries = (t: string) => parseList(t).flatMap((l) => (l.kind === 'entry' ? [l.entry] : []));
  const b = buildBlock(entries('10.1.2.3 never manual\n10.1.0.0/16 never manual\n2001:db8::/32 never manual\n10.9.9.9 never manual\n'), entries('10.1.2.0/24 never manual "x %"\n'));
  assert.deepEqual(b.lines, ['10.1.2.:allow,JGREYLIST="x %"', '10.1.:allow,JGREYLIST=""', '10.9.9.9:allow,JGREYLIST=""', '# not exported: whitelist 2001:db8::/32 (manual): IPv6, tcprules cannot match it']);
  assert.equal(mergeBlock('127.:allow,RELAYCLIENT=""\n', ['1.2.3.4:deny'], 'f'), '127.:allow,RELAYCLIENT=""\n# qgrey lists: begin (generated by qgrey tcprules from the whitelist and blacklist; edits inside are replaced)\n1.2.3.4:deny\n# qgrey lists: end\n');
  assert.throws(() => mergeBlock('# qgrey lists: begin\nx\n', [], 'f'), /no '# qgrey lists: end'/);
});

test('findInList (regex prefilter + fast path) agrees with a full parse on every tricky form', () => {
  using d = tempDir();
  const p = join(d.path, 'whitelist');
  const forms = [
    '8.0.0.0/6', '010.1.2.3', '0010.9.9.9', '10-12.', '9-11', '11.0-3.', '11.4.5-6.', '11.4.5.7-9', '10', '10.', '011.2',
    '::ffff:12.1.2.0/120', '0:0:0:0:0:ffff:12.9.9.9', '0.0.0.0/0', '12.0.0.0/7', '12.1.2.3/31', '2001:db8::/32', '::/0',
    '300.1.1.1', '1.2.3.4.', '12.1.2.3/33', '12.1.2.0/24',
  ];
  const text = forms.map((f, k) => `${k % 2 ? '  ' : ''}${f}\t${k === 4 ? '2001-01-01T00:00:00Z' : 'never'}\tmanual${k % 3 ? '\r' : ''}`).join('\n') + '\n';
  writeFileSync(p, text);
  const lines = parseList(text);
  const now = Date.now() / 1000;
  let seen = 0;
  for (let k = 0; k < 3000; k++) {
    const v = k < 2000 ? ((k * 2654435761) >>> 0) % (16 << 24) : ((k * 2654435761) >>> 0);
    const addr = [(v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join('.');
    const want = matchesInList(lines, ip(addr), now)[0];
    const got = findInList(p, ip(addr), now);
    if (want) seen++;
    assert.equal(got?.label, want?.address, addr);
  }
  assert.ok(seen > 1000);
  assert.equal(findInList(p, ip('2001:db8::1'), now)?.label, '2001:db8::/32');
  assert.equal(findInList(p, ip('2001:db9::1'), now)?.label, '::/0');
  assert.equal(findInList(p, ip('12.9.9.9'), now)?.label, '0:0:0:0:0:ffff:12.9.9.9');
  assert.equal(findInList(p, ip('12.1.2.3'), now)?.line, 16);
});
