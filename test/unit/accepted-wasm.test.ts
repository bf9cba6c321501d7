// The WebAssembly scan of accepted lines (src/native/accepted.c) against the JavaScript path:
// the committed module is what clang-14 builds from the C; on every kind of line (fixtures,
// samples, hostile and fuzzed lines) the reader gives the same records, line numbers, warnings,
// stats and accepted-line facts with and without it; plain lines really take the fast path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { openLogs, recordFacts, F_AUTH, F_RECEIVED, F_RELAY, type LogRecord, type ReadOptions } from '../../src/logs/read.js';
import { acceptedFacts } from '../../src/core/logline.js';
import { encodeLabel, type Stamp } from '../../src/core/tai64n.js';
import { formatIp, parseIp, type Ip } from '../../src/core/ip.js';
import { Zone } from '../../src/core/zone.js';
import { acceptedScanner, recordIp, ACCEPTED_NEEDLE, FAST, HEAD, L_END, L_HI, L_LO, L_NANO, L_REC, OTHER, OUT_TEXT, R_LINE, R_STATUS, R_TEXT } from '../../src/native/accepted.js';
import { FIXTURES, ROOT, run, tempDir } from '../helpers/util.js';
import { collect } from '../../src/actions/stats.js';
import { StatsCollector } from '../../src/core/stats.js';
import { RcptCollector } from '../../src/core/rcpt-stats.js';
import { seeded } from '../helpers/random.js';

const T0 = 1_790_000_000;
const label = (i: number) => encodeLabel({ sec: T0 + i, nsec: (i * 7919) % 1_000_000_000 });

interface Fields {
  kind: string;
  reason: string;
  detail: string;
  helo: string;
  mailfrom: string;
  rcptto: string;
  relay: string;
  rcpthosts: string;
  size: string;
  authuser: string;
  authtype: string;
  encrypted: string;
  sslverified: string;
  sslproto: string | null;
  localip: string;
  localport: string;
  remoteip: string;
  remoteport: string;
  remotehost: string;
  qp: string;
  pid: string;
}

const BASE: Fields = {
  kind: 'qlogenvelope',
  reason: 'rcptto',
  detail: 'chkuser',
  helo: 'mail.example.com',
  mailfrom: 'alice@example.com',
  rcptto: 'bob@example.org',
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
  remoteip: '203.0.113.45',
  remoteport: '40123',
  remotehost: 'mail.example.com',
  qp: '',
  pid: '4711',
};

function body(f: Partial<Fields> = {}): string {
  const x = { ...BASE, ...f };
  return (
    `${x.kind}: result=accepted code=250 reason=${x.reason} detail=${x.detail} helo=${x.helo} mailfrom=${x.mailfrom} rcptto=${x.rcptto} relay=${x.relay} rcpthosts=${x.rcpthosts} size=${x.size} authuser=${x.authuser} authtype=${x.authtype} encrypted=${x.encrypted} sslverified=${x.sslverified}` +
    (x.sslproto === null ? '' : ` sslproto=${x.sslproto}`) +
    ` localip=${x.localip} localport=${x.localport} remoteip=${x.remoteip} remoteport=${x.remoteport} remotehost=${x.remotehost} qp=${x.qp} pid=${x.pid}`
  );
}

