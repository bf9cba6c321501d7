import { processEnv } from '../core/config.js';
import { defineCommand, value } from './define.js';
import { STORE_OPTION } from './store-option.js';
import { wallClock } from '../core/clock.js';

export const traps = defineCommand({
  command: 'traps [paths..]',
  describe: 'blacklist the clients that sent RCPT to a spamtrap (the traps list), from the logs',
  builder: (y) =>
    y
      .positional('paths', {
        describe: "multilog directories, files, glob patterns, or '-' (default: /var/log/qmail/smtpd)",
        type: 'string',
        array: true,
        default: undefined,
      })
      .option('listdir', { ...value, describe: 'the list directory, with the traps list (default: $QGREY_LISTDIR, else /var/qmail/control/qgrey)' })
      .option('store', { ...STORE_OPTION, describe: 'the shared greylist store (redis://, rediss:// or redis+sentinel:// URL) whose blacklist gets the entries (default: $QGREY_STORE; unset: the list file); the traps list stays the list directory\'s file' })
      .option('since', { ...value, default: '1d', describe: 'the window: trap RCPTs and accepted mail of this long ago count' })
      .option('trap-time', { ...value, default: '24h', describe: 'how long a trapped client stays blacklisted, from its trap RCPT' })
      .option('state', { ...value, describe: 'remember here how far each log was read (and the window\'s accepted mail), so the next run reads only new lines' })
      .option('force', { type: 'boolean', default: false, describe: 'blacklist also clients that delivered accepted mail inside the window' })
      .option('tz', { ...value, describe: 'zone of readable stamps that carry none; default: TZ' })
      .option('dry-run', { type: 'boolean', default: false, alias: 'n', describe: 'change nothing (not even the state file); say what would be blacklisted' })
      .option('json', { type: 'boolean', default: false, describe: 'print the summary as one JSON object' })
      .option('quiet', { type: 'boolean', default: false, alias: 'q', describe: 'no summary line (warnings and errors still go to stderr)' })
      .example('$0 traps -q --state /var/qmail/control/qgrey/traps.state', 'the hourly cron job: only the lines written since the last run')
      .example('$0 traps --dry-run --since 7d /var/log/qmail/smtpd', 'who would have been trapped this week'),
  handler: async (argv) => {
    const { run } = await import('../actions/traps.js');
    process.exitCode = await run({
      env: processEnv(),
      paths: argv.paths ?? [],
      listdir: argv.listdir,
      store: argv.store,
      since: argv.since,
      trapTime: argv.trapTime,
      state: argv.state,
      force: argv.force,
      tz: argv.tz,
      dryRun: argv.dryRun,
      json: argv.json,
      quiet: argv.quiet,
    }, wallClock);
  },
});
