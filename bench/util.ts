// Helpers for benchmarks: wall time and peak memory (max RSS) of a command, measured by
// GNU time (Debian package `time`), with NODE_EXTRA_CA_CERTS removed (it triples Node start-up).
import { spawnSync } from 'node:child_process';
import { chmodSync, closeSync, linkSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { encodeLabel } from '../src/core/tai64n.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Timing {
  ms: number;
  /** user + system CPU time of the command and its children (GNU time's %U + %S, 10 ms steps): less shaken than wall time by a busy machine */
  cpuMs: number;
  maxRssMB: number;
  code: number | null;
  stdout: string;
}

/**
 * A tree as it is on a real host: the qmail user's, not root's. Run as root, `path` is given to
 * nobody (chown -R, as an admin does once) and `base`, the bench's temp dir, made searchable, so
 * qgrey does its tree work as that user, in its tree process, as every root-run command does.
 * Not root: the tree is already the runner's own.
 */
export function ownTree(path: string, base: string): void {
  if (process.geteuid?.() !== 0) return;
  chmodSync(base, 0o711);
  const r = spawnSync('chown', ['-R', 'nobody:', path], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) throw new Error(`chown -R nobody: ${path} failed`);
}

export function benchEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  delete env.NODE_EXTRA_CA_CERTS;
  return env;
}

/** Run `cmd args` once; wall time from GNU time's %e is too coarse, so time it here and take %M for memory, %U and %S for CPU. */
export function measure(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string; cwd?: string } = {}): Timing {
  const tf = join(tmpdir(), `qgrey-bench-time-${process.pid}`);
  const t0 = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', ['-o', tf, '-f', '%M %U %S', cmd, ...args], {
    env: opts.env ?? benchEnv(),
    cwd: opts.cwd,
    input: opts.input,
    encoding: 'utf8',
    maxBuffer: 1 << 30,
    stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'inherit'],
  });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  let kb = NaN;
  let cpuMs = NaN;
  try {
    const f = (readFileSync(tf, 'utf8').trim().split('\n').pop() ?? '').split(' ').map(Number);
    kb = f[0] ?? NaN;
    cpuMs = ((f[1] ?? NaN) + (f[2] ?? NaN)) * 1000;
    rmSync(tf, { force: true });
  } catch {
    /* no report */
  }
  return { ms, cpuMs, maxRssMB: kb / 1024, code: r.status, stdout: String(r.stdout ?? '') };
}

/** Best-of/median helper: run `n` times, return the median timing by wall time. */
/** the run with the median wall time */
export function median(ts: readonly Timing[]): Timing {
  return [...ts].sort((a, b) => a.ms - b.ms)[Math.floor(ts.length / 2)] as Timing;
}

export function medianOf(n: number, f: () => Timing): Timing {
  const ts: Timing[] = [];
  for (let i = 0; i < n; i++) ts.push(f());
  return median(ts);
}

export function fmt(ms: number): string {
  return ms >= 1000 ? (ms / 1000).toFixed(2) + ' s' : ms.toFixed(1) + ' ms';
}

export function ratio(a: number, b: number): string {
  return (a / b).toFixed(2) + 'x';
}

/** A small deterministic PRNG (xorshift32), so every run writes the same log. */
export function xorshift(seed: number): { rnd: () => number; pick: <T>(a: readonly T[]) => T } {
  let s = seed >>> 0;
  const rnd = () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
  return { rnd, pick: <T>(a: readonly T[]): T => a[Math.floor(rnd() * a.length)] as T };
}

export interface MultilogSpec {
  rnd: () => number;
  /** the lines of one connection (without labels), given its pid */
  connection: (pid: number) => string[];
  /** nanoseconds between two lines: base + rnd() * spread */
  gapNs: { base: number; spread: number };
  /** size of each rotated file (multilog s16777215 leaves files of about this size) */
  fileBytes: number;
  /** the first line's time, seconds since the epoch (default 1,790,000,000) */
  startSec?: number;
}

/**
 * Write `bytes` of labelled log lines as a multilog directory: full files are rotated into
 * @<label>.s as multilog does, the rest stays in `current`. Returns the rotated file names.
 */
export function writeMultilogDir(dir: string, bytes: number, spec: MultilogSpec): { files: string[]; lines: number } {
  mkdirSync(dir, { recursive: true });
  const files: string[] = [];
  let sec = spec.startSec ?? 1_790_000_000;
  let nsec = 0;
  let pid = 1000;
  let total = 0;
  let lines = 0;
  while (total < bytes) {
    const want = Math.min(spec.fileBytes, bytes - total);
    const parts: string[] = [];
    let size = 0;
    let fileBytes = 0;
    const cur = join(dir, 'current');
    const fd = openSync(cur, 'w');
    while (fileBytes + size < want) {
      pid = pid >= 60000 ? 1000 : pid + 1 + Math.floor(spec.rnd() * 5);
      for (const body of spec.connection(pid)) {
        nsec += spec.gapNs.base + Math.floor(spec.rnd() * spec.gapNs.spread);
        if (nsec >= 1e9) {
          sec += Math.floor(nsec / 1e9);
          nsec %= 1e9;
        }
        const line = encodeLabel({ sec, nsec }) + ' ' + body + '\n';
        parts.push(line);
        size += line.length;
        lines++;
      }
      if (size >= 1 << 20) {
        writeSync(fd, parts.join(''), null, 'latin1');
        fileBytes += size;
        parts.length = 0;
        size = 0;
      }
    }
    if (size) writeSync(fd, parts.join(''), null, 'latin1');
    fileBytes += size;
    closeSync(fd);
    total += fileBytes;
    if (total < bytes) {
      nsec += 1000;
      const name = encodeLabel({ sec, nsec }) + '.s';
      linkSync(cur, join(dir, name));
      rmSync(cur);
      files.push(name);
    }
  }
  return { files, lines };
}
