// qgreyd: the resident decision server. bin/qgreylist asks it over loopback TCP (bash's
// /dev/tcp, no fork) and acts on the verdict; the SMTP socket never comes here. It holds the
// lists in memory (src/server/lists.ts), opens the tree once, and decides with the same code
// as the per-process program (src/wrapper/connection.ts, run()), so a connection gets the same
// answer and the same tree update either way. Protocol: src/server/protocol.ts.
//
// Run under daemontools as the tree's owner (the tcpserver uid): in the foreground, one line
// per decision and per event on stderr, exit 111 with one line when it cannot start, and on
// SIGTERM it stops accepting, finishes the requests in flight and exits 0. SIGHUP reads the
// lists and the secret again (a changed list file is read again anyway, see lists.ts).
//
// Imports node: builtins, src/core, src/store and src/wrapper only (no npm package).

import { wallClockMs, type ClockMs } from '../core/clock.js';
import { timingSafeEqual } from 'node:crypto';
import { accessSync, constants, lstatSync, readFileSync, writeSync } from 'node:fs';
import { createServer, isIP, type Server, type Socket } from 'node:net';
import { quote, reason } from '../core/errors.js';
import { parseIp, type Ip } from '../core/ip.js';
import { QgreyError } from '../core/errors.js';
import { DEFAULT_BLACK_MESSAGE, listPath, type ListName } from '../store/lists.js';
import { hidePasswords } from '../store/redis-url.js';
import { selectedStore } from '../store/select.js';
import { openEntries } from '../store/open-entries.js';
import type { EntryAccess } from '../store/store.js';
import { readConfig, type WrapperConfig } from '../wrapper/config.js';
import { atoi } from '../core/atoi.js';
import { DEFAULT_RCPT_DIR, rcptDir, treeDir, type Env } from '../core/config.js';
import { findRblsmtpd, logLine, searchPath, PROG, run, runAsync, type AsyncIo, type Io, type Result } from '../wrapper/connection.js';
import { logAddress } from '../wrapper/text.js';
import { readSppConfig, runRcptPooled, sppLogLine, SPP_PROG, type SppIo, type SppResult } from '../spp/rcpt.js';
import { runRcptOnRedis, type RedisRcpt } from '../spp/redis-rcpt.js';
import { TreeTriplets } from '../store/triplets.js';
import { PairCache } from '../store/pairs.js';
import { FileCache } from './file-cache.js';
import { parseTraps } from '../core/traps.js';
import { readTimers } from '../core/triplet.js';
import { TRAPS_FILE } from '../store/trap-list.js';
import { ListCache, ListIndex } from './lists.js';
import { formatReply, Malformed, MAX_REQUEST, parseRequest, requestEnd, type Reply } from './protocol.js';
import { clean } from '../core/text.js';

export const NAME = 'qgreyd';
export const DEFAULT_LISTEN = '127.0.0.1:7325';
export const DEFAULT_SECRET = '/var/qmail/control/qgreyd.secret';

export const USAGE = `usage: qgreyd

qgreyd, the resident decision server of qgreylist(8). It stays in the foreground
(run it under daemontools as the tcpserver uid, the greylist tree's owner), logs
to stderr, and answers bin/qgreylist on loopback; a qgreylist that cannot reach
it decides by itself. Settings come from the environment:

  QGREYD_LISTEN       address:port to listen on (${DEFAULT_LISTEN}); a
                      non-loopback address only when QGREYD_ANY_ADDRESS=1
  QGREY_SECRET        the shared secret file, readable by its owner only
                      (${DEFAULT_SECRET})
  QGREYD_CONNECTIONS  connections served at once (200); beyond: "busy"
  QGREYD_TIMEOUT      seconds a client has to send its request (2)
  JGREYLIST_DIR       the greylist tree (/var/qmail/jgreylist)
  JGREYLIST_BY_IP     non-zero: per-IP entries, as for qgreylist
  QGREY_LISTDIR       the whitelist and blacklist directory
                      (/var/qmail/control/qgrey)
  QGREY_RCPT_DIR      the triplets of qgrey-spp(8), greylisting at RCPT
                      (${DEFAULT_RCPT_DIR})
  QGREY_STORE         a redis://, rediss:// or redis+sentinel:// URL: the shared
                      greylist and lists of several MX hosts instead of the
                      tree and the list files (unset: the tree)

Signals: SIGTERM or SIGINT: finish the requests in flight, exit 0; SIGHUP: read
the lists and the secret again, and look for rblsmtpd again.
Exit status: 0 stopped, 100 usage, 111 unable to start. See qgreyd(8).
`;