/** Hand-made lines that hold the needle (latin1 strings: one char per byte). */
function craftedLines(): string[] {
  const L = (b: string, i = 1) => `${label(i)} ${b}`;
  const utf8 = (s: string) => Buffer.from(s, 'utf8').toString('latin1');
  const out: string[] = [
    L(body()),
    L(body({ kind: 'qlogreceived', reason: 'queueaccept', detail: '', rcpthosts: '', size: '2345', qp: '4712' })),
    L(body({ relay: 'yes' })),
    L(body({ authuser: 'bob@example.org', authtype: 'login', encrypted: 'tls', sslverified: 'yes', sslproto: 'TLSv1.3' })),
    L(body({ encrypted: 'ssl', sslproto: '' })),
    L(body({ sslproto: 'TLSv1.2', sslverified: '' })),
    // every value empty that may be
    L(body({ reason: '', detail: '', helo: '', mailfrom: '', rcptto: '', rcpthosts: '', size: '', authuser: '', authtype: '', encrypted: '', sslverified: '', localip: '', localport: '', remoteip: '', remoteport: '', remotehost: '', qp: '' })),
    // CRLF, two CRs, a CR inside, a trailing space
    L(body()) + '\r',
    L(body()) + '\r\r',
    L(body({ helo: 'a\rb' })),
    L(body()) + ' ',
    L(body()) + '\t',
    // SMTPUTF8: spaces, tabs and other whitespace in client values
    L(body({ helo: 'bad helo x' })),
    L(body({ mailfrom: 'a b@example.com', rcptto: 'c d@example.org' })),
    L(body({ detail: 'x\ty' })),
    L(body({ authuser: 'bob smith' })),
    L(body({ helo: 'a\x0bb', mailfrom: 'a\x0cb' })),
    L(utf8(body({ mailfrom: 'ü@sender.example' }))),
    L(utf8(body({ helo: 'nb\u00a0sp' }))),
    L(utf8(body({ helo: 'ideo\u3000space' }))),
    L(body({ helo: 'latin1\xa0byte' })),
    L(body({ helo: 'junk\xff\xfe' })),
    L(body({ helo: 'nul\x00byte', mailfrom: 'ctl\x01\x1f\x7f' })),
    // forged keys in client text
    L(body({ helo: 'x remoteip=192.0.2.66 remoteport=1' })),
    L(body({ mailfrom: 'a@b relay=yes rcpthosts=yes' })),
    L(body({ helo: 'x', rcptto: 'c@example.org relay=yes rcpthosts=yes size=1 authuser=evil' })),
    L(body({ detail: 'result=accepted code=250' })),
    L(body({ remotehost: 'h qp=1 pid=2' })),
    // addresses in every form
    ...[
      '1.2.3.4',
      '255.255.255.255',
      '0.0.0.0',
      '001.002.003.004',
      '256.1.1.1',
      '1.2.3',
      '1.2.3.4.5',
      '1..2.3',
      '.1.2.3',
      '1.2.3.',
      '0001.2.3.4',
      '1.2.3.4444',
      '12.34.56.789',
      '1.2.3.4a',
      '2001:db8::1',
      '::ffff:192.0.2.7',
      '::ffff:c000:207',
      '::FFFF:192.0.2.8',
      '::1',
      'fe80::1%eth0',
      '2001:db8:0:0:0:0:0:1:2',
      'not-an-ip',
      '[192.0.2.1]',
    ].map((ip) => L(body({ remoteip: ip }))),
    // value classes
    L(body({ relay: 'maybe' })),
    L(body({ relay: '' })),
    L(body({ relay: 'YES' })),
    L(body({ rcpthosts: 'yess' })),
    L(body({ size: '12a' })),
    L(body({ localport: '-1' })),
    L(body({ remoteport: '1.5' })),
    L(body({ qp: 'x' })),
    L(body({ pid: '' })),
    L(body({ pid: '12x' })),
    L(body({ encrypted: 'starttls' })),
    L(body({ encrypted: 'TLS' })),
    L(body({ sslverified: 'y' })),
    L(body({ kind: 'qlogother' })),
    L(body({ kind: 'qlogenvelopes' })),
    L(body()).replace(' detail=', '  detail='),
    L(body()).replace(' sslverified=no ', ' sslverified=no  '),
    L(body()).replace('result=accepted code=250', 'result=accepted code=250 '),
    L(body()).replace('code=250 ', 'code=2500 '),
    L(body()).replace(' localip=', ' sslproto=a sslproto=b localip='),
    L(body()).replace(' authtype=', ' authtype2='),
    L(body()).replace(' pid=4711', ''),
    L(body()).replace(' pid=4711', ' pid=4711 pid=4712'),
    // labels
    `@400000006b0279082bdbfd3 ${body()}`,
    `@400000006b0279082bdbfd3c0 ${body()}`,
    `@400000006B0279082bdbfd3c ${body()}`,
    `@400000006b0279082bdbfd3C ${body()}`,
    `@400000006b0279082bdbfd3g ${body()}`,
    `@0000000000000000000000ff ${body()}`,
    `@ffffffffffffffff00000000 ${body()}`,
    `@400000000000000000000000 ${body()}`,
    `@3fe0000100000000000000ff ${body()}`,
    `@401fffff00000000000000ff ${body()}`,
    `@4020000000000000000000ff ${body()}`,
    `${label(2)}${body()}`,
    `${label(2)}  ${body()}`,
    `${label(2)}\t${body()}`,
    body(),
    `2026-01-02 03:04:05.123456789 ${body()}`,
    `Fri Jan  2 03:04:05 2026  ${body()}`,
    // the needle elsewhere
    `${label(3)} tcpserver: status: 1/20 result=accepted code=250`,
    `result=accepted code=250`,
    `${label(3)} result=accepted code=250result=accepted code=250`,
    `junk \x00\x01\xff\xfe\x7f result=accepted code=250 \xff end`,
    L(body({ helo: 'y'.repeat(70_000) })),
    L(body({ rcptto: Array.from({ length: 300 }, (_, i) => `r${i}@example.org`).join(',') })),
  ];
  return out;
}

