// The commands as a user runs them: whole `qgrey` processes (start-up, argument parsing, the
// work, the output), each next to the tool it stands in for, measured in the same run:
//
//  - the CLI's fixed cost: `qgrey list --dir EMPTY` next to `node -e 0`;
//  - the log commands (`rebuild --dry-run`, `stats`, `evict --dry-run`) next to `grep -c` of the
//    accepted-line needle on the same files, on two generated multilog directories shaped like
//    the real captures (fixtures/logs: tcpserver, jgreylist and qmail-smtpd lines per
//    connection): a dense one where 60% of the lines are accepted deliveries and a sparse one
//    where 10% are;
//  - `rebuild` into an empty tree, and `cp -a` of the tree it wrote;
//  - `clean` of a tree (half expired) next to `find DIR -type f -atime +30 -delete` on an
//    identically generated tree, and `list` next to `find DIR -type f -printf`, at 100k and 1M
//    entries;
//  - peak RSS as the input grows: the log commands from 0.1 to 2 GB, clean from 10k to 1M.
//
// Every time is the median of QGREY_BENCH_ROUNDS (default 3) interleaved rounds (qgrey and its
// baseline in turn); memory is the highest peak RSS of the rounds (GNU time's %M: the largest
// process); clean and find -delete also show their median CPU time (user + system, GNU time's
// %U + %S, children included), which a busy machine shakes less than wall time. QGREY_BENCH_SCALE (default 1) scales every size (0.05 for a quick run);
// QGREY_BENCH_PARTS=cli,logs,trees picks parts; QGREY_BENCH_DIR where the inputs go (default the
// temp dir; its file system is what clean, find and cp -a are timed on); QGREY_BENCH_TREE_ROUNDS
// (default 1) the rounds of the 1M-entry tree, each of which writes two trees of a million files;
// QGREY_BENCH_TREE_SIZES=100000,1000000 the tree sizes instead of 10k, 100k and 1M (entries, not
// scaled; the goal is checked at each from 100k * scale up); QGREY_BENCH_TREE_ONLY=clean leaves out
// list and find -printf. Each goal of issue 17 is printed with its
// measured ratio and met / NOT met, and a table of all of them at the end.
//
// `node dist/bench/commands.bench.js --generate DIR GB dense|sparse` only writes a log (for
// `node --cpu-prof bin/qgrey rebuild --dry-run ...`).

import { spawnSync } from 'node:child_process';
import { closeSync, constants as C, futimesSync, linkSync, mkdirSync, mkdtempSync, openSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchEnv, ownTree, fmt, measure, median, writeMultilogDir, xorshift, type Timing } from './util.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const QGREY = join(ROOT, 'bin/qgrey');
const NEEDLE = 'result=accepted code=250';
const FILE_BYTES = 16_000_000;
const D = 86400;
const NETS = 200_000; // distinct class-C networks senders come from

type Density = 'dense' | 'sparse';

// ---------------------------------------------------------------------------------------
// logs

