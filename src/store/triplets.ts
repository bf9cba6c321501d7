// Where the RCPT plugin (qgrey-spp) keeps its triplets (core/triplet.ts): a directory tree of
// its own, next to the jgreylist tree and never inside it (jgreylist and `qgrey clean` would
// see foreign names there), and an in-memory store for tests.
//
//   ROOT/HH/ID      one triplet: ID is its SHA-256 id (64 hex digits), HH its first two;
//                   the file holds the one-line stored form (core/triplet.ts, formatTriplet)
//   ROOT/HH/.ID.*   a write in progress (temp file, then rename over ID)
//   ROOT/c/ID       one client network (auto-whitelisting): ID is clientId(NET), the file
//                   holds formatClient()'s line
//   ROOT/p/ID       one sender domain's pool, cached (core/pool.ts): ID is poolId(DOMAIN), the
//                   file holds formatPool()'s line
//
// ROOT is QGREY_RCPT_DIR (default /var/qmail/qgrey-rcpt), made by the admin and owned by the
// tcpserver uid (the plugin runs as qmail-smtpd's uid). Directories 0700, files 0600. No path
// is ever built from an address: only from a validated id. Every directory is lstat'ed (a
// symlink is refused), files are opened with O_NOFOLLOW and checked with fstat, new files are
// made with O_EXCL, and a rewrite is a rename of a complete file, so a reader never sees half.
//
// No npm imports: the per-RCPT path.

