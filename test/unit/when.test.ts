// Durations and points in time for --since/--until.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDuration, parseWhen } from '../../src/core/when.js';
import { encodeLabel } from '../../src/core/tai64n.js';
import { Zone } from '../../src/core/zone.js';
import { QgreyError } from '../../src/core/errors.js';

const now = 1_790_000_000.25;

test('durations', () => {
  assert.equal(parseDuration('45s'), 45);
  assert.equal(parseDuration('90m'), 5400);
  assert.equal(parseDuration('36h'), 129600);
  assert.equal(parseDuration('30d'), 2592000);
  assert.equal(parseDuration('2w'), 1209600);
  assert.equal(parseDuration('1.5h'), 5400);
  assert.equal(parseDuration('60'), 60);
  for (const bad of ['', 'h', '-1h', '1y', '1 h x', '1e3s']) {
    assert.throws(() => parseDuration(bad), (e: unknown) => e instanceof QgreyError && e.exitCode === 100 && /expected a number and a unit/.test(e.message), bad);
  }
});

test('points in time', () => {
  const utc = new Zone('UTC');
  const rome = new Zone('Europe/Rome');
  assert.deepEqual(parseWhen('36h', now, utc), { sec: 1_790_000_000 - 129600, nsec: 250_000_000 });
  assert.deepEqual(parseWhen('now', now, utc), { sec: 1_790_000_000, nsec: 250_000_000 });
  assert.deepEqual(parseWhen('2026-11-20', now, utc), { sec: Date.UTC(2026, 10, 20) / 1000, nsec: 0 });
  assert.deepEqual(parseWhen('2026-11-20', now, rome), { sec: Date.UTC(2026, 10, 19, 23) / 1000, nsec: 0 });
  assert.deepEqual(parseWhen('2026-11-20 10:00:00', now, rome), { sec: Date.UTC(2026, 10, 20, 9) / 1000, nsec: 0 });
  assert.deepEqual(parseWhen('2026-11-20T10:00:00.5Z', now, rome), { sec: Date.UTC(2026, 10, 20, 10) / 1000, nsec: 500_000_000 });
  assert.deepEqual(parseWhen('2026-11-20T10:00:00+02:00', now, utc), { sec: Date.UTC(2026, 10, 20, 8) / 1000, nsec: 0 });
  assert.deepEqual(parseWhen('2026-11-20 10:00', now, utc), { sec: Date.UTC(2026, 10, 20, 10) / 1000, nsec: 0 });
  // the fold: the earlier instant
  assert.deepEqual(parseWhen('2024-10-27 02:30:00', now, rome), { sec: Date.UTC(2024, 9, 27, 0, 30) / 1000, nsec: 0 });
  const label = encodeLabel({ sec: 1_700_000_000, nsec: 42 });
  assert.deepEqual(parseWhen(label, now, rome), { sec: 1_700_000_000, nsec: 42 });
  for (const bad of ['yesterday', '2026-13-01', '2026-11-20 25:00', '@4000', '', '2026/11/20']) {
    assert.throws(() => parseWhen(bad, now, utc, '--since'), (e: unknown) => e instanceof QgreyError && e.exitCode === 100 && e.message.includes('--since'), bad);
  }
});