/** A connection generator with its own PRNG and retry queue (greylisted senders come back). */
function makeConnections(density: Density, seed: number): (pid: number) => string[] {
  const { rnd, pick } = xorshift(seed);
  const DOMAINS = ['sender.example', 'news.example.com', 'mail.example.net', 'lists.example.org', 'shop.example'];
  const USERS = ['alice', 'bob', 'news', 'noreply', 'info', 'billing'];
  const LOCAL = ['bob@example.org', 'carol@example.org', 'postmaster@example.org', 'sales@example.org', 'info@example.net'];
  const FIRST = [23, 45, 62, 77, 85, 91, 104, 146, 178, 185, 193, 203, 209, 212];
  const ip = (): string => {
    if (rnd() < 0.03) return `2001:db8:${Math.floor(rnd() * 4096).toString(16)}:${Math.floor(rnd() * 16).toString(16)}::${Math.floor(rnd() * 65536).toString(16)}`;
    const n = Math.floor(rnd() * NETS);
    return `${FIRST[n % FIRST.length]}.${Math.floor(n / FIRST.length) & 255}.${Math.floor(n / FIRST.length / 256)}.${1 + Math.floor(rnd() * 254)}`;
  };
  const qlog = (kind: string, result: string, code: number, reason: string, detail: string, a: string, from: string, rcpt: string, size: string, pid: number) =>
    `${kind}: result=${result} code=${code} reason=${reason} detail=${detail} helo=mx.${DOMAINS[pid % 5]} mailfrom=${from} rcptto=${rcpt} relay=no rcpthosts=${kind === 'qlogreceived' ? '' : 'yes'} size=${size} authuser= authtype= encrypted= sslverified=no localip=192.0.2.10 localport=25 remoteip=${a} remoteport=${1024 + (pid % 60000)} remotehost= qp=${kind === 'qlogreceived' ? pid + 1 : ''} pid=${pid}`;
  const due = new Map<number, string[]>();
  let n = 0;

  /** the recipients' lines and the message's: `chk` adds the CHKUSER and policy_check lines */
  const deliver = (out: string[], a: string, pid: number, k: number, chk: boolean) => {
    const from = `${pick(USERS)}@${pick(DOMAINS)}`;
    const rcpts: string[] = [];
    for (let i = 0; i < k; i++) {
      const rcpt = pick(LOCAL);
      rcpts.push(rcpt);
      if (chk) {
        out.push(`CHKUSER accepted rcpt: from <${from}|remoteinfo/auth:|chkuser-identify:> remote <helo:|remotehostname:unknown|remotehostip:${a}> rcpt <${rcpt}> : found existing recipient`);
        out.push(`policy_check: remote ${from} -> local ${rcpt} (UNAUTHENTICATED SENDER)`, 'policy_check: policy allows transmission');
      }
      out.push(qlog('qlogenvelope', 'accepted', 250, 'rcptto', 'chkuser', a, from, rcpt, '', pid));
    }
    out.push(qlog('qlogreceived', 'accepted', 250, 'queueaccept', '', a, from, rcpts.join(','), String(1000 + (pid % 90000)), pid));
  };

  return (pid: number): string[] => {
    n++;
    const out: string[] = [];
    const sparse = density === 'sparse';
    if (sparse) out.push(`tcpserver: status: ${1 + (pid % 19)}/20`);
    const retry = due.get(n)?.pop();
    const a = retry ?? ip();
    out.push(`tcpserver: pid ${pid} from ${a}`, `tcpserver: ok ${pid} :192.0.2.10:25 :${a}::${1024 + (pid % 60000)}`);
    const r = retry ? 0 : rnd();
    if (r < (sparse ? 0.31 : 0.92)) {
      // a known sender (or a greylisted one back after its wait) delivers
      out.push(`jgreylist[${pid}]: ${a}: OK known`);
      deliver(out, a, pid, sparse ? (rnd() < 0.7 ? 1 : 2) : 2 + Math.floor(rnd() * 9), sparse);
    } else if (r < (sparse ? 0.7 : 0.98)) {
      out.push(`jgreylist[${pid}]: ${a}: GREY first time`);
      if (rnd() < 0.6) {
        const at = n + 50 + Math.floor(rnd() * 2000);
        const q = due.get(at) ?? [];
        q.push(a);
        due.set(at, q);
      }
    } else if (r < (sparse ? 0.8 : 0.99)) {
      out.push(`jgreylist[${pid}]: ${a}: OK known`);
      out.push(`CHKUSER rejected rcpt: from <x@${pick(DOMAINS)}|remoteinfo/auth:|chkuser-identify:> remote <helo:|remotehostname:unknown|remotehostip:${a}> rcpt <nosuch@example.org> : not existing recipient`);
      out.push(qlog('qlogenvelope', 'rejected', 550, 'chkuser', 'nomailbox', a, `x@${pick(DOMAINS)}`, 'nosuch@example.org', '', pid));
    } else if (r < (sparse ? 0.9 : 0.995)) {
      out.push(`jgreylist[${pid}]: ${a}: OK known`);
      out.push(`qmail-smtpd: read failed (connection closed by the client before the quit cmd): (null) from ${a} to (null) helo unknown`);
    } else {
      out.push(`qmail-smtpd[${pid}]: GREETDELAY: 2s`, `qmail-smtpd[${pid}]: GREETDELAY from ${a}: client disconnected`);
      out.push(qlog('qlogenvelope', 'rejected', 554, 'pregreet', '', a, '', '', '', pid));
    }
    due.delete(n);
    out.push(`tcpserver: end ${pid} status 0`);
    if (sparse) out.push('tcpserver: status: 0/20');
    return out;
  };
}

const SEED: Record<Density, number> = { dense: 0x6a09e667, sparse: 0xbb67ae85 };

/** average bytes per labelled line of a density (from a sample of its connections) */
function lineBytes(density: Density): number {
  const f = makeConnections(density, SEED[density] ^ 1);
  let bytes = 0;
  let lines = 0;
  for (let i = 0; i < 20000; i++)
    for (const l of f(1000 + i)) {
      bytes += l.length + 27; // label, space, newline
      lines++;
    }
  return bytes / lines;
}