import { randomBytes } from 'node:crypto';
import { chownSync, closeSync, constants as C, fchownSync, fstatSync, lstatSync, mkdirSync, openSync, readdirSync, readSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { QgreyError, reason } from '../core/errors.js';
import { formatClient, formatTriplet, parseClient, parseTriplet, TRIPLET_ID, type ClientRecord, type Triplet } from '../core/triplet.js';
import { formatPool, parsePool, type PoolRecord } from '../core/pool.js';


/** Synchronous access, one triplet at a time (the per-RCPT decision). */
export interface TripletAccess {
  readonly where: string;
  getTriplet(id: string): Triplet | null;
  putTriplet(id: string, t: Triplet): void;
  /** a client network's record (id: clientId(net)) */
  getClient(id: string): ClientRecord | null;
  putClient(id: string, c: ClientRecord): void;
  /** a sender domain's cached pool (id: poolId(domain)) */
  getPool(id: string): PoolRecord | null;
  putPool(id: string, p: PoolRecord): void;
}

/** The whole store, for the admin commands. */
export interface TripletStore extends TripletAccess {
  /** every triplet, with its id */
  scanTriplets(): Iterable<[string, Triplet]>;
  /** remove it; false when it was gone */
  removeTriplet(id: string): boolean;
}

function code(err: unknown): string | undefined {
  return (err as { code?: string } | null)?.code;
}

function checkId(id: string): void {
  if (!TRIPLET_ID.test(id)) throw new QgreyError(`not a triplet id: ${JSON.stringify(id.slice(0, 80))}`, 100);
}

const O_READ = C.O_RDONLY | C.O_NOFOLLOW | C.O_NONBLOCK | C.O_NOCTTY;
const O_TEMP = C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW | C.O_NONBLOCK | C.O_NOCTTY;
const MAX = 4096;
/** a pool's line: up to MAX_POOL_NETS networks */
const MAX_POOL = 65536;

export class TreeTriplets implements TripletStore {
  readonly where: string;

  /** `owner`: new files and directories are given to it (an import run as root) */
  constructor(
    readonly root: string,
    readonly owner?: { readonly uid: number; readonly gid: number },
  ) {
    this.where = root;
  }

  private fail(verb: string, path: string, err: unknown): QgreyError {
    return new QgreyError(`unable to ${verb} ${path}: ${reason(err)}`, 111);
  }

  /** The root must be a real directory (not a symlink), there already. */
  private checkRoot(): void {
    let st;
    try {
      st = lstatSync(this.root);
    } catch (err) {
      throw this.fail('open the triplet directory', this.root, err);
    }
    if (!st.isDirectory()) throw new QgreyError(`the triplet directory ${this.root} is not a directory (a symbolic link is refused)`, 111);
  }

  /** ROOT/HH: true when it is a directory; false when absent; throws on anything else. */
  private sub(hh: string, make: boolean): boolean {
    const p = `${this.root}/${hh}`;
    for (;;) {
      try {
        const st = lstatSync(p);
        if (!st.isDirectory()) throw new QgreyError(`unsafe triplet directory ${p}: not a directory (a symbolic link is refused); left alone`, 111);
        return true;
      } catch (err) {
        if (err instanceof QgreyError) throw err;
        if (code(err) !== 'ENOENT') throw this.fail('examine', p, err);
      }
      if (!make) return false;
      try {
        mkdirSync(p, 0o700);
        if (this.owner !== undefined) chownSync(p, this.owner.uid, this.owner.gid);
      } catch (err) {
        if (code(err) !== 'EEXIST') throw this.fail('create directory', p, err);
      }
    }
  }

  private readFile(path: string): Triplet | null {
    const text = this.readText(path);
    return text === null ? null : parseTriplet(text);
  }

  private readText(path: string, max = MAX): string | null {
    let fd: number;
    try {
      fd = openSync(path, O_READ);
    } catch (err) {
      if (code(err) === 'ENOENT') return null;
      if (code(err) === 'ELOOP') throw new QgreyError(`unsafe triplet ${path}: a symbolic link; left alone`, 111);
      throw this.fail('open', path, err);
    }
    try {
      const st = fstatSync(fd);
      if (!st.isFile()) throw new QgreyError(`unsafe triplet ${path}: not a regular file; left alone`, 111);
      const buf = Buffer.alloc(max);
      const n = readSync(fd, buf, 0, max, 0);
      // a damaged file counts as none (the next write replaces it)
      return buf.toString('latin1', 0, n);
    } catch (err) {
      if (err instanceof QgreyError) throw err;
      throw this.fail('read', path, err);
    } finally {
      closeSync(fd);
    }
  }

  getTriplet(id: string): Triplet | null {
    checkId(id);
    this.checkRoot();
    if (!this.sub(id.slice(0, 2), false)) return null;
    return this.readFile(`${this.root}/${id.slice(0, 2)}/${id}`);
  }

  putTriplet(id: string, t: Triplet): void {
    checkId(id);
    this.checkRoot();
    this.sub(id.slice(0, 2), true);
    this.writeText(id.slice(0, 2), id, formatTriplet(t));
  }

  getClient(id: string): ClientRecord | null {
    checkId(id);
    this.checkRoot();
    if (!this.sub('c', false)) return null;
    const text = this.readText(`${this.root}/c/${id}`);
    return text === null ? null : parseClient(text);
  }

  putClient(id: string, c: ClientRecord): void {
    checkId(id);
    this.checkRoot();
    this.sub('c', true);
    this.writeText('c', id, formatClient(c));
  }

  getPool(id: string): PoolRecord | null {
    checkId(id);
    this.checkRoot();
    if (!this.sub('p', false)) return null;
    const text = this.readText(`${this.root}/p/${id}`, MAX_POOL);
    return text === null ? null : parsePool(text);
  }

  putPool(id: string, p: PoolRecord): void {
    checkId(id);
    this.checkRoot();
    this.sub('p', true);
    this.writeText('p', id, formatPool(p));
  }

  /** ROOT/SUB/ID replaced by `text` whole: a temp file (O_EXCL, 0600), then a rename. */
  private writeText(sub: string, id: string, text: string): void {
    const dir = `${this.root}/${sub}`;
    const tmp = `${dir}/.${id}.${process.pid}.${randomBytes(4).toString('hex')}`;
    let fd: number;
    try {
      fd = openSync(tmp, O_TEMP, 0o600);
    } catch (err) {
      throw this.fail('create', tmp, err);
    }
    try {
      if (this.owner !== undefined) fchownSync(fd, this.owner.uid, this.owner.gid);
      const b = Buffer.from(text, 'latin1');
      let off = 0;
      while (off < b.length) off += writeSync(fd, b, off, b.length - off);
    } catch (err) {
      closeSync(fd);
      try {
        unlinkSync(tmp);
      } catch {
        /* gone */
      }
      throw this.fail('write', tmp, err);
    }
    closeSync(fd);
    try {
      renameSync(tmp, `${dir}/${id}`);
    } catch (err) {
      try {
        unlinkSync(tmp);
      } catch {
        /* gone */
      }
      throw this.fail('rename', tmp, err);
    }
  }

  *scanTriplets(): Iterable<[string, Triplet]> {
    this.checkRoot();
    let subs: string[];
    try {
      subs = readdirSync(this.root).filter((n) => /^[0-9a-f]{2}$/.test(n)).sort();
    } catch (err) {
      throw this.fail('read directory', this.root, err);
    }
    for (const hh of subs) {
      if (!this.sub(hh, false)) continue;
      let names: string[];
      try {
        names = readdirSync(`${this.root}/${hh}`).sort();
      } catch (err) {
        throw this.fail('read directory', `${this.root}/${hh}`, err);
      }
      for (const id of names) {
        if (!TRIPLET_ID.test(id) || !id.startsWith(hh)) continue;
        const t = this.readFile(`${this.root}/${hh}/${id}`);
        if (t !== null) yield [id, t];
      }
    }
  }

  removeTriplet(id: string): boolean {
    checkId(id);
    this.checkRoot();
    if (!this.sub(id.slice(0, 2), false)) return false;
    try {
      unlinkSync(`${this.root}/${id.slice(0, 2)}/${id}`);
      return true;
    } catch (err) {
      if (code(err) === 'ENOENT') return false;
      throw this.fail('remove', `${this.root}/${id.slice(0, 2)}/${id}`, err);
    }
  }
}

/** The same contract in memory (tests; a model for other stores). */
export class MemoryTriplets implements TripletStore {
  private readonly data = new Map<string, Triplet>();
  private readonly clients = new Map<string, ClientRecord>();
  private readonly pools = new Map<string, PoolRecord>();
  constructor(readonly where = 'memory') {}

  getTriplet(id: string): Triplet | null {
    checkId(id);
    return this.data.get(id) ?? null;
  }

  putTriplet(id: string, t: Triplet): void {
    checkId(id);
    this.data.set(id, { ...t });
  }

  *scanTriplets(): Iterable<[string, Triplet]> {
    for (const id of [...this.data.keys()].sort()) yield [id, this.data.get(id)!];
  }

  removeTriplet(id: string): boolean {
    checkId(id);
    return this.data.delete(id);
  }

  getClient(id: string): ClientRecord | null {
    checkId(id);
    return this.clients.get(id) ?? null;
  }

  putClient(id: string, c: ClientRecord): void {
    checkId(id);
    this.clients.set(id, { ...c });
  }

  getPool(id: string): PoolRecord | null {
    checkId(id);
    return this.pools.get(id) ?? null;
  }

  putPool(id: string, p: PoolRecord): void {
    checkId(id);
    this.pools.set(id, { ...p });
  }
}
