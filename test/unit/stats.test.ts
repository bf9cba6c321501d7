// The pure stats collector, the colour decision, the table and the SVG renderer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseBody } from '../../src/core/logline.js';
import { Zone } from '../../src/core/zone.js';
import { StatsCollector, percentile, topN, type StatsOptions } from '../../src/core/stats.js';
import { DECISIONS, DECISION_NAMES, DECISION_TEXTS, decisionName, decisionText, isDecision, zeroCounts } from '../../src/core/decision.js';
import { parseBody as parse } from '../../src/core/logline.js';
import { colourLevel, painter } from '../../src/render/colour.js';
import { renderTable, formatDelay } from '../../src/render/table.js';
import { renderSvg, niceMax, axis, xmlEscape } from '../../src/render/svg.js';

const T0 = Date.UTC(2026, 10, 20) / 1000; // 2026-11-20 00:00 UTC

function collect(lines: [number, string][], opts: Partial<StatsOptions> = {}) {
  const c = new StatsCollector({ zone: new Zone('UTC'), ...opts });
  for (const [t, body] of lines) c.add(parseBody(body), T0 + t);
  return c;
}

const qlog = (kind: 'qlogenvelope' | 'qlogreceived', ip: string, pid: number, o: { result?: string; code?: string; relay?: string; authuser?: string } = {}) =>
  `${kind}: result=${o.result ?? 'accepted'} code=${o.code ?? '250'} reason=rcptto detail=chkuser helo=h.example mailfrom=a@b.example rcptto=c@example.org relay=${o.relay ?? 'no'} rcpthosts=yes size= authuser=${o.authuser ?? ''} authtype= encrypted= sslverified=no localip=192.0.2.10 localport=25 remoteip=${ip} remoteport=4000 remotehost= qp= pid=${pid}`;

test('one decision vocabulary: distinct texts and names, both ways, and the log parser reads every text', () => {
  assert.equal(new Set(DECISION_TEXTS).size, DECISIONS.length);
  assert.equal(new Set(DECISION_NAMES).size, DECISIONS.length);
  for (const d of DECISIONS) {
    assert.equal(decisionName(d.text), d.name);
    assert.equal(decisionText(d.name), d.text);
    const e = parse(`qgreylist[7]: 192.0.2.7: ${d.text}`);
    assert.equal(e.kind === 'decision' && e.decision, d.text);
  }
  assert.equal(isDecision('HANGUP too many RCPT'), false);
  assert.deepEqual(Object.keys(zeroCounts()), DECISION_NAMES);
});

/** Per greylisted key (by='net' rows): label, outcome, greylists; in label order. */
function outcomes(c: StatsCollector): [string, string, number][] {
  return c
    .result()
    .nets.filter((r) => r.greylisted > 0)
    .map((r): [string, string, number] => [r.label, r.delivered ? 'delivered' : r.backNotDelivered ? 'back-not-delivered' : 'never-back', r.decisions.firstTime + r.decisions.tooSoon])
    .sort((a, b) => (a[0] < b[0] ? -1 : 1));
}

test('nearest-rank percentiles', () => {
  assert.equal(percentile([], 50), null);
  assert.equal(percentile([7], 90), 7);
  assert.equal(percentile([1, 2, 3, 4], 50), 2);
  assert.equal(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 90), 9);
  assert.equal(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], 90), 10);
});

test('topN picks the first n in order without sorting everything, stable on ties', () => {
  const xs = [5, 3, 9, 1, 7, 3, 8, 2];
  assert.deepEqual(topN(xs, 3, (a, b) => a - b), [1, 2, 3]);
  assert.deepEqual(topN(xs, 3, (a, b) => b - a), [9, 8, 7]);
  assert.deepEqual(topN(xs, 0, (a, b) => a - b), []);
  assert.deepEqual(topN(xs, 20, (a, b) => a - b), [...xs].sort((a, b) => a - b));
  const tagged = [['a', 1], ['b', 2], ['c', 1], ['d', 2]] as const;
  assert.deepEqual(topN(tagged, 3, (x, y) => y[1] - x[1]).map((x) => x[0]), ['b', 'd', 'a']);
});

