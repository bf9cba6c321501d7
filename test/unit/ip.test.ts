// Strict address parsing: what may be used to build a path or a key.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cidrContains, formatCidr, formatIp, parseCidr, parseIp, parseIp4 } from '../../src/core/ip.js';

test('IPv4: dotted quads only', () => {
  assert.deepEqual(parseIp('192.0.2.7'), { family: 4, value: 0xc0000207, mapped: false });
  assert.equal(formatIp(parseIp('001.002.003.004')!), '1.2.3.4');
  assert.equal(formatIp(parseIp('255.255.255.255')!), '255.255.255.255');
  assert.equal(formatIp(parseIp('0.0.0.0')!), '0.0.0.0');
  for (const bad of ['', '1.2.3', '1.2.3.4.5', '256.1.1.1', '1.2.3.-4', '1..2.3', '.1.2.3', '1.2.3.', '1.2.3.4 ', ' 1.2.3.4', '0001.2.3.4', '1.2.3.4/24', '../../x', '1.2.3.x', 'a.b.c.d', '1,2,3,4', '١.٢.٣.٤']) {
    assert.equal(parseIp(bad), null, JSON.stringify(bad));
    assert.equal(parseIp4(bad), null, JSON.stringify(bad));
  }
});

test('IPv6: RFC 4291 forms, ::ffff: mapped becomes IPv4', () => {
  assert.equal(formatIp(parseIp('2001:db8::25')!), '2001:db8::25');
  assert.equal(formatIp(parseIp('2001:0DB8:0000:0000:0000:0000:0000:0025')!), '2001:db8::25');
  assert.equal(formatIp(parseIp('::1')!), '::1');
  assert.equal(formatIp(parseIp('::')!), '::');
  assert.equal(formatIp(parseIp('2001:db8:0:0:1:0:0:1')!), '2001:db8::1:0:0:1');
  assert.equal(formatIp(parseIp('64:ff9b::192.0.2.33')!), '64:ff9b::c000:221');
  const m = parseIp('::ffff:1.2.3.4');
  assert.deepEqual(m, { family: 4, value: 0x01020304, mapped: true });
  assert.deepEqual(parseIp('::FFFF:102:304'), { family: 4, value: 0x01020304, mapped: true });
  for (const bad of [':', ':::', '1::2::3', '1:2:3:4:5:6:7:8:9', '12345::', 'g::1', 'fe80::1%eth0', '::ffff:1.2.3', '1:2:3:4:5:6:7::8', '[::1]', '2001:db8::/32', ':1:2:3:4:5:6:7']) {
    assert.equal(parseIp(bad), null, JSON.stringify(bad));
  }
});

test('networks', () => {
  const n = parseCidr('192.0.2.0/24')!;
  assert.ok(cidrContains(n, parseIp('192.0.2.200')!));
  assert.ok(!cidrContains(n, parseIp('192.0.3.1')!));
  assert.ok(cidrContains(n, parseIp('::ffff:192.0.2.9')!));
  assert.equal(formatCidr(parseCidr('192.0.2.77/24')!), '192.0.2.0/24');
  assert.equal(parseCidr('192.0.2.77/24', true), null);
  assert.equal(parseCidr('192.0.2.0/33'), null);
  assert.equal(parseCidr('192.0.2.0/'), null);
  const v6 = parseCidr('2001:db8::/32')!;
  assert.ok(cidrContains(v6, parseIp('2001:db8:ffff::1')!));
  assert.ok(!cidrContains(v6, parseIp('2001:db9::1')!));
  assert.ok(!cidrContains(v6, parseIp('1.2.3.4')!));
  assert.equal(formatCidr(parseCidr('::ffff:10.0.0.0/104')!), '10.0.0.0/8');
  assert.equal(formatCidr(parseCidr('0.0.0.0/0')!), '0.0.0.0/0');
});
