// Triplet keys, timers and the decision (src/core/triplet.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseIp } from '../../src/core/ip.js';
import {
  clientNet,
  decideTriplet,
  DEFAULT_TIMERS,
  formatTriplet,
  normaliseRecipient,
  normaliseSender,
  parseTriplet,
  readTimers,
  tripletId,
  tripletKey,
  TRIPLET_ID,
  type Triplet,
} from '../../src/core/triplet.js';

test('sender: lower case, BATV stripped, +extension dropped, digit runs collapsed', () => {
  assert.equal(normaliseSender('<John.Doe@Example.ORG>'), 'john.doe@example.org');
  assert.equal(normaliseSender('prvs=1234abcdef=john@example.org'), 'john@example.org');
  assert.equal(normaliseSender('<PRVS=0123ABCDEF=John@example.org>'), 'john@example.org');
  assert.equal(normaliseSender('prvs=john/0123abcdef@example.org'), 'john@example.org');
  assert.equal(normaliseSender('john+lists@example.org'), 'john@example.org');
  assert.equal(normaliseSender('bounce-12345-678@lists.example.org'), 'bounce-#-#@lists.example.org');
  assert.equal(normaliseSender('bounce-99-1@lists.example.org'), normaliseSender('bounce-12345-678@lists.example.org'));
  // digits in the domain are kept: another domain is another sender
  assert.equal(normaliseSender('a1@mx2.example.org'), 'a#@mx2.example.org');
  assert.equal(normaliseSender('<>'), '');
  assert.equal(normaliseSender(''), '');
  // a leading + is a local part, not an extension
  assert.equal(normaliseSender('+x@example.org'), '+x@example.org');
});

test('recipient: lower case, nothing else', () => {
  assert.equal(normaliseRecipient('<Postmaster+x@Example.NET>'), 'postmaster+x@example.net');
  assert.equal(normaliseRecipient('user123@example.net'), 'user123@example.net');
});

test('client: /24, /64, or the address', () => {
  assert.equal(clientNet(parseIp('192.0.2.77')!, false), '192.0.2.0/24');
  assert.equal(clientNet(parseIp('::ffff:192.0.2.77')!, false), '192.0.2.0/24');
  assert.equal(clientNet(parseIp('2001:db8:1:2:3:4:5:6')!, false), '2001:db8:1:2::/64');
  assert.equal(clientNet(parseIp('192.0.2.77')!, true), '192.0.2.77');
  assert.equal(clientNet(parseIp('2001:db8:1:2:3:4:5:6')!, true), '2001:db8:1:2:3:4:5:6');
});

test('the key: one id for VERP/BATV variants and neighbours in the /24; another for another recipient', () => {
  const ip = parseIp('192.0.2.7')!;
  const a = tripletId(tripletKey(ip, 'prvs=1111aaaaaa=bounce-1@l.example', 'u@example.net', false));
  const b = tripletId(tripletKey(parseIp('192.0.2.200')!, 'bounce-2@L.example', '<U@example.net>', false));
  assert.match(a, TRIPLET_ID);
  assert.equal(a, b);
  assert.notEqual(a, tripletId(tripletKey(ip, 'bounce-1@l.example', 'v@example.net', false)));
  assert.notEqual(a, tripletId(tripletKey(parseIp('192.0.3.7')!, 'bounce-1@l.example', 'u@example.net', false)));
  assert.notEqual(tripletId(tripletKey(ip, 'x@y', 'u@v', true)), tripletId(tripletKey(parseIp('192.0.2.8')!, 'x@y', 'u@v', true)));
});

test('timers: the guide defaults, the control file as the MySQL plugin reads it, its environment', () => {
  assert.deepEqual(readTimers(null), DEFAULT_TIMERS);
  assert.deepEqual(DEFAULT_TIMERS, { block: 120, window: 120000, good: 36 * 86400 });
  const file = 'mysql_default_file=control/mysql.cnf\nblock_expire=5\r\nrecord_expire=600\n# record_expire_good=1\n;block_expire=99\nrecord_expire_good=7\nloglevel=4\n';
  assert.deepEqual(readTimers(file), { block: 300, window: 36000, good: 7 * 86400 });
  // atoi: junk after the digits is ignored, junk before gives 0; negative counts are 0
  assert.deepEqual(readTimers('block_expire=3min\nrecord_expire=x\nrecord_expire_good=-4\n'), { block: 180, window: 0, good: 0 });
  // a leading blank is not the key: the line is ignored, as the plugin ignores it
  assert.deepEqual(readTimers(' block_expire=9\n'), DEFAULT_TIMERS);
  assert.deepEqual(readTimers(file, { GLBLOCKEXPIRE: '1', GLRECORDEXPIREGOOD: '2' }), { block: 60, window: 36000, good: 2 * 86400 });
});

