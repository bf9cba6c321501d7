// qgreylist end to end: real tcpserver + tcprules, bin/qgreylist, the stand-in qmail-smtpd,
// a scripted SMTP client (and swaks once). Every case checks what the client was answered,
// what the stand-in received, the tree and the log lines. It runs twice: here without qgreyd
// (the per-process decision program), and from qgreyd-wrapper.test.ts with qgreyd up.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, statSync, utimesSync, writeFileSync, existsSync, lstatSync } from 'node:fs';
import { join } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { QGREYLIST, QGREYLIST_SH, tempDir } from '../helpers/util.js';
import { parseBody } from '../../src/core/logline.js';
import { Client, makeRules, O_NONBLOCK, Server, serverPath, session, sleep, standinRecord } from './wrapper-harness.js';
import { Decider } from './qgreyd-harness.js';

const tmp = tempDir('qgreylist-e2e-');
const TREE = join(tmp.path, 'tree');
const LISTS = join(tmp.path, 'lists');
const REC = join(tmp.path, 'standin');
let srv: Server;
let rulesFile: string;
const decider = new Decider();
const serverEnv = () => ({ JGREYLIST_DIR: TREE, QGREY_LISTDIR: LISTS, STANDIN_DIR: REC, ...decider.env });

/** Make a class-C entry with both times `ago` seconds in the past. */
function seed(a: number, b: number, c: number, agoFirst: number, agoLast = agoFirst): string {
  const d = join(TREE, pad(a), pad(b));
  mkdirSync(d, { recursive: true, mode: 0o700 });
  const f = join(d, pad(c));
  writeFileSync(f, '', { mode: 0o600 });
  const now = Date.now() / 1000;
  utimesSync(f, now - agoLast, now - agoFirst);
  return f;
}
/**
 * mtime (first seen) is kept by a touch: to the second, as jgreylist keeps it (utime() with
 * st_mtime), and here to the microsecond (Node passes times as doubles, so the nanoseconds
 * below that may move).
 */
function sameFirstSeen(afterMs: number, beforeMs: number): void {
  assert.equal(Math.floor(afterMs / 1000), Math.floor(beforeMs / 1000));
  assert.ok(Math.abs(afterMs - beforeMs) < 0.002, `mtime moved from ${beforeMs} to ${afterMs}`);
}

function runAsync(cmd: string, args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    p.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    p.once('error', reject);
    p.once('close', (status) => resolve({ status, stdout, stderr }));
  });
}

const pad = (n: number) => String(n).padStart(3, '0');

function entries(root = TREE): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const n of readdirSync(join(root, rel))) {
      const r = rel === '' ? n : rel + '/' + n;
      if (lstatSync(join(root, r)).isDirectory()) walk(r);
      else out.push(r);
    }
  };
  walk('');
  return out.sort();
}

/** The decision lines of connection `pid`, parsed by src/core/logline.ts. */
function decisions(pid: number): string[] {
  return srv.linesOf(pid).flatMap((l) => {
    const e = parseBody(l);
    return e.kind === 'decision' ? [`${e.remoteip}: ${e.decision}${e.detail !== undefined ? ': ' + e.detail : ''}`] : [];
  });
}

/** A greylisted session, answered by rblsmtpd. */
async function greySession(from: string) {
  const s = await session(srv.port, from);
  const pid = await srv.pidOf(from);
  await srv.ended(pid);
  return { ...s, pid };
}