export interface ServerConfig {
  readonly host: string;
  readonly port: number;
  readonly secretFile: string;
  readonly maxConnections: number;
  readonly timeoutMs: number;
  /** the tree and the lists qgreyd serves: a request naming others is left to the per-process program */
  readonly wrapper: WrapperConfig;
  /** the triplet directory of qgrey-spp's requests (the same rule) */
  readonly rcptDir: string;
}

export class StartError extends Error {}

/** The server's settings, as one pure function of its environment. Throws StartError. */
export function serverConfig(env: Env): ServerConfig {
  const listen = env.QGREYD_LISTEN || DEFAULT_LISTEN;
  const m = /^\[?([^\]]*)\]?:([0-9]{1,5})$/.exec(listen);
  const host = m?.[1] ?? '';
  const port = Number(m?.[2] ?? -1);
  if (!m || isIP(host) === 0 || port > 65535) throw new StartError(`bad QGREYD_LISTEN ${quote(listen)}: expected ADDRESS:PORT, e.g. ${DEFAULT_LISTEN}`);
  const loopback = host === '::1' || /^127\./.test(host) || /^::ffff:127\./i.test(host);
  if (!loopback && env.QGREYD_ANY_ADDRESS !== '1') throw new StartError(`QGREYD_LISTEN ${quote(listen)} is not a loopback address: set QGREYD_ANY_ADDRESS=1 to listen there`);
  const max = env.QGREYD_CONNECTIONS ? atoi(env.QGREYD_CONNECTIONS) : 200;
  if (max < 1) throw new StartError(`bad QGREYD_CONNECTIONS ${quote(env.QGREYD_CONNECTIONS ?? '')}: expected a number of connections, at least 1`);
  const t = env.QGREYD_TIMEOUT ? Number(env.QGREYD_TIMEOUT) : 2;
  if (!(t > 0 && t <= 300)) throw new StartError(`bad QGREYD_TIMEOUT ${quote(env.QGREYD_TIMEOUT ?? '')}: expected seconds, more than 0 and at most 300`);
  const wrapper = readConfig({ ...env, JGREYLIST_DIR: treeDir(undefined, env) });
  return { host, port, secretFile: env.QGREY_SECRET || DEFAULT_SECRET, maxConnections: max, timeoutMs: t * 1000, wrapper, rcptDir: rcptDir(undefined, env) };
}

const SECRET = /^[A-Za-z0-9_+/=.-]{16,256}$/;

/** The secret from its file: a regular file (no symlink), readable and writable by its owner only. */
export function readSecret(path: string): Buffer {
  let st;
  try {
    st = lstatSync(path);
  } catch (err) {
    throw new StartError(`unable to read the secret ${path}: ${reason(err)}`);
  }
  if (!st.isFile()) throw new StartError(`the secret ${path} is not a regular file`);
  if ((st.mode & 0o077) !== 0) throw new StartError(`the secret ${path} is open to other users (mode ${(st.mode & 0o777).toString(8)}): chmod 400 it`);
  let text: string;
  try {
    text = readFileSync(path, 'latin1');
  } catch (err) {
    throw new StartError(`unable to read the secret ${path}: ${reason(err)}`);
  }
  const first = (text.split('\n')[0] ?? '').trim();
  if (!SECRET.test(first)) throw new StartError(`the secret ${path} is not 16 to 256 characters of A-Z a-z 0-9 _ + / = . - on its first line`);
  return Buffer.from(first, 'latin1');
}