test('decision: deferred, deferred again too soon, passed after the delay, known, expired after the window', () => {
  const t = { block: 120, window: 3600, good: 86400 };
  const key = tripletKey(parseIp('192.0.2.7')!, 'a@b.example', 'c@d.example', false);
  const d1 = decideTriplet(null, key, 1000, t);
  assert.deepEqual([d1.pass, d1.event], [false, 'new']);
  assert.deepEqual(d1.next, { ...key, first: 1000, last: 1000, blockUntil: 1120, expires: 4600, passed: 0, blocked: 1 });
  const d2 = decideTriplet(d1.next, key, 1119, t);
  assert.deepEqual([d2.pass, d2.event, d2.next.blocked, d2.next.first], [false, 'too soon', 2, 1000]);
  const d3 = decideTriplet(d2.next, key, 1120, t);
  assert.deepEqual([d3.pass, d3.event, d3.next.passed, d3.next.expires], [true, 'passed', 1, 1120 + 86400]);
  const d4 = decideTriplet(d3.next, key, 50000, t);
  assert.deepEqual([d4.pass, d4.event, d4.next.expires], [true, 'known', 50000 + 86400]);
  // unseen for its lifetime: new again
  const d5 = decideTriplet(d4.next, key, 50000 + 86400, t);
  assert.deepEqual([d5.pass, d5.event], [false, 'new']);
  // a deferred triplet retried after the window starts again
  const late = decideTriplet(d1.next, key, 4600, t);
  assert.deepEqual([late.pass, late.event, late.next.first], [false, 'new', 4600]);
  // no delay: passes at once
  assert.deepEqual(decideTriplet(null, key, 1000, { ...t, block: 0 }).pass, true);
});

test('stored form: round trip, odd bytes escaped, damaged text refused', () => {
  const t: Triplet = { net: '192.0.2.0/24', from: '', to: 'a b%c\u00e9@x', first: 1.5, last: 2, blockUntil: 3, expires: 4, passed: 5, blocked: 6 };
  const text = formatTriplet(t);
  assert.match(text, /^qgrey-triplet1 1\.5 2 3 4 5 6 192\.0\.2\.0\/24 - a%20b%25c%C3%A9@x\n$/);
  assert.deepEqual(parseTriplet(text), t);
  assert.deepEqual(parseTriplet(formatTriplet({ ...t, from: '-' })), { ...t, from: '-' });
  for (const bad of ['', 'qgrey-triplet1 1 2 3', text.replace('1.5', '-1'), text.replace(' - ', ' a\tb '), 'x' + text]) assert.equal(parseTriplet(bad), null, JSON.stringify(bad));
});

test('a sender-pool triplet: its origin network kept, passes from other networks counted; stored with both', () => {
  const t = { block: 60, window: 3600, good: 86400 };
  const key = { net: 'spf:pool.example', from: 'a@pool.example', to: 'b@x' };
  const d1 = decideTriplet(null, key, 1000, t, '192.0.2.0/24');
  assert.deepEqual([d1.pass, d1.next.origin, d1.next.moved], [false, '192.0.2.0/24', 0]);
  const d2 = decideTriplet(d1.next, key, 1100, t, '198.51.100.0/24');
  assert.deepEqual([d2.pass, d2.event, d2.next.origin, d2.next.moved], [true, 'passed', '192.0.2.0/24', 1]);
  const d3 = decideTriplet(d2.next, key, 1200, t, '192.0.2.0/24');
  assert.deepEqual([d3.event, d3.next.moved], ['known', 1]);
  const text = formatTriplet(d3.next);
  assert.match(text, / spf:pool\.example a@pool\.example b@x 192\.0\.2\.0\/24 1\n$/);
  assert.deepEqual(parseTriplet(text), d3.next);
  // a plain key keeps the ten-field form
  const plain = decideTriplet(null, { ...key, net: '192.0.2.0/24' }, 1000, t, '192.0.2.0/24');
  assert.equal(plain.next.origin, undefined);
  assert.equal(formatTriplet(plain.next).split(' ').length, 10);
  assert.equal(parseTriplet(text.replace(/ 1\n$/, ' x\n')), null);
});
