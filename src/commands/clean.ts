import { processEnv } from '../core/config.js';
import { defineCommand, value } from './define.js';
import { STORE_OPTION } from './store-option.js';
import { wallClock } from '../core/clock.js';

export const clean = defineCommand({
  command: 'clean',
  describe: "expire greylist entries (jgreylist-clean's rules), remove empty directories and expired list entries",
  builder: (y) =>
    y
      .option('dir', { ...value, describe: 'the greylist tree (default: $JGREYLIST_DIR, else /var/qmail/jgreylist)' })
      .option('store', STORE_OPTION)
      .option('max-age', { ...value, default: '30d', describe: 'remove entries last seen longer ago than this' })
      .option('one-time', { ...value, default: '1d', describe: 'remove entries never seen again (atime == mtime) after this long; 0 turns the rule off' })
      .option('lists', { type: 'boolean', default: true, describe: 'also drop expired white/blacklist entries (--no-lists to skip)' })
      .option('owner', { ...value, describe: "run as root, the USER:GROUP that does the tree work (default: the tree root's owner, never root unless given as root)" })
      .option('listdir', { ...value, describe: 'where the lists are (default: $QGREY_LISTDIR, else /var/qmail/control/qgrey)' })
      .option('dry-run', { type: 'boolean', default: false, alias: 'n', describe: 'change nothing; say what would be removed' })
      .option('json', { type: 'boolean', default: false, describe: 'print the summary as one JSON object' })
      .option('quiet', { type: 'boolean', default: false, alias: 'q', describe: 'no summary line (warnings and errors still go to stderr)' })
      .example('$0 clean', 'the nightly cron job: one summary line')
      .example('$0 clean --dir /var/qmail/jgreylist --max-age 45d --one-time 2d --dry-run', 'what a gentler policy would remove'),
  handler: async (argv) => {
    const { run } = await import('../actions/clean.js');
    process.exitCode = await run({
      env: processEnv(),
      dir: argv.dir,
      owner: argv.owner,
      maxAge: argv.maxAge,
      oneTime: argv.oneTime,
      lists: argv.lists,
      listdir: argv.listdir, store: argv.store,
      dryRun: argv.dryRun,
      json: argv.json,
      quiet: argv.quiet,
    }, wallClock);
  },
});
