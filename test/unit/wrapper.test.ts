// qgreylist's pieces: environment, text cleaning, the dialogue, and one connection's decision
// against a real temporary tree and list files.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, constants, mkdirSync, openSync, readFileSync, statSync, utimesSync, writeFileSync, writeSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers/util.js';
import { readConfig } from '../../src/wrapper/config.js';
import { atoi } from '../../src/core/atoi.js';
import { clean } from '../../src/core/text.js';
import { logAddress, replyText } from '../../src/wrapper/text.js';
import { Dialogue, converse, verbOf, MAX_LINE } from '../../src/wrapper/dialogue.js';
import { run, GREY_FIRST, GREY_AGAIN, FAIL_TEXT } from '../../src/wrapper/connection.js';

describe('wrapper config', () => {
  it('atoi reads like C', () => {
    assert.equal(atoi('120'), 120);
    assert.equal(atoi('  42abc'), 42);
    assert.equal(atoi('-5'), -5);
    assert.equal(atoi('+7'), 7);
    assert.equal(atoi('abc'), 0);
    assert.equal(atoi(''), 0);
    assert.equal(atoi('99999999999999'), 2147483647);
  });

  it("jgreylist's defaults", () => {
    const c = readConfig({ TCPREMOTEIP: '192.0.2.7' });
    assert.equal(c.jgreylist, undefined);
    assert.equal(c.dir, '');
    assert.equal(c.layout, 'classc');
    assert.equal(c.holdtime, 120);
    assert.equal(c.log, true);
    assert.equal(c.logPid, true);
    assert.equal(c.logSmtp, false);
    assert.equal(c.timeout, 60);
    assert.equal(c.limit, 0);
    assert.equal(c.remoteIp, '192.0.2.7');
    assert.equal(c.hasReverse, false);
    assert.equal(c.relayclient, false);
    assert.equal(c.fail, 'open');
    assert.equal(c.listDir, '/var/qmail/control/qgrey');
    assert.equal(c.dialogue, 'auto');
  });

  it('empty means default, explicit 0 counts, timeout clamped to 5..300', () => {
    assert.equal(readConfig({ JGREYLIST_HOLDTIME: '' }).holdtime, 120);
    assert.equal(readConfig({ JGREYLIST_HOLDTIME: '0' }).holdtime, 0);
    assert.equal(readConfig({ JGREYLIST_HOLDTIME: 'soon' }).holdtime, 0);
    assert.equal(readConfig({ JGREYLIST_TIMEOUT: '1' }).timeout, 5);
    assert.equal(readConfig({ JGREYLIST_TIMEOUT: 'x' }).timeout, 5);
    assert.equal(readConfig({ JGREYLIST_TIMEOUT: '9999' }).timeout, 300);
    assert.equal(readConfig({ JGREYLIST_BY_IP: '1' }).layout, 'byip');
    assert.equal(readConfig({ JGREYLIST_BY_IP: '0' }).layout, 'classc');
    assert.equal(readConfig({ JGREYLIST_LOG: '0' }).log, false);
    assert.equal(readConfig({ JGREYLIST_LOG_PID: '0' }).logPid, false);
    assert.equal(readConfig({ JGREYLIST: '' }).jgreylist, '');
    assert.equal(readConfig({ RELAYCLIENT: '' }).relayclient, true);
    assert.equal(readConfig({ TCPREMOTEHOST: '' }).hasReverse, false);
    assert.equal(readConfig({ TCPREMOTEHOST: 'mx.example' }).hasReverse, true);
    assert.equal(readConfig({ QGREY_FAIL: 'closed' }).fail, 'closed');
    assert.equal(readConfig({ QGREY_FAIL: 'close' }).fail, 'open');
    assert.equal(readConfig({ QGREY_DIALOGUE: 'node' }).dialogue, 'node');
  });

  it('TCPREMOTEIP first, TCP6REMOTEIP when it is missing', () => {
    assert.equal(readConfig({ TCPREMOTEIP: '127.0.0.1', TCP6REMOTEIP: '::ffff:127.0.0.1' }).remoteIp, '127.0.0.1');
    assert.equal(readConfig({ TCP6REMOTEIP: '2001:db8::1' }).remoteIp, '2001:db8::1');
    assert.equal(readConfig({ TCPREMOTEIP: '', TCP6REMOTEIP: '2001:db8::1' }).remoteIp, '2001:db8::1');
    assert.equal(readConfig({}).remoteIp, '');
  });
});

