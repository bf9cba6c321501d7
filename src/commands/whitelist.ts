// qgrey whitelist add|remove|list|load|lookup|mx|spf|outgoing: addresses that are never greylisted.
import { processEnv } from '../core/config.js';
import type { Argv } from 'yargs';
import { defineCommand, value, type AnyCommand } from './define.js';
import { common, listCommand, listdir, lists, lookupCommand, removeCommand, until } from './list-options.js';
import { wholeOption } from '../actions/options.js';
import { wallClock } from '../core/clock.js';

const dns = <T>(y: Argv<T>) =>
  y
    .option('dns-server', { ...value, describe: 'ask this DNS server (IP, IP:PORT, [IPv6]:PORT) instead of resolv.conf; default: $QGREY_DNS_SERVER' });

const subcommands: AnyCommand[] = [
  defineCommand({
    command: 'add <addresses..>',
    describe: 'add manual entries (addresses, prefixes such as 129.74, CIDR networks, ranges, IPv6)',
    builder: (y) =>
      until(common(y))
        .positional('addresses', { type: 'string', array: true, default: undefined, describe: 'what to whitelist' })
        .option('comment', { ...value, describe: 'comment stored with the entries' })
        .example('$0 whitelist add 129.74 --comment nd.edu', 'whitelist 129.74.0.0/16 for ever')
        .example('$0 whitelist add 192.0.2.0/24 2001:db8::/32 --until 30d', 'for 30 days'),
    handler: async (argv) => {
      const m = await lists();
      process.exitCode = await m.runAdd({
        env: processEnv(),
        list: 'whitelist',
        addresses: argv.addresses ?? [],
        until: argv.until,
        comment: argv.comment,
        listdir: argv.listdir, store: argv.store,
        dryRun: argv.dryRun,
        quiet: argv.quiet,
        json: argv.json,
      }, wallClock());
    },
  }),
  removeCommand('whitelist', 'only entries of this source (manual, mx:DOMAIN, spf:DOMAIN, …)', ['$0 whitelist remove 129.74.', 'remove the entry for 129.74.0.0/16, whatever its source']),
  listCommand('whitelist', [['$0 whitelist list --source spf:example.org', 'what the last SPF import of example.org put in'], ["$0 whitelist list | awk -F'|' '$4 == \"manual\"'", 'manual entries only']]),
  defineCommand({
    command: 'load [file]',
    describe: "load addlist-style input: one address or 1-3 octet prefix per line, '# comment' allowed",
    builder: (y) =>
      until(common(y))
        .positional('file', { type: 'string', describe: "input file, or '-' for stdin (the default)" })
        .option('source', { ...value, describe: 'tag the entries with this source; a named source is replaced as a whole on every load (default: manual, merged)' })
        .option('skip-bad', { type: 'boolean', default: false, describe: 'load the good lines even if some are bad (each bad line is still reported)' })
        .example('$0 whitelist load whitelist_ip.txt', 'the seed\'s file: "129.74   # nd.edu" lines, for ever')
        .example('$0 whitelist load --source file:partners --until 8d partners.txt', 'a weekly refreshed list; lines dropped from the file go away'),
    handler: async (argv) => {
      const m = await lists();
      process.exitCode = await m.runLoad({
        env: processEnv(),
        list: 'whitelist',
        file: argv.file,
        until: argv.until,
        source: argv.source,
        skipBad: argv.skipBad,
        listdir: argv.listdir, store: argv.store,
        dryRun: argv.dryRun,
        quiet: argv.quiet,
        json: argv.json,
      }, wallClock());
    },
  }),
  lookupCommand('whitelist', ['$0 whitelist lookup 129.74.250.3', 'prints the entry that covers it, if any']),
  defineCommand({
    command: 'mx <domains..>',
    describe: 'whitelist the addresses (A and AAAA) of the MX hosts of each domain, source mx:DOMAIN; re-running replaces them',
    builder: (y) =>
      dns(until(common(y)))
        .positional('domains', { type: 'string', array: true, default: undefined, describe: 'the domains' })
        .option('dig', { ...value, array: true, describe: "read saved 'dig DOMAIN MX' / 'dig HOST A' output (also +short) instead of asking DNS (one file per --dig)" })
        .example('$0 whitelist mx nd.edu ccl.net', 'look the MX hosts up and whitelist them')
        .example('$0 whitelist mx nd.edu --dig nd-mx.txt --dig pickering.txt', 'from saved dig output')
        .example('$0 whitelist mx -q --until 8d nd.edu', 'weekly cron refresh'),
    handler: async (argv) => {
      const m = await import('../actions/list-import.js');
      process.exitCode = await m.runMx({
        env: processEnv(),
        domains: argv.domains ?? [],
        dig: argv.dig ?? [],
        until: argv.until,
        listdir: argv.listdir, store: argv.store,
        dnsServer: argv.dnsServer,
        dryRun: argv.dryRun,
        quiet: argv.quiet,
        json: argv.json,
      }, wallClock());
    },
  }),
  defineCommand({
    command: 'spf <domains..>',
    describe: 'whitelist the networks of each domain\'s SPF record (ip4, ip6, a, mx, include, redirect flattened), source spf:DOMAIN',
    builder: (y) =>
      dns(until(common(y)))
        .positional('domains', { type: 'string', array: true, default: undefined, describe: 'the domains' })
        .option('min-prefix4', { ...value, default: '12', defaultDescription: '12', describe: 'refuse IPv4 networks wider than this prefix length' })
        .option('min-prefix6', { ...value, default: '28', defaultDescription: '28', describe: 'refuse IPv6 networks wider than this prefix length' })
        .example('$0 whitelist spf gmail.com outlook.com', 'the senders of two big providers')
        .example('$0 whitelist spf -q --until 8d example.org', 'weekly cron refresh: addresses the provider dropped go away'),
    handler: async (argv) => {
      const m = await import('../actions/list-import.js');
      process.exitCode = await m.runSpf({
        env: processEnv(),
        domains: argv.domains ?? [],
        minPrefix4: wholeOption(argv.minPrefix4, '--min-prefix4', 0, 32),
        minPrefix6: wholeOption(argv.minPrefix6, '--min-prefix6', 0, 128),
        until: argv.until,
        listdir: argv.listdir, store: argv.store,
        dnsServer: argv.dnsServer,
        dryRun: argv.dryRun,
        quiet: argv.quiet,
        json: argv.json,
      }, wallClock());
    },
  }),
  defineCommand({
    command: 'outgoing [paths..]',
    describe: 'whitelist where replies to our users come from: the domains local senders (relayed or authenticated) wrote to, by their SPF record (else MX hosts), source out:DOMAIN; and, for qgrey-spp, the exact reply pairs (remote address, local sender) in the list directory\'s replies file',
    builder: (y) =>
      dns(listdir(y))
        .positional('paths', { type: 'string', array: true, default: [] as string[], describe: "qmail-smtpd and qmail-send logs: multilog directories, files, glob patterns, or '-' (default: /var/log/qmail/smtpd and /var/log/qmail/send)" })
        .option('since', { ...value, default: '30d', describe: 'the window: domains written to this long ago or later count' })
        .option('until', { ...value, default: '8d', describe: 'expiry of the entries, renewed by every run while users keep writing there' })
        .option('state', { ...value, describe: 'remember here how far each log was read and who wrote where inside the window (domains and reply pairs), so the next run reads only new lines' })
        .option('min-senders', { ...value, default: '1', defaultDescription: '1', describe: 'distinct local senders a domain needs inside the window' })
        .option('max-domains', { ...value, default: '200', defaultDescription: '200', describe: 'whitelist at most this many domains (those with the most senders, then the most recent)' })
        .option('skip', { ...value, array: true, describe: 'never whitelist this domain or its subdomains (repeatable, or comma-separated)' })
        .option('locals', { ...value, array: true, describe: 'our own domains: a qmail control file (locals, rcpthosts, virtualdomains); repeatable. Recipients there never count; qmail-send lines count only with it' })
        .option('tz', { ...value, describe: 'zone of readable stamps that carry none; default: TZ' })
        .option('dry-run', { alias: 'n', type: 'boolean', default: false, describe: 'show what would change, write nothing (not even the state file)' })
        .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'nothing on success (for cron): no summary, no networks left out, no domains without SPF or MX; errors still go to stderr' })
        .option('json', { type: 'boolean', default: false, describe: 'print the result as one JSON object' })
        .example('$0 whitelist outgoing -q --state /var/qmail/control/qgrey/outgoing.state --locals /var/qmail/control/rcpthosts', 'the daily cron job')
        .example('$0 whitelist outgoing --dry-run --min-senders 2 --skip gmail.com /var/log/qmail/smtpd', 'what a stricter rule would whitelist'),
    handler: async (argv) => {
      const m = await import('../actions/outgoing.js');
      process.exitCode = await m.run({
        env: processEnv(),
        paths: argv.paths,
        since: argv.since,
        until: argv.until,
        state: argv.state,
        minSenders: wholeOption(argv.minSenders, '--min-senders', 1),
        maxDomains: wholeOption(argv.maxDomains, '--max-domains', 1),
        skip: argv.skip ?? [],
        locals: argv.locals ?? [],
        listdir: argv.listdir, store: argv.store,
        dnsServer: argv.dnsServer,
        tz: argv.tz,
        dryRun: argv.dryRun,
        json: argv.json,
        quiet: argv.quiet,
      }, wallClock());
    },
  }),
];

export const whitelist = defineCommand({
  command: 'whitelist',
  describe: 'manage the whitelist (never greylisted): add, remove, list, load, lookup, mx, spf, outgoing',
  builder: (y) =>
    y
      .command(subcommands)
      .demandCommand(1, 'a whitelist command is required: add, remove, list, load, lookup, mx, spf, outgoing')
      .example('$0 whitelist load < whitelist_ip.txt', 'addlist-style loading')
      .example('$0 whitelist spf example.org', 'whitelist what example.org sends from'),
  handler: async () => undefined,
});
