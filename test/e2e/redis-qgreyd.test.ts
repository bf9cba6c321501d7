// Two MX hosts on one Redis: two real qgreyd (QGREY_STORE, one password-protected
// redis-server) asked by the real bin/qgreylist as tcpserver would run it. A sender
// greylisted on one passes on the other after the hold time; two first connections at once,
// one on each, make one entry with one first-seen time; an entry evicted with `qgrey evict
// --store` on one host is gone for the other; a whitelist entry added on one host is used by
// both qgreyd within the poll interval; the per-process fallback decides on the same store.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { QGREYLIST, qgrey, tempDir } from '../helpers/util.js';
import { Qgreyd } from './qgreyd-harness.js';
import { rawCommandBulk, startRedis, type RedisServer } from './redis-harness.js';
import { greetdelay, writeLog } from './rebuild-gen.js';
import { serverPath } from './wrapper-harness.js';

const tmp = tempDir('redis-qgreyd-');
let redis: RedisServer;
let url = '';
const hosts: Qgreyd[] = [];
const HOLD = 2;

before(
  async () => {
  redis = await startRedis({ password: 'mx-secret' });
  url = `${redis.url}/0`;
  for (const name of ['mx1', 'mx2']) {
    const dir = join(tmp.path, name);
    mkdirSync(dir);
    // each host names a tree and a list directory that do not exist: with QGREY_STORE they are not used
    hosts.push(await Qgreyd.start(dir, { QGREY_STORE: url, JGREYLIST_DIR: join(dir, 'tree'), QGREY_LISTDIR: join(dir, 'lists') }));
  }
  },
  { timeout: 60_000 },
);

after(async () => {
  for (const h of hosts) assert.deepEqual(await h.stop(), { code: 0, signal: null }, h.log);
  for (const h of hosts) {
    assert.match(h.log, /^qgreyd: listening on 127\.0\.0\.1:[0-9]+: Redis store redis:\/\/:\*\*\*@127\.0\.0\.1:[0-9]+\/0 \(class C\) and its lists, /m, 'the password is never logged');
    assert.ok(!h.log.includes('mx-secret'));
    assert.deepEqual(h.logLines().filter((l) => /^qgreyd: (refused|malformed|busy|internal|warning)|fallback/.test(l)), [], h.log);
  }
  await redis?.stop();
  tmp[Symbol.dispose]();
}, { timeout: 60_000 });

function env(host: Qgreyd | null, ip: string): NodeJS.ProcessEnv {
  // no host: no qgreyd to ask (no secret file), the per-process program decides
  const client = host === null ? { QGREY_SECRET: join(tmp.path, 'none') } : host.clientEnv;
  return { PATH: serverPath(), QGREY_STORE: url, JGREYLIST_HOLDTIME: String(HOLD), TCPREMOTEIP: ip, ...client };
}

