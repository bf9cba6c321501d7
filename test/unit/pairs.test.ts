// The reply pairs' pure part: address normalisation and validation, the replies file's lines,
// the lookup, and the collector recording pairs only from the lines it trusts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PairIndex, findPair, formatPair, pairAddress, parsePairLine, parsePairs } from '../../src/core/pairs.js';
import { DomainSet, OutgoingCollector, QP_WINDOW, type QlogLine } from '../../src/core/outgoing.js';
import { normaliseSender } from '../../src/core/triplet.js';

test('pairAddress: lower case, <> off, BATV and +extension dropped, digits kept, punycode; null for what is not an address', () => {
  assert.equal(pairAddress('<Bob+Lists@Partner.TEST>'), 'bob@partner.test');
  assert.equal(pairAddress('prvs=1234abcd=carol@ours.test'), 'carol@ours.test');
  assert.equal(pairAddress('prvs=carol/1234abcd@ours.test'), 'carol@ours.test');
  assert.equal(pairAddress('user2019@ours.test'), 'user2019@ours.test', 'the pair is exact: digit runs kept');
  assert.equal(normaliseSender('user2019@ours.test'), 'user#@ours.test', 'the triplet sender collapses them');
  assert.equal(pairAddress('verlag@bücher.test'), 'verlag@xn--bcher-kva.test');
  for (const bad of ['', '<>', '#@[]', 'root@[192.0.2.1]', 'admin@localhost', 'nobody', '@partner.test', '"bob smith"@partner.test', 'bo b@partner.test', 'a#b@partner.test', `${'x'.repeat(65)}@partner.test`, `x@${'a'.repeat(250)}.test`, 'bob@part\nner.test', 'bo\tb@partner.test'])
    assert.equal(pairAddress(bad), null, JSON.stringify(bad));
});

test('parsePairLine: the four fields, comments, and what is not understood', () => {
  const l = parsePairLine('bob@partner.test\talice@ours.test\t2026-12-31T23:59:59Z\tout:partner.test\t# first', 3);
  assert.deepEqual(l, { kind: 'pair', line: 3, text: l.text, pair: { remote: 'bob@partner.test', local: 'alice@ours.test', expires: Date.UTC(2026, 11, 31, 23, 59, 59) / 1000, source: 'out:partner.test', comment: 'first' } });
  assert.equal(parsePairLine('  bob@partner.test  alice@ours.test never manual', 1).kind, 'pair');
  assert.equal(parsePairLine('# a comment', 1).kind, 'comment');
  assert.equal(parsePairLine('   ', 1).kind, 'comment');
  const why = (t: string) => {
    const x = parsePairLine(t, 1);
    return x.kind === 'bad' ? x.why : x.kind;
  };
  assert.match(why('Bob@partner.test alice@ours.test never manual'), /REMOTE 'Bob@partner\.test' is not in its normal form: expected bob@partner\.test/);
  assert.match(why('bob@partner.test prvs=12=alice@ours.test never manual'), /LOCAL .* not in its normal form: expected alice@ours\.test/);
  assert.match(why('bob@partner.test <> never manual'), /bad LOCAL '<>'/);
  assert.match(why('bob@partner.test alice@ours.test 2026-02-30T00:00:00Z manual'), /bad expiry/);
  assert.match(why('bob@partner.test alice@ours.test never bad"source'), /bad source/);
  assert.match(why('bob@partner.test alice@ours.test never'), /expected REMOTE LOCAL EXPIRY SOURCE/);
  assert.equal(formatPair({ remote: 'bob@partner.test', local: 'alice@ours.test', expires: null, source: 'manual', comment: '' }), 'bob@partner.test\talice@ours.test\tnever\tmanual');
});

