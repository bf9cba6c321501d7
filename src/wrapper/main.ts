// qgreylist's decision program. bin/qgreylist (a /bin/sh trampoline) runs it once per SMTP
// connection and acts on the verdict it prints, so that no Node process stays alive for a
// connection that passes or is greylisted:
//
//   fd 0    /dev/null (the SMTP socket is kept out of Node's reach)
//   fd 1    the verdict, read by the trampoline:
//             exec                                  run the next program (qmail-smtpd)
//             rbl NL TIMEOUT NL PATH NL RBLSMTPD    exec rblsmtpd -t TIMEOUT with RBLSMTPD set
//             dialogue                              we held the fake dialogue ourselves
//   fd 2    the log (one line per connection, jgreylist's shapes)
//   fd 5/6  the SMTP socket (client -> us / us -> client), used only for our own dialogue
//   argv[2] the PID to log: the trampoline's, which qmail-smtpd or rblsmtpd will keep
//
// Imports node: builtins, src/core and src/store only (no npm package, no CLI code).

import { processEnv, type Env } from '../core/config.js';
import { wallClockMs, type ClockMs } from '../core/clock.js';
import type { Decision } from '../core/decision.js';
import { parseIp } from '../core/ip.js';
import { readConfig, type WrapperConfig } from './config.js';
import { findRblsmtpd, logLine, PROG, run } from './connection.js';
import { logAddress, writeAll } from './text.js';

const SOCKET_IN = 5;
const SOCKET_OUT = 6;

function logger(cfg: WrapperConfig, pid: number): (line: string) => void {
  const prefix = cfg.logPid ? `${PROG}[${pid}]: ` : `${PROG}: `;
  return (line) => {
    try {
      writeAll(2, prefix + line + '\n');
    } catch {
      /* no log: nothing better to do */
    }
  };
}

export async function main(argv: readonly string[], env: Env, clock: ClockMs): Promise<number> {
  const pid = /^[0-9]+$/.test(argv[0] ?? '') ? Number(argv[0]) : process.pid;
  const cfg = readConfig(env);
  const log = logger(cfg, pid);
  // the shared Redis store: its own module, and the Redis client, only when selected
  const r = cfg.store === '' ? run(cfg, clock()) : await (await import('./redis-path.js')).runOnRedis(cfg, clock());
  const line = logLine(cfg, r);
  if (line !== null) log(line);
  const who = logAddress(cfg.remoteIp, cfg.remoteIp !== '' && parseIp(cfg.remoteIp) !== null);

  const v = r.verdict;
  if (v.kind === 'pass') return verdict('exec\n');

  // a rejected client: rblsmtpd holds the dialogue in C unless we need our own
  const ours = cfg.dialogue === 'node' || (cfg.dialogue === 'auto' && (cfg.limit !== 0 || cfg.logSmtp));
  const rbl = ours ? null : findRblsmtpd(env);
  if (rbl !== null && !rbl.includes('\n')) {
    return verdict(`rbl\n${cfg.timeout}\n${rbl}\n${v.permanent ? '-' : ''}${v.text}\n`);
  }
  if (verdict('dialogue\n') !== 0) return 111;
  const { Dialogue, converse } = await import('./dialogue.js');
  const ending = await converse(new Dialogue(`${v.code} ${v.text}`, cfg.limit), {
    inFd: SOCKET_IN,
    outFd: SOCKET_OUT,
    timeoutMs: cfg.timeout * 1000,
    trace: cfg.logSmtp ? log : null,
  });
  const hangup: Decision | null = ending === 'limit' ? 'HANGUP too many RCPT commands' : ending === 'closed' ? 'HANGUP client closed' : null;
  if (cfg.log && hangup !== null) log(`${who}: ${hangup}`);
  return 0;
}

function verdict(text: string): number {
  try {
    writeAll(1, text);
    return 0;
  } catch (err) {
    try {
      writeAll(2, `${PROG}: fatal: unable to write the verdict: ${(err as Error).message}\n`);
    } catch {
      /* nothing left */
    }
    return 111;
  }
}

// our own dialogue may leave a read pending in the thread pool: leave without waiting for it
// (no top-level await: this module is also bundled as CommonJS, scripts/bundle.sh)
void main(process.argv.slice(2), processEnv(), wallClockMs).then((code) => process.exit(code));
