import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { formatIp, parseIp, type Ip, type Ip4, type Ip6 } from '../../src/core/ip.js';
import { QgreyError } from '../../src/core/errors.js';
import { findInList, isExpired, netContains, netSize, parseAddress, parseLine, parseList, purgeExpired, formatExpiry, parseExpiry, updateList, writeListAtomic, renderList, type ListEntry, type ListLine } from '../../src/store/lists.js';
import { mergeEntries, parseLoadInput, replaceSource, parseUntil, type NewEntry } from '../../src/actions/lists.js';
import { buildBlock, keysOf, patterns, mergeBlock } from '../../src/actions/tcprules.js';
import { tempDir, FIXTURES } from '../helpers/util.js';

/** The oracle: every live entry that covers `ip`, most specific first, from the parsed lines. */
function matchesInList(lines: readonly ListLine[], ip: Ip, now: number): ListEntry[] {
  const out: ListEntry[] = [];
  for (const l of lines) if (l.kind === 'entry' && !isExpired(l.entry, now) && netContains(l.entry.net, ip)) out.push(l.entry);
  return out.sort((a, b) => netSize(a.net) - netSize(b.net));
}

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

test('findInList agrees with a full parse on every tricky form', () => {
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

// ---------------------------------------------------------------------------------------
// findInList's scan (the wrapper's lookup) against a full parse: every answer must be
// matchesInList(parseList(text))[0], with the same line, fields and first-on-tie choice.

function rng(seed: number): (n: number) => number {
  let s = seed | 0;
  return (n) => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) % Math.max(1, n);
  };
}

const hex4 = (g: readonly number[]) => g.map((x) => x.toString(16)).join(':');

/** Compare findInList with a full parse for every probe address; returns how many probes hit. */
function agree(p: string, text: string, probes: readonly Ip[], now: number): number {
  writeFileSync(p, text);
  const lines = parseList(text);
  let hits = 0;
  for (const a of probes) {
    const w = matchesInList(lines, a, now)[0];
    const m = findInList(p, a, now);
    const l = w && lines.find((x) => x.kind === 'entry' && x.entry === w);
    const want = w && l ? { label: w.address, entry: l.text, line: l.line, source: w.source, message: w.message ?? '% is blacklisted', comment: w.comment, expires: w.expires } : null;
    const got = m && { label: m.label, entry: m.entry, line: m.line, source: m.source, message: m.message, comment: m.comment, expires: m.expires };
    if (want) hits++;
    if (!isDeepStrictEqual(got, want)) assert.deepEqual(got, want, `${formatIp(a)} in ${JSON.stringify(text.length > 3000 ? text.slice(0, 3000) + '…' : text)}`);
  }
  return hits;
}

/** Addresses at and just outside the edges of every entry, plus bits flipped around each IPv6 prefix. */
function edges(text: string, rnd: (n: number) => number, max: number): Ip[] {
  const out: Ip[] = [];
  const v4 = (v: number) => {
    if (v >= 0 && v <= 0xffffffff) out.push({ family: 4, value: v >>> 0, mapped: false });
  };
  for (const l of parseList(text)) {
    if (l.kind !== 'entry') continue;
    const n = l.entry.net;
    if (n.family === 4) {
      for (const v of [n.lo, n.hi, n.lo - 1, n.hi + 1, n.lo + rnd(n.hi - n.lo + 1)]) v4(v);
      continue;
    }
    const g0 = (n.cidr.ip as Ip6).groups;
    out.push(ip(hex4(g0)));
    for (const bit of [n.cidr.prefix - 1, n.cidr.prefix, n.cidr.prefix + 1, 15, 31, 47, 63, 127]) {
      if (bit < 0 || bit > 127) continue;
      const g = g0.slice();
      g[bit >> 4] = (g[bit >> 4] as number) ^ (1 << (15 - (bit & 15)));
      out.push(ip(hex4(g)));
    }
  }
  for (let k = 0; k < 10; k++) v4(rnd(65536) * 65536 + rnd(65536));
  // a sample: each new address costs a compiled scan (as it does once per connection)
  while (out.length > max) out.splice(rnd(out.length), 1);
  return out;
}

