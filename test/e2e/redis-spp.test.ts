// qgrey-spp on the shared Redis store (QGREY_STORE; qgrey(5) REDIS STORE): two MX hosts on one
// real redis-server, one with qgreyd and one deciding per process, driven through the qmail-spp
// protocol (spp-harness.ts). A triplet deferred on one passes on the other after the delay; its
// key is PREFIX t:ID with the retry window as TTL, then the lifetime; two first RCPTs at once
// make one triplet; a trap RCPT puts the client into the store's blacklist; auto-whitelisting
// writes the connection-level entry into the store; nothing is written into a triplet
// directory.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { qgrey, tempDir } from '../helpers/util.js';
import { Qgreyd } from './qgreyd-harness.js';
import { startRedis, type RedisServer } from './redis-harness.js';
import { runPlugin, verdictOf, type Session } from './spp-harness.js';
import { formatTriplet, parseTriplet, tripletId, tripletKey } from '../../src/core/triplet.js';
import { parseIp } from '../../src/core/ip.js';

const tmp = tempDir('redis-spp-');
let redis: RedisServer;
let url = '';
let db: Redis;
let mx1: Qgreyd;
const lists = join(tmp.path, 'lists');
const control = join(tmp.path, 'greylisting');
const rcpt = join(tmp.path, 'rcpt-not-used');

before(
  async () => {
    redis = await startRedis({ password: 'spp-secret' });
    url = `${redis.url}/0`;
    db = new Redis({ port: redis.port, host: '127.0.0.1', password: 'spp-secret', db: 0, lazyConnect: true, maxRetriesPerRequest: 1 });
    await db.connect();
    mkdirSync(lists);
    writeFileSync(join(lists, 'traps'), 'trap@example.net\n');
    writeFileSync(control, 'block_expire=5\nrecord_expire=60\nrecord_expire_good=36\n');
    const dir = join(tmp.path, 'mx1');
    mkdirSync(dir);
    mx1 = await Qgreyd.start(dir, { QGREY_STORE: url, QGREY_LISTDIR: lists, JGREYLIST_DIR: join(dir, 'no-tree'), QGREY_RCPT_DIR: rcpt });
  },
  { timeout: 60_000 },
);

after(
  async () => {
    if (mx1) {
      assert.deepEqual(await mx1.stop(), { code: 0, signal: null }, mx1.log);
      assert.deepEqual(mx1.logLines().filter((l) => /^qgreyd: (refused|malformed|busy|internal|warning)|fallback|left to/.test(l)), [], mx1.log);
      assert.ok(!mx1.log.includes('spp-secret'));
    }
    db?.disconnect();
    await redis?.stop();
    tmp[Symbol.dispose]();
  },
  { timeout: 60_000 },
);

type Host = 'mx1' | 'mx2';

/** One RCPT on mx1 (qgreyd) or mx2 (no qgreyd: the per-process program), same store. */
async function rcptOn(host: Host, s: Session) {
  const base: Record<string, string> = { QGREY_STORE: url, QGREY_LISTDIR: lists, GLCONFIGFILE: control, QGREY_RCPT_DIR: rcpt, JGREYLIST_DIR: join(tmp.path, 'no-tree') };
  Object.assign(base, host === 'mx1' ? mx1.clientEnv : { QGREY_SECRET: '' });
  const r = await runPlugin(s, base);
  assert.equal(r.code, 0, r.log.join('\n'));
  assert.deepEqual(r.log.filter((l) => /fallback|FAIL/.test(l)), [], r.log.join('\n'));
  return r;
}

function idOf(ip: string, from: string, to: string): string {
  return tripletId(tripletKey(parseIp(ip)!, from, to, false));
}

/** Move every time of one stored triplet `seconds` back, keeping its TTL. */
async function age(id: string, seconds: number): Promise<void> {
  const k = `qgrey:t:${id}`;
  const [v, ttl] = await Promise.all([db.get(k), db.pttl(k)]);
  const t = parseTriplet(v!);
  assert.ok(t);
  await db.set(k, formatTriplet({ ...t, first: t.first - seconds, last: t.last - seconds, blockUntil: t.blockUntil - seconds, expires: t.expires - seconds }), 'PX', ttl);
}