test('findPair and PairIndex: the exact pair, live, the longest-lasting of several; no partial matches', () => {
  const now = 1_800_000_000;
  const text = [
    '# replies',
    `bob@partner.test\talice@ours.test\t${new Date((now - 10) * 1000).toISOString().slice(0, 19)}Z\tout:partner.test`,
    `bob@partner.test\talice@ours.test\t${new Date((now + 10) * 1000).toISOString().slice(0, 19)}Z\tout:partner.test`,
    'jbob@partner.test\tcarol@ours.test\tnever\tmanual',
    'x bob@partner.test\tcarol@ours.test\tnever\tmanual',
    'bob@partner.test\tdave@ours.test\tnever\tmanual\t# longest',
    'bob@partner.test\tdave@ours.test\t2030-01-01T00:00:00Z\tout:partner.test',
    '',
  ].join('\n');
  const idx = new PairIndex(text);
  for (const find of [(r: string, l: string, t: number) => findPair(text, r, l, t), (r: string, l: string, t: number) => idx.find(r, l, t)]) {
    assert.equal(find('bob@partner.test', 'alice@ours.test', now)?.expires, now + 10);
    assert.equal(find('bob@partner.test', 'alice@ours.test', now + 10), null, 'expired at its expiry');
    assert.equal(find('bob@partner.test', 'carol@ours.test', now), null, 'jbob and a bad line are not bob');
    assert.equal(find('bob@partner.test', 'dave@ours.test', now)?.source, 'manual');
    assert.equal(find('alice@ours.test', 'bob@partner.test', now), null, 'the other direction');
  }
  assert.deepEqual([idx.pairs, idx.bad], [5, 1]);
  assert.equal(parsePairs(text).length, 7);
});

const relay = (to: string, from: string, o: Partial<QlogLine> = {}): QlogLine => ({ kind: 'qlogenvelope', relay: true, authuser: '', mailfrom: from, rcptto: to, qp: '', ...o });

test('the collector: pairs of relayed and authenticated lines and of local senders in qmail-send; never inbound, bounces, ours, or a foreign sender with --locals', () => {
  const ours = new DomainSet();
  ours.add('ours.test');
  const c = new OutgoingCollector(ours, true);
  c.qlog(relay('Bob+x@Partner.test,frank@ours.test,[192.0.2.1]', 'prvs=12ab=Alice@ours.test'), 100);
  c.qlog(relay('dave@spf.test', 'carol.alias@ours.test', { relay: false, authuser: 'carol' }), 101);
  c.qlog(relay('mallory@partner.test', 'eve@ours.test', { relay: false }), 102);
  c.qlog(relay('victim@partner.test', ''), 103);
  c.qlog(relay('oscar@partner.test', 'outsider@elsewhere.test'), 104);
  c.qlog(relay('bob@partner.test', 'alice@ours.test'), 150);
  // qmail-send: a local injection, and a forged local sender that came in over SMTP (its qp)
  c.send({ kind: 'info', msg: '1', sender: 'erin@ours.test', qp: '500', }, 200);
  c.send({ kind: 'start', msg: '1', channel: 'remote', to: 'ann@partner.test' }, 201);
  c.qlog(relay('x@ours.test', 'spoof@ours.test', { kind: 'qlogreceived', relay: false, qp: '600' }), 300);
  c.send({ kind: 'info', msg: '2', sender: 'spoof@ours.test', qp: '600' }, 301);
  c.send({ kind: 'start', msg: '2', channel: 'remote', to: 'fwd@partner.test' }, 302);
  c.qlog(relay('late@partner.test', 'alice@ours.test'), 302 + QP_WINDOW + 1);
  c.finish();
  assert.deepEqual([...c.pairs].sort(), [
    ['ann@partner.test erin@ours.test', 201],
    ['bob@partner.test alice@ours.test', 150],
    ['dave@spf.test carol.alias@ours.test', 101],
    ['late@partner.test alice@ours.test', 302 + QP_WINDOW + 1],
  ]);
  // without --locals, any relayed sender makes a pair
  const all = new OutgoingCollector(new DomainSet(), false);
  all.qlog(relay('oscar@partner.test', 'outsider@elsewhere.test'), 1);
  assert.deepEqual([...all.pairs.keys()], ['oscar@partner.test outsider@elsewhere.test']);
});
