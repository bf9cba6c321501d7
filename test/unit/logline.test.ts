// The line parser on every line kind of FORMATS.md §6 and on hostile input; acceptedFacts
// must say what parseBody says on every line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { acceptedFacts, eventIp, isAccepted, isEvictable, parseBody, parsePrefix, type LogEvent, type QlogEvent } from '../../src/core/logline.js';
import { formatIp } from '../../src/core/ip.js';
import { Zone } from '../../src/core/zone.js';
import { FIXTURES } from '../helpers/util.js';

const ipText = (e: LogEvent) => {
  const ip = eventIp(e);
  return ip ? formatIp(ip) : null;
};

/** acceptedFacts(body) is exactly the accepted part of parseBody(body). */
function agree(body: string): void {
  const e = parseBody(body);
  const f = acceptedFacts(body);
  if (!isAccepted(e)) {
    assert.equal(f, null, `acceptedFacts took a line parseBody does not accept: ${JSON.stringify(body)}`);
    return;
  }
  assert.ok(f, `acceptedFacts missed an accepted line: ${JSON.stringify(body)}`);
  assert.deepEqual(f, { kind: e.kind, remoteip: e.remoteip, ip: e.ip, relay: e.relay, authuser: e.authuser }, JSON.stringify(body));
}

const ENV =
  'qlogenvelope: result=accepted code=250 reason=rcptto detail=chkuser helo=mail.sender.example mailfrom=alice@sender.example rcptto=bob@example.org relay=no rcpthosts=yes size= authuser= authtype= encrypted= sslverified=no localip=192.0.2.10 localport=25 remoteip=203.0.113.45 remoteport=51234 remotehost=mail.sender.example qp= pid=5373';
const REC =
  'qlogreceived: result=accepted code=250 reason=queueaccept detail= helo=mail.sender.example mailfrom=alice@sender.example rcptto=bob@example.org relay=no rcpthosts= size=17 authuser= authtype= encrypted= sslverified=no localip=192.0.2.10 localport=25 remoteip=203.0.113.45 remoteport=51234 remotehost=mail.sender.example qp=5374 pid=5373';

test('qlogenvelope and qlogreceived: every key', () => {
  const e = parseBody(ENV) as QlogEvent;
  assert.equal(e.kind, 'qlogenvelope');
  assert.equal(e.result, 'accepted');
  assert.equal(e.code, '250');
  assert.equal(e.reason, 'rcptto');
  assert.equal(e.detail, 'chkuser');
  assert.equal(e.helo, 'mail.sender.example');
  assert.equal(e.mailfrom, 'alice@sender.example');
  assert.equal(e.rcptto, 'bob@example.org');
  assert.equal(e.relay, false);
  assert.equal(e.rcpthosts, 'yes');
  assert.equal(e.size, '');
  assert.equal(e.authuser, '');
  assert.equal(e.sslverified, 'no');
  assert.equal(e.sslproto, undefined);
  assert.equal(e.localip, '192.0.2.10');
  assert.equal(e.localport, '25');
  assert.equal(e.remoteip, '203.0.113.45');
  assert.equal(formatIp(e.ip!), '203.0.113.45');
  assert.equal(e.remoteport, '51234');
  assert.equal(e.remotehost, 'mail.sender.example');
  assert.equal(e.qp, '');
  assert.equal(e.pid, 5373);
  assert.ok(isAccepted(e));
  const r = parseBody(REC) as QlogEvent;
  assert.equal(r.kind, 'qlogreceived');
  assert.equal(r.size, '17');
  assert.equal(r.qp, '5374');
  assert.equal(r.rcpthosts, '');
  agree(ENV);
  agree(REC);
});

test('qlog: rejections are not accepted; relay and auth lines keep their facts', () => {
  const rej = ENV.replace('result=accepted code=250 reason=rcptto detail=chkuser', 'result=rejected code=553 reason=chkuser detail=notinrcpthosts');
  const e = parseBody(rej) as QlogEvent;
  assert.equal(e.kind, 'qlogenvelope');
  assert.equal(e.result, 'rejected');
  assert.ok(!isAccepted(e));
  assert.equal(acceptedFacts(rej), null);
  const auth = REC.replace('relay=no', 'relay=yes').replace('authuser= authtype=', 'authuser=bob@example.org authtype=plain');
  assert.deepEqual(acceptedFacts(auth), { kind: 'qlogreceived', remoteip: '203.0.113.45', ip: parseBody(auth).kind === 'other' ? null : (parseBody(auth) as QlogEvent).ip, relay: true, authuser: 'bob@example.org' });
  agree(auth);
});

