// The pure part of `whitelist outgoing`: qmail-send lines, domain normalisation, control files,
// and the collector's rules (who counts, the qp match in both orders, the window).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DomainSet, OutgoingCollector, QP_WINDOW, addressDomain, normaliseDomain, parseControlDomains, parseSendLine, type QlogLine } from '../../src/core/outgoing.js';

test('parseSendLine: the qmail-send lines outgoing reads, nothing else', () => {
  assert.deepEqual(parseSendLine('info msg 706430: bytes 2737 from <boehm5@email.com> qp 31064 uid 1001'), { kind: 'info', msg: '706430', sender: 'boehm5@email.com', qp: '31064' });
  assert.deepEqual(parseSendLine('info msg 1: bytes 2 from <> qp 3 uid 82\r'), { kind: 'info', msg: '1', sender: '', qp: '3' });
  assert.deepEqual(parseSendLine('starting delivery 190552: msg 706430 to remote Bob@Remote.Example'), { kind: 'start', msg: '706430', channel: 'remote', to: 'Bob@Remote.Example' });
  assert.deepEqual(parseSendLine('starting delivery 190553: msg 706430 to local guitar-tpj-regex@plover.com'), { kind: 'start', msg: '706430', channel: 'local', to: 'guitar-tpj-regex@plover.com' });
  assert.deepEqual(parseSendLine('new msg 706430'), { kind: 'new', msg: '706430' });
  assert.deepEqual(parseSendLine('end msg 706430'), { kind: 'end', msg: '706430' });
  for (const other of ['status: local 1/5 remote 2/10', 'delivery 190552: success: did_0+1+0/qp_31067/', 'bounce msg 706430 qp 31070', 'starting delivery 1: msg 2 to remote', 'info msg x: bytes 1 from <a@b> qp 1 uid 1', 'end msg 1 extra', 'triple bounce: discarding bounce/706430'])
    assert.equal(parseSendLine(other), null, other);
});

test('normaliseDomain: lower case, punycode, no literals, no single labels', () => {
  assert.equal(normaliseDomain('Mail.EXAMPLE.org.'), 'mail.example.org');
  assert.equal(normaliseDomain('bücher.example'), 'xn--bcher-kva.example');
  assert.equal(normaliseDomain('BÜCHER.example'), 'xn--bcher-kva.example');
  assert.equal(normaliseDomain('xn--bcher-kva.example'), 'xn--bcher-kva.example');
  for (const bad of ['[192.0.2.1]', 'localhost', '192.0.2.1', '??????.example', 'a b.example', '', '-x.example', 'x..example'])
    assert.equal(normaliseDomain(bad), null, bad);
  assert.equal(addressDomain('"odd@local"@Example.ORG'), 'example.org');
  assert.equal(addressDomain('nobody'), null);
  assert.equal(addressDomain('@example.org'), null);
});

test('parseControlDomains and DomainSet: locals, rcpthosts, virtualdomains; subdomains covered', () => {
  const p = parseControlDomains('# ours\nexample.org\n.example.net\r\nvirt.example:virt-\nuser@one.example:alias-user\n\nbad name\n');
  assert.deepEqual(p.domains, ['example.org', 'example.net', 'virt.example']);
  assert.deepEqual(p.bad, [{ line: 7, text: 'bad name' }]);
  const s = new DomainSet();
  for (const d of p.domains) s.add(d);
  assert.ok(s.has('example.org') && s.has('mail.example.org') && s.has('a.b.example.net'));
  assert.ok(!s.has('notexample.org') && !s.has('org') && !s.has('one.example'));
});

const relay = (to: string, from = 'bob@ours.example', o: Partial<QlogLine> = {}): QlogLine => ({ kind: 'qlogenvelope', relay: true, authuser: '', mailfrom: from, rcptto: to, qp: '', ...o });
const inbound = (qp: string): QlogLine => ({ kind: 'qlogreceived', relay: false, authuser: '', mailfrom: '', rcptto: '', qp });

function collector(): OutgoingCollector {
  const ours = new DomainSet();
  ours.add('ours.example');
  return new OutgoingCollector(ours, true);
}

test('collector: a qmail-send message is matched to inbound mail by qp whichever line comes first, within the window only', () => {
  const t = 1_800_000_000;
  // the inbound qlogreceived line after the info line (the two are written milliseconds apart)
  const a = collector();
  a.send({ kind: 'info', msg: '1', sender: 'alice@ours.example', qp: '77' }, t);
  a.send({ kind: 'start', msg: '1', channel: 'remote', to: 'x@far.example' }, t);
  a.qlog(inbound('77'), t + 0.01);
  a.send({ kind: 'end', msg: '1' }, t + 1);
  a.finish();
  assert.equal(a.domains.size, 0);
  assert.equal(a.counts.sendInbound, 1);
  // before it
  const b = collector();
  b.qlog(inbound('78'), t);
  b.send({ kind: 'info', msg: '2', sender: 'alice@ours.example', qp: '78' }, t);
  b.send({ kind: 'start', msg: '2', channel: 'remote', to: 'x@far.example' }, t);
  b.finish();
  assert.equal(b.domains.size, 0);
  // the same qp long before (a reused pid) is another message: this one counts, and so do its later retries
  const c = collector();
  c.qlog(inbound('79'), t);
  c.send({ kind: 'info', msg: '3', sender: 'Alice@Ours.Example', qp: '79' }, t + 3 * QP_WINDOW);
  c.send({ kind: 'start', msg: '3', channel: 'remote', to: 'x@far.example' }, t + 3 * QP_WINDOW);
  c.qlog(relay('y@near.example'), t + 5 * QP_WINDOW);
  c.send({ kind: 'start', msg: '3', channel: 'remote', to: 'z@FAR.example' }, t + 6 * QP_WINDOW);
  c.finish();
  assert.deepEqual([...c.domains.keys()].sort(), ['far.example', 'near.example']);
  assert.deepEqual([...c.domains.get('far.example')!.senders], [['alice@ours.example', t + 6 * QP_WINDOW]]);
  assert.equal(c.counts.sendDeliveries, 2);
});

test('collector: without a verdict (info line not read), or with qmail-send off, deliveries do not count', () => {
  const c = collector();
  c.send({ kind: 'start', msg: '9', channel: 'remote', to: 'x@far.example' }, 1);
  assert.equal(c.counts.sendForeign, 1);
  const off = new OutgoingCollector(new DomainSet(), false);
  off.send({ kind: 'info', msg: '1', sender: 'alice@ours.example', qp: '1' }, 1);
  off.send({ kind: 'start', msg: '1', channel: 'remote', to: 'x@far.example' }, 1);
  off.finish();
  assert.equal(off.domains.size, 0);
  // relayed lines still count, our own domain as a recipient too (no --locals: nothing is ours)
  off.qlog(relay('a@ours.example,b@far.example'), 2);
  assert.deepEqual([...off.domains.keys()].sort(), ['far.example', 'ours.example']);
});
