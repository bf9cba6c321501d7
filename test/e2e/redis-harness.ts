// Real Redis for the tests and the bench: redis-server (Debian redis-server) on free loopback
// ports, each in its own temporary directory, stopped and removed by stop(). Plain, with a
// password (requirepass) or an ACL user, with TLS (a throwaway CA and server certificate made
// with openssl when the test runs), and a Sentinel set (a master, a replica and three
// sentinels, `redis-server --sentinel`) for failover tests. No process outlives the test
// process: every child is also killed on exit.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const REDIS_SERVER = '/usr/bin/redis-server';

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of live) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((res, rej) => {
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => res());
  });
  const p = (s.address() as { port: number }).port;
  await new Promise<void>((res) => s.close(() => res()));
  return p;
}

const sleep = (ms: number) => new Promise((res) => setTimeout(res, ms));

export interface TlsFiles {
  readonly dir: string;
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

/** A CA and a server certificate for 127.0.0.1 and localhost, valid for a day. */
export function makeCerts(dir: string): TlsFiles {
  const o = (args: string[]) => {
    const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
    if (r.error) throw new Error(`unable to run openssl: ${r.error.message}`);
    if (r.status !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr.trim()}`);
  };
  o(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', '/CN=qgrey test CA']);
  o(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost']);
  writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  o(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '1', '-extfile', 'ext.cnf']);
  return { dir, ca: join(dir, 'ca.crt'), cert: join(dir, 'server.crt'), key: join(dir, 'server.key') };
}

export interface RedisOptions {
  /** requirepass (the default user's password) */
  readonly password?: string;
  /** an ACL user with every key and command, in addition to the default user */
  readonly user?: { readonly name: string; readonly password: string };
  /** serve TLS only (the plain port is off); the certificates are made here */
  readonly tls?: boolean;
  /** start as a replica of this port (on 127.0.0.1) */
  readonly replicaOf?: number;
  /** the master's password, for a replica */
  readonly masterAuth?: string;
  /** more `--name value` pairs */
  readonly extra?: readonly string[];
}

export interface RedisServer {
  readonly port: number;
  readonly pid: number;
  readonly dir: string;
  /** redis:// or rediss:// URL for QGREY_STORE, with the credentials given */
  readonly url: string;
  readonly tls: TlsFiles | null;
  /** the server's own log */
  log(): string;
  /** Send a signal without waiting (SIGKILL to simulate a crash, SIGSTOP to freeze it). */
  signal(sig: NodeJS.Signals): void;
  /** Stop it (SIGKILL: nothing to save) and remove its directory. */
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * One round trip in RESP on a fresh connection: the reply's first line ('+PONG',
 * '-NOAUTH ...'), or null when nothing answered within `ms`.
 */
export async function rawCommand(port: number, words: readonly string[], opts: { tls?: TlsFiles | null; ms?: number } = {}): Promise<string | null> {
  const body = `*${words.length}\r\n` + words.map((w) => `$${Buffer.byteLength(w)}\r\n${w}\r\n`).join('');
  return new Promise((res) => {
    let done = false;
    let buf = '';
    const finish = (v: string | null) => {
      if (done) return;
      done = true;
      clearTimeout(t);
      sock.destroy();
      res(v);
    };
    const sock: Socket = opts.tls ? tlsConnect({ host: '127.0.0.1', port, ca: readFileSync(opts.tls.ca), servername: 'localhost' }) : netConnect({ host: '127.0.0.1', port });
    const t = setTimeout(() => finish(null), opts.ms ?? 500);
    sock.on(opts.tls ? 'secureConnect' : 'connect', () => sock.write(body));
    sock.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      const i = buf.indexOf('\r\n');
      if (i === -1) return;
      const first = buf.slice(0, i);
      if (first[0] === '$') {
        const n = Number(first.slice(1));
        if (n < 0) return finish(first);
        if (buf.length >= i + 2 + n + 2) return finish(buf.slice(i + 2, i + 2 + n));
        return;
      }
      finish(first);
    });
    sock.on('error', () => finish(null));
    sock.on('close', () => finish(null));
  });
}

async function spawnRedis(dir: string, args: string[], ready: () => Promise<boolean>, what: string): Promise<ChildProcess> {
  const child = spawn(REDIS_SERVER, args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  live.add(child);
  child.once('exit', () => live.delete(child));
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  for (let i = 0; i < 200 && child.exitCode === null; i++) {
    if (await ready()) return child;
    await sleep(25);
  }
  const log = (() => {
    try {
      return readFileSync(join(dir, 'redis.log'), 'utf8').trim().split('\n').slice(-3).join(' | ');
    } catch {
      return '';
    }
  })();
  child.kill('SIGKILL');
  throw new Error(`unable to start ${what}: ${stderr.trim()} ${log}`.trim());
}

function killed(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((res) => child.once('exit', () => res()));
}

/** Start one redis-server. */
export async function startRedis(opts: RedisOptions = {}): Promise<RedisServer> {
  let lastErr: unknown;
  for (let attempt = 0; attempt < 5; attempt++) {
    const dir = mkdtempSync(join(tmpdir(), 'qgrey-redis-'));
    const port = await freePort();
    const tls = opts.tls ? makeCerts(dir) : null;
    const args = ['--bind', '127.0.0.1', '--dir', dir, '--logfile', join(dir, 'redis.log'), '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--protected-mode', 'no', '--repl-diskless-sync-delay', '0'];
    if (tls) args.push('--port', '0', '--tls-port', String(port), '--tls-cert-file', tls.cert, '--tls-key-file', tls.key, '--tls-ca-cert-file', tls.ca, '--tls-auth-clients', 'no');
    else args.push('--port', String(port));
    if (opts.password !== undefined) args.push('--requirepass', opts.password);
    if (opts.replicaOf !== undefined) args.push('--replicaof', '127.0.0.1', String(opts.replicaOf));
    if (opts.masterAuth !== undefined) args.push('--masterauth', opts.masterAuth);
    if (opts.user) {
      // an ACL file: the default user keeps requirepass (or none); ours gets everything
      const acl = join(dir, 'users.acl');
      const dflt = opts.password !== undefined ? `user default on >${opts.password} ~* &* +@all` : 'user default on nopass ~* &* +@all';
      writeFileSync(acl, `${dflt}\nuser ${opts.user.name} on >${opts.user.password} ~* &* +@all\n`);
      args.push('--aclfile', acl);
      const i = args.indexOf('--requirepass');
      if (i !== -1) args.splice(i, 2);
    }
    args.push(...(opts.extra ?? []));
    try {
      const child = await spawnRedis(
        dir,
        args,
        async () => {
          const r = await rawCommand(port, ['PING'], { tls, ms: 300 });
          return r !== null && !r.startsWith('-LOADING');
        },
        'redis-server',
      );
      const cred = opts.user ? `${encodeURIComponent(opts.user.name)}:${encodeURIComponent(opts.user.password)}@` : opts.password !== undefined ? `:${encodeURIComponent(opts.password)}@` : '';
      const stop = async () => {
        child.kill('SIGKILL');
        await killed(child);
        rmSync(dir, { recursive: true, force: true });
      };
      return {
        port,
        pid: child.pid!,
        dir,
        tls,
        url: `${tls ? 'rediss' : 'redis'}://${cred}${tls ? 'localhost' : '127.0.0.1'}:${port}`,
        log: () => readFileSync(join(dir, 'redis.log'), 'utf8'),
        signal: (sig) => child.kill(sig),
        stop,
        [Symbol.asyncDispose]: stop,
      };
    } catch (err) {
      lastErr = err;
      rmSync(dir, { recursive: true, force: true });
    }
  }
  throw lastErr;
}

