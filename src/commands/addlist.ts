// qgrey addlist -whitelist|-blacklist YYYY-MM-DD HH:MM:SS < FILE: the seed's addlist.pl
// spelling, so an existing cron line keeps working (same as `qgrey whitelist load --until`).
import { processEnv } from '../core/config.js';
import { defineCommand, value } from './define.js';
import { STORE_OPTION } from './store-option.js';
import { wallClock } from '../core/clock.js';

export const addlist = defineCommand({
  command: 'addlist <date> [time]',
  describe: 'alias for addlist.pl: load stdin into the whitelist or blacklist until DATE TIME (local time)',
  builder: (y) =>
    y
      // addlist.pl spells its flags with one dash: -whitelist must not become -w -h -i …
      .parserConfiguration({ 'short-option-groups': false })
      .positional('date', { type: 'string', demandOption: true, describe: 'expiry date YYYY-MM-DD (9999-12-31 means never)' })
      .positional('time', { type: 'string', describe: 'expiry time HH:MM:SS' })
      .option('whitelist', { type: 'boolean', default: false, describe: 'load into the whitelist' })
      .option('blacklist', { type: 'boolean', default: false, describe: 'load into the blacklist' })
      .option('listdir', { ...value, describe: 'directory of the list files (default: $QGREY_LISTDIR, else /var/qmail/control/qgrey)' })
      .option('store', STORE_OPTION)
      .option('dry-run', { type: 'boolean', default: false, describe: 'show what would change, write nothing' })
      .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'nothing on success (for cron); errors still go to stderr' })
      .option('json', { type: 'boolean', default: false, describe: 'print what changed as one JSON object, in the shape of whitelist load' })
      .example('$0 addlist -whitelist 9999-12-31 23:59:59 < whitelist_ip.txt', 'the seed\'s cron line, unchanged')
      .example('$0 addlist -blacklist 2026-12-31 23:59:59 < blacklist_ip.txt', 'blacklist until the end of 2026'),
  handler: async (argv) => {
    const { runAddlist } = await import('../actions/lists.js');
    process.exitCode = await runAddlist({
      env: processEnv(),
      whitelist: argv.whitelist,
      blacklist: argv.blacklist,
      date: argv.date,
      time: argv.time,
      listdir: argv.listdir, store: argv.store,
      dryRun: argv.dryRun,
      quiet: argv.quiet,
      json: argv.json,
    }, wallClock());
  },
});
