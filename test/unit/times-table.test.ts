// rebuild's earliest and latest time per numeric key (src/core/times-table.ts) against a Map
// doing the same, over keys that collide in the hash's low and high bits and across growth.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TimesTable } from '../../src/core/times-table.js';
import { ip4KeyId } from '../../src/actions/rebuild.js';
import { seeded } from '../helpers/random.js';

test('TimesTable: first is the least time, last the greatest, per key, from times and spans; keys in ascending order', () => {
  const next = seeded(0x2545f491);
  const rnd = () => next(2 ** 32) / 2 ** 32;
  for (const start of [1, 1024, 1 << 16]) {
    const t = new TimesTable(start);
    const m = new Map<number, [number, number]>();
    const pool = [0, 1, 2 ** 32 - 1, 2 ** 31, 2 ** 24 - 1];
    for (let i = 0; i < 3000; i++) pool.push(Math.floor(rnd() * 2 ** 32), (i << 16) >>> 0, i, Math.floor(rnd() * 2 ** 24));
    for (let i = 0; i < 60_000; i++) {
      const key = pool[Math.floor(rnd() * pool.length)]!;
      const time = 1.79e9 + Math.floor(rnd() * 1e6) + Math.floor(rnd() * 1e9) / 1e9;
      // every third time a span (a run of one address's lines), else one time
      const until = i % 3 === 0 ? time + Math.floor(rnd() * 1e5) : time;
      if (until !== time) t.span(key, time, until);
      else t.add(key, time);
      const e = m.get(key);
      if (!e) m.set(key, [time, until]);
      else {
        e[0] = Math.min(e[0], time);
        e[1] = Math.max(e[1], until);
      }
    }
    assert.equal(t.size, m.size);
    const got: [number, number, number][] = [];
    t.forEach((k, f, l) => got.push([k, f, l]));
    const want = [...m].sort((a, b) => a[0] - b[0]).map(([k, [f, l]]) => [k, f, l]);
    assert.deepEqual(got, want);
    for (const k of [...m.keys()].slice(0, 500)) assert.equal(t.has(k), true);
    for (const k of [3, 2 ** 32 - 2, 12345678]) assert.equal(t.has(k), m.has(k));
  }
  // one key: the same time twice, then earlier and later ones
  const one = new TimesTable();
  for (const time of [5, 5, 3, 9, 4]) one.add(7, time);
  const seen: number[][] = [];
  one.forEach((k, f, l) => seen.push([k, f, l]));
  assert.deepEqual(seen, [[7, 3, 9]]);
});

test('ip4KeyId: the number of a class-C or per-address tree key, -1 for any other', () => {
  assert.equal(ip4KeyId('192/000/002', false), (192 << 16) + 2);
  assert.equal(ip4KeyId('255/255/255', false), 2 ** 24 - 1);
  assert.equal(ip4KeyId('255/255/255/255', true), 2 ** 32 - 1);
  assert.equal(ip4KeyId('000/000/000/001', true), 1);
  for (const [k, byip] of [
    ['192/000/002/007', false],
    ['192/000/002', true],
    ['192/0/002', false],
    ['256/000/002', false],
    ['v6/20010db8/00000001', false],
    ['+12/000/002', false],
    ['', false],
  ] as const)
    assert.equal(ip4KeyId(k, byip), -1, k);
});
