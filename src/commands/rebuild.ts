import { processEnv } from '../core/config.js';
import { defineCommand, value } from './define.js';
import { STORE_OPTION } from './store-option.js';
import { positiveOption } from '../actions/options.js';
import { wallClock } from '../core/clock.js';

export const rebuild = defineCommand({
  command: 'rebuild [paths..]',
  describe: 'rebuild the greylist tree from the accepted mail of the last N days, swapped in without a gap',
  builder: (y) =>
    y
      .positional('paths', {
        describe:
          "multilog directories (current and rotated @….s files), backups (gzip/bzip2/xz/zstd too), glob patterns, or '-' (default: /var/log/qmail/smtpd '/var/log/qmail/backup/qmail-smtpd.*')",
        type: 'string',
        array: true,
        default: undefined,
      })
      .option('dir', { ...value, describe: 'the greylist tree (default: $JGREYLIST_DIR, else /var/qmail/jgreylist)' })
      .option('store', STORE_OPTION)
      .option('days', { ...value, default: '30', defaultDescription: '30', describe: 'read accepted mail of this many days back' })
      .option('by-ip', { type: 'boolean', describe: 'per-IP entries (aaa/bbb/ccc/ddd) for an empty tree, as JGREYLIST_BY_IP=1; default: the layout the tree has' })
      .option('exclude', { ...value, array: true, describe: 'also skip senders in this network (CIDR; repeat the option for more)' })
      .option('default-excludes', {
        type: 'boolean',
        default: true,
        describe: 'skip loopback, private, link-local, CGNAT and ULA senders (--no-default-excludes to keep them)',
      })
      .option('keep-recent', { ...value, default: '1d', describe: 'keep live entries seen this recently (greylisting in progress)' })
      .option('owner', { ...value, describe: "USER:GROUP of the entries; run as root, also who does the tree work (default: the tree root's owner, never root unless given as root)" })
      .option('tz', { ...value, describe: 'zone of readable stamps that carry none (backups converted by tai64nlocal); default: TZ' })
      .option('dry-run', { type: 'boolean', default: false, alias: 'n', describe: 'change nothing; say what would be written and removed' })
      .option('json', { type: 'boolean', default: false, describe: 'print the summary as one JSON object' })
      .option('quiet', { type: 'boolean', default: false, alias: 'q', describe: 'no summary line (warnings and errors still go to stderr)' })
      .example('$0 rebuild', 'the nightly job: the live log and the backups of the last 30 days')
      .example(
        "$0 rebuild --dir /var/qmail/jgreylist --days 45 --owner vpopmail:vchkpw /var/log/qmail/smtpd '/var/log/qmail/backup/qmail-smtpd.*'",
        'every option spelled out',
      )
      .example("$0 rebuild --dry-run --tz Europe/Rome --exclude 198.51.100.0/24 '/srv/old/qmail-smtpd.*'", 'what backups written in another zone would give'),
  handler: async (argv) => {
    const { run } = await import('../actions/rebuild.js');
    process.exitCode = await run({
      env: processEnv(),
      paths: argv.paths ?? [],
      dir: argv.dir, store: argv.store,
      days: positiveOption(argv.days, '--days', 'days'),
      byIp: argv.byIp,
      exclude: argv.exclude ?? [],
      defaultExcludes: argv.defaultExcludes,
      keepRecent: argv.keepRecent,
      owner: argv.owner,
      tz: argv.tz,
      dryRun: argv.dryRun,
      json: argv.json,
      quiet: argv.quiet,
    }, wallClock);
  },
});