/** One SMTP connection through bin/qgreylist on `host`: 'passed' or the text the client was given. */
function connection(host: Qgreyd | null, ip: string): string {
  const r = spawnSync(QGREYLIST, ['/bin/echo', 'passed'], { input: 'RCPT TO:<a@b>\r\nQUIT\r\n', encoding: 'latin1', env: env(host, ip), timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  return outcome(r.stdout);
}

function outcome(stdout: string): string {
  if (stdout === 'passed\n') return 'passed';
  const m = /^451 (GREYLIST [^\r\n]*)/m.exec(stdout);
  return m ? m[1]! : `unexpected: ${JSON.stringify(stdout)}`;
}

/** The entry's value in Redis (`FIRST LAST`), or null. */
async function entry(key: string): Promise<string | null> {
  return rawCommandBulk(redis.port, ['AUTH', 'mx-secret'], ['GET', `qgrey:e:${key}`]);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('greylisted on one MX host, the retry on the other passes once the hold time is over', { timeout: 120_000 }, async () => {
  const [mx1, mx2] = hosts as [Qgreyd, Qgreyd];
  assert.equal(connection(mx1, '198.51.100.7'), 'GREYLIST Try again later.');
  await mx1.waitFor('198.51.100.7: GREY first time');
  assert.equal(connection(mx2, '198.51.100.8'), 'GREYLIST I said to try later.', 'the same class C, within the hold time: known to the other host, too soon');
  await mx2.waitFor('198.51.100.8: GREY too soon');
  const v = await entry('198/051/100');
  assert.ok(v !== null && /^[0-9.]+ [0-9.]+$/.test(v), String(v));
  await sleep(HOLD * 1000 + 1100);
  assert.equal(connection(mx2, '198.51.100.7'), 'passed');
  await mx2.waitFor('198.51.100.7: OK known');
  assert.equal(connection(mx1, '198.51.100.9'), 'passed', 'and on the first host too');
  assert.ok(!mx1.log.includes('198.51.100.7: OK'), 'mx1 never passed it itself: mx2 did, from the shared entry');
});

test('first connections at the same moment on both hosts make one entry with one first-seen time', { timeout: 120_000 }, async () => {
  const [mx1, mx2] = hosts as [Qgreyd, Qgreyd];
  const run = (h: Qgreyd, ip: string) =>
    new Promise<string>((resolve, reject) => {
      const p = spawn(QGREYLIST, ['/bin/echo', 'passed'], { env: env(h, ip) });
      let out = '';
      p.stdout.setEncoding('latin1').on('data', (d: string) => (out += d));
      p.on('error', reject);
      // 'close', not 'exit': the exit can come before the last of stdout is read
      p.on('close', () => resolve(outcome(out)));
      p.stdin.end('RCPT TO:<a@b>\r\nQUIT\r\n');
    });
  for (let i = 1; i <= 5; i++) {
    const net = `203.0.${100 + i}`;
    const got = await Promise.all([run(mx1, `${net}.1`), run(mx2, `${net}.2`)]);
    // each was greylisted (both may read no entry; SET NX lets one of them create it)
    for (const g of got) assert.match(g, /^GREYLIST /);
    const v = (await entry(`203/000/${100 + i}`))!;
    const [first, last] = v.split(' ').map(Number) as [number, number];
    assert.ok(first > 0 && last >= first, v);
  }
  const created = [...mx1.decisionLines(), ...mx2.decisionLines()].filter((l) => /203\.0\.10[1-5]\.[12]: GREY first time/.test(l));
  assert.ok(created.length >= 5, created.join('\n'));
});

test('evicted with qgrey evict --store on one host: the other host greylists the sender afresh', { timeout: 120_000 }, async () => {
  const [mx1, mx2] = hosts as [Qgreyd, Qgreyd];
  assert.equal(connection(mx1, '192.0.2.77'), 'GREYLIST Try again later.');
  assert.ok((await entry('192/000/002')) !== null);
  const log = join(tmp.path, 'mx1-smtpd');
  writeLog(log, [[Math.floor(Date.now() / 1000) - 5, greetdelay('192.0.2.77')]]);
  const r = qgrey(['evict', '--store', url, log]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^evict: .*removed 1 entry: 192\.0\.2; /);
  assert.equal(await entry('192/000/002'), null);
  await sleep(HOLD * 1000 + 1100);
  assert.equal(connection(mx2, '192.0.2.77'), 'GREYLIST Try again later.', 'first time again, on the other host');
  await mx2.waitFor('192.0.2.77: GREY first time');
});

test('a whitelist entry added on one host is used by both qgreyd within the poll interval; the per-process program reads the same store', { timeout: 120_000 }, async () => {
  const [mx1, mx2] = hosts as [Qgreyd, Qgreyd];
  const r = qgrey(['whitelist', 'add', '-q', '--store', url, '100.64.9.0/24']);
  assert.equal(r.code, 0, r.stderr);
  await mx1.waitFor(/read the lists of .* whitelist 1 entries/, 10_000);
  await mx2.waitFor(/read the lists of .* whitelist 1 entries/, 10_000);
  assert.equal(connection(mx1, '100.64.9.1'), 'passed');
  assert.equal(connection(mx2, '100.64.9.2'), 'passed');
  await mx1.waitFor('100.64.9.1: OK whitelisted');
  await mx2.waitFor('100.64.9.2: OK whitelisted');
  // without qgreyd: the same answers from the same store
  assert.equal(connection(null, '100.64.9.3'), 'passed');
  assert.equal(connection(null, '198.51.100.20'), 'passed', 'known from the first test');
  assert.equal(connection(null, '233.252.0.1'), 'GREYLIST Try again later.');
  assert.ok((await entry('233/252/000')) !== null);
});
