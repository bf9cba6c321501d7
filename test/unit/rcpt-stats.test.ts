// qgrey-spp's lines counted (core/rcpt-stats.ts): a triplet never retried is "recent" when it
// was deferred within the last hour of the lines read, as a key that never came back is.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RcptCollector } from '../../src/core/rcpt-stats.js';

const grey = (ip: string, from: string) => `qgrey-spp[1]: ${ip}: RCPT GREY new <${from}> -> <bob@example.net>`;

test('never retried: the recent ones apart, by the time of the last line read', () => {
  const c = new RcptCollector({ byIp: false, maxKeys: 1000 });
  const t0 = 1_800_000_000;
  assert.ok(c.add(grey('192.0.2.1', 'old@a.example'), t0));
  assert.ok(c.add(grey('198.51.100.1', 'retried@b.example'), t0 + 60));
  assert.ok(c.add('qgrey-spp[2]: 198.51.100.1: RCPT OK passed <retried@b.example> -> <bob@example.net>', t0 + 400));
  assert.ok(c.add(grey('203.0.113.1', 'late@c.example'), t0 + 7200 - 1800));
  assert.ok(c.add(grey('203.0.113.9', 'undated@d.example')));
  // the last line: two hours after the first
  assert.ok(c.add('qgrey-spp[3]: 192.0.2.200: RCPT OK whitelisted <x@e.example> -> <bob@example.net>', t0 + 7200));
  assert.equal(c.add('jgreylist[4]: 192.0.2.1: GREY first time', t0 + 7300), false);
  const t = c.result().triplets;
  assert.equal(t.deferred, 4);
  assert.equal(t.passed, 1);
  assert.equal(t.neverRetried, 3);
  // late@ (30 minutes before the end) only: old@ is two hours old, undated@ has no time
  assert.equal(t.neverRetriedRecent, 1);
  const none = new RcptCollector({ byIp: false, maxKeys: 10, recent: 0 });
  none.add(grey('192.0.2.1', 'a@a.example'), t0);
  assert.equal(none.result().triplets.neverRetriedRecent, 0);
});
