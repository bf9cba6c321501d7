// qgrey tcprules: the lists as tcp.smtp rules for sites that keep the C jgreylist.
import { processEnv } from '../core/config.js';
import { defineCommand, value } from './define.js';
import { STORE_OPTION } from './store-option.js';
import { wallClock } from '../core/clock.js';

export const tcprules = defineCommand({
  command: 'tcprules',
  describe: 'print the lists as tcprules lines (JGREYLIST="" white, JGREYLIST="text" black) in a marked block',
  builder: (y) =>
    y
      .option('listdir', { ...value, describe: 'directory of the list files (default: $QGREY_LISTDIR, else /var/qmail/control/qgrey)' })
      .option('store', STORE_OPTION)
      .option('merge', { ...value, describe: "replace (or append) the qgrey block in this rules file, keeping the admin's own rules" })
      .option('cdb', { ...value, describe: 'then compile the rules with tcprules into this cdb' })
      .option('dry-run', { alias: 'n', type: 'boolean', default: false, describe: 'print the resulting rules, write nothing' })
      .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'no summary line after --merge or --cdb (for cron); warnings and errors still go to stderr' })
      .option('json', { type: 'boolean', default: false, describe: 'print one JSON object instead (rules, black, white, notExported, leftToDeny, merge, changed, added, removed, cdb, compiled, dryRun)' })
      .example('$0 tcprules', 'print the block')
      .example('$0 tcprules --merge /etc/tcp.smtp --cdb /etc/tcp.smtp.cdb', 'update tcp.smtp and rebuild tcp.smtp.cdb')
      .example('$0 tcprules --merge /etc/tcp.smtp --dry-run | diff /etc/tcp.smtp -', 'see what would change')
      .example('$0 tcprules --merge /etc/tcp.smtp --dry-run --json', 'the rules a merge would add and remove, for a script'),
  handler: async (argv) => {
    const { run } = await import('../actions/tcprules.js');
    process.exitCode = await run({ env: processEnv(), listdir: argv.listdir, store: argv.store, merge: argv.merge, cdb: argv.cdb, dryRun: argv.dryRun, quiet: argv.quiet, json: argv.json }, wallClock());
  },
});
