// The shared Redis store per connection (issue 13): the same known client decided through the
// real tcpserver, on CPU 0, with qgreyd on the tree and with qgreyd on a real redis-server, and
// per process (bin/qgreylist without qgreyd) on each, next to the C floor of the wrapper bench
// (stat the entry, set its times, exec the next program), in interleaved rounds, medians.
// Whole processes: CPU per connection is tcpserver and everything it ran, plus the share of
// qgreyd and of redis-server (from /proc). The store is filled as a site would: `qgrey sync`
// moves the tree's entry and the 10,000-entry whitelist into Redis.
//
// Then `qgrey rebuild` of 200,000 distinct class-C entries (QGREY_BENCH_SCALE scales it) into
// an empty tree and into an empty Redis store, whole processes, interleaved rounds, medians,
// with the peak RSS of qgrey (GNU time) and the memory redis-server holds for the entries.
//
// QGREY_BENCH_CONNS (default 300; a third for the per-process chains), QGREY_BENCH_ROUNDS
// (default 5; 3 for the rebuilds), QGREY_BENCH_SCALE (default 1). Needs tcpserver, taskset, cc
// and redis-server.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchEnv, fmt, measure, ownTree, ratio, type Timing } from './util.js';
import { encodeLabel } from '../src/core/tai64n.js';
import { compileFloor, cpuMs, descendants, drive, path, waitPort, writeBenchLists } from './wrapper.bench.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const QGREYLIST = join(ROOT, 'bin/qgreylist');
const QGREYD = join(ROOT, 'bin/qgreyd');
const QGREY = join(ROOT, 'bin/qgrey');
const REDIS_SERVER = '/usr/bin/redis-server';

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (typeof a === 'object' && a !== null ? res(a.port) : rej(new Error('no port'))));
    });
  });
}

