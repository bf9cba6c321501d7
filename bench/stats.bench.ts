// `qgrey stats` over a generated multilog directory (QGREY_BENCH_GB, default 1 GB): wall time,
// peak memory, and the ratio to the plain accepted-line scan (the needle search plus
// acceptedFacts that `rebuild` does) over the same files in the same run.
//
// bench/scan.bench.ts has its own generator but does not export it, so this file writes its
// own: connections shaped like FORMATS.md §6, where a fifth are greylisted first-timers from
// a large address space (60% of them come back a few minutes to an hour later, through a
// "GREY too soon" now and then, and deliver; the rest never return), the others known
// senders, rejected recipients, null-session hang-ups and GREETDELAY disconnects. So the
// maps of greylisted keys and addresses grow as they would on a busy server.
//
// `node dist/bench/stats.bench.js --scan DIR` is the baseline scan; `--generate DIR GB` only
// writes the input.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fmt, measure, ratio, writeMultilogDir, xorshift } from './util.js';

const NEEDLE = 'result=accepted code=250';
const FILE_BYTES = 16_000_000;

const { rnd, pick } = xorshift(0x2545f491);
const LOCAL = ['bob@example.org', 'carol@example.org', 'postmaster@example.org', 'sales@example.org'];
const DOMAINS = ['sender.example', 'news.example.com', 'mail.example.net', 'shop.example'];

function newIp(): string {
  if (rnd() < 0.03) return `2001:db8:${Math.floor(rnd() * 65536).toString(16)}:${Math.floor(rnd() * 65536).toString(16)}::${Math.floor(rnd() * 65536).toString(16)}`;
  return `${pick([23, 45, 62, 77, 85, 91, 104, 146, 178, 185, 193, 203, 209, 212])}.${Math.floor(rnd() * 256)}.${Math.floor(rnd() * 256)}.${1 + Math.floor(rnd() * 254)}`;
}

const KNOWN: string[] = [];
for (let i = 0; i < 5000; i++) KNOWN.push(newIp());

function qlog(kind: string, result: string, code: number, reason: string, ip: string, rcpt: string, pid: number, from: string): string {
  const recv = kind === 'qlogreceived';
  return `${kind}: result=${result} code=${code} reason=${reason} detail=${recv ? '' : 'chkuser'} helo=mx.${DOMAINS[pid % 4]} mailfrom=${from} rcptto=${rcpt} relay=no rcpthosts=${recv ? '' : 'yes'} size=${recv ? 1000 + (pid % 9000) : ''} authuser= authtype= encrypted= sslverified=no localip=192.0.2.10 localport=25 remoteip=${ip} remoteport=${1024 + (pid % 60000)} remotehost= qp=${recv ? pid + 1 : ''} pid=${pid}`;
}

function delivery(out: string[], ip: string, pid: number): void {
  const from = `news@${pick(DOMAINS)}`;
  const n = rnd() < 0.7 ? 1 : 2;
  const rcpts: string[] = [];
  for (let i = 0; i < n; i++) {
    const rcpt = pick(LOCAL);
    rcpts.push(rcpt);
    out.push(`CHKUSER accepted rcpt: from <${from}|remoteinfo/auth:|chkuser-identify:> remote <helo:|remotehostname:unknown|remotehostip:${ip}> rcpt <${rcpt}> : found existing recipient`);
    out.push(qlog('qlogenvelope', 'accepted', 250, 'rcptto', ip, rcpt, pid, from));
  }
  out.push(qlog('qlogreceived', 'accepted', 250, 'queueaccept', ip, rcpts.join(','), pid, from));
}

/** retries due at a connection number */
const due = new Map<number, { ip: string; soon: boolean }[]>();

function connection(n: number, pid: number): string[] {
  const out = [`tcpserver: pid ${pid} from x`];
  const retry = due.get(n)?.pop();
  if (retry) {
    if (retry.soon) {
      out.push(`jgreylist[${pid}]: ${retry.ip}: GREY too soon`);
      const later = n + 200 + Math.floor(rnd() * 2000);
      const q = due.get(later) ?? [];
      q.push({ ip: retry.ip, soon: false });
      due.set(later, q);
    } else {
      out.push(`jgreylist[${pid}]: ${retry.ip}: OK known`);
      delivery(out, retry.ip, pid);
    }
  } else {
    const r = rnd();
    if (r < 0.2) {
      const ip = newIp();
      out.push(`jgreylist[${pid}]: ${ip}: GREY first time`);
      if (rnd() < 0.6) {
        const at = n + 100 + Math.floor(rnd() * 4000);
        const q = due.get(at) ?? [];
        q.push({ ip, soon: rnd() < 0.2 });
        due.set(at, q);
      }
    } else if (r < 0.7) {
      const ip = pick(KNOWN);
      out.push(`jgreylist[${pid}]: ${ip}: OK known`);
      delivery(out, ip, pid);
    } else if (r < 0.8) {
      const ip = pick(KNOWN);
      out.push(`jgreylist[${pid}]: ${ip}: OK known`);
      out.push(qlog('qlogenvelope', 'rejected', 550, 'chkuser', ip, `nosuch${pid % 1000}@example.org`, pid, `x@${pick(DOMAINS)}`));
    } else if (r < 0.9) {
      const ip = newIp();
      out.push(`jgreylist[${pid}]: ${ip}: OK known`);
      out.push(`qmail-smtpd: read failed (connection closed by the client before the quit cmd): (null) from ${ip} to (null) helo unknown`);
    } else if (r < 0.93) {
      out.push(`jgreylist[${pid}]: ${pick(KNOWN)}: OK whitelisted`);
    } else {
      const ip = newIp();
      out.push(`jgreylist[${pid}]: ${ip}: OK known`);
      out.push(`qmail-smtpd[${pid}]: GREETDELAY: 2s`, `qmail-smtpd[${pid}]: GREETDELAY from ${ip}: client disconnected`);
    }
  }
  due.delete(n);
  out.push(`tcpserver: end ${pid} status 0`, 'tcpserver: status: 0/20');
  return out;
}

