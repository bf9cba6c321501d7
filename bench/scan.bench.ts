// The accepted-line scan every rebuild does: find each `result=accepted code=250` line and
// parse its time and remote IP. Baseline: `grep -c 'result=accepted code=250'` on the same
// files in the same run. Goal: qgrey within 3x of grep's wall time, peak memory under 100 MB,
// and the same peak memory for 0.5, 1 and 2 GB (constant memory).
//
// The input is a generated multilog directory (@<label>.s files of ~16 MB, as `multilog s16777215`
// would leave, plus `current`) of connection blocks shaped like samples/live_pipeline_current.log
// and FORMATS.md §6, with increasing labels and many distinct remote addresses.
// QGREY_BENCH_GB sets the size of the main run (default 1); QGREY_BENCH_CONST=0 skips the
// constant-memory runs (0.5, 1, 2 GB), which need 2 GB of temporary disk; QGREY_BENCH_ROUNDS
// (default 3) how many times grep and qgrey each run (medians are printed).
//
// `node dist/bench/scan.bench.js --scan PATH...` is the scan itself (what measure() times);
// `node dist/bench/scan.bench.js --generate DIR GB` only writes the input (for profiling).

import { closeSync, linkSync, mkdirSync, openSync, rmSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchEnv, fmt, measure, median, ratio, writeMultilogDir, xorshift, type Timing } from './util.js';

const NEEDLE = 'result=accepted code=250';
const FILE_BYTES = 16_000_000;

// a deterministic PRNG, so every run writes the same log
const { rnd, pick } = xorshift(0x9e3779b9);

const DOMAINS = ['sender.example', 'news.example.com', 'mail.example.net', 'lists.example.org', 'shop.example', 'bank.example.co.uk'];
const USERS = ['alice', 'bob', 'carol', 'dave', 'news', 'noreply', 'info', 'billing', 'support', 'marketing'];
const LOCAL = ['bob@example.org', 'carol@example.org', 'postmaster@example.org', 'sales@example.org', 'info@example.net'];

/** Many distinct senders: ~500k IPv4 addresses from public-looking ranges, some IPv6. */
function remoteIp(): string {
  if (rnd() < 0.03) return `2001:db8:${Math.floor(rnd() * 65536).toString(16)}::${Math.floor(rnd() * 65536).toString(16)}`;
  const a = pick([23, 45, 62, 77, 85, 91, 104, 146, 178, 185, 193, 203, 209, 212]);
  return `${a}.${Math.floor(rnd() * 40)}.${Math.floor(rnd() * 256)}.${1 + Math.floor(rnd() * 254)}`;
}

function qlog(kind: string, result: string, code: number, reason: string, detail: string, helo: string, from: string, rcpt: string, rcpthosts: string, size: string, ip: string, port: number, host: string, qp: string, pid: number): string {
  return `${kind}: result=${result} code=${code} reason=${reason} detail=${detail} helo=${helo} mailfrom=${from} rcptto=${rcpt} relay=no rcpthosts=${rcpthosts} size=${size} authuser= authtype= encrypted= sslverified=no localip=192.0.2.10 localport=25 remoteip=${ip} remoteport=${port} remotehost=${host} qp=${qp} pid=${pid}`;
}