/** A multilog directory of `bytes` bytes ending an hour ago and spanning 28 days. */
function generateLogs(dir: string, bytes: number, density: Density, now: number): { files: string[]; lines: number } {
  const lines = bytes / lineBytes(density);
  const spanNs = 28 * D * 1e9;
  const gap = Math.max(1000, Math.floor(spanNs / lines));
  const spec = { rnd: xorshift(SEED[density] ^ 2).rnd, connection: makeConnections(density, SEED[density]), gapNs: { base: Math.floor(gap / 2), spread: gap }, fileBytes: FILE_BYTES, startSec: now - 28 * D - 3600 };
  return writeMultilogDir(dir, bytes, spec);
}

/** A multilog dir of the first `n` rotated files of `src` (hard links) and an empty current. */
function subset(src: string, files: string[], n: number, dest: string): string[] {
  mkdirSync(dest);
  const part = files.slice(0, Math.max(1, n));
  for (const f of part) linkSync(join(src, f), join(dest, f));
  closeSync(openSync(join(dest, 'current'), 'w'));
  return part;
}

// ---------------------------------------------------------------------------------------
// trees

/** A class-C tree of n entries; every other one last seen 60 days ago (expired), the rest yesterday. */
function makeTree(root: string, n: number, now: number): void {
  mkdirSync(root, 0o700);
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

/** GB in the files of a directory */
function dirGB(dir: string): number {
  let n = 0;
  for (const f of readdirSync(dir)) n += statSync(join(dir, f)).size;
  return n / 1e9;
}

/** entries (files) under a tree */
function countFiles(root: string): number {
  let n = 0;
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name));
      else n++;
    }
  };
  walk(root);
  return n;
}

// ---------------------------------------------------------------------------------------
// reporting

interface Goal {
  goal: string;
  measured: string;
  met: boolean;
}

const goals: Goal[] = [];

function goal(text: string, measured: string, met: boolean): void {
  goals.push({ goal: text, measured, met });
  console.log(`  goal: ${text}: ${measured}: ${met ? 'met' : 'NOT met'}`);
}

function mb(t: Timing): string {
  return `${t.maxRssMB.toFixed(0)} MB`;
}

function x(a: number, b: number): string {
  return `${(a / b).toFixed(2)}x`;
}

/** `rounds` interleaved runs of each variant: median wall time, median CPU time, highest peak RSS. */
function rounds(n: number, variants: Record<string, () => Timing>, before?: (round: number) => void, inOrder = false): Record<string, Timing> {
  const all: Record<string, Timing[]> = {};
  for (const k of Object.keys(variants)) all[k] = [];
  for (let r = 0; r < n; r++) {
    before?.(r);
    const names = Object.keys(variants);
    if (r % 2 === 1 && !inOrder) names.reverse(); // neither always first after a quiet moment
    for (const k of names) all[k]!.push(variants[k]!());
  }
  const out: Record<string, Timing> = {};
  for (const [k, ts] of Object.entries(all)) {
    const cpu = ts.map((t) => t.cpuMs).sort((a, b) => a - b);
    out[k] = { ...median(ts), cpuMs: cpu[Math.floor(cpu.length / 2)]!, maxRssMB: Math.max(...ts.map((t) => t.maxRssMB)) };
  }
  return out;
}

function ok(t: Timing, what: string): Timing {
  if (t.code !== 0) throw new Error(`${what} exited ${t.code}`);
  return t;
}

function settle(): void {
  spawnSync('sync', { stdio: 'ignore' });
}

// ---------------------------------------------------------------------------------------