async function startRedis(dir: string): Promise<{ proc: ChildProcess; url: string }> {
  const port = await freePort();
  const proc = spawn('taskset', ['-c', '0', REDIS_SERVER, '--bind', '127.0.0.1', '--port', String(port), '--dir', dir, '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--protected-mode', 'no'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  await waitPort(proc, new RegExp(`(${port})[^\\n]*\\n(?:.*\\n)*?.*Ready to accept connections`), 'stdout');
  return { proc, url: `redis://127.0.0.1:${port}/0` };
}

/** One command to redis-server in RESP; the reply as text (a bulk string's body, or the status line). */
function redisCommand(port: number, words: readonly string[]): Promise<string> {
  return new Promise((res, rej) => {
    const s = connect({ host: '127.0.0.1', port });
    let buf = '';
    s.setEncoding('latin1');
    s.once('error', rej);
    s.on('data', (d: string) => {
      buf += d;
      const m = /^\$([0-9]+)\r\n/.exec(buf);
      if ((m && buf.length >= m[0].length + Number(m[1]) + 2) || (/^[+\-:]/.test(buf) && buf.includes('\r\n'))) {
        s.end();
        res(m ? buf.slice(m[0].length, m[0].length + Number(m[1])) : buf.slice(0, buf.indexOf('\r\n')));
      }
    });
    s.write(`*${words.length}\r\n` + words.map((w) => `$${Buffer.byteLength(w)}\r\n${w}\r\n`).join(''));
  });
}

/** `qgrey rebuild` into an empty tree and into an empty Redis store, in turn. */
async function rebuilds(dir: string, redisUrl: string, redisPort: number): Promise<void> {
  const scale = Number(process.env.QGREY_BENCH_SCALE ?? '1');
  const n = Math.max(1000, Math.round(200_000 * scale));
  const rounds = Number(process.env.QGREY_BENCH_ROUNDS ?? 3);
  const logs = join(dir, 'smtpd');
  mkdirSync(logs);
  // one accepted delivery per class C network, over the last 20 days
  const now = Math.floor(Date.now() / 1000);
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const ip = `${11 + Math.floor(i / 65536)}.${(i >> 8) & 255}.${i & 255}.7`;
    const t = now - 20 * 86400 + Math.floor((i * 20 * 86400) / n);
    lines.push(
      `${encodeLabel({ sec: t, nsec: 0 })} qlogenvelope: result=accepted code=250 reason=rcptto detail=chkuser helo=mx.sender.example mailfrom=a@sender.example rcptto=bob@example.org relay=no rcpthosts=yes size= authuser= authtype= encrypted= sslverified=no localip=192.0.2.10 localport=25 remoteip=${ip} remoteport=40000 remotehost= qp= pid=${1000 + (i % 50000)}\n`,
    );
  }
  writeFileSync(join(logs, 'current'), lines.join(''));
  const env = benchEnv({ PATH: path(), QGREY_LISTDIR: join(dir, 'no-lists') });
  const tree: Timing[] = [];
  const redis: Timing[] = [];
  let mem = '';
  for (let r = 0; r < rounds; r++) {
    const t = join(dir, `rebuild-tree-${r}`);
    mkdirSync(t, { mode: 0o700 });
    ownTree(t, dir);
    const a = measure(QGREY, ['rebuild', '-q', '--dir', t, '--days', '30', logs], { env });
    if (a.code !== 0) throw new Error(`redis bench: rebuild into the tree exited ${a.code}`);
    tree.push(a);
    rmSync(t, { recursive: true, force: true });
    await redisCommand(redisPort, ['FLUSHDB']);
    const b = measure(QGREY, ['rebuild', '-q', '--store', redisUrl, '--dir', join(dir, 'no-tree'), '--days', '30', logs], { env });
    if (b.code !== 0) throw new Error(`redis bench: rebuild into Redis exited ${b.code}`);
    redis.push(b);
    const keys = await redisCommand(redisPort, ['DBSIZE']);
    const info = await redisCommand(redisPort, ['INFO', 'memory']);
    mem = `${keys.replace(/^:/, '')} keys, used_memory ${/used_memory_human:(\S+)/.exec(info)?.[1] ?? '?'}`;
  }
  const med = (ts: Timing[]) => [...ts].sort((x, y) => x.ms - y.ms)[Math.floor(ts.length / 2)]!;
  const peak = (ts: Timing[]) => Math.max(...ts.map((x) => x.maxRssMB));
  const a = med(tree);
  const b = med(redis);
  console.log(`qgrey rebuild of ${n} entries (one accepted delivery per class C), into an empty store, median of ${rounds} interleaved rounds, peak RSS of qgrey:`);
  console.log(`  into the tree            ${fmt(a.ms).padStart(9)} ${peak(tree).toFixed(1).padStart(6)} MB`);
  console.log(`  into Redis               ${fmt(b.ms).padStart(9)} ${peak(redis).toFixed(1).padStart(6)} MB  ${ratio(b.ms, a.ms)} the tree; redis-server then holds ${mem}`);
}

export default async function (): Promise<void> {
  for (const [cmd, args] of [['tcpserver', ['-h']], ['taskset', ['-V']], [REDIS_SERVER, ['--version']]] as const) {
    if (spawnSync(cmd, args, { stdio: 'ignore' }).error) throw new Error(`redis bench: ${cmd} is needed`);
  }
  const CONNS = Number(process.env.QGREY_BENCH_CONNS ?? 300);
  const rounds = Number(process.env.QGREY_BENCH_ROUNDS ?? 5);
  const dir = mkdtempSync(join(tmpdir(), 'qgrey-bench-redis-'));
  const procs: ChildProcess[] = [];
  try {
    // the site: a known client (first seen an hour ago), 10,000 whitelist entries
    const tree = join(dir, 'tree');
    const lists = join(dir, 'lists');
    mkdirSync(join(tree, '127/000'), { recursive: true, mode: 0o700 });
    writeFileSync(join(tree, '127/000/000'), '', { mode: 0o600 });
    const then = Date.now() / 1000 - 3600;
    utimesSync(join(tree, '127/000/000'), then - 60, then);
    ownTree(tree, dir);
    writeBenchLists(lists);
    const floor = compileFloor(dir, 'redis');

    const redis = await startRedis(dir);
    procs.push(redis.proc);
    const base = benchEnv({ PATH: path(), QGREY_NODE: process.execPath, JGREYLIST_DIR: tree, QGREY_LISTDIR: lists });
    const sync = spawnSync(QGREY, ['sync', '--from', tree, '--to', redis.url], { env: base, encoding: 'utf8' });
    if (sync.status !== 0) throw new Error(`redis bench: qgrey sync failed: ${sync.stderr}`);
    console.log(`the store filled by ${sync.stdout.trim().split('\n').join('; ')}`);

    const secret = join(dir, 'qgreyd.secret');
    writeFileSync(secret, 'bench-secret-0123456789abcdef\n', { mode: 0o400 });
    const qgreyd = async (extra: NodeJS.ProcessEnv) => {
      const qd = spawn('taskset', ['-c', '0', process.execPath, QGREYD], { env: { ...base, ...extra, QGREY_SECRET: secret, QGREYD_LISTEN: '127.0.0.1:0' }, stdio: ['ignore', 'ignore', 'pipe'] });
      procs.push(qd);
      return { proc: qd, port: await waitPort(qd, /^qgreyd: listening on 127\.0\.0\.1:([0-9]+):/m, 'stderr') };
    };
    const qTree = await qgreyd({});
    const qRedis = await qgreyd({ QGREY_STORE: redis.url });
    const store = { QGREY_STORE: redis.url };
    const chains: { name: string; argv: string[]; env: NodeJS.ProcessEnv; qgreyd: ChildProcess | null; redis: boolean; slow: boolean }[] = [
      { name: 'C floor (stat, utimensat, exec)', argv: [floor, '/bin/true'], env: {}, qgreyd: null, redis: false, slow: false },
      { name: 'qgreylist asking qgreyd, tree', argv: [QGREYLIST, '/bin/true'], env: { QGREY_SECRET: secret, QGREY_SERVER: `127.0.0.1:${qTree.port}` }, qgreyd: qTree.proc, redis: false, slow: false },
      { name: 'qgreylist asking qgreyd, Redis', argv: [QGREYLIST, '/bin/true'], env: { ...store, QGREY_SECRET: secret, QGREY_SERVER: `127.0.0.1:${qRedis.port}` }, qgreyd: qRedis.proc, redis: true, slow: false },
      { name: 'qgreylist per process, tree', argv: [QGREYLIST, '/bin/true'], env: { QGREY_SERVER: '' }, qgreyd: null, redis: false, slow: true },
      { name: 'qgreylist per process, Redis', argv: [QGREYLIST, '/bin/true'], env: { ...store, QGREY_SERVER: '' }, qgreyd: null, redis: true, slow: true },
    ];
    // each chain decides what it should: the known client passes as known (not by QGREY_FAIL)
    for (const c of chains.slice(1)) {
      const r = spawnSync(c.argv[0]!, c.argv.slice(1), { env: { ...base, ...c.env, TCPREMOTEIP: '127.0.0.1', JGREYLIST_LOG: '1' }, encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
      if (r.status !== 0 || !/: OK known\b/.test(r.stderr)) throw new Error(`redis bench: ${c.name} did not decide 'OK known': exit ${r.status}: ${r.stderr.trim()}`);
    }
    const servers: { c: (typeof chains)[number]; port: number; pid: number }[] = [];
    for (const c of chains) {
      const p = spawn('taskset', ['-c', '0', 'tcpserver', '-1', '-R', '-H', '-l', '0', '-c', '100', '-b', '128', '127.0.0.1', '0', ...c.argv], { env: { ...base, ...c.env }, stdio: ['ignore', 'pipe', 'ignore'] });
      procs.push(p);
      servers.push({ c, port: await waitPort(p, /^([0-9]+)\n/, 'stdout'), pid: p.pid! });
    }
    // one warm-up connection each (qgreyd's first Redis round trip, the page cache)
    for (const s of servers) await drive(s.port, 1);
    const per = new Map<string, { wall: number; client: number; server: number; redis: number }[]>(chains.map((c) => [c.name, []]));
    for (let r = 0; r < rounds; r++) {
      for (const s of servers) {
        const n = Math.max(20, Math.round(s.c.slow ? CONNS / 3 : CONNS));
        const c0 = cpuMs(s.pid, true);
        const q0 = s.c.qgreyd ? cpuMs(s.c.qgreyd.pid!, false) : 0;
        const r0 = cpuMs(redis.proc.pid!, false);
        const ms = await drive(s.port, n);
        for (let i = 0; i < 500 && descendants(s.pid).length > 0; i++) await new Promise((res) => setTimeout(res, 5));
        per.get(s.c.name)!.push({
          wall: ms / n,
          client: (cpuMs(s.pid, true) - c0) / n,
          server: s.c.qgreyd ? (cpuMs(s.c.qgreyd.pid!, false) - q0) / n : 0,
          redis: s.c.redis ? (cpuMs(redis.proc.pid!, false) - r0) / n : 0,
        });
      }
    }
    const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    console.log(
      `per connection through tcpserver, everything on CPU 0 (a known client, 10,000-entry whitelist, ${CONNS} connections (a third per process) x ${rounds} interleaved rounds, medians; CPU: tcpserver and all it ran + qgreyd + redis-server):`,
    );
    const sum = new Map<string, { wall: number; cpu: number }>();
    for (const c of chains) {
      const xs = per.get(c.name)!;
      const m = { wall: med(xs.map((x) => x.wall)), cpu: med(xs.map((x) => x.client + x.server + x.redis)), client: med(xs.map((x) => x.client)), server: med(xs.map((x) => x.server)), redis: med(xs.map((x) => x.redis)) };
      sum.set(c.name, m);
      const floorCpu = sum.get(chains[0]!.name)!.cpu;
      console.log(
        `  ${c.name.padEnd(34)} wall ${m.wall.toFixed(2).padStart(6)} ms  CPU ${m.cpu.toFixed(2).padStart(6)} ms (client ${m.client.toFixed(2)} + qgreyd ${m.server.toFixed(2)} + redis ${m.redis.toFixed(2)})  ${ratio(m.cpu, floorCpu).padStart(7)} floor`,
      );
    }
    const t = sum.get(chains[1]!.name)!;
    const rd = sum.get(chains[2]!.name)!;
    const pt = sum.get(chains[3]!.name)!;
    const pr = sum.get(chains[4]!.name)!;
    console.log(`Redis against the tree: with qgreyd ${ratio(rd.cpu, t.cpu)} CPU, ${ratio(rd.wall, t.wall)} wall; per process ${ratio(pr.cpu, pt.cpu)} CPU, ${ratio(pr.wall, pt.wall)} wall`);
    for (const p of procs.slice(1)) p.kill('SIGTERM');
    await rebuilds(dir, redis.url, Number(/:([0-9]+)\//.exec(redis.url)![1]));
  } finally {
    for (const p of procs.reverse()) p.kill('SIGTERM');
    await new Promise((res) => setTimeout(res, 200));
    rmSync(dir, { recursive: true, force: true });
  }
}
