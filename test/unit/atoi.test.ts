// C's atoi(), the one copy (core/atoi.ts), and the readers that use it agreeing on a number.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { atoi } from '../../src/core/atoi.js';
import { byIp, holdtime } from '../../src/core/config.js';
import { readConfig } from '../../src/wrapper/config.js';
import { readSppConfig } from '../../src/spp/rcpt.js';
import { readTimers } from '../../src/core/triplet.js';

test('atoi reads as C does: blanks, a sign, digits, then stops; clamped to int', () => {
  const cases: [string, number][] = [
    ['42', 42], ['  42x', 42], ['\t\n\v\f\r 5', 5], ['-7', -7], ['+3', 3], ['', 0], ['abc', 0], ['- 4', 0], ['-0', 0], ['0x10', 0],
    ['99999999999', 2147483647], ['-99999999999', -2147483648], ['2147483647', 2147483647], ['-2147483648', -2147483648],
  ];
  for (const [s, n] of cases) assert.equal(atoi(s), n, JSON.stringify(s));
});

test('the maintenance commands, the wrapper and qgrey-spp read the same numbers the same way', () => {
  for (const v of ['300', ' 300s', '99999999999', '-5', 'x']) {
    const env = { JGREYLIST_HOLDTIME: v };
    assert.equal(holdtime(env), readConfig(env).holdtime, `JGREYLIST_HOLDTIME=${v}`);
    assert.equal(holdtime(env), readSppConfig(env).holdtime, `JGREYLIST_HOLDTIME=${v}`);
  }
  for (const [v, on] of [[' 1', true], ['0x1', false], ['', false], ['-1', true]] as const) {
    const env = { JGREYLIST_BY_IP: v };
    assert.equal(byIp(env), on, `JGREYLIST_BY_IP=${JSON.stringify(v)}`);
    assert.equal(readConfig(env).layout, on ? 'byip' : 'classc');
    assert.equal(readSppConfig(env).treeLayout, on ? 'byip' : 'classc');
  }
  assert.equal(readTimers('block_expire=99999999999\n').block, 2147483647 * 60);
});