/** A multilog directory of about `bytes` bytes: @<label>.s files of 16 MB and `current`. */
export function generateStatsLog(dir: string, bytes: number): { files: number; lines: number } {
  let n = 0;
  const g = writeMultilogDir(dir, bytes, { rnd, connection: (pid) => connection(n++, pid), gapNs: { base: 50_000, spread: 8_000_000 }, fileBytes: FILE_BYTES });
  return { files: g.files.length + 1, lines: g.lines };
}

/** The baseline: every accepted line's time and address, as rebuild reads them. */
async function scan(paths: string[]): Promise<void> {
  const { openLogs } = await import('../src/logs/read.js');
  const { acceptedFacts } = await import('../src/core/logline.js');
  const { batches } = openLogs(paths, { needle: NEEDLE });
  let accepted = 0;
  let x = 0;
  for await (const batch of batches) {
    for (const r of batch) {
      if (r.stamp === null) continue;
      const f = acceptedFacts(r.body);
      if (f === null) continue;
      accepted++;
      if (f.ip && f.ip.family === 4) x ^= f.ip.value;
    }
  }
  process.stdout.write(`${accepted} ${x}\n`);
}

export default async function bench(): Promise<void> {
  const gb = Number(process.env.QGREY_BENCH_GB ?? '1');
  const root = mkdtempSync(join(tmpdir(), 'qgrey-bench-stats-'));
  const self = fileURLToPath(import.meta.url);
  const qgrey = resolve(dirname(self), '../../bin/qgrey');
  try {
    const t0 = Date.now();
    const dir = join(root, 'smtpd');
    const g = generateStatsLog(dir, Math.round(gb * 1e9));
    console.log(`generated ${gb} GB (${g.files} files, ${g.lines} lines) in ${fmt(Date.now() - t0)}`);
    measure(process.execPath, [self, '--scan', dir]); // warm the page cache
    const base = measure(process.execPath, [self, '--scan', dir]);
    const st = measure(process.execPath, [qgrey, 'stats', '--json', '--utc', dir]);
    // the same run following a single key: what the per-key maps cost is the difference
    const bare = measure(process.execPath, [qgrey, 'stats', '--json', '--utc', '--max-keys', '1', dir]);
    if (st.code !== 0 || base.code !== 0) throw new Error(`stats exit ${st.code}, scan exit ${base.code}`);
    const res = JSON.parse(st.stdout) as {
      decisions: { total: number };
      greylisted: { keys: number; addresses: number; delivered: { pct: number }; neverBack: { pct: number }; delay: { median: number } };
      accepted: { messages: number };
      truncated: Record<string, number>;
    };
    const tracked = res.greylisted.keys + res.greylisted.addresses;
    console.log(`accepted-line scan: ${fmt(base.ms)}, ${base.maxRssMB.toFixed(1)} MB (${base.stdout.split(' ')[0]} accepted lines)`);
    console.log(
      `qgrey stats: ${fmt(st.ms)}, ${st.maxRssMB.toFixed(1)} MB; ${res.decisions.total} decisions, ${res.accepted.messages} messages, ` +
        `${res.greylisted.keys} greylisted keys + ${res.greylisted.addresses} addresses followed ` +
        `(delivered ${res.greylisted.delivered.pct}%, never back ${res.greylisted.neverBack.pct}%, median delay ${res.greylisted.delay.median} s)`,
    );
    console.log(`ratio stats/scan: ${ratio(st.ms, base.ms)} time, ${ratio(st.maxRssMB, base.maxRssMB)} memory`);
    console.log(
      `qgrey stats --max-keys 1: ${fmt(bare.ms)}, ${bare.maxRssMB.toFixed(1)} MB; so the maps cost ${(st.maxRssMB - bare.maxRssMB).toFixed(1)} MB, ` +
        `~${Math.round(((st.maxRssMB - bare.maxRssMB) * 1048576) / Math.max(tracked, 1))} bytes per followed key or address`,
    );
    if (Object.values(res.truncated).some((v) => v > 0)) console.log(`note: --max-keys reached: ${JSON.stringify(res.truncated)}`);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [, , mode, ...rest] = process.argv;
  if (mode === '--scan') await scan(rest);
  else if (mode === '--generate') generateStatsLog(rest[0] as string, Math.round(Number(rest[1] ?? '1') * 1e9));
}
