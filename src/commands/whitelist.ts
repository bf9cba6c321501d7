// qgrey whitelist add|remove|list|load|lookup|mx|spf: addresses that are never greylisted.
import type { CommandModule } from 'yargs';
import { common, listdir, listHandler, until, type ListVerb, type Y } from './list-options.js';

const dns = (y: Y) =>
  y
    .option('dns-server', { type: 'string', describe: 'ask this DNS server (IP, IP:PORT, [IPv6]:PORT) instead of resolv.conf; default: $QGREY_DNS_SERVER' });

const handler = (what: ListVerb | 'mx' | 'spf') => {
  if (what !== 'mx' && what !== 'spf') return listHandler('whitelist', what);
  return async (argv: Record<string, unknown>) => {
    const m = await import('../actions/list-import.js');
    const args = { ...argv, list: 'whitelist' };
    process.exitCode = what === 'mx' ? await m.runMx(args as never) : await m.runSpf(args as never);
  };
};

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const subcommands: CommandModule<any, any>[] = [
  {
    command: 'add <addresses..>',
    describe: 'add manual entries (addresses, prefixes such as 129.74, CIDR networks, ranges, IPv6)',
    builder: (y) =>
      until(common(y))
        .positional('addresses', { type: 'string', array: true, describe: 'what to whitelist' })
        .option('comment', { type: 'string', describe: 'comment stored with the entries' })
        .example('$0 whitelist add 129.74 --comment nd.edu', 'whitelist 129.74.0.0/16 for ever')
        .example('$0 whitelist add 192.0.2.0/24 2001:db8::/32 --until 30d', 'for 30 days'),
    handler: handler('add'),
  },
  {
    command: 'remove <addresses..>',
    describe: 'remove the entries for exactly these addresses or networks',
    builder: (y) =>
      common(y)
        .positional('addresses', { type: 'string', array: true })
        .option('source', { type: 'string', describe: 'only entries of this source (manual, mx:DOMAIN, spf:DOMAIN, …)' })
        .example('$0 whitelist remove 129.74.', 'remove the entry for 129.74.0.0/16, whatever its source'),
    handler: handler('remove'),
  },
  {
    command: 'list',
    describe: 'print the live entries, one per line: WHITE|ADDRESS|EXPIRY|SOURCE|MESSAGE|COMMENT',
    builder: (y) =>
      listdir(y)
        .option('source', { type: 'string', describe: 'only entries of this source' })
        .option('all', { type: 'boolean', default: false, describe: 'include expired entries' })
        .option('json', { type: 'boolean', default: false, describe: 'print a JSON array' })
        .example('$0 whitelist list --source spf:example.org', 'what the last SPF import of example.org put in')
        .example("$0 whitelist list | awk -F'|' '$4 == \"manual\"'", 'manual entries only'),
    handler: handler('list'),
  },
  {
    command: 'load [file]',
    describe: "load addlist-style input: one address or 1-3 octet prefix per line, '# comment' allowed",
    builder: (y) =>
      until(common(y))
        .positional('file', { type: 'string', describe: "input file, or '-' for stdin (the default)" })
        .option('source', { type: 'string', describe: 'tag the entries with this source; a named source is replaced as a whole on every load (default: manual, merged)' })
        .option('skip-bad', { type: 'boolean', default: false, describe: 'load the good lines even if some are bad (each bad line is still reported)' })
        .example('$0 whitelist load whitelist_ip.txt', 'the seed\'s file: "129.74   # nd.edu" lines, for ever')
        .example('$0 whitelist load --source file:partners --until 8d partners.txt', 'a weekly refreshed list; lines dropped from the file go away'),
    handler: handler('load'),
  },
  {
    command: 'lookup <ips..>',
    describe: 'is this address whitelisted, and by which entry? (WHITE|IP|ENTRY|SOURCE|EXPIRY| or NONE|IP||||)',
    builder: (y) =>
      listdir(y, 'directory of the list files')
        .option('json', { type: 'boolean', default: false, describe: 'print a JSON array' })
        .positional('ips', { type: 'string', array: true })
        .example('$0 whitelist lookup 129.74.250.3', 'prints the entry that covers it, if any'),
    handler: handler('lookup'),
  },
  {
    command: 'mx <domains..>',
    describe: 'whitelist the addresses (A and AAAA) of the MX hosts of each domain, source mx:DOMAIN; re-running replaces them',
    builder: (y) =>
      dns(until(common(y)))
        .positional('domains', { type: 'string', array: true })
        .option('dig', { type: 'string', array: true, describe: "read saved 'dig DOMAIN MX' / 'dig HOST A' output (also +short) instead of asking DNS" })
        .example('$0 whitelist mx nd.edu ccl.net', 'look the MX hosts up and whitelist them')
        .example('$0 whitelist mx nd.edu --dig nd-mx.txt pickering.txt', 'from saved dig output')
        .example('$0 whitelist mx -q --until 8d nd.edu', 'weekly cron refresh'),
    handler: handler('mx'),
  },
  {
    command: 'spf <domains..>',
    describe: 'whitelist the networks of each domain\'s SPF record (ip4, ip6, a, mx, include, redirect flattened), source spf:DOMAIN',
    builder: (y) =>
      dns(until(common(y)))
        .positional('domains', { type: 'string', array: true })
        .option('min-prefix4', { type: 'number', default: 12, describe: 'refuse IPv4 networks wider than this prefix length' })
        .option('min-prefix6', { type: 'number', default: 28, describe: 'refuse IPv6 networks wider than this prefix length' })
        .example('$0 whitelist spf gmail.com outlook.com', 'the senders of two big providers')
        .example('$0 whitelist spf -q --until 8d example.org', 'weekly cron refresh: addresses the provider dropped go away'),
    handler: handler('spf'),
  },
];

export const whitelist: CommandModule<object, object> = {
  command: 'whitelist <command>',
  describe: 'manage the whitelist (never greylisted): add, remove, list, load, lookup, mx, spf',
  builder: (y) =>
    y
      .command(subcommands)
      .demandCommand(1, 'a whitelist command is required')
      .example('$0 whitelist load < whitelist_ip.txt', 'addlist-style loading')
      .example('$0 whitelist spf example.org', 'whitelist what example.org sends from'),
  handler: () => undefined,
};
