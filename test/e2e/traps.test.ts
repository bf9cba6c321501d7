// `qgrey traps`: trap RCPTs found in qlogenvelope lines, the wrapper's dialogue trace and
// qgrey-spp's lines become trap:PATTERN blacklist entries that qgreylist refuses at connect;
// clients that delivered accepted mail are kept unless --force; --state reads only new lines.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeLabel } from '../../src/core/tai64n.js';
import { qgrey, tempDir } from '../helpers/util.js';
import { rawCommandBulk, startRedis } from './redis-harness.js';

const qlog = (result: string, rcpt: string, ip: string, relay = 'no') =>
  `qlogenvelope: result=${result} code=${result === 'accepted' ? 250 : 553} reason=rcptto detail=chkuser helo=h.example mailfrom=s@x.example rcptto=${rcpt} relay=${relay} rcpthosts=yes size= authuser= authtype= encrypted= sslverified=no localip=192.0.2.10 localport=25 remoteip=${ip} remoteport=40000 remotehost= qp= pid=5373`;

function logLines(lines: string[], agoSec: number): string {
  const sec = Math.floor(Date.now() / 1000) - agoSec;
  return lines.map((l, i) => `${encodeLabel({ sec, nsec: i * 1000 })} ${l}\n`).join('');
}

it('traps: blacklists trap RCPTs from the logs, keeps clients with accepted mail unless --force, resumes with --state', () => {
  using t = tempDir('qgrey-traps-');
  const lists = join(t.path, 'lists');
  mkdirSync(lists);
  writeFileSync(join(lists, 'traps'), 'trap@example.net\n@spamtrap.example\nnot a pattern\n');
  const log = join(t.path, 'current');
  writeFileSync(
    log,
    logLines(
      [
        qlog('accepted', 'Trap@Example.net', '203.0.113.45'),
        'qgreylist[777]: 198.51.100.5: GREY first time',
        'qgreylist[777]: >>> 451 GREYLIST Try again later.',
        'qgreylist[777]: <<< RCPT TO:<someone@spamtrap.example>',
        'qgrey-spp[4242]: 2001:db8::7: RCPT TRAP <a@b.example> -> <trap@example.net>; unable to blacklist 2001:db8::7: permission denied',
        // delivered wanted mail: kept unless --force
        qlog('accepted', 'bob@example.org', '192.0.2.99'),
        qlog('rejected', 'trap@example.net', '192.0.2.99'),
        // our own users (relay) are never trapped; not a trap: nothing
        qlog('accepted', 'trap@example.net', '10.0.0.5', 'yes'),
        qlog('accepted', 'carol@example.org', '203.0.113.99'),
      ],
      600,
    ),
  );
  const env = { QGREY_LISTDIR: lists };
  const dry = qgrey(['traps', '--dry-run', log], { env });
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stdout, /^traps: 4 trap RCPTs in 1 files \(9 lines read\); would blacklist 3: 198\.51\.100\.5 2001:db8::7 203\.0\.113\.45; kept 1 that delivered accepted mail \(--force to trap them\): 192\.0\.2\.99; /);
  assert.match(dry.stderr, /traps:3: not a trap pattern, skipped: 'not a pattern'/);
  assert.equal(existsSync(join(lists, 'blacklist')), false, 'a dry run writes nothing');

  const state = join(t.path, 'state', 'traps.state');
  const r = qgrey(['traps', '--json', '--state', state, log], { env });
  assert.equal(r.code, 0, r.stderr);
  const rep = JSON.parse(r.stdout) as { hits: number; blacklisted: string[]; protected: string[] };
  assert.deepEqual([rep.hits, rep.blacklisted, rep.protected], [4, ['198.51.100.5', '2001:db8::7', '203.0.113.45'], ['192.0.2.99']]);
  const black = readFileSync(join(lists, 'blacklist'), 'latin1');
  assert.match(black, /^198\.51\.100\.5\t\S+\ttrap:@spamtrap\.example$/m);
  assert.match(black, /^203\.0\.113\.45\t\S+\ttrap:trap@example\.net$/m);
  assert.doesNotMatch(black, /^192\.0\.2\.99/m);
  // about a day from the trap RCPT
  const until = Date.parse(/^203\.0\.113\.45\t(\S+)/m.exec(black)![1]!) / 1000;
  assert.ok(Math.abs(until - (Date.now() / 1000 - 600 + 86400)) < 120, String(until));
  // qgreylist's decision at connect: refused
  const c = qgrey(['check', '--dir', t.path, '--listdir', lists, '203.0.113.45']);
  assert.match(c.stdout, /^203\.0\.113\.45: DENY blacklisted/);

  // incremental: nothing new, nothing read again; a new trap RCPT is
  const again = qgrey(['traps', '-q', '--state', state, log], { env });
  assert.deepEqual([again.code, again.stdout, again.stderr.replace(/^.*not a trap pattern.*\n/m, '')], [0, '', '']);
  appendFileSync(log, logLines([qlog('rejected', 'x@spamtrap.example', '198.51.100.77')], 60));
  const more = JSON.parse(qgrey(['traps', '--json', '--state', state, log], { env }).stdout) as { hits: number; lines: number; blacklisted: string[] };
  assert.deepEqual([more.hits, more.lines, more.blacklisted], [1, 1, ['198.51.100.77']]);

  // --force traps the client that delivered mail; a second run keeps the entries it made
  const f = JSON.parse(qgrey(['traps', '--json', '--force', log], { env }).stdout) as { blacklisted: string[]; kept: number };
  assert.deepEqual(f.blacklisted, ['192.0.2.99']);
  assert.equal(f.kept, 4);
  assert.equal(readFileSync(join(lists, 'blacklist'), 'latin1').split('\n').filter((l) => l.startsWith('203.0.113.45\t')).length, 1);
});

