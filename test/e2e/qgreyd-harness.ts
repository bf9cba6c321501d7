// qgreyd for the end-to-end tests: the real bin/qgreyd on a free loopback port, with its own
// secret file, and what it logged. The wrapper tests run with it (qgreyd-wrapper.test.ts,
// qgreyd-load.test.ts import them with QGREY_TEST_QGREYD=1) and without it; both must agree.
import { spawn, type ChildProcess } from 'node:child_process';
import { chownSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { ROOT } from '../helpers/util.js';
import { serverPath } from './wrapper-harness.js';

export const QGREYD = join(ROOT, 'bin/qgreyd');
export const SECRET = 'test-secret-0123456789abcdef';

export class Qgreyd {
  readonly port: number;
  readonly secretFile: string;
  private err = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(
    readonly proc: ChildProcess,
    port: number,
    secretFile: string,
    err: string,
  ) {
    this.port = port;
    this.secretFile = secretFile;
    this.err = err;
    proc.stderr!.on('data', (s: string) => (this.err += s));
    this.exited = new Promise((res) => {
      if (proc.exitCode !== null || proc.signalCode !== null) res({ code: proc.exitCode, signal: proc.signalCode });
      else proc.once('exit', (code, signal) => res({ code, signal }));
    });
  }

  /** Start qgreyd with `env` (JGREYLIST_DIR, QGREY_LISTDIR...) and a secret file in `dir`; resolves once it listens. */
  static start(dir: string, env: Record<string, string>, as?: { uid: number; gid: number }): Promise<Qgreyd> {
    const secretFile = join(dir, 'qgreyd.secret');
    writeFileSync(secretFile, SECRET + '\n', { mode: 0o400 });
    // as another user (root starting it under setpriv, as setuidgid does in a run file): the
    // secret is that user's, as the README's set-up makes it
    if (as) chownSync(secretFile, as.uid, as.gid);
    // generous request timeout: the tests share a loaded machine (see clientEnv)
    const full: NodeJS.ProcessEnv = { PATH: serverPath(), QGREY_SECRET: secretFile, QGREYD_LISTEN: '127.0.0.1:0', QGREYD_TIMEOUT: '30', ...env };
    const argv = as ? ['setpriv', '--reuid', String(as.uid), '--regid', String(as.gid), '--clear-groups', process.execPath, QGREYD] : [process.execPath, QGREYD];
    const proc = spawn(argv[0]!, argv.slice(1), { env: full, stdio: ['ignore', 'ignore', 'pipe'], ...(as ? { cwd: '/' } : {}) });
    proc.stderr!.setEncoding('latin1');
    return new Promise((resolve, reject) => {
      let err = '';
      const onData = (s: string) => {
        err += s;
        const m = /^qgreyd: listening on 127\.0\.0\.1:([0-9]+): /m.exec(err);
        if (m) {
          proc.stderr!.off('data', onData);
          proc.removeAllListeners('exit');
          resolve(new Qgreyd(proc, Number(m[1]), secretFile, err));
        }
      };
      proc.stderr!.on('data', onData);
      proc.once('error', reject);
      proc.once('exit', (c) => reject(new Error(`qgreyd exited with ${c}: ${err}`)));
    });
  }

  /**
   * What the client needs in tcpserver's environment to ask this qgreyd. The wait for the
   * verdict is long: on a machine loaded by other test runs a slow reply would make the client
   * decide again (a first-time client then reads the too-soon text), which is not what these
   * tests are about; qgreyd.test.ts tests the timeout itself.
   */
  get clientEnv(): Record<string, string> {
    return { QGREY_SECRET: this.secretFile, QGREY_SERVER: `127.0.0.1:${this.port}`, QGREY_SERVER_TIMEOUT: '30' };
  }

  get log(): string {
    return this.err;
  }

  logLines(): string[] {
    return this.err.split('\n').filter((l) => l !== '');
  }

  /** the decision lines qgreyd logged (`qgreylist[PID]: IP: EVENT`) */
  decisionLines(): string[] {
    return this.logLines().filter((l) => /^qgreylist(\[[0-9]+\])?: /.test(l));
  }

  /** Wait until qgreyd has logged `what` (its log arrives asynchronously). */
  async waitFor(what: string | RegExp, timeoutMs = 5000): Promise<void> {
    const t0 = Date.now();
    while (!(typeof what === 'string' ? this.err.includes(what) : what.test(this.err))) {
      if (Date.now() - t0 > timeoutMs) throw new Error(`qgreyd did not log ${String(what)}; its log:\n${this.err}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** SIGTERM, then the exit status. */
  async stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGTERM');
    return this.exited;
  }
}

/** Are the wrapper tests to run with qgreyd up (set by the qgreyd-*.test.ts files that import them)? */
export const WITH_QGREYD = process.env.QGREY_TEST_QGREYD === '1';

/**
 * The decider for a wrapper test file: qgreyd when WITH_QGREYD, else nothing (the per-process
 * program, as on a machine without qgreyd: no secret file).
 */
export class Decider {
  qgreyd: Qgreyd | null = null;

  async start(dir: string, env: Record<string, string>): Promise<void> {
    if (WITH_QGREYD) this.qgreyd = await Qgreyd.start(dir, env);
  }

  /** tcpserver's extra environment */
  get env(): Record<string, string> {
    return this.qgreyd?.clientEnv ?? {};
  }

  async stop(): Promise<void> {
    if (this.qgreyd !== null) {
      const r = await this.qgreyd.stop();
      assert.deepEqual(r, { code: 0, signal: null }, this.qgreyd.log);
    }
  }

  /**
   * After the sessions: no connection fell back (qgreyd was up all along, or was never asked),
   * and with qgreyd every decision it logged reached the connection's log as the same line,
   * at least `minDecided` of them.
   */
  verify(connectionLog: string, minDecided: number): void {
    const fell = connectionLog.split('\n').filter((l) => l.includes(': qgreyd: fallback: '));
    assert.deepEqual(fell, []);
    if (this.qgreyd === null) return;
    const lines = new Set(connectionLog.split('\n'));
    const decided = this.qgreyd.decisionLines();
    assert.deepEqual(
      decided.filter((l) => !lines.has(l)),
      [],
      'every line qgreyd logged is in the connection log',
    );
    assert.ok(decided.length >= minDecided, `qgreyd decided ${decided.length} connections, expected at least ${minDecided}:\n${this.qgreyd.log}`);
    assert.deepEqual(
      this.qgreyd.logLines().filter((l) => /^qgreyd: (refused|malformed|busy|internal|warning)/.test(l)),
      [],
    );
  }
}
