// `qgrey stats` on fixture logs with known answers (fixtures/stats/README.md), its output
// modes, its SVG chart (checked by xmllint and against --json), and its errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync, existsSync, lstatSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { qgrey, tempDir, FIXTURES, QGREY } from '../helpers/util.js';
import type { StatsResult } from '../../src/core/stats.js';
import { DECISION_COLUMNS, columnCount } from '../../src/core/decision.js';
import { encodeLabel } from '../../src/core/tai64n.js';
import { seeded } from '../helpers/random.js';

const LOGS = join(FIXTURES, 'stats/smtpd');
const ENV = { TZ: 'UTC' };

function json(args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string } = {}): StatsResult & { read: { files: number; lines: number; bad: number; duplicates: number } } {
  const r = qgrey(['stats', '--json', ...args], { env: { ...ENV, ...opts.env }, ...(opts.input !== undefined ? { input: opts.input } : {}) });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  return JSON.parse(r.stdout);
}

test('known answers on a log mixing jgreylist, sagredo greylist and qgreylist lines', () => {
  const r = json(['--utc', LOGS]);
  assert.deepEqual(r.read, { files: 2, lines: 65, bad: 0, duplicates: 0 });
  assert.deepEqual(r.decisions, {
    firstTime: 9,
    tooSoon: 4,
    known: 5,
    whitelisted: 1,
    relayclient: 1,
    blacklisted: 1,
    noReverseDns: 1,
    tooManyRcpt: 1,
    clientClosed: 0,
    failOpen: 1,
    failClosed: 0,
    total: 24,
    denied: 2,
  });
  assert.deepEqual(r.programs, { jgreylist: 14, greylist: 4, qgreylist: 6 });
  assert.equal(r.badAddresses, 1);
  assert.deepEqual(r.greylisted, {
    keys: 8,
    delivered: { count: 3, pct: 37.5 },
    backNotDelivered: { count: 2, pct: 25 },
    neverBack: { count: 3, pct: 37.5 },
    neverBackRecent: 1,
    delay: { count: 3, median: 1201, p90: 43201, max: 43201 },
    addresses: 11,
    addressesNeverRetried: 7,
  });
  assert.deepEqual(r.clients, {
    hangups: 3,
    nullSessionHangups: 2,
    greetdelayDisconnects: 1,
    pregreet: 1,
    evictableEvents: 3,
    evictableClients: 3,
    evictableGreylisted: 1,
  });
  assert.deepEqual(r.accepted, {
    messages: 8,
    recipients: 9,
    messagesAfter: { known: 4, whitelisted: 1, relayclient: 1, failOpen: 1, other: 0, none: 1 },
    relayOrAuth: 1,
  });
  assert.deepEqual(
    r.rows.map((x) => [x.label, x.decisions.firstTime, x.decisions.tooSoon, x.decisions.known, x.decisions.whitelisted, x.denied, x.messages, x.recipients, x.hangups, x.evictable, x.greylisted, x.delivered, x.backNotDelivered, x.neverBack]),
    [
      ['2026-11-20', 5, 2, 4, 1, 0, 5, 6, 2, 1, 5, 3, 1, 1],
      ['2026-11-21', 4, 2, 1, 0, 2, 3, 3, 2, 2, 3, 0, 1, 2],
    ],
  );
  assert.deepEqual(
    r.top.networks.slice(0, 3).map((n) => [n.network, n.greylists, n.addresses, n.neverRetried, n.delivered]),
    [
      ['198.18.6.0/24', 3, 3, 3, 0],
      ['198.51.100.0/24', 2, 2, 1, 1],
      ['203.0.113.0/24', 2, 1, 0, 1],
    ],
  );
  assert.deepEqual(r.top.senders[0], { address: '203.0.113.5', network: '203.0.113.0/24', greylists: 2, retried: true, delivered: true });
  assert.deepEqual(
    r.top.neverRetried.map((n) => [n.network, n.neverRetried]),
    [
      ['198.18.6.0/24', 3],
      ['198.51.100.0/24', 1],
      ['198.18.5.0/24', 1],
      ['198.18.7.0/24', 1],
      ['198.18.50.0/24', 1],
    ],
  );
  assert.ok(r.top.networks.some((n) => n.network === '2001:db8:1::/64'), 'the IPv6 /64 is a network too');
  assert.deepEqual(r.truncated, { keys: 0, addresses: 0, nets: 0, evictable: 0 });
});

