// A qmail-spp stand-in for the plugin tests: runs bin/qgrey-spp the way qmail-spp runs a
// plugin (its documentation, "How does it work?" and "plugin commands"): the SMTP session in
// the environment (SMTPHELOHOST, SMTPMAILFROM, SMTPRCPTTO, SMTPRCPTCOUNT, SMTPRCPTCOUNTALL,
// SMTPRCPTHOSTSOK, SMTPAUTHUSER, tcpserver's TCPREMOTEIP... and what tcprules set), nothing on
// stdin, the commands read from stdout one per line, stderr taken as the log. It checks the
// protocol as qmail-spp would need it: every command ends with LF, is one of the documented
// commands, and A, N, O, E, R and D come last; the exit status is never 120.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { ROOT } from '../helpers/util.js';
import { formatTriplet, parseTriplet } from '../../src/core/triplet.js';
import { serverPath } from './wrapper-harness.js';

export const QGREY_SPP = join(ROOT, 'bin/qgrey-spp');

export interface Command {
  /** A N O E LM LR LD R D S U H C P */
  readonly cmd: string;
  readonly arg: string;
}

export interface PluginRun {
  readonly commands: Command[];
  /** the log lines (stderr) */
  readonly log: string[];
  readonly code: number | null;
}

const COMMAND = /^(A|N|O|D|LM|LR|LD|E|R|S|U|H|C|P)(.*)$/s;
const FINAL = new Set(['A', 'N', 'O', 'E', 'R', 'D']);

/** Parse a plugin's stdout as qmail-spp reads it. Throws on what qmail-spp could not use. */
export function parseCommands(out: string): Command[] {
  if (out === '') return [];
  assert.ok(out.endsWith('\n'), `each plugin command must end with a new line: ${JSON.stringify(out)}`);
  const cmds = out
    .slice(0, -1)
    .split('\n')
    .map((line) => {
      const m = COMMAND.exec(line);
      assert.ok(m, `not a qmail-spp command: ${JSON.stringify(line)}`);
      return { cmd: m[1]!, arg: m[2]! };
    });
  cmds.forEach((c, i) => {
    if (FINAL.has(c.cmd)) assert.equal(i, cmds.length - 1, `${c.cmd} must be the last command: ${JSON.stringify(out)}`);
    if (c.cmd === 'E' || c.cmd === 'R' || c.cmd.startsWith('L')) assert.match(c.arg, /^[45][0-9][0-9] [\x20-\x7e]+$/, 'an error carries its own SMTP code, printable text');
  });
  return cmds;
}

export interface Session {
  readonly ip: string;
  readonly from: string;
  readonly to: string;
  readonly helo?: string;
  readonly rcptCount?: number;
  /** more variables (GREYLISTING, RELAYCLIENT, SMTPAUTHUSER... as tcprules or qmail-smtpd set them) */
  readonly env?: Record<string, string | undefined>;
  /** 'pipe-open': stdin is a pipe that is never written nor closed (a plugin reading it would hang) */
  readonly stdin?: 'null' | 'pipe-open';
}

/** Run the plugin once for one RCPT. `base` is the plugin's settings (QGREY_RCPT_DIR, QGREY_SECRET...). */
export function runPlugin(s: Session, base: Record<string, string>): Promise<PluginRun> {
  const env: NodeJS.ProcessEnv = {
    PATH: serverPath(),
    PROTO: 'TCP',
    TCPREMOTEIP: s.ip,
    TCPREMOTEPORT: '40000',
    TCPLOCALIP: '127.0.0.1',
    TCPLOCALPORT: '25',
    GREYLISTING: '',
    SMTPHELOHOST: s.helo ?? 'client.example',
    SMTPMAILFROM: s.from,
    SMTPRCPTTO: s.to,
    SMTPRCPTCOUNT: String((s.rcptCount ?? 1) - 1),
    SMTPRCPTCOUNTALL: String(s.rcptCount ?? 1),
    SMTPRCPTHOSTSOK: '1',
    ...base,
  };
  for (const [k, v] of Object.entries(s.env ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  const p = spawn(QGREY_SPP, [], { env, stdio: [s.stdin === 'pipe-open' ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  p.stdout!.setEncoding('latin1').on('data', (d: string) => (out += d));
  p.stderr!.setEncoding('latin1').on('data', (d: string) => (err += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new Error(`the plugin did not exit within 60 s (reading stdin?); stderr: ${err}`));
    }, 60000);
    p.once('error', reject);
    p.once('close', (code) => {
      clearTimeout(timer);
      p.stdin?.destroy();
      try {
        assert.notEqual(code, 120, 'a qmail-spp plugin must not exit 120');
        resolve({ commands: parseCommands(out), log: err.split('\n').filter((l) => l !== ''), code });
      } catch (e) {
        reject(e instanceof Error ? e : new Error(String(e)));
      }
    });
  });
}

/** The one-letter summary of a run: '' (nothing: on to the next plugin), 'E451', 'E553'. */
export function verdictOf(r: PluginRun): string {
  return r.commands.map((c) => (c.cmd === 'E' ? 'E' + c.arg.slice(0, 3) : c.cmd)).join(',');
}

/** Let `seconds` pass for every triplet of a tree store: every time in it moved back. */
export function ageTree(dir: string, seconds: number): number {
  let n = 0;
  for (const hh of readdirSync(dir)) {
    if (!/^[0-9a-f]{2}$/.test(hh)) continue;
    for (const id of readdirSync(join(dir, hh))) {
      if (id.startsWith('.')) continue;
      const f = join(dir, hh, id);
      const t = parseTriplet(readFileSync(f, 'latin1'));
      assert.ok(t !== null, f);
      writeFileSync(f, formatTriplet({ ...t, first: t.first - seconds, last: t.last - seconds, blockUntil: t.blockUntil - seconds, expires: t.expires - seconds }));
      n++;
    }
  }
  return n;
}