test('outcomes per key: delivered with its delay, came back without mail, never came back', () => {
  const lines: [number, string][] = [
    [0, 'jgreylist[10]: 192.0.2.5: GREY first time'],
    [60, 'jgreylist[11]: 192.0.2.5: GREY too soon'],
    [600, 'jgreylist[12]: 192.0.2.5: OK known'],
    [601, qlog('qlogenvelope', '192.0.2.5', 12)],
    [602, qlog('qlogreceived', '192.0.2.5', 12)],
    [700, 'greylist[20]: 198.51.100.7: GREY first time'],
    [900, 'greylist[21]: 198.51.100.9: OK known'], // another address, same class C: the key came back
    [901, qlog('qlogenvelope', '198.51.100.9', 21, { result: 'rejected', code: '550' })],
    [1000, 'qgreylist[30]: 203.0.113.1: GREY first time'],
  ];
  const r = collect(lines).result();
  assert.equal(r.greylisted.keys, 3);
  assert.deepEqual(r.greylisted.delivered, { count: 1, pct: 33.3 });
  assert.deepEqual(r.greylisted.backNotDelivered, { count: 1, pct: 33.3 });
  assert.deepEqual(r.greylisted.neverBack, { count: 1, pct: 33.3 });
  assert.equal(r.greylisted.neverBackRecent, 1, 'first greylisted 0 s before the last event');
  assert.deepEqual(r.greylisted.delay, { count: 1, median: 601, p90: 601, max: 601 });
  assert.equal(r.greylisted.addresses, 3);
  assert.equal(r.greylisted.addressesNeverRetried, 2, '198.51.100.7 and 203.0.113.1');
  assert.deepEqual(outcomes(collect(lines, { by: 'net' })), [
    ['192.0.2.0/24', 'delivered', 2],
    ['198.51.100.0/24', 'back-not-delivered', 1],
    ['203.0.113.0/24', 'never-back', 1],
  ]);
  assert.equal(r.programs.jgreylist, 3);
  assert.equal(r.programs.greylist, 2);
  assert.equal(r.programs.qgreylist, 1);
});

test('a key and an address mail came from before they were greylisted are followed from their greylist on', () => {
  // the collector keeps the rows of the last key and address it looked up: a greylist in between must not leave them stale
  const lines: [number, string][] = [
    [0, 'jgreylist[10]: 192.0.2.5: OK known'],
    [1, qlog('qlogreceived', '192.0.2.5', 10)],
    [5, 'jgreylist[11]: 192.0.2.5: GREY first time'],
    [6, 'jgreylist[11]: 192.0.2.6: GREY first time'],
    [400, 'jgreylist[12]: 192.0.2.5: OK known'],
    [401, qlog('qlogreceived', '192.0.2.5', 12)],
    [402, qlog('qlogreceived', '192.0.2.5', 12)],
  ];
  for (const layout of ['classc', 'byip'] as const) {
    const r = collect(lines, { layout }).result();
    assert.equal(r.greylisted.keys, layout === 'classc' ? 1 : 2);
    assert.equal(r.greylisted.delivered.count, 1);
    assert.deepEqual(r.greylisted.delay, { count: 1, median: 396, p90: 396, max: 396 });
    assert.equal(r.greylisted.addresses, 2);
    assert.equal(r.greylisted.addressesNeverRetried, 1, '192.0.2.6');
    assert.equal(r.top.senders.find((x) => x.address === '192.0.2.5')?.delivered, true);
  }
});