export default async function bench(): Promise<void> {
  const sv = Number(process.env.QGREY_BENCH_SCALE ?? '1');
  const s = Number.isFinite(sv) && sv > 0 ? sv : 1;
  const R = Math.max(1, Number(process.env.QGREY_BENCH_ROUNDS ?? '3') || 3);
  const parts = new Set((process.env.QGREY_BENCH_PARTS ?? 'cli,logs,trees').split(','));
  const env = benchEnv({ TZ: 'UTC', QGREY_LOCK_WAIT: '0' });
  const q = (args: string[]) => measure(process.execPath, [QGREY, ...args], { env });
  const base = mkdtempSync(join(process.env.QGREY_BENCH_DIR ?? tmpdir(), 'qgrey-bench-commands-'));
  const now = Math.floor(Date.now() / 1000);
  goals.length = 0;
  console.log(`scale ${s}, ${R} interleaved rounds; times are medians, memory the highest peak RSS; Node ${process.version}, NODE_EXTRA_CA_CERTS unset`);
  try {
    if (parts.has('cli')) {
      const empty = join(base, 'empty');
      mkdirSync(empty, 0o700);
      const n = Math.max(R, 15);
      const r = rounds(n, { node: () => ok(measure(process.execPath, ['-e', '0'], { env }), 'node -e 0'), list: () => ok(q(['list', '--dir', empty]), 'qgrey list') });
      console.log(`\nCLI fixed cost, ${n} rounds: node -e 0 ${fmt(r.node!.ms)} ${mb(r.node!)}; qgrey list --dir EMPTY ${fmt(r.list!.ms)} ${mb(r.list!)}`);
      goal('CLI fixed cost (qgrey list --dir EMPTY) within 3x of node -e 0', x(r.list!.ms, r.node!.ms), r.list!.ms <= 3 * r.node!.ms);
    }

    if (parts.has('logs')) {
      const mainGB = 1 * s;
      const sizes = [0.1, 0.5, 1, 2].map((g) => g * s);
      for (const density of ['dense', 'sparse'] as Density[]) {
        const all = join(base, `logs-${density}`);
        const t0 = Date.now();
        const gen = generateLogs(all, Math.round(2 * s * 1e9), density, now);
        const perGB = gen.files.length / (2 * s);
        const main = join(base, `main-${density}`);
        const files = subset(all, gen.files, Math.round(perGB * mainGB), main);
        const grep = () => {
          const t = measure('grep', ['-c', '-h', '--', NEEDLE, ...files.map((f) => join(main, f)), join(main, 'current')], { env: benchEnv({ LC_ALL: 'C' }) });
          t.stdout = String(t.stdout.split('\n').filter(Boolean).reduce((a, b) => a + Number(b), 0));
          return t;
        };
        const wc = spawnSync('sh', ['-c', `cat "${main}"/@* | wc -l`], { encoding: 'utf8' });
        const lines = Number(wc.stdout.trim());
        const g0 = grep(); // warms the page cache
        console.log(
          `\n${density} log: generated ${(2 * s).toFixed(2)} GB in ${fmt(Date.now() - t0)}; the main run reads ${files.length} files, ` +
            `${dirGB(main).toFixed(2)} GB, ${lines} lines, ${g0.stdout} accepted (${((100 * Number(g0.stdout)) / lines).toFixed(0)}%)`,
        );
        const emptyTree = join(base, `dry-${density}`);
        mkdirSync(emptyTree, 0o700);
        ownTree(emptyTree, base);
        const r = rounds(R, {
          grep,
          dry: () => ok(q(['rebuild', '--dry-run', '--json', '--dir', emptyTree, '--days', '30', main]), 'rebuild --dry-run'),
          stats: () => ok(q(['stats', '--json', '--utc', main]), 'stats'),
        });
        const dry = JSON.parse(r.dry!.stdout) as { written?: number; accepted?: number };
        console.log(`  grep -c '${NEEDLE}'           ${fmt(r.grep!.ms).padStart(9)} ${mb(r.grep!)}`);
        console.log(`  qgrey rebuild --dry-run             ${fmt(r.dry!.ms).padStart(9)} ${mb(r.dry!)}  ${x(r.dry!.ms, r.grep!.ms)} grep  (${dry.accepted ?? '?'} accepted, ${dry.written ?? '?'} keys)`);
        console.log(`  qgrey stats --json                  ${fmt(r.stats!.ms).padStart(9)} ${mb(r.stats!)}  ${x(r.stats!.ms, r.grep!.ms)} grep`);
        goal(`rebuild --dry-run within 3x of grep -c (${density}, ${dirGB(main).toFixed(2)} GB)`, x(r.dry!.ms, r.grep!.ms), r.dry!.ms <= 3 * r.grep!.ms);
        goal(`stats within 4x of grep -c (${density}, ${dirGB(main).toFixed(2)} GB)`, x(r.stats!.ms, r.grep!.ms), r.stats!.ms <= 4 * r.grep!.ms);

        // rebuild into an empty tree, then cp -a of what it wrote; evict and list on that tree
        let tree = '';
        const w = rounds(
          R,
          {
            rebuild: () => {
              const t = ok(q(['rebuild', '--json', '--dir', tree, '--days', '30', main]), 'rebuild');
              settle();
              return t;
            },
            cp: () => {
              const t = measure('cp', ['-a', tree, tree + '-copy'], { env });
              rmSync(tree + '-copy', { recursive: true, force: true });
              settle();
              return t;
            },
          },
          (round) => {
            if (round > 0) rmSync(tree, { recursive: true, force: true });
            tree = join(base, `tree-${density}-${round}`);
            mkdirSync(tree, 0o700);
            ownTree(tree, base);
            settle();
          },
          true, // cp -a copies what rebuild wrote
        );
        const rep = JSON.parse(r.dry!.stdout) as { written?: number };
        const wrote = JSON.parse(w.rebuild!.stdout) as { written?: number; treeSeconds?: number };
        const treeMs = (wrote.treeSeconds ?? NaN) * 1000;
        console.log(
          `  qgrey rebuild into an empty tree    ${fmt(w.rebuild!.ms).padStart(9)} ${mb(w.rebuild!)}  (${wrote.written ?? rep.written ?? '?'} entries; tree writing ${Number.isFinite(treeMs) ? fmt(treeMs) : '?'})`,
        );
        console.log(`  cp -a of that tree                  ${fmt(w.cp!.ms).padStart(9)} ${mb(w.cp!)}  rebuild ${x(w.rebuild!.ms, w.cp!.ms)} cp -a${Number.isFinite(treeMs) ? `, tree writing ${x(treeMs, w.cp!.ms)}` : ''}`);
        if (Number.isFinite(treeMs)) goal(`rebuild's tree writing within 2x of cp -a (issue 3; ${density})`, x(treeMs, w.cp!.ms), treeMs <= 2 * w.cp!.ms);
        const e = rounds(R, {
          grep,
          evict: () => ok(q(['evict', '--dry-run', '--json', '--since', '30d', '--dir', tree, main]), 'evict --dry-run'),
        });
        console.log(`  qgrey evict --dry-run --since 30d   ${fmt(e.evict!.ms).padStart(9)} ${mb(e.evict!)}  ${x(e.evict!.ms, e.grep!.ms)} grep (no goal)`);
        rmSync(tree, { recursive: true, force: true });

        // memory as the log grows
        const grow: { gb: number; dry: Timing; stats: Timing }[] = [];
        for (const size of sizes) {
          const d = join(base, `grow-${density}-${size}`);
          subset(all, gen.files, Math.round(perGB * size), d);
          grow.push({
            gb: dirGB(d),
            dry: ok(q(['rebuild', '--dry-run', '--json', '--dir', emptyTree, '--days', '30', d]), 'rebuild --dry-run'),
            stats: ok(q(['stats', '--json', '--utc', d]), 'stats'),
          });
          rmSync(d, { recursive: true, force: true });
        }
        console.log(`  peak RSS by log size: ` + grow.map((g) => `${g.gb.toFixed(2)} GB rebuild --dry-run ${mb(g.dry)} (${fmt(g.dry.ms)}), stats ${mb(g.stats)} (${fmt(g.stats.ms)})`).join('; '));
        const top = grow[grow.length - 1]!;
        const mid = grow[sizes.indexOf(1 * s)]!;
        const flat = (a: Timing, b: Timing) => b.maxRssMB <= a.maxRssMB * 1.1;
        goal(`rebuild --dry-run peak RSS under 100 MB at ${top.gb.toFixed(2)} GB (${density})`, mb(top.dry), top.dry.maxRssMB < 100);
        goal(`rebuild --dry-run peak RSS flat from ${mid.gb.toFixed(2)} to ${top.gb.toFixed(2)} GB, within 10% (${density})`, `${mb(mid.dry)} -> ${mb(top.dry)}`, flat(mid.dry, top.dry));
        goal(`stats peak RSS under 150 MB at ${top.gb.toFixed(2)} GB (${density})`, mb(top.stats), top.stats.maxRssMB < 150);
        goal(`stats peak RSS flat from ${mid.gb.toFixed(2)} to ${top.gb.toFixed(2)} GB, within 10% (${density})`, `${mb(mid.stats)} -> ${mb(top.stats)}`, flat(mid.stats, top.stats));
        rmSync(all, { recursive: true, force: true });
        rmSync(main, { recursive: true, force: true });
      }
    }

    if (parts.has('trees')) {
      const mid = Math.max(1000, Math.round(100_000 * s));
      const picked = (process.env.QGREY_BENCH_TREE_SIZES ?? '').split(',').map(Number).filter((v) => Number.isInteger(v) && v > 0);
      const sizes = picked.length > 0 ? picked : [Math.max(100, Math.round(10_000 * s)), mid, Math.max(1000, Math.round(1_000_000 * s))];
      const big = Math.max(...sizes);
      const withList = process.env.QGREY_BENCH_TREE_ONLY !== 'clean';
      const peaks: string[] = [];
      let peakMax = 0;
      for (const n of sizes) {
        const a = join(base, `clean-a`);
        const b = join(base, `clean-b`);
        const timed = n >= mid; // the goal's sizes; the smallest default one is only for memory
        const listed = timed && withList;
        // a round of the 1M tree writes two trees of a million files: QGREY_BENCH_TREE_ROUNDS (default 1) there
        const R2 = n === big && big >= 500_000 ? Math.max(1, Number(process.env.QGREY_BENCH_TREE_ROUNDS ?? '1') || 1) : timed ? R : 1;
        const t0 = Date.now();
        let made = 0;
        const r = rounds(
          R2,
          {
            ...(listed
              ? {
                  list: () => ok(q(['list', '--dir', a]), 'qgrey list'),
                  findList: () => ok(measure('find', [b, '-type', 'f', '-printf', '%A@|%T@|%P\n'], { env }), 'find -printf'),
                }
              : {}),
            clean: () => {
              settle();
              return ok(q(['clean', '--json', '--no-lists', '--one-time', '0', '--dir', a]), 'qgrey clean');
            },
            find: () => {
              settle();
              return ok(measure('find', [b, '-type', 'f', '-atime', '+30', '-delete'], { env }), 'find -delete');
            },
          },
          () => {
            rmSync(a, { recursive: true, force: true });
            rmSync(b, { recursive: true, force: true });
            const m0 = Date.now();
            makeTree(a, n, now);
            makeTree(b, n, now);
            ownTree(a, base);
            ownTree(b, base);
            made += Date.now() - m0;
            settle();
          },
        );
        const left = [countFiles(a), countFiles(b)];
        if (left[0] !== left[1]) throw new Error(`clean left ${left[0]} entries, find ${left[1]}`);
        peaks.push(`${n}: ${mb(r.clean!)}`);
        peakMax = Math.max(peakMax, r.clean!.maxRssMB);
        console.log(`\ntree of ${n} entries (half expired), ${R2} round${R2 > 1 ? 's' : ''}; trees generated in ${fmt(made)}`);
        if (listed) {
          console.log(`  find -type f -printf               ${fmt(r.findList!.ms).padStart(9)} ${mb(r.findList!)}`);
          console.log(`  qgrey list                          ${fmt(r.list!.ms).padStart(9)} ${mb(r.list!)}  ${x(r.list!.ms, r.findList!.ms)} find (no goal)`);
        }
        console.log(`  find -type f -atime +30 -delete     ${fmt(r.find!.ms).padStart(9)} ${mb(r.find!)}  (CPU ${fmt(r.find!.cpuMs)})`);
        console.log(`  qgrey clean                         ${fmt(r.clean!.ms).padStart(9)} ${mb(r.clean!)}  ${x(r.clean!.ms, r.find!.ms)} find  (${left[0]} left; CPU ${fmt(r.clean!.cpuMs)}, ${x(r.clean!.cpuMs, r.find!.cpuMs)} find's)`);
        if (timed) goal(`clean within 1.3x of find -delete (${n} entries)`, x(r.clean!.ms, r.find!.ms), r.clean!.ms <= 1.3 * r.find!.ms);
        rmSync(a, { recursive: true, force: true });
        rmSync(b, { recursive: true, force: true });
        void t0;
      }
      console.log(`  clean peak RSS by tree size: ${peaks.join(', ')}`);
      goal(`clean peak RSS under 64 MB (up to ${big} entries)`, `${peakMax.toFixed(0)} MB`, peakMax < 64);
    }

    console.log(`\ngoals (issue 17), scale ${s}:`);
    console.log(`| goal | measured | |\n|---|---|---|`);
    for (const g of goals) console.log(`| ${g.goal} | ${g.measured} | ${g.met ? 'met' : 'NOT met'} |`);
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === '--generate') {
  const [dir, gb, density] = process.argv.slice(3);
  const r = generateLogs(dir ?? 'bench-log', Math.round(Number(gb ?? '1') * 1e9), density === 'sparse' ? 'sparse' : 'dense', Math.floor(Date.now() / 1000));
  console.log(`${dir}: ${r.files.length} rotated files, ${r.lines} lines`);
}
