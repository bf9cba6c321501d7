// The qgreylist end-to-end harness: the real tcpserver (ucspi-tcp) with bin/qgreylist in front
// of fixtures/qmail-smtpd-standin, and a scripted SMTP client that connects from any
// 127.x.y.z source address. Used by wrapper*.test.ts only.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { FIXTURES, QGREYLIST, ROOT } from '../helpers/util.js';

export const STANDIN = join(FIXTURES, 'qmail-smtpd-standin');

/** PATH for the servers: the Node 22 that runs the tests first, then the system (tcpserver, rblsmtpd). */
export function serverPath(): string {
  return [dirname(process.execPath), join(ROOT, 'node_modules/.bin'), '/usr/local/bin', '/usr/bin', '/bin'].join(':');
}

/** Build a tcprules cdb from rule lines with the real tcprules. */
export function makeRules(dir: string, lines: readonly string[]): string {
  const cdb = join(dir, 'rules.cdb');
  const r = spawnSync('tcprules', [cdb, cdb + '.tmp'], { input: lines.join('\n') + '\n', encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tcprules failed: ${r.stderr}`);
  return cdb;
}

export interface ServerOptions {
  /** the whole environment of tcpserver (PATH is added when missing) */
  readonly env: Record<string, string>;
  readonly rules?: string;
  /** the program chain after tcpserver's options; default: qgreylist standin */
  readonly argv?: readonly string[];
  readonly limit?: number;
}

export class Server {
  readonly port: number;
  readonly pid: number;
  private readonly proc: ChildProcess;
  private err = '';
  private exited: Promise<void>;

  private constructor(proc: ChildProcess, port: number) {
    this.proc = proc;
    this.port = port;
    this.pid = proc.pid!;
    proc.stderr!.setEncoding('latin1');
    proc.stderr!.on('data', (s: string) => (this.err += s));
    this.exited = new Promise((res) => proc.once('exit', () => res()));
  }

  /** tcpserver -1 prints the port it bound (port 0: the kernel picks a free one). */
  static start(o: ServerOptions): Promise<Server> {
    // -b: the default listen backlog (20) overflows when 50 clients connect at once; the kernel
    // then drops the handshake's last ACK and a client waits for a greeting that never comes
    const args = ['-1', '-v', '-R', '-H', '-l', '0', '-c', String(o.limit ?? 60), '-b', '128'];
    if (o.rules !== undefined) args.push('-x', o.rules);
    args.push('127.0.0.1', '0', ...(o.argv ?? [QGREYLIST, STANDIN]));
    const env = { PATH: serverPath(), ...o.env };
    const proc = spawn('tcpserver', args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    return new Promise((resolve, reject) => {
      let out = '';
      proc.once('error', reject);
      proc.once('exit', (c) => reject(new Error(`tcpserver exited with ${c}`)));
      proc.stdout!.setEncoding('latin1');
      proc.stdout!.on('data', (s: string) => {
        out += s;
        const m = /^([0-9]+)\n/.exec(out);
        if (m) {
          proc.removeAllListeners('exit');
          resolve(new Server(proc, Number(m[1])));
        }
      });
    });
  }

  /** everything tcpserver and the programs it ran wrote to stderr so far */
  get log(): string {
    return this.err;
  }

  logLines(): string[] {
    return this.err.split('\n').filter((l) => l !== '');
  }

  /** The pid tcpserver gave the connection from `ip` (the n-th such, 0-based), once it has logged it. */
  async pidOf(ip: string, n = 0, timeoutMs = 10000): Promise<number> {
    const re = new RegExp(`^tcpserver: pid ([0-9]+) from ${ip.replace(/\./g, '\\.')}$`, 'gm');
    const t0 = Date.now();
    for (;;) {
      const m = [...this.err.matchAll(re)][n];
      if (m) return Number(m[1]);
      if (Date.now() - t0 > timeoutMs) throw new Error(`no pid line for ${ip}; log:\n${this.err}`);
      await sleep(10);
    }
  }

  /** Wait until tcpserver logs the end of connection `pid`; returns its wait status. */
  async ended(pid: number, timeoutMs = 10000): Promise<number> {
    const re = new RegExp(`^tcpserver: end ${pid} status ([0-9]+)$`, 'm');
    const t0 = Date.now();
    for (;;) {
      const m = re.exec(this.err);
      if (m) return Number(m[1]);
      if (Date.now() - t0 > timeoutMs) throw new Error(`no end line for pid ${pid}; log:\n${this.err}`);
      await sleep(10);
    }
  }

  /** Lines of the log that belong to connection `pid`: `prog[pid]: …`, and those ending in `pid=PID`. */
  linesOf(pid: number): string[] {
    return this.logLines().filter((l) => l.includes(`[${pid}]: `) || l.endsWith(` pid=${pid}`));
  }

  /** The processes tcpserver is running right now, by command name. */
  children(): { pid: number; comm: string }[] {
    return childrenOf(this.pid);
  }

  async stop(): Promise<void> {
    this.proc.kill('SIGTERM');
    await this.exited;
  }
}

export function childrenOf(ppid: number): { pid: number; comm: string }[] {
  const out: { pid: number; comm: string }[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(d)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${d}/stat`, 'latin1');
    } catch {
      continue;
    }
    const close = stat.lastIndexOf(')');
    const comm = stat.slice(stat.indexOf('(') + 1, close);
    const ppidOf = Number(stat.slice(close + 2).split(' ')[1]);
    if (ppidOf === ppid) out.push({ pid: Number(d), comm });
  }
  return out;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

