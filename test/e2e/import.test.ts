// `qgrey import` against a real MariaDB server (Debian's mariadb-server), started here on a
// socket in a temporary directory, no network, loaded with the MySQL plugin's two tables (its
// column names and types, written for this test) and rows like the ones the plugin writes.
import { before, after, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseIp } from '../../src/core/ip.js';
import { formatTriplet, tripletId, tripletKey, parseTriplet } from '../../src/core/triplet.js';
import { qgrey, tempDir } from '../helpers/util.js';
import { runPlugin, verdictOf } from './spp-harness.js';
import { rawCommandBulk, startRedis } from './redis-harness.js';

const t = tempDir('qgrey-import-');
const data = join(t.path, 'data');
const sock = join(t.path, 'mysqld.sock');
let server: ChildProcess | null = null;
let serverLog = '';
const asRoot = process.geteuid?.() === 0;

function sql(text: string): string {
  const r = spawnSync('mariadb', ['--no-defaults', `--socket=${sock}`, '-u', 'root', '-N', '-B', 'greylisting'], { input: text, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

const SCHEMA = `
CREATE TABLE greylisting_lists (
  id int unsigned NOT NULL auto_increment, ipaddr varchar(43), ipaddr_start varbinary(16), ipaddr_end varbinary(16),
  ipaddr_prefixsize tinyint unsigned, rcpt_to varchar(255) default NULL, block_expires datetime NOT NULL,
  record_expires datetime NOT NULL, create_time timestamp NOT NULL default CURRENT_TIMESTAMP,
  last_update timestamp NOT NULL default CURRENT_TIMESTAMP on update CURRENT_TIMESTAMP, comment varchar(255) NOT NULL,
  PRIMARY KEY (id));
CREATE TABLE greylisting_data (
  id bigint unsigned NOT NULL auto_increment, relay_ip varbinary(16), mail_from varchar(255) default NULL,
  rcpt_to varchar(255) default NULL, block_expires datetime NOT NULL, record_expires datetime NOT NULL,
  blocked_count int unsigned NOT NULL default '0', passed_count int unsigned NOT NULL default '0',
  aborted_count int unsigned NOT NULL default '0', create_time timestamp NOT NULL default CURRENT_TIMESTAMP,
  last_update timestamp NOT NULL default CURRENT_TIMESTAMP on update CURRENT_TIMESTAMP, PRIMARY KEY (id));
`;

// rows as the plugin writes them: INSERT ... VALUES (0, INET6_ATON(ip), from, to, now + block, now + record, 1, 0, 0, NOW(), NOW())
const ROWS = `
SET time_zone = '+00:00';
INSERT INTO greylisting_data VALUES
  (0, INET6_ATON('192.0.2.7'), 'alice@sender.example', 'bob@example.net', UTC_TIMESTAMP() - INTERVAL 1 DAY, UTC_TIMESTAMP() + INTERVAL 35 DAY, 1, 4, 0, NOW() - INTERVAL 1 DAY, NOW() - INTERVAL 1 HOUR),
  (0, INET6_ATON('192.0.2.8'), 'bounce-1234@lists.example', 'carol@example.net', UTC_TIMESTAMP() - INTERVAL 3 DAY, UTC_TIMESTAMP() + INTERVAL 30 DAY, 1, 2, 0, NOW() - INTERVAL 3 DAY, NOW() - INTERVAL 2 DAY),
  (0, INET6_ATON('192.0.2.9'), 'bounce-5678@lists.example', 'carol@example.net', UTC_TIMESTAMP() - INTERVAL 2 DAY, UTC_TIMESTAMP() + INTERVAL 31 DAY, 2, 1, 0, NOW() - INTERVAL 2 DAY, NOW() - INTERVAL 1 DAY),
  (0, INET6_ATON('2001:db8:1:2::25'), 'v6@sender.example', 'bob@example.net', UTC_TIMESTAMP() + INTERVAL 1 MINUTE, UTC_TIMESTAMP() + INTERVAL 2000 MINUTE, 1, 0, 0, NOW(), NOW()),
  (0, INET6_ATON('198.51.100.3'), 'old@sender.example', 'bob@example.net', UTC_TIMESTAMP() - INTERVAL 90 DAY, UTC_TIMESTAMP() - INTERVAL 50 DAY, 1, 1, 0, NOW() - INTERVAL 90 DAY, NOW() - INTERVAL 86 DAY);
INSERT INTO greylisting_lists (ipaddr, rcpt_to, block_expires, record_expires, comment) VALUES
  ('127.0.0.1', NULL, '2000-01-01 00:00:00', '9999-12-31 23:59:59', 'whitelist for 127.0.0.1'),
  ('203.0.113.0/24', NULL, '9999-12-31 23:59:59', '9999-12-31 23:59:59', 'blacklist for 203.0.113.0/24'),
  ('2001:db8:85a3::/48', NULL, '2000-01-01 00:00:00', UTC_TIMESTAMP() + INTERVAL 10 DAY, 'partner v6'),
  (NULL, 'domain.example', '2000-01-01 00:00:00', '9999-12-31 23:59:59', 'whitelist for *@domain.example'),
  ('198.51.100.0/24', NULL, '2000-01-01 00:00:00', UTC_TIMESTAMP() - INTERVAL 1 DAY, 'expired');
`;

before(async () => {
  const user = asRoot ? ['--user=root'] : [];
  const init = spawnSync('mariadb-install-db', ['--no-defaults', `--datadir=${data}`, '--auth-root-authentication-method=normal', '--skip-test-db', ...user], { encoding: 'utf8' });
  assert.equal(init.status, 0, init.stdout + init.stderr);
  const mariadbd = existsSync('/usr/sbin/mariadbd') ? '/usr/sbin/mariadbd' : 'mariadbd';
  server = spawn(mariadbd, ['--no-defaults', `--datadir=${data}`, `--socket=${sock}`, '--skip-networking', `--pid-file=${join(t.path, 'mysqld.pid')}`, `--log-error=${join(t.path, 'error.log')}`, ...user], { stdio: ['ignore', 'ignore', 'pipe'] });
  server.stderr!.setEncoding('utf8').on('data', (s: string) => (serverLog += s));
  const t0 = Date.now();
  for (;;) {
    const r = spawnSync('mariadb', ['--no-defaults', `--socket=${sock}`, '-u', 'root', '-e', 'SELECT 1'], { encoding: 'utf8' });
    if (r.status === 0) break;
    if (server.exitCode !== null || Date.now() - t0 > 120000) throw new Error(`mariadbd did not start: ${serverLog}${existsSync(join(t.path, 'error.log')) ? readFileSync(join(t.path, 'error.log'), 'utf8') : ''}`);
    await new Promise((res) => setTimeout(res, 200));
  }
  spawnSync('mariadb', ['--no-defaults', `--socket=${sock}`, '-u', 'root'], {
    input: "CREATE DATABASE greylisting; CREATE USER 'greylisting'@'localhost' IDENTIFIED BY 'secret-pw'; GRANT ALL PRIVILEGES ON greylisting.* TO 'greylisting'@'localhost';",
    encoding: 'utf8',
  });
  sql(SCHEMA);
  sql(ROWS);
});

after(async () => {
  if (server !== null && server.exitCode === null) {
    const done = new Promise((res) => server!.once('exit', res));
    server.kill('SIGTERM');
    await done;
  }
  t[Symbol.dispose]();
});

it('import: triplets and lists from the MySQL plugin, a dry run first; qgrey-spp then passes the imported triplets', async () => {
  assert.equal(sql('SELECT COUNT(*) FROM greylisting_data').trim(), '5');
  const cnf = join(t.path, 'mysql.cnf');
  writeFileSync(cnf, `[client]\nsocket=${sock}\nuser=greylisting\npassword=secret-pw\ndatabase=greylisting\n`, { mode: 0o600 });
  const rcpt = join(t.path, 'rcpt');
  const lists = join(t.path, 'lists');
  mkdirSync(rcpt, { mode: 0o700 });
  mkdirSync(lists);
  const args = ['import', '--defaults-file', cnf, '--rcpt-dir', rcpt, '--listdir', lists];

  const dry = qgrey([...args, '--dry-run']);
  assert.equal(dry.code, 0, dry.stderr);
  assert.equal(
    dry.stdout,
    `import: 10 rows (2 expired, left out); would write 3 triplets (from 4 rows) into ${rcpt}, 2 whitelist and 1 blacklist entries (source mysql:greylisting) into ${lists}; 1 list rows by recipient domain have no qgrey equivalent, left out\n`,
  );
  assert.equal(existsSync(join(lists, 'whitelist')), false, 'a dry run writes nothing');

  const r = qgrey([...args, '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { dryRun: false, rows: 10, triplets: 4, keys: 3, expired: 2, whitelist: 2, blacklist: 1, byDomain: 1, badRows: 0 });
  const white = readFileSync(join(lists, 'whitelist'), 'latin1');
  assert.match(white, /^127\.0\.0\.1\tnever\tmysql:greylisting\t# whitelist for 127\.0\.0\.1$/m);
  assert.match(white, /^2001:db8:85a3::\/48\t\S+Z\tmysql:greylisting\t# partner v6$/m);
  assert.match(readFileSync(join(lists, 'blacklist'), 'latin1'), /^203\.0\.113\.0\/24\tnever\tmysql:greylisting\t# blacklist for 203\.0\.113\.0\/24$/m);

  // the two VERP rows made one triplet, with their counts added
  const id = tripletId(tripletKey(parseIp('192.0.2.8')!, 'bounce-1@lists.example', 'carol@example.net', false));
  const tr = parseTriplet(readFileSync(join(rcpt, id.slice(0, 2), id), 'latin1'))!;
  assert.deepEqual([tr.net, tr.from, tr.to, tr.passed, tr.blocked], ['192.0.2.0/24', 'bounce-#@lists.example', 'carol@example.net', 3, 3]);
  assert.ok(Math.abs(tr.first - (Date.now() / 1000 - 3 * 86400)) < 120, String(tr.first));

  // the plugin takes over: a triplet the MySQL plugin had passed passes, a blocked one is still too soon
  const base = { QGREY_RCPT_DIR: rcpt, QGREY_LISTDIR: lists, GLCONFIGFILE: join(t.path, 'none'), QGREY_SECRET: '', JGREYLIST_DIR: join(t.path, 'tree') };
  const ok = await runPlugin({ ip: '192.0.2.77', from: 'alice@sender.example', to: 'bob@example.net' }, base);
  assert.equal(verdictOf(ok), '', ok.log.join('\n'));
  assert.match(ok.log[0]!, /RCPT OK known/);
  const soon = await runPlugin({ ip: '2001:db8:1:2::99', from: 'v6@sender.example', to: 'bob@example.net' }, base);
  assert.match(soon.log[0]!, /RCPT GREY too soon/);
  assert.equal(verdictOf(await runPlugin({ ip: '203.0.113.5', from: 'x@y.example', to: 'bob@example.net' }, base)), 'E553');

  // a second import replaces its own list entries, not the others
  writeFileSync(join(lists, 'whitelist'), white + '192.0.2.0/24\tnever\tmanual\n');
  assert.equal(qgrey([...args, '-q']).code, 0);
  const again = readFileSync(join(lists, 'whitelist'), 'latin1');
  assert.equal(again.split('\n').filter((l) => l.includes('mysql:greylisting')).length, 2);
  assert.match(again, /^192\.0\.2\.0\/24\tnever\tmanual$/m);
  // and counts no triplet twice
  const tr2 = parseTriplet(readFileSync(join(rcpt, id.slice(0, 2), id), 'latin1'))!;
  assert.deepEqual([tr2.first, tr2.passed, tr2.blocked], [tr.first, 3, 3]);
});

it('import --store: the list rows and the triplets go into the shared Redis store, where qgrey-spp on it looks', async () => {
  await using redis = await startRedis();
  const cnf = join(t.path, 'mysql-store.cnf');
  writeFileSync(cnf, `[client]\nsocket=${sock}\nuser=greylisting\npassword=secret-pw\ndatabase=greylisting\n`, { mode: 0o600 });
  const rcpt = join(t.path, 'rcpt-store');
  const lists = join(t.path, 'lists-store');
  mkdirSync(rcpt, { mode: 0o700 });
  mkdirSync(lists);
  const r = qgrey(['import', '--defaults-file', cnf, '--rcpt-dir', rcpt, '--listdir', lists, '--store', redis.url]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`triplets \\(from [0-9]+ rows\\) into the Redis store redis://127\\.0\\.0\\.1:${redis.port}, 2 whitelist and 1 blacklist entries \\(source mysql:greylisting\\) into the Redis store redis://127\\.0\\.0\\.1:${redis.port}`));
  assert.match((await rawCommandBulk(redis.port, null, ['GET', 'qgrey:list:whitelist'])) ?? '', /^127\.0\.0\.1\tnever\tmysql:greylisting\t# whitelist for 127\.0\.0\.1$/m);
  assert.match((await rawCommandBulk(redis.port, null, ['GET', 'qgrey:list:blacklist'])) ?? '', /^203\.0\.113\.0\/24\tnever\tmysql:greylisting\t/m);
  assert.equal(existsSync(join(lists, 'whitelist')), false, 'not the files');
  const id = tripletId(tripletKey(parseIp('192.0.2.8')!, 'bounce-1@lists.example', 'carol@example.net', false));
  assert.equal(existsSync(join(rcpt, id.slice(0, 2), id)), false, 'not the triplet directory');
  const stored = (await rawCommandBulk(redis.port, null, ['GET', `qgrey:t:${id}`])) ?? '';
  assert.ok(stored !== '', 'the triplet is in the store');
  const tr = parseTriplet(stored);
  assert.deepEqual([tr?.net, tr?.from, tr?.to, tr?.passed, tr?.blocked], ['192.0.2.0/24', 'bounce-#@lists.example', 'carol@example.net', 3, 3], 'the triplet a tree import writes');
  const ttl = Number(await rawCommandBulk(redis.port, null, ['PTTL', `qgrey:t:${id}`]));
  assert.ok(ttl > 0, `it expires (PTTL ${ttl})`);
  // a second import merges with what is stored, as into the directory: nothing counted twice
  assert.equal(qgrey(['import', '--defaults-file', cnf, '--rcpt-dir', rcpt, '--listdir', lists, '--store', redis.url]).code, 0);
  const again = parseTriplet((await rawCommandBulk(redis.port, null, ['GET', `qgrey:t:${id}`])) ?? '');
  assert.deepEqual([again?.first, again?.last, again?.expires, again?.passed, again?.blocked], [tr?.first, tr?.last, tr?.expires, 3, 3]);
  // what qgrey-spp counted since is kept: a stored count above the rows' stays
  await rawCommandBulk(redis.port, null, ['SET', `qgrey:t:${id}`, formatTriplet({ ...again!, passed: 9 }), 'KEEPTTL']);
  assert.equal(qgrey(['import', '--defaults-file', cnf, '--rcpt-dir', rcpt, '--listdir', lists, '--store', redis.url]).code, 0);
  assert.equal(parseTriplet((await rawCommandBulk(redis.port, null, ['GET', `qgrey:t:${id}`])) ?? '')?.passed, 9);
});

it('import: a refused login is one line, exit 100', () => {
  const cnf = join(t.path, 'bad.cnf');
  writeFileSync(cnf, `[client]\nsocket=${sock}\nuser=greylisting\npassword=wrong\n`);
  const r = qgrey(['import', '--dry-run', '--defaults-file', cnf]);
  assert.equal(r.code, 100, r.stderr);
  assert.match(r.stderr, /^qgrey: fatal: unable to connect to MySQL at .*mysqld\.sock as 'greylisting': Access denied/);
  assert.equal(r.stderr.split('\n').filter((l) => l !== '').length, 1);
});
