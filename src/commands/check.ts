import { processEnv } from '../core/config.js';
import { defineCommand, value } from './define.js';
import { STORE_OPTION } from './store-option.js';
import { wholeOption } from '../actions/options.js';
import { wallClock } from '../core/clock.js';

export const check = defineCommand({
  command: 'check <ip>',
  describe: 'say what the wrapper would decide for an address right now, and why (changes nothing)',
  builder: (y) =>
    y
      .positional('ip', { type: 'string', demandOption: true, describe: 'the client address (IPv4, IPv6, or ::ffff:a.b.c.d)' })
      .option('dir', { ...value, describe: 'the greylist tree (default: $JGREYLIST_DIR, else /var/qmail/jgreylist)' })
      .option('store', STORE_OPTION)
      .option('by-ip', { type: 'boolean', describe: 'the tree is per IP, for an empty tree (default: the layout the tree has, else $JGREYLIST_BY_IP)' })
      .option('holdtime', { ...value, describe: 'hold time in seconds (default: $JGREYLIST_HOLDTIME, else 120)' })
      .option('listdir', { ...value, describe: 'where the white- and blacklist are (default: $QGREY_LISTDIR, else /var/qmail/control/qgrey)' })
      .option('from', { ...value, describe: 'with --to: the sender of an RCPT (default: the null sender)' })
      .option('to', { ...value, describe: 'also say what qgrey-spp would answer for an RCPT to this recipient (its triplet, the traps)' })
      .option('rcpt-dir', { ...value, describe: "qgrey-spp's triplet directory when there is no --store (default: $QGREY_RCPT_DIR, else /var/qmail/qgrey-rcpt)" })
      .option('json', { type: 'boolean', default: false, describe: 'print the answer as one JSON object' })
      .example('$0 check 192.0.2.7', 'greylisted, and if so until when?')
      .example('$0 check 192.0.2.7 --from news@sender.example --to bob@example.net', 'and that triplet at RCPT?')
      .example('$0 check --json --dir /var/qmail/jgreylist 2001:db8::25', 'the same for an IPv6 client, as JSON'),
  handler: async (argv) => {
    const { run } = await import('../actions/check.js');
    process.exitCode = await run({
      env: processEnv(),
      ip: argv.ip,
      dir: argv.dir,
      byIp: argv.byIp,
      holdtime: argv.holdtime === undefined ? undefined : wholeOption(argv.holdtime, '--holdtime', 0, Number.MAX_SAFE_INTEGER, 'seconds'),
      listdir: argv.listdir, store: argv.store,
      from: argv.from,
      to: argv.to,
      rcptDir: argv.rcptDir,
      json: argv.json,
    }, wallClock);
  },
});
