// `qgrey stats`: read the logs once, feed the greylisting-related lines to the pure
// collector (src/core/stats.ts), print a report (or JSON), and optionally write an SVG chart.

import type { Env } from '../core/config.js';
import { warn } from '../render/diag.js';
import { statSync } from 'node:fs';
import { writeFileAtomic } from '../store/atomic.js';
import { dirname } from 'node:path';
import { openLogs, recordFacts, F_AUTH, F_RECEIVED, F_RELAY, type LogRecord } from '../logs/read.js';
import { Zone } from '../core/zone.js';
import { parseWhen } from '../core/when.js';
import { permanent, quote, reason } from '../core/errors.js';
import { StatsCollector, type StatsResult, type Row } from '../core/stats.js';
import { lineConsumer } from '../core/stats/lines.js';
import { DECISIONS, DECISION_COLUMNS, columnCount } from '../core/decision.js';
import { painterFor, type Painter } from '../render/colour.js';
import { fitTable, renderTable, formatDelay, wrapText, type Cell, type Column } from '../render/table.js';
import { renderSvg } from '../render/svg.js';
import { count } from '../core/words.js';
import { wholeNumber, zoneOption } from './options.js';
import { progress } from '../render/progress.js';
import { RepliesCounter, type Replies } from './replies.js';
import { RcptCollector, type RcptStats } from '../core/rcpt-stats.js';
import type { Clock } from '../core/clock.js';

/** What `qgrey stats` is given (built by src/commands/stats.ts). */
export interface StatsArgs {
  /** the environment: the settings a flag does not give (src/core/config.ts) */
  env: Env;
  paths: string[];
  since?: string;
  until?: string;
  tz?: string;
  utc: boolean;
  by: 'day' | 'hour' | 'net';
  byIp: boolean;
  top: number;
  json: boolean;
  svg?: string;
  /** --wide: the per-day (hour, net) table as one table, however wide */
  wide?: boolean;
  maxKeys: number;
  /** the list files, for the replies an out: entry let through */
  listdir?: string;
  /** --store: the lists in the shared Redis store (openLists) */
  store?: string;
}


function checkSvgTarget(path: string): void {
  const dir = dirname(path);
  let st;
  try {
    st = statSync(dir);
  } catch (err) {
    throw permanent(`unable to write --svg ${quote(path)}: directory ${dir}: ${reason(err)}`);
  }
  if (!st.isDirectory()) throw permanent(`unable to write --svg ${quote(path)}: ${dir} is not a directory`);
  try {
    if (statSync(path).isDirectory()) throw permanent(`unable to write --svg ${quote(path)}: it is a directory`);
  } catch (err) {
    if (err instanceof Error && err.name === 'QgreyError') throw err;
  }
}

function timeOf(r: LogRecord): number {
  if (r.stamp) return r.stamp.sec + r.stamp.nsec / 1e9;
  return Number.isFinite(r.order.sec) ? r.order.sec + r.order.nsec / 1e9 : NaN;
}

/**
 * The lines stats can use, by their body's bytes: j(greylist) g(reylist) q(greylist, log*,
 * mail-smtpd) and `tcpserver: end`; the reader makes no string of any other labelled line.
 */
function wanted(b: Buffer, at: number): boolean {
  const c = b[at];
  return c === 113 || c === 106 || c === 103 || (c === 116 && b[at + 11] === 101 && b[at + 12] === 110 && b[at + 13] === 100 && b[at + 10] === 32);
}

