// Local-time conversion: both ways, with the DST fold (earlier instant, flagged) and gap.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { civilFromDays, daysFromCivil, formatCivil, Zone } from '../../src/core/zone.js';

const local = (y: number, mo: number, d: number, h: number, mi: number, s = 0) => daysFromCivil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;

test('civil dates round-trip over many years, before 1970 too', () => {
  for (let days = -800_000; days <= 800_000; days += 997) {
    const [y, m, d] = civilFromDays(days);
    assert.equal(daysFromCivil(y, m, d), days);
  }
  assert.equal(formatCivil(0), '1970-01-01 00:00:00');
  assert.equal(formatCivil(-1), '1969-12-31 23:59:59');
  assert.equal(formatCivil(951782400), '2000-02-29 00:00:00');
});

test('UTC and Europe/Rome offsets', () => {
  const utc = new Zone('UTC');
  assert.ok(utc.utc);
  assert.equal(utc.offsetAt(1_790_000_000), 0);
  const rome = Zone.of('Europe/Rome');
  assert.equal(rome.offsetAt(Date.UTC(2024, 0, 15) / 1000), 3600);
  assert.equal(rome.offsetAt(Date.UTC(2024, 6, 15) / 1000), 7200);
  assert.equal(rome.formatSeconds(Date.UTC(2024, 6, 15, 12) / 1000), '2024-07-15 14:00:00');
  assert.equal(rome.formatStamp({ sec: Date.UTC(2024, 6, 15, 12) / 1000, nsec: 1_234_567_890 }), '2024-07-15 14:00:00.1234567890');
  assert.throws(() => Zone.of('Nowhere/Special'), RangeError);
});

test('fromLocal: an ordinary time, the fold (earlier instant) and the gap', () => {
  const rome = new Zone('Europe/Rome');
  assert.deepEqual(rome.fromLocal(local(2024, 7, 15, 14, 0)), { sec: Date.UTC(2024, 6, 15, 12) / 1000, fold: false, gap: false });
  // 2024-10-27 02:30 happens twice in Rome: 00:30 UTC (CEST) and 01:30 UTC (CET)
  assert.deepEqual(rome.fromLocal(local(2024, 10, 27, 2, 30)), { sec: Date.UTC(2024, 9, 27, 0, 30) / 1000, fold: true, gap: false });
  // just outside the fold
  assert.deepEqual(rome.fromLocal(local(2024, 10, 27, 3, 0)), { sec: Date.UTC(2024, 9, 27, 2, 0) / 1000, fold: false, gap: false });
  assert.deepEqual(rome.fromLocal(local(2024, 10, 27, 1, 59, 59)), { sec: Date.UTC(2024, 9, 26, 23, 59, 59) / 1000, fold: false, gap: false });
  // 2024-03-31 02:30 never happens in Rome: read with the offset before the gap (+1)
  assert.deepEqual(rome.fromLocal(local(2024, 3, 31, 2, 30)), { sec: Date.UTC(2024, 2, 31, 1, 30) / 1000, fold: false, gap: true });
  // New York's fold is at 01:30
  const ny = new Zone('America/New_York');
  assert.deepEqual(ny.fromLocal(local(2024, 11, 3, 1, 30)), { sec: Date.UTC(2024, 10, 3, 5, 30) / 1000, fold: true, gap: false });
  // UTC never folds
  assert.deepEqual(new Zone('UTC').fromLocal(local(2024, 10, 27, 2, 30)), { sec: local(2024, 10, 27, 2, 30), fold: false, gap: false });
});

test('local -> instant -> local is the identity outside folds and gaps, for a year of hours', () => {
  const rome = new Zone('Europe/Rome');
  const start = Date.UTC(2023, 0, 1) / 1000;
  for (let t = start; t < start + 366 * 86400; t += 3600 + 17) {
    const l = t + rome.offsetAt(t);
    const back = rome.fromLocal(l);
    if (!back.fold) assert.equal(back.sec, t, formatCivil(l));
    else assert.ok(back.sec <= t);
  }
});
