// qgreylist per connection: wall time and peak memory of one decision (first time, known,
// whitelisted) through bin/qgreylist, against bare `node -e 0` and /bin/true, measured in
// interleaved rounds in the same run; and the memory that stays held for each greylisted
// client that keeps its connection open, through the real tcpserver.
//
// Goals (issue 5): decision within 1.3x of bare `node -e 0`; under 5 MB held per open
// greylisted connection.

import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchEnv, fmt, measure, ratio, type Timing } from './util.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const QGREYLIST = join(ROOT, 'bin/qgreylist');
const ROUNDS = Number(process.env.QGREY_BENCH_ROUNDS ?? 31);
const HELD = 20;

function median(ts: Timing[]): Timing {
  const s = [...ts].sort((a, b) => a.ms - b.ms);
  return s[Math.floor(s.length / 2)]!;
}

function path(): string {
  return [dirname(process.execPath), '/usr/local/bin', '/usr/bin', '/bin'].join(':');
}

// ---------------------------------------------------------------------------------------
// one decision

function decisions(dir: string): void {
  const tree = join(dir, 'tree');
  const lists = join(dir, 'lists');
  mkdirSync(tree, { mode: 0o700 });
  mkdirSync(lists);
  // a realistic list size: 2,000 whitelist lines (SPF imports), 200 blacklist lines
  const w: string[] = [];
  for (let i = 0; i < 2000; i++) w.push(`${100 + (i % 100)}.${(i * 7) % 256}.${(i * 13) % 256}.0/24  never  spf:example${i % 50}.org`);
  writeFileSync(join(lists, 'whitelist'), w.join('\n') + '\n');
  const b: string[] = [];
  for (let i = 0; i < 200; i++) b.push(`${200 + (i % 20)}.${i}.0.${i % 250}  never  manual  "Go away %"`);
  writeFileSync(join(lists, 'blacklist'), b.join('\n') + '\n');
  // the known entry: first seen an hour ago
  mkdirSync(join(tree, '192/000'), { recursive: true, mode: 0o700 });
  writeFileSync(join(tree, '192/000/002'), '', { mode: 0o600 });
  const then = Date.now() / 1000 - 3600;
  utimesSync(join(tree, '192/000/002'), then, then);

  const env = (extra: NodeJS.ProcessEnv) =>
    benchEnv({ PATH: path(), QGREY_NODE: process.execPath, JGREYLIST_DIR: tree, QGREY_LISTDIR: lists, JGREYLIST_LOG: '0', ...extra });
  const esm = join(ROOT, 'dist/src/wrapper/main.js');
  const bundle = join(ROOT, 'dist/src/wrapper/qgreylist.cjs');
  let fresh = 0;
  const variants: [string, () => Timing][] = [
    ['/bin/true', () => measure('/bin/true', [])],
    ['node -e 0', () => measure(process.execPath, ['-e', '0'])],
    ['qgreylist whitelisted (JGREYLIST="")', () => measure(QGREYLIST, ['/bin/true'], { env: env({ TCPREMOTEIP: '192.0.2.7', JGREYLIST: '' }) })],
    ['qgreylist known (lists read, entry touched)', () => measure(QGREYLIST, ['/bin/true'], { env: env({ TCPREMOTEIP: '192.0.2.7' }) })],
    [
      'qgreylist first time (entry created, rblsmtpd)',
      () => {
        fresh++;
        return measure(QGREYLIST, ['/bin/true'], { env: env({ TCPREMOTEIP: `10.${fresh >> 8}.${fresh & 255}.1` }) });
      },
    ],
    ['qgreylist known, ES modules instead of the bundle', () => measure(QGREYLIST, ['/bin/true'], { env: env({ TCPREMOTEIP: '192.0.2.7', QGREY_MAIN: esm }) })],
    ['decision program alone (known, no sh, no exec)', () => measure(process.execPath, [bundle, '1'], { env: env({ TCPREMOTEIP: '192.0.2.7' }) })],
  ];
  const results = new Map<string, Timing[]>(variants.map(([n]) => [n, []]));
  for (let r = 0; r < ROUNDS; r++) for (const [n, f] of variants) results.get(n)!.push(f());

  const node = median(results.get('node -e 0')!);
  console.log(`one decision, median of ${ROUNDS} interleaved rounds (wall time, peak RSS; NODE_EXTRA_CA_CERTS unset):`);
  let worst = 0;
  for (const [n] of variants) {
    const m = median(results.get(n)!);
    const vsNode = n.startsWith('qgreylist') || n.startsWith('decision') ? `  ${ratio(m.ms, node.ms)} node -e 0` : '';
    // the goal is judged on what a connection pays: sh, the decision, the exec of the next program
    if (n.startsWith('qgreylist') && !n.includes('ES modules')) worst = Math.max(worst, m.ms / node.ms);
    console.log(`  ${n.padEnd(50)} ${fmt(m.ms).padStart(9)} ${m.maxRssMB.toFixed(1).padStart(6)} MB${vsNode}`);
  }
  console.log(`goal: decision within 1.30x of bare node -e 0 (whole chain through bin/qgreylist): ${worst <= 1.3 ? 'met' : 'NOT met'} (worst ${worst.toFixed(2)}x)`);
}

