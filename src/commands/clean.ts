import type { CommandModule } from 'yargs';

export interface CleanArgs {
  dir?: string;
  'max-age': string;
  'one-time': string;
  lists: boolean;
  listdir?: string;
  'dry-run': boolean;
  json: boolean;
  quiet: boolean;
}

export const clean: CommandModule<object, CleanArgs> = {
  command: 'clean',
  describe: "expire greylist entries (jgreylist-clean's rules), remove empty directories and expired list entries",
  builder: (y) =>
    y
      .option('dir', { type: 'string', describe: 'the greylist tree (default: $JGREYLIST_DIR, else /var/qmail/jgreylist)' })
      .option('max-age', { type: 'string', default: '30d', describe: 'remove entries last seen longer ago than this' })
      .option('one-time', { type: 'string', default: '1d', describe: 'remove entries never seen again (atime == mtime) after this long; 0 turns the rule off' })
      .option('lists', { type: 'boolean', default: true, describe: 'also drop expired white/blacklist entries (--no-lists to skip)' })
      .option('listdir', { type: 'string', describe: 'where the lists are (default: $QGREY_LISTDIR, else /var/qmail/control/qgrey)' })
      .option('dry-run', { type: 'boolean', default: false, alias: 'n', describe: 'change nothing; say what would be removed' })
      .option('json', { type: 'boolean', default: false, describe: 'print the summary as one JSON object' })
      .option('quiet', { type: 'boolean', default: false, alias: 'q', describe: 'no summary line (warnings and errors still go to stderr)' })
      .example('$0 clean', 'the nightly cron job: one summary line')
      .example('$0 clean --dir /var/qmail/jgreylist --max-age 45d --one-time 2d --dry-run', 'what a gentler policy would remove'),
  handler: async (argv) => {
    const { run } = await import('../actions/clean.js');
    process.exitCode = await run(argv);
  },
};
