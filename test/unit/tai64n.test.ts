// TAI64N labels against daemontools' own tai64nlocal, in UTC and in Europe/Rome.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareStamp, decodeLabel, encodeLabel, formatNanos, type Stamp } from '../../src/core/tai64n.js';
import { Zone } from '../../src/core/zone.js';
import { run } from '../helpers/util.js';

function labels(): Stamp[] {
  let seed = 12345;
  const rnd = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  const out: Stamp[] = [
    { sec: 0, nsec: 0 },
    { sec: 1, nsec: 999999999 },
    { sec: 1_790_000_000, nsec: 1_000_000_000 }, // more than 9 digits: printed as is
    { sec: 1_790_000_000, nsec: 4294967295 },
    { sec: 1_790_000_000, nsec: 5 },
    { sec: -1, nsec: 500 },
    { sec: -2_000_000_000, nsec: 1 }, // 1906
    { sec: 2_147_483_647, nsec: 0 },
    { sec: 2_147_483_648, nsec: 0 },
    { sec: 4_102_444_799, nsec: 123 }, // 2099-12-31
    // around the DST changes in Rome, 2024
    { sec: Date.UTC(2024, 2, 31, 0, 59, 59) / 1000, nsec: 0 },
    { sec: Date.UTC(2024, 2, 31, 1, 0, 0) / 1000, nsec: 0 },
    { sec: Date.UTC(2024, 9, 27, 0, 30, 0) / 1000, nsec: 0 },
    { sec: Date.UTC(2024, 9, 27, 1, 30, 0) / 1000, nsec: 0 },
  ];
  for (let i = 0; i < 400; i++) {
    const sec = Math.floor(rnd() * 4_000_000_000) - 1_000_000_000;
    const nsec = i % 5 === 0 ? 1_000_000_000 + Math.floor(rnd() * 3_294_967_295) : Math.floor(rnd() * 1_000_000_000);
    out.push({ sec, nsec });
  }
  return out;
}

test('decode(encode(x)) = x and labels order as their stamps', () => {
  const all = labels();
  for (const s of all) {
    const l = encodeLabel(s);
    assert.match(l, /^@[0-9a-f]{24}$/);
    const r = decodeLabel(l + ' x');
    assert.ok(r.ok, l);
    assert.deepEqual(r.stamp, s);
    assert.equal(r.end, 25);
  }
  const sorted = [...all].sort(compareStamp).map(encodeLabel);
  assert.deepEqual(sorted, [...sorted].sort());
});

test('known labels from public sources', () => {
  // sagredo-dev/qmail-stuff: label = 2023-06-27 22:19:26 UTC
  const r = decodeLabel('@40000000649b607828223d14 tcpserver: status: 0/200/0');
  assert.ok(r.ok);
  assert.equal(new Zone('UTC').formatStamp(r.stamp), '2023-06-27 22:19:26.673332500');
  const r2 = decodeLabel('@400000003b4a39c23294b13c fatal: out of memory');
  assert.ok(r2.ok);
  assert.equal(r2.stamp.sec, 0x3b4a39c2 - 10);
});

test('malformed labels are refused with a reason', () => {
  for (const [label, why] of [
    ['@400000006B0279082bdbfd3c x', /upper-case/],
    ['@400000006b0279082bdbfd3C x', /upper-case/],
    ['@400000006b0279082bdbfd3 x', /23 hex digits/],
    ['@400000006b0279082bdbfd3c0 x', /more than 24/],
    ['@400000006b0279082bdbfd3cF', /upper-case/],
    ['@4000', /4 hex digits/],
    ['@', /0 hex digits/],
    ['@ffffffffffffffff00000000 x', /out of range/],
    ['@000000000000000000000000 x', /out of range/],
  ] as const) {
    const r = decodeLabel(label);
    assert.equal(r.ok, false, label);
    if (!r.ok) assert.match(r.why, why, label);
  }
  // a label at the very end of the line is fine
  assert.ok(decodeLabel('@400000006b0279082bdbfd3c').ok);
});

test('formatNanos: at least nine digits, never clamped', () => {
  assert.equal(formatNanos(0), '000000000');
  assert.equal(formatNanos(5), '000000005');
  assert.equal(formatNanos(999999999), '999999999');
  assert.equal(formatNanos(1000000000), '1000000000');
  assert.equal(formatNanos(4294967295), '4294967295');
});

for (const tz of ['UTC', 'Europe/Rome']) {
  test(`conversion equals TZ=${tz} tai64nlocal on ${labels().length} labels`, () => {
    const all = labels();
    const input = all.map((s) => `${encodeLabel(s)} line\n`).join('');
    const r = run('tai64nlocal', [], { input, env: { TZ: tz } });
    assert.equal(r.code, 0, r.stderr);
    const theirs = r.stdout.split('\n').slice(0, -1);
    const zone = new Zone(tz);
    const ours = all.map((s) => `${zone.formatStamp(s)} line`);
    assert.equal(theirs.length, ours.length);
    for (let i = 0; i < ours.length; i++) assert.equal(ours[i], theirs[i], `${encodeLabel(all[i]!)} in ${tz}`);
  });
}