/** Seeded byte-level mutations of plain lines: what the C must either parse exactly or leave to JS. */
function fuzzedLines(n: number): string[] {
  let seed = 0x2545f491;
  const rnd = () => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) / 4294967296;
  };
  const pick = <T,>(a: readonly T[]): T => a[Math.floor(rnd() * a.length)]!;
  const bytes = [' ', ' ', '\t', '\r', '\x0b', '\x00', '\x7f', '\x80', '\xa0', '\xff', '=', '.', ':', '0', '9', 'a', 'f', 'g', 'A', 'y', 'e', 's', 'n', 'o', '@'];
  const seeds = [
    body(),
    body({ kind: 'qlogreceived', relay: 'yes', authuser: 'u', sslproto: 'TLSv1.3', encrypted: 'tls', sslverified: 'yes', size: '99', qp: '7' }),
    body({ remoteip: '::ffff:198.51.100.9' }),
    body({ remoteip: '9.9.9.9', rcpthosts: '', sslverified: '' }),
  ];
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    let s = `${label(i)} ${pick(seeds)}`;
    const edits = 1 + Math.floor(rnd() * 3);
    for (let e = 0; e < edits; e++) {
      const at = Math.floor(rnd() * s.length);
      const r = rnd();
      if (r < 0.4) s = s.slice(0, at) + pick(bytes) + s.slice(at + 1);
      else if (r < 0.7) s = s.slice(0, at) + pick(bytes) + s.slice(at);
      else s = s.slice(0, at) + s.slice(at + 1);
    }
    // keep the needle in most lines, so they are hits
    if (!s.includes(ACCEPTED_NEEDLE) && rnd() < 0.8) s = `${label(i)} ${pick(seeds)}`;
    out.push(s);
  }
  // remoteip: 3..5 runs of 0..4 digits (leading zeros, values around 255) and the odd other byte
  const run = () => {
    const len = Math.floor(rnd() * 5);
    let r = '';
    for (let k = 0; k < len; k++) r += rnd() < 0.3 ? '0' : rnd() < 0.5 ? pick(['1', '2', '5']) : String(Math.floor(rnd() * 10));
    return r;
  };
  for (let i = 0; i < n / 4; i++) {
    const parts = Array.from({ length: rnd() < 0.8 ? 4 : pick([3, 5]) }, run);
    let ip = parts.join('.');
    if (rnd() < 0.1) {
      const at = Math.floor(rnd() * (ip.length + 1));
      ip = ip.slice(0, at) + pick(['a', ':', '/', ' ', '-', '\x00']) + ip.slice(at);
    }
    out.push(`${label(i)} ${body({ remoteip: ip })}`);
  }
  // remoteip: IPv6 in every spelling: groups of 0..5 hex digits of either case, '::' anywhere
  // (also twice, ':::'), dotted tails, IPv4-mapped, too many or too few groups
  const hexes = '0123456789abcdefABCDEFg';
  const group = () => {
    const len = rnd() < 0.1 ? pick([0, 5]) : 1 + Math.floor(rnd() * 4);
    let g = '';
    for (let k = 0; k < len; k++) g += rnd() < 0.3 ? '0' : hexes[Math.floor(rnd() * hexes.length)]!;
    return g;
  };
  for (let i = 0; i < n / 4; i++) {
    const count = rnd() < 0.6 ? 8 : Math.floor(rnd() * 10);
    const parts = Array.from({ length: count }, group);
    if (rnd() < 0.3) parts.splice(-2, 2, [run(), run(), run(), run()].join('.'));
    let ip = parts.join(':');
    if (rnd() < 0.5) {
      const at = Math.floor(rnd() * (parts.length + 1));
      ip = [...parts.slice(0, at), '', ...parts.slice(at)].join(':');
      if (at === 0) ip = ':' + ip;
      if (at === parts.length) ip += ':';
    }
    if (rnd() < 0.15) ip = pick(['::ffff:', '::FFFF:', '0:0:0:0:0:ffff:', '::fffe:', '64:ff9b::']) + (rnd() < 0.5 ? [run(), run(), run(), run()].join('.') : `${group()}:${group()}`);
    if (rnd() < 0.05) ip = ip.replace(':', ':::');
    if (rnd() < 0.05) ip += '%eth0';
    out.push(`${label(i)} ${body({ remoteip: ip })}`);
  }
  // long digit runs where digits are expected
  for (const d of ['1234567890123456', '12345678901234567', '123456789012345678901234567890123', '1234567890123456789x', 'x234567890123456789', '1x' + '2'.repeat(31), '9'.repeat(40) + 'x']) {
    out.push(`${label(1)} ${body({ size: d })}`, `${label(2)} ${body({ qp: d, pid: d })}`, `${label(3)} ${body({ remoteport: d })}`);
  }
  return out;
}

/** Every line of the fixtures and samples (complete files, as they are). */
function fixtureFiles(): string[] {
  const files: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d)) {
      const p = join(d, e);
      if (statSync(p).isDirectory()) walk(p);
      else files.push(p);
    }
  };
  walk(FIXTURES);
  try {
    walk('/work/shared/samples');
  } catch {
    // not on every machine: the fixtures hold copies of the samples
  }
  return files.filter((f) => readFileSync(f).includes(ACCEPTED_NEEDLE));
}

interface Run {
  records: unknown[];
  /** per record: its facts came from the wasm scan */
  fast: boolean[];
  facts: number;
  stats: unknown;
  warnings: string[];
  /**
   * the sinks' calls: sec, nsec, flags (F_RECEIVED, F_RELAY, F_AUTH), address (an IPv4 number
   * from `accepted`, an IPv6 address's four words from `accepted6`), pid
   */
  sunk: [number, number, number, number | number[], number][];
}

function view(r: LogRecord) {
  const f = recordFacts(r);
  return {
    source: r.source,
    group: r.group,
    lineno: r.lineno,
    stamp: r.stamp,
    order: r.order,
    prefix: r.prefix,
    line: r.line,
    bodyStart: r.bodyStart,
    restStart: r.restStart,
    ascii: r.ascii,
    body: r.body,
    facts: f,
    ip: f?.ip ? formatIp(f.ip) : null,
  };
}

async function read(paths: string[], opts: ReadOptions): Promise<Run> {
  const warnings: string[] = [];
  const sunk: Run['sunk'] = [];
  const { batches, stats } = openLogs(paths, { zone: new Zone('UTC'), warn: (m) => warnings.push(m), ...opts });
  const records: unknown[] = [];
  const fast: boolean[] = [];
  let facts = 0;
  for await (const b of batches) {
    for (const r of b) {
      fast.push(r.facts !== undefined);
      if (r.facts !== undefined) {
        facts++;
        // the precomputed facts are exactly what the JavaScript parse says
        assert.deepEqual(r.facts, acceptedFacts(r.body), `line ${r.lineno}: ${JSON.stringify(r.line.slice(0, 300))}`);
      }
      records.push(view(r));
    }
  }
  return { records, fast, facts, stats: { ...stats, ends: [...stats.ends] }, warnings, sunk };
}

