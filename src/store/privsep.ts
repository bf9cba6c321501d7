// Privilege separation, as OpenBSD's spamd and djb's setuidgid do it: root never works by path
// in a tree the qmail user can write. A command started as root reads what only root may read
// (logs, control files) itself, and does all its tree work (lock, scan, staging, leftovers,
// merge, removals, tidying) in a child process that has dropped to the uid and gid owning the
// tree's root (or --owner) before it touches the tree, fed over a pipe (tree-child.ts). Whatever
// a symlink planted in the tree points at, that process can only do what the qmail user could
// already do itself.
//
// Root refuses a tree root that is a symlink, or a directory owned by root, unless told
// `--owner root` (a tree nobody else writes): then it works in this process. Run as any other
// uid, this process does the work itself (it can do no more than that uid can anyway).
//
// No npm imports.

import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Readable, Writable } from 'node:stream';
import { resolve } from 'node:path';
import { QgreyError } from '../core/errors.js';
import type { Layout } from '../core/key.js';
import { openTree } from './tree.js';
import { parseOwner, rootOwner, type Owner } from './owner.js';
import { lockWait } from '../core/config.js';
import type { StoreConfig } from './open.js';
import { AnomalyError, type Anomaly, type Entry, type ExpireRules, type Expired, type GreyStore, type MergeOptions, type Removed, type ScanOptions, type StoreLock, type Tidied, type Walked } from './store.js';

/** What the child is told to open (StoreConfig without its callbacks). */
export interface ChildOpen {
  readonly dir: string;
  readonly where: string;
  readonly layout?: Layout | undefined;
  readonly layoutSource?: string | undefined;
  readonly lockWait: number;
}

/** A message from the child: a reply to request `id`, a scan batch, or an event. */
export type FromChild =
  | { readonly id: number; readonly ok: unknown }
  | { readonly id: number; readonly err: { readonly message: string; readonly exitCode: 100 | 111; readonly anomaly?: Anomaly; readonly where?: string } }
  | { readonly id: number; readonly batch: readonly Walked[] }
  | { readonly ev: 'anomaly'; readonly a: Anomaly }
  | { readonly ev: 'mixed'; readonly m: string };

export interface ToChild {
  readonly id: number;
  readonly op: 'open' | 'get' | 'create' | 'touch' | 'merge' | 'remove' | 'scan' | 'tidy' | 'expire' | 'lock' | 'unlock' | 'close';
  readonly args: readonly unknown[];
}

const ROOT_OWNED = (dir: string) =>
  `greylist directory ${dir} is owned by root: run as root, qgrey does its tree work as the tree's owner, never as root; chown it to the user that writes it (tcpserver's, e.g. vpopmail), or give --owner root for a tree no other user writes`;

/**
 * Who does the tree work of a command started as root (uid 0: in this process), after refusing
 * what root must not work in: a tree root that is a symlink; one owned by root, unless --owner
 * says so (a command that only reads, list and check, reads a root-owned tree itself).
 */
export function ownerFor(cfg: StoreConfig): Owner {
  const st = rootOwner(cfg.dir);
  if (st.symlink) {
    throw new QgreyError(`greylist directory ${cfg.dir} is a symbolic link: run as root, qgrey does its tree work as the owner of the real directory; give that directory`, 100);
  }
  if (cfg.owner !== undefined) return parseOwner(cfg.owner);
  if (st.uid === 0 && cfg.readOnly !== true) throw new QgreyError(ROOT_OWNED(cfg.dir), 100);
  return { uid: st.uid, gid: st.gid };
}