type Log = (line: string) => void;

/** Untrusted text for our log: quoted, and nothing but printable ASCII left (quote keeps non-Latin-1 characters). */
function safe(text: string, max = 100): string {
  return clean(quote(text, max), max + 3);
}

function stderrLog(line: string): void {
  const b = Buffer.from(line + '\n', 'latin1');
  for (let off = 0, spins = 0; off < b.length; ) {
    try {
      off += writeSync(2, b, off, b.length - off);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EAGAIN' && spins++ < 1000) {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
        continue;
      }
      return;
    }
  }
}

/** At most `perSecond` lines of one kind each second; the rest are counted and reported. */
function limited(log: Log, perSecond: number, clock: ClockMs): (line: string) => void {
  let second = 0;
  let n = 0;
  let dropped = 0;
  return (line) => {
    const s = Math.floor(clock() / 1000);
    if (s !== second) {
      if (dropped > 0) log(`${NAME}: ${dropped} more such lines not logged`);
      second = s;
      n = 0;
      dropped = 0;
    }
    if (n++ < perSecond) log(line);
    else dropped++;
  };
}

export interface Running {
  readonly server: Server;
  readonly port: number;
  /** resolves with the exit code once qgreyd has stopped */
  readonly done: Promise<number>;
  stop(why: string): void;
  reload(): void;
}

/** Start serving. Throws StartError when it cannot. */
/** `clock`: the time each decision is made at (the wall clock; a test's own) */
export async function start(cfg: ServerConfig, log: Log = stderrLog, clock: ClockMs = wallClockMs): Promise<Running> {
  const secret = readSecret(cfg.secretFile);
  const w = cfg.wrapper;
  if (w.store !== '') return startRedis(cfg, log, secret, process.geteuid?.() ?? -1, clock);
  let st;
  try {
    st = lstatSync(w.dir);
  } catch (err) {
    throw new StartError(`unable to open the tree ${w.dir}: ${reason(err)}`);
  }
  if (!st.isDirectory()) throw new StartError(`the tree ${w.dir} is not a directory`);
  try {
    accessSync(w.dir, constants.W_OK | constants.X_OK);
  } catch (err) {
    throw new StartError(`unable to write in the tree ${w.dir}: ${reason(err)}: run qgreyd as the tree's owner (the tcpserver uid)`);
  }
  const euid = process.geteuid?.() ?? -1;
  // the store, opened once through the wrapper's seam (the per-process program opens the same
  // for each connection, so entries get the same modes and, qgreyd running as the tcpserver
  // uid, the same owner)
  const store = openEntries(w.dir, w.layout);
  const lists = new ListCache();
  lists.onLoad = (path, n, bad) => log(n < 0 ? `${NAME}: ${path} is gone: an empty list` : `${NAME}: read ${path}: ${n} entries${bad > 0 ? `, ${bad} lines not understood` : ''}`);
  const sources: Io = {
    list: (name: ListName, c: Pick<WrapperConfig, 'listDir'>, ip, now) => lists.find(listPath(c.listDir, name), ip, now),
    store: () => store,
  };
  for (const name of ['whitelist', 'blacklist'] as const) {
    try {
      lists.index(listPath(w.listDir, name));
    } catch (err) {
      log(`${NAME}: warning: ${(err as Error).message}`);
    }
  }
  return serve(cfg, log, secret, euid, clock, { run: (c) => run(c, clock(), sources), find: sources.list!, entries: () => store, reload: () => lists.reload(), where: `tree ${w.dir} (${w.layout === 'byip' ? 'per IP' : 'class C'}), lists ${w.listDir}`, close: async () => {} });
}