test('a triplet deferred on one host passes on the other after the delay; TTL the window, then the lifetime', async () => {
  const s = { ip: '192.0.2.7', from: '<alice@sender.example>', to: '<bob@example.net>' };
  const id = idOf(s.ip, s.from, s.to);
  const r1 = await rcptOn('mx1', s);
  assert.equal(verdictOf(r1), 'E451');
  assert.match(r1.log[0]!, /RCPT GREY new <alice@sender\.example> -> <bob@example\.net>$/);
  const stored = parseTriplet((await db.get(`qgrey:t:${id}`))!);
  assert.deepEqual([stored?.net, stored?.from, stored?.blocked], ['192.0.2.0/24', 'alice@sender.example', 1]);
  const ttl1 = await db.pttl(`qgrey:t:${id}`);
  assert.ok(ttl1 > 3500_000 && ttl1 <= 3600_000, `the retry window (60 min): ${ttl1}`);
  // too soon on the other host
  assert.match((await rcptOn('mx2', s)).log[0]!, /RCPT GREY too soon/);
  // qgrey check --from --to reads the triplet where qgrey-spp keeps it
  const env = { GLCONFIGFILE: control, QGREY_RCPT_DIR: rcpt };
  const cj = qgrey(['check', s.ip, '--store', url, '--from', 'alice@sender.example', '--to', 'bob@example.net', '--json'], { env });
  assert.equal(cj.code, 0, cj.stderr);
  const j = JSON.parse(cj.stdout) as { rcpt: { decision: string; path: string; triplet: { blocked: number; passed: number } | null } };
  assert.deepEqual([j.rcpt.decision, j.rcpt.triplet?.blocked, j.rcpt.triplet?.passed], ['RCPT GREY too soon', 2, 0]);
  assert.ok(j.rcpt.path.endsWith(` qgrey:t:${id}`), j.rcpt.path);
  const ct = qgrey(['check', s.ip, '--store', url, '--from', 'alice@sender.example', '--to', 'bob@example.net'], { env });
  assert.match(ct.stdout, new RegExp(`^      key: redis://\\S+ qgrey:t:${id}\n    first seen .*; 0 passed, 2 deferred$`, 'm'), ct.stdout);
  assert.ok(!ct.stdout.includes('spp-secret'), 'no password shown');
  await age(id, 301);
  const ok = await rcptOn('mx2', { ...s, ip: '192.0.2.8' });
  assert.equal(verdictOf(ok), '', ok.log.join('\n'));
  assert.match(ok.log[0]!, /RCPT OK passed/);
  const ttl2 = await db.pttl(`qgrey:t:${id}`);
  assert.ok(ttl2 > 36 * 86400_000 - 60_000 && ttl2 <= 36 * 86400_000, `the lifetime (36 days): ${ttl2}`);
  assert.match((await rcptOn('mx1', s)).log[0]!, /RCPT OK known/);
  assert.ok(!existsSync(rcpt), 'no triplet directory is made or used');
  // qgrey list --triplets reads them from the store
  const l = qgrey(['list', '--triplets', '--store', url]);
  assert.equal(l.code, 0, l.stderr);
  assert.match(l.stdout, /^PASSED\|192\.0\.2\.0\/24\|alice@sender\.example\|bob@example\.net\|.*\|2\|2$/m);
  // the client network's record, for auto-whitelisting
  assert.ok((await db.keys('qgrey:c:*')).length >= 1);
});

test('first RCPTs at once on both hosts make one triplet: one is new, the others find it, every one counted', async () => {
  const s = { ip: '198.51.100.9', from: 'race@sender.example', to: 'bob@example.net' };
  const hosts: Host[] = ['mx1', 'mx2', 'mx1', 'mx2', 'mx1', 'mx2', 'mx1', 'mx2'];
  const runs = await Promise.all(hosts.map((h) => rcptOn(h, s)));
  for (const r of runs) assert.equal(verdictOf(r), 'E451');
  const events = runs.map((r) => /RCPT GREY (new|too soon)/.exec(r.log[0]!)?.[1]);
  assert.deepEqual(events.filter((e) => e === 'new').length, 1, runs.map((r) => r.log[0]).join('\n'));
  const t = parseTriplet((await db.get(`qgrey:t:${idOf(s.ip, s.from, s.to)}`))!);
  assert.equal(t?.blocked, hosts.length, 'every RCPT counted on the one record');
});

test('a trap RCPT blacklists the client in the store, so every host refuses it', async () => {
  const r = await rcptOn('mx2', { ip: '203.0.113.66', from: 'spam@bad.example', to: 'trap@example.net' });
  assert.equal(verdictOf(r), 'E451');
  assert.match(r.log[0]!, /RCPT TRAP .*203\.0\.113\.66 blacklisted for 86400s, source trap:trap@example\.net$/);
  assert.match((await db.get('qgrey:list:blacklist')) ?? '', /^203\.0\.113\.66\t[0-9TZ:-]+\ttrap:trap@example\.net$/m);
  // qgreyd reads the store's lists when their version moves (it polls)
  let last = '';
  for (let i = 0; i < 100; i++) {
    const d = await rcptOn('mx1', { ip: '203.0.113.66', from: 'spam@bad.example', to: 'bob@example.net' });
    last = d.log[0]!;
    if (verdictOf(d) === 'E553') break;
    await new Promise((res) => setTimeout(res, 100));
  }
  assert.match(last, /RCPT DENIED blacklisted/);
  assert.match((await rcptOn('mx2', { ip: '203.0.113.66', from: 'spam@bad.example', to: 'bob@example.net' })).log[0]!, /RCPT DENIED blacklisted/);
});

test('auto-whitelisting writes the connection-level entry into the store', async () => {
  const s = { ip: '192.0.9.90', from: 'awl@sender.example', to: 'bob@example.net', env: { QGREY_AWL: '1' } };
  assert.equal(verdictOf(await rcptOn('mx2', s)), 'E451');
  await age(idOf(s.ip, s.from, s.to), 301);
  const r = await rcptOn('mx1', s);
  assert.match(r.log[0]!, /RCPT OK passed .*; 192\.0\.9\.0\/24 auto-whitelisted after 1 triplets$/);
  const e = await db.get('qgrey:e:192/000/009');
  assert.ok(e !== null, 'the entry of 192.0.9.0/24');
  const [first, last] = e.split(' ').map(Number);
  assert.ok(last! - first! > 120, `first seen more than the hold time back: ${e}`);
});