before(async () => {
  mkdirSync(TREE, { mode: 0o700 });
  mkdirSync(LISTS);
  mkdirSync(REC);
  writeFileSync(join(LISTS, 'whitelist'), '127.6.0.0/16  never  manual  # the lists issue format\n');
  writeFileSync(join(LISTS, 'blacklist'), '127.7.0.1  never  manual  "Spam from %, go away"\n');
  rulesFile = makeRules(tmp.path, [
    '127.4.0.1:allow,JGREYLIST=""',
    '127.5.0.1:allow,JGREYLIST="Go away %"',
    '127.8.0.1:allow,JGREYLIST_NOREV="No reverse DNS for %"',
    '127.9.0.1:allow,RELAYCLIENT=""',
    '127.10.0.:allow,JGREYLIST_LIMIT="3"',
    '127.11.0.1:allow,PROTO="TCP6",TCPREMOTEIP="2001:db8::25",TCP6REMOTEIP="2001:db8::25"',
    '127.11.0.2:allow,PROTO="TCP6",TCPREMOTEIP="2001:db8::26",TCP6REMOTEIP="2001:db8::26"',
    '127.12.0.1:allow,TCPREMOTEIP="::ffff:192.0.2.9"',
    '127.12.0.2:allow,TCP6REMOTEIP="::ffff:127.12.0.2"',
    '127.13.0.1:allow,TCPREMOTEIP="../../../etc/x y"',
    '127.13.0.2:allow,TCPREMOTEIP="../../../etc/x",QGREY_FAIL="closed"',
    `127.14.0.1:allow,JGREYLIST_DIR="${tmp.path}/missing"`,
    `127.14.0.2:allow,JGREYLIST_DIR="${tmp.path}/missing",QGREY_FAIL="closed"`,
    '127.15.0.1:allow,JGREYLIST_LOG_SMTP="1"',
    // the per-process program's own failure: not asking qgreyd (QGREY_SERVER="") in both runs
    '127.16.0.1:allow,QGREY_NODE="/nonexistent/node",QGREY_SERVER=""',
    '127.16.0.2:allow,QGREY_NODE="/nonexistent/node",QGREY_FAIL="closed",QGREY_SERVER=""',
    '127.17.0.1:allow,JGREYLIST_BY_IP="1"',
    '127.18.0.1:allow,JGREYLIST_LOG_PID="0"',
    '127.18.1.1:allow,JGREYLIST_LOG="0"',
    `127.18.2.1:allow,JGREYLIST_LOG="0",JGREYLIST_DIR="${tmp.path}/missing"`,
  ]);
  await decider.start(tmp.path, { JGREYLIST_DIR: TREE, QGREY_LISTDIR: LISTS });
  srv = await Server.start({ env: serverEnv(), rules: rulesFile });
});

after(async () => {
  await srv?.stop();
  await decider.stop();
  tmp[Symbol.dispose]();
});

