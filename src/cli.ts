// The admin CLI. This is the ONE place that turns errors into messages and exit codes:
// 0 ok, 100 permanent (bad input, bad usage), 111 temporary (try again later).
// Command files are thin and import their implementation lazily, so --help stays fast.

import yargs from 'yargs';
import { commands } from './commands/index.js';
import { QgreyError, isTemporaryErrno } from './core/errors.js';

export const PROG = 'qgrey';

class UsageError extends Error {}

export function fatal(err: unknown): number {
  if (err instanceof QgreyError) {
    process.stderr.write(`${PROG}: fatal: ${err.message}\n`);
    return err.exitCode;
  }
  if (err instanceof UsageError) {
    const msg = err.message.split('\n').map((l) => l.trim()).filter(Boolean).join(' ');
    process.stderr.write(`${PROG}: usage: ${msg} (try '${PROG} --help')\n`);
    return 100;
  }
  const e = err as { code?: string; message?: string; stack?: string };
  if (isTemporaryErrno(e)) {
    process.stderr.write(`${PROG}: fatal: ${e.message ?? String(err)}\n`);
    return 111;
  }
  // a bug of ours: say so, and treat it as temporary so cron retries and nothing is bounced
  process.stderr.write(`${PROG}: fatal: internal error: ${e?.stack ?? String(err)}\n`);
  return 111;
}

export async function main(argv: string[]): Promise<number> {
  // a closed stdout (`qgrey logs | head`) ends the program quietly
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
  let code = 0;
  // yargs drops a lone '-' (stdin): carry it through the parser under another name
  const STDIN = '\0qgrey-stdin';
  const restore = (v: unknown): unknown => (v === STDIN ? '-' : Array.isArray(v) ? v.map(restore) : v);
  const cli = yargs(argv.map((a) => (a === '-' ? STDIN : a)))
    .middleware((args) => {
      for (const k of Object.keys(args)) args[k] = restore(args[k]);
    }, true)
    .scriptName(PROG)
    .usage('$0 <command> [options]\n\nKeep a jgreylist greylist healthy from qmail-smtpd logs.')
    .strict()
    .demandCommand(1, 'a command is required')
    .recommendCommands()
    .help()
    .alias('h', 'help')
    .version()
    .wrap(Math.min(100, process.stdout.columns ?? 80))
    .fail((msg, err) => {
      if (err) throw err;
      throw new UsageError(msg ?? 'bad usage');
    })
    .command(commands);
  try {
    await cli.parseAsync();
    code = typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    code = fatal(err);
  }
  return code;
}
