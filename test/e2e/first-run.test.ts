// The cron jobs on a fresh host (issue 16, point 6): the hourly `evict --state` before any
// list exists creates the directory its state file goes in, as `whitelist add` creates the
// list directory; a bare nightly `qgrey rebuild` on a host without backups skips the default
// backup pattern that matches nothing, while a pattern the admin typed stays an error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { giveTree, QGREY, qgrey, run, tempDir } from '../helpers/util.js';
import { accepted, greetdelay, writeLog } from './rebuild-gen.js';

const NOW = Math.floor(Date.now() / 1000);

test('evict --state in a list directory that does not exist yet: created 0755 (umask 077), state written', () => {
  using root = tempDir();
  using d = tempDir();
  const logs = join(d.path, 'smtpd');
  mkdirSync(logs);
  writeLog(join(logs, 'current'), [[NOW - 60, greetdelay('198.51.100.7')]]);
  const listdir = join(d.path, 'control/qgrey');
  mkdirSync(join(d.path, 'control'));
  const state = join(listdir, 'evict.state');
  giveTree(root.path);
  const r = run('sh', ['-c', 'umask 077 && exec "$0" "$@"', process.execPath, QGREY, 'evict', '-q', '--dir', root.path, '--state', state, logs]);
  assert.deepEqual([r.code, r.stdout, r.stderr], [0, '', '']);
  assert.equal((statSync(listdir).mode & 0o777).toString(8), '755');
  assert.ok(existsSync(state));
  // and whitelist add finds it there
  const w = qgrey(['whitelist', 'add', '-q', '192.0.2.7'], { env: { QGREY_LISTDIR: listdir } });
  assert.equal(w.code, 0, w.stderr);
  // only the last component is created
  const deep = qgrey(['evict', '-q', '--dir', root.path, '--state', join(d.path, 'no/such/evict.state'), logs]);
  assert.equal(deep.code, 100);
  assert.match(deep.stderr, /^qgrey: fatal: unable to create state directory .*no\/such: .*no does not exist\n$/);
});

test('a bare rebuild on a host without backups: the default pattern that matches nothing is skipped', () => {
  assert.equal(process.getuid?.(), 0, 'this case mounts a tmpfs on /var/log in its own mount namespace: run the suite as root (CI does)');
  using root = tempDir();
  using d = tempDir();
  writeLog(join(d.path, 'current'), [[NOW - 3600, accepted('203.0.113.45')]]);
  // the default paths are /var/log/qmail/smtpd and '/var/log/qmail/backup/qmail-smtpd.*': give
  // the first a current in a private /var/log, and no backup directory at all
  const script =
    'mount -t tmpfs tmpfs /var/log && mkdir -p /var/log/qmail/smtpd && cp "$1" /var/log/qmail/smtpd/current && shift && exec "$@"';
  const inNs = (...args: string[]) => run('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script, 'sh', join(d.path, 'current'), process.execPath, QGREY, ...args]);
  giveTree(root.path);
  const r = inNs('rebuild', '-q', '--dir', root.path);
  assert.deepEqual([r.code, r.stdout, r.stderr], [0, '', '']);
  assert.ok(existsSync(join(root.path, '203/000/113')), 'the accepted sender is written');
  // the same pattern typed by the admin is an error
  const typed = inNs('rebuild', '-q', '--dir', root.path, '/var/log/qmail/smtpd', '/var/log/qmail/backup/qmail-smtpd.*');
  assert.equal(typed.code, 100);
  assert.equal(typed.stderr, "qgrey: fatal: unable to read log '/var/log/qmail/backup/qmail-smtpd.*': the pattern matches no file\n");
});
