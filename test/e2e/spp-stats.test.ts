// qgrey stats on qgrey-spp's log: the real plugin's lines (a sender pool against dnsmasq, a
// trap, a triplet never retried, one retried too soon), stamped by the real tai64n, then
// counted: RCPTs by decision, triplets deferred, passed and never retried, pool matches, trap hits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { qgrey, tempDir } from '../helpers/util.js';
import { ageTree, runPlugin } from './spp-harness.js';
import { startDns } from './dns-server.js';

test('stats counts qgrey-spp: deferred, passed, never retried, pool matches, trap hits (text and --json)', async () => {
  using t = tempDir('qgrey-spp-stats-');
  await using dns = await startDns(['txt-record=pool.test,"v=spf1 ip4:192.0.2.0/25 ip4:198.51.100.0/24 -all"']);
  const rcpt = join(t.path, 'rcpt');
  const lists = join(t.path, 'lists');
  mkdirSync(rcpt, { mode: 0o700 });
  mkdirSync(lists);
  writeFileSync(join(lists, 'traps'), 'trap@example.net\n');
  writeFileSync(join(t.path, 'greylisting'), 'block_expire=5\nrecord_expire=60\nrecord_expire_good=36\n');
  const base = { QGREY_RCPT_DIR: rcpt, QGREY_LISTDIR: lists, GLCONFIGFILE: join(t.path, 'greylisting'), QGREY_SECRET: '', JGREYLIST_DIR: join(t.path, 'tree'), QGREY_POOLS: 'spf', QGREY_DNS_SERVER: dns.server, QGREY_AWL: '0' };
  const log: string[] = [];
  const rcptOf = async (ip: string, from: string, to: string) => {
    const r = await runPlugin({ ip, from, to }, base);
    assert.equal(r.log.length, 1, r.log.join('\n'));
    log.push(r.log[0]!);
  };
  await rcptOf('192.0.2.10', 'news@pool.test', 'bob@example.net'); // new, pooled
  await rcptOf('203.0.113.5', 'once@other.example', 'bob@example.net'); // new, never retried
  await rcptOf('203.0.113.6', 'eager@other.example', 'bob@example.net'); // new
  await rcptOf('203.0.113.6', 'eager@other.example', 'bob@example.net'); // too soon
  await rcptOf('198.51.100.66', 'spam@bad.example', 'trap@example.net'); // trap
  ageTree(rcpt, 301);
  await rcptOf('198.51.100.20', 'news@pool.test', 'bob@example.net'); // passed from another /24 of the pool
  assert.match(log.at(-1)!, /RCPT OK passed .*; sender pool spf:pool\.test$/);
  const stamped = spawnSync('tai64n', { input: log.join('\n') + '\n', encoding: 'latin1' });
  assert.equal(stamped.status, 0, stamped.stderr);
  const file = join(t.path, 'current');
  writeFileSync(file, stamped.stdout);

  const j = qgrey(['stats', '--json', file]);
  assert.equal(j.code, 0, j.stderr);
  const r = (JSON.parse(j.stdout) as { rcpt: unknown }).rcpt;
  assert.deepEqual(r, {
    rcpts: { deferred: 4, passed: 1, known: 0, whitelisted: 0, reply: 0, denied: 0, trap: 1, failed: 0 },
    triplets: { deferred: 3, passed: 1, neverRetried: 1, neverRetriedRecent: 1, poolMatches: 1, pooledRcpts: 2 },
    traps: { hits: 1, clients: 1 },
    truncated: 0,
  });
  const text = qgrey(['stats', file], { env: { NO_COLOR: '1' } });
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /RCPT \(qgrey-spp\)/);
  assert.match(text.stdout, /- never retried +1\b/);
  // the lines were written seconds apart: the one never retried may still be
  assert.match(text.stdout, /\(1 of the never retried deferred in the last hour of the logs: may still be retried\)/);
  // only qgrey-spp's lines are dated here, and they give the period read
  assert.match(text.stdout, /^qgrey stats: \d{4}-\d\d-\d\d \d\d:\d\d to \d{4}-/m);
  assert.match(text.stdout, /sender-pool matches +1\b/);
  assert.match(text.stdout, /spamtrap hits +1\b/);
  assert.doesNotMatch(text.stderr, /nothing counted/, "the plugin's lines were counted");

  // the same triplets as stored, one record each
  const l = qgrey(['list', '--triplets', '--utc', '--rcpt-dir', rcpt]);
  assert.equal(l.code, 0, l.stderr);
  const recs = l.stdout.trim().split('\n').sort();
  assert.equal(recs.length, 3, l.stdout);
  assert.match(recs[0]!, /^DEFERRED\|203\.0\.113\.0\/24\|eager@other\.example\|bob@example\.net\|[0-9-]+ [0-9:]+\|[0-9-]+ [0-9:]+\|[0-9-]+ [0-9:]+\|0\|2$/);
  assert.match(recs[1]!, /^DEFERRED\|203\.0\.113\.0\/24\|once@other\.example\|bob@example\.net\|.*\|0\|1$/);
  assert.match(recs[2]!, /^PASSED\|spf:pool\.test\|news@pool\.test\|bob@example\.net\|.*\|1\|1$/);
  const js = qgrey(['list', '--triplets', '--json', '--rcpt-dir', rcpt]);
  const pooled = js.stdout.trim().split('\n').map((x) => JSON.parse(x) as Record<string, unknown>).find((x) => x.net === 'spf:pool.test');
  assert.deepEqual([pooled?.kind, pooled?.origin, pooled?.moved, pooled?.passed], ['passed', '192.0.2.0/24', 1, 1]);
  // no directory: nothing kept yet, nothing printed
  const none = qgrey(['list', '--triplets', '--rcpt-dir', join(t.path, 'none')]);
  assert.deepEqual([none.code, none.stdout, none.stderr], [0, '', '']);
});