test('per address keys (--by-ip) and IPv6 /64 keys', () => {
  const lines: [number, string][] = [
    [0, 'jgreylist[1]: 192.0.2.5: GREY first time'],
    [10, 'jgreylist[2]: 192.0.2.6: GREY first time'],
    [400, 'jgreylist[3]: 192.0.2.6: OK known'],
    [401, qlog('qlogreceived', '192.0.2.6', 3)],
    [500, 'qgreylist[4]: 2001:db8:0:1::25: GREY first time'],
    [560, 'qgreylist[5]: 2001:db8:0:1::99: OK known'],
    [561, qlog('qlogenvelope', '2001:db8:0:1::99', 5)],
  ];
  assert.deepEqual(outcomes(collect(lines, { by: 'net' })), [
    ['192.0.2.0/24', 'delivered', 2],
    ['2001:db8:0:1::/64', 'delivered', 1],
  ]);
  assert.deepEqual(collect(lines).result().greylisted.delay, { count: 2, median: 61, p90: 401, max: 401 });
  assert.deepEqual(outcomes(collect(lines, { layout: 'byip', by: 'net' })), [
    ['192.0.2.5', 'never-back', 1],
    ['192.0.2.6', 'delivered', 1],
    ['2001:db8:0:1::25', 'never-back', 1],
  ]);
  assert.deepEqual(collect(lines, { layout: 'byip' }).result().greylisted.delay, { count: 1, median: 391, p90: 391, max: 391 });
});

test('relay and AUTH deliveries do not count as a greylisted key delivering', () => {
  const c = collect([
    [0, 'jgreylist[1]: 192.0.2.5: GREY first time'],
    [300, 'jgreylist[2]: 192.0.2.5: OK relayclient'],
    [301, qlog('qlogreceived', '192.0.2.5', 2, { relay: 'yes' })],
    [400, 'jgreylist[3]: 192.0.2.5: OK known'],
    [401, qlog('qlogreceived', '192.0.2.5', 3, { authuser: 'bob@example.org' })],
  ]);
  const r = c.result();
  assert.equal(r.greylisted.delivered.count, 0);
  assert.equal(r.greylisted.backNotDelivered.count, 1);
  assert.equal(r.accepted.relayOrAuth, 2);
  assert.deepEqual(r.accepted.messagesAfter, { known: 1, whitelisted: 0, relayclient: 1, failOpen: 0, other: 0, none: 0 });
});

test('a connection is tied by pid and address, within an hour, and ends with tcpserver: end', () => {
  const c = collect([
    [0, 'jgreylist[100]: 192.0.2.5: OK known'],
    [1, qlog('qlogreceived', '192.0.2.5', 100)], // known
    [2, qlog('qlogreceived', '198.51.100.1', 100)], // same pid, other address: none
    [3, 'tcpserver: end 100 status 0'],
    [4, qlog('qlogreceived', '192.0.2.5', 100)], // after end: none
    [10, 'jgreylist[200]: 192.0.2.6: OK whitelisted'],
    [10 + 3599, qlog('qlogreceived', '192.0.2.6', 200)], // within the hour: whitelisted
    [10 + 3600, qlog('qlogreceived', '192.0.2.6', 200)], // an hour later: none
    [5000, 'jgreylist: 192.0.2.7: OK known'], // no pid: cannot be tied
    [5001, qlog('qlogreceived', '192.0.2.7', 300)],
  ]);
  assert.deepEqual(c.result().accepted.messagesAfter, { known: 1, whitelisted: 1, relayclient: 0, failOpen: 0, other: 0, none: 4 });
});

test('hang-ups, GREETDELAY and evictable clients', () => {
  const c = collect([
    [0, 'jgreylist[1]: 198.51.100.99: GREY first time'],
    [1, 'qmail-smtpd: read failed (connection closed by the client before the quit cmd): (null) from 198.51.100.99 to (null) helo unknown'],
    [2, 'qmail-smtpd: read failed (hang up before quit cmd): (null) from 198.51.100.99 to (null) helo unknown'],
    [3, 'qmail-smtpd: read failed: (null) from 192.0.2.1 to (null) helo unknown'],
    [4, 'qmail-smtpd: read failed (connection closed by the client before the quit cmd): (null) from 192.0.2.2 to (null) helo mail.example'],
    [5, 'qmail-smtpd[9]: GREETDELAY from 192.0.2.3: client disconnected'],
    [6, 'qmail-smtpd[9]: GREETDELAY from 192.0.2.4: client sent data before greeting'],
    [7, 'qmail-smtpd[9]: GREETDELAY from 192.0.2.4: client sent data before greeting. ignoring'],
  ]);
  assert.deepEqual(c.result().clients, {
    hangups: 4,
    nullSessionHangups: 3,
    greetdelayDisconnects: 1,
    pregreet: 1,
    evictableEvents: 4,
    evictableClients: 3,
    evictableGreylisted: 1,
  });
});