// ---------------------------------------------------------------------------------------
// the scripted client

export class Client {
  private buf = '';
  private closed = false;
  private waiter: (() => void) | null = null;
  readonly transcript: string[] = [];

  private constructor(private readonly sock: import('node:net').Socket) {
    sock.setEncoding('latin1');
    sock.on('data', (s: string) => {
      this.buf += s;
      this.wake();
    });
    sock.on('close', () => {
      this.closed = true;
      this.wake();
    });
    sock.on('error', () => {
      this.closed = true;
      this.wake();
    });
  }

  private wake() {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  static open(port: number, from: string): Promise<Client> {
    return new Promise((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port, localAddress: from });
      s.once('connect', () => resolve(new Client(s)));
      s.once('error', reject);
    });
  }

  /** The next whole reply (all its lines), or null when the server closed the connection first. */
  async reply(timeoutMs = 10000): Promise<string | null> {
    const t0 = Date.now();
    for (;;) {
      const m = /^(?:[0-9]{3}-[^\n]*\n)*[0-9]{3}(?: [^\n]*)?\r?\n/.exec(this.buf);
      if (m) {
        this.buf = this.buf.slice(m[0].length);
        const r = m[0].replace(/\r\n/g, '\n').trimEnd();
        this.transcript.push('S: ' + r);
        return r;
      }
      if (this.closed) return null;
      if (Date.now() - t0 > timeoutMs) throw new Error(`no reply in ${timeoutMs} ms; so far: ${JSON.stringify(this.transcript)} + ${JSON.stringify(this.buf)}`);
      await new Promise<void>((r) => {
        this.waiter = r;
        setTimeout(r, 200);
      });
    }
  }

  send(line: string): void {
    this.transcript.push('C: ' + line);
    this.sock.write(line + '\r\n', 'latin1');
  }

  /** Send a command and wait for its reply. */
  async cmd(line: string): Promise<string | null> {
    this.send(line);
    return this.reply();
  }

  /** Wait until the server closes the connection; the time it took. */
  async closedByServer(timeoutMs = 10000): Promise<number> {
    const t0 = Date.now();
    while (!this.closed) {
      if (Date.now() - t0 > timeoutMs) throw new Error('server did not close the connection');
      await new Promise<void>((r) => {
        this.waiter = r;
        setTimeout(r, 100);
      });
    }
    return Date.now() - t0;
  }

  /** Hang up without QUIT. */
  hangUp(): void {
    this.sock.end();
  }

  destroy(): void {
    this.sock.destroy();
  }

  get isClosed(): boolean {
    return this.closed;
  }
}

/** One whole session: greeting, HELO, MAIL, RCPT, and DATA if RCPT was accepted, then QUIT. */
export async function session(
  port: number,
  from: string,
  timeoutMs = 10000,
): Promise<{ greeting: string | null; rcpt: string | null; data: string | null; end: string | null }> {
  const c = await Client.open(port, from);
  const cmd = (line: string) => {
    c.send(line);
    return c.reply(timeoutMs);
  };
  try {
    const greeting = await c.reply(timeoutMs);
    await cmd('HELO client.example');
    await cmd('MAIL FROM:<a@sender.example>');
    const rcpt = await cmd('RCPT TO:<bob@example.org>');
    let data: string | null = null;
    if (rcpt?.startsWith('250')) {
      const go = await cmd('DATA');
      if (go?.startsWith('354')) data = await cmd('Subject: test\r\n\r\nhello\r\n.');
    }
    const end = await cmd('QUIT');
    await c.closedByServer(timeoutMs);
    return { greeting, rcpt, data, end };
  } finally {
    c.destroy();
  }
}

/** What the stand-in recorded for connection `pid`, or null when it never ran. */
export function standinRecord(dir: string, pid: number): { argv: string[]; env: Map<string, string>; flags: number[]; stdin: string } | null {
  const p = (ext: string) => join(dir, `${pid}.${ext}`);
  if (!existsSync(p('argv'))) return null;
  const env = new Map<string, string>();
  for (const l of readFileSync(p('env'), 'latin1').split('\n')) {
    const i = l.indexOf('=');
    if (i > 0) env.set(l.slice(0, i), l.slice(i + 1));
  }
  const flags = [...readFileSync(p('flags'), 'latin1').matchAll(/^flags:\s+([0-7]+)$/gm)].map((m) => parseInt(m[1]!, 8));
  return { argv: readFileSync(p('argv'), 'latin1').split('\n').slice(0, -1), env, flags, stdin: readFileSync(p('stdin'), 'latin1') };
}

export const O_NONBLOCK = 0o4000;