export interface SentinelSet {
  readonly master: RedisServer;
  readonly replica: RedisServer;
  readonly sentinels: readonly { readonly port: number; readonly pid: number }[];
  readonly name: string;
  /** redis+sentinel://[:pass@]127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3/NAME */
  readonly url: string;
  /** The port the sentinels now name as master (asks one sentinel). */
  masterPort(): Promise<number | null>;
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * A master, one replica in sync with it, and three sentinels watching them (quorum 2,
 * down-after 1 s, so a killed master is replaced within a few seconds).
 */
export async function startSentinels(opts: { password?: string; name?: string } = {}): Promise<SentinelSet> {
  const name = opts.name ?? 'qgreymaster';
  const pw = opts.password;
  const master = await startRedis(pw !== undefined ? { password: pw, masterAuth: pw } : {});
  const sentinels: { port: number; pid: number; child: ChildProcess; dir: string }[] = [];
  let replica: RedisServer | null = null;
  try {
    replica = await startRedis({ replicaOf: master.port, ...(pw !== undefined ? { password: pw, masterAuth: pw } : {}) });
    // wait for the replica to be in sync (the master's diskless-sync delay is 0, so this is
    // the time of one transfer: allow a loaded machine 30 s)
    for (const until = Date.now() + 30_000; ; ) {
      const info = await rawCommandBulk(replica.port, pw !== undefined ? ['AUTH', pw] : null, ['INFO', 'replication']);
      if (info !== null && /master_link_status:up/.test(info)) break;
      if (Date.now() > until) throw new Error(`the replica never synced with the master: ${replica.log().trim().split('\n').slice(-2).join(' | ')}`);
      await sleep(25);
    }
    for (let s = 0; s < 3; s++) {
      const dir = mkdtempSync(join(tmpdir(), 'qgrey-sentinel-'));
      const port = await freePort();
      const conf = join(dir, 'sentinel.conf');
      const lines = [
        `port ${port}`,
        'bind 127.0.0.1',
        `dir ${dir}`,
        `logfile ${join(dir, 'redis.log')}`,
        'protected-mode no',
        `sentinel monitor ${name} 127.0.0.1 ${master.port} 2`,
        `sentinel down-after-milliseconds ${name} 1000`,
        `sentinel failover-timeout ${name} 10000`,
        `sentinel parallel-syncs ${name} 1`,
      ];
      if (pw !== undefined) lines.push(`sentinel auth-pass ${name} ${pw}`);
      writeFileSync(conf, lines.join('\n') + '\n');
      const child = await spawnRedis(
        dir,
        [conf, '--sentinel'],
        async () => (await rawCommand(port, ['PING'], { ms: 300 })) === '+PONG',
        'redis-server --sentinel',
      );
      sentinels.push({ port, pid: child.pid!, child, dir });
    }
    // every sentinel must know the replica and the other sentinels before a failover can work
    for (let i = 0; i < 400; i++) {
      let ok = true;
      for (const s of sentinels) {
        const r = await rawCommandBulk(s.port, null, ['SENTINEL', 'MASTER', name], true);
        if (r === null || !/num-slaves\n1\n/.test(r) || !/num-other-sentinels\n2\n/.test(r)) ok = false;
      }
      if (ok) break;
      if (i === 399) throw new Error('the sentinels never saw the replica and each other');
      await sleep(50);
    }
  } catch (err) {
    for (const s of sentinels) {
      s.child.kill('SIGKILL');
      await killed(s.child);
      rmSync(s.dir, { recursive: true, force: true });
    }
    await master.stop();
    await replica?.stop();
    throw err;
  }
  const rep: RedisServer = replica;
  const cred = pw !== undefined ? `:${encodeURIComponent(pw)}@` : '';
  const stop = async () => {
    for (const s of sentinels) {
      s.child.kill('SIGKILL');
      await killed(s.child);
      rmSync(s.dir, { recursive: true, force: true });
    }
    await master.stop();
    await rep.stop();
  };
  return {
    master,
    replica: rep,
    name,
    sentinels: sentinels.map((s) => ({ port: s.port, pid: s.pid })),
    url: `redis+sentinel://${cred}${sentinels.map((s) => `127.0.0.1:${s.port}`).join(',')}/${name}`,
    masterPort: async () => {
      for (const s of sentinels) {
        if (s.child.exitCode !== null) continue;
        const r = await rawCommandBulk(s.port, null, ['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name], true);
        if (r !== null) {
          const p = Number(r.split('\n')[1]);
          if (Number.isInteger(p)) return p;
        }
      }
      return null;
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

/**
 * A command whose reply is a bulk string or an array of bulk strings (INFO, SENTINEL
 * MASTER), after an optional AUTH: the strings joined with newlines, or null.
 */
export async function rawCommandBulk(port: number, auth: readonly string[] | null, words: readonly string[], array = false): Promise<string | null> {
  const enc = (ws: readonly string[]) => `*${ws.length}\r\n` + ws.map((w) => `$${Buffer.byteLength(w)}\r\n${w}\r\n`).join('');
  return new Promise((res) => {
    let done = false;
    let buf = Buffer.alloc(0);
    const sock = netConnect({ host: '127.0.0.1', port });
    const finish = (v: string | null) => {
      if (done) return;
      done = true;
      clearTimeout(t);
      sock.destroy();
      res(v);
    };
    const t = setTimeout(() => finish(null), 1000);
    sock.on('connect', () => sock.write((auth ? enc(auth) : '') + enc(words)));
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      let s = buf.toString('latin1');
      if (auth) {
        const i = s.indexOf('\r\n');
        if (i === -1) return;
        if (s[0] === '-') return finish(null);
        s = s.slice(i + 2);
      }
      const parsed = parseReply(s, array);
      if (parsed !== undefined) finish(parsed);
    });
    sock.on('error', () => finish(null));
  });
}

/** A bulk string, or a flat array of bulk strings, from RESP text; undefined when incomplete. */
function parseReply(s: string, array: boolean): string | null | undefined {
  const bulk = (at: number): [string | null, number] | undefined => {
    const i = s.indexOf('\r\n', at);
    if (i === -1) return undefined;
    const head = s.slice(at, i);
    if (head[0] === '-') return [null, i + 2];
    if (head[0] === ':' || head[0] === '+') return [head.slice(1), i + 2];
    const n = Number(head.slice(1));
    if (n < 0) return [null, i + 2];
    if (s.length < i + 2 + n + 2) return undefined;
    return [s.slice(i + 2, i + 2 + n), i + 2 + n + 2];
  };
  if (!array) {
    const b = bulk(0);
    return b === undefined ? undefined : b[0];
  }
  const i = s.indexOf('\r\n');
  if (i === -1) return undefined;
  if (s[0] === '-') return null;
  const n = Number(s.slice(1, i));
  if (n < 0) return null;
  const out: string[] = [];
  let at = i + 2;
  for (let k = 0; k < n; k++) {
    const b = bulk(at);
    if (b === undefined) return undefined;
    out.push(b[0] ?? '');
    at = b[1];
  }
  return out.join('\n');
}

/** Kill a sentinel-set member (the master, for a failover) and wait until it is gone. */
export async function crash(server: RedisServer): Promise<void> {
  server.signal('SIGKILL');
  for (let i = 0; i < 100; i++) {
    if ((await rawCommand(server.port, ['PING'], { tls: server.tls, ms: 100 })) === null) return;
    await sleep(20);
  }
}