/** Read the logs and aggregate. Only the lines stats can use are parsed. */
export async function collect(paths: readonly string[], c: StatsCollector, opts: Parameters<typeof openLogs>[1], progress?: (lines: number) => void, replies?: RepliesCounter | null, rcpt?: RcptCollector) {
  // one record, in log order
  const each = (r: LogRecord) => {
    const at = r.bodyStart;
    const ch = r.line.charCodeAt(at);
    // j(greylist) g(reylist) q(greylist, log*, mail-smtpd) t(cpserver: end)
    if (ch === 113 && r.line.startsWith('qlog', at) && r.line.startsWith(': result=accepted code=250 ', at + 12)) {
      // accepted lines, most of a log: the reader's fast path, then the pid from the checked tail
      const body = r.body;
      const f = recordFacts(r);
      if (f) {
        const pid = Number(body.slice(body.lastIndexOf(' pid=') + 5));
        c.addAccepted(timeOf(r), f.kind === 'qlogreceived', f.relay || f.authuser !== '', f.ip, pid);
        return;
      }
    }
    // qgrey-spp's RCPT lines (core/rcpt-stats.ts)
    if (rcpt !== undefined && ch === 113 && r.line.startsWith('qgrey-spp', at)) {
      const t = timeOf(r);
      if (rcpt.add(r.body, t)) {
        c.seen(t);
        return;
      }
    }
    if (ch === 106 || ch === 103 || ch === 113 || (ch === 116 && r.line.startsWith('tcpserver: end ', at))) {
      const e = r.event();
      if (e.kind !== 'other') c.add(e, timeOf(r));
      if (replies && e.kind === 'decision' && e.decision === 'OK whitelisted' && e.ip) replies.whitelisted(e.ip, timeOf(r));
    }
  };
  // plain accepted lines from IPv4 addresses, most of a log: numbers from the reader's
  // WebAssembly scan, in order with the records `each` is handed (with several groups of logs
  // the reader makes records of these lines too, and every record comes merged in the batches)
  const accepted = (sec: number, nsec: number, flags: number, ip4: number, pid: number) =>
    c.addAccepted4(sec + nsec / 1e9, (flags & F_RECEIVED) !== 0, (flags & (F_RELAY | F_AUTH)) !== 0, ip4, pid);
  const { batches, stats } = openLogs(paths, { keep: wanted, accepted, each, consume: lineConsumer(c), ...opts });
  for await (const batch of batches) {
    progress?.(stats.lines);
    for (const r of batch) each(r);
  }
  return stats;
}

export const DEFAULT_STATS_LOGS = ['/var/log/qmail/smtpd'];

const pctText = (p: number) => p.toFixed(1);

/** The report fits this many columns (an 80-column terminal, a cron mail); --wide lifts it for the per-day table. */
export const REPORT_WIDTH = 80;