/** `read` with rebuild's sinks for the plain accepted lines */
async function readSunk(paths: string[], opts: ReadOptions): Promise<Run> {
  const sunk: Run['sunk'] = [];
  const mask = F_RECEIVED | F_RELAY | F_AUTH;
  const r = await read(paths, {
    ...opts,
    accepted: (sec, nsec, flags, ip4, pid) => void sunk.push([sec, nsec, flags & mask, ip4, pid]),
    accepted6: (sec, nsec, flags, w0, w1, w2, w3, pid) => void sunk.push([sec, nsec, flags & mask, [w0, w1, w2, w3], pid]),
  });
  return { ...r, sunk };
}

/** an Ip as a sink has it: an IPv4 number, or an IPv6 address's four 32-bit words */
const sunkIp = (ip: Ip): number | number[] => (ip.family === 4 ? ip.value : [0, 2, 4, 6].map((i) => ((ip.groups[i]! << 16) | ip.groups[i + 1]!) >>> 0));

/** Both paths over the same input; returns the number of records the wasm path parsed itself. */
async function same(paths: string[], opts: ReadOptions = {}): Promise<number> {
  const js = await read(paths, { needle: ACCEPTED_NEEDLE, ...opts, wasm: false });
  const wasm = await read(paths, { needle: ACCEPTED_NEEDLE, ...opts });
  assert.equal(js.facts, 0);
  assert.deepEqual(wasm.stats, js.stats);
  assert.deepEqual(wasm.warnings, js.warnings);
  assert.equal(wasm.records.length, js.records.length);
  for (let i = 0; i < js.records.length; i++) assert.deepEqual(wasm.records[i], js.records[i], `record ${i}`);
  // with the sinks: every FAST record with an address is a call with its numbers instead,
  // the rest are the same records (each path here is a group of its own: with several, the
  // sink is never called)
  const sink = await readSunk(paths, { needle: ACCEPTED_NEEDLE, ...opts });
  assert.deepEqual(sink.stats, js.stats);
  assert.deepEqual(sink.warnings, js.warnings);
  const calls: Run['sunk'] = [];
  const rest: unknown[] = [];
  wasm.records.forEach((x, i) => {
    const v = x as ReturnType<typeof view>;
    // the pid= that ends the body, as stats reads it (the sink takes 1 to 15 digits)
    const pid = /pid=([0-9]{1,15})$/.exec(v.body)?.[1];
    if (wasm.fast[i] && v.facts!.ip && paths.length === 1 && pid !== undefined) {
      const f = v.facts!;
      calls.push([v.stamp!.sec, v.stamp!.nsec, (f.kind === 'qlogreceived' ? F_RECEIVED : 0) | (f.relay ? F_RELAY : 0) | (f.authuser !== '' ? F_AUTH : 0), sunkIp(f.ip!), Number(v.body.slice(v.body.lastIndexOf(' pid=') + 5))]);
    } else rest.push(x);
  });
  assert.deepEqual(sink.sunk, calls);
  assert.equal(sink.records.length, rest.length);
  for (let i = 0; i < rest.length; i++) assert.deepEqual(sink.records[i], rest[i], `record ${i} beside the sink`);
  return wasm.facts;
}

