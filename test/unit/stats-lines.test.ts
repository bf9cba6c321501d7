// stats' lines read from their bytes (src/core/stats/lines.ts): which shapes they take and which
// they leave to the record, and, over a log of connections mixing those shapes with their near
// misses, the same counts as a record per line parsed by parseBody, both key layouts, per day
// and per key, inside --since/--until too; and their addresses (addressId) against parseIp.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers/util.js';
import { collect } from '../../src/actions/stats.js';
import { StatsCollector } from '../../src/core/stats.js';
import { addressId, lineConsumer } from '../../src/core/stats/lines.js';
import { ipId } from '../../src/core/stats/table.js';
import { parseIp } from '../../src/core/ip.js';
import { encodeLabel, type Stamp } from '../../src/core/tai64n.js';
import { Zone } from '../../src/core/zone.js';
import { seeded } from '../helpers/random.js';

const T0 = 1_790_000_000;
const at = (i: number): Stamp => ({ sec: T0 + i * 13, nsec: (i * 104729) % 1_000_000_000 });

/** a qlog line; `o` replaces fields (null leaves one out), `sslproto` adds that field */
function qlog(o: Record<string, string | null> = {}, kind = 'qlogenvelope'): string {
  const f: Record<string, string | null> = {
    result: 'rejected',
    code: '550',
    reason: 'chkuser',
    detail: 'nomailbox',
    helo: 'mx.example',
    mailfrom: 'a@example.com',
    rcptto: 'nobody@example.org',
    relay: 'no',
    rcpthosts: 'yes',
    size: '',
    authuser: '',
    authtype: '',
    encrypted: '',
    sslverified: 'no',
    sslproto: null,
    localip: '192.0.2.10',
    localport: '25',
    remoteip: '198.51.100.7',
    remoteport: '4000',
    remotehost: '',
    qp: '',
    pid: '1200',
    ...o,
  };
  return `${kind}: ` + Object.entries(f).filter(([, v]) => v !== null).map(([k, v]) => `${k}=${v}`).join(' ');
}

const greet = (ip: string, text = 'client disconnected', pid = '1200') => `qmail-smtpd[${pid}]: GREETDELAY from ${ip}: ${text}`;
const failed = (ip: string, why: string | null = 'connection closed by the client before the quit cmd', rest = '(null) from IP to (null) helo unknown') =>
  `qmail-smtpd: read failed${why === null ? '' : ` (${why})`}: ${rest.replace('IP', ip)}`;

