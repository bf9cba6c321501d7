// qgrey blacklist add|remove|list|load|lookup: addresses that are refused (553) outright.
import { processEnv } from '../core/config.js';
import type { Argv } from 'yargs';
import { defineCommand, value, type AnyCommand } from './define.js';
import { common, listCommand, listdir, lists, lookupCommand, removeCommand, until } from './list-options.js';
import { wallClock } from '../core/clock.js';

const message = <T>(y: Argv<T>) =>
  y.option('message', { ...value, describe: "text after '553 DENIED ' (the first % becomes the client's address); default '% is blacklisted'" });

const subcommands: AnyCommand[] = [
  defineCommand({
    command: 'add <addresses..>',
    describe: 'add manual entries (addresses, prefixes such as 203.0.113, CIDR networks, ranges, IPv6)',
    builder: (y) =>
      message(until(common(y)))
        .positional('addresses', { type: 'string', array: true, default: undefined, describe: 'what to blacklist' })
        .option('comment', { ...value, describe: 'comment stored with the entries' })
        .example("$0 blacklist add 203.0.113.7 --message 'Go away %'", 'refuse one address with a message')
        .example('$0 blacklist add 198.51.100.0/24 --until 30d --comment "spam run"', 'a network, for 30 days'),
    handler: async (argv) => {
      const m = await lists();
      process.exitCode = await m.runAdd({
        env: processEnv(),
        list: 'blacklist',
        addresses: argv.addresses ?? [],
        until: argv.until,
        comment: argv.comment,
        message: argv.message,
        listdir: argv.listdir, store: argv.store,
        dryRun: argv.dryRun,
        quiet: argv.quiet,
        json: argv.json,
      }, wallClock());
    },
  }),
  removeCommand('blacklist', 'only entries of this source', ['$0 blacklist remove 203.0.113.7', 'let it be greylisted normally again']),
  listCommand('blacklist', [['$0 blacklist list', 'every live entry'], ['$0 blacklist list --all --json', 'also the expired ones, as JSON']]),
  defineCommand({
    command: 'load [file]',
    describe: "load addlist-style input: one address or 1-3 octet prefix per line, '# comment' allowed",
    builder: (y) =>
      message(until(common(y)))
        .positional('file', { type: 'string', describe: "input file, or '-' for stdin (the default)" })
        .option('source', { ...value, describe: 'tag the entries with this source; a named source is replaced as a whole on every load (default: manual, merged)' })
        .option('skip-bad', { type: 'boolean', default: false, describe: 'load the good lines even if some are bad (each bad line is still reported)' })
        .example('$0 blacklist load blacklist_ip.txt', 'the seed\'s blacklist_ip.txt, for ever')
        .example('$0 blacklist load --source feed:drop --until 2d --message "listed in DROP" drop.txt', 'a daily feed'),
    handler: async (argv) => {
      const m = await lists();
      process.exitCode = await m.runLoad({
        env: processEnv(),
        list: 'blacklist',
        file: argv.file,
        until: argv.until,
        source: argv.source,
        skipBad: argv.skipBad,
        message: argv.message,
        listdir: argv.listdir, store: argv.store,
        dryRun: argv.dryRun,
        quiet: argv.quiet,
        json: argv.json,
      }, wallClock());
    },
  }),
  lookupCommand('blacklist', ['$0 blacklist lookup 203.0.113.7', 'prints the entry and the message the client gets']),
];

export const blacklist = defineCommand({
  command: 'blacklist',
  describe: 'manage the blacklist (refused with 553): add, remove, list, load, lookup',
  builder: (y) =>
    y
      .command(subcommands)
      .demandCommand(1, 'a blacklist command is required: add, remove, list, load, lookup')
      .example('$0 blacklist load < blacklist_ip.txt', 'addlist-style loading'),
  handler: async () => undefined,
});