test('the committed module is what clang-14 builds from accepted.c', () => {
  using d = tempDir();
  const out = join(d.path, 'accepted-wasm.ts');
  const r = run('sh', [join(ROOT, 'scripts/build-wasm.sh'), out]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(readFileSync(out, 'utf8'), readFileSync(join(ROOT, 'src/native/accepted-wasm.ts'), 'utf8'), 'src/native/accepted-wasm.ts is stale: run `npm run build:wasm`');
});

test('the scanner loads, and QGREY_NO_WASM=1 turns it off', () => {
  assert.ok(acceptedScanner(), 'WebAssembly scanner did not load');
  process.env.QGREY_NO_WASM = '1';
  try {
    assert.equal(acceptedScanner(), null);
  } finally {
    delete process.env.QGREY_NO_WASM;
  }
  assert.ok(acceptedScanner());
});

test('lines(): every line\'s newline and label, as indexOf and the reader\'s label parse find them, across batches', () => {
  const w = acceptedScanner()!;
  const rnd = seeded(0x1234567);
  const good = label(7);
  const shapes = [
    () => '',
    () => 'x',
    () => `${label(rnd(1e6))} ${'y'.repeat(rnd(200))}`,
    () => `${label(rnd(1e6))} `, // 26 bytes: a label with nothing after it
    () => good.slice(0, 25), // 25 bytes
    () => good.toUpperCase() + ' upper-case hex',
    () => '#' + good.slice(1) + ' no @',
    () => good + 'x not a space',
    () => good.slice(0, 10) + 'g' + good.slice(11) + ' not hex',
    () => '@ffffffffffffffffffffffff far future',
    () => '@000000000000000000000000 far past',
    () => `${label(rnd(1e6))} ${'\r'.repeat(rnd(3))}`,
  ];
  // more lines than one batch (lines_max), most of them short, then long ones
  const parts: string[] = [];
  for (let i = 0; i < 40_000; i++) parts.push(i < 20_000 && i % 3 ? '' : shapes[rnd(shapes.length)]!());
  const text = Buffer.from(parts.join('\n') + '\n', 'latin1');
  for (const start of [0, 1 + parts[0]!.length]) {
    const n = Math.min(text.length, w.cap);
    const last = text.lastIndexOf(10, n - 1);
    text.copy(w.input, 0, 0, last + 1);
    const want: number[][] = [];
    for (let ls = start; ls <= last; ) {
      const le = text.indexOf(10, ls);
      const st = { sec: 0, nsec: 0 };
      want.push(le - ls >= 26 && labelOfText(text, ls, st) ? [le, st.sec, st.nsec] : [le]);
      ls = le + 1;
    }
    const got: number[][] = [];
    let batches = 0;
    for (let ls = start; ls <= last; ) {
      const k = w.lines(ls, last + 1);
      assert.ok(k > 0);
      batches++;
      for (let j = 0; j < k; j++) {
        const r = j * L_REC;
        const le = w.lineOut[r + L_END]!;
        const rel = w.lineOut[r + L_HI]! - 0x40000000;
        got.push(rel > -(1 << 21) && rel < 1 << 21 ? [le, rel * 4294967296 + w.lineOut[r + L_LO]! - 10, w.lineOut[r + L_NANO]!] : [le]);
        ls = le + 1;
      }
    }
    assert.ok(batches > 1, 'more than one batch');
    assert.equal(got.length, want.length);
    assert.deepEqual(got, want);
  }
});

/** the reader's labelAt, written again from FORMATS.md: '@', 24 lowercase hex digits, ' ', within 2^21 s of 2^62 */
function labelOfText(b: Buffer, ls: number, into: { sec: number; nsec: number }): boolean {
  const m = /^@([0-9a-f]{8})([0-9a-f]{8})([0-9a-f]{8}) /.exec(b.toString('latin1', ls, ls + 26));
  if (!m) return false;
  const rel = parseInt(m[1]!, 16) - 0x40000000;
  if (rel <= -(1 << 21) || rel >= 1 << 21) return false;
  into.sec = rel * 4294967296 + parseInt(m[2]!, 16) - 10;
  into.nsec = parseInt(m[3]!, 16);
  return true;
}

test('scanner: newline count, 1-based line index of each hit, FAST only for plain lines', () => {
  const w = acceptedScanner()!;
  const lines = [`${label(1)} x`, `${label(2)} ${body()}`, '', `${label(3)} ${body({ helo: 'a b' })}`, 'result=accepted code=250', `${label(4)} ${body()}\r`];
  const text = Buffer.from(lines.join('\n') + '\n', 'latin1');
  text.copy(w.input);
  // without the text: the same records but for where each line was copied (R_TEXT)
  const bare = w.scan(text.length, false);
  const noText = Array.from(w.out.subarray(0, HEAD + bare * w.rec)).map((v, i) => ((i - HEAD) % w.rec === R_TEXT ? 0 : v));
  const hits = w.scan(text.length, true);
  assert.deepEqual(Array.from(w.out.subarray(0, HEAD + hits * w.rec)).map((v, i) => ((i - HEAD) % w.rec === R_TEXT || i === OUT_TEXT ? 0 : v)), noText.map((v, i) => (i === OUT_TEXT ? 0 : v)));
  assert.equal(w.out[0], lines.length);
  assert.equal(hits, 4);
  const got = Array.from({ length: hits }, (_, h) => [w.out[HEAD + h * w.rec + R_LINE], w.out[HEAD + h * w.rec + R_STATUS]]);
  assert.deepEqual(got, [
    [2, FAST],
    [4, OTHER],
    [5, OTHER],
    [6, FAST],
  ]);
});

test('scanner: the C reads remoteip exactly as parseIp does (every address it accepts, none it refuses)', () => {
  const w = acceptedScanner()!;
  const addrs = new Set<string>([
    '1.2.3.4', '001.002.003.004', '255.255.255.255', '2001:db8::1', '2001:DB8::A', '::', '::1', '1::', 'fe80::1:2',
    '1:2:3:4:5:6:7:8', '1:2:3:4:5:6:1.2.3.4', '::ffff:192.0.2.7', '::FFFF:c000:207', '0:0:0:0:0:ffff:1.2.3.4',
    '::1:ffff:1.2.3.4', '0:0:0:0:1:ffff:c000:207', '1.2.3.4::', '::0.0.0.0', '64:ff9b::192.0.2.1',
  ]);
  for (const line of fuzzedLines(8000)) {
    const m = / remoteip=(\S*) remoteport=/.exec(line);
    if (m) addrs.add(m[1]!);
  }
  for (const a of ['1::2::3', ':::', '1:::2', ':1::2', '1::2:', '1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8:9', '1::2:3:4:5:6:7:8', '12345::', 'g::1', '::1.2.3', '1.2.3.4:5::', 'fe80::1%eth0']) addrs.add(a);
  let read = 0;
  let read6 = 0;
  for (const a of addrs) {
    const text = Buffer.from(`${label(1)} ${body({ remoteip: a })}\n`, 'latin1');
    text.copy(w.input);
    assert.equal(w.scan(text.length, true), 1);
    if (w.out[HEAD + R_STATUS] !== FAST) continue;
    const ip = recordIp(w.out, HEAD);
    // undefined: the C leaves it to parseIp, which it does only for what is no address
    assert.deepEqual(ip ?? null, parseIp(a), a);
    if (ip) read++;
    if (ip?.family === 6) read6++;
  }
  assert.ok(read > 300 && read6 > 50, `${read} (${read6} IPv6) of ${addrs.size}`);
});

test('hand-made hostile lines: the same records and facts with and without wasm', async () => {
  using d = tempDir();
  const f = join(d.path, 'log');
  const lines = craftedLines();
  // between them, lines without the needle (line numbers must stay exact)
  const text = lines.map((l, i) => `${label(i)} tcpserver: status: ${i}/20\n${l}\n`).join('');
  writeFileSync(f, text, 'latin1');
  const fast = await same([f]);
  assert.ok(fast >= 20, `only ${fast} lines took the fast path`);
  // each line alone too (the end of the input right after it)
  for (const [i, l] of lines.entries()) {
    writeFileSync(f, l + '\n', 'latin1');
    await same([f]).catch((e: unknown) => assert.fail(`line ${i}: ${JSON.stringify(l.slice(0, 200))}: ${String(e)}`));
  }
});

test('plain lines of every accepted shape take the fast path', async () => {
  using d = tempDir();
  const f = join(d.path, 'log');
  const plain = [
    body(),
    body({ kind: 'qlogreceived', reason: 'queueaccept', detail: '', rcpthosts: '', size: '2345', qp: '4712' }),
    body({ relay: 'yes', rcpthosts: 'no' }),
    body({ authuser: 'bob@example.org', authtype: 'login', encrypted: 'tls', sslverified: 'yes', sslproto: 'TLSv1.3' }),
    body({ encrypted: 'ssl', sslproto: '' }),
    body({ sslproto: 'TLSv1.2', sslverified: '' }),
    body({ reason: '', detail: '', helo: '', mailfrom: '', rcptto: '', rcpthosts: '', size: '', authuser: '', authtype: '', encrypted: '', sslverified: '', localip: '', localport: '', remoteip: '', remoteport: '', remotehost: '', qp: '' }),
    body({ remoteip: '2001:db8::1' }),
    body({ remoteip: '001.002.003.004', size: '1234567890123456' }),
    body({ helo: 'nul\x00byte', mailfrom: 'ctl\x01\x1f\x7f' }),
  ];
  for (const [i, b] of plain.entries()) {
    for (const end of ['\n', '\r\n']) {
      writeFileSync(f, `${label(i)} ${b}${end}`, 'latin1');
      const r = await read([f], { needle: ACCEPTED_NEEDLE });
      assert.equal(r.facts, 1, `not FAST: ${JSON.stringify(b + end)}`);
    }
  }
});

test('plain lines of every length modulo 64, with and without CR: the same lines and facts', async () => {
  using d = tempDir();
  const f = join(d.path, 'log');
  const lines: string[] = [];
  for (let k = 0; k < 65; k++) lines.push(`${label(k)} ${body({ helo: 'h'.repeat(k) })}`, `${label(k)} ${body({ helo: 'h'.repeat(k) })}\r`);
  writeFileSync(f, lines.join('\n') + '\n', 'latin1');
  assert.equal(await same([f]), lines.length);
});

test('fuzzed lines: the same records and facts with and without wasm', async () => {
  using d = tempDir();
  const f = join(d.path, 'log');
  const lines = fuzzedLines(20_000);
  writeFileSync(f, lines.join('\n') + '\n', 'latin1');
  const fast = await same([f]);
  assert.ok(fast > 1000, `only ${fast} lines took the fast path`);
});

test('fixtures and samples: the same records with and without wasm, also with since/until', async () => {
  const files = fixtureFiles();
  assert.ok(files.length >= 5, files.join(' '));
  let fast = 0;
  for (const f of files) fast += await same([f]);
  assert.ok(fast > 0);
  // the multilog dirs as directories (rotated files, current, merge of two groups)
  const dirs = [join(FIXTURES, 'stats/smtpd'), join(FIXTURES, 'demo/smtpd')];
  await same(dirs);
  await same([join(FIXTURES, 'demo/backup/qmail-smtpd.day1'), join(FIXTURES, 'demo/smtpd')]);
  const r = await read(dirs, { needle: ACCEPTED_NEEDLE, wasm: false });
  const stamps = (r.records as { stamp: Stamp | null }[]).filter((x) => x.stamp !== null).map((x) => x.stamp!);
  if (stamps.length > 2) {
    const mid = stamps[Math.floor(stamps.length / 2)]!;
    await same(dirs, { since: mid });
    await same(dirs, { until: mid });
  }
});

test('chunk edges, a 1 MB line, a live partial line, an unterminated last line: the same with and without wasm', async () => {
  using d = tempDir();
  const f = join(d.path, 'log');
  const parts: string[] = [];
  for (let i = 0; i < 4000; i++) {
    const k = i % 7;
    if (k === 0) parts.push(`${label(i)} ${body({ remoteip: `198.51.100.${i % 250}`, helo: 'h'.repeat(i % 97) })}`);
    else if (k === 5) parts.push(`${label(i)} ${body({ remoteip: `2001:db8:${i % 9}:ff::${(i % 250).toString(16)}`, helo: 'h'.repeat(i % 89) })}`);
    // pids of 1 to 17 digits (the module reads up to 9, the reader up to 15, a plain line has at most 16)
    else if (k === 6) parts.push(`${label(i)} ${body({ remoteip: `203.0.113.${i % 250}`, pid: String(10 ** (i % 17) + (i % 7)).replace(/e\+?/, '') })}`);
    else if (k === 3) parts.push(`${label(i)} ${body({ helo: 'two words' })}\r`);
    else parts.push(`${label(i)} tcpserver: status: ${i}/20 ${'x'.repeat(i % 300)}`);
    if (i === 2000) parts.push(`${label(i)} ${body({ helo: 'z'.repeat(1 << 20) })}`);
    // runs of empty and one-byte lines (every byte of a block a newline)
    if (i === 1000) parts.push(...new Array<string>(30_000).fill(''), ...new Array<string>(5000).fill('x'));
  }
  writeFileSync(f, parts.join('\n'), 'latin1');
  const fast = await same([f]);
  assert.ok(fast > 400);
  // a live multilog dir: the unterminated line of current is held back
  const dir = join(d.path, 'smtpd');
  mkdirSync(dir);
  writeFileSync(join(dir, `${label(0)}.s`), parts.slice(0, 1500).join('\n') + '\n', 'latin1');
  writeFileSync(join(dir, 'current'), parts.slice(1500).join('\n'), 'latin1');
  await same([dir]);
  await same([dir], { since: { sec: T0 + 1700, nsec: 0 }, until: { sec: T0 + 3000, nsec: 0 } });
  // two groups: their reads interleave (each step of one reads into the scanner's memory, and
  // what it holds of an unfinished line must survive the other's steps)
  const other = join(d.path, 'other');
  writeFileSync(other, parts.slice(700, 3500).reverse().join('\n') + '\n', 'latin1');
  await same([dir, other]);
});

test('another needle, or wasm turned off, never attaches facts', async () => {
  using d = tempDir();
  const f = join(d.path, 'log');
  writeFileSync(f, `${label(1)} ${body()}\n`);
  const other = await read([f], { needle: 'result=accepted' });
  assert.equal(other.facts, 0);
  assert.equal(other.records.length, 1);
  const all = await read([f], {});
  assert.equal(all.facts, 0);
  process.env.QGREY_NO_WASM = '1';
  try {
    assert.equal((await read([f], { needle: ACCEPTED_NEEDLE })).facts, 0);
  } finally {
    delete process.env.QGREY_NO_WASM;
  }
  assert.equal((await read([f], { needle: ACCEPTED_NEEDLE })).facts, 1);
});

/** stats' counts of `paths` (collect, as `qgrey stats` reads), with its fast paths (the WebAssembly sink, the lines read from their bytes) or without them */
async function statsOf(paths: string[], opts: { layout: 'classc' | 'byip'; by: 'day' | 'hour' | 'net'; wasm: boolean; since?: Stamp; until?: Stamp }) {
  const c = new StatsCollector({ layout: opts.layout, by: opts.by, zone: new Zone('UTC'), top: 5, maxKeys: 1_000_000 });
  const rcpt = new RcptCollector({ byIp: opts.layout === 'byip', maxKeys: 1_000_000 });
  const warnings: string[] = [];
  // without the fast paths: every line stats uses a record, delivered in the batches, as before them
  const plain = opts.wasm ? {} : { wasm: false, accepted: undefined, each: undefined, consume: undefined };
  const read = await collect(paths, c, { zone: new Zone('UTC'), ...plain, since: opts.since ?? null, until: opts.until ?? null, warn: (m) => warnings.push(m) }, undefined, null, rcpt);
  return { result: c.result(), rcpt: rcpt.result(), read: { ...read, ends: [...read.ends] }, warnings };
}

/** stats gives the same counts with and without its fast paths */
async function sameStats(paths: string[], extra: { since?: Stamp; until?: Stamp } = {}): Promise<void> {
  for (const layout of ['classc', 'byip'] as const)
    for (const by of ['day', 'net'] as const) {
      const js = await statsOf(paths, { layout, by, wasm: false, ...extra });
      const wasm = await statsOf(paths, { layout, by, wasm: true, ...extra });
      assert.deepEqual(wasm, js, `${layout} by ${by}: ${paths.join(' ')}`);
    }
}

/** A log of connections: decision lines with pids, accepted lines of every kind, tcpserver end, and noise. */
function connectionLines(n: number): string[] {
  const next = seeded(0x9e3779b9);
  const rnd = () => next(2 ** 32) / 2 ** 32;
  const out: string[] = [];
  const decisions = ['OK known', 'GREY first time', 'GREY too soon', 'OK whitelisted', 'OK relayclient', 'DENY blacklisted'];
  let prev = { pid: 0, a: '' };
  for (let i = 0; i < n; i++) {
    // now and then the last connection's pid and address again with no decision line: its
    // mail counts after a decision only if the end line between them was not seen
    const again = rnd() < 0.15;
    const pid = again ? prev.pid : 1000 + Math.floor(rnd() * 50);
    const a = again ? prev.a : rnd() < 0.1 ? `2001:db8::${i % 7}` : rnd() < 0.05 ? `::ffff:198.51.100.${i % 9}` : `198.51.${Math.floor(rnd() * 4)}.${Math.floor(rnd() * 6)}`;
    prev = { pid, a };
    const L = (b: string) => `${label(i)} ${b}`;
    out.push(L(`tcpserver: pid ${pid} from ${a}`));
    if (!again) out.push(L(`jgreylist[${pid}]: ${a}: ${decisions[Math.floor(rnd() * decisions.length)]}`));
    const k = Math.floor(rnd() * 4);
    for (let j = 0; j < k; j++) {
      const r = rnd();
      const f: Partial<Fields> = { remoteip: a, pid: String(pid), helo: 'h'.repeat(Math.floor(rnd() * 200)) };
      if (r < 0.1) f.relay = 'yes';
      else if (r < 0.2) f.authuser = 'bob@example.org';
      else if (r < 0.25) f.pid = '0' + pid;
      else if (r < 0.3) f.pid = '1234567890123456789';
      else if (r < 0.35) f.helo = 'two words';
      out.push(L(body(j === k - 1 ? { ...f, kind: 'qlogreceived', reason: 'queueaccept', detail: '', rcpthosts: '', size: '12', qp: '77' } : f)) + (rnd() < 0.2 ? '\r' : ''));
    }
    if (rnd() < 0.1) out.push(L(`qmail-smtpd: read failed (connection closed by the client before the quit cmd): (null) from ${a} to (null) helo unknown`));
    // decision and end lines of every shape stats reads from their bytes, and near misses
    if (rnd() < 0.3) {
      const odd = [
        `greylist[${pid}]: ${a}: GREY first time`,
        `qgreylist[${pid}]: ${a}: OK known`,
        `qgreylist[${pid}]: ${a}: FAIL open: redis down`,
        `qgreylist[${pid}]: ${a}: FAIL closed`,
        `jgreylist: ${a}: OK known`,
        `jgreylist[${pid}]: ${a}: OK known `,
        `jgreylist[${pid}]: ${a}: OK known: extra`,
        `jgreylist[${pid}]: ${a}: OK unknown`,
        `jgreylist[${pid}]: ${a}: HANGUP client closed`,
        `jgreylist[${pid}]: ${a}: DENY no reverse DNS`,
        `jgreylist[1234567890123456789]: ${a}: OK known`,
        `jgreylist[0${pid}]: 001.051.000.007: GREY too soon`,
        `jgreylist[${pid}]: 256.1.2.3: GREY first time`,
        `jgreylist[${pid}]: 1.2.3: GREY first time`,
        `jgreylist[${pid}]: 1.2.3.4.5: GREY first time`,
        `jgreylist[${pid}]:  1.2.3.4: OK known`,
        `jgreylist[]: 1.2.3.4: OK known`,
        `jgreylist[${pid}]: 1.2.3.4: OK known\r`,
        `tcpserver: end ${pid} status 256`,
        `tcpserver: end ${pid} status 1234567890123456789012`,
        `tcpserver: end ${pid} status `,
        `tcpserver: end ${pid} status 0 `,
        `tcpserver: end 12345678901234567 status 0`,
        `tcpserver: end  ${pid} status 0`,
        `tcpserver: end ${pid} status 0\r`,
        `tcpserver: ended ${pid} status 0`,
      ];
      const pick = odd[Math.floor(rnd() * odd.length)]!;
      out.push(rnd() < 0.05 ? `@4000000069d9d4cq00000000 ${pick}` : L(pick));
    }
    if (rnd() < 0.05) out.push('an unlabelled line ' + body({ remoteip: a }));
    if (rnd() < 0.02) out.push(`@40000000zz ${body({ remoteip: a })}`);
    out.push(L(`tcpserver: end ${pid} status 0`));
    if (rnd() < 0.3) out.push(L(`tcpserver: status: ${i % 20}/20`));
  }
  return out;
}

test('stats: the same counts with its fast paths as with a record per line (CRLF, chunk edges, pids, IPv6, decision and end lines of every shape, several groups, since/until)', async () => {
  using d = tempDir();
  const lines = connectionLines(6000);
  const f = join(d.path, 'log');
  writeFileSync(f, lines.join('\n') + '\n', 'latin1');
  // the sink really takes most accepted lines (and the rest are records)
  const sunk = await readSunk([f], {});
  assert.ok(sunk.sunk.length > 2000, `only ${sunk.sunk.length} lines went to the sink`);
  await sameStats([f]);
  await sameStats([f], { since: { sec: T0 + 1500, nsec: 0 }, until: { sec: T0 + 4000, nsec: 500_000_000 } });
  // a multilog dir (rotated files and current), and the same lines split over two groups
  const dir = join(d.path, 'smtpd');
  mkdirSync(dir);
  writeFileSync(join(dir, `${label(0)}.s`), lines.slice(0, 9000).join('\n') + '\n', 'latin1');
  writeFileSync(join(dir, 'current'), lines.slice(9000).join('\n'), 'latin1');
  await sameStats([dir]);
  await sameStats([dir, f]);
  for (const file of fixtureFiles()) await sameStats([file]);
  await sameStats([join(FIXTURES, 'stats/smtpd')]);
  await sameStats([join(FIXTURES, 'demo/backup/qmail-smtpd.day1'), join(FIXTURES, 'demo/smtpd')]);
});