// shapes the bytes are read for, and shapes left to the record (parseBody reads each)
const TAKEN = [
  qlog(),
  qlog({}, 'qlogreceived'),
  qlog({ result: 'accepted', code: '451' }),
  qlog({ result: 'accepted', code: '2500' }),
  qlog({ sslproto: 'TLSv1.3', encrypted: 'tls', sslverified: 'yes' }),
  qlog({ remoteip: '999.1.2.3' }),
  qlog({ remoteip: '' }),
  qlog({ rcpthosts: '', size: '123', relay: 'yes', authuser: 'bob', qp: '77' }),
  qlog({ helo: 'x=y', detail: 'helo=mailfrom=' }),
  greet('198.51.100.7'),
  greet('198.51.100.7', 'client sent data before greeting'),
  greet('198.51.100.7', 'client sent data before greeting (ignored)'),
  greet('198.51.100.7', 'unable to read: timeout'),
  greet('300.1.2.3'),
  greet('198.51.100.7', ''),
  'qmail-smtpd[1200]: GREETDELAY: 2s',
  'qmail-smtpd[]: GREETDELAY from 198.51.100.7: client disconnected',
  'qmail-smtpd[12a]: GREETDELAY from 198.51.100.7: client disconnected',
  'qmail-smtpd[1200]: GREETDELAY from 198.51.100.7:client disconnected',
  'qmail-smtpd[1200]: GREETDELAY from 198.51.100.7',
  greet('198.51.100.7', 'client disconnected\r'),
  qlog() + '\r',
  qlog({ result: 'accepted', code: '250' }),
  qlog({ remoteip: '2001:db8::7' }),
  qlog({ remoteip: '::ffff:198.51.100.7' }),
  greet('2001:db8::7'),
  greet('::ffff:198.51.100.7'),
  greet('198.51.100.7:'),
  failed('2001:db8::7'),
  failed('::ffff:198.51.100.7'),
  'qmail-smtpd[1200]: GREETDELAY from :: client disconnected',
  qlog({ result: 'accepted', code: '250', relay: 'yes' }, 'qlogreceived'),
  qlog({ result: 'accepted', code: '250', authuser: 'bob', pid: '000000000000007' }),
  qlog({ result: 'accepted', code: '250', remoteip: '2001:db8::7', sslproto: 'TLSv1.2' }),
  qlog({ remoteip: '2001:db8:0:1:2:3:4:5:6' }),
  qlog({ remoteip: '1::2::3' }),
  qlog({ remoteip: '::' }),
  qlog({ remoteip: '1::' }),
  qlog({ remoteip: '::1.2.3.4' }),
  qlog({ remoteip: '::ffff:1.2.3' }),
  qlog({ remoteip: '2001:DB8::A' }),
  greet('1::'),
  'jgreylist[1200]: 198.51.100.7: GREY first time',
  'jgreylist[1200]: 2001:db8::7: GREY first time',
  'greylist[1200]: 999.1.2.3: OK known',
  'qgreylist[7]: ::ffff:198.51.100.7: GREY too soon',
  'jgreylist[1200]: x: OK known',
  'jgreylist[1200]: 1::2::3: DENY blacklisted',
  failed('198.51.100.7'),
  failed('198.51.100.7', 'hang up before quit cmd'),
  failed('198.51.100.7', null),
  failed('198.51.100.7', 'some other reason'),
  failed('198.51.100.7', ''),
  failed('198.51.100.7', null, 'a@example.com from IP to (null) helo unknown'),
  failed('198.51.100.7', null, '(null) from IP to b@example.org helo unknown'),
  failed('198.51.100.7', null, '(null) from IP to (null) helo mx.example'),
  failed('not-an-address'),
  'qmail-smtpd: read failed (connection closed by the client: (null) from 198.51.100.7 to (null) helo unknown',
  'qmail-smtpd: read failed (x)y: (null) from 198.51.100.7 to (null) helo unknown',
  'qmail-smtpd: read failedX',
  'qmail-smtpd: something else',
  'qmail-smtpdX: read failed: (null) from 198.51.100.7 to (null) helo unknown',
];
const LEFT = [
  qlog({ helo: 'two words' }),
  qlog({ helo: 'tab\there' }),
  qlog({ helo: 'caf\u00e9' }),
  qlog({ relay: 'maybe' }),
  qlog({ pid: '' }),
  qlog({ result: 'accepted', code: '250', pid: '1234567890123456' }),
  qlog({ size: 'big' }),
  qlog({ encrypted: 'yes' }),
  qlog({ sslverified: 'maybe' }),
  qlog({ authtype: null }),
  qlog() + ' ',
  qlog() + '\r\r',
  qlog({ code: null, result: null }),
  qlog().replace('qlogenvelope', 'qlogsomething'),
  greet('198.51.100.7', 'client\tdisconnected'),
  greet('198.51.100.7', 'client disconnected\r\r'),
  greet('198.51.100.7', 'caf\u00e9'),
  failed('198.51.100.7', null, 'from from IP to to helo helo'),
  failed('198.51.100.7', null, '(null) from IP to (null) helo two words'),
  failed('198.51.100.7', null, '(null)  from IP to (null) helo unknown'),
  failed('198.51.100.7', null, '(null) from IP to (null) helo unknown '),
  failed('198.51.100.7', null, '(null) from IP to (null)'),
  failed('198.51.100.7', null, 'a from b from IP to (null) helo unknown'),
  'jgreylist[1200]: 2001:db8::7: OK whitelisted',
  'jgreylist[1200]: 2001:db8::7 : OK known',
  'jgreylist[1200]: : OK known',
  'jgreylist[1200]:  198.51.100.7: OK known',
  'jgreylist[1200]: 198.51.100.7: OK known: why',
  'jgreylist: 2001:db8::7: OK known',
  'qmail-remote: something',
  'qgrey-spp[1200]: 198.51.100.7: RCPT deferred',
];

test('lines read from their bytes: the plain shapes taken, every near miss left to the record', () => {
  const c = new StatsCollector({ zone: new Zone('UTC') });
  const take = lineConsumer(c);
  const offer = (body: string) => {
    const b = Buffer.from('@4' + '0'.repeat(23) + ' ' + body + '\n', body.includes('\u00e9') ? 'utf8' : 'latin1');
    return take(b, 26, b.length - 1, T0, 0);
  };
  for (const l of TAKEN) assert.equal(offer(l), true, l);
  for (const l of LEFT) assert.equal(offer(l), false, l);
});

