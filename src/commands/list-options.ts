// Options shared by `qgrey whitelist` and `qgrey blacklist` (not a command).
import type { Argv } from 'yargs';
import { value } from './define.js';
import { STORE_OPTION } from './store-option.js';

export const listdir = <T>(y: Argv<T>, describe = 'directory of the list files (default: $QGREY_LISTDIR, else /var/qmail/control/qgrey)') =>
  y.option('listdir', { ...value, describe }).option('store', STORE_OPTION);

export const common = <T>(y: Argv<T>) =>
  listdir(y)
    .option('dry-run', { alias: 'n', type: 'boolean', default: false, describe: 'show what would change, write nothing' })
    .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'nothing on success (for cron); warnings and errors still go to stderr' })
    .option('json', { type: 'boolean', default: false, describe: 'print what changed as one JSON object (list, dryRun, written, sources with the addresses added, updated, removed, unchanged; bad, skipped, failed) instead of the summary' });

export const until = <T>(y: Argv<T>) =>
  y.option('until', { ...value, describe: 'expiry: never (default), a duration from now (30d, 8w), a date, a local time, or ISO 8601' });

/** The implementation, imported when a list command runs (so --help never loads it). */
export const lists = () => import('../actions/lists.js');
