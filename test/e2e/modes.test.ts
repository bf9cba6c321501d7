// File modes and owners across rewrites (issue 16, point 1): a list rewritten by root under a
// tight umask must stay readable by the uid tcpserver runs the wrapper as. Each case runs the
// real qgrey under a real `umask`, then the real bin/qgreylist as nobody (setpriv), which must
// still read the blacklist and deny the client, not log `FAIL open` and let it through.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES, QGREY, QGREYLIST, letThrough, run, tempDir } from '../helpers/util.js';

const NOBODY = 65534;

function asRoot(): void {
  assert.equal(process.getuid?.(), 0, 'these cases chown files and run the wrapper as nobody: run the suite as root (CI does)');
  // a checkout in a temp dir (mkdtemp's 0700) must let nobody reach bin/qgreylist and bin/qgrey
  letThrough(QGREYLIST);
}

/** `qgrey ARGS` under `umask MASK`, as a cron job of root's would run it. */
function qgreyUmask(mask: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  return run('sh', ['-c', `umask ${mask} && exec "$0" "$@"`, process.execPath, QGREY, ...args], { env });
}

/** A world-traversable temp dir (mkdtemp makes 0700, which nobody cannot enter). */
function openDir() {
  const d = tempDir('qgrey-modes-');
  chmodSync(d.path, 0o755);
  mkdirSync(join(d.path, 'tree'), { mode: 0o777 });
  chmodSync(join(d.path, 'tree'), 0o777);
  return d;
}

/** The wrapper as nobody for a client at `ip`: its log line, and whether the next program ran. */
function wrapperAsNobody(dir: string, ip: string): { log: string; passed: boolean } {
  const r = run(
    'setpriv',
    ['--reuid', String(NOBODY), '--regid', String(NOBODY), '--clear-groups', QGREYLIST, 'sh', '-c', 'echo PASSED'],
    { env: { TCPREMOTEIP: ip, JGREYLIST_DIR: join(dir, 'tree'), QGREY_LISTDIR: join(dir, 'lists'), QGREY_NODE: process.execPath }, input: '', cwd: '/' },
  );
  return { log: r.stderr, passed: r.stdout.includes('PASSED') };
}

const mode = (p: string) => statSync(p).mode & 0o7777;

for (const mask of ['027', '077']) {
  test(`umask ${mask}: a new list directory is 0755 and a new list 0644; the wrapper as nobody reads it`, () => {
    asRoot();
    using d = openDir();
    const lists = join(d.path, 'lists');
    const r = qgreyUmask(mask, ['blacklist', 'add', '192.0.2.7'], { QGREY_LISTDIR: lists });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(mode(lists).toString(8), '755');
    assert.equal(mode(join(lists, 'blacklist')).toString(8), '644');
    const w = wrapperAsNobody(d.path, '192.0.2.7');
    assert.match(w.log, /192\.0\.2\.7: DENY blacklisted/);
    assert.doesNotMatch(w.log, /FAIL/);
    assert.equal(w.passed, false);
  });

  test(`umask ${mask}: a rewrite keeps the list's mode and owner (whitelist add, blacklist add, load, remove)`, () => {
    asRoot();
    using d = openDir();
    const lists = join(d.path, 'lists');
    mkdirSync(lists, { mode: 0o755 });
    const white = join(lists, 'whitelist');
    const black = join(lists, 'blacklist');
    writeFileSync(white, '10.0.0.1\tnever\tmanual\n');
    writeFileSync(black, '192.0.2.9\tnever\tmanual\n');
    chmodSync(white, 0o644);
    // a list the admin gave to another owner and group, group-readable only
    chownSync(black, NOBODY, NOBODY);
    chmodSync(black, 0o640);
    const env = { QGREY_LISTDIR: lists };
    for (const args of [
      ['whitelist', 'add', '5.6.7.8'],
      ['blacklist', 'add', '192.0.2.7'],
      ['blacklist', 'load', '--source', 'file:x', '-'],
      ['whitelist', 'remove', '10.0.0.1'],
    ]) {
      const r = run('sh', ['-c', `umask ${mask} && exec "$0" "$@"`, process.execPath, QGREY, ...args], { env, input: '203.0.113.5\n' });
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    }
    assert.match(readFileSync(black, 'latin1'), /^203\.0\.113\.5\tnever\tfile:x$/m);
    assert.equal(mode(white).toString(8), '644');
    assert.equal(statSync(white).uid, 0);
    assert.equal(mode(black).toString(8), '640');
    assert.equal(statSync(black).uid, NOBODY);
    assert.equal(statSync(black).gid, NOBODY);
    const w = wrapperAsNobody(d.path, '192.0.2.7');
    assert.match(w.log, /192\.0\.2\.7: DENY blacklisted/);
    assert.equal(w.passed, false);
    const w2 = wrapperAsNobody(d.path, '5.6.7.8');
    assert.doesNotMatch(w2.log, /FAIL/);
    assert.equal(w2.passed, true);
  });

  test(`umask ${mask}: stats --svg writes a new chart 0644 and keeps the mode of the one it replaces`, () => {
    asRoot();
    using d = openDir();
    const svg = join(d.path, 'grey.svg');
    const args = ['stats', '--utc', '--svg', svg, join(FIXTURES, 'stats/smtpd')];
    const r = qgreyUmask(mask, args, { TZ: 'UTC' });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(mode(svg).toString(8), '644');
    chmodSync(svg, 0o664);
    chownSync(svg, 0, NOBODY);
    const r2 = qgreyUmask(mask, args, { TZ: 'UTC' });
    assert.equal(r2.code, 0, r2.stderr);
    assert.equal(mode(svg).toString(8), '664');
    assert.equal(statSync(svg).gid, NOBODY);
  });
}

