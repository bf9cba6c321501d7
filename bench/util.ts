// Helpers for benchmarks: wall time and peak memory (max RSS) of a command, measured by
// GNU time (Debian package `time`), with NODE_EXTRA_CA_CERTS removed (it triples Node start-up).
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Timing {
  ms: number;
  maxRssMB: number;
  code: number | null;
  stdout: string;
}

export function benchEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  delete env.NODE_EXTRA_CA_CERTS;
  return env;
}

/** Run `cmd args` once; wall time from GNU time's %e is too coarse, so time it here and take %M for memory. */
export function measure(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string; cwd?: string } = {}): Timing {
  const tf = join(tmpdir(), `qgrey-bench-time-${process.pid}`);
  const t0 = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', ['-o', tf, '-f', '%M', cmd, ...args], {
    env: opts.env ?? benchEnv(),
    cwd: opts.cwd,
    input: opts.input,
    encoding: 'utf8',
    maxBuffer: 1 << 30,
    stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'inherit'],
  });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  let kb = NaN;
  try {
    kb = Number(readFileSync(tf, 'utf8').trim().split('\n').pop());
    rmSync(tf, { force: true });
  } catch {
    /* no report */
  }
  return { ms, maxRssMB: kb / 1024, code: r.status, stdout: String(r.stdout ?? '') };
}

/** Best-of/median helper: run `n` times, return the median timing by wall time. */
export function medianOf(n: number, f: () => Timing): Timing {
  const ts: Timing[] = [];
  for (let i = 0; i < n; i++) ts.push(f());
  ts.sort((a, b) => a.ms - b.ms);
  return ts[Math.floor(ts.length / 2)] as Timing;
}

export function fmt(ms: number): string {
  return ms >= 1000 ? (ms / 1000).toFixed(2) + ' s' : ms.toFixed(1) + ' ms';
}

export function ratio(a: number, b: number): string {
  return (a / b).toFixed(2) + 'x';
}
