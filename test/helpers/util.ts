// Shared test helpers: temp dirs, and running the built binaries the way a user does.
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { chmodSync, lchownSync, lstatSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (tests run from dist/test/...). */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const QGREY = join(ROOT, 'bin/qgrey');
/** bin/qgreylist (bash), the run file's word; QGREY_TEST_CLIENT=c: the compiled client in its place */
export const QGREYLIST = process.env.QGREY_TEST_CLIENT === 'c' ? join(ROOT, 'dist/client/qgreylist') : join(ROOT, 'bin/qgreylist');
/** bin/qgreylist itself, for what only the script does */
export const QGREYLIST_SH = join(ROOT, 'bin/qgreylist');
export const FIXTURES = join(ROOT, 'fixtures');

export function tempDir(prefix = 'qgrey-test-'): { path: string; [Symbol.dispose](): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, [Symbol.dispose]: () => rmSync(path, { recursive: true, force: true }) };
}

/** nobody's uid and gid (Debian: 65534, nogroup) */
export const NOBODY = { uid: 65534, gid: 65534 };

/**
 * Give a test's tree to nobody when the tests run as root (CI does): run as root, qgrey does its
 * tree work as the owner of the tree's root and refuses a root-owned one. Everything in it is
 * lchown'ed (links are never followed), and each temporary directory above it lets others
 * through (mkdtemp makes them 0700). Run as any other user this does nothing: the tree is that
 * user's already. Returns `path`.
 */
export function giveTree(path: string): string {
  if (process.geteuid?.() !== 0) return path;
  const own = (p: string) => {
    const st = lstatSync(p);
    lchownSync(p, NOBODY.uid, NOBODY.gid);
    if (st.isDirectory()) for (const n of readdirSync(p)) own(join(p, n));
  };
  own(resolve(path));
  letThrough(path);
  return path;
}

/**
 * Let other users through each temporary directory above `path` (mkdtemp makes them 0700): a
 * temp tree given to nobody, or a checkout in a temp dir whose programs a test runs as nobody.
 */
export function letThrough(path: string): void {
  const tmp = resolve(tmpdir());
  for (let d = dirname(resolve(path)); d.startsWith(tmp + '/'); d = dirname(d)) chmodSync(d, (lstatSync(d).mode & 0o7777) | 0o011);
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Run a program synchronously; env is merged over a clean copy of process.env. */
export function run(cmd: string, args: string[], opts: SpawnSyncOptions & { input?: string | Buffer } = {}): RunResult {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', ...(opts.env ?? {}) };
  delete env.FORCE_COLOR;
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, ...opts, env });
  if (r.error) throw r.error;
  return { code: r.status, signal: r.signal, stdout: String(r.stdout), stderr: String(r.stderr) };
}

/** Run the built `qgrey` CLI. */
export function qgrey(args: string[], opts: SpawnSyncOptions & { input?: string | Buffer } = {}): RunResult {
  return run(process.execPath, [QGREY, ...args], opts);
}