test('rows: per day and per hour in the given zone, per key with by=net', () => {
  const lines: [number, string][] = [
    [22 * 3600 + 30 * 60, 'jgreylist[1]: 192.0.2.5: GREY first time'], // 22:30 UTC = 23:30 in Rome
    [23 * 3600 + 30 * 60, 'jgreylist[2]: 192.0.2.5: OK known'], // 23:30 UTC = 00:30 next day in Rome
    [23 * 3600 + 31 * 60, qlog('qlogreceived', '192.0.2.5', 2)],
    [24 * 3600, 'jgreylist[3]: 198.51.100.1: GREY first time'],
  ];
  const utc = collect(lines).result();
  assert.deepEqual(
    utc.rows.map((r) => [r.label, r.decisions.firstTime, r.decisions.known, r.messages, r.greylisted, r.delivered, r.neverBack]),
    [
      ['2026-11-20', 1, 1, 1, 1, 1, 0],
      ['2026-11-21', 1, 0, 0, 1, 0, 1],
    ],
  );
  assert.equal(utc.rows[0]?.start, T0);
  const rome = collect(lines, { zone: new Zone('Europe/Rome') }).result();
  assert.deepEqual(
    rome.rows.map((r) => [r.label, r.start, r.decisions.firstTime, r.decisions.known, r.greylisted, r.delivered]),
    [
      ['2026-11-20', T0 - 3600, 1, 0, 1, 1],
      ['2026-11-21', T0 + 86400 - 3600, 1, 1, 1, 0],
    ],
  );
  const hourly = collect(lines, { by: 'hour' }).result();
  assert.deepEqual(
    hourly.rows.map((r) => r.label),
    ['2026-11-20T22:00', '2026-11-20T23:00', '2026-11-21T00:00'],
  );
  const net = collect(lines, { by: 'net' }).result();
  assert.deepEqual(
    net.nets.map((r) => [r.label, r.decisions.firstTime, r.decisions.known, r.messages, r.delivered, r.neverBack]),
    [
      ['192.0.2.0/24', 1, 1, 1, 1, 0],
      ['198.51.100.0/24', 1, 0, 0, 0, 1],
    ],
  );
  assert.equal(net.rows.length, 2, 'time rows stay per day for the chart');
});

test('maps stop at maxKeys and say what was not followed', () => {
  const lines: [number, string][] = [];
  for (let i = 0; i < 10; i++) lines.push([i, `jgreylist[${i}]: 192.0.${i}.1: GREY first time`]);
  const r = collect(lines, { maxKeys: 4 }).result();
  assert.equal(r.greylisted.keys, 4);
  assert.equal(r.truncated.keys, 6);
  assert.equal(r.truncated.addresses, 6);
  assert.equal(r.decisions.firstTime, 10, 'decision counts stay exact');
});

test('a bad address in a decision line is counted but not followed', () => {
  const r = collect([[0, 'jgreylist[1]: 300.1.2.3: GREY first time']]).result();
  assert.equal(r.decisions.firstTime, 1);
  assert.equal(r.badAddresses, 1);
  assert.equal(r.greylisted.keys, 0);
});

test('colour follows FORCE_COLOR, NO_COLOR and the TTY', () => {
  assert.equal(colourLevel({}, false), 0);
  assert.equal(colourLevel({}, true), 1);
  assert.equal(colourLevel({ TERM: 'dumb' }, true), 0);
  assert.equal(colourLevel({ NO_COLOR: '1' }, true), 0);
  assert.equal(colourLevel({ NO_COLOR: '' }, true), 1, 'an empty NO_COLOR does not count');
  assert.equal(colourLevel({ FORCE_COLOR: '1' }, false), 1);
  assert.equal(colourLevel({ FORCE_COLOR: '' }, false), 1);
  assert.equal(colourLevel({ FORCE_COLOR: 'true' }, false), 1);
  assert.equal(colourLevel({ FORCE_COLOR: '3' }, false), 3);
  assert.equal(colourLevel({ FORCE_COLOR: '9' }, false), 3);
  assert.equal(colourLevel({ FORCE_COLOR: '0' }, true), 0);
  assert.equal(colourLevel({ FORCE_COLOR: 'false' }, true), 0);
  assert.equal(colourLevel({ FORCE_COLOR: '1', NO_COLOR: '1' }, false), 1, 'FORCE_COLOR wins, as in Node');
  assert.equal(colourLevel({ FORCE_COLOR: 'maybe', NO_COLOR: '1' }, true), 0, 'an unknown FORCE_COLOR is ignored');
  assert.equal(painter(0).paint('bad', 'x'), 'x');
  assert.equal(painter(1).paint('bad', 'x'), '\x1b[31mx\x1b[39m');
});