function report(res: StatsResult, read: { files: number; lines: number }, zone: Zone, p: Painter, replies: Replies | null, wide: boolean): string[] {
  const out: string[] = [];
  // a line of free text, word-wrapped to the report's width, each piece painted
  const say = (text: string, style: Parameters<Painter['paint']>[0] = 'plain') => {
    for (const l of wrapText(text, REPORT_WIDTH)) out.push(style === 'plain' ? l : p.paint(style, l));
  };
  const when = (t: number | null) => (t === null ? '-' : zone.formatSeconds(Math.floor(t)).slice(0, 16));
  const layout = res.layout === 'byip' ? 'per address' : 'class C (IPv6 /64)';
  out.push(p.paint('head', 'qgrey stats') + `: ${when(res.from)} to ${when(res.to)} (${zone.name})`);
  say(`${count(read.lines, 'line')} in ${count(read.files, 'file')}, keys ${layout}`);
  out.push('');

  const d = res.decisions;
  const always = new Set(['firstTime', 'tooSoon', 'known', 'whitelisted']);
  const decRows: Cell[][] = DECISIONS.filter(({ name }) => d[name] > 0 || always.has(name)).map(({ name, text }) => [
    text,
    d[name],
    { text: pctText(d.total ? (100 * d[name]) / d.total : 0), style: 'dim' },
  ]);
  decRows.push(['total', d.total, { text: '100.0', style: 'dim' }]);
  out.push(...renderTable([{ title: 'decision' }, { title: 'count' }, { title: '%' }], decRows, p));
  const progs = Object.entries(res.programs).filter(([, v]) => v > 0);
  if (progs.length > 1) say(`(from ${progs.map(([k, v]) => `${k} ${v}`).join(', ')})`, 'dim');
  if (res.badAddresses) say(`${count(res.badAddresses, 'decision line')} named no valid address (counted above, not followed)`, 'warn');
  if (replies) {
    const top = replies.domains.slice(0, 3).map((x) => `${x.domain} ${x.connections}`);
    out.push(`OK whitelisted by an out: entry (replies to our users): ${replies.connections}`);
    if (top.length) say(`  ${top.join(', ')}${replies.domains.length > 3 ? ', ...' : ''}`);
  }
  out.push('');

  const g = res.greylisted;
  out.push(
    ...renderTable(
      [{ title: 'greylisted keys' }, { title: 'count' }, { title: '%' }],
      [
        ['came back and delivered', { text: g.delivered.count, style: 'good' }, { text: pctText(g.delivered.pct), style: 'dim' }],
        ['came back, no mail', g.backNotDelivered.count, { text: pctText(g.backNotDelivered.pct), style: 'dim' }],
        ['never came back', { text: g.neverBack.count, style: 'warn' }, { text: pctText(g.neverBack.pct), style: 'dim' }],
        ['keys', g.keys, { text: g.keys ? '100.0' : '0.0', style: 'dim' }],
      ],
      p,
    ),
  );
  if (g.neverBackRecent) say(`(${g.neverBackRecent} of them first greylisted in the last hour of the logs: may still come back)`, 'dim');
  out.push(`delay from first greylist to first accepted mail (${count(g.delay.count, 'key')}):`);
  out.push(`  median ${formatDelay(g.delay.median)}, p90 ${formatDelay(g.delay.p90)}, max ${formatDelay(g.delay.max)}`);
  say(`greylisted addresses: ${g.addresses}, never retried: ${g.addressesNeverRetried}`);
  out.push('');

  const cl = res.clients;
  const a = res.accepted;
  out.push(
    ...renderTable(
      [{ title: 'clients' }, { title: 'count' }],
      [
        ['read failed hang-ups', cl.hangups],
        ['  null session (evictable)', cl.nullSessionHangups],
        ['GREETDELAY disconnects (evictable)', cl.greetdelayDisconnects],
        ['GREETDELAY pregreet', cl.pregreet],
        ['evictable clients', cl.evictableClients],
        ['  of them greylisted', cl.evictableGreylisted],
      ].map((r) => [String(r[0]).replace(/^ {2}/, '- '), r[1] as number]),
      p,
    ),
  );
  out.push('');
  out.push(
    ...renderTable(
      [{ title: 'accepted mail' }, { title: 'count' }],
      [
        ['messages', a.messages],
        ['- after OK known', a.messagesAfter.known],
        ['- after OK whitelisted', a.messagesAfter.whitelisted],
        ['- after OK relayclient', a.messagesAfter.relayclient],
        ['- after FAIL open', a.messagesAfter.failOpen],
        ['- no wrapper decision', a.messagesAfter.none + a.messagesAfter.other],
        ['- relay or AUTH clients', a.relayOrAuth],
        ['recipients', a.recipients],
      ],
      p,
    ),
  );

  if (res.top.networks.length) {
    out.push('');
    out.push(p.paint('head', `top ${res.top.networks.length} networks greylisted`));
    out.push(
      ...renderTable(
        [{ title: 'network' }, { title: 'greylists' }, { title: 'addresses' }, { title: 'never retried' }, { title: 'delivered' }],
        res.top.networks.map((n) => [n.network, n.greylists, n.addresses, n.neverRetried, n.delivered]),
        p,
      ),
    );
  }
  if (res.top.senders.length) {
    out.push('');
    out.push(p.paint('head', `top ${res.top.senders.length} senders greylisted`));
    out.push(
      ...renderTable(
        [{ title: 'address' }, { title: 'greylists' }, { title: 'retried' }, { title: 'delivered' }],
        res.top.senders.map((s) => [s.address, s.greylists, s.retried ? 'yes' : 'no', s.delivered ? { text: 'yes', style: 'good' } : 'no']),
        p,
      ),
    );
  }
  if (res.top.neverRetried.length) {
    out.push('');
    out.push(p.paint('head', `top ${res.top.neverRetried.length} networks whose greylisted senders never retried`));
    out.push(
      ...renderTable(
        [{ title: 'network' }, { title: 'never retried' }, { title: 'addresses' }, { title: 'greylists' }],
        res.top.neverRetried.map((n) => [n.network, n.neverRetried, n.addresses, n.greylists]),
        p,
      ),
    );
  }

  const rows = res.by === 'net' ? res.nets : res.rows;
  const columns: Column[] = [
    { title: res.by === 'net' ? 'network' : res.by },
    ...DECISION_COLUMNS.map((title) => ({ title })),
    { title: 'messages' },
    { title: 'hang-ups' },
    { title: 'greylisted' },
    { title: 'delivered' },
    { title: 'back only' },
    { title: 'never' },
  ];
  const cells = rows.map((r: Row): Cell[] => [
    r.label,
    ...DECISION_COLUMNS.map((col): Cell => {
      const n = columnCount(r.decisions, col);
      return col === 'denied' && n ? { text: n, style: 'bad' } : n;
    }),
    r.messages,
    r.hangups,
    r.greylisted,
    r.delivered ? { text: r.delivered, style: 'good' } : 0,
    r.backNotDelivered,
    r.neverBack,
  ]);
  const per = res.by === 'net' ? 'per network (greylist key)' : `per ${res.by} (${zone.name})`;
  const nd = DECISION_COLUMNS.length;
  const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);
  // 13 columns are about 117 characters: cut in two, the decisions and what came of the mail
  // and of the keys greylisted, each with the label; --wide keeps the one table
  const parts = fitTable(
    columns,
    cells,
    [
      { title: `${per}: decisions`, columns: range(1, nd + 1) },
      { title: `${per}: mail, hang-ups and the keys greylisted`, columns: range(nd + 1, columns.length) },
    ],
    per,
    wide ? Infinity : REPORT_WIDTH,
    p,
  );
  for (const part of parts) {
    out.push('');
    out.push(p.paint('head', part.title));
    out.push(...part.lines);
  }
  const t = res.truncated;
  if (t.keys || t.addresses || t.nets || t.evictable) {
    out.push('');
    say(`note: --max-keys reached: ${t.keys} greylists of new keys, ${t.addresses} of new addresses, ${t.nets} key rows and ${t.evictable} evictable addresses were not followed`, 'warn');
  }
  return out;
}

