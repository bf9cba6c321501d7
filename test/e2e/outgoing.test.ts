// `qgrey whitelist outgoing` against real-shaped qmail-smtpd and qmail-send logs and a real DNS
// server (dnsmasq on a loopback port): which domains count, the exact entries, renewals,
// expiry, --state, and each guard.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { qgrey, run, tempDir, FIXTURES, ROOT } from '../helpers/util.js';
import { startDns, deadServer, RECORDS, type DnsServer } from './dns-server.js';
import { logs, qlog, write } from './outgoing-logs.js';

let dns: DnsServer;
before(async () => {
  dns = await startDns([
    ...RECORDS,
    // an IDN domain with MX hosts and no SPF record: bücher.test
    'mx-host=xn--bcher-kva.test,mx.xn--bcher-kva.test,10',
    'host-record=mx.xn--bcher-kva.test,192.0.2.77',
    'txt-record=partner.test,"v=spf1 ip4:198.51.100.128/26 -all"',
  ]);
});
after(async () => {
  await dns.stop();
});

const NOW = Math.floor(Date.now() / 1000);

const list = (dir: string) => (existsSync(join(dir, 'whitelist')) ? readFileSync(join(dir, 'whitelist'), 'utf8') : '');
const entries = (dir: string, source: string) =>
  list(dir)
    .split('\n')
    .filter((l) => l.split('\t')[2] === source)
    .map((l) => l.split('\t')[0]);
