import { processEnv } from '../core/config.js';
import { defineCommand, value } from './define.js';
import { STORE_OPTION } from './store-option.js';
import { wallClock } from '../core/clock.js';

export const importCommand = defineCommand({
  command: 'import',
  describe: "move off the MySQL greylisting plugin: its triplets into qgrey-spp's directory, its white/black lists into qgrey's",
  builder: (y) =>
    y
      .option('defaults-file', { ...value, describe: "the plugin's mysql.cnf ([client] socket, host, port, user, password, database); default: the mysql_default_file of /var/qmail/control/greylisting" })
      .option('socket', { ...value, describe: 'the MySQL socket (over the defaults file)' })
      .option('host', { ...value, describe: 'the MySQL host (over the defaults file)' })
      .option('port', { type: 'number', describe: 'the MySQL port (default 3306)' })
      .option('user', { ...value, describe: 'the MySQL user (default: the defaults file\'s, else greylisting)' })
      .option('database', { ...value, describe: 'the database (default: the defaults file\'s, else greylisting)' })
      .option('rcpt-dir', { ...value, describe: 'the triplet directory of qgrey-spp (default: $QGREY_RCPT_DIR, else /var/qmail/qgrey-rcpt)' })
      .option('listdir', { ...value, describe: 'the list directory (default: $QGREY_LISTDIR, else /var/qmail/control/qgrey)' })
      .option('store', { ...STORE_OPTION, describe: 'the shared greylist store (redis://, rediss:// or redis+sentinel:// URL) whose whitelist and blacklist get the list rows (default: $QGREY_STORE; unset: the list files); the triplets go to --rcpt-dir either way (qgrey-spp on the Redis store does not read them there)' })
      .option('by-ip', { type: 'boolean', default: false, describe: 'key triplets by the client address, as qgrey-spp with QGREY_RCPT_BY_IP=1' })
      .option('dry-run', { type: 'boolean', default: false, alias: 'n', describe: 'read the tables and say what would be written; write nothing' })
      .option('json', { type: 'boolean', default: false, describe: 'print the summary as one JSON object' })
      .option('quiet', { type: 'boolean', default: false, alias: 'q', describe: 'no summary line' })
      .example('$0 import --dry-run', "what the import would bring over, connecting as the plugin does (control/greylisting's mysql_default_file)")
      .example('$0 import --socket /run/mysqld/mysqld.sock --user greylisting', 'bring it over from a local server'),
  handler: async (argv) => {
    const { run } = await import('../actions/import.js');
    process.exitCode = await run({
      env: processEnv(),
      defaultsFile: argv.defaultsFile,
      socket: argv.socket,
      host: argv.host,
      port: argv.port,
      user: argv.user,
      database: argv.database,
      rcptDir: argv.rcptDir,
      listdir: argv.listdir,
      store: argv.store,
      byIp: argv.byIp,
      dryRun: argv.dryRun,
      json: argv.json,
      quiet: argv.quiet,
    }, wallClock);
  },
});
