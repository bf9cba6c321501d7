// qgrey-spp per RCPT: CPU and wall time of one RCPT decision (a known triplet: one read, one
// rewrite) through bin/qgrey-spp asking qgreyd, and per process, next to the floor program of
// the wrapper bench (C: stat an entry, set its times, exec /bin/true) and `node -e 0`, measured
// in interleaved rounds in the same run. Each chain runs N times in a bash loop under GNU
// time, so the CPU is the loop's and everything it ran (reaped children), plus qgreyd's share
// from /proc; as qmail-spp runs it, one fork and exec per RCPT.
// Issue 14 sets no number: this reports the ratios to the floor.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseIp } from '../src/core/ip.js';
import { formatTriplet, tripletId, tripletKey } from '../src/core/triplet.js';
import { benchEnv, ratio } from './util.js';
import { compileFloor } from './wrapper.bench.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SPP = join(ROOT, 'bin/qgrey-spp');
const QGREYD = join(ROOT, 'bin/qgreyd');
const CALLS = Number(process.env.QGREY_BENCH_RCPTS ?? 200);
const TICK_MS = 1000 / Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim() || 100);

function cpuMs(pid: number): number {
  const s = readFileSync(`/proc/${pid}/stat`, 'latin1');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * TICK_MS;
}

/** `n` runs of argv in one bash loop under GNU time: [wall ms, CPU ms] for the whole loop. */
function loop(argv: string[], n: number, env: NodeJS.ProcessEnv): [number, number] {
  const tf = join(tmpdir(), `qgrey-bench-spp-${process.pid}`);
  const t0 = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', ['-o', tf, '-f', '%U %S', 'bash', '-c', 'for ((i = 0; i < $0; i++)); do "$@" </dev/null >/dev/null 2>&1; done', String(n), ...argv], { env, stdio: 'ignore' });
  const wall = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`spp bench: ${argv[0]} loop failed (${r.status})`);
  const [u, s] = readFileSync(tf, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
  rmSync(tf, { force: true });
  return [wall, (u! + s!) * 1000];
}

function waitListening(proc: ChildProcess): Promise<number> {
  return new Promise((res, rej) => {
    let out = '';
    proc.stderr!.on('data', (b: Buffer) => {
      out += b.toString('latin1');
      const m = /^qgreyd: listening on 127\.0\.0\.1:([0-9]+):/m.exec(out);
      if (m) res(Number(m[1]));
    });
    proc.once('exit', (c) => rej(new Error(`qgreyd exited with ${c}: ${out}`)));
  });
}

export default async function (): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'qgrey-bench-spp-'));
  let qd: ChildProcess | null = null;
  try {
    const tree = join(dir, 'tree');
    const rcpt = join(dir, 'rcpt');
    const lists = join(dir, 'lists');
    for (const d of [tree, rcpt, lists]) mkdirSync(d, { mode: 0o700 });
    mkdirSync(join(tree, '192/000'), { recursive: true });
    writeFileSync(join(tree, '192/000/002'), '', { mode: 0o600 });
    // a known triplet: passed an hour ago
    const key = tripletKey(parseIp('192.0.2.7')!, 'news@sender.example', 'bob@example.net', false);
    const id = tripletId(key);
    const now = Date.now() / 1000;
    mkdirSync(join(rcpt, id.slice(0, 2)));
    writeFileSync(join(rcpt, id.slice(0, 2), id), formatTriplet({ ...key, first: now - 7200, last: now - 3600, blockUntil: now - 7000, expires: now + 86400, passed: 1, blocked: 1 }), { mode: 0o600 });
    const floor = compileFloor(dir, 'spp');
    const secret = join(dir, 'secret');
    writeFileSync(secret, 'bench-secret-0123456789abcdef\n', { mode: 0o400 });
    const base = benchEnv({
      PATH: [dirname(process.execPath), '/usr/local/bin', '/usr/bin', '/bin'].join(':'),
      QGREY_NODE: process.execPath,
      JGREYLIST_DIR: tree,
      QGREY_LISTDIR: lists,
      QGREY_RCPT_DIR: rcpt,
      GLCONFIGFILE: join(dir, 'none'),
      GREYLISTING: '',
      TCPREMOTEIP: '192.0.2.7',
      SMTPMAILFROM: 'news@sender.example',
      SMTPRCPTTO: 'bob@example.net',
      JGREYLIST_LOG: '0',
    });
    qd = spawn(process.execPath, [QGREYD], { env: { ...base, QGREY_SECRET: secret, QGREYD_LISTEN: '127.0.0.1:0' }, stdio: ['ignore', 'ignore', 'pipe'] });
    const port = await waitListening(qd);
    const chains: [string, string[], NodeJS.ProcessEnv, number][] = [
      ['C floor (stat, utimensat, exec)', [floor, '/bin/true'], {}, 1],
      ['qgrey-spp asking qgreyd', [SPP], { QGREY_SECRET: secret, QGREY_SERVER: `127.0.0.1:${port}` }, 1],
      ['qgrey-spp per process (no qgreyd)', [SPP], { QGREY_SECRET: '' }, 3],
      ['node -e 0', [process.execPath, '-e', '0'], {}, 3],
    ];
    const rounds = Number(process.env.QGREY_BENCH_ROUNDS ?? 5);
    const per = new Map<string, { wall: number; cpu: number; server: number }[]>(chains.map((c) => [c[0], []]));
    for (let r = 0; r < rounds; r++) {
      for (const [name, argv, extra, slow] of chains) {
        const n = Math.max(10, Math.round(CALLS / slow));
        const q0 = cpuMs(qd.pid!);
        const [wall, cpu] = loop(argv, n, { ...base, ...extra });
        const server = name.includes('qgreyd') ? (cpuMs(qd.pid!) - q0) / n : 0;
        per.get(name)!.push({ wall: wall / n, cpu: cpu / n + server, server });
      }
    }
    const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const sum = new Map([...per].map(([k, xs]) => [k, { wall: med(xs.map((x) => x.wall)), cpu: med(xs.map((x) => x.cpu)), server: med(xs.map((x) => x.server)) }]));
    console.log(`per RCPT, a known triplet (${CALLS} calls, a third for the slow two, x ${rounds} interleaved rounds, medians; CPU: the loop and all it ran, plus qgreyd's share from /proc):`);
    const fl = sum.get(chains[0]![0])!;
    for (const [name, m] of sum) console.log(`  ${name.padEnd(36)} wall ${m.wall.toFixed(2).padStart(6)} ms  CPU ${m.cpu.toFixed(2).padStart(6)} ms (qgreyd ${m.server.toFixed(2)})  ${ratio(m.cpu, fl.cpu).padStart(7)} floor`);
  } finally {
    qd?.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}
