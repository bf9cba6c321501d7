// qgrey blacklist add|remove|list|load|lookup: addresses that are refused (553) outright.
import type { CommandModule } from 'yargs';
import { common, listdir, listHandler, until, type ListVerb, type Y } from './list-options.js';

const message = (y: Y) =>
  y.option('message', { type: 'string', describe: "text after '553 DENIED ' (the first % becomes the client's address); default '% is blacklisted'" });

const handler = (what: ListVerb) => listHandler('blacklist', what);

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const subcommands: CommandModule<any, any>[] = [
  {
    command: 'add <addresses..>',
    describe: 'add manual entries (addresses, prefixes such as 203.0.113, CIDR networks, ranges, IPv6)',
    builder: (y) =>
      message(until(common(y)))
        .positional('addresses', { type: 'string', array: true, describe: 'what to blacklist' })
        .option('comment', { type: 'string', describe: 'comment stored with the entries' })
        .example("$0 blacklist add 203.0.113.7 --message 'Go away %'", 'refuse one address with a message')
        .example('$0 blacklist add 198.51.100.0/24 --until 30d --comment "spam run"', 'a network, for 30 days'),
    handler: handler('add'),
  },
  {
    command: 'remove <addresses..>',
    describe: 'remove the entries for exactly these addresses or networks',
    builder: (y) =>
      common(y)
        .positional('addresses', { type: 'string', array: true })
        .option('source', { type: 'string', describe: 'only entries of this source' })
        .example('$0 blacklist remove 203.0.113.7', 'let it be greylisted normally again'),
    handler: handler('remove'),
  },
  {
    command: 'list',
    describe: 'print the live entries, one per line: BLACK|ADDRESS|EXPIRY|SOURCE|MESSAGE|COMMENT',
    builder: (y) =>
      listdir(y)
        .option('source', { type: 'string', describe: 'only entries of this source' })
        .option('all', { type: 'boolean', default: false, describe: 'include expired entries' })
        .option('json', { type: 'boolean', default: false, describe: 'print a JSON array' })
        .example('$0 blacklist list', 'every live entry')
        .example('$0 blacklist list --all --json', 'also the expired ones, as JSON'),
    handler: handler('list'),
  },
  {
    command: 'load [file]',
    describe: "load addlist-style input: one address or 1-3 octet prefix per line, '# comment' allowed",
    builder: (y) =>
      message(until(common(y)))
        .positional('file', { type: 'string', describe: "input file, or '-' for stdin (the default)" })
        .option('source', { type: 'string', describe: 'tag the entries with this source; a named source is replaced as a whole on every load (default: manual, merged)' })
        .option('skip-bad', { type: 'boolean', default: false, describe: 'load the good lines even if some are bad (each bad line is still reported)' })
        .example('$0 blacklist load blacklist_ip.txt', 'the seed\'s blacklist_ip.txt, for ever')
        .example('$0 blacklist load --source feed:drop --until 2d --message "listed in DROP" drop.txt', 'a daily feed'),
    handler: handler('load'),
  },
  {
    command: 'lookup <ips..>',
    describe: 'is this address blacklisted, and by which entry? (BLACK|IP|ENTRY|SOURCE|EXPIRY|MESSAGE or NONE|IP||||)',
    builder: (y) =>
      listdir(y, 'directory of the list files')
        .option('json', { type: 'boolean', default: false, describe: 'print a JSON array' })
        .positional('ips', { type: 'string', array: true })
        .example('$0 blacklist lookup 203.0.113.7', 'prints the entry and the message the client gets'),
    handler: handler('lookup'),
  },
];

export const blacklist: CommandModule<object, object> = {
  command: 'blacklist <command>',
  describe: 'manage the blacklist (refused with 553): add, remove, list, load, lookup',
  builder: (y) =>
    y
      .command(subcommands)
      .demandCommand(1, 'a blacklist command is required')
      .example('$0 blacklist load < blacklist_ip.txt', 'addlist-style loading'),
  handler: () => undefined,
};