test('findInList agrees with a full parse on generated lists of every form (IPv4, IPv6, mapped, CIDR, ranges, prefixes, expiry, blanks, CRLF)', () => {
  using d = tempDir();
  const p = join(d.path, 'whitelist');
  const rnd = rng(20260301);
  const pick = <T>(a: readonly T[]): T => a[rnd(a.length)] as T;
  const oct = () => pick([0, 1, 2, 9, 10, 12, 40, 99, 100, 127, 200, 255, rnd(256)]);
  const z = (n: number) => pick(['', '', '', '0', '00']) + n;
  const hx = (n: number) => {
    const s = n.toString(16);
    return pick(['', '', '0', '00']).slice(0, 4 - s.length) + (rnd(2) ? s : s.toUpperCase());
  };
  const address = (): string => {
    const o = [oct(), oct(), oct(), oct()];
    switch (rnd(15)) {
      case 0:
        return o.map(z).join('.');
      case 1:
        return `${z(o[0]!)}.${z(o[1]!)}${pick(['.', ''])}`;
      case 2:
        return `${z(o[0]!)}${pick(['.', ''])}`;
      case 3:
        return `${z(o[0]!)}.${o[1]}.${o[2]}.${o[3]}/${pick(['', '0', '00'])}${pick([rnd(33), 7, 8, 15, 16, 23, 24, 31, 32])}`;
      case 4: {
        const a = rnd(256);
        const b = a + rnd(256 - a);
        const k = rnd(4);
        return [...o.slice(0, k).map(z), `${a}-${b}`].join('.') + (k < 3 ? pick(['.', '']) : '');
      }
      case 5:
        return `::ffff:${o.join('.')}${pick(['', `/${96 + rnd(33)}`])}`;
      case 6:
        return `${pick(['::ffff:', '0:0:0:0:0:FFFF:', '0::ffff:', '::0:fFfF:'])}${hx(o[0]! * 256 + o[1]!)}:${hx(o[2]! * 256 + o[3]!)}${pick(['', `/${96 + rnd(33)}`])}`;
      case 7:
        return `::ffff:0:0/${pick([96, 100, 104, 120])}`;
      case 8:
      case 9:
      case 10: {
        const g = [0x2001, pick([0xdb8, 0xdb9, 0, 1]), rnd(4), rnd(3), 0, 0, rnd(2), rnd(3)];
        const len = pick([15, 16, 20, 31, 32, 33, 47, 48, 63, 64, 127, 128, rnd(129), 0, 4]);
        const form = pick([
          g.map(hx).join(':'),
          `${hx(g[0]!)}:${hx(g[1]!)}:${hx(g[2]!)}::${hx(g[7]!)}`,
          `${hx(g[0]!)}:${hx(g[1]!)}::`,
          `::${hx(g[7]!)}`,
          `${g.slice(0, 6).map(hx).join(':')}:${o.join('.')}`,
        ]);
        return form + pick(['', `/${len}`]);
      }
      case 11:
        return pick(['::/0', '::', '::1', '0.0.0.0/0', '::/1', '8000::/1', '2000::/3', '8.0.0.0/06', '12.0.0.0/007']);
      case 12:
        return pick(['junk', '1.2.3.4.', '300.1.1.1', '1..2', '12.1.2.3/33', '0012.1.1.1', '1.2.3/8', '::ffff', ':::', '1:2']);
      default:
        return `${z(o[0]!)}.${z(o[1]!)}.${z(o[2]!)}.${z(o[3]!)}/${rnd(9)}`;
    }
  };
  const line = (): string => {
    if (rnd(20) === 0) return pick(['# comment', '', '   ', '\r']);
    const expiry = pick(['never', 'never', '2001-01-01T00:00:00Z', '2099-01-01T00:00:00Z', 'bad']);
    return `${pick(['', '', '', ' ', '\t '])}${address()}${pick(['\t', ' ', '  ', '\r'])}${expiry}\tmanual${pick(['', '', ' # c', ' "msg %"', '\r', ' \r'])}`;
  };
  const now = Date.now() / 1000;
  let probes = 0;
  let hits = 0;
  for (let f = 0; f < 100; f++) {
    // some files are long enough that rare lines go through the whole grammar
    const n = 1 + rnd(f % 4 === 0 ? 300 : 40);
    const text = Array.from({ length: n }, line).join('\n') + pick(['\n', '', '\r\n']);
    const ps = edges(text, rnd, 50);
    probes += ps.length;
    hits += agree(p, text, ps, now);
  }
  assert.ok(probes > 3000 && hits > 1000 && probes - hits > 500, `${probes} probes, ${hits} hits`);
});

test('findInList: forms an earlier prefilter missed (mapped IPv4 in hex, zero-padded short prefixes)', () => {
  using d = tempDir();
  const p = join(d.path, 'blacklist');
  const text = '# hex spellings of IPv4-mapped addresses are IPv4 entries\n::ffff:c000:207\tnever\tmanual\n::FFFF:0:0/96 never manual # all of IPv4\n8.0.0.0/06 never manual\n';
  writeFileSync(p, text);
  const now = Date.now() / 1000;
  assert.equal(findInList(p, ip('192.0.2.7'), now)?.label, '::ffff:c000:207');
  assert.equal(findInList(p, ip('192.0.2.8'), now)?.label, '::FFFF:0:0/96');
  assert.equal(findInList(p, ip('11.255.0.1'), now)?.label, '8.0.0.0/06');
  assert.equal(findInList(p, ip('11.255.0.1'), now)?.line, 4);
  assert.equal(findInList(p, ip('2001:db8::1'), now), null);
  assert.equal(agree(p, text, [ip('192.0.2.7'), ip('12.0.0.1'), ip('7.255.255.255'), ip('::1')], now), 3);
});