/** qgrey-spp's part (shown when the logs hold its lines). */
function rcptReport(r: RcptStats, p: Painter): string[] {
  const t = r.triplets;
  const out = renderTable(
    [{ title: 'RCPT (qgrey-spp)' }, { title: 'count' }],
    [
      ['RCPTs deferred', r.rcpts.deferred],
      ['RCPTs passed (first pass)', { text: r.rcpts.passed, style: 'good' }],
      ['RCPTs passed (known triplet)', r.rcpts.known],
      ['RCPTs whitelisted', r.rcpts.whitelisted],
      ['RCPTs passed as replies', r.rcpts.reply],
      ['RCPTs denied (blacklist)', r.rcpts.denied ? { text: r.rcpts.denied, style: 'bad' } : 0],
      ['RCPTs FAIL', r.rcpts.failed ? { text: r.rcpts.failed, style: 'warn' } : 0],
      ['triplets deferred', t.deferred],
      ['- passed', { text: t.passed, style: 'good' }],
      ['- never retried', { text: t.neverRetried, style: 'warn' }],
      ['sender-pool matches', t.poolMatches],
      ['- RCPTs keyed by a sender pool', t.pooledRcpts],
      ['spamtrap hits', r.traps.hits ? { text: r.traps.hits, style: 'bad' } : 0],
      ['- clients', r.traps.clients],
    ],
    p,
  );
  if (t.neverRetriedRecent) out.push(p.paint('dim', `(${t.neverRetriedRecent} of the never retried deferred in the last hour of the logs: may still be retried)`));
  if (r.truncated) out.push(p.paint('warn', `note: --max-keys reached: ${count(r.truncated, 'triplet')} not followed (never retried and pool matches undercounted)`));
  return out;
}

