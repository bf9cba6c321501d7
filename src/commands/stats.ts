import { processEnv } from '../core/config.js';
import { defineCommand, value } from './define.js';
import { STORE_OPTION } from './store-option.js';
import { wholeOption } from '../actions/options.js';
import { wallClock } from '../core/clock.js';

export const stats = defineCommand({
  command: 'stats [paths..]',
  describe: 'show what greylisting did: decisions, who came back and after what delay, who never did',
  builder: (y) =>
    y
      .positional('paths', {
        describe: 'multilog directories, files (gzip/bzip2/xz/zstd too), glob patterns, or - for stdin (default: /var/log/qmail/smtpd)',
        type: 'string',
        array: true,
        default: undefined,
      })
      .option('since', { ...value, describe: 'only lines at or after this time: a duration ago (90m, 36h, 30d) or a date' })
      .option('until', { ...value, describe: 'only lines at or before this time' })
      .option('tz', { ...value, describe: 'zone of readable stamps that carry none (backups converted by tai64nlocal); default: TZ' })
      .option('utc', { type: 'boolean', default: false, describe: 'days and hours in UTC instead of the local zone (TZ)' })
      .option('by', { nargs: 1, choices: ['day', 'hour', 'net'] as const, default: 'day' as const, describe: 'one table row per day, per hour, or per greylist key (network)' })
      .option('by-ip', { type: 'boolean', default: false, describe: 'keys are single addresses (JGREYLIST_BY_IP=1) instead of class C / IPv6 /64' })
      .option('top', { ...value, default: '10', defaultDescription: '10', describe: 'entries in each top list (0 for none)' })
      .option('json', { type: 'boolean', default: false, describe: 'print the whole result as one JSON document' })
      .option('wide', { type: 'boolean', default: false, describe: 'print the per-day (hour, net) table as one table of 13 columns, wider than 80 characters, instead of two that fit' })
      .option('svg', { ...value, describe: 'also write a chart of decisions and outcomes per day to this SVG file (atomically)' })
      .option('max-keys', {
        ...value,
        default: '1000000',
        defaultDescription: '1000000',
        describe: 'follow at most this many greylisted keys and addresses (bounds memory: about 50 bytes each)',
      })
      .option('listdir', { ...value, describe: 'the list files, to count the whitelisted clients that an out: entry (whitelist outgoing) covers (default: $QGREY_LISTDIR, else /var/qmail/control/qgrey)' })
      .option('store', STORE_OPTION)
      .example('$0 stats /var/log/qmail/smtpd', 'the live log: totals, top 10 lists, one row per day')
      .example("$0 stats --since 7d --svg /tmp/grey.svg /var/log/qmail/smtpd '/var/log/qmail/backup/qmail-smtpd.*'", 'the last week, with a chart')
      .example('$0 stats --by hour --since 36h --json /var/log/qmail/smtpd', 'per hour, for a script')
      .example("$0 stats --wide --top 0 /var/log/qmail/smtpd | awk -F '  +' '/^[0-9]{4}-/ {print $1, $8}'", 'messages per day, from the one wide table'),
  handler: async (argv) => {
    const { run } = await import('../actions/stats.js');
    process.exitCode = await run({
      env: processEnv(),
      paths: argv.paths ?? [],
      since: argv.since,
      until: argv.until,
      tz: argv.tz,
      utc: argv.utc,
      by: argv.by,
      byIp: argv.byIp,
      top: wholeOption(argv.top, '--top', 0),
      json: argv.json,
      svg: argv.svg,
      wide: argv.wide,
      maxKeys: wholeOption(argv.maxKeys, '--max-keys', 1),
      listdir: argv.listdir, store: argv.store,
    }, wallClock);
  },
});