test('qlog: a trailing CR (old logs), an sslproto= key, encrypted=tls, IPv6 and ::ffff: addresses', () => {
  const cr = REC + '\r';
  const e = parseBody(cr) as QlogEvent;
  assert.equal(e.kind, 'qlogreceived');
  assert.equal(e.pid, 5373);
  agree(cr);
  const ssl = ENV.replace('encrypted= sslverified=no', 'encrypted=tls sslverified=yes sslproto=TLSv1.3');
  const s = parseBody(ssl) as QlogEvent;
  assert.equal(s.encrypted, 'tls');
  assert.equal(s.sslverified, 'yes');
  assert.equal(s.sslproto, 'TLSv1.3');
  assert.equal(s.localip, '192.0.2.10');
  agree(ssl);
  const v6 = ENV.replace('remoteip=203.0.113.45', 'remoteip=2001:db8::25').replace('localip=192.0.2.10', 'localip=2001:db8::10');
  assert.equal(ipText(parseBody(v6)), '2001:db8::25');
  agree(v6);
  const mapped = ENV.replace('remoteip=203.0.113.45', 'remoteip=::ffff:198.51.100.7');
  const m = parseBody(mapped) as QlogEvent;
  assert.equal(m.remoteip, '::ffff:198.51.100.7');
  assert.equal(ipText(m), '198.51.100.7');
  agree(mapped);
});

test('qlog: the historic outofmemory reason and the old received line of FORMATS §6.7', () => {
  const a = parseBody(
    'qlogenvelope: result=rejected code=421 reason=outofmemory detail= helo=unknown mailfrom= rcptto= relay=no rcpthosts= size= authuser= authtype= encrypted= sslverified=no localip=192.0.2.10 localport=25 remoteip=198.51.100.9 remoteport=40000 remotehost= qp= pid=4242',
  ) as QlogEvent;
  assert.equal(a.reason, 'outofmemory');
  assert.equal(a.code, '421');
  assert.equal(a.remotehost, '');
  const b =
    'qlogreceived: result=accepted code=250 reason=queueaccept detail= helo=mx.example mailfrom=a@b.example rcptto=c@example.org relay=no rcpthosts= size=812 authuser= authtype= encrypted= sslverified=no localip=192.0.2.10 localport=25 remoteip=198.51.100.9 remoteport=40000 remotehost= qp=4250 pid=4242\r';
  assert.equal(parseBody(b).kind, 'qlogreceived');
  agree(b);
});

test('qlog: SMTPUTF8 spaces and raw UTF-8 in client values', () => {
  const body =
    'qlogenvelope: result=accepted code=250 reason=rcptto detail=chkuser helo=bad helo x mailfrom=ü@sender.example rcptto=bob@example.org relay=no rcpthosts=yes size= authuser= authtype= encrypted= sslverified=no localip=192.0.2.10 localport=25 remoteip=198.51.100.6 remoteport=41011 remotehost= qp= pid=5700';
  const e = parseBody(body) as QlogEvent;
  assert.equal(e.helo, 'bad helo x');
  assert.equal(e.mailfrom, 'ü@sender.example');
  assert.equal(e.remoteip, '198.51.100.6');
  agree(body);
});