export async function run(argv: StatsArgs, clock: Clock): Promise<number> {
  const inZone = zoneOption(argv.tz, '--tz');
  const outZone = argv.utc ? new Zone('UTC') : new Zone();
  const now = clock();
  const since = argv.since !== undefined ? parseWhen(argv.since, now, inZone, '--since') : null;
  const until = argv.until !== undefined ? parseWhen(argv.until, now, inZone, '--until') : null;
  const top = wholeNumber(argv.top, '--top', 0);
  const maxKeys = wholeNumber(argv.maxKeys, '--max-keys', 1);
  if (argv.svg !== undefined) {
    if (argv.svg === '') throw permanent('unable to use --svg \'\': expected a file name');
    checkSvgTarget(argv.svg);
  }
  const c = new StatsCollector({ layout: argv.byIp ? 'byip' : 'classc', by: argv.by, zone: outZone, top, maxKeys });
  // progress on a terminal only (never in cron mail): a line count, redrawn once a second
  const prog = progress('stats');
  const paths = argv.paths.length ? argv.paths : DEFAULT_STATS_LOGS;
  const replies = await RepliesCounter.open(argv.env, argv.listdir, (m) => warn(m), argv.store);
  const rc = new RcptCollector({ byIp: argv.byIp, maxKeys });
  const stats = await collect(paths, c, { zone: inZone, since, until, warn: prog.warn }, prog.tick, replies, rc);
  prog.done();
  const res = c.result();
  const rcpt = rc.result();
  if (argv.svg !== undefined) {
    const what = res.from === null ? 'no dated lines' : `${outZone.formatSeconds(Math.floor(res.from)).slice(0, 10)} to ${outZone.formatSeconds(Math.floor(res.to ?? res.from)).slice(0, 10)}`;
    writeFileAtomic(argv.svg, renderSvg(res, `qgrey stats: ${what} (${outZone.name})`));
  }
  const read = { files: stats.files, lines: stats.lines, bad: stats.bad, duplicates: stats.duplicates };
  if (argv.json) {
    process.stdout.write(JSON.stringify({ read, ...res, replies: replies?.result() ?? { connections: 0, domains: [] }, rcpt }, null, 2) + '\n');
  } else {
    const lines = report(res, read, outZone, painterFor(process.stdout, argv.env), replies?.result() ?? null, argv.wide === true);
    if (rc.any) lines.push('', ...rcptReport(rcpt, painterFor(process.stdout, argv.env)));
    process.stdout.write(lines.join('\n') + '\n');
  }
  if (stats.bad) process.stderr.write(`qgrey: stats: ${count(stats.bad, 'malformed line')} skipped\n`);
  // a table of zeros is not an answer: say that nothing in what was read could be counted
  if (res.from === null && !rc.any) {
    const window = argv.since !== undefined || argv.until !== undefined ? ' inside --since/--until' : '';
    process.stderr.write(`qgrey: warning: stats: no dated log line${window} in the ${count(stats.lines, 'line')} read from ${paths.map((x) => quote(x)).join(' ')}: nothing counted\n`);
  }
  return 0;
}
