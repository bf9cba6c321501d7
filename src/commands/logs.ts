import { defineCommand, value } from './define.js';
import { EVENT_KINDS } from '../core/logline.js';
import { wallClock } from '../core/clock.js';

export const logs = defineCommand({
  command: 'logs [paths..]',
  describe: 'print qmail-smtpd log lines with readable times, merged in time order (a safe, filtering tai64nlocal)',
  builder: (y) =>
    y
      .positional('paths', {
        describe: "multilog directories, files (gzip/bzip2/xz/zstd too), glob patterns, or '-' for stdin",
        type: 'string',
        array: true,
        default: undefined,
      })
      .option('since', { ...value, describe: 'only lines at or after this time: a duration ago (90m, 36h, 30d) or a date' })
      .option('until', { ...value, describe: 'only lines at or before this time' })
      .option('utc', { type: 'boolean', default: false, describe: 'print times in UTC instead of the local zone (TZ)' })
      .option('tz', { ...value, describe: 'zone of readable stamps that carry none (backups converted by tai64nlocal); default: TZ' })
      .option('ip', { ...value, array: true, describe: 'only lines about this address or network (IP or CIDR, repeatable)' })
      .option('kind', { ...value, array: true, choices: EVENT_KINDS, describe: 'only these kinds of line (repeatable)' })
      .option('json', { type: 'boolean', default: false, describe: 'print one typed event per line as JSON' })
      .example('$0 logs /var/log/qmail/smtpd', 'the live log with readable local times')
      .example("$0 logs --since 36h --kind decision --utc /var/log/qmail/smtpd '/var/log/qmail/backup/qmail-smtpd.*'", 'greylisting decisions of the last 36 hours')
      .example('$0 logs --ip 192.0.2.0/24 --json /var/log/qmail/smtpd', 'everything about one network, as JSON'),
  handler: async (argv) => {
    const { run } = await import('../actions/logs.js');
    process.exitCode = await run({
      paths: argv.paths ?? [],
      since: argv.since,
      until: argv.until,
      utc: argv.utc,
      tz: argv.tz,
      ip: argv.ip ?? [],
      kind: argv.kind ?? [],
      json: argv.json,
    }, wallClock);
  },
});