it('traps --store (and QGREY_STORE): the entries go into the shared store\'s blacklist, the list file is left alone', async () => {
  using t = tempDir('qgrey-traps-');
  await using redis = await startRedis();
  const lists = join(t.path, 'lists');
  mkdirSync(lists);
  writeFileSync(join(lists, 'traps'), 'trap@example.net\n');
  const log = join(t.path, 'current');
  writeFileSync(log, logLines([qlog('rejected', 'trap@example.net', '203.0.113.46')], 600));
  const r = qgrey(['traps', '--json', '--store', redis.url, log], { env: { QGREY_LISTDIR: lists } });
  assert.equal(r.code, 0, r.stderr);
  const rep = JSON.parse(r.stdout) as { blacklisted: string[]; blacklist: string };
  assert.deepEqual(rep.blacklisted, ['203.0.113.46']);
  assert.match(rep.blacklist, /qgrey:list:blacklist$/);
  const black = await rawCommandBulk(redis.port, null, ['GET', 'qgrey:list:blacklist']);
  assert.match(black ?? '', /^203\.0\.113\.46\t\S+\ttrap:trap@example\.net$/m);
  assert.equal(existsSync(join(lists, 'blacklist')), false, 'not the file');
  // the wrapper's view of the shared store: refused at connect
  const c = qgrey(['check', '--dir', t.path, '203.0.113.46'], { env: { QGREY_STORE: redis.url } });
  assert.match(c.stdout, /^203\.0\.113\.46: DENY blacklisted/, c.stdout + c.stderr);
  // QGREY_STORE does the same, and a second run keeps the entry
  const again = JSON.parse(qgrey(['traps', '--json', log], { env: { QGREY_LISTDIR: lists, QGREY_STORE: redis.url } }).stdout) as { kept: number; blacklisted: string[] };
  assert.deepEqual([again.kept, again.blacklisted], [1, []]);
  const bad = qgrey(['traps', '--store', 'mysql://x', log], { env: { QGREY_LISTDIR: lists } });
  assert.equal(bad.code, 100);
  assert.match(bad.stderr, /^qgrey: fatal: unable to use the store 'mysql:\/\/x': expected a redis:\/\//);
});

it('traps: bad input is one line and exit 100', () => {
  using t = tempDir('qgrey-traps-');
  const r = qgrey(['traps', '--trap-time', 'soon', '--listdir', t.path, join(t.path, 'none')]);
  assert.equal(r.code, 100);
  assert.match(r.stderr, /^qgrey: fatal: .*--trap-time.*soon/);
  assert.equal(r.stderr.split('\n').filter((l) => l !== '').length, 1);
});
