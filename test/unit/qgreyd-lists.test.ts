// qgreyd's lists in memory (src/server/lists.ts) give findInList's answer: the same entry for
// every address, on generated lists with prefixes, ranges, CIDR networks of every length,
// IPv6, expired entries, ties and lines that do not parse; and they follow a file that changes.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers/util.js';
import { parseIp } from '../../src/core/ip.js';
import { findInList } from '../../src/store/lists.js';
import { ListCache, ListIndex } from '../../src/server/lists.js';

function rng(seed: number) {
  let s = seed >>> 0;
  return (n: number) => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s % n;
  };
}

it('ListIndex.find answers as findInList, address by address', () => {
  using t = tempDir('qgreyd-lists-');
  const r = rng(99);
  const o = () => String(r(4) === 0 ? 10 + r(3) : r(200));
  const lines: string[] = [];
  for (let i = 0; i < 3000; i++) {
    const exp = r(5) === 0 ? '2020-01-01T00:00:00Z' : r(5) === 0 ? '2999-01-01T00:00:00Z' : 'never';
    const msg = r(3) === 0 ? ` "msg ${i} %"` : '';
    const k = r(9);
    const addr =
      k === 0 ? `${o()}.` : k === 1 ? `${o()}.${o()}.` : k === 2 ? `${o()}.${o()}.${o()}` : k === 3 ? `${o()}.${o()}.${o()}.${o()}/${r(40) === 0 ? r(8) : 8 + r(25)}` : k === 4 ? `${o()}.${o()}.${o()}.${r(100)}-${100 + r(100)}`
      : k === 5 ? `2001:db8:${r(4).toString(16)}::/${16 + r(100)}` : k === 6 ? `2001:db8:${r(4).toString(16)}::${r(16).toString(16)}` : k === 7 ? `${o()}.${o()}.${o()}.${o()}` : `bad-${i}`;
    lines.push(`${addr}  ${exp}  manual${msg}`);
  }
  const text = lines.join('\n') + '\n';
  const path = join(t.path, 'list');
  writeFileSync(path, text);
  const idx = new ListIndex(text);
  const now = Date.now() / 1000;
  let hits = 0;
  for (let i = 0; i < 4000; i++) {
    const a = i % 4 === 3 ? `2001:db8:${r(6).toString(16)}::${r(16).toString(16)}` : i % 4 === 2 ? `${200 + r(56)}.${o()}.${o()}.${o()}` : `${o()}.${o()}.${o()}.${o()}`;
    const ip = parseIp(a)!;
    const want = findInList(path, ip, now);
    const got = idx.find(ip, now);
    assert.equal(got?.address ?? null, want?.label ?? null, a);
    if (want) {
      hits++;
      assert.equal(got!.message ?? '% is blacklisted', want.message);
    }
  }
  assert.ok(hits > 500 && hits < 3900, `hits ${hits}`);
});

it('ListCache reads a file again when it changes, and an empty list when it goes', () => {
  using t = tempDir('qgreyd-lists-');
  const path = join(t.path, 'whitelist');
  const c = new ListCache();
  const loads: number[] = [];
  c.onLoad = (_p, n) => loads.push(n);
  const ip = parseIp('192.0.2.9')!;
  assert.equal(c.find(path, ip, 0), null);
  writeFileSync(path + '.tmp', '192.0.2.0/24 never manual\n');
  renameSync(path + '.tmp', path);
  assert.deepEqual(c.find(path, ip, 0), { label: '192.0.2.0/24', message: '% is blacklisted' });
  assert.deepEqual(c.find(path, ip, 0), { label: '192.0.2.0/24', message: '% is blacklisted' });
  writeFileSync(path, '192.0.2.9 never manual "x"\n192.0.2.0/24 never manual\n');
  assert.deepEqual(c.find(path, ip, 0), { label: '192.0.2.9', message: 'x' });
  c.reload();
  assert.deepEqual(c.find(path, ip, 0), { label: '192.0.2.9', message: 'x' });
  assert.deepEqual(loads, [1, 2, 2]);
});