test('findInList: every CIDR prefix length at its edges, IPv4 and IPv6, written with and without leading zeros', () => {
  using d = tempDir();
  const p = join(d.path, 'whitelist');
  const now = Date.now() / 1000;
  const base4 = ip('203.113.165.77') as Ip4;
  const base6 = ip('2001:db8:a5a5:5a5a:1234:5678:9abc:def0') as Ip6;
  const all: Ip[] = [base4, base6];
  const lines: string[] = [];
  // one entry at a time (the most specific would hide the others), then all of them
  for (let len = 0; len <= 32; len++) {
    const probes: Ip[] = [base4];
    let inside = 1;
    for (let bit = Math.max(0, len - 1); bit <= Math.min(31, len + 1); bit++) {
      probes.push({ family: 4, value: (base4.value ^ (2 ** (31 - bit))) >>> 0, mapped: false });
      if (bit >= len) inside++;
    }
    lines.push(`${formatIp(base4)}/${len % 3 === 0 ? '0' : ''}${len}\tnever\tmanual`);
    assert.equal(agree(p, lines.at(-1) + '\n', probes, now), inside, `/${len}`);
    all.push(...probes);
  }
  for (let len = 0; len <= 128; len += len < 70 ? 1 : 29) {
    const probes: Ip[] = [base6];
    for (let bit = Math.max(0, len - 1); bit <= Math.min(127, len + 1); bit++) {
      const g = base6.groups.slice();
      g[bit >> 4] = (g[bit >> 4] as number) ^ (1 << (15 - (bit & 15)));
      probes.push(ip(hex4(g)));
    }
    lines.push(`${formatIp(base6)}/${len % 3 === 0 ? '00' : ''}${len}\tnever\tmanual`);
    agree(p, lines.at(-1) + '\n', probes, now);
    all.push(...probes);
  }
  assert.ok(agree(p, lines.join('\n') + '\n', all, now) > 100);
});

test('findInList: expired and tied entries; many lines sharing the first octet or group; many rare lines', () => {
  using d = tempDir();
  const p = join(d.path, 'whitelist');
  const now = Date.now() / 1000;
  const text = [
    '10.1.2.3\t2001-01-01T00:00:00Z\tmanual\t# expired: the next most specific counts',
    '10.1.2.0/30 never spf:a.test',
    '10.1.2.0-3 never spf:b.test # same size: the first one wins',
    '  10.1.2.0/29 never manual # indented',
    '2001:db8::/32 2001-01-01T00:00:00Z manual',
    '2001:0DB8:0000::/33 never manual',
    '2001:db8::/33 never spf:c.test # tie with the line above',
  ].join('\r\n');
  writeFileSync(p, text);
  assert.equal(findInList(p, ip('10.1.2.3'), now)?.source, 'spf:a.test');
  assert.equal(findInList(p, ip('10.1.2.3'), 0)?.label, '10.1.2.3');
  assert.equal(findInList(p, ip('10.1.2.7'), now)?.label, '10.1.2.0/29');
  assert.equal(findInList(p, ip('2001:db8::1'), now)?.label, '2001:0DB8:0000::/33');
  assert.equal(findInList(p, ip('2001:db8:8000::1'), now), null);
  assert.equal(agree(p, text, [ip('10.1.2.3'), ip('10.1.2.4'), ip('10.1.2.8'), ip('2001:db8::1'), ip('2001:db8:8000::1')], now), 3);

  // 3,000 lines that share the address's first octet, and first group, then the same lines
  // indented (every one a rare hit, so the whole grammar sorts them)
  const many: string[] = [];
  for (let i = 0; i < 3000; i++) {
    if (i % 3 === 2) many.push(`2001:db8:${(i & 0xffff).toString(16)}::/48\tnever\tspf:big.test`);
    else many.push(`40.${(i >> 8) & 255}.${i & 255}.0/24\tnever\tspf:big.test`);
  }
  many.push('40.0.0.0/9 never manual', '2001:db8::/40 never manual');
  const probes = ['40.1.2.3', '40.11.185.1', '40.127.0.1', '40.200.0.1', '41.0.0.1', '2001:db8:5::1', '2001:db8:b::9', '2001:db8:ff::1', '2001:db8:100::1', '2001:db9::1'].map(ip);
  assert.ok(agree(p, many.join('\n') + '\n', probes, now) >= 6);
  assert.ok(agree(p, many.map((l) => ' ' + l).join('\n'), probes, now) >= 6);
});

test('findInList: the line number is counted on first read and shows in JSON', () => {
  using d = tempDir();
  const p = join(d.path, 'whitelist');
  writeFileSync(p, '# head\n\n10.0.0.0/8 never manual\n10.1.0.0/16 never manual\n');
  const m = findInList(p, ip('10.1.2.3'), 0)!;
  assert.equal(m.line, 4);
  assert.equal(m.line, 4);
  assert.deepEqual(JSON.parse(JSON.stringify(m)), { label: '10.1.0.0/16', entry: '10.1.0.0/16 never manual', source: 'manual', message: '% is blacklisted', comment: '', expires: null, line: 4 });
  assert.equal({ ...m }.line, 4);
});