test('acceptedFacts = parseBody on lines crafted to carry key-like text in client values', () => {
  const fakeTail = ' relay=yes rcpthosts=yes size= authuser=evil authtype= encrypted= sslverified=no localip=1.1.1.1 localport=25 remoteip=6.6.6.6 remoteport=1 remotehost= qp= pid=1';
  const crafted = [
    ENV.replace('helo=mail.sender.example', 'helo=h remoteip=1.2.3.4 x'),
    ENV.replace('helo=mail.sender.example', 'helo=h relay=yes x'),
    ENV.replace('helo=mail.sender.example', 'helo=h mailfrom=x rcptto=y' + fakeTail.replace(' qp= pid=1', ' remotehost=')),
    ENV.replace('mailfrom=alice@sender.example', 'mailfrom=a relay=yes rcpthosts=yes size= authuser=x authtype= b'),
    ENV.replace('rcptto=bob@example.org', 'rcptto=bob@example.org relay=yes rcpthosts=yes size= authuser='),
    ENV.replace('rcptto=bob@example.org', 'rcptto=b' + fakeTail),
    ENV.replace('helo=mail.sender.example', 'helo=' + fakeTail),
    ENV.replace('authuser= authtype=', 'authuser=x remoteip=6.6.6.6 authtype=plain'),
    ENV.replace('authuser= authtype=', 'authuser=x relay=yes rcpthosts= size= authuser=y authtype=plain'),
    ENV.replace('detail=chkuser', 'detail=a helo=b mailfrom=c rcptto=d'),
    ENV.replace('helo=mail.sender.example', 'helo=a\rb'),
    ENV.replace('helo=mail.sender.example', 'helo=a\u2028b c'),
    ENV.replace('helo=mail.sender.example', 'helo=a\u00a0b'),
    ENV.replace('remotehost=mail.sender.example', 'remotehost=a b'),
    ENV.replace('reason=rcptto detail=chkuser helo=mail.sender.example mailfrom=alice@sender.example rcptto=bob@example.org', 'garbage'),
    ENV.replace(' helo=mail.sender.example', ''),
    ENV.replace('remoteip=203.0.113.45', 'remoteip=../../x'),
    ENV.replace('relay=no', 'relay=maybe'),
    ENV.replace('pid=5373', 'pid='),
    ENV.replace('localport=25', 'localport=2x5'),
    ENV + ' ',
    ENV + '\r\r',
    ENV.replace('code=250', 'code=2500'),
    ENV.replace('qlogenvelope', 'qlogenvelopes'),
    ENV.replace('qlogenvelope:', 'qlogenvelope;'),
  ];
  for (const b of crafted) agree(b);
  // the real keys are the rightmost ones: a client cannot choose its address or relay flag
  const e1 = acceptedFacts(crafted[2]!)!;
  assert.equal(e1.remoteip, '203.0.113.45');
  assert.equal(e1.relay, false);
  assert.equal(acceptedFacts(crafted[4]!)!.relay, false);
  assert.equal(acceptedFacts(crafted[5]!)!.remoteip, '203.0.113.45');
  assert.equal(acceptedFacts(crafted[14]!), null);
  const bad = acceptedFacts(crafted[16]!)!;
  assert.equal(bad.remoteip, '../../x');
  assert.equal(bad.ip, null);
});

test('acceptedFacts = parseBody on every line of the real captures', () => {
  const zone = new Zone('UTC');
  for (const name of ['qlog_sample_raw.log', 'live_pipeline_current.log']) {
    const text = readFileSync(join(FIXTURES, 'logs', name), 'utf8');
    let accepted = 0;
    for (const line of text.split('\n').filter(Boolean)) {
      const p = parsePrefix(line, zone);
      assert.equal(p.type, 'tai64n', line);
      const body = line.slice(p.type === 'tai64n' ? p.body : 0);
      agree(body);
      if (acceptedFacts(body)) accepted++;
    }
    assert.ok(accepted > 0, name);
  }
});

test('GREETDELAY variants', () => {
  const d = parseBody('qmail-smtpd[5401]: GREETDELAY from 198.51.100.78: client disconnected');
  assert.deepEqual({ ...d, ip: ipText(d) }, { kind: 'greetdelay', pid: 5401, remoteip: '198.51.100.78', ip: '198.51.100.78', what: 'disconnected', text: 'client disconnected' });
  assert.ok(isEvictable(d));
  const p = parseBody('qmail-smtpd[5398]: GREETDELAY from 198.51.100.77: client sent data before greeting');
  assert.equal(p.kind === 'greetdelay' && p.what, 'pregreet');
  assert.ok(!isEvictable(p));
  const i = parseBody('qmail-smtpd[5398]: GREETDELAY from 198.51.100.77: client sent data before greeting (ignored)');
  assert.equal(i.kind === 'greetdelay' && i.what, 'pregreet-ignored');
  const e = parseBody('qmail-smtpd[5398]: GREETDELAY from 198.51.100.77: read error');
  assert.equal(e.kind === 'greetdelay' && e.what, 'error');
  // the delay announcement carries no address
  assert.equal(parseBody('qmail-smtpd[5398]: GREETDELAY: 2s').kind, 'other');
  const v6 = parseBody('qmail-smtpd[9]: GREETDELAY from 2001:db8::7: client disconnected');
  assert.equal(ipText(v6), '2001:db8::7');
});