test('--by-ip follows single addresses; --top limits the lists', () => {
  const r = json(['--utc', '--by-ip', '--top', '2', LOGS]);
  assert.equal(r.layout, 'byip');
  assert.equal(r.greylisted.keys, 11);
  assert.equal(r.greylisted.delivered.count, 3);
  assert.equal(r.greylisted.backNotDelivered.count, 1);
  assert.equal(r.greylisted.neverBack.count, 7);
  assert.deepEqual(r.greylisted.delay, { count: 3, median: 1171, p90: 43201, max: 43201 });
  assert.equal(r.top.networks.length, 2);
  assert.equal(r.top.senders.length, 2);
});

test('--by hour and --by net; --since/--until; the local zone decides the days', () => {
  const hourly = json(['--utc', '--by', 'hour', LOGS]);
  assert.equal(hourly.rows[0]?.label, '2026-11-20T10:00');
  assert.equal(hourly.rows.at(-1)?.label, '2026-11-21T23:00');
  assert.equal(hourly.rows.length, 38, 'every hour from the first to the last, quiet ones included');
  assert.equal(hourly.rows.reduce((s, x) => s + x.decisions.firstTime, 0), 9);
  const net = json(['--utc', '--by', 'net', LOGS]);
  assert.deepEqual(
    net.nets.slice(0, 3).map((n) => [n.label, n.decisions.firstTime, n.decisions.tooSoon, n.decisions.known, n.messages, n.delivered]),
    [
      ['198.18.6.0/24', 1, 2, 0, 0, 0],
      ['198.51.100.0/24', 1, 1, 1, 1, 1],
      ['203.0.113.0/24', 1, 1, 1, 1, 1],
    ],
  );
  assert.equal(net.nets.reduce((s, x) => s + x.greylisted, 0), 8);
  const day2 = json(['--utc', '--since', '2026-11-21T00:00:00Z', '--until', '2026-11-21T12:00:00Z', LOGS]);
  assert.equal(day2.rows.length, 1);
  assert.equal(day2.decisions.total, 8, 'the FAIL open at 12:00:00.0000005 is after --until');
  // in Tokyo (UTC+9) lines from 15:00 UTC on fall on the next day
  const tokyo = json([LOGS], { env: { TZ: 'Asia/Tokyo' } });
  assert.equal(tokyo.zone, 'Asia/Tokyo');
  assert.deepEqual(
    tokyo.rows.map((x) => [x.label, Object.values(x.decisions).reduce((a, b) => a + b, 0)]),
    [
      ['2026-11-20', 10],
      ['2026-11-21', 12],
      ['2026-11-22', 2],
    ],
  );
});

test('standard input gives the same answers as the directory', () => {
  const all = readdirSync(LOGS)
    .sort()
    .map((f) => readFileSync(join(LOGS, f), 'latin1'))
    .join('');
  for (const stdin of ['-', '/dev/stdin']) {
    const r = json(['--utc', stdin], { input: all });
    assert.equal(r.greylisted.keys, 8, stdin);
    assert.equal(r.decisions.total, 24, stdin);
    assert.equal(r.accepted.messages, 8, stdin);
  }
});