/** One connection's lines (without labels). */
function connection(pid: number): string[] {
  const ip = remoteIp();
  const port = 1024 + Math.floor(rnd() * 64000);
  const host = rnd() < 0.6 ? `mail${Math.floor(rnd() * 99)}.${pick(DOMAINS)}` : '';
  const helo = host || `[${ip}]`;
  const from = `${pick(USERS)}@${pick(DOMAINS)}`;
  const out = [`tcpserver: status: ${1 + Math.floor(rnd() * 19)}/20`, `tcpserver: pid ${pid} from ${ip}`, `tcpserver: ok ${pid} :192.0.2.10:25 ${host}:${ip}::${port}`];
  const r = rnd();
  let status = 0;
  if (r < 0.55) {
    // known sender: one or more accepted recipients, then the message
    out.push(`jgreylist[${pid}]: ${ip}: OK known`);
    const n = rnd() < 0.7 ? 1 : 2 + Math.floor(rnd() * 3);
    const rcpts: string[] = [];
    for (let i = 0; i < n; i++) {
      const rcpt = pick(LOCAL);
      rcpts.push(rcpt);
      out.push(`CHKUSER accepted rcpt: from <${from}|remoteinfo/auth:|chkuser-identify:> remote <helo:${helo}|remotehostname:${host || 'unknown'}|remotehostip:${ip}> rcpt <${rcpt}> : found existing recipient`);
      out.push(`policy_check: remote ${from} -> local ${rcpt} (UNAUTHENTICATED SENDER)`, 'policy_check: policy allows transmission');
      out.push(qlog('qlogenvelope', 'accepted', 250, 'rcptto', 'chkuser', helo, from, rcpt, 'yes', '', ip, port, host, '', pid));
    }
    out.push(qlog('qlogreceived', 'accepted', 250, 'queueaccept', '', helo, from, rcpts.join(','), '', String(1000 + Math.floor(rnd() * 90000)), ip, port, host, String(pid + 1), pid));
  } else if (r < 0.75) {
    out.push(`jgreylist[${pid}]: ${ip}: ${rnd() < 0.7 ? 'GREY first time' : 'GREY too soon'}`);
  } else if (r < 0.85) {
    out.push(`jgreylist[${pid}]: ${ip}: OK known`);
    const rcpt = `nosuch${Math.floor(rnd() * 1000)}@example.org`;
    out.push(`CHKUSER rejected rcpt: from <${from}|remoteinfo/auth:|chkuser-identify:> remote <helo:${helo}|remotehostname:${host || 'unknown'}|remotehostip:${ip}> rcpt <${rcpt}> : not existing recipient`);
    out.push(qlog('qlogenvelope', 'rejected', 550, 'chkuser', 'nomailbox', helo, from, rcpt, 'yes', '', ip, port, host, '', pid));
  } else if (r < 0.93) {
    out.push(`jgreylist[${pid}]: ${ip}: OK known`);
    out.push(`qmail-smtpd: read failed (connection closed by the client before the quit cmd): (null) from ${ip} to (null) helo unknown`);
    status = 256;
  } else {
    out.push(`qmail-smtpd[${pid}]: GREETDELAY: 2s`, `qmail-smtpd[${pid}]: GREETDELAY from ${ip}: client disconnected`);
    out.push(qlog('qlogenvelope', 'rejected', 554, 'pregreet', '', 'unknown', '', '', '', '', ip, port, '', '', pid));
  }
  out.push(`tcpserver: end ${pid} status ${status}`, `tcpserver: status: 0/20`);
  return out;
}

/** Write a multilog directory of about `bytes` bytes; returns the rotated file names in order. */
function generate(dir: string, bytes: number): { files: string[]; lines: number } {
  return writeMultilogDir(dir, bytes, { rnd, connection, gapNs: { base: 100_000, spread: 30_000_000 }, fileBytes: FILE_BYTES });
}

/** A multilog dir holding the first `n` files of `src` (hard links) and an empty current. */
function subset(src: string, files: string[], n: number, dest: string): void {
  mkdirSync(dest);
  for (const f of files.slice(0, n)) linkSync(join(src, f), join(dest, f));
  closeSync(openSync(join(dest, 'current'), 'w'));
}

function grepCount(dir: string, files: string[]): Timing {
  const paths = [...files.map((f) => join(dir, f)), join(dir, 'current')];
  const t = measure('grep', ['-c', '-h', '--', NEEDLE, ...paths], { env: benchEnv({ LC_ALL: 'C' }) });
  t.stdout = String(t.stdout.split('\n').filter(Boolean).reduce((a, b) => a + Number(b), 0));
  return t;
}

function qgreyScan(dir: string): Timing {
  const self = fileURLToPath(import.meta.url);
  return measure(process.execPath, [self, '--scan', dir]);
}

// ---------------------------------------------------------------------------------------
// the scan itself: what `qgrey rebuild` does with the logs, minus the tree