test('read failed: the three historic wordings and the null session', () => {
  const tail = ': (null) from 198.51.100.99 to (null) helo unknown';
  const cases: [string, string][] = [
    ['qmail-smtpd: read failed (connection closed by the client before the quit cmd)' + tail, 'closed-before-quit'],
    ['qmail-smtpd: read failed (hang up before quit cmd)' + tail, 'hang-up-before-quit'],
    ['qmail-smtpd: read failed' + tail, 'plain'],
  ];
  for (const [line, wording] of cases) {
    const e = parseBody(line);
    assert.equal(e.kind, 'readfailed', line);
    if (e.kind !== 'readfailed') continue;
    assert.equal(e.wording, wording);
    assert.equal(e.mailfrom, '');
    assert.equal(e.to, '');
    assert.equal(e.helo, 'unknown');
    assert.equal(ipText(e), '198.51.100.99');
    assert.equal(e.nullSession, true);
    assert.ok(isEvictable(e));
  }
  const helo = parseBody('qmail-smtpd: read failed (connection closed by the client before the quit cmd): (null) from 192.0.2.200 to (null) helo scanner');
  assert.equal(helo.kind === 'readfailed' && helo.nullSession, false);
  const sender = parseBody('qmail-smtpd: read failed: a@b.example from 198.51.100.99 to c@example.org helo unknown');
  assert.ok(sender.kind === 'readfailed' && !sender.nullSession && sender.mailfrom === 'a@b.example' && sender.to === 'c@example.org');
  const other = parseBody('qmail-smtpd: read failed (something new): (null) from 198.51.100.99 to (null) helo unknown');
  assert.ok(other.kind === 'readfailed' && other.wording === 'other' && !other.nullSession);
  assert.equal(parseBody('qmail-smtpd: timeout: (null) from 198.51.100.150 to (null) helo slow.example').kind, 'other');
});

test('decision lines: jgreylist, greylist and qgreylist, with and without [pid]', () => {
  const d = (line: string) => {
    const e = parseBody(line);
    assert.equal(e.kind, 'decision', line);
    return e.kind === 'decision' ? { program: e.program, pid: e.pid, remoteip: e.remoteip, ip: ipText(e), decision: e.decision, detail: e.detail } : null;
  };
  assert.deepEqual(d('jgreylist[5798]: 127.0.0.2: GREY first time'), { program: 'jgreylist', pid: 5798, remoteip: '127.0.0.2', ip: '127.0.0.2', decision: 'GREY first time', detail: undefined });
  assert.equal(d('jgreylist[5840]: 127.0.0.3: GREY too soon')!.decision, 'GREY too soon');
  assert.equal(d('jgreylist[5883]: 127.0.0.4: OK known')!.decision, 'OK known');
  assert.equal(d('jgreylist[5928]: 127.0.0.9: OK whitelisted')!.decision, 'OK whitelisted');
  assert.equal(d('jgreylist[5928]: 127.0.0.9: OK relayclient')!.decision, 'OK relayclient');
  assert.equal(d('jgreylist[5973]: 127.0.0.8: DENY blacklisted')!.decision, 'DENY blacklisted');
  assert.equal(d('jgreylist[11873]: 7.7.7.7: DENY no reverse DNS')!.decision, 'DENY no reverse DNS');
  assert.equal(d('jgreylist[11879]: 8.8.8.8: HANGUP too many RCPT commands')!.decision, 'HANGUP too many RCPT commands');
  assert.deepEqual(d('jgreylist: 10.0.0.1: GREY first time'), { program: 'jgreylist', pid: null, remoteip: '10.0.0.1', ip: '10.0.0.1', decision: 'GREY first time', detail: undefined });
  assert.deepEqual(d('greylist[11891]: 12.0.0.1: GREY first time')!.program, 'greylist');
  assert.deepEqual(d('jgreylist[14490]: ::ffff:1.2.3.4: GREY first time')!.ip, '1.2.3.4');
  assert.deepEqual(d('qgreylist[7]: 192.0.2.7: FAIL open: tree unreadable'), { program: 'qgreylist', pid: 7, remoteip: '192.0.2.7', ip: '192.0.2.7', decision: 'FAIL open', detail: 'tree unreadable' });
  assert.deepEqual(d('qgreylist: 2001:db8::9: HANGUP client closed')!.ip, '2001:db8::9');
  // trace and error lines are not decisions
  for (const line of [
    'jgreylist: >>> 220 jgreylist v8',
    'jgreylist: <<< ehlo foo.example\r',
    'greylist[11891]: >>> 220 greylist',
    'jgreylist[14534]: >>>450 GREYLIST Try again later.',
    'jgreylist[17695]: JGREYLIST_DIR is not set',
    'jgreylist[13343]: /var/qmail/jgreylist/001/002/003/004: Not a directory',
    'jgreylist[1]: 1.2.3.4: OK maybe',
  ]) {
    const e = parseBody(line);
    assert.equal(e.kind, 'other', line);
  }
  // the CR of a trace line is not part of its text
  assert.deepEqual(parseBody('jgreylist: <<< ehlo foo.example\r'), { kind: 'other', text: 'jgreylist: <<< ehlo foo.example' });
  // an address that is not one is kept as text but never validated
  const bad = parseBody('jgreylist[1]: ../../x: GREY first time');
  assert.ok(bad.kind === 'decision' && bad.remoteip === '../../x' && bad.ip === null);
});