test('tables: aligned, no trailing spaces, colour after padding', () => {
  const lines = renderTable([{ title: 'name' }, { title: 'n' }], [['a', 1], ['bbb', { text: 100, style: 'good' }]], painter(0));
  assert.deepEqual(lines, ['name    n', 'a       1', 'bbb   100']);
  const coloured = renderTable([{ title: 'name' }, { title: 'n' }], [['bbb', { text: 100, style: 'good' }]], painter(1));
  assert.equal(coloured[1], 'bbb   \x1b[32m100\x1b[39m');
  assert.equal(formatDelay(null), '-');
  assert.equal(formatDelay(45), '45s');
  assert.equal(formatDelay(301), '5m01s');
  assert.equal(formatDelay(43201), '12h00m');
  assert.equal(formatDelay(3 * 86400 + 7200), '3d02h');
});

test('SVG: bars carry the numbers of the rows, scaled against a round maximum', () => {
  assert.equal(niceMax(0), 1);
  assert.equal(niceMax(7), 10);
  assert.equal(niceMax(11), 20);
  assert.equal(niceMax(200), 200);
  assert.equal(niceMax(201), 500);
  assert.deepEqual(axis(0), { top: 1, step: 1 });
  assert.deepEqual(axis(3), { top: 3, step: 1 });
  assert.deepEqual(axis(7), { top: 8, step: 2 });
  assert.deepEqual(axis(13), { top: 15, step: 5 });
  assert.deepEqual(axis(1234), { top: 1500, step: 500 });
  assert.equal(xmlEscape(`<a & "b">`), '&lt;a &amp; &quot;b&quot;&gt;');
  const r = collect([
    [0, 'jgreylist[1]: 192.0.2.5: GREY first time'],
    [1, 'jgreylist[2]: 198.51.100.5: GREY first time'],
    [2, 'jgreylist[3]: 198.51.100.5: DENY blacklisted'],
    [90000, 'jgreylist[4]: 192.0.2.5: OK known'],
    [90001, qlog('qlogenvelope', '192.0.2.5', 4)],
  ]).result();
  const svg = renderSvg(r, 'test <chart>');
  assert.match(svg, /^<\?xml version="1.0" encoding="UTF-8"\?>\n<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assert.match(svg, /<title>test &lt;chart&gt;<\/title>/);
  const bars = [...svg.matchAll(/<rect [^>]*height="([0-9.]+)"[^>]*data-row="([^"]+)" data-series="([^"]+)" data-value="([0-9]+)"/g)].map((m) => [m[2], m[3], Number(m[4]), Number(m[1])]);
  assert.deepEqual(
    bars.map((b) => b.slice(0, 3)),
    [
      ['2026-11-20', 'firstTime', 2],
      ['2026-11-20', 'denied', 1],
      ['2026-11-21', 'known', 1],
      ['2026-11-20', 'delivered', 1],
      ['2026-11-20', 'backNotDelivered', 1], // the DENY is a later connection
    ],
  );
  // decisions panel: max stacked 3 -> axis 0..3 -> 180 px / 3 = 60 px per decision
  assert.deepEqual(bars.slice(0, 3).map((b) => b[3]), [120, 60, 60]);
  // outcomes panel: max stacked 2 -> axis 0..2 -> 90 px per key
  assert.deepEqual(bars.slice(3).map((b) => b[3]), [90, 90]);
});