async function scan(paths: string[]): Promise<void> {
  const { openLogs, recordFacts } = await import('../src/logs/read.js');
  const { batches, stats } = openLogs(paths, { needle: NEEDLE });
  let accepted = 0;
  let relay = 0;
  let bad = 0;
  let sum = 0;
  let x = 0;
  for await (const batch of batches) {
    for (const r of batch) {
      const st = r.stamp;
      if (st === null) continue;
      const f = recordFacts(r);
      if (f === null) continue;
      accepted++;
      if (f.relay || f.authuser !== '') relay++;
      if (f.ip === null) bad++;
      else if (f.ip.family === 4) x ^= f.ip.value;
      sum += st.sec % 1000;
    }
  }
  process.stdout.write(`${accepted} ${relay} ${bad} ${stats.lines} ${sum} ${x}\n`);
}

// ---------------------------------------------------------------------------------------

export default async function bench(): Promise<void> {
  const gb = Number(process.env.QGREY_BENCH_GB ?? '1');
  const constant = process.env.QGREY_BENCH_CONST !== '0';
  const root = mkdtempSync(join(tmpdir(), 'qgrey-bench-scan-'));
  try {
    const mainBytes = Math.round(gb * 1e9);
    const allBytes = constant ? Math.max(mainBytes, 2e9) : mainBytes;
    const t0 = Date.now();
    const all = join(root, 'all');
    const { files, lines } = generate(all, allBytes);
    const perGb = files.length / (allBytes / 1e9);
    console.log(`generated ${(allBytes / 1e9).toFixed(2)} GB (${files.length} files, ${lines} lines) in ${fmt(Date.now() - t0)}`);

    // grep and qgrey in turn, ROUNDS times each: the medians (this machine is shared and noisy;
    // one run of each can land on a busy moment for one and a quiet one for the other), and
    // qgrey's highest peak memory of the rounds
    const rounds = Math.max(1, Number(process.env.QGREY_BENCH_ROUNDS ?? '3') || 3);
    const runOne = (label: string, dir: string, rotated: string[]) => {
      grepCount(dir, rotated); // warm the page cache
      const gs: Timing[] = [];
      const qs: Timing[] = [];
      for (let i = 0; i < rounds; i++) {
        const g = grepCount(dir, rotated);
        const q = qgreyScan(dir);
        const qCount = q.stdout.split(' ')[0];
        if (q.code !== 0 || qCount !== g.stdout) {
          throw new Error(`scan disagrees with grep on ${label}: grep ${g.stdout}, qgrey ${q.stdout.trim()} (exit ${q.code})`);
        }
        gs.push(g);
        qs.push(q);
      }
      const q = { ...median(qs), maxRssMB: Math.max(...qs.map((t) => t.maxRssMB)) };
      return { g: median(gs), q };
    };

    const n = Math.min(files.length, Math.round(perGb * gb));
    const mainDir = join(root, `gb${gb}`);
    subset(all, files, n, mainDir);
    const { g, q } = runOne(`${gb} GB`, mainDir, files.slice(0, n));
    console.log(`input: ${gb} GB multilog dir, ${g.stdout} accepted lines`);
    console.log(`medians of ${rounds} rounds, in turn`);
    console.log(`grep -c '${NEEDLE}': ${fmt(g.ms)} (${g.maxRssMB.toFixed(1)} MB)`);
    console.log(`qgrey scan (time + remote IP of every accepted line): ${fmt(q.ms)}`);
    console.log(`ratio qgrey/grep: ${ratio(q.ms, g.ms)} (goal <= 3x)`);
    console.log(`qgrey peak memory: ${q.maxRssMB.toFixed(1)} MB (goal < 100 MB)`);

    if (constant) {
      const rss: string[] = [];
      for (const size of [0.5, 1, 2]) {
        const k = Math.min(files.length, Math.round(perGb * size));
        const d = join(root, `const${size}`);
        subset(all, files, k, d);
        const r = runOne(`${size} GB`, d, files.slice(0, k));
        rss.push(`${size} GB: ${r.q.maxRssMB.toFixed(1)} MB in ${fmt(r.q.ms)} (grep ${fmt(r.g.ms)}, ${ratio(r.q.ms, r.g.ms)})`);
      }
      console.log(`qgrey peak memory by input size: ${rss.join('; ')}`);
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (process.argv[2] === '--scan') await scan(process.argv.slice(3));
  else if (process.argv[2] === '--generate') {
    const dir = process.argv[3] ?? 'bench-log';
    const r = generate(dir, Math.round(Number(process.argv[4] ?? '1') * 1e9));
    console.log(`${dir}: ${r.files.length} rotated files, ${r.lines} lines`);
  }
}
