// qgrey-spp's per-process program: bin/qgrey-spp runs it for one RCPT when qgreyd is not set
// up or does not answer. stdin is /dev/null (a qmail-spp plugin never reads it), fd 1 is
// qmail-spp's pipe (the command, one line, or nothing), fd 2 the log (one line), argv[2] the
// PID to log (qmail-smtpd's, as bin/qgrey-spp gives it). It exits 0 whatever happens (a
// plugin must never exit 120); what breaks goes through QGREY_FAIL.
//
// Imports node: builtins, src/core, src/store and src/wrapper/text only (no npm package).

import { processEnv, type Env } from '../core/config.js';
import { wallClockMs, type ClockMs } from '../core/clock.js';
import { writeAll } from '../wrapper/text.js';
import { readSppConfig, runRcptPooled, sppLogLine, SPP_PROG } from './rcpt.js';

async function main(argv: readonly string[], env: Env, clock: ClockMs): Promise<number> {
  const pid = /^[0-9]+$/.test(argv[0] ?? '') ? Number(argv[0]) : process.ppid;
  const cfg = readSppConfig(env);
  // the shared Redis store: its own module, loaded only then (it loads the Redis client)
  const r = cfg.store !== '' ? await (await import('./redis-rcpt.js')).runRcptRedisProcess(cfg, clock(), env) : await runRcptPooled(cfg, clock(), env);
  const line = sppLogLine(cfg, r);
  try {
    if (line !== null) writeAll(2, `${SPP_PROG}[${pid}]: ${line}\n`);
  } catch {
    /* no log: nothing better to do */
  }
  try {
    if (r.command !== null) writeAll(1, r.command + '\n');
  } catch {
    return 1;
  }
  return 0;
}

void main(process.argv.slice(2), processEnv(), wallClockMs).then(
  (code) => (process.exitCode = code),
  () => (process.exitCode = 0),
);