test('rblsmtpd lines', () => {
  const a = parseBody('rblsmtpd: 192.0.2.55 pid 1018: 553 Blocked: see http://example.org/?192.0.2.55');
  assert.deepEqual({ ...a, ip: ipText(a) }, { kind: 'rblsmtpd', remoteip: '192.0.2.55', ip: '192.0.2.55', pid: 1018, code: 553, text: 'Blocked: see http://example.org/?192.0.2.55' });
  const b = parseBody('rblsmtpd: 192.0.2.56 pid 1021: 451 temporarily blocked');
  assert.ok(b.kind === 'rblsmtpd' && b.code === 451 && b.text === 'temporarily blocked');
  assert.equal(parseBody('rblsmtpd: 192.0.2.56 pid 1021: 250 fine').kind, 'other');
});

test('tcpserver status, pid, ok, deny and end, IPv4 and IPv6 forms', () => {
  const t = (line: string) => {
    const e = parseBody(line);
    assert.equal(e.kind, 'tcpserver', line);
    return e.kind === 'tcpserver' ? { what: e.what, pid: e.pid, remoteip: e.remoteip, ip: ipText(e), status: e.status } : null;
  };
  assert.deepEqual(t('tcpserver: status: 0/20'), { what: 'status', pid: null, remoteip: '', ip: null, status: null });
  assert.deepEqual(t('tcpserver: status: 0/200/0')!.what, 'status');
  assert.deepEqual(t('tcpserver: pid 5798 from 127.0.0.2'), { what: 'pid', pid: 5798, remoteip: '127.0.0.2', ip: '127.0.0.2', status: null });
  assert.deepEqual(t('tcpserver: pid 7 from 2001:db8::1')!.ip, '2001:db8::1');
  assert.deepEqual(t('tcpserver: ok 5798 :127.0.0.1:2525 :127.0.0.2::54223'), { what: 'ok', pid: 5798, remoteip: '127.0.0.2', ip: '127.0.0.2', status: null });
  assert.deepEqual(t('tcpserver: deny 6317 :127.0.0.1:2526 :127.0.0.7::58321'), { what: 'deny', pid: 6317, remoteip: '127.0.0.7', ip: '127.0.0.7', status: null });
  assert.deepEqual(t('tcpserver: ok 6175 :::1:25027 :::1::40929'), { what: 'ok', pid: 6175, remoteip: '::1', ip: '::1', status: null });
  assert.deepEqual(t('tcpserver: ok 6986 :::ffff:127.0.0.1:25029 :::ffff:127.0.0.1::40411'), { what: 'ok', pid: 6986, remoteip: '::ffff:127.0.0.1', ip: '127.0.0.1', status: null });
  assert.deepEqual(t('tcpserver: ok 1 mx.example.org:192.0.2.10:25 host.example:203.0.113.5:ident:1234')!.ip, '203.0.113.5');
  assert.deepEqual(t('tcpserver: end 6015 status 256'), { what: 'end', pid: 6015, remoteip: '', ip: null, status: 256 });
  assert.deepEqual(t('tcpserver: end 6317 status 25600')!.status, 25600);
  assert.equal(parseBody('tcpserver: fatal: unable to bind: address already used').kind, 'other');
});