test('a tree or list directory this uid cannot write: one line naming it and the uid, exit 100, not a lock error', () => {
  asRoot();
  using d = openDir();
  const tree = join(d.path, 'jgreylist');
  mkdirSync(tree, { mode: 0o755 });
  chmodSync(tree, 0o755);
  const lists = join(d.path, 'lists');
  mkdirSync(lists, { mode: 0o755 });
  chmodSync(lists, 0o755);
  const log = join(d.path, 'current');
  writeFileSync(log, '');
  chmodSync(log, 0o644);
  const asNobody = (args: string[]) =>
    run('setpriv', ['--reuid', String(NOBODY), '--regid', String(NOBODY), '--clear-groups', process.execPath, QGREY, ...args], { env: { QGREY_LISTDIR: lists }, cwd: '/' });
  const treeMsg = `qgrey: fatal: greylist directory ${tree} is not writable by uid ${NOBODY} (it belongs to uid 0); run as the tree's owner or root\n`;
  for (const args of [['clean', '-q', '--dir', tree], ['rebuild', '-q', '--dir', tree, log], ['evict', '-q', '--dir', tree, log]]) {
    const r = asNobody(args);
    assert.equal(r.stderr, treeMsg, args.join(' '));
    assert.equal(r.code, 100, args.join(' '));
  }
  const w = asNobody(['whitelist', 'add', '-q', '192.0.2.7']);
  assert.equal(w.stderr, `qgrey: fatal: list directory ${lists} is not writable by uid ${NOBODY} (it belongs to uid 0); run as its owner or root\n`);
  assert.equal(w.code, 100);
});

test('umask 077: tcprules --cdb writes a new cdb 0644 and keeps the mode and owner of the one it replaces; tcprulescheck as nobody reads it', () => {
  asRoot();
  using d = openDir();
  const lists = join(d.path, 'lists');
  const env = { QGREY_LISTDIR: lists };
  const rules = join(d.path, 'tcp.smtp');
  const cdb = join(d.path, 'tcp.smtp.cdb');
  writeFileSync(rules, ':allow,QMAILQUEUE="/var/qmail/bin/simscan"\n');
  chmodSync(rules, 0o644);
  assert.equal(qgreyUmask('077', ['whitelist', 'add', '-q', '192.0.2.0/24'], env).code, 0);
  const r = qgreyUmask('077', ['tcprules', '-q', '--merge', rules, '--cdb', cdb], env);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(mode(cdb).toString(8), '644');
  assert.equal(mode(rules).toString(8), '644');
  chmodSync(cdb, 0o640);
  chownSync(cdb, 0, NOBODY);
  assert.equal(qgreyUmask('077', ['whitelist', 'add', '-q', '198.51.100.0/24'], env).code, 0);
  const r2 = qgreyUmask('077', ['tcprules', '-q', '--merge', rules, '--cdb', cdb], env);
  assert.equal(r2.code, 0, r2.stderr);
  assert.equal(mode(cdb).toString(8), '640');
  assert.equal(statSync(cdb).gid, NOBODY);
  const c = run('setpriv', ['--reuid', String(NOBODY), '--regid', String(NOBODY), '--clear-groups', 'tcprulescheck', cdb], { env: { TCPREMOTEIP: '198.51.100.7' } });
  assert.equal(c.code, 0, c.stderr);
  assert.match(c.stdout, /^rule 198\.51\.100\.:\nset environment variable QMAILQUEUE=\/var\/qmail\/bin\/simscan\nset environment variable JGREYLIST=\nallow connection\n$/);
});
