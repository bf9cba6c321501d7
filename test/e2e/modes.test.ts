// File modes and owners across rewrites (issue 16, point 1): a list rewritten by root under a
// tight umask must stay readable by the uid tcpserver runs the wrapper as. Each case runs the
// real qgrey under a real `umask`, then the real bin/qgreylist as nobody (setpriv), which must
// still read the blacklist and deny the client, not log `FAIL open` and let it through.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES, QGREY, QGREYLIST, run, tempDir } from '../helpers/util.js';

const NOBODY = 65534;

function asRoot(): void {
  assert.equal(process.getuid?.(), 0, 'these cases chown files and run the wrapper as nobody: run the suite as root (CI does)');
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
