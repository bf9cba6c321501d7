// stats' id index (src/core/stats/table.ts IdMap and IdSet) against a Map and a Set doing the
// same: signed 32-bit number ids (IPv4) that collide in the hash's bits, IPv6 hex ids, values
// overwritten, growth from the first 1024 slots.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IdMap, IdSet, type Id } from '../../src/core/stats/table.js';

test('IdMap and IdSet answer as a Map and a Set of the same ids; forEach visits what entries() gives', () => {
  let x = 0x6b8b4567;
  const rnd = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
  const pool: Id[] = [0, -1, 1, 2 ** 31 - 1, -(2 ** 31), 2 ** 24 - 1, '20010db8000000010000000000000001', '20010db800000001'];
  for (let i = 0; i < 5000; i++) pool.push(Math.floor(rnd() * 2 ** 32) | 0, (i << 20) | 0, i, i.toString(16).padStart(16, '0'));
  const m = new IdMap();
  const ref = new Map<Id, number>();
  const s = new IdSet();
  const refSet = new Set<Id>();
  for (let i = 0; i < 80_000; i++) {
    const id = pool[Math.floor(rnd() * pool.length)]!;
    const op = rnd();
    if (op < 0.5) {
      const v = Math.floor(rnd() * 1e6);
      m.set(id, v);
      ref.set(id, v);
    } else if (op < 0.7) {
      s.add(id);
      refSet.add(id);
    } else {
      assert.equal(m.get(id), ref.get(id), String(id));
      assert.equal(m.has(id), ref.has(id), String(id));
      assert.equal(s.has(id), refSet.has(id), String(id));
    }
  }
  assert.equal(m.size, ref.size);
  assert.equal(s.size, refSet.size);
  const key = (a: [Id, number]) => `${typeof a[0]}:${a[0]}`;
  assert.deepEqual([...m].sort((a, b) => (key(a) < key(b) ? -1 : 1)), [...ref].sort((a, b) => (key(a) < key(b) ? -1 : 1)));
  assert.deepEqual(new Set(s), refSet);
  const each: [Id, number][] = [];
  m.forEach((id, v) => each.push([id, v]));
  assert.deepEqual(each, [...m.entries()]);
  for (const id of [3, -7, 'ffff', 123456789]) {
    assert.equal(m.get(id), ref.get(id));
    assert.equal(s.has(id), refSet.has(id));
  }
});