describe('wrapper text', () => {
  it('cleans control bytes, drops the trailing CR, caps the length', () => {
    assert.equal(clean('ehlo foo.example\r'), 'ehlo foo.example');
    assert.equal(clean('a\x00b\x1bc\r\nd\x7f\xe9'), 'a?b?c??d??');
    assert.equal(clean('x'.repeat(500)).length, 200);
    assert.equal(clean('a b', 10, false), 'a?b');
  });

  it('logs a valid address as given, anything else as one cleaned word', () => {
    assert.equal(logAddress('001.002.003.004', true), '001.002.003.004');
    assert.equal(logAddress('', false), '-');
    assert.equal(logAddress('../x y\n', false), '../x?y?');
    assert.equal(logAddress('z'.repeat(100), false).length, 64);
  });

  it('reply text is printable ASCII only', () => {
    assert.equal(replyText('DENIED go\r\naway'), 'DENIED go??away');
  });
});

describe('wrapper dialogue', () => {
  it("answers as jgreylist v8 (with qgreylist's banner)", () => {
    const d = new Dialogue('450 GREYLIST Try again later.', 0);
    assert.equal(d.greeting(), '220 qgreylist');
    assert.deepEqual(d.answer('ehlo x'), { reply: '250 qgreylist', end: null });
    assert.deepEqual(d.answer('HELO'), { reply: '250 qgreylist', end: null });
    assert.deepEqual(d.answer('MAIL FROM:<a@b>'), { reply: '250 qgreylist', end: null });
    assert.deepEqual(d.answer('rset'), { reply: '250 qgreylist', end: null });
    assert.deepEqual(d.answer('RCPT TO:<a@b>'), { reply: '450 GREYLIST Try again later.', end: null });
    assert.deepEqual(d.answer('NOOP'), { reply: '450 GREYLIST Try again later.', end: null });
    assert.deepEqual(d.answer(''), { reply: '450 GREYLIST Try again later.', end: null });
    assert.deepEqual(d.answer('quit'), { reply: '221 qgreylist', end: 'quit' });
  });

  it('the N-th RCPT hangs up; other commands do not count', () => {
    const d = new Dialogue('553 DENIED x', 2);
    assert.equal(d.answer('RCPT TO:<1>').reply, '553 DENIED x');
    assert.equal(d.answer('DATA').reply, '553 DENIED x');
    assert.deepEqual(d.answer('rcpt to:<2>'), { reply: '421 Too many RCPT commands, goodbye.', end: 'limit' });
  });

  it('the verb is the first word, upper-cased, within the first 31 bytes', () => {
    assert.equal(verbOf('quit'), 'QUIT');
    assert.equal(verbOf('Mail\tFROM:<>'), 'MAIL');
    assert.equal(verbOf('QUITQUITQUITQUITQUITQUITQUITQUITQUIT'), 'QUITQUITQUITQUITQUITQUITQUITQUI');
  });

  it('converse: replies in order, ends at QUIT, traces cleaned lines', async () => {
    using t = tempDir();
    const inp = join(t.path, 'in');
    const out = join(t.path, 'out');
    writeFileSync(inp, 'EHLO x\r\nRCPT TO:<a@b>\r\nHELO \x01\r\nQUIT\r\nRCPT after quit\r\n');
    const inFd = openSync(inp, 'r');
    const outFd = openSync(out, 'w');
    const trace: string[] = [];
    const how = await converse(new Dialogue('450 GREYLIST Try again later.', 0), { inFd, outFd, timeoutMs: 5000, trace: (l) => trace.push(l) });
    closeSync(inFd);
    closeSync(outFd);
    assert.equal(how, 'quit');
    assert.equal(readFileSync(out, 'latin1'), '220 qgreylist\r\n250 qgreylist\r\n450 GREYLIST Try again later.\r\n250 qgreylist\r\n221 qgreylist\r\n');
    assert.deepEqual(trace, ['>>> 220 qgreylist', '<<< EHLO x', '>>> 250 qgreylist', '<<< RCPT TO:<a@b>', '>>> 450 GREYLIST Try again later.', '<<< HELO ?', '>>> 250 qgreylist', '<<< QUIT', '>>> 221 qgreylist']);
  });

  it('converse: end of input is a hang-up, at once; an overlong line is cut, not held', async () => {
    using t = tempDir();
    const inp = join(t.path, 'in');
    const out = join(t.path, 'out');
    writeFileSync(inp, 'HELO ' + 'x'.repeat(100000) + '\r\nRCPT');
    const inFd = openSync(inp, 'r');
    const outFd = openSync(out, 'w');
    const trace: string[] = [];
    const t0 = Date.now();
    const how = await converse(new Dialogue('450 GREYLIST Try again later.', 0), { inFd, outFd, timeoutMs: 60000, trace: (l) => trace.push(l) });
    closeSync(inFd);
    closeSync(outFd);
    assert.equal(how, 'closed');
    assert.ok(Date.now() - t0 < 1000);
    assert.equal(readFileSync(out, 'latin1'), '220 qgreylist\r\n250 qgreylist\r\n');
    assert.equal(trace[1]!.length, '<<< '.length + 200);
    assert.ok(MAX_LINE < 100000);
  });

  it('converse: the timeout covers the whole conversation and answers 421 timeout', async () => {
    using t = tempDir();
    const fifo = join(t.path, 'fifo');
    const out = join(t.path, 'out');
    assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
    const inFd = openSync(fifo, constants.O_RDWR); // never at end of file: a silent client
    const outFd = openSync(out, 'w');
    const t0 = Date.now();
    const how = await converse(new Dialogue('450 GREYLIST Try again later.', 0), { inFd, outFd, timeoutMs: 300, trace: null });
    const ms = Date.now() - t0;
    writeSync(inFd, 'QUIT\r\n'); // release the read still waiting in the thread pool
    await new Promise((r) => setTimeout(r, 50));
    closeSync(inFd);
    closeSync(outFd);
    assert.equal(how, 'timeout');
    assert.ok(ms >= 290 && ms < 2000, `${ms} ms`);
    assert.equal(readFileSync(out, 'latin1'), '220 qgreylist\r\n421 timeout\r\n');
  });
});