/** What serve() decides with: the tree and list files, or the shared Redis store. */
interface Backend {
  readonly run: (c: WrapperConfig) => Result | Promise<Result>;
  /** the lists qgreyd holds, for qgrey-spp's RCPT decisions */
  readonly find: NonNullable<Io['list']>;
  /** the tree qgreyd holds open, for qgrey-spp's auto-whitelisting (unset: qgrey-spp opens its tree itself) */
  readonly entries?: () => EntryAccess;
  readonly reload: () => void;
  /** the shared Redis store, for qgrey-spp's triplets (unset: the triplet directory) */
  readonly redis?: Pick<RedisRcpt, 'store' | 'lists'>;
  /** for the start-up line */
  readonly where: string;
  readonly close: () => Promise<void>;
}

/** qgreyd on the shared Redis store: one connection, reconnecting by itself; the lists held in memory, reloaded when their version key moves. */
async function startRedis(cfg: ServerConfig, log: Log, secret: Buffer, euid: number, clock: ClockMs): Promise<Running> {
  const w = cfg.wrapper;
  let t;
  try {
    t = selectedStore(w.store, {})!;
  } catch (err) {
    throw new StartError((err as Error).message);
  }
  const { RedisStore } = await import('../store/redis.js');
  const { RedisLists, ListsWatcher } = await import('../store/redis-lists.js');
  const where = t.display;
  const store = await RedisStore.open(t, {
    layout: w.layout,
    mode: 'server',
    onState: (st, detail) => log(st === 'up' ? `${NAME}: the Redis store ${where} is up` : `${NAME}: warning: the Redis store ${where} is down: ${detail}; deciding by QGREY_FAIL until it is back`),
  });
  const redisLists = new RedisLists(store.client, t.prefix, where);
  const watcher = new ListsWatcher(
    redisLists,
    (text) => new ListIndex(text),
    (version) => {
      const wl = watcher.get('whitelist');
      const bl = watcher.get('blacklist');
      log(`${NAME}: read the lists of ${where} (version ${version}): whitelist ${wl?.entries ?? 0} entries, blacklist ${bl?.entries ?? 0} entries${(wl?.bad ?? 0) + (bl?.bad ?? 0) > 0 ? `, ${(wl?.bad ?? 0) + (bl?.bad ?? 0)} lines not understood` : ''}`);
    },
  );
  await watcher.start().catch((err: Error) => log(`${NAME}: warning: unable to read the lists yet (polling goes on): ${err.message}`));
  const find = (name: ListName, _c: unknown, ip: Ip, now: number) => {
    const idx = watcher.get(name);
    if (idx === null) throw new QgreyError(`the lists of ${where} are not read yet`, 111);
    const e = idx.find(ip, now);
    return e === null ? null : { label: e.address, message: e.message ?? DEFAULT_BLACK_MESSAGE };
  };
  const io: AsyncIo = { store, list: async (name, c, ip, now) => find(name, c, ip, now) };
  const close = async () => {
    watcher.stop();
    await store.close();
  };
  try {
    return await serve(cfg, log, secret, euid, clock, {
      run: (c) => runAsync(c, clock(), io),
      find,
      redis: { store, lists: redisLists },
      reload: () => void watcher.refresh(true),
      where: `Redis store ${where} (${w.layout === 'byip' ? 'per IP' : 'class C'}) and its lists`,
      close,
    });
  } catch (err) {
    await close();
    throw err;
  }
}