export async function openTreeAsOwner(cfg: StoreConfig): Promise<GreyStore> {
  // QGREY_LOCK_WAIT is read when a lock is taken (list and check never take one)
  const tree = { dir: cfg.dir, layout: cfg.layout, layoutSource: cfg.layoutSource, onAnomaly: cfg.onAnomaly, lockWait: () => lockWait(cfg.env) };
  if (process.geteuid?.() !== 0) {
    const o = cfg.owner !== undefined ? parseOwner(cfg.owner) : rootOwner(cfg.dir);
    return openTree({ ...tree, owner: { uid: o.uid, gid: o.gid } });
  }
  const owner = ownerFor(cfg);
  if (owner.uid === 0) return openTree({ ...tree, owner });
  const child = new Child(owner, cfg.onAnomaly ?? (() => {}), cfg.env.NODE_OPTIONS);
  try {
    const open: ChildOpen = { dir: resolve(cfg.dir), where: cfg.dir, layout: cfg.layout, layoutSource: cfg.layoutSource, lockWait: lockWait(cfg.env) };
    const r = (await child.call('open', [open])) as { layout: Layout };
    return new RemoteTree(child, cfg.dir, r.layout);
  } catch (err) {
    child.end();
    throw err;
  }
}

// The tree process's program beside this module: store/tree-child.js, or in the CLI's bundle
// (scripts/bundle.sh, which defines QGREY_TREE_CHILD) the bundle's own tree-child.mjs.
declare const QGREY_TREE_CHILD: string | undefined;
const CHILD = fileURLToPath(new URL(typeof QGREY_TREE_CHILD === 'string' ? QGREY_TREE_CHILD : './tree-child.js', import.meta.url));

interface Pending {
  resolve(v: unknown): void;
  reject(e: Error): void;
  batch?: (b: readonly Walked[]) => void;
}

/** The pipe to the tree process. */
class Child {
  private readonly proc: ChildProcessByStdio<Writable, Readable, null>;
  private readonly pending = new Map<number, Pending>();
  private next = 1;
  /** the start of a reply line not yet ended */
  private parts: string[] = [];
  private dead: Error | null = null;
  mixed: ((m: string) => void) | null = null;
  /** during a scan: anomalies wait in the scan's queue, so they reach the caller in the walk's order */
  defer: ((f: () => void) => void) | null = null;

  constructor(
    owner: Owner,
    private readonly onAnomaly: (a: Anomaly) => void,
    nodeOptions: string | undefined,
  ) {
    // started as root so that it can read its own code wherever qgrey is installed; it drops
    // to the owner (setgroups, setgid, setuid, checked) before it reads a request. Root's
    // environment stays here (NODE_OPTIONS aside, e.g. a larger heap for a large tree): the
    // child is told all it needs over the pipe.
    const env: NodeJS.ProcessEnv = nodeOptions !== undefined ? { NODE_OPTIONS: nodeOptions } : {};
    this.proc = spawn(process.execPath, [CHILD, String(owner.uid), String(owner.gid)], { stdio: ['pipe', 'pipe', 'inherit'], cwd: '/', env });
    this.proc.stdout.setEncoding('utf8');
    this.proc.stdout.on('data', (s: string) => this.data(s));
    this.proc.on('exit', (code, sig) => this.fail(new QgreyError(`the tree process ended unexpectedly (${sig ?? `exit ${code}`})`, 111)));
    this.proc.on('error', (err) => this.fail(new QgreyError(`unable to start the tree process: ${err.message}`, 111)));
    this.proc.stdin.on('error', () => {
      /* the exit handler reports it */
    });
  }

  private fail(err: Error): void {
    if (this.dead === null) this.dead = err;
    for (const p of this.pending.values()) p.reject(this.dead);
    this.pending.clear();
  }

  private data(s: string): void {
    let from = 0;
    for (let i = s.indexOf('\n'); i !== -1; i = s.indexOf('\n', from)) {
      this.parts.push(s.slice(from, i));
      from = i + 1;
      const line = this.parts.join('');
      this.parts = [];
      let m: FromChild;
      try {
        m = JSON.parse(line) as FromChild;
      } catch {
        this.fail(new QgreyError('the tree process sent something that is not a reply; stopped it', 111));
        this.proc.kill('SIGKILL');
        return;
      }
      this.message(m);
    }
    if (from < s.length) this.parts.push(s.slice(from));
  }