test('text report: plain in pipes and with NO_COLOR, coloured with FORCE_COLOR, on a terminal unless NO_COLOR', () => {
  const plain = qgrey(['stats', '--utc', LOGS], { env: ENV });
  assert.equal(plain.code, 0, plain.stderr);
  assert.doesNotMatch(plain.stdout, /\x1b\[/);
  const lines = plain.stdout.split('\n');
  assert.equal(lines[0], 'qgrey stats: 2026-11-20 10:00 to 2026-11-21 23:30 (UTC)');
  assert.match(lines[1] ?? '', /^65 lines in 2 files, keys class C/);
  assert.ok(lines.includes('never came back              3   37.5'), plain.stdout);
  const delay = lines.indexOf('delay from first greylist to first accepted mail (3 keys):');
  assert.ok(delay > 0, plain.stdout);
  assert.equal(lines[delay + 1], '  median 20m01s, p90 12h00m, max 12h00m');
  // the per-day table in two that fit 80 columns: the decisions, then mail, hang-ups, keys
  assert.ok(lines.includes('per day (UTC): decisions'), plain.stdout);
  assert.ok(lines.includes('per day (UTC): mail, hang-ups and the keys greylisted'), plain.stdout);
  assert.ok(lines.some((l) => /^2026-11-21 +4 +2 +1 +0 +2 +2$/.test(l)), plain.stdout);
  assert.ok(lines.some((l) => /^2026-11-21 +3 +2 +3 +0 +1 +2$/.test(l)), plain.stdout);
  for (const l of lines) assert.equal(l, l.trimEnd(), 'no trailing spaces');
  // the helper always sets NO_COLOR and drops FORCE_COLOR: spawn directly for these
  const bare = (env: Record<string, string>, argv: string[]) => {
    const e: NodeJS.ProcessEnv = { ...process.env, ...ENV, ...env };
    if (!('NO_COLOR' in env)) delete e.NO_COLOR;
    if (!('FORCE_COLOR' in env)) delete e.FORCE_COLOR;
    const r = spawnSync(argv[0]!, argv.slice(1), { env: e, encoding: 'utf8' });
    return { code: r.status, stdout: String(r.stdout), stderr: String(r.stderr) };
  };
  const cli = [process.execPath, QGREY, 'stats', '--utc', LOGS];
  for (const env of [{}, { FORCE_COLOR: '0' }, { NO_COLOR: '1' }] as Record<string, string>[]) assert.doesNotMatch(bare(env, cli).stdout, /\x1b\[/, JSON.stringify(env));
  const forced = bare({ FORCE_COLOR: '1', NO_COLOR: '1' }, cli);
  assert.match(forced.stdout, /\x1b\[1mqgrey stats\x1b\[22m/);
  assert.equal(forced.stdout.replace(/\x1b\[[0-9;]*m/g, ''), plain.stdout, 'colour changes nothing but the escapes');
  // a real terminal (script(1) gives the program a pty)
  const tty = (env: Record<string, string>) => bare({ TERM: 'xterm', ...env }, ['script', '-qec', `${process.execPath} ${QGREY} stats --utc --top 0 ${LOGS}`, '/dev/null']);
  const onTty = tty({});
  assert.equal(onTty.code, 0, onTty.stderr);
  assert.match(onTty.stdout, /\x1b\[/);
  const noColour = tty({ NO_COLOR: '1' });
  assert.doesNotMatch(noColour.stdout, /\x1b\[/);
});

test('--svg writes a well-formed standalone chart whose bars are the numbers of --json', () => {
  using d = tempDir();
  const svg = join(d.path, 'grey.svg');
  const r = qgrey(['stats', '--utc', '--json', '--svg', svg, LOGS], { env: ENV });
  assert.equal(r.code, 0, r.stderr);
  const res = JSON.parse(r.stdout) as StatsResult;
  const lint = spawnSync('xmllint', ['--noout', svg], { encoding: 'utf8' });
  assert.equal(lint.status, 0, `xmllint: ${lint.stderr}`);
  const text = readFileSync(svg, 'utf8');
  assert.match(text, /^<\?xml version="1.0" encoding="UTF-8"\?>\n<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assert.deepEqual(readdirSync(d.path), ['grey.svg'], 'no temp file left behind');
  // every bar: its value, and its height against the panel's scale
  const panels = [...text.matchAll(/<g class="panel" id="panel-([0-9])" data-scale-max="([0-9.]+)" data-px-per-unit="([0-9.]+)" data-baseline="([0-9.]+)">([\s\S]*?)<\/g>\n(?=<g class="panel"|<\/svg>)/g)];
  assert.equal(panels.length, 2);
  const drawn = new Map<string, number>();
  for (const p of panels) {
    const px = Number(p[3]);
    for (const m of p[5]!.matchAll(/<rect x="[0-9.]+" y="([0-9.]+)" width="[0-9.]+" height="([0-9.]+)" fill="#[0-9a-f]{6}" data-row="([^"]+)" data-series="([^"]+)" data-value="([0-9]+)"[^>]*><title>([^<]*)<\/title><\/rect>/g)) {
      const v = Number(m[5]);
      assert.ok(Math.abs(Number(m[2]) - v * px) < 0.02, `height of ${m[3]} ${m[4]}`);
      assert.ok(Number(m[1]) + Number(m[2]) <= Number(p[4]) + 0.02, 'bars stand on the baseline');
      assert.match(m[6]!, new RegExp(`^${m[3]}(?: \\(partial\\))?: .* ${v}(?:, may still come back)?$`));
      drawn.set(`${m[3]} ${m[4]}`, v);
    }
  }
  const expected = new Map<string, number>();
  for (const row of res.rows) {
    const o = row.decisions.relayclient + row.decisions.tooManyRcpt + row.decisions.clientClosed + row.decisions.failOpen + row.decisions.failClosed;
    const series: [string, number][] = [
      ['firstTime', row.decisions.firstTime],
      ['tooSoon', row.decisions.tooSoon],
      ['known', row.decisions.known],
      ['whitelisted', row.decisions.whitelisted],
      ['denied', row.denied],
      ['other', o],
      ['delivered', row.delivered],
      ['backNotDelivered', row.backNotDelivered],
      ['neverBack', row.neverBack],
    ];
    for (const [s, v] of series) if (v) expected.set(`${row.label} ${s}`, v);
  }
  assert.deepEqual(Object.fromEntries([...drawn].sort()), Object.fromEntries([...expected].sort()));
  // the legends repeat the totals
  const legend = Object.fromEntries([...text.matchAll(/<g class="legend" data-series="([^"]+)" data-total="([0-9]+)">/g)].map((m) => [m[1], Number(m[2])]));
  assert.deepEqual(legend, {
    firstTime: 9,
    tooSoon: 4,
    known: 5,
    whitelisted: 1,
    denied: 2,
    other: 3,
    delivered: 3,
    backNotDelivered: 2,
    neverBack: 3,
  });
});

test('--svg replaces a file atomically, and a symlink at the name, not its target', () => {
  using d = tempDir();
  const target = join(d.path, 'target.txt');
  writeFileSync(target, 'keep me');
  const svg = join(d.path, 'chart.svg');
  symlinkSync(target, svg);
  const r = qgrey(['stats', '--utc', '--svg', svg, LOGS], { env: ENV });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(readFileSync(target, 'utf8'), 'keep me');
  assert.ok(lstatSync(svg).isFile());
});

test('errors: one line, exit 100 for bad input, nothing written', () => {
  using d = tempDir();
  const cases: [string[], RegExp][] = [
    [['--top', '-1', LOGS], /^qgrey: fatal: unable to parse --top '-1': expected a whole number, 0 or more\n$/],
    [['--max-keys', '0', LOGS], /^qgrey: fatal: unable to parse --max-keys '0': expected a whole number, 1 or more/],
    [['--since', 'yesterday', LOGS], /^qgrey: fatal: unable to parse --since 'yesterday': expected a duration/],
    [['--svg', join(d.path, 'no/such/dir/x.svg'), LOGS], /^qgrey: fatal: unable to write --svg '.*x\.svg': directory .*: no such file or directory\n$/],
    [['--svg', d.path, LOGS], /^qgrey: fatal: unable to write --svg '.*': it is a directory\n$/],
    [['--by', 'week', LOGS], /^qgrey: usage: unable to parse --by 'week': expected one of day, hour, net \(try 'qgrey stats --help'\)\n$/],
    [[join(d.path, 'missing')], /^qgrey: fatal: unable to read log '.*missing'/],
  ];
  for (const [args, re] of cases) {
    const r = qgrey(['stats', ...args], { env: ENV });
    assert.equal(r.code, 100, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re);
    assert.equal(r.stdout, '');
  }
  assert.equal(existsSync(join(d.path, 'no')), false);
});

test('compressed and rotated logs count once when a backup repeats them', () => {
  using d = tempDir();
  mkdirSync(join(d.path, 'smtpd'));
  for (const f of readdirSync(LOGS)) copyFileSync(join(LOGS, f), join(d.path, 'smtpd', f));
  mkdirSync(join(d.path, 'backup'));
  // the backup is the rotated file converted by the real tai64nlocal, in UTC
  const rotated = readdirSync(LOGS).find((f) => f.endsWith('.s'))!;
  const conv = spawnSync('tai64nlocal', { input: readFileSync(join(LOGS, rotated)), env: { TZ: 'UTC' } });
  assert.equal(conv.status, 0);
  writeFileSync(join(d.path, 'backup/qmail-smtpd.2026-11-20'), conv.stdout);
  const r = json(['--utc', '--tz', 'UTC', join(d.path, 'smtpd'), join(d.path, 'backup/qmail-smtpd.*')]);
  assert.equal(r.decisions.total, 24);
  assert.equal(r.greylisted.keys, 8);
  assert.equal(r.read.duplicates, 39);
});

test('a file holding no log line: a warning, not a silent table of zeros', () => {
  using d = tempDir();
  writeFileSync(join(d.path, 'empty'), '');
  writeFileSync(join(d.path, 'junk'), 'hello\n');
  const e = qgrey(['stats', join(d.path, 'empty')], { env: ENV });
  assert.equal(e.code, 0, e.stderr);
  assert.equal(e.stderr, `qgrey: warning: stats: no dated log line in the 0 lines read from '${join(d.path, 'empty')}': nothing counted\n`);
  const j = qgrey(['stats', join(d.path, 'junk')], { env: ENV });
  assert.match(j.stderr, /^qgrey: warning: stats: no dated log line in the 1 line read from /);
  const w = qgrey(['stats', '--since', '2000-01-01', '--until', '2000-01-02', LOGS], { env: ENV });
  assert.match(w.stderr, /no dated log line inside --since\/--until in the/);
  assert.equal(qgrey(['stats', LOGS], { env: ENV }).stderr, '', 'a log with lines: no warning');
});

test('the text report fits 80 columns (terminal, cron mail); --wide gives the one per-day table with every number of --json', () => {
  const demo = join(FIXTURES, 'demo');
  const sources = [[LOGS], [join(demo, 'smtpd'), join(demo, 'backup/qmail-smtpd.*')]];
  for (const src of sources) {
    for (const extra of [[], ['--by', 'hour'], ['--by', 'net'], ['--by-ip', '--by', 'net'], ['--max-keys', '2']]) {
      const r = qgrey(['stats', '--utc', ...extra, ...src], { env: ENV });
      assert.equal(r.code, 0, r.stderr);
      const long = r.stdout.split('\n').filter((l) => l.length > 80);
      assert.deepEqual(long, [], `stats ${extra.join(' ')} ${src.join(' ')}`);
    }
  }
  // the wide form: one table, 13 columns, wider than 80; its numbers are --json's rows
  const wide = qgrey(['stats', '--utc', '--wide', LOGS], { env: ENV });
  assert.equal(wide.code, 0, wide.stderr);
  const w = wide.stdout.split('\n');
  const head = w.indexOf('per day (UTC)');
  assert.ok(head > 0, wide.stdout);
  assert.match(w[head + 1] ?? '', /^day +first +too soon +known +white +other +denied +messages +hang-ups +greylisted +delivered +back only +never$/);
  assert.ok((w[head + 1] ?? '').length > 80);
  const res = json(['--utc', LOGS]);
  const table = w.slice(head + 2).filter((l) => /^\d{4}-/.test(l)).map((l) => l.split(/ {2,}/));
  assert.deepEqual(
    table,
    res.rows.map((r) => {
      return [
        r.label,
        ...DECISION_COLUMNS.map((c) => String(columnCount(r.decisions, c))),
        String(r.messages), String(r.hangups), String(r.greylisted), String(r.delivered), String(r.backNotDelivered), String(r.neverBack),
      ];
    }),
  );
  // the default form holds the same cells, cut in two tables that repeat the day
  const plain = qgrey(['stats', '--utc', LOGS], { env: ENV }).stdout.split('\n');
  const a = plain.slice(plain.indexOf('per day (UTC): decisions') + 2).filter((l) => /^\d{4}-/.test(l)).slice(0, table.length);
  const b = plain.slice(plain.indexOf('per day (UTC): mail, hang-ups and the keys greylisted') + 2).filter((l) => /^\d{4}-/.test(l));
  assert.deepEqual(a.map((l, i) => [...l.split(/ {2,}/), ...(b[i] ?? '').split(/ {2,}/).slice(1)]), table);
});

test('--svg: a few days spread over the plot, labels that never overlap (by hour too), a partial last day drawn open and noted', () => {
  using d = tempDir();
  const svgOf = (args: string[]) => {
    const svg = join(d.path, 'c.svg');
    const r = qgrey(['stats', '--utc', '--svg', svg, ...args], { env: ENV });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(spawnSync('xmllint', ['--noout', svg]).status, 0);
    return readFileSync(svg, 'utf8');
  };
  // two days: the bars stand in slots that span the plot, not in 80 px of it
  const two = svgOf([LOGS]);
  const width = Number(/<svg [^>]*width="([0-9]+)"/.exec(two)![1]);
  const bars = [...two.matchAll(/<rect x="([0-9.]+)" y="[0-9.]+" width="([0-9.]+)"[^>]* data-row="([^"]+)" data-series="firstTime"/g)].map((m) => ({ x: Number(m[1]), w: Number(m[2]), row: m[3]! }));
  assert.deepEqual(bars.map((b) => b.row), ['2026-11-20', '2026-11-21']);
  assert.ok(bars.every((b) => b.w >= 24 && b.w <= 48), JSON.stringify(bars));
  assert.ok(bars[1]!.x - bars[0]!.x >= (width - 72) / 2 - 1, `the second bar is half the plot to the right: ${JSON.stringify(bars)} in ${width}`);
  // the logs end at 23:30 on the 21st: that day is partial, its outcome bars open, a note says why
  const open = [...two.matchAll(/<rect [^>]*data-row="([^"]+)" data-series="([a-zA-Z]+)" data-value="[0-9]+" data-partial="true"/g)].map((m) => m[1]);
  assert.ok(open.length > 0 && open.every((r) => r === '2026-11-21'), JSON.stringify(open));
  assert.match(two, /<text class="partial" [^>]*data-row="2026-11-21">\* 11-21: the logs end before this day does; its keys may still come back \(drawn open\)<\/text>/);
  assert.doesNotMatch(two, /data-row="2026-11-20"[^>]*data-partial/);
  // by hour over 36 hours and over the whole fixture week: labels on round hours, never overlapping
  const labels = (svg: string) => [...svg.matchAll(/<text class="label" x="([0-9.]+)"[^>]*>([^<]+)<\/text>/g)].map((m) => ({ x: Number(m[1]), text: m[2]! }));
  for (const svg of [svgOf(['--by', 'hour', LOGS]), svgOf(['--by', 'hour', join(FIXTURES, 'demo/smtpd'), join(FIXTURES, 'demo/backup/qmail-smtpd.*')])]) {
    const ls = labels(svg);
    const panel0 = ls.slice(0, ls.length / 2);
    assert.ok(panel0.length >= 3, JSON.stringify(ls));
    for (let i = 1; i < panel0.length; i++) {
      const a = panel0[i - 1]!;
      const b = panel0[i]!;
      assert.ok(b.x - a.x >= (a.text.length + b.text.length) * 3.25 + 4, `labels overlap: ${JSON.stringify([a, b])}`);
    }
    const hours = panel0.map((l) => Number(/ ([0-9]{2})h/.exec(l.text)![1]));
    const step = hours.length > 1 ? (hours[1]! - hours[0]! + 24) % 24 : 1;
    assert.ok(hours.every((h) => h % step === 0), `round hours: ${hours.join(' ')}`);
  }
});

test('the same report and --json with the WebAssembly scan as without it (QGREY_NO_WASM=1), on a log of many connections', () => {
  using d = tempDir();
  // connections as the generated bench logs have them: tcpserver, the wrapper's decision, qlog
  // lines accepted and rejected, GREETDELAY and read failed hang-ups, from IPv4 and IPv6 senders
  const next = seeded(0x3c6ef372);
  const rnd = () => next(2 ** 32) / 2 ** 32;
  const decisions = ['GREY first time', 'GREY too soon', 'OK known', 'OK relayclient', 'DENY blacklisted'];
  const qlog = (kind: string, result: string, code: string, ip: string, pid: number, relay = 'no') =>
    `${kind}: result=${result} code=${code} reason=rcptto detail=chkuser helo=mx.example mailfrom=a@example.com rcptto=b@example.org relay=${relay} rcpthosts=yes size= authuser= authtype= encrypted= sslverified=no localip=192.0.2.10 localport=25 remoteip=${ip} remoteport=4000 remotehost= qp= pid=${pid}`;
  const lines: string[] = [];
  const t0 = Date.UTC(2026, 10, 20) / 1000;
  for (let i = 0; i < 6000; i++) {
    const pid = 2000 + Math.floor(rnd() * 300);
    const ip = rnd() < 0.05 ? `2001:db8:${i % 9}::${i % 13}` : `203.0.${Math.floor(rnd() * 60)}.${Math.floor(rnd() * 30)}`;
    const L = (body: string) => lines.push(`${encodeLabel({ sec: t0 + i * 40, nsec: (i * 7777) % 1e9 })} ${body}`);
    L(`tcpserver: pid ${pid} from ${ip}`);
    if (rnd() < 0.85) L(`jgreylist[${pid}]: ${ip}: ${decisions[Math.floor(rnd() * decisions.length)]}`);
    if (rnd() < 0.1) L(`qmail-smtpd[${pid}]: GREETDELAY from ${ip}: client disconnected`);
    if (rnd() < 0.1) L(`qmail-smtpd: read failed (connection closed by the client before the quit cmd): (null) from ${ip} to (null) helo unknown`);
    for (let k = Math.floor(rnd() * 4); k > 0; k--) L(qlog(k === 1 ? 'qlogreceived' : 'qlogenvelope', rnd() < 0.8 ? 'accepted' : 'rejected', rnd() < 0.8 ? '250' : '550', ip, pid, rnd() < 0.05 ? 'yes' : 'no'));
    L(`tcpserver: end ${pid} status 0`);
  }
  const dir = join(d.path, 'smtpd');
  mkdirSync(dir);
  writeFileSync(join(dir, `${encodeLabel({ sec: t0 + 3 * 86400, nsec: 0 })}.s`), lines.slice(0, 15000).join('\n') + '\n');
  writeFileSync(join(dir, 'current'), lines.slice(15000).join('\n') + '\n');
  for (const args of [['--json'], [], ['--json', '--by-ip', '--by', 'net'], ['--by', 'hour', '--top', '3']]) {
    const wasm = qgrey(['stats', '--utc', ...args, dir], { env: ENV });
    const js = qgrey(['stats', '--utc', ...args, dir], { env: { ...ENV, QGREY_NO_WASM: '1' } });
    assert.equal(wasm.code, 0, wasm.stderr);
    assert.equal(js.code, 0, js.stderr);
    assert.equal(wasm.stdout, js.stdout, args.join(' '));
    assert.equal(wasm.stderr, js.stderr);
  }
  const r = json(['--utc', dir]);
  assert.equal(r.read.lines, lines.length);
  assert.ok(r.greylisted.keys > 50 && r.greylisted.addresses > 500 && r.clients.evictableClients > 100 && r.accepted.messages > 1000, JSON.stringify(r.greylisted));
});