describe('qgreylist through tcpserver', () => {
  it('first time: 451 from rblsmtpd, entry created 0600 in 0700 dirs, atime == mtime, one GREY line', async () => {
    const t0 = Date.now() / 1000;
    const s = await greySession('127.1.0.1');
    assert.equal(s.greeting, '220 rblsmtpd.local');
    assert.equal(s.rcpt, '451 GREYLIST Try again later.');
    assert.equal(s.end, '221 rblsmtpd.local');
    assert.deepEqual(decisions(s.pid), ['127.1.0.1: GREY first time']);
    // the pid in our line is the connection's pid (tcpserver's `pid N from`)
    assert.ok(srv.linesOf(s.pid).includes(`qgreylist[${s.pid}]: 127.1.0.1: GREY first time`));
    assert.equal(standinRecord(REC, s.pid), null, 'the stand-in never ran');
    const f = join(TREE, '127/001/000');
    const st = statSync(f);
    assert.ok(st.isFile());
    assert.equal(st.mode & 0o777, 0o600);
    assert.equal(statSync(join(TREE, '127')).mode & 0o777, 0o700);
    assert.equal(statSync(join(TREE, '127/001')).mode & 0o777, 0o700);
    assert.equal(st.atimeMs, st.mtimeMs);
    assert.ok(st.mtimeMs / 1000 >= t0 - 1 && st.mtimeMs / 1000 <= Date.now() / 1000 + 1);
    // no rblsmtpd line: ours says it already
    assert.ok(!srv.linesOf(s.pid).some((l) => l.startsWith('rblsmtpd:')));
  });

  it('too soon: same class C again, 451 "I said", atime moves, mtime stays', async () => {
    const f = join(TREE, '127/001/000');
    const before = statSync(f);
    await sleep(20);
    const s = await greySession('127.1.0.2');
    assert.equal(s.rcpt, '451 GREYLIST I said to try later.');
    assert.deepEqual(decisions(s.pid), ['127.1.0.2: GREY too soon']);
    const st = statSync(f);
    sameFirstSeen(st.mtimeMs, before.mtimeMs);
    assert.ok(st.atimeMs > before.atimeMs);
    assert.deepEqual(
      entries().filter((e) => e.startsWith('127/001/')),
      ['127/001/000'],
    );
  });

  it('known: passes to qmail-smtpd with the socket untouched, argv/env/data as sent (swaks), atime updated', async () => {
    const f = seed(127, 3, 0, 600);
    const before = statSync(f);
    const r = await runAsync(
      'swaks',
      ['--server', '127.0.0.1', '--port', String(srv.port), '--local-interface', '127.3.0.1', '--from', 'alice@sender.example', '--to', 'bob@example.org', '--helo', 'mx.sender.example', '--body', 'hello from swaks', '--h-Subject', 'known'],
    );
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /<- {2}220 standin\.example ESMTP/);
    assert.match(r.stdout, /<- {2}250 ok [0-9]+ qp [0-9]+/);
    const pid = await srv.pidOf('127.3.0.1');
    await srv.ended(pid);
    assert.deepEqual(decisions(pid), ['127.3.0.1: OK known']);
    const rec = standinRecord(REC, pid)!;
    assert.ok(rec, 'the stand-in ran as the same process');
    assert.deepEqual(rec.argv, []);
    assert.equal(rec.env.get('TCPREMOTEIP'), '127.3.0.1');
    assert.equal(rec.env.get('JGREYLIST_DIR'), TREE);
    assert.equal(rec.env.get('PROTO'), 'TCP');
    assert.ok(!rec.env.has('RBLSMTPD'));
    for (const fl of rec.flags) assert.equal(fl & O_NONBLOCK, 0, 'socket left blocking');
    assert.equal(rec.flags.length, 2);
    assert.match(rec.stdin, /^EHLO mx\.sender\.example\r\nMAIL FROM:<alice@sender\.example>\r\nRCPT TO:<bob@example\.org>\r\nDATA\r\n/);
    assert.match(rec.stdin, /\r\nSubject: known\r\n[^]*\r\nhello from swaks\r\n(?:\r\n)*\.\r\nQUIT\r\n$/);
    const st = statSync(f);
    sameFirstSeen(st.mtimeMs, before.mtimeMs);
    assert.ok(st.atimeMs / 1000 > Date.now() / 1000 - 10);
    assert.ok(srv.linesOf(pid).some((l) => l.startsWith('qlogreceived: result=accepted code=250')));
  });

  it('the environment reaches qmail-smtpd exactly as tcpserver set it', async () => {
    seed(127, 3, 1, 600);
    const s = await session(srv.port, '127.3.1.9');
    assert.match(s.data!, /^250 ok/);
    const pid = await srv.pidOf('127.3.1.9');
    await srv.ended(pid);
    const rec = standinRecord(REC, pid)!;
    const expected = new Map<string, string>(Object.entries({ ...serverEnv(), PATH: serverPath(), PROTO: 'TCP', TCPLOCALIP: '127.0.0.1', TCPLOCALPORT: String(srv.port), TCPLOCALHOST: '0', TCPREMOTEIP: '127.3.1.9' }));
    const got = new Map(rec.env);
    got.delete('TCPREMOTEPORT');
    got.delete('PWD'); // the stand-in's dash exports PWD
    got.delete('SHLVL'); // bin/qgreylist's bash adds it when tcpserver did not set it
    assert.deepEqual([...got.entries()].sort(), [...expected.entries()].sort());
  });

  it('whitelisted by JGREYLIST="" (tcprules): passes, no tree entry', async () => {
    const s = await session(srv.port, '127.4.0.1');
    assert.equal(s.greeting, '220 standin.example ESMTP');
    assert.match(s.data!, /^250 ok/);
    const pid = await srv.pidOf('127.4.0.1');
    await srv.ended(pid);
    assert.deepEqual(decisions(pid), ['127.4.0.1: OK whitelisted']);
    assert.equal(standinRecord(REC, pid)!.env.get('JGREYLIST'), '');
    assert.ok(!existsSync(join(TREE, '127/004')));
  });

  it('denied by JGREYLIST="Go away %": 553 DENIED with the address, no tree entry', async () => {
    const s = await greySession('127.5.0.1');
    assert.equal(s.rcpt, '553 DENIED Go away 127.5.0.1');
    assert.deepEqual(decisions(s.pid), ['127.5.0.1: DENY blacklisted']);
    assert.equal(standinRecord(REC, s.pid), null);
    assert.ok(!existsSync(join(TREE, '127/005')));
  });

  it('whitelisted by the list file: passes, no tree entry', async () => {
    const s = await session(srv.port, '127.6.200.3');
    assert.match(s.data!, /^250 ok/);
    const pid = await srv.pidOf('127.6.200.3');
    await srv.ended(pid);
    assert.deepEqual(decisions(pid), ['127.6.200.3: OK whitelisted']);
    assert.ok(!existsSync(join(TREE, '127/006')));
  });

  it("denied by the blacklist file: 553 DENIED with the entry's message", async () => {
    const s = await greySession('127.7.0.1');
    assert.equal(s.rcpt, '553 DENIED Spam from 127.7.0.1, go away');
    assert.deepEqual(decisions(s.pid), ['127.7.0.1: DENY blacklisted']);
    assert.ok(!existsSync(join(TREE, '127/007')));
  });

  it('no reverse DNS (JGREYLIST_NOREV, tcpserver -H): 553 DENIED', async () => {
    const s = await greySession('127.8.0.1');
    assert.equal(s.rcpt, '553 DENIED No reverse DNS for 127.8.0.1');
    assert.deepEqual(decisions(s.pid), ['127.8.0.1: DENY no reverse DNS']);
  });

  it('RELAYCLIENT: passes without greylisting, no tree entry', async () => {
    const s = await session(srv.port, '127.9.0.1');
    assert.match(s.data!, /^250 ok/);
    const pid = await srv.pidOf('127.9.0.1');
    await srv.ended(pid);
    assert.deepEqual(decisions(pid), ['127.9.0.1: OK relayclient']);
    assert.equal(standinRecord(REC, pid)!.env.get('RELAYCLIENT'), '');
    assert.ok(!existsSync(join(TREE, '127/009')));
  });

  it('JGREYLIST_LIMIT=3: our dialogue, 450 twice, 421 at the third RCPT, hang-up logged', async () => {
    const c = await Client.open(srv.port, '127.10.0.1');
    assert.equal(await c.reply(), '220 qgreylist');
    assert.equal(await c.cmd('EHLO x'), '250 qgreylist');
    assert.equal(await c.cmd('MAIL FROM:<a@b>'), '250 qgreylist');
    assert.equal(await c.cmd('RCPT TO:<1@x>'), '450 GREYLIST Try again later.');
    assert.equal(await c.cmd('rcpt to:<2@x>'), '450 GREYLIST Try again later.');
    assert.equal(await c.cmd('NOOP'), '450 GREYLIST Try again later.');
    assert.equal(await c.cmd('RCPT TO:<3@x>'), '421 Too many RCPT commands, goodbye.');
    await c.closedByServer();
    c.destroy();
    const pid = await srv.pidOf('127.10.0.1');
    await srv.ended(pid);
    assert.deepEqual(decisions(pid), ['127.10.0.1: GREY first time', '127.10.0.1: HANGUP too many RCPT commands']);
    assert.ok(existsSync(join(TREE, '127/010/000')));
  });

  it('a client that hangs up is let go at once (rblsmtpd)', async () => {
    const c = await Client.open(srv.port, '127.1.5.1');
    assert.equal(await c.reply(), '220 rblsmtpd.local');
    const t0 = Date.now();
    c.hangUp();
    const pid = await srv.pidOf('127.1.5.1');
    await srv.ended(pid, 3000);
    assert.ok(Date.now() - t0 < 2000, 'ended well before the 60 s timeout');
    c.destroy();
  });

  it('a client that hangs up is let go at once (our dialogue) and logged', async () => {
    const c = await Client.open(srv.port, '127.10.0.2');
    assert.equal(await c.reply(), '220 qgreylist');
    assert.equal(await c.cmd('HELO x'), '250 qgreylist');
    const t0 = Date.now();
    c.hangUp();
    const pid = await srv.pidOf('127.10.0.2');
    await srv.ended(pid, 3000);
    assert.ok(Date.now() - t0 < 2000);
    assert.deepEqual(decisions(pid), ['127.10.0.2: GREY too soon', '127.10.0.2: HANGUP client closed']);
    c.destroy();
  });

  it('while a greylisted client holds the line, no Node process is left for it', async () => {
    const c = await Client.open(srv.port, '127.1.6.1');
    assert.equal(await c.reply(), '220 rblsmtpd.local');
    assert.equal(await c.cmd('HELO x'), '250 rblsmtpd.local');
    const kids = srv.children();
    assert.deepEqual(
      kids.map((k) => k.comm),
      ['rblsmtpd'],
    );
    c.send('QUIT');
    await c.closedByServer();
    c.destroy();
  });

  it('IPv6 client (the environment of ucspi-tcp-ipv6): keyed by /64 under v6/, logged as given', async () => {
    const s = await greySession('127.11.0.1');
    assert.equal(s.rcpt, '451 GREYLIST Try again later.');
    assert.deepEqual(decisions(s.pid), ['2001:db8::25: GREY first time']);
    assert.ok(statSync(join(TREE, 'v6/20010db8/00000000')).isFile());
    const s2 = await greySession('127.11.0.2');
    assert.equal(s2.rcpt, '451 GREYLIST I said to try later.', 'same /64');
    assert.deepEqual(decisions(s2.pid), ['2001:db8::26: GREY too soon']);
  });

  it('IPv4-mapped addresses are keyed as IPv4; TCP6REMOTEIP beside a dotted TCPREMOTEIP is ignored', async () => {
    const s = await greySession('127.12.0.1');
    assert.deepEqual(decisions(s.pid), ['::ffff:192.0.2.9: GREY first time']);
    assert.ok(statSync(join(TREE, '192/000/002')).isFile());
    const s2 = await greySession('127.12.0.2');
    assert.deepEqual(decisions(s2.pid), ['127.12.0.2: GREY first time']);
    assert.ok(statSync(join(TREE, '127/012/000')).isFile());
  });

  it('a garbage TCPREMOTEIP never becomes a path: FAIL open passes, FAIL closed answers 451', async () => {
    const before = entries();
    const s = await session(srv.port, '127.13.0.1');
    assert.match(s.data!, /^250 ok/);
    const pid = await srv.pidOf('127.13.0.1');
    await srv.ended(pid);
    assert.deepEqual(decisions(pid), [`../../../etc/x?y: FAIL open: TCPREMOTEIP is not an address: '../../../etc/x y'`]);
    const s2 = await greySession('127.13.0.2');
    assert.equal(s2.rcpt, '451 Temporary local problem, please try again later.');
    assert.deepEqual(decisions(s2.pid), [`../../../etc/x: FAIL closed: TCPREMOTEIP is not an address: '../../../etc/x'`]);
    assert.deepEqual(entries(), before);
    assert.ok(!existsSync(join(tmp.path, 'etc')));
  });

  it('a missing tree: FAIL open lets the client through, FAIL closed answers 451; never 5xx', async () => {
    const s = await session(srv.port, '127.14.0.1');
    assert.match(s.data!, /^250 ok/);
    const pid = await srv.pidOf('127.14.0.1');
    await srv.ended(pid);
    assert.deepEqual(decisions(pid), [`127.14.0.1: FAIL open: unable to create directory ${tmp.path}/missing/127: no such file or directory`]);
    const s2 = await greySession('127.14.0.2');
    assert.equal(s2.rcpt, '451 Temporary local problem, please try again later.');
    assert.deepEqual(decisions(s2.pid), [`127.14.0.2: FAIL closed: unable to create directory ${tmp.path}/missing/127: no such file or directory`]);
    assert.ok(!existsSync(join(tmp.path, 'missing')));
  });

  it('a missing decision program: the trampoline applies the failure switch itself', async () => {
    const s = await session(srv.port, '127.16.0.1');
    assert.match(s.data!, /^250 ok/);
    const pid = await srv.pidOf('127.16.0.1');
    await srv.ended(pid);
    assert.deepEqual(decisions(pid), ['127.16.0.1: FAIL open: cannot run the decision program: /nonexistent/node not found (set PATH or QGREY_NODE in the run file)']);
    const s2 = await greySession('127.16.0.2');
    assert.equal(s2.rcpt, '451 Temporary local problem, please try again later.');
    assert.deepEqual(decisions(s2.pid), ['127.16.0.2: FAIL closed: cannot run the decision program: /nonexistent/node not found (set PATH or QGREY_NODE in the run file)']);
  });

  it('JGREYLIST_LOG_SMTP: the dialogue is logged, client text cleaned', async () => {
    const c = await Client.open(srv.port, '127.15.0.1');
    assert.equal(await c.reply(), '220 qgreylist');
    assert.equal(await c.cmd('HELO \x01evil\x1b[31m\x7f'), '250 qgreylist');
    assert.equal(await c.cmd('DATA'), '450 GREYLIST Try again later.');
    assert.equal(await c.cmd('QUIT'), '221 qgreylist');
    await c.closedByServer();
    c.destroy();
    const pid = await srv.pidOf('127.15.0.1');
    await srv.ended(pid);
    assert.deepEqual(
      srv.linesOf(pid).filter((l) => l.startsWith('qgreylist')),
      [
        `qgreylist[${pid}]: 127.15.0.1: GREY first time`,
        `qgreylist[${pid}]: >>> 220 qgreylist`,
        `qgreylist[${pid}]: <<< HELO ?evil?[31m?`,
        `qgreylist[${pid}]: >>> 250 qgreylist`,
        `qgreylist[${pid}]: <<< DATA`,
        `qgreylist[${pid}]: >>> 450 GREYLIST Try again later.`,
        `qgreylist[${pid}]: <<< QUIT`,
        `qgreylist[${pid}]: >>> 221 qgreylist`,
      ],
    );
  });

  it('JGREYLIST_BY_IP=1 with a class-C file in the way: FAIL open, the file left alone', async () => {
    const f = seed(127, 17, 0, 600);
    const before = statSync(f);
    const s = await session(srv.port, '127.17.0.1');
    assert.match(s.data!, /^250 ok/);
    const pid = await srv.pidOf('127.17.0.1');
    await srv.ended(pid);
    const d = decisions(pid);
    assert.equal(d.length, 1);
    assert.match(d[0]!, /^127\.17\.0\.1: FAIL open: .*127\/017\/000/);
    const st = statSync(f);
    assert.ok(st.isFile());
    assert.equal(st.mtimeMs, before.mtimeMs);
  });

  it('JGREYLIST_LOG_PID=0 drops the pid; JGREYLIST_LOG=0 silences decisions but not failures', async () => {
    const s = await greySession('127.18.0.1');
    assert.equal(s.rcpt, '451 GREYLIST Try again later.');
    assert.ok(srv.logLines().includes('qgreylist: 127.18.0.1: GREY first time'));
    const s2 = await greySession('127.18.1.1');
    assert.equal(s2.rcpt, '451 GREYLIST Try again later.');
    assert.ok(!srv.log.includes('127.18.1.1: GREY'));
    assert.ok(existsSync(join(TREE, '127/018/001')));
    const s3 = await session(srv.port, '127.18.2.1');
    assert.match(s3.data!, /^250 ok/);
    const pid = await srv.pidOf('127.18.2.1');
    await srv.ended(pid);
    assert.equal(decisions(pid).length, 1);
    assert.match(decisions(pid)[0]!, /^127\.18\.2\.1: FAIL open: /);
  });

  it('with qgreyd, qgreyd decided (the same lines reached the log); no connection fell back', () => {
    decider.verify(srv.log, 15);
  });

  it('no Node process and no child is left once the sessions are over', async () => {
    for (let i = 0; i < 50 && srv.children().length > 0; i++) await sleep(20);
    assert.deepEqual(srv.children(), []);
  });

  it('without a command, qgreylist says so and exits 100', () => {
    const r = spawnSync(QGREYLIST, [], { encoding: 'utf8', env: { PATH: serverPath(), TCPREMOTEIP: '192.0.2.1' } });
    assert.equal(r.status, 100);
    assert.equal(r.stderr, 'qgreylist: fatal: no command specified on command line\n');
  });
});

describe('qgreylist without node on PATH', () => {
  it('says so in its one FAIL line, with no unprefixed shell error before it', () => {
    using t = tempDir();
    mkdirSync(join(t.path, 'tree'));
    const r = spawnSync('/bin/sh', [QGREYLIST_SH, '/bin/echo', 'passed'], {
      env: { PATH: '/nonexistent', TCPREMOTEIP: '192.0.2.7', JGREYLIST_DIR: join(t.path, 'tree'), QGREY_SERVER: '' },
      encoding: 'utf8',
    });
    assert.equal(r.status, 0);
    assert.equal(r.stdout, 'passed\n');
    assert.match(r.stderr, /^qgreylist\[[0-9]+\]: 192\.0\.2\.7: FAIL open: cannot run the decision program: node not found \(set PATH or QGREY_NODE in the run file\)\n$/);
  });
});
