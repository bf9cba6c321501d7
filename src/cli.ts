// The admin CLI. This is the ONE place that turns errors into messages and exit codes:
// 0 ok, 100 permanent (bad input, bad usage), 111 temporary (try again later).
// Command files are thin and import their implementation lazily, so --help stays fast.

import { readFileSync } from 'node:fs';
import yargs from 'yargs';
import { commands } from './commands/index.js';
import { current } from './commands/define.js';
import { QgreyError, isTemporaryErrno, quote } from './core/errors.js';

export const PROG = 'qgrey';

/**
 * Our version, from our own package.json (dist/src/cli.js is two levels below it). yargs'
 * own guess walks up from its install directory and gives up on a directory name with a dot
 * in it (it takes `/opt/qgrey-0.1/` for a file name and starts from `/opt`): 'unknown'.
 */
function version(): string {
  try {
    const v = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown }).version;
    return typeof v === 'string' ? v : 'unknown';
  } catch {
    return 'unknown';
  }
}

class UsageError extends Error {
  /** the --help to try: 'qgrey whitelist add' */
  readonly where: string;
  constructor(message: string, where: string) {
    super(message);
    this.where = where;
  }
}

/** Levenshtein distance, for "did you mean". */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row.push(Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)));
    prev = row;
  }
  return prev[b.length]!;
}

function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Math.max(1, Math.floor(word.length / 3)) + 1;
  for (const c of candidates) {
    const d = distance(word, c);
    if (d < bestD) [best, bestD] = [c, d];
  }
  return best;
}

const flag = (name: string) => (name.length === 1 ? '-' : '--') + name;

/** yargs' usage messages, said the way our other errors are: what was typed, what was expected. */
export function usageMessage(msg: string, argv: readonly string[]): string {
  const text = msg.split('\n').map((l) => l.trim()).filter(Boolean).join(' ');
  const options = current.path.length ? current.options : ['help', 'version', 'h'];
  const typed = (name: string) => argv.find((a) => a === flag(name) || a.startsWith(flag(name) + '=') || a === '-' + name);
  // an unknown --flag may have taken a positional as its value: name the flag, not what is missing
  const stray = argv.find((a) => /^--?[a-zA-Z]/.test(a) && !options.includes(a.replace(/^-+(no-)?/, '').split('=')[0]!));
  if (stray !== undefined && /^(Not enough non-option arguments|Unknown arguments?:)/.test(text)) {
    const name = stray.replace(/^-+/, '').split('=')[0]!;
    const near = closest(name, options.filter((o) => o.length > 1));
    return `unknown option ${quote(stray.split('=')[0]!)}${near ? ` (did you mean --${near}?)` : ''}`;
  }
  let m = /^Unknown arguments?: (.+)$/.exec(text);
  if (m) {
    const names = m[1]!.split(', ');
    const opt = names.find((n) => typed(n) !== undefined);
    if (opt !== undefined) {
      const near = closest(opt, options.filter((o) => o.length > 1));
      return `unknown option ${quote(typed(opt)!.split('=')[0]!)}${near ? ` (did you mean --${near}?)` : ''}`;
    }
    return `unexpected argument ${quote(names[0]!)}: ${PROG} ${[...current.path.slice(0, -1), current.usage].join(' ') || '<command>'} takes no more`;
  }
  if (current.path.length === 0 && /a command is required/.test(text)) {
    const unknown = argv.find((a) => a.startsWith('-'));
    if (unknown !== undefined) {
      const name = unknown.replace(/^-+/, '').split('=')[0]!;
      const near = closest(name, ['help', 'version']);
      return `unknown option ${quote(unknown.split('=')[0]!)}${near ? ` (did you mean --${near}?)` : ''}`;
    }
    return `a command is required: ${commands.map((c) => String(c.command).split(' ')[0]).join(', ')}`;
  }
  m = /^Did you mean (.+)\?$/.exec(text);
  if (m) {
    const word = argv.filter((a) => !a.startsWith('-'))[current.path.length] ?? '';
    return `unknown command ${quote(word)} (did you mean ${m[1]}?)`;
  }
  if (/^Not enough non-option arguments/.test(text) && current.usage) {
    const missing = [...current.usage.matchAll(/<([^>]+)>/g)].map((x) => `<${x[1]}>`);
    return `missing ${missing.join(' ') || 'argument'}: usage: ${PROG} ${[...current.path.slice(0, -1), current.usage].join(' ')}`;
  }
  m = /^Invalid values?: Argument: ([^,]+), Given: (.+), Choices: (.+)$/.exec(text);
  if (m) {
    const given = m[2]!.replace(/^"(.*)"$/, '$1');
    return `unable to parse --${m[1]} ${quote(given)}: expected one of ${m[3]!.replace(/"/g, '')}`;
  }
  return text;
}

export function fatal(err: unknown): number {
  if (err instanceof QgreyError) {
    process.stderr.write(`${PROG}: fatal: ${err.message}\n`);
    return err.exitCode;
  }
  if (err instanceof UsageError) {
    process.stderr.write(`${PROG}: usage: ${err.message} (try '${err.where} --help')\n`);
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
  // and an array positional given no value and no default (so that --help shows none) is [undefined]
  const restore = (v: unknown): unknown => (v === STDIN ? '-' : Array.isArray(v) ? v.filter((x) => x !== undefined).map(restore) : v);
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
    .version(version())
    .wrap(Math.min(100, process.stdout.columns ?? 80))
    .fail((msg, err) => {
      if (err) throw err;
      throw new UsageError(usageMessage(msg ?? 'bad usage', argv), [PROG, ...current.path].join(' '));
    })
    .command(commands);
  // yargs renders the whole help text each time it has started a command's handler, to have it
  // at hand should the handler ask for it. qgrey's handlers never do (usage errors are one line,
  // --help is rendered by yargs before any handler), and that render was a third of a command's
  // start-up (bench/commands.bench.ts, the CLI's fixed cost): skip it.
  const usage = (cli as unknown as { getInternalMethods?: () => { getUsageInstance?: () => { cacheHelpMessage?: () => void } } }).getInternalMethods?.().getUsageInstance?.();
  if (usage && typeof usage.cacheHelpMessage === 'function') usage.cacheHelpMessage = () => {};
  try {
    await cli.parseAsync();
    code = typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    code = fatal(err);
  }
  return code;
}