async function serve(cfg: ServerConfig, log: Log, secretAtStart: Buffer, euid: number, clock: ClockMs, backend: Backend): Promise<Running> {
  // where rblsmtpd is on a request's PATH, looked up again at most once a second (or on SIGHUP):
  // the lookup is an access() per PATH directory, a sixth of qgreyd's work for a connection
  const rblFound = new Map<string, { readonly path: string | null; readonly until: number }>();
  const rblsmtpdOn = (env: Env): string | null => {
    const key = searchPath(env);
    const now = clock();
    const had = rblFound.get(key);
    if (had !== undefined && now < had.until) return had.path;
    const path = findRblsmtpd(env);
    if (rblFound.size >= 16) rblFound.clear();
    rblFound.set(key, { path, until: now + 1000 });
    return path;
  };
  const w = cfg.wrapper;
  let secret = secretAtStart;

  const refused = limited(log, 10, clock);
  const busyLog = limited(log, 1, clock);
  let active = 0;
  let decided = 0;
  let stopping = false;
  let resolveDone!: (code: number) => void;
  const done = new Promise<number>((r) => (resolveDone = r));

  const server = createServer({ noDelay: true });

  const decide = (buf: Buffer, peer: string): Reply | Promise<Reply> => {
    let req;
    try {
      req = parseRequest(buf);
    } catch (err) {
      if (!(err instanceof Malformed)) throw err;
      refused(`${NAME}: malformed request from ${peer}: ${err.message}: ${safe(err.text, 80)}`);
      return { kind: 'error', why: `malformed request: ${err.message}` };
    }
    const given = Buffer.from(req.secret, 'latin1');
    if (given.length !== secret.length || !timingSafeEqual(given, secret)) {
      refused(`${NAME}: refused ${peer}: wrong secret`);
      return { kind: 'error', why: 'refused: wrong secret' };
    }
    if (req.kind === 'rcpt') return decideRcpt(req.env, req.pid, req.euid);
    const c = readConfig(req.env);
    const who = logAddress(c.remoteIp, c.remoteIp !== '' && parseIp(c.remoteIp) !== null);
    const local = (why: string): Reply => {
      log(`${NAME}: ${who}: left to the per-process program: ${why}`);
      return { kind: 'local', why };
    };
    // what qgreyd does not hold, or must not do, goes to the per-process program undecided
    if (req.euid !== euid) return local(`the client's uid ${req.euid} is not qgreyd's (${euid})`);
    if (c.store !== w.store) return local(c.store === '' ? 'the tree, not the Redis store (QGREY_STORE unset)' : `another store: QGREY_STORE ${safe(hidePasswords(c.store))}`);
    if (w.store === '' && c.dir !== w.dir) return local(`another tree: JGREYLIST_DIR ${safe(c.dir)}`);
    if (c.layout !== w.layout) return local('another layout: JGREYLIST_BY_IP');
    if (w.store === '' && c.listDir !== w.listDir) return local(`another list directory: QGREY_LISTDIR ${safe(c.listDir)}`);
    if (c.dialogue === 'node' || (c.dialogue === 'auto' && (c.limit !== 0 || c.logSmtp))) return local('its own dialogue (JGREYLIST_LIMIT, JGREYLIST_LOG_SMTP or QGREY_DIALOGUE=node)');
    const rbl = rblsmtpdOn(req.env);
    if (rbl === null || rbl.includes('\n')) return local('no rblsmtpd on PATH');

    const replyOf = (r: Result): Reply => {
      decided++;
      const line = logLine(c, r);
      const full = line === null ? null : (c.logPid ? `${PROG}[${req.pid}]: ` : `${PROG}: `) + line;
      if (full !== null) log(full);
      const v = r.verdict;
      if (v.kind === 'pass') return { kind: 'exec', log: full };
      return { kind: 'rbl', timeout: c.timeout, path: rbl, rblsmtpd: (v.permanent ? '-' : '') + v.text, log: full };
    };
    const r = backend.run(c);
    return r instanceof Promise ? r.then(replyOf) : replyOf(r);
  };

  // one RCPT of bin/qgrey-spp: the same runRcpt() as the per-process program, with qgreyd's
  // lists and triplet store
  const triplets = new TreeTriplets(cfg.rcptDir);
  // the reply pairs of the list directory (whitelist outgoing), parsed again when the file changes
  const pairs = new PairCache();
  pairs.onLoad = (path, n, bad) => log(n < 0 ? `${NAME}: ${path} is gone: no reply pairs` : `${NAME}: read ${path}: ${n} reply pairs${bad > 0 ? `, ${bad} lines not understood` : ''}`);
  // the traps list and the timers' control file, read again only when they change
  const trapFiles = new FileCache((text) => parseTraps(text ?? ''));
  const controlFiles = new FileCache((text) => text);
  const sppIo: SppIo = {
    triplets: () => triplets,
    traps: (c) => trapFiles.get(`${c.listDir}/${TRAPS_FILE}`),
    reply: (c, remote, local, now) => pairs.find(c.listDir, remote, local, now),
    ...(backend.entries ? { entries: backend.entries } : {}),
    list: (name: ListName, c, ip, now) => backend.find(name, c, ip, now),
    inflight: new Map(),
  };
  const decideRcpt = (env: Record<string, string>, pid: number, clientEuid: number): Reply | Promise<Reply> => {
    const c = readSppConfig(env);
    const who = logAddress(c.remoteIp, c.remoteIp !== '' && parseIp(c.remoteIp) !== null);
    const local = (why: string): Reply => {
      log(`${NAME}: ${who}: RCPT left to the per-process program: ${why}`);
      return { kind: 'local', why };
    };
    if (clientEuid !== euid) return local(`the client's uid ${clientEuid} is not qgreyd's (${euid})`);
    if (c.store !== w.store) return local(c.store === '' ? 'the triplet directory, not the Redis store (QGREY_STORE unset)' : `another store: QGREY_STORE ${safe(hidePasswords(c.store))}`);
    const done = (r: SppResult): Reply => {
      decided++;
      const line = sppLogLine(c, r);
      const full = line === null ? null : `${SPP_PROG}[${pid}]: ${line}`;
      if (full !== null) log(full);
      return { kind: 'spp', command: r.command, log: full };
    };
    if (backend.redis !== undefined) {
      // the traps file is still read from the list directory
      if (c.listDir !== w.listDir) return local(`another list directory: QGREY_LISTDIR ${safe(c.listDir)}`);
      return runRcptOnRedis(c, clock(), env, { ...backend.redis, find: (name, ip, now) => backend.find(name, c, ip, now), inflight: sppIo.inflight, reply: sppIo.reply }).then(done);
    }
    if (c.dir !== cfg.rcptDir) return local(`another triplet directory: QGREY_RCPT_DIR ${safe(c.dir)}`);
    if (c.listDir !== w.listDir) return local(`another list directory: QGREY_LISTDIR ${safe(c.listDir)}`);
    if (c.tree !== w.dir || c.treeLayout !== w.layout) return local(`another tree for auto-whitelisting: JGREYLIST_DIR ${safe(c.tree)}${c.treeLayout !== w.layout ? ' or JGREYLIST_BY_IP' : ''}`);
    return runRcptPooled(c, clock(), env, { ...sppIo, timers: (x) => readTimers(controlFiles.get(x.control), env) }).then(done);
  };

  const finish = () => {
    if (!stopping || active > 0) return;
    log(`${NAME}: stopped after ${decided} decision${decided === 1 ? '' : 's'}`);
    void backend.close().finally(() => resolveDone(0));
  };

  // After the reply, what the client still sends is read and dropped: closing with unread
  // data would make the kernel send a reset, which can destroy the reply before the client
  // reads it. A client that does not close within the timeout is cut off.
  let lingering = 0;
  const reply = (sock: Socket, r: Reply) => {
    sock.removeAllListeners('data');
    sock.on('data', () => {});
    sock.resume();
    sock.end(formatReply(r));
    const cut = setTimeout(() => sock.destroy(), cfg.timeoutMs);
    sock.once('close', () => clearTimeout(cut));
  };

  server.on('connection', (sock: Socket) => {
    const peer = `${sock.remoteAddress ?? '?'}:${sock.remotePort ?? '?'}`;
    sock.on('error', () => {});
    if (active >= cfg.maxConnections || stopping) {
      if (lingering >= cfg.maxConnections) {
        sock.destroy();
        return;
      }
      busyLog(`${NAME}: busy: ${active} connections (QGREYD_CONNECTIONS=${cfg.maxConnections}); ${peer} told to decide by itself`);
      lingering++;
      sock.once('close', () => lingering--);
      reply(sock, { kind: 'error', why: stopping ? 'stopping' : 'busy' });
      return;
    }
    active++;
    let chunks: Buffer[] = [];
    let size = 0;
    let answered = false;
    const answer = (r: Reply) => {
      answered = true;
      clearTimeout(timer);
      reply(sock, r);
    };
    const timer = setTimeout(() => {
      refused(`${NAME}: ${peer} sent no whole request within ${cfg.timeoutMs / 1000}s`);
      answer({ kind: 'error', why: 'timeout' });
    }, cfg.timeoutMs);
    sock.on('data', (b: Buffer) => {
      if (answered) return;
      chunks.push(b);
      size += b.length;
      const buf = chunks.length === 1 ? b : Buffer.concat(chunks, size);
      chunks = [buf];
      const end = requestEnd(buf);
      if (end === -1) {
        if (size > MAX_REQUEST) {
          refused(`${NAME}: malformed request from ${peer}: more than ${MAX_REQUEST} bytes`);
          answer({ kind: 'error', why: 'request too large' });
        }
        return;
      }
      const internal = (err: unknown): Reply => {
        log(`${NAME}: internal error: ${safe(err instanceof Error ? err.message : String(err), 200)}`);
        return { kind: 'error', why: 'internal error' };
      };
      let r: Reply | Promise<Reply>;
      try {
        r = decide(end > MAX_REQUEST ? Buffer.alloc(0) : buf.subarray(0, end), peer);
      } catch (err) {
        r = internal(err);
      }
      if (r instanceof Promise) {
        // no second answer (the request timeout) while this one is on its way
        answered = true;
        clearTimeout(timer);
        r.then(answer, (err) => answer(internal(err)));
      } else answer(r);
    });
    sock.on('end', () => {
      if (!answered) answer({ kind: 'error', why: 'no whole request' });
    });
    sock.on('close', () => {
      clearTimeout(timer);
      active--;
      finish();
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new StartError(`unable to listen on ${cfg.host}:${cfg.port}: ${/^listen [A-Z]+: (.+?) \S+$/.exec(err.message)?.[1] ?? reason(err)}`)));
    server.listen({ host: cfg.host, port: cfg.port, backlog: 511, exclusive: true }, () => resolve());
  });
  server.on('error', (err) => log(`${NAME}: warning: ${reason(err)}`));
  const addr = server.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : cfg.port;
  log(
    `${NAME}: listening on ${cfg.host.includes(':') ? `[${cfg.host}]` : cfg.host}:${port}: ${backend.where}, uid ${euid}, at most ${cfg.maxConnections} connections`,
  );

  return {
    server,
    port,
    done,
    stop(why: string) {
      if (stopping) return;
      stopping = true;
      log(`${NAME}: ${why}: finishing ${active} connection${active === 1 ? '' : 's'}, then stopping`);
      server.close();
      finish();
    },
    reload() {
      rblFound.clear();
      backend.reload();
      pairs.reload();
      trapFiles.reload();
      controlFiles.reload();
      try {
        secret = readSecret(cfg.secretFile);
        log(`${NAME}: SIGHUP: the lists and the secret will be read again`);
      } catch (err) {
        log(`${NAME}: SIGHUP: keeping the old secret: ${(err as Error).message}`);
      }
    },
  };
}

export async function main(argv: readonly string[], env: Env): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (argv.length > 0) {
    stderrLog(`${NAME}: fatal: unexpected argument ${quote(argv[0]!)}: qgreyd takes no arguments (settings come from the environment; see qgreyd --help)`);
    return 100;
  }
  let running: Running;
  try {
    running = await start(serverConfig(env));
  } catch (err) {
    stderrLog(`${NAME}: fatal: ${err instanceof StartError ? err.message : `internal error: ${String(err)}`}`);
    return 111;
  }
  process.on('SIGTERM', () => running.stop('SIGTERM'));
  process.on('SIGINT', () => running.stop('SIGINT'));
  process.on('SIGHUP', () => running.reload());
  // svc -d sends SIGCONT after SIGTERM; a pipe to a gone multilog must not kill us
  process.on('SIGPIPE', () => {});
  return running.done;
}