// ---------------------------------------------------------------------------------------
// memory held by open greylisted connections

interface Mem {
  rss: number;
  pss: number;
  uss: number;
}

function memOf(pid: number): Mem {
  const t = readFileSync(`/proc/${pid}/smaps_rollup`, 'latin1');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+([0-9]+) kB`, 'm').exec(t)?.[1] ?? 0);
  return { rss: kb('Rss'), pss: kb('Pss'), uss: kb('Private_Clean') + kb('Private_Dirty') };
}

/** Descendants of `ppid`, with their command names. */
function descendants(ppid: number): { pid: number; comm: string }[] {
  const kids = new Map<number, { pid: number; comm: string }[]>();
  for (const d of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(d)) continue;
    try {
      const s = readFileSync(`/proc/${d}/stat`, 'latin1');
      const close = s.lastIndexOf(')');
      const pp = Number(s.slice(close + 2).split(' ')[1]);
      const l = kids.get(pp) ?? [];
      l.push({ pid: Number(d), comm: s.slice(s.indexOf('(') + 1, close) });
      kids.set(pp, l);
    } catch {
      /* gone */
    }
  }
  const out: { pid: number; comm: string }[] = [];
  const walk = (p: number) => {
    for (const k of kids.get(p) ?? []) {
      out.push(k);
      walk(k.pid);
    }
  };
  walk(ppid);
  return out;
}

async function held(dir: string, label: string, extraEnv: Record<string, string>): Promise<Mem> {
  const tree = join(dir, `tree-${label}`);
  mkdirSync(tree, { mode: 0o700 });
  const env = benchEnv({ PATH: path(), QGREY_NODE: process.execPath, JGREYLIST_DIR: tree, QGREY_LISTDIR: join(dir, 'none'), ...extraEnv });
  const srv = spawn('tcpserver', ['-1', '-R', '-H', '-l', '0', '-c', String(HELD + 10), '127.0.0.1', '0', QGREYLIST, '/bin/true'], { env, stdio: ['ignore', 'pipe', 'ignore'] });
  const port = await new Promise<number>((res, rej) => {
    let out = '';
    srv.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /^([0-9]+)\n/.exec(out);
      if (m) res(Number(m[1]));
    });
    srv.once('exit', () => rej(new Error('tcpserver exited')));
  });
  const socks: Socket[] = [];
  try {
    for (let i = 0; i < HELD; i++) {
      const s = connect({ host: '127.0.0.1', port, localAddress: `127.77.${i}.1` });
      socks.push(s);
      await new Promise<void>((res, rej) => {
        let got = '';
        s.on('data', (b: Buffer) => {
          got += b.toString('latin1');
          if (got.includes('\n')) res();
        });
        s.once('error', rej);
      });
      s.write('HELO bench.example\r\n');
    }
    await new Promise((r) => setTimeout(r, 300));
    const procs = descendants(srv.pid!);
    const sum: Mem = { rss: 0, pss: 0, uss: 0 };
    for (const p of procs) {
      const m = memOf(p.pid);
      sum.rss += m.rss;
      sum.pss += m.pss;
      sum.uss += m.uss;
    }
    const names = new Map<string, number>();
    for (const p of procs) names.set(p.comm, (names.get(p.comm) ?? 0) + 1);
    const per = (kb: number) => (kb / 1024 / HELD).toFixed(2);
    console.log(
      `  ${label.padEnd(34)} RSS ${per(sum.rss)} MB, PSS ${per(sum.pss)} MB, private ${per(sum.uss)} MB per connection; processes: ${[...names].map(([n, c]) => `${c} ${n}`).join(', ')}`,
    );
    return { rss: sum.rss / 1024 / HELD, pss: sum.pss / 1024 / HELD, uss: sum.uss / 1024 / HELD };
  } finally {
    for (const s of socks) s.destroy();
    srv.kill('SIGTERM');
  }
}

export default async function (): Promise<void> {
  if (spawnSync('tcpserver', ['-h'], { stdio: 'ignore' }).error) throw new Error('wrapper bench: tcpserver (ucspi-tcp) is needed');
  const dir = mkdtempSync(join(tmpdir(), 'qgrey-bench-wrapper-'));
  try {
    decisions(dir);
    console.log(`memory held per open greylisted connection (${HELD} clients after HELO; tcpserver itself not counted):`);
    const rbl = await held(dir, 'rblsmtpd dialogue (default)', {});
    await held(dir, 'own Node dialogue (QGREY_DIALOGUE=node)', { QGREY_DIALOGUE: 'node' });
    console.log(`goal: under 5 MB held per open greylisted connection: ${rbl.rss < 5 ? 'met' : 'NOT met'} (RSS ${rbl.rss.toFixed(2)} MB, PSS ${rbl.pss.toFixed(2)} MB)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
