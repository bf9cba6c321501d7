// The greylist tree jobs against the tools an admin would compare them with:
//  1. `qgrey rebuild` from a generated 30-day multilog log set (default 1 GB, 200,000 distinct
//     senders): wall time, peak memory, the log scan and the tree writing timed apart; the
//     tree writing against `cp -a` copying the identical tree.
//  2. `qgrey clean` of a 1,000,000-entry tree against `find DIR -type f -atime +30 -delete`
//     on an identical tree (both generated with the same names and times; half are expired).
// Goals (issue 3): tree writing within 2x of cp -a; clean within 1.5x of find; memory under 300 MB.
// QGREY_BENCH_SCALE (default 1) scales every size, e.g. 0.02 for a quick run;
// QGREY_BENCH_TREE=rebuild or =clean runs only that half.
import { closeSync, constants as C, futimesSync, mkdirSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { measure, fmt, ratio, benchEnv, ownTree } from './util.js';

const QGREY = fileURLToPath(new URL('../../bin/qgrey', import.meta.url));

/** Write back what earlier steps left dirty, so that no measured command pays for another's writes. */
function settle(): void {
  spawnSync('sync', { stdio: 'ignore' });
}
const D = 86400;

function scale(): number {
  const v = Number(process.env.QGREY_BENCH_SCALE ?? '1');
  return Number.isFinite(v) && v > 0 ? v : 1;
}

function label(sec: number, nsec: number): string {
  return '@' + (BigInt(sec) + (1n << 62n) + 10n).toString(16).padStart(16, '0') + nsec.toString(16).padStart(8, '0');
}

/** the i-th sender: distinct class C networks in 11.0.0.0 - 14.255.255.255 (public) */
function sender(i: number): string {
  return `${11 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}.${1 + (i % 250)}`;
}

/** Write a 30-day multilog directory: 29 rotated @….s files and current, `bytes` in all. */
function makeLogs(dir: string, bytes: number, senders: number, now: number): { lines: number } {
  mkdirSync(dir);
  const files = 30;
  const perFile = Math.ceil(bytes / files);
  let lines = 0;
  let next = 0; // senders are handed out round-robin so every one appears at least once
  let pid = 1000;
  for (let f = 0; f < files; f++) {
    const start = now - (30 - f) * D;
    const name = f === files - 1 ? 'current' : `${label(start + D, 0)}.s`;
    const fd = openSync(join(dir, name), C.O_WRONLY | C.O_CREAT | C.O_TRUNC, 0o644);
    let written = 0;
    let t = start;
    const parts: string[] = [];
    let size = 0;
    const flush = () => {
      const buf = Buffer.from(parts.join(''), 'latin1');
      writeSync(fd, buf);
      written += buf.length;
      parts.length = 0;
      size = 0;
    };
    while (written + size < perFile) {
      t += 0.25;
      const sec = Math.floor(t);
      const ns = Math.floor((t - sec) * 1e9);
      const l = label(sec, ns);
      pid++;
      const ip = sender(next % senders);
      next++;
      const block =
        `${l} tcpserver: status: 1/20\n` +
        `${l} tcpserver: pid ${pid} from ${ip}\n` +
        `${l} tcpserver: ok ${pid} mx.example.org:192.0.2.10:25 :${ip}::51234\n` +
        `${l} CHKUSER accepted rcpt: from <alice@sender.example|remoteinfo/auth:|chkuser-identify:> remote <helo:|remotehostname:mail.sender.example|remotehostip:${ip}> rcpt <bob@example.org> : found existing recipient\n` +
        `${l} qlogenvelope: result=accepted code=250 reason=rcptto detail=chkuser helo=mail.sender.example mailfrom=alice@sender.example rcptto=bob@example.org relay=no rcpthosts=yes size= authuser= authtype= encrypted= sslverified=no localip=192.0.2.10 localport=25 remoteip=${ip} remoteport=51234 remotehost=mail.sender.example qp= pid=${pid}\n` +
        `${l} qlogreceived: result=accepted code=250 reason=queueaccept detail= helo=mail.sender.example mailfrom=alice@sender.example rcptto=bob@example.org relay=no rcpthosts= size=1234 authuser= authtype= encrypted= sslverified=no localip=192.0.2.10 localport=25 remoteip=${ip} remoteport=51234 remotehost=mail.sender.example qp=${pid + 1} pid=${pid}\n` +
        `${l} qmail-smtpd[${pid + 7}]: GREETDELAY from 198.51.100.${pid % 250}: client disconnected\n` +
        `${l} tcpserver: end ${pid} status 0\n`;
      parts.push(block);
      size += block.length;
      lines += 8;
      if (size > 1 << 20) flush();
    }
    if (size) flush();
    closeSync(fd);
  }
  return { lines };
}

/** A class-C tree of n entries; every other one last seen 60 days ago (expired), the rest revisited yesterday. */
function makeTree(root: string, n: number, now: number): void {
  let lastA = '';
  let lastB = '';
  for (let i = 0; i < n; i++) {
    const a = String(11 + (i >> 16)).padStart(3, '0');
    const b = String((i >> 8) & 255).padStart(3, '0');
    const c = String(i & 255).padStart(3, '0');
    if (a !== lastA) {
      mkdirSync(join(root, a), 0o700);
      lastA = a;
      lastB = '';
    }
    if (b !== lastB) {
      mkdirSync(join(root, a, b), 0o700);
      lastB = b;
    }
    const fd = openSync(join(root, a, b, c), C.O_WRONLY | C.O_CREAT | C.O_EXCL, 0o600);
    if (i % 2 === 0) futimesSync(fd, now - 60 * D, now - 90 * D);
    else futimesSync(fd, now - D, now - 10 * D);
    closeSync(fd);
  }
}

export default async function bench(): Promise<void> {
  const s = scale();
  const bytes = Math.round(1e9 * s);
  const senders = Math.max(100, Math.round(200_000 * s));
  const treeN = Math.max(1000, Math.round(1_000_000 * s));
  const base = mkdtempSync(join(tmpdir(), 'qgrey-bench-tree-'));
  const env = benchEnv({ TZ: 'UTC', QGREY_LOCK_WAIT: '0' });
  try {
    const now = Math.floor(Date.now() / 1000);
    console.log(`scale ${s}: ${(bytes / 1e6).toFixed(0)} MB of logs over 30 days, ${senders} senders; clean of a ${treeN}-entry tree`);
    if (process.env.QGREY_BENCH_TREE !== 'clean') {
      const g0 = Date.now();
      const { lines } = makeLogs(join(base, 'smtpd'), bytes, senders, now);
      console.log(`generated ${lines} log lines in ${fmt(Date.now() - g0)}`);

      // 1. rebuild into an empty tree
      const t1 = join(base, 'tree');
      mkdirSync(t1, 0o700);
      ownTree(t1, base);
      settle();
      const r = measure(process.execPath, [QGREY, 'rebuild', '--json', '--dir', t1, '--days', '31', join(base, 'smtpd')], { env });
      if (r.code !== 0) throw new Error(`qgrey rebuild exited ${r.code}`);
      const rep = JSON.parse(r.stdout) as { written: number; scanSeconds: number; treeSeconds: number; lines: number };
      settle();
      const cp = measure('cp', ['-a', t1, join(base, 'tree-copy')], { env });
      const scanMs = rep.scanSeconds * 1000;
      const treeMs = rep.treeSeconds * 1000;
      console.log(
        `rebuild: ${rep.lines} lines -> ${rep.written} entries in ${fmt(r.ms)}, peak ${r.maxRssMB.toFixed(0)} MB (goal < 300 MB); ` +
          `log scan ${fmt(scanMs)} (${((bytes / 1e6) / rep.scanSeconds).toFixed(0)} MB/s), tree writing ${fmt(treeMs)}`,
      );
      console.log(`tree writing vs cp -a of the same tree: ${fmt(treeMs)} vs ${fmt(cp.ms)} = ${ratio(treeMs, cp.ms)} (goal <= 2x)`);
      rmSync(join(base, 'smtpd'), { recursive: true, force: true });
      rmSync(join(base, 'tree-copy'), { recursive: true, force: true });
      rmSync(t1, { recursive: true, force: true });
    }
    if (process.env.QGREY_BENCH_TREE === 'rebuild') return;

    // 2. clean vs find on identical trees
    const a = join(base, 'clean-a');
    const b = join(base, 'clean-b');
    mkdirSync(a, 0o700);
    mkdirSync(b, 0o700);
    const m0 = Date.now();
    makeTree(a, treeN, now);
    makeTree(b, treeN, now);
    ownTree(a, base);
    ownTree(b, base);
    console.log(`generated two ${treeN}-entry trees in ${fmt(Date.now() - m0)}`);
    settle();
    const c = measure(process.execPath, [QGREY, 'clean', '--json', '--no-lists', '--one-time', '0', '--dir', a], { env });
    if (c.code !== 0) throw new Error(`qgrey clean exited ${c.code}`);
    const crep = JSON.parse(c.stdout) as { removedMaxAge: number; kept: number };
    settle();
    const f = measure('find', [b, '-type', 'f', '-atime', '+30', '-delete'], { env });
    console.log(
      `clean: removed ${crep.removedMaxAge}, kept ${crep.kept} in ${fmt(c.ms)}, peak ${c.maxRssMB.toFixed(0)} MB; ` +
        `find -atime +30 -delete ${fmt(f.ms)}, peak ${f.maxRssMB.toFixed(0)} MB; qgrey/find = ${ratio(c.ms, f.ms)} (goal <= 1.5x)`,
    );
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
}
