// qgreyd on its own: start-up refusals (exit 111, one line), the protocol's refusals (wrong
// secret, malformed, too large, too slow, busy) with their replies and sanitised log lines,
// values that try to inject variables, lists changed under a running qgreyd, SIGHUP, and
// bin/qgreylist falling back when qgreyd is down or never answers. The real bin/qgreyd,
// bin/qgreylist and rblsmtpd; raw requests over node:net.
import { envVarsRead } from '../helpers/env-vars.js';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server as NetServer } from 'node:net';
import { join } from 'node:path';
import { QGREYLIST, ROOT, tempDir } from '../helpers/util.js';
import { formatRequest } from '../../src/server/protocol.js';
import { serverPath, sleep } from './wrapper-harness.js';
import { Qgreyd, QGREYD, SECRET } from './qgreyd-harness.js';

const tmp = tempDir('qgreyd-test-');
const TREE = join(tmp.path, 'tree');
const LISTS = join(tmp.path, 'lists');
let qd: Qgreyd;
const EUID = process.geteuid!();

/** Send raw bytes to qgreyd; everything it answers until it closes. */
function ask(port: number, data: Buffer | string, opts: { end?: boolean } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port });
    let got = '';
    s.setEncoding('latin1');
    s.on('data', (d: string) => (got += d));
    s.on('error', reject);
    s.on('close', () => resolve(got));
    s.write(data);
    if (opts.end) s.end();
  });
}

function request(env: Record<string, string>, over: { secret?: string; euid?: number } = {}): Buffer {
  return formatRequest({ secret: over.secret ?? SECRET, pid: 4242, euid: over.euid ?? EUID, env: { JGREYLIST_DIR: TREE, QGREY_LISTDIR: LISTS, PATH: serverPath(), ...env } });
}

/** bin/qgreylist run directly, as tcpserver would run it: stdin is the client's side. */
function qgreylist(env: Record<string, string>, input = 'RCPT TO:<a@b>\r\nQUIT\r\n') {
  const r = spawnSync(QGREYLIST, ['/bin/echo', 'passed'], {
    input,
    encoding: 'latin1',
    env: { PATH: serverPath(), JGREYLIST_DIR: TREE, QGREY_LISTDIR: LISTS, ...qd.clientEnv, ...env },
  });
  return { status: r.status, stdout: r.stdout.replace(/\r/g, ''), stderr: r.stderr };
}

