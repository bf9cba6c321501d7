// stats' id index and rows (src/core/stats/table.ts IdIndex, IdSet, Table) against a Map and a
// Set doing the same: signed 32-bit number ids (IPv4) that collide in the hash's bits, the id
// 0, IPv6 hex ids, growth of the slots from the first 1024, and of the columns past the rows
// set aside; and the open connections by pid (src/core/stats/conns.ts) against a Map.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IdIndex, IdSet, Table, type Id } from '../../src/core/stats/table.js';
import { Conns } from '../../src/core/stats/conns.js';

function xorshift(seed: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

test('IdIndex numbers rows in the order ids come and finds them as a Map does; IdSet answers as a Set', () => {
  const rnd = xorshift(0x6b8b4567);
  const pool: Id[] = [0, -1, 1, 2 ** 31 - 1, -(2 ** 31), 2 ** 24 - 1, '20010db8000000010000000000000001', '20010db800000001'];
  for (let i = 0; i < 5000; i++) pool.push(Math.floor(rnd() * 2 ** 32) | 0, (i << 20) | 0, i, i.toString(16).padStart(16, '0'));
  const index = new IdIndex(30_000);
  const ref = new Map<Id, number>();
  const s = new IdSet();
  const refSet = new Set<Id>();
  for (let i = 0; i < 80_000; i++) {
    const id = pool[Math.floor(rnd() * pool.length)]!;
    const op = rnd();
    if (op < 0.5) {
      if (!ref.has(id)) {
        assert.equal(index.add(id), ref.size);
        ref.set(id, ref.size);
      }
    } else if (op < 0.7) {
      s.add(id);
      refSet.add(id);
    } else {
      assert.equal(index.rowOf(id), ref.get(id) ?? -1, String(id));
      assert.equal(index.has(id), ref.has(id), String(id));
      assert.equal(s.has(id), refSet.has(id), String(id));
    }
  }
  assert.equal(index.size, ref.size);
  for (const [id, row] of ref) {
    assert.equal(index.rowOf(id), row);
    assert.equal(index.idOf(row), id);
  }
  assert.equal(s.size, refSet.size);
  const seen: Id[] = [];
  s.forEach((id) => seen.push(id));
  assert.equal(seen.length, refSet.size);
  assert.deepEqual(new Set(seen), refSet);
  for (const id of [3, -7, 'ffff', 123456789]) {
    assert.equal(index.rowOf(id), ref.get(id) ?? -1);
    assert.equal(s.has(id), refSet.has(id));
  }
});

test('Table: a row per id with its columns, full at its maximum, columns kept as they grow past what was set aside', () => {
  const small = new Table(true, 3);
  assert.equal(small.add(7, 100.5), 0);
  assert.equal(small.add('20010db800000001', 200), 1);
  assert.equal(small.add(-7, 300), 2);
  assert.equal(small.add(8, 400), -1);
  assert.equal(small.size, 3);
  assert.deepEqual([...small.first], [100.5, 200, 300]);
  assert.ok(small.delivered.every(Number.isNaN));
  assert.deepEqual([...small.greys], [1, 1, 1]);
  const rows: [Id, number][] = [];
  small.forEach((id, row) => rows.push([id, row]));
  assert.deepEqual(rows, [[7, 0], ['20010db800000001', 1], [-7, 2]]);

  // past the 2^20 rows set aside: the columns double and keep what they held
  const n = (1 << 20) + 5000;
  const big = new Table(true, n + 10);
  for (let i = 0; i < n; i++) {
    const row = big.add((i * 2654435761) | 0, i);
    big.greys[row] = i;
    big.flags[row] = i & 3;
  }
  assert.equal(big.size, n);
  for (const i of [0, 1, 1 << 19, (1 << 20) - 1, 1 << 20, n - 1]) {
    const row = big.rowOf((i * 2654435761) | 0);
    assert.equal(row, i);
    assert.equal(big.first[row], i);
    assert.equal(big.greys[row], i);
    assert.equal(big.flags[row], i & 3);
    assert.ok(Number.isNaN(big.delivered[row]));
  }
  assert.equal(big.rowOf(12345), -1);
});

test('Conns answers as a Map of pid to connection: pids that collide, big pids, deletions in runs, growth, forgetting the old', () => {
  const rnd = xorshift(0x2545f491);
  const conns = new Conns();
  const ref = new Map<number, { kind: number; ip: Id; t: number }>();
  const W = 3600;
  // few distinct pids, many of them sharing their low bits, so runs of probes form and break up
  const pids: number[] = [0, 1, 2 ** 31, 2 ** 32 + 5, 1234567890123456789, Infinity];
  for (let i = 0; i < 3000; i++) pids.push(i, i * 1024, i * 65536 + 7);
  const ips: Id[] = [1, -5, 0x0a000001, '20010db8000000000000000000000001'];
  let t = 0;
  const expect = (pid: number, ip: Id, time: number) => {
    const c = ref.get(pid);
    return c && c.ip === ip && time - c.t < W ? c.kind : 0;
  };
  for (let step = 0; step < 200_000; step++) {
    t += rnd() * 10;
    const pid = pids[Math.floor(rnd() * (step < 100_000 ? 300 : pids.length))]!;
    const ip = ips[Math.floor(rnd() * ips.length)]!;
    const op = rnd();
    if (op < 0.45) {
      const kind = 1 + Math.floor(rnd() * 5);
      conns.set(pid, kind, ip, t);
      ref.set(pid, { kind, ip, t });
    } else if (op < 0.8) {
      conns.delete(pid);
      ref.delete(pid);
    } else if (op < 0.99995) {
      const at = t + (rnd() < 0.1 ? W : 0);
      assert.equal(conns.kindFor(pid, ip, at, W), expect(pid, ip, at), `pid ${pid} at step ${step}`);
    } else {
      conns.forgetBefore(t, 50);
      for (const [p, c] of ref) if (!(t - c.t < 50)) ref.delete(p);
    }
    if (step % 1000 === 0) assert.equal(conns.size, ref.size);
  }
  for (const pid of pids) for (const ip of ips) assert.equal(conns.kindFor(pid, ip, t, W), expect(pid, ip, t));
  conns.clear();
  assert.equal(conns.size, 0);
  assert.equal(conns.kindFor(1, 1, t, W), 0);
});
