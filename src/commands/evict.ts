import { processEnv } from '../core/config.js';
import { defineCommand, value } from './define.js';
import { STORE_OPTION } from './store-option.js';
import { wholeOption } from '../actions/options.js';
import { wallClock } from '../core/clock.js';

export const evict = defineCommand({
  command: 'evict [paths..]',
  describe: 'remove the entries of clients that hang up before the greeting or after a null-HELO session',
  builder: (y) =>
    y
      .positional('paths', {
        describe: "multilog directories, files, glob patterns, or '-' (default: /var/log/qmail/smtpd)",
        type: 'string',
        array: true,
        default: undefined,
      })
      .option('dir', { ...value, describe: 'the greylist tree (default: $JGREYLIST_DIR, else /var/qmail/jgreylist)' })
      .option('store', STORE_OPTION)
      .option('since', { ...value, default: '1d', describe: 'the window: bad events and accepted mail of this long ago count' })
      .option('state', { ...value, describe: 'remember here how far each log was read (and the window\'s events), so the next run reads only new lines' })
      .option('min-events', { ...value, default: '1', defaultDescription: '1', describe: 'bad events a key needs inside the window to be evicted' })
      .option('by-ip', { type: 'boolean', describe: 'the tree is per IP, for an empty tree (default: the layout the tree has, else $JGREYLIST_BY_IP)' })
      .option('owner', { ...value, describe: "run as root, the USER:GROUP that does the tree work (default: the tree root's owner, never root unless given as root)" })
      .option('tz', { ...value, describe: 'zone of readable stamps that carry none; default: TZ' })
      .option('dry-run', { type: 'boolean', default: false, alias: 'n', describe: 'change nothing (not even the state file); say what would be removed' })
      .option('json', { type: 'boolean', default: false, describe: 'print the summary as one JSON object' })
      .option('quiet', { type: 'boolean', default: false, alias: 'q', describe: 'no summary line (warnings and errors still go to stderr)' })
      .example('$0 evict --state /var/qmail/control/qgrey/evict.state', 'the hourly cron job: only the lines written since the last run')
      .example('$0 evict --dry-run --since 7d --min-events 3 /var/log/qmail/smtpd', 'who a stricter rule would evict this week'),
  handler: async (argv) => {
    const { run } = await import('../actions/evict.js');
    process.exitCode = await run({
      env: processEnv(),
      paths: argv.paths ?? [],
      dir: argv.dir, store: argv.store,
      owner: argv.owner,
      since: argv.since,
      state: argv.state,
      minEvents: wholeOption(argv.minEvents, '--min-events', 1),
      byIp: argv.byIp,
      tz: argv.tz,
      dryRun: argv.dryRun,
      json: argv.json,
      quiet: argv.quiet,
    }, wallClock);
  },
});