/** A log of connections: decisions, the lines above naming the same addresses, accepted mail, end lines. */
function connectionLog(n: number): string[] {
  const next = seeded(0x1b873593);
  const rnd = () => next(2 ** 32) / 2 ** 32;
  const pick = <T>(a: readonly T[]): T => a[Math.floor(rnd() * a.length)]!;
  const decisions = ['GREY first time', 'GREY too soon', 'OK known', 'OK whitelisted'];
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const pid = String(1000 + Math.floor(rnd() * 40));
    const ip = rnd() < 0.08 ? `2001:db8:${i % 3}::${i % 5}` : `198.${51 + Math.floor(rnd() * 4)}.${Math.floor(rnd() * 50)}.${Math.floor(rnd() * 12)}`;
    const L = (body: string) => `${encodeLabel(at(i))} ${body}`;
    out.push(L(`tcpserver: pid ${pid} from ${ip}`));
    if (rnd() < 0.7) out.push(L(`jgreylist[${pid}]: ${ip}: ${pick(decisions)}`));
    const k = Math.floor(rnd() * 4);
    for (let j = 0; j < k; j++) {
      const r = rnd();
      const kind = j === k - 1 ? 'qlogreceived' : 'qlogenvelope';
      if (r < 0.4) out.push(L(qlog({ result: 'accepted', code: '250', pid, remoteip: ip }, kind)));
      else if (r < 0.7) out.push(L(qlog({ pid, remoteip: ip }, kind)));
      else out.push(L(pick([...TAKEN, ...LEFT]).replaceAll('198.51.100.7', ip).replace('pid=1200', `pid=${pid}`)));
    }
    if (rnd() < 0.2) out.push(L(greet(ip, pick(['client disconnected', 'client sent data before greeting']), pid)));
    if (rnd() < 0.2) out.push(L(failed(ip)));
    out.push(L(`tcpserver: end ${pid} status 0`));
  }
  return out;
}

async function countsOf(paths: string[], layout: 'classc' | 'byip', by: 'day' | 'net', fast: boolean, window: { since?: Stamp; until?: Stamp }) {
  const c = new StatsCollector({ layout, by, zone: new Zone('UTC'), top: 5, maxKeys: 1_000_000 });
  // without the fast paths: a record of every line stats keeps, in the batches
  const plain = fast ? {} : { wasm: false, accepted: undefined, each: undefined, consume: undefined };
  const read = await collect(paths, c, { zone: new Zone('UTC'), since: window.since ?? null, until: window.until ?? null, ...plain });
  return { result: c.result(), lines: read.lines };
}

test('lines read from their bytes count as their records do', async () => {
  using d = tempDir();
  const f = join(d.path, 'log');
  writeFileSync(f, connectionLog(4000).join('\n') + '\n', 'latin1');
  for (const window of [{}, { since: at(700), until: at(3100) }])
    for (const layout of ['classc', 'byip'] as const)
      for (const by of ['day', 'net'] as const) {
        const fast = await countsOf([f], layout, by, true, window);
        const plain = await countsOf([f], layout, by, false, window);
        assert.deepEqual(fast, plain, `${layout} by ${by} ${JSON.stringify(window)}`);
        assert.ok(fast.result.clients.evictableClients > 10 && fast.result.greylisted.keys > 10);
      }
});

test('addressId reads an address from bytes as ipId of parseIp reads its text', () => {
  const texts = [
    '', ':', '::', ':::', '::::', '1::', '::1', '1::2', '1::2::3', '1:::2', '1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7', '1:2:3:4:5:6:7::',
    '::1:2:3:4:5:6:7', '1:2:3:4::5:6:7:8', '2001:db8::1', '2001:DB8::A', '2001:db8::g', '12345::', 'fffff::1', '::ffff:192.0.2.1', '::ffff:c000:201',
    '::ffff:192.0.2', '::ffff:192.0.2.256', '1.2.3.4::', '::1.2.3.4', '1.2.3.4:5::', '::1.2.3.4:5', '0:0:0:0:0:ffff:1.2.3.4', '1:2:3:4:5:6:1.2.3.4',
    '1:2:3:4:5:6:7:1.2.3.4', '1:2:3:4:5::1.2.3.4', '1:2:3:4:5:6::1.2.3.4', '::.', ':.:', '1.2.3.4', '001.002.003.004', '1.2.3', '1.2.3.4.5', '256.1.1.1',
    '1..2.3', '', 'a.b.c.d', '0.0.0.0', '255.255.255.255', '128.0.0.1', `${'1:'.repeat(22)}1`, '0000:0000:0000:0000:0000:0000:0000:0001',
  ];
  const next = seeded(0x85ebca6b);
  const rnd = () => next(2 ** 32) / 2 ** 32;
  const alphabet = '0123456789abcdefABCDEF:.:.:g';
  for (let i = 0; i < 20000; i++) {
    let t = '';
    for (let n = Math.floor(rnd() * 20); n > 0; n--) t += alphabet[Math.floor(rnd() * alphabet.length)];
    texts.push(t);
  }
  const g = new Int32Array(8);
  const tail = new Int32Array(8);
  for (const t of texts) {
    // the address with the bytes around it that a line has (a colon after it, as in GREETDELAY's)
    const b = Buffer.from(`x${t}: `, 'latin1');
    const ip = parseIp(t);
    assert.equal(addressId(b, 1, 1 + t.length, g, tail), ip === null ? null : ipId(ip), t);
  }
});