function startFails(env: Record<string, string>, args: string[] = []) {
  const r = spawnSync(process.execPath, [QGREYD, ...args], { encoding: 'utf8', env: { PATH: serverPath(), JGREYLIST_DIR: TREE, QGREY_LISTDIR: LISTS, QGREYD_LISTEN: '127.0.0.1:0', ...env }, timeout: 20000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

before(async () => {
  mkdirSync(TREE, { mode: 0o700 });
  mkdirSync(LISTS);
  qd = await Qgreyd.start(tmp.path, { JGREYLIST_DIR: TREE, QGREY_LISTDIR: LISTS, QGREYD_TIMEOUT: '4', QGREYD_CONNECTIONS: '3' });
});

after(async () => {
  if (qd) assert.deepEqual(await qd.stop(), { code: 0, signal: null });
  tmp[Symbol.dispose]();
});

describe('qgreyd refuses to start, with one line and exit 111', () => {
  const secret = () => join(tmp.path, 'qgreyd.secret');
  it('without its secret file', () => {
    const r = startFails({ QGREY_SECRET: join(tmp.path, 'none') });
    assert.equal(r.status, 111);
    assert.equal(r.stderr, `qgreyd: fatal: unable to read the secret ${join(tmp.path, 'none')}: no such file or directory\n`);
  });
  it('when the secret is open to other users, or a symlink, or too short', () => {
    const open = join(tmp.path, 'open.secret');
    writeFileSync(open, SECRET + '\n', { mode: 0o644 });
    chmodSync(open, 0o644);
    assert.deepEqual(startFails({ QGREY_SECRET: open }), { status: 111, stdout: '', stderr: `qgreyd: fatal: the secret ${open} is open to other users (mode 644): chmod 400 it\n` });
    const link = join(tmp.path, 'link.secret');
    symlinkSync(secret(), link);
    assert.deepEqual(startFails({ QGREY_SECRET: link }), { status: 111, stdout: '', stderr: `qgreyd: fatal: the secret ${link} is not a regular file\n` });
    const short = join(tmp.path, 'short.secret');
    writeFileSync(short, 'abc\n', { mode: 0o600 });
    assert.match(startFails({ QGREY_SECRET: short }).stderr, /^qgreyd: fatal: the secret .* is not 16 to 256 characters .*\n$/);
  });
  it('without its tree, on a bad or non-loopback address, or one in use', () => {
    assert.deepEqual(startFails({ QGREY_SECRET: secret(), JGREYLIST_DIR: join(tmp.path, 'missing') }), {
      status: 111,
      stdout: '',
      stderr: `qgreyd: fatal: unable to open the tree ${join(tmp.path, 'missing')}: no such file or directory\n`,
    });
    assert.deepEqual(startFails({ QGREY_SECRET: secret(), QGREYD_LISTEN: 'localhost' }), {
      status: 111,
      stdout: '',
      stderr: "qgreyd: fatal: bad QGREYD_LISTEN 'localhost': expected ADDRESS:PORT, e.g. 127.0.0.1:7325\n",
    });
    assert.deepEqual(startFails({ QGREY_SECRET: secret(), QGREYD_LISTEN: '0.0.0.0:0' }), {
      status: 111,
      stdout: '',
      stderr: "qgreyd: fatal: QGREYD_LISTEN '0.0.0.0:0' is not a loopback address: set QGREYD_ANY_ADDRESS=1 to listen there\n",
    });
    const r = startFails({ QGREY_SECRET: secret(), QGREYD_LISTEN: `127.0.0.1:${qd.port}` });
    assert.equal(r.status, 111);
    assert.match(r.stderr, new RegExp(`^qgreyd: fatal: unable to listen on 127\\.0\\.0\\.1:${qd.port}: address already in use\\n$`));
  });
  it('an argument is a usage error (100); --help says what it reads', () => {
    assert.equal(startFails({}, ['-x']).status, 100);
    const h = startFails({}, ['--help']);
    assert.equal(h.status, 0);
    assert.match(h.stdout, /^usage: qgreyd\n/);
    // a terminal's and a cron mail's width
    assert.deepEqual(h.stdout.split('\n').filter((l) => l.length > 80), []);
  });
});

describe('the protocol', () => {
  it('a request with the secret is decided and logged in the qgreylist shape', async () => {
    const r = await ask(qd.port, request({ TCPREMOTEIP: '10.20.0.1' }));
    assert.equal(r, `qgreyd1 rbl\n60\n/usr/bin/rblsmtpd\nGREYLIST Try again later.\nqgreylist[4242]: 10.20.0.1: GREY first time\n.\n`);
    assert.ok(qd.logLines().includes('qgreylist[4242]: 10.20.0.1: GREY first time'));
    assert.ok(existsSync(join(TREE, '010/020/000')));
  });
  it('a wrong secret is refused and logged, and nothing is decided', async () => {
    const r = await ask(qd.port, request({ TCPREMOTEIP: '10.21.0.1' }, { secret: 'not-the-secret-at-all' }));
    assert.equal(r, 'qgreyd1 error\nrefused: wrong secret\n.\n');
    assert.match(qd.log, /^qgreyd: refused 127\.0\.0\.1:[0-9]+: wrong secret$/m);
    assert.ok(!existsSync(join(TREE, '010/021')));
  });
  it('a malformed request gets an error reply and a sanitised log line', async () => {
    const bad = `qgreyd1 ${SECRET} 1 ${EUID}\nTCPREMOTEIP=10.22.0.1\nEVIL\x1b[31m\x07 \xff\n\n`;
    const r = await ask(qd.port, Buffer.from(bad, 'latin1'));
    assert.equal(r, 'qgreyd1 error\nmalformed request: a line without NAME=\n.\n');
    const line = qd.logLines().find((l) => l.startsWith('qgreyd: malformed request'))!;
    assert.match(line, /^qgreyd: malformed request from 127\.0\.0\.1:[0-9]+: a line without NAME=: 'EVIL\\x1b\[31m\\x07 \\xff'$/);
    assert.doesNotMatch(qd.log, /[\x00-\x09\x0b-\x1f\x7f-\xff]/);
    assert.equal(await ask(qd.port, 'GET / HTTP/1.0\r\n\r\n'), 'qgreyd1 error\nmalformed request: bad header: expected "qgreyd1 SECRET PID EUID"\n.\n');
    assert.equal(await ask(qd.port, `qgreyd1 ${SECRET} 1 ${EUID}\nA=%zz\n\n`), 'qgreyd1 error\nmalformed request: bad %HH escape\n.\n');
    assert.equal(await ask(qd.port, `qgreyd1 ${SECRET} 1 ${EUID}\nA=1\nA=2\n\n`), 'qgreyd1 error\nmalformed request: a variable given twice\n.\n');
    assert.ok(!existsSync(join(TREE, '010/022')));
  });
  it('requests are bounded in size and time', async () => {
    assert.equal(await ask(qd.port, `qgreyd1 ${SECRET} 1 ${EUID}\nA=${'x'.repeat(20000)}`), 'qgreyd1 error\nrequest too large\n.\n');
    const t0 = Date.now();
    assert.equal(await ask(qd.port, `qgreyd1 ${SECRET} 1 ${EUID}\n`), 'qgreyd1 error\ntimeout\n.\n');
    assert.ok(Date.now() - t0 >= 3900, 'QGREYD_TIMEOUT=4');
    assert.equal(await ask(qd.port, `qgreyd1 ${SECRET} 1 ${EUID}\n`, { end: true }), 'qgreyd1 error\nno whole request\n.\n');
  });
  it('beyond QGREYD_CONNECTIONS a client is told busy at once, and its qgreylist falls back', async () => {
    const held = await Promise.all(
      [0, 1, 2].map(
        () =>
          new Promise<import('node:net').Socket>((res) => {
            const s = connect({ host: '127.0.0.1', port: qd.port }, () => res(s));
            s.on('error', () => {});
          }),
      ),
    );
    await sleep(100);
    assert.equal(await ask(qd.port, request({ TCPREMOTEIP: '10.23.0.1' })), 'qgreyd1 error\nbusy\n.\n');
    const r = qgreylist({ TCPREMOTEIP: '10.23.0.2' });
    assert.match(r.stderr, /^qgreylist\[[0-9]+\]: 10\.23\.0\.2: qgreyd: fallback: qgreyd at 127\.0\.0\.1:[0-9]+ said: busy; deciding here\nqgreylist\[[0-9]+\]: 10\.23\.0\.2: GREY first time\n$/);
    assert.match(r.stdout, /^220 rblsmtpd\.local\n451 GREYLIST Try again later\.\n221 rblsmtpd\.local\n$/);
    await qd.waitFor(/^qgreyd: busy: 3 connections \(QGREYD_CONNECTIONS=3\); 127\.0\.0\.1:[0-9]+ told to decide by itself$/m);
    for (const s of held) s.destroy();
    await sleep(100);
  });
  it('another uid, tree, list directory or a dialogue of its own: left undecided to the per-process program', async () => {
    assert.match(await ask(qd.port, request({ TCPREMOTEIP: '10.24.0.1' }, { euid: EUID + 1 })), /^qgreyd1 local\nthe client's uid [0-9]+ is not qgreyd's \([0-9]+\)\n\.\n$/);
    assert.match(await ask(qd.port, request({ TCPREMOTEIP: '10.24.0.1', JGREYLIST_DIR: '/elsewhere' })), /^qgreyd1 local\nanother tree: /);
    assert.match(await ask(qd.port, request({ TCPREMOTEIP: '10.24.0.1', QGREY_LISTDIR: '/elsewhere' })), /^qgreyd1 local\nanother list directory: /);
    assert.match(await ask(qd.port, request({ TCPREMOTEIP: '10.24.0.1', JGREYLIST_BY_IP: '1' })), /^qgreyd1 local\nanother layout/);
    assert.match(await ask(qd.port, request({ TCPREMOTEIP: '10.24.0.1', JGREYLIST_LIMIT: '3' })), /^qgreyd1 local\nits own dialogue/);
    assert.match(await ask(qd.port, request({ TCPREMOTEIP: '10.24.0.1', PATH: '/nonexistent' })), /^qgreyd1 local\nno rblsmtpd on PATH\n/);
    assert.ok(!existsSync(join(TREE, '010/024')), 'nothing decided');
  });
  it("rblsmtpd on a request's PATH: found again within a second of going, and at once after SIGHUP", async () => {
    // a PATH of its own whose rblsmtpd is a link to the real one, then gone
    const bin = join(tmp.path, 'rbl-bin');
    mkdirSync(bin);
    const real = spawnSync('sh', ['-c', 'command -v rblsmtpd'], { encoding: 'utf8', env: { PATH: serverPath() } }).stdout.trim();
    assert.ok(real.startsWith('/'), 'rblsmtpd is installed');
    symlinkSync(real, join(bin, 'rblsmtpd'));
    const path = `${bin}:/nonexistent`;
    assert.match(await ask(qd.port, request({ TCPREMOTEIP: '10.25.0.1', PATH: path })), new RegExp(`^qgreyd1 rbl\\n60\\n${bin}/rblsmtpd\\n`));
    rmSync(join(bin, 'rblsmtpd'));
    await sleep(1100);
    assert.match(await ask(qd.port, request({ TCPREMOTEIP: '10.25.0.2', PATH: path })), /^qgreyd1 local\nno rblsmtpd on PATH\n/);
    symlinkSync(real, join(bin, 'rblsmtpd'));
    const hups = (qd.log.match(/^qgreyd: SIGHUP: /gm) ?? []).length;
    qd.proc.kill('SIGHUP');
    await qd.waitFor(new RegExp(`(?:^qgreyd: SIGHUP: [^\\n]*\\n[^]*){${hups + 1}}`, 'm'));
    assert.match(await ask(qd.port, request({ TCPREMOTEIP: '10.25.0.3', PATH: path })), new RegExp(`^qgreyd1 rbl\\n60\\n${bin}/rblsmtpd\\n`));
  });
});

describe('bin/qgreylist with qgreyd', () => {
  it('values cannot inject variables: LF, CR and % travel as data', async () => {
    const host = 'evil.example\nRELAYCLIENT=\nJGREYLIST=%0A\r';
    const r = qgreylist({ TCPREMOTEIP: '10.30.0.1', TCPREMOTEHOST: host, JGREYLIST_NOREV: 'x%0ARELAYCLIENT=' });
    assert.equal(r.stderr, `qgreylist[${/\[([0-9]+)\]/.exec(r.stderr)![1]}]: 10.30.0.1: GREY first time\n`);
    await qd.waitFor(': 10.30.0.1: GREY first time');
    assert.match(r.stdout, /^220 rblsmtpd\.local\n451 GREYLIST/);
  });
  it('the deny text is the same with and without qgreyd (%, UTF-8, non-ASCII bytes)', async () => {
    const text = 'Go 100% away é % and %25 \x01';
    const a = qgreylist({ TCPREMOTEIP: '10.31.0.1', JGREYLIST: text });
    const b = qgreylist({ TCPREMOTEIP: '10.31.0.1', JGREYLIST: text, QGREY_SERVER: '' });
    assert.equal(a.stdout, b.stdout);
    assert.match(a.stdout, /^220 rblsmtpd\.local\n553 DENIED Go 10010\.31\.0\.1 away \? % and %25 \?\n/);
    assert.equal(a.stderr.replace(/\[[0-9]+\]/, ''), b.stderr.replace(/\[[0-9]+\]/, ''));
    await qd.waitFor(': 10.31.0.1: DENY blacklisted');
  });
  it('a list changed under a running qgreyd counts from the next connection; SIGHUP reads again', async () => {
    assert.match(qgreylist({ TCPREMOTEIP: '10.32.0.1' }).stderr, /: 10\.32\.0\.1: GREY first time\n$/);
    const tmpList = join(LISTS, '.whitelist.tmp');
    writeFileSync(tmpList, '10.32.0.0/16 never manual\n');
    renameSync(tmpList, join(LISTS, 'whitelist'));
    const r = qgreylist({ TCPREMOTEIP: '10.32.0.2' });
    assert.match(r.stderr, /: 10\.32\.0\.2: OK whitelisted\n$/);
    assert.equal(r.stdout, 'passed\n');
    await qd.waitFor(new RegExp(`^qgreyd: read ${join(LISTS, 'whitelist')}: 1 entries$`, 'm'));
    writeFileSync(join(LISTS, 'blacklist'), '10.32.0.3 never manual "No %"\n');
    assert.match(qgreylist({ TCPREMOTEIP: '10.32.0.3' }).stdout, /^220 rblsmtpd\.local\n553 DENIED No 10\.32\.0\.3\n/);
    qd.proc.kill('SIGHUP');
    await qd.waitFor(/^qgreyd: SIGHUP: the lists and the secret will be read again$/m);
    assert.match(qgreylist({ TCPREMOTEIP: '10.32.0.4' }).stderr, /: 10\.32\.0\.4: OK whitelisted\n$/);
  });
  it('a qgreyd that never answers: the fallback after QGREY_SERVER_TIMEOUT, logged, same answer', async () => {
    const mute: NetServer = createServer(() => {});
    await new Promise<void>((r) => mute.listen(0, '127.0.0.1', r));
    const port = (mute.address() as import('node:net').AddressInfo).port;
    try {
      const t0 = Date.now();
      const r = await new Promise<{ stdout: string; stderr: string }>((resolve) => {
        const p = spawn(QGREYLIST, ['/bin/echo', 'passed'], { env: { PATH: serverPath(), JGREYLIST_DIR: TREE, QGREY_LISTDIR: LISTS, QGREY_SECRET: qd.secretFile, QGREY_SERVER: `127.0.0.1:${port}`, QGREY_SERVER_TIMEOUT: '0.3', TCPREMOTEIP: '10.33.0.1' } });
        let stdout = '';
        let stderr = '';
        p.stdout.setEncoding('latin1').on('data', (s: string) => (stdout += s));
        p.stderr.setEncoding('latin1').on('data', (s: string) => (stderr += s));
        p.stdin.end('QUIT\r\n');
        p.on('close', () => resolve({ stdout, stderr }));
      });
      assert.ok(Date.now() - t0 >= 300);
      assert.match(r.stderr, new RegExp(`^qgreylist\\[[0-9]+\\]: 10\\.33\\.0\\.1: qgreyd: fallback: no answer from 127\\.0\\.0\\.1:${port} within 0\\.3s; deciding here\\nqgreylist\\[[0-9]+\\]: 10\\.33\\.0\\.1: GREY first time\\n$`));
      assert.match(r.stdout, /^220 rblsmtpd\.local\r\n221 rblsmtpd\.local\r\n$/);
    } finally {
      mute.close();
    }
  });
  it('no qgreyd listening: the fallback at once; no secret file: qgreyd is not asked, nothing logged about it', () => {
    const r = qgreylist({ TCPREMOTEIP: '10.34.0.1', QGREY_SERVER: '127.0.0.1:1' });
    assert.match(r.stderr, /^qgreylist\[[0-9]+\]: 10\.34\.0\.1: qgreyd: fallback: unable to connect to 127\.0\.0\.1:1; deciding here\nqgreylist\[[0-9]+\]: 10\.34\.0\.1: GREY first time\n$/);
    const n = qgreylist({ TCPREMOTEIP: '10.34.0.2', QGREY_SECRET: join(tmp.path, 'no-such-secret') });
    assert.match(n.stderr, /^qgreylist\[[0-9]+\]: 10\.34\.0\.2: GREY too soon\n$/);
  });
  it('qgreyd named by a host name is asked too (the compiled client leaves the name to bin/qgreylist)', async () => {
    const port = qd.clientEnv.QGREY_SERVER!.replace(/^.*:/, '');
    const r = qgreylist({ TCPREMOTEIP: '10.35.0.3', QGREY_SERVER: `localhost:${port}` });
    assert.match(r.stderr, /^qgreylist\[[0-9]+\]: 10\.35\.0\.3: GREY first time\n$/);
    await qd.waitFor(/: 10\.35\.0\.3: GREY first time$/m);
  });
});

it('qgreyd(8) and --help name every variable qgreyd reads', () => {
  const page = readFileSync(join(ROOT, 'man/qgreyd.8'), 'utf8');
  const documented = new Set([...page.matchAll(/^\.It Ev ([A-Z0-9_]+)/gm)].map((m) => m[1]!));
  const read = envVarsRead('src/server/qgreyd.ts').vars;
  assert.ok(read.size >= 7 && read.has('JGREYLIST_DIR') && read.has('QGREY_RCPT_DIR'), [...read].join(' '));
  const help = startFails({}, ['--help']).stdout;
  assert.deepEqual([...read].filter((v) => !documented.has(v) || !help.includes(v)).sort(), []);
});
