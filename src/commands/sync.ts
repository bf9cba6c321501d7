import { processEnv } from '../core/config.js';
import { defineCommand, value } from './define.js';
import { wallClock } from '../core/clock.js';

export const sync = defineCommand({
  command: 'sync',
  describe: 'merge every entry and list entry of a greylist tree and the list files into the shared Redis store, or of the store into them (earliest first seen and latest last seen win, the longer-lasting list entry wins; nothing is removed)',
  builder: (y) =>
    y
      .option('from', { ...value, demandOption: true, describe: 'where the entries come from: a greylist directory, or a redis://, rediss:// or redis+sentinel:// URL' })
      .option('to', { ...value, demandOption: true, describe: 'where they are merged in: the other kind (a directory or a Redis URL)' })
      .option('owner', { ...value, describe: 'USER:GROUP that owns the new entries of the tree (default: the owner of the tree\'s root)' })
      .option('listdir', { ...value, describe: 'the directory of the list files merged with the store\'s lists (default: $QGREY_LISTDIR, else /var/qmail/control/qgrey)' })
      .option('entries-only', { type: 'boolean', default: false, describe: 'merge the greylist entries only, not the whitelist and blacklist' })
      .option('dry-run', { type: 'boolean', default: false, alias: 'n', describe: 'change nothing; count what would be added and updated' })
      .option('json', { type: 'boolean', default: false, describe: 'print the summary as one JSON object' })
      .option('quiet', { type: 'boolean', default: false, alias: 'q', describe: 'no summary line (warnings and errors still go to stderr)' })
      .example('$0 sync --from /var/qmail/jgreylist --to redis://:PASSWORD@192.0.2.5/0', 'move a site onto the shared Redis store')
      .example('$0 sync -q --from redis://:PASSWORD@192.0.2.5/0 --to /var/qmail/jgreylist', "cron, on a host that keeps the C jgreylist: the other hosts' entries into its tree"),
  handler: async (argv) => {
    const { run } = await import('../actions/sync.js');
    process.exitCode = await run({ env: processEnv(), from: argv.from, to: argv.to, owner: argv.owner, listdir: argv.listdir, entriesOnly: argv.entriesOnly, dryRun: argv.dryRun, json: argv.json, quiet: argv.quiet }, wallClock);
  },
});
