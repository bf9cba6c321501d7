// Options and subcommands shared by `qgrey whitelist` and `qgrey blacklist` (not a command).
import { processEnv } from '../core/config.js';
import type { Argv } from 'yargs';
import { defineCommand, value } from './define.js';
import { STORE_OPTION } from './store-option.js';
import { wallClock } from '../core/clock.js';
import type { ListName } from '../store/lists.js';

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

type Example = readonly [command: string, description: string];

/** `LIST remove <addresses..>`, the same for both lists but for its texts. */
export const removeCommand = (list: ListName, source: string, example: Example) =>
  defineCommand({
    command: 'remove <addresses..>',
    describe: 'remove the entries for exactly these addresses or networks',
    builder: (y) =>
      common(y)
        .positional('addresses', { type: 'string', array: true, default: undefined, describe: 'what to remove' })
        .option('source', { ...value, describe: source })
        .example(...example),
    handler: async (argv) => {
      const m = await lists();
      process.exitCode = await m.runRemove({ env: processEnv(), list, addresses: argv.addresses ?? [], source: argv.source, listdir: argv.listdir, store: argv.store, dryRun: argv.dryRun, quiet: argv.quiet, json: argv.json });
    },
  });

/** `LIST list`. */
export const listCommand = (list: ListName, examples: readonly [Example, Example]) =>
  defineCommand({
    command: 'list',
    describe: `print the live entries, one per line: ${list === 'whitelist' ? 'WHITE' : 'BLACK'}|ADDRESS|EXPIRY|SOURCE|MESSAGE|COMMENT`,
    builder: (y) =>
      listdir(y)
        .option('source', { ...value, describe: 'only entries of this source' })
        .option('all', { type: 'boolean', default: false, describe: 'include expired entries' })
        .option('json', { type: 'boolean', default: false, describe: 'print a JSON array' })
        .example(...examples[0])
        .example(...examples[1]),
    handler: async (argv) => {
      const m = await lists();
      process.exitCode = await m.runList({ env: processEnv(), list, source: argv.source, all: argv.all, json: argv.json, listdir: argv.listdir, store: argv.store }, wallClock());
    },
  });

/** `LIST lookup <ips..>`. */
export const lookupCommand = (list: ListName, example: Example) =>
  defineCommand({
    command: 'lookup <ips..>',
    describe: `is this address ${list === 'whitelist' ? 'whitelisted' : 'blacklisted'}, and by which entry? (${list === 'whitelist' ? 'WHITE' : 'BLACK'}|IP|ENTRY|EXPIRY|SOURCE|MESSAGE|COMMENT, the fields of list after the address, or NONE|IP|||||)`,
    builder: (y) =>
      listdir(y, 'directory of the list files')
        .option('json', { type: 'boolean', default: false, describe: 'print a JSON array' })
        .positional('ips', { type: 'string', array: true, default: undefined, describe: 'the client addresses' })
        .example(...example),
    handler: async (argv) => {
      const m = await lists();
      process.exitCode = await m.runLookup({ env: processEnv(), list, ips: argv.ips ?? [], json: argv.json, listdir: argv.listdir, store: argv.store }, wallClock());
    },
  });