const expiry = (dir: string, source: string) => [...new Set(list(dir).split('\n').filter((l) => l.split('\t')[2] === source).map((l) => l.split('\t')[1]))];
const outSources = (dir: string) => [...new Set(list(dir).split('\n').map((l) => l.split('\t')[2]).filter((s): s is string => s !== undefined && s.startsWith('out:')))].sort();
const iso = (t: number) => new Date(t * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');

function locals(dir: string): string {
  const p = join(dir, 'rcpthosts');
  writeFileSync(p, 'ours.test\n.ours.test\nbackup.test\n');
  return p;
}

test('outgoing: relayed and authenticated recipients count, inbound lookalikes and bounces do not; SPF else MX; IDN and upper case', () => {
  using d = tempDir();
  const { smtpd, send } = logs(d.path);
  const t = NOW - 3600;
  write(join(smtpd, 'current'), [
    // relay (RELAYCLIENT from tcp.smtp): upper-case domain
    [t, qlog({ from: 'bob@ours.test', to: 'Someone@SPF.Test', relay: true, ip: '10.1.2.3' })],
    // authenticated, SMTPUTF8: an IDN recipient; the sender that counts is the authenticated user
    [t + 1, qlog({ kind: 'qlogreceived', from: 'carol.alias@ours.test', to: 'verlag@bücher.test,dave@ours.test', auth: 'carol@ours.test', qp: '7001' })],
    // inbound lookalikes: a backup-MX relay of a domain in rcpthosts, and a recipient at a remote domain on a non-relay session
    [t + 2, qlog({ from: 'news@stranger.test', to: 'user@backup.test', ip: '198.51.100.44' })],
    [t + 3, qlog({ kind: 'qlogreceived', from: 'alice@ours.test', to: 'x@redir.test', ip: '198.51.100.45', qp: '7010' })],
    // a bounce relayed from the office: empty sender
    [t + 4, qlog({ from: '', to: 'victim@long.test', relay: true, ip: '10.1.2.3' })],
    // rejected lines never count
    [t + 5, qlog({ from: 'bob@ours.test', to: 'x@macro.test', relay: true }).replace('result=accepted code=250', 'result=rejected code=553')],
    // an address literal and a single-label name are not domains
    [t + 6, qlog({ from: 'bob@ours.test', to: 'root@[192.0.2.1],admin@localhost', relay: true, ip: '10.1.2.3' })],
  ]);
  write(join(send, 'current'), [
    // a message injected locally (webmail, uid 1004): only qmail-send sees it
    [t + 10, 'new msg 1320'],
    [t + 10, 'info msg 1320: bytes 2210 from <erin@ours.test> qp 8801 uid 1004'],
    [t + 11, 'starting delivery 43: msg 1320 to remote ann@PARTNER.test'],
    [t + 11, 'starting delivery 44: msg 1320 to local ours.test-frank@ours.test'],
    [t + 12, 'delivery 43: success: 198.51.100.130_accepted_message./Remote_host_said:_250_ok/'],
    [t + 12, 'end msg 1320'],
    // inbound mail with a forged local sender, forwarded on: its qp is the inbound session's
    [t + 3, 'new msg 1330'],
    [t + 3, 'info msg 1330: bytes 900 from <alice@ours.test> qp 7010 uid 89'],
    [t + 4, 'starting delivery 45: msg 1330 to remote x@redir.test'],
    [t + 5, 'end msg 1330'],
    // a message of a stranger (a forward of inbound mail): not ours
    [t + 20, 'info msg 1340: bytes 900 from <someone@stranger.test> qp 9001 uid 1004'],
    [t + 21, 'starting delivery 46: msg 1340 to remote fwd@inc.test'],
    // a bounce qmail-send makes, to whoever the failed message claimed to be from
    [t + 30, 'bounce msg 1315 qp 8820'],
    [t + 30, 'info msg 1321: bytes 3012 from <> qp 8820 uid 82'],
    [t + 31, 'starting delivery 47: msg 1321 to remote spammer@two.test'],
    // qmail's double bounce
    [t + 40, 'info msg 1322: bytes 3012 from <#@[]> qp 8821 uid 82'],
    [t + 41, 'starting delivery 48: msg 1322 to remote postmaster@many.test'],
  ]);
  const env = { QGREY_LISTDIR: d.path, QGREY_DNS_SERVER: dns.server };
  const r = qgrey(['whitelist', 'outgoing', '--locals', locals(d.path), '--json', smtpd, send], { env });
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.deepEqual(
    j.domains.map((x: { domain: string; status: string; from: string; senders: number }) => [x.domain, x.status, x.from, x.senders]).sort(),
    [
      ['partner.test', 'whitelisted', 'spf', 1],
      ['spf.test', 'whitelisted', 'spf', 1],
      ['xn--bcher-kva.test', 'whitelisted', 'mx', 1],
    ],
  );
  assert.deepEqual(j.counts, { smtpdRecipients: 2, sendDeliveries: 1, inbound: 2, bounces: 3, ours: 1, badDomains: 2, sendForeign: 1, sendInbound: 1 });
  assert.deepEqual(outSources(d.path), ['out:partner.test', 'out:spf.test', 'out:xn--bcher-kva.test']);
  assert.deepEqual(entries(d.path, 'out:spf.test'), ['192.0.2.10', '192.0.2.20', '198.51.100.0/24', '203.0.113.0/25', '203.0.113.128/26', '2001:db8::10', '2001:db8:100::/48']);
  assert.deepEqual(entries(d.path, 'out:xn--bcher-kva.test'), ['192.0.2.77']);
  assert.deepEqual(entries(d.path, 'out:partner.test'), ['198.51.100.128/26']);
  const exp = expiry(d.path, 'out:spf.test');
  assert.equal(exp.length, 1);
  const at = Date.parse(exp[0]!) / 1000;
  assert.ok(Math.abs(at - (NOW + 8 * 86400)) < 120, `default expiry 8d: ${exp[0]}`);
  assert.match(list(d.path), /^192\.0\.2\.77\t\S+\tout:xn--bcher-kva\.test\t# mx mx\.xn--bcher-kva\.test$/m);
  assert.match(list(d.path), /^203\.0\.113\.128\/26\t\S+\tout:spf\.test\t# spf include:inc\.test include:inc2\.test ip4:203\.0\.113\.128\/26$/m);
  // the wrapper's lookup sees them
  assert.equal(qgrey(['whitelist', 'lookup', '198.51.100.150'], { env }).stdout, `WHITE|198.51.100.150|198.51.100.128/26|${exp[0]}|out:partner.test||spf ip4:198.51.100.128/26\n`);

  // without --locals: qmail-send lines never count, our own domain is just a domain
  using e = tempDir();
  const r2 = qgrey(['whitelist', 'outgoing', '--dry-run', '--json', smtpd, send], { env: { ...env, QGREY_LISTDIR: e.path } });
  assert.equal(r2.code, 0, r2.stderr);
  const j2 = JSON.parse(r2.stdout);
  assert.deepEqual(j2.domains.map((x: { domain: string }) => x.domain).sort(), ['ours.test', 'spf.test', 'xn--bcher-kva.test']);
  assert.equal(j2.counts.sendDeliveries, 0);
  assert.equal(list(e.path), '', 'a dry run writes nothing');
});

test('outgoing: a re-run replaces the source and renews the expiry; a domain no longer written to is left to expire; --state reads only new lines', () => {
  using d = tempDir();
  const { smtpd } = logs(d.path);
  const env = { QGREY_LISTDIR: d.path, QGREY_DNS_SERVER: dns.server };
  const state = join(d.path, 'outgoing.state');
  const soon = iso(NOW + 3600);
  writeFileSync(
    join(d.path, 'whitelist'),
    [
      `192.0.2.250\t${soon}\tout:partner.test\t# an address partner.test no longer uses`,
      `198.18.9.0/24\t${soon}\tout:old.test\t# nobody writes there any more`,
      `198.18.8.0/24\t2020-01-01T00:00:00Z\tout:gone.test\t# expired`,
      `192.0.2.1\tnever\tmanual`,
      '',
    ].join('\n'),
  );
  write(join(smtpd, 'current'), [
    [NOW - 40 * 86400, qlog({ from: 'bob@ours.test', to: 'a@old.test', relay: true })],
    [NOW - 7200, qlog({ from: 'bob@ours.test', to: 'a@partner.test', relay: true })],
  ]);
  const r = qgrey(['whitelist', 'outgoing', '--until', '2d', '--state', state, smtpd], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^whitelist out:partner\.test: 1 entry from SPF \(1 added, 1 removed, 0 kept\)$/m);
  assert.match(r.stdout, /^whitelist outgoing: 1 domain written to by local senders in 30d \(1 qmail-smtpd recipient, 0 qmail-send deliveries; 2 lines in 1 file\): 1 whitelisted$/m);
  assert.deepEqual(entries(d.path, 'out:partner.test'), ['198.51.100.128/26']);
  const e1 = Date.parse(expiry(d.path, 'out:partner.test')[0]!) / 1000;
  assert.ok(Math.abs(e1 - (NOW + 2 * 86400)) < 120);
  // not written to inside --since: untouched, it expires at its own time
  assert.match(list(d.path), new RegExp(`^198\\.18\\.9\\.0/24\\t${soon}\\tout:old\\.test\\t`, 'm'));
  assert.match(list(d.path), /^192\.0\.2\.1\tnever\tmanual$/m);
  assert.equal(qgrey(['whitelist', 'lookup', '198.18.8.1'], { env }).stdout, 'NONE|198.18.8.1|||||\n');
  assert.ok(existsSync(state));

  // next run: new lines only; partner.test is remembered from the state and renewed
  write(join(smtpd, 'current'), [[NOW - 60, qlog({ from: 'bob@ours.test', to: 'b@redir.test', auth: 'bob@ours.test' })]], true);
  const r2 = qgrey(['whitelist', 'outgoing', '--until', '3d', '--state', state, smtpd], { env });
  assert.equal(r2.code, 0, r2.stderr);
  assert.match(r2.stdout, /^whitelist out:partner\.test: 1 entry from SPF \(0 added, 0 removed, 1 kept\)$/m);
  assert.match(r2.stdout, /^whitelist out:redir\.test: 2 entries from SPF \(2 added, 0 removed, 0 kept\)$/m);
  assert.match(r2.stdout, /\(1 qmail-smtpd recipient, 0 qmail-send deliveries; 1 line in 1 file\)/);
  const e2 = Date.parse(expiry(d.path, 'out:partner.test')[0]!) / 1000;
  assert.ok(Math.abs(e2 - (NOW + 3 * 86400)) < 120, 'renewed');
  assert.ok(e2 > e1);

  // -q: nothing on stdout; the same run again changes nothing but the expiry
  const r3 = qgrey(['whitelist', 'outgoing', '-q', '--until', '3d', '--state', state, smtpd], { env });
  assert.equal(r3.code, 0, r3.stderr);
  assert.equal(r3.stdout, '');
  assert.deepEqual(outSources(d.path), ['out:gone.test', 'out:old.test', 'out:partner.test', 'out:redir.test']);
});

test('outgoing guards: --min-senders, --max-domains, --skip (and its old entries go), wide and private networks, our own domains', () => {
  using d = tempDir();
  const { smtpd } = logs(d.path);
  const env = { QGREY_LISTDIR: d.path, QGREY_DNS_SERVER: dns.server };
  const t = NOW - 3600;
  write(join(smtpd, 'current'), [
    [t, qlog({ from: 'bob@ours.test', to: 'a@partner.test', relay: true })],
    [t + 1, qlog({ from: 'x@ours.test', to: 'a@partner.test', auth: 'carol@ours.test' })],
    [t + 2, qlog({ from: 'bob@ours.test', to: 'b@spf.test', relay: true })],
    [t + 3, qlog({ from: 'Bob@OURS.test', to: 'c@spf.test', relay: true })],
    [t + 4, qlog({ from: 'bob@ours.test', to: 'a@wide.test,b@mail.ours.test', relay: true })],
    [t + 5, qlog({ from: 'dave@ours.test', to: 'a@wide.test', relay: true })],
    [t + 6, qlog({ from: 'erin@ours.test', to: 'z@sub.skip.test', relay: true })],
  ]);
  writeFileSync(join(d.path, 'whitelist'), `192.0.2.44\tnever\tout:sub.skip.test\n192.0.2.45\tnever\tout:ours.test\n`);
  const json = (args: string[]) => {
    const r = qgrey(['whitelist', 'outgoing', '--dry-run', '--json', ...args, smtpd], { env });
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    return Object.fromEntries(j.domains.map((x: { domain: string; status: string }) => [x.domain, x.status]));
  };
  // a sender counts once, whatever the case of the address; carol counts as her login
  assert.deepEqual(json(['--min-senders', '2']), { 'partner.test': 'whitelisted', 'wide.test': 'whitelisted', 'spf.test': 'below', 'mail.ours.test': 'below', 'sub.skip.test': 'below' });
  // most senders first, then the most recent
  assert.deepEqual(json(['--max-domains', '2']), { 'wide.test': 'whitelisted', 'partner.test': 'whitelisted', 'spf.test': 'over', 'mail.ours.test': 'over', 'sub.skip.test': 'over' });

  const r = qgrey(['whitelist', 'outgoing', '--skip', 'skip.test,spf.test', '--locals', locals(d.path), smtpd], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(outSources(d.path), ['out:partner.test', 'out:wide.test']);
  assert.match(r.stdout, /^whitelist out:sub\.skip\.test: removed \(skipped or one of ours\)$/m);
  assert.match(r.stdout, /^whitelist out:ours\.test: removed \(skipped or one of ours\)$/m);
  // wide.test: 10.0.0.0/8 is private, 20.0.0.0/8 wider than whitelist spf's /12: neither goes in
  assert.deepEqual(entries(d.path, 'out:wide.test'), ['198.51.100.7']);
  // known, expected conditions: after the summary on stdout, not warnings (left out with -q)
  assert.match(r.stdout, /^out:wide\.test: ip4:20\.0\.0\.0\/8: 20\.0\.0\.0\/8 is wider than \/12: not whitelisted$/m);
  assert.match(r.stdout, /^out:wide\.test: ip4:10\.0\.0\.0\/8: 10\.0\.0\.0\/8 is wider than \/12: not whitelisted$/m);
  assert.doesNotMatch(r.stderr, /not whitelisted/);
  const q = qgrey(['whitelist', 'outgoing', '-q', '--skip', 'skip.test,spf.test', '--locals', locals(d.path), smtpd], { env });
  assert.equal(q.code, 0, q.stderr);
  assert.equal(q.stdout + q.stderr, '');
});

test('outgoing: a domain without SPF or MX is reported and keeps its entries; a DNS outage exits 111 and writes nothing', async () => {
  using d = tempDir();
  const { smtpd } = logs(d.path);
  const state = join(d.path, 'outgoing.state');
  const old = `192.0.2.66\t${iso(NOW + 3600)}\tout:nosuch.test\n`;
  writeFileSync(join(d.path, 'whitelist'), old);
  write(join(smtpd, 'current'), [
    [NOW - 100, qlog({ from: 'bob@ours.test', to: 'a@nosuch.test', relay: true })],
    [NOW - 99, qlog({ from: 'bob@ours.test', to: 'a@partner.test', relay: true })],
  ]);
  const dead = await deadServer();
  const r0 = qgrey(['whitelist', 'outgoing', '--state', state, '--dns-server', dead, smtpd], { env: { QGREY_LISTDIR: d.path } });
  assert.equal(r0.code, 111, r0.stderr);
  assert.match(r0.stderr, /^qgrey: fatal: unable to look up \S+ '?[a-z.]*'?: no DNS server answering \(connection refused\); nothing changed\n$/);
  assert.equal(list(d.path), old);
  assert.ok(!existsSync(state), 'no state written either: the next run reads the same lines again');

  const r = qgrey(['whitelist', 'outgoing', '--state', state, '--dns-server', dns.server, smtpd], { env: { QGREY_LISTDIR: d.path } });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /warning: out:nosuch\.test: no SPF \(no SPF record .*\) and no MX \(no MX record for nosuch\.test\): nothing whitelisted \(old entries left to expire\)/);
  assert.match(r.stdout, /: 1 whitelisted, 1 without SPF or MX/);
  assert.deepEqual(entries(d.path, 'out:nosuch.test'), ['192.0.2.66']);
  assert.deepEqual(entries(d.path, 'out:partner.test'), ['198.51.100.128/26']);
});

test('outgoing: bad options are one line and exit 100', () => {
  using d = tempDir();
  const env = { QGREY_LISTDIR: d.path, QGREY_DNS_SERVER: dns.server };
  const cases: [string[], RegExp][] = [
    [['--min-senders', '0'], /^qgrey: fatal: unable to parse --min-senders '0': expected a whole number, 1 or more\n$/],
    [['--max-domains', '1.5'], /--max-domains .*expected a whole number/],
    [['--skip', 'not a domain'], /^qgrey: fatal: bad --skip domain 'not a domain': expected a name such as example\.org\n$/],
    [['--locals', join(d.path, 'nope')], /^qgrey: fatal: unable to read --locals .*nope.*: /],
    [['--until', '2000-01-01'], /--until .* is in the past/],
    [['--since', 'soon'], /unable to parse --since 'soon'/],
  ];
  for (const [args, re] of cases) {
    const r = qgrey(['whitelist', 'outgoing', ...args, join(FIXTURES, 'outgoing', 'submission')], { env });
    assert.equal(r.code, 100, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re, args.join(' '));
  }
  writeFileSync(join(d.path, 'rcpthosts'), 'ours.test\nnot a domain\n');
  const r = qgrey(['whitelist', 'outgoing', '--locals', join(d.path, 'rcpthosts'), join(FIXTURES, 'outgoing', 'submission')], { env });
  assert.equal(r.code, 100);
  assert.match(r.stderr, /line 2: 'not a domain': expected a domain per line/);
});

test('stats: whitelisted connections that an out: entry covers are counted, by domain; the wrapper logs the decision', () => {
  using d = tempDir();
  const tree = join(d.path, 'jgreylist');
  mkdirSync(tree, { mode: 0o700 });
  writeFileSync(
    join(d.path, 'whitelist'),
    [
      `198.51.100.128/26\t${iso(NOW + 86400)}\tout:partner.test\t# spf ip4:198.51.100.128/26`,
      `198.51.100.200\tnever\tmanual\t# more specific: this one decides`,
      `203.0.113.0/24\t${iso(NOW - 3600)}\tout:old.test\t# expired an hour ago`,
      `192.0.2.1\tnever\tmanual`,
      '',
    ].join('\n'),
  );
  // the wrapper's own decision lines, as tcpserver would run it
  const decision = (ip: string): string => {
    const r = run('sh', [join(ROOT, 'bin/qgreylist'), '/bin/true'], { env: { TCPREMOTEIP: ip, JGREYLIST_DIR: tree, QGREY_LISTDIR: d.path, JGREYLIST_LOG: '1' }, input: '' });
    assert.equal(r.code, 0, r.stderr);
    const line = r.stderr.trimEnd();
    assert.match(line, /^qgreylist\[[0-9]+\]: \S+: OK whitelisted$/);
    return line;
  };
  const smtpd = join(d.path, 'smtpd');
  mkdirSync(smtpd);
  write(join(smtpd, 'current'), [
    [NOW - 7200, decision('198.51.100.130')],
    [NOW - 7100, decision('198.51.100.131')],
    [NOW - 7000, decision('198.51.100.200')],
    [NOW - 6900, decision('192.0.2.1')],
    // old.test's entry was live two hours ago, not ten minutes ago
    [NOW - 7200, decision('192.0.2.1').replace('192.0.2.1', '203.0.113.5')],
    [NOW - 600, decision('192.0.2.1').replace('192.0.2.1', '203.0.113.6')],
  ]);
  const env = { QGREY_LISTDIR: d.path, TZ: 'UTC' };
  const j = JSON.parse(qgrey(['stats', '--json', smtpd], { env }).stdout);
  assert.equal(j.decisions.whitelisted, 6);
  assert.deepEqual(j.replies, { connections: 3, domains: [{ domain: 'partner.test', connections: 2 }, { domain: 'old.test', connections: 1 }] });
  const text = qgrey(['stats', smtpd], { env });
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /^OK whitelisted by an out: entry \(replies to our users\): 3\n  partner\.test 2, old\.test 1$/m);
  // no out: entry in the list: no such line
  using e = tempDir();
  const none = qgrey(['stats', '--listdir', e.path, smtpd], { env });
  assert.doesNotMatch(none.stdout, /out: entry/);
});
