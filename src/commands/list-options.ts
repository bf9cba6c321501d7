// Options and the handler shared by `qgrey whitelist` and `qgrey blacklist` (not a command).
import type { Argv } from 'yargs';
import type { ListName } from '../store/lists.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Y = Argv<any>;

export const listdir = (y: Y, describe = 'directory of the list files (default: $QGREY_LISTDIR, else /var/qmail/control/qgrey)') =>
  y.option('listdir', { type: 'string', describe });

export const common = (y: Y) =>
  listdir(y)
    .option('dry-run', { alias: 'n', type: 'boolean', default: false, describe: 'show what would change, write nothing' })
    .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'nothing on success (for cron); warnings and errors still go to stderr' });

export const until = (y: Y) => y.option('until', { type: 'string', describe: 'expiry: never (default), a duration from now (30d, 8w), a date, a local time, or ISO 8601' });

export type ListVerb = 'add' | 'remove' | 'list' | 'load' | 'lookup';

/** The handler of `qgrey LIST VERB`: the work is in actions/lists.ts, imported when run. */
export const listHandler = (list: ListName, what: ListVerb) => async (argv: Record<string, unknown>) => {
  const m = await import('../actions/lists.js');
  const f = { add: m.runAdd, remove: m.runRemove, list: m.runList, load: m.runLoad, lookup: m.runLookup }[what] as (a: never) => Promise<number>;
  process.exitCode = await f({ ...argv, list } as never);
};