describe('wrapper decision (connection.run) on a real tree', () => {
  const T0 = 1_790_000_000_500; // ms; .5 s past a whole second
  function setup(extra: Record<string, string> = {}) {
    const t = tempDir();
    const tree = join(t.path, 'tree');
    const lists = join(t.path, 'lists');
    mkdirSync(tree, { mode: 0o700 });
    mkdirSync(lists);
    const cfg = (env: Record<string, string>) => readConfig({ JGREYLIST_DIR: tree, QGREY_LISTDIR: lists, ...extra, ...env });
    return { t, tree, lists, cfg };
  }

  it('first time, too soon, known: jgreylist v8 sequence, times and modes', () => {
    const { t, tree, cfg } = setup();
    using _ = t;
    const c = cfg({ TCPREMOTEIP: '192.0.2.7' });
    const r1 = run(c, T0);
    assert.deepEqual(r1, { verdict: { kind: 'reject', permanent: false, text: GREY_FIRST, code: 450 }, decision: 'GREY first time' });
    const f = join(tree, '192/000/002');
    let st = statSync(f);
    assert.equal(st.mode & 0o7777, 0o600 & ~process.umask());
    assert.equal(statSync(join(tree, '192')).mode & 0o7777, 0o700 & ~process.umask());
    assert.equal(st.mtimeMs, T0);
    assert.equal(st.atimeMs, T0);
    // 001.002.003.004-style and another host of the class C share the entry
    const r2 = run(cfg({ TCPREMOTEIP: '192.000.002.200' }), T0 + 60_000);
    assert.equal(r2.decision, 'GREY too soon');
    assert.deepEqual(r2.verdict, { kind: 'reject', permanent: false, text: GREY_AGAIN, code: 450 });
    st = statSync(f);
    assert.equal(st.atimeMs, T0 + 60_000);
    assert.equal(Math.floor(st.mtimeMs / 1000), Math.floor(T0 / 1000));
    // boundary in whole seconds as jgreylist: mtime 1790000000 + 120 > now ?
    assert.equal(run(c, T0 - 500 + 119_999).decision, 'GREY too soon');
    assert.equal(run(c, T0 - 500 + 120_000).decision, 'OK known');
    st = statSync(f);
    assert.equal(st.atimeMs, T0 - 500 + 120_000);
    assert.equal(Math.floor(st.mtimeMs / 1000), Math.floor(T0 / 1000));
  });

  it('JGREYLIST_HOLDTIME=0 lets the second connection through', () => {
    const { t, cfg } = setup({ JGREYLIST_HOLDTIME: '0' });
    using _ = t;
    const c = cfg({ TCPREMOTEIP: '198.51.100.1' });
    assert.equal(run(c, T0).decision, 'GREY first time');
    assert.equal(run(c, T0).decision, 'OK known');
  });

  it('JGREYLIST_BY_IP=1: aaa/bbb/ccc/ddd', () => {
    const { t, tree, cfg } = setup({ JGREYLIST_BY_IP: '1' });
    using _ = t;
    assert.equal(run(cfg({ TCPREMOTEIP: '192.0.2.7' }), T0).decision, 'GREY first time');
    assert.ok(statSync(join(tree, '192/000/002/007')).isFile());
    assert.equal(run(cfg({ TCPREMOTEIP: '192.0.2.8' }), T0).decision, 'GREY first time');
  });

  it('IPv6 by /64, mapped IPv4 as IPv4', () => {
    const { t, tree, cfg } = setup();
    using _ = t;
    assert.equal(run(cfg({ TCPREMOTEIP: '2001:db8:0:1::25' }), T0).decision, 'GREY first time');
    assert.ok(statSync(join(tree, 'v6/20010db8/00000001')).isFile());
    assert.equal(run(cfg({ TCP6REMOTEIP: '2001:db8:0:1:ffff::9' }), T0).decision, 'GREY too soon');
    assert.equal(run(cfg({ TCPREMOTEIP: '::ffff:203.0.113.9' }), T0).decision, 'GREY first time');
    assert.ok(statSync(join(tree, '203/000/113')).isFile());
  });

  it('JGREYLIST and RELAYCLIENT decide without touching the tree (or needing an address)', () => {
    const { t, tree, cfg } = setup();
    using _ = t;
    assert.deepEqual(run(cfg({ TCPREMOTEIP: '192.0.2.7', JGREYLIST: '' }), T0), { verdict: { kind: 'pass' }, decision: 'OK whitelisted' });
    assert.deepEqual(run(cfg({ TCPREMOTEIP: '192.0.2.7', JGREYLIST: 'Go % away %' }), T0), {
      verdict: { kind: 'reject', permanent: true, text: 'DENIED Go 192.0.2.7 away %', code: 553 },
      decision: 'DENY blacklisted',
    });
    assert.deepEqual(run(cfg({ TCPREMOTEIP: '192.0.2.7', RELAYCLIENT: '' }), T0), { verdict: { kind: 'pass' }, decision: 'OK relayclient' });
    assert.equal(run(cfg({ JGREYLIST: '' }), T0).decision, 'OK whitelisted');
    assert.ok(!existsSync(join(tree, '192')));
  });

  it('lists: blacklist before whitelist, message with the address; NOREV after the lists', () => {
    const { t, tree, lists, cfg } = setup();
    using _ = t;
    writeFileSync(join(lists, 'whitelist'), '192.0.2.0/24 never manual\n');
    writeFileSync(join(lists, 'blacklist'), '192.0.2.66 never manual "Bad % bad"\n198.51.100. never manual\n');
    assert.equal(run(cfg({ TCPREMOTEIP: '192.0.2.7' }), T0).decision, 'OK whitelisted');
    assert.deepEqual(run(cfg({ TCPREMOTEIP: '192.0.2.66' }), T0).verdict, { kind: 'reject', permanent: true, text: 'DENIED Bad 192.0.2.66 bad', code: 553 });
    assert.deepEqual(run(cfg({ TCPREMOTEIP: '198.51.100.3' }), T0).verdict, { kind: 'reject', permanent: true, text: 'DENIED 198.51.100.3 is blacklisted', code: 553 });
    assert.equal(run(cfg({ TCPREMOTEIP: '192.0.2.7', JGREYLIST_NOREV: 'no PTR' }), T0).decision, 'OK whitelisted');
    assert.deepEqual(run(cfg({ TCPREMOTEIP: '203.0.113.1', JGREYLIST_NOREV: 'no PTR for %' }), T0), {
      verdict: { kind: 'reject', permanent: true, text: 'DENIED no PTR for 203.0.113.1', code: 553 },
      decision: 'DENY no reverse DNS',
    });
    assert.equal(run(cfg({ TCPREMOTEIP: '203.0.113.1', JGREYLIST_NOREV: 'no PTR', TCPREMOTEHOST: 'mx.example' }), T0).decision, 'GREY first time');
    assert.ok(!existsSync(join(tree, '192')));
    assert.ok(!existsSync(join(tree, '198')));
  });

  it('failures: FAIL open passes, FAIL closed answers 451; nothing is created outside the tree', () => {
    const { t, tree, lists, cfg } = setup();
    using _ = t;
    const open = run(cfg({ TCPREMOTEIP: '../../x' }), T0);
    assert.deepEqual(open, { verdict: { kind: 'pass' }, decision: 'FAIL open', detail: "TCPREMOTEIP is not an address: '../../x'" });
    const closed = run(cfg({ TCPREMOTEIP: '1.2.3', QGREY_FAIL: 'closed' }), T0);
    assert.deepEqual(closed, { verdict: { kind: 'reject', permanent: false, text: FAIL_TEXT, code: 451 }, decision: 'FAIL closed', detail: "TCPREMOTEIP is not an address: '1.2.3'" });
    assert.equal(run(cfg({}), T0).detail, 'TCPREMOTEIP is empty or missing');
    assert.equal(run(readConfig({ TCPREMOTEIP: '192.0.2.7', QGREY_LISTDIR: lists }), T0).detail, 'JGREYLIST_DIR is not set');
    assert.match(run(cfg({ TCPREMOTEIP: '192.0.2.7', JGREYLIST_DIR: join(t.path, 'none') }), T0).detail!, /^unable to create directory .*\/none\/192: /);
    // a list that cannot be read is a failure too, not "not listed" (a directory: even root cannot read it)
    mkdirSync(join(lists, 'blacklist'));
    const unreadable = run(cfg({ TCPREMOTEIP: '192.0.2.7' }), T0);
    assert.equal(unreadable.decision, 'FAIL open');
    assert.match(unreadable.detail!, /blacklist: /);
    assert.ok(!existsSync(join(t.path, 'x')));
    assert.equal(spawnSync('find', [tree, '-mindepth', '1'], { encoding: 'utf8' }).stdout, '');
  });

  it('a symlink in the tree is never followed: FAIL, the target untouched', () => {
    const { t, tree, cfg } = setup();
    using _ = t;
    const target = join(t.path, 'target');
    writeFileSync(target, '');
    utimesSync(target, 1000, 1000);
    mkdirSync(join(tree, '192/000'), { recursive: true });
    spawnSync('ln', ['-s', target, join(tree, '192/000/002')]);
    const r = run(cfg({ TCPREMOTEIP: '192.0.2.7', QGREY_FAIL: 'closed' }), T0);
    assert.equal(r.decision, 'FAIL closed');
    assert.match(r.detail!, /symbolic link/);
    assert.equal(statSync(target).mtimeMs, 1000_000);
    assert.equal(statSync(target).atimeMs, 1000_000);
  });
});
