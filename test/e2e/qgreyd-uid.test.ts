// qgreyd as the README runs it: started by root and dropped to the tree's owner (setpriv here,
// setuidgid in a run file), with qgreylist as the tcpserver uid asking it. nobody stands in for
// vpopmail/qmaild. The entries it makes are that uid's, lists that root rewrites are seen
// without a restart, a client of another uid is left to its own per-process program, and a tree that uid
// cannot write stops qgreyd at start with one line and 111.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, chownSync, lstatSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { NOBODY, QGREYLIST, letThrough, qgrey, run, tempDir } from '../helpers/util.js';
import { Qgreyd } from './qgreyd-harness.js';

function asRoot(): void {
  assert.equal(process.getuid?.(), 0, 'these cases run qgreyd and the wrapper as nobody: run the suite as root (CI does)');
  letThrough(QGREYLIST);
}

/** A world-traversable temp dir with a tree owned by nobody and a list directory of root's. */
function site() {
  const d = tempDir('qgrey-uid-');
  chmodSync(d.path, 0o755);
  const tree = join(d.path, 'tree');
  mkdirSync(tree, { mode: 0o755 });
  chownSync(tree, NOBODY.uid, NOBODY.gid);
  const lists = join(d.path, 'lists');
  return { d, tree, lists, env: { JGREYLIST_DIR: tree, QGREY_LISTDIR: lists } };
}

/** bin/qgreylist for a client at `ip`, run as `uid` (tcpserver's), asking `q`. */
function connect(q: Qgreyd, env: Record<string, string>, ip: string, uid = NOBODY.uid) {
  const r = run('setpriv', ['--reuid', String(uid), '--regid', String(uid === 0 ? 0 : NOBODY.gid), '--clear-groups', QGREYLIST, 'sh', '-c', 'echo PASSED'], {
    env: { ...env, ...q.clientEnv, TCPREMOTEIP: ip, QGREY_NODE: process.execPath },
    input: '',
    cwd: '/',
  });
  return { log: r.stderr, passed: r.stdout.includes('PASSED') };
}

test('qgreyd as the tree owner: decides for that uid, its entries are that uid\'s, root\'s list edits reach it, another uid is left to its own program', async () => {
  asRoot();
  const s = site();
  using _d = s.d;
  assert.equal(qgrey(['whitelist', 'add', '198.51.100.0/24'], { env: s.env }).code, 0);
  const q = await Qgreyd.start(s.d.path, s.env, NOBODY);
  try {
    assert.match(q.log, /, uid 65534, /, 'qgreyd runs as nobody');
    // a first-time client: greylisted by qgreyd; the entry is nobody's
    const first = connect(q, s.env, '192.0.2.9');
    assert.equal(first.passed, false, first.log);
    assert.doesNotMatch(first.log, /fallback/, 'qgreyd answered');
    await q.waitFor(/192\.0\.2\.9: /);
    const entry = lstatSync(join(s.tree, '192', '000', '002'));
    assert.equal(entry.uid, NOBODY.uid, 'the entry qgreyd made is the tree owner\'s');
    assert.ok(entry.isFile());
    // the whitelist root wrote before the start
    const white = connect(q, s.env, '198.51.100.5');
    assert.equal(white.passed, true, white.log);
    assert.doesNotMatch(white.log, /fallback/);
    // a blacklist root writes while qgreyd runs is seen without a restart
    assert.equal(qgrey(['blacklist', 'add', '203.0.113.7'], { env: s.env }).code, 0);
    const denied = connect(q, s.env, '203.0.113.7');
    assert.equal(denied.passed, false, denied.log);
    assert.doesNotMatch(denied.log, /fallback/);
    await q.waitFor(/203\.0\.113\.7: DENY blacklisted/);
    // a client of another uid (root) is not decided for: qgreyd says why, and the client's
    // per-process program decides (the same whitelist lets it through)
    const other = connect(q, s.env, '198.51.100.6', 0);
    assert.equal(other.passed, true, other.log);
    await q.waitFor(/qgreyd: 198\.51\.100\.6: left to the per-process program: the client's uid 0 is not qgreyd's \(65534\)/);
    assert.ok(!q.decisionLines().some((l) => l.includes('198.51.100.6')), 'qgreyd made no decision for it');
  } finally {
    const r = await q.stop();
    assert.deepEqual(r, { code: 0, signal: null }, q.log);
  }
});

test('qgreyd as nobody on a tree nobody cannot write: exit 111 with one line naming the tree, before it listens', async () => {
  asRoot();
  const s = site();
  using _d = s.d;
  chownSync(s.tree, 0, 0);
  await assert.rejects(Qgreyd.start(s.d.path, s.env, NOBODY), (err: Error) => {
    assert.match(err.message, /^qgreyd exited with 111: /);
    const lines = err.message.replace(/^qgreyd exited with 111: /, '').trim().split('\n');
    assert.equal(lines.length, 1, err.message);
    assert.match(lines[0]!, /^qgreyd: fatal: unable to write in the tree .*\/tree: .*run qgreyd as the tree's owner/);
    return true;
  });
});