  private message(m: FromChild): void {
    if ('ev' in m) {
      const f = m.ev === 'anomaly' ? () => this.onAnomaly(m.a) : () => this.mixed?.(m.m);
      if (this.defer !== null) this.defer(f);
      else f();
      return;
    }
    const p = this.pending.get(m.id);
    if (p === undefined) return;
    if ('batch' in m) {
      p.batch?.(m.batch);
      return;
    }
    this.pending.delete(m.id);
    if ('ok' in m) p.resolve(m.ok);
    else {
      const e = m.err;
      p.reject(e.anomaly !== undefined ? new AnomalyError(e.where ?? '', e.anomaly) : new QgreyError(e.message, e.exitCode));
    }
  }

  call(op: ToChild['op'], args: readonly unknown[], batch?: (b: readonly Walked[]) => void): Promise<unknown> {
    if (this.dead !== null) return Promise.reject(this.dead);
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, ...(batch ? { batch } : {}) });
      this.proc.stdin.write(JSON.stringify({ id, op, args } satisfies ToChild) + '\n');
    });
  }

  end(): void {
    this.proc.removeAllListeners('exit');
    this.proc.stdin.end();
  }

  exited(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return Promise.resolve();
    return new Promise((r) => this.proc.once('exit', () => r()));
  }
}

/** The tree, worked on by the tree process. */
class RemoteTree implements GreyStore {
  private closed = false;
  constructor(
    private readonly child: Child,
    readonly where: string,
    readonly layout: Layout,
  ) {}

  async get(key: string): Promise<Entry | null> {
    return (await this.child.call('get', [key])) as Entry | null;
  }

  async create(key: string, now: number): Promise<boolean> {
    return (await this.child.call('create', [key, now])) as boolean;
  }

  async touch(key: string, last: number): Promise<boolean> {
    return (await this.child.call('touch', [key, last])) as boolean;
  }

  async merge(entries: readonly Entry[], opts: MergeOptions): Promise<number> {
    return (await this.child.call('merge', [entries, opts])) as number;
  }

  async removeIfUnchanged(batch: readonly Walked[], opts: { readonly dryRun?: boolean } = {}): Promise<Removed> {
    return (await this.child.call('remove', [batch, opts])) as Removed;
  }

  async *scan(opts: ScanOptions = {}): AsyncIterable<readonly Walked[]> {
    const queue: (readonly Walked[] | (() => void))[] = [];
    let wake: (() => void) | null = null;
    let done = false;
    let failed: Error | null = null;
    const push = (x: readonly Walked[] | (() => void)) => {
      queue.push(x);
      wake?.();
    };
    this.child.mixed = opts.onMixed ?? null;
    this.child.defer = push;
    const { onMixed: _m, ...rest } = opts;
    this.child.call('scan', [rest], push).then(
      () => {
        done = true;
        wake?.();
      },
      (err: Error) => {
        failed = err;
        wake?.();
      },
    );
    try {
      for (;;) {
        const x = queue.shift();
        if (typeof x === 'function') x();
        else if (x !== undefined) yield x;
        else if (failed !== null) throw failed;
        else if (done) return;
        else {
          await new Promise<void>((r) => (wake = r));
          wake = null;
        }
      }
    } finally {
      this.child.defer = null;
      this.child.mixed = null;
    }
  }

  async tidy(opts: { readonly dryRun?: boolean } = {}): Promise<Tidied> {
    return (await this.child.call('tidy', [opts])) as Tidied;
  }

  /** done by the tree process: the entries never cross the pipe */
  async expire(rules: ExpireRules, opts: { readonly dryRun?: boolean } = {}): Promise<Expired> {
    return (await this.child.call('expire', [rules, opts])) as Expired;
  }

  async lock(what: string): Promise<StoreLock> {
    const recovered = (await this.child.call('lock', [what])) as number;
    return { recovered, release: async () => void (await this.child.call('unlock', [])) };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.child.call('close', []);
    } catch {
      /* it is going anyway */
    }
    this.child.end();
    await this.child.exited();
  }
}