test('everything else is other with its raw text', () => {
  for (const line of [
    'CHKUSER accepted rcpt: from <a@sender.example|remoteinfo/auth:|chkuser-identify:> remote <helo:client.example|remotehostname:unknown|remotehostip:127.0.0.4> rcpt <bob@example.org> : found existing recipient',
    'policy_check: policy allows transmission',
    'qmail-smtpd[5413]: badmailfrom: <spammer@bad.example> at 192.0.2.68',
    'qmail-smtpd: message too big: big@sender.example from 203.0.113.47 to bob@example.org helo big.sender.example',
    'fatal: out of memory',
    'status: local 0/500 remote 4/299',
    '',
    'q',
    'qlog',
  ]) {
    assert.deepEqual(parseBody(line), { kind: 'other', text: line });
  }
});

test('hostile input: binary junk, a 1 MB line, remoteip=../../x', () => {
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 255;
  for (let n = 0; n < 300; n++) {
    const len = rnd() * 4;
    let junk = '';
    for (let i = 0; i < len; i++) junk += String.fromCharCode(rnd());
    for (const line of [junk, 'qlogenvelope: result=accepted code=250 ' + junk, 'jgreylist[1]: ' + junk, 'tcpserver: ok 1 ' + junk, 'qmail-smtpd: read failed' + junk]) {
      const e = parseBody(line);
      assert.ok(e.kind.length > 0);
      agree(line);
      const ip = eventIp(e);
      if (ip) assert.ok(formatIp(ip).length > 0);
    }
  }
  const big = ENV.replace('helo=mail.sender.example', 'helo=' + 'x '.repeat(500_000));
  const t0 = Date.now();
  const e = parseBody(big) as QlogEvent;
  assert.equal(e.kind, 'qlogenvelope');
  assert.equal(e.remoteip, '203.0.113.45');
  agree(big);
  assert.equal(parseBody('y'.repeat(1 << 20)).kind, 'other');
  assert.ok(Date.now() - t0 < 5000, 'a 1 MB line takes linear time');
  for (const line of [
    ENV.replace('remoteip=203.0.113.45', 'remoteip=../../x'),
    'jgreylist[1]: ../../x: GREY first time',
    'qmail-smtpd[1]: GREETDELAY from ../../x: client disconnected',
    'qmail-smtpd: read failed: (null) from ../../x to (null) helo unknown',
    'rblsmtpd: ../../x pid 1: 451 no',
    'tcpserver: pid 1 from ../../x',
    'tcpserver: ok 1 :1.2.3.4:25 :../../x::1',
  ]) {
    const ev = parseBody(line);
    assert.notEqual(ev.kind, 'other', line);
    assert.equal(eventIp(ev), null, line);
  }
});

test('parsePrefix: labels, readable stamps (ns and ms), asctime, none, malformed', () => {
  const z = new Zone('UTC');
  const t = parsePrefix('@400000006b0279082bdbfd3c CHKUSER x', z);
  assert.ok(t.type === 'tai64n');
  assert.deepEqual(t.stamp, { sec: 0x6b027908 - 10, nsec: 0x2bdbfd3c });
  assert.equal(t.body, 26);
  const bad = (l: string) => {
    const p = parsePrefix(l, z);
    assert.equal(p.type, 'bad', l);
  };
  bad('@400000006B0279082bdbfd3c x'); // upper case
  bad('@400000006b0279082bdbfd3 x'); // 23 digits
  bad('@400000006b0279082bdbfd3c0 x'); // 25 digits
  bad('@4000 x'); // short
  bad('@'); // nothing
  bad('@zz');
  const r = parsePrefix('2026-11-22 05:09:18.735840500 qlogenvelope: x', z);
  assert.ok(r.type === 'local');
  assert.deepEqual(r.stamp, { sec: Date.UTC(2026, 10, 22, 5, 9, 18) / 1000, nsec: 735840500 });
  assert.equal(r.body, 30);
  const ms = parsePrefix('2026-11-22 05:09:18.735 tcpserver: status: 0/20', new Zone('Europe/Rome'));
  assert.ok(ms.type === 'local');
  assert.deepEqual(ms.stamp, { sec: Date.UTC(2026, 10, 22, 4, 9, 18) / 1000, nsec: 735000000 });
  const asc = parsePrefix('Sat Dec 19 03:02:51 2009  status: local 0/500 remote 0/299', z);
  assert.ok(asc.type === 'local');
  assert.equal(asc.stamp.sec, Date.UTC(2009, 11, 19, 3, 2, 51) / 1000);
  assert.equal(parsePrefix('tcpserver: status: 0/20', z).type, 'none');
  assert.equal(parsePrefix('2026-13-22 05:09:18.735840500 x', z).type, 'none');
});
