import type { CommandModule } from 'yargs';

export interface CheckArgs {
  ip: string;
  dir?: string;
  'by-ip'?: boolean;
  holdtime?: number;
  listdir?: string;
  json: boolean;
}

export const check: CommandModule<object, CheckArgs> = {
  command: 'check <ip>',
  describe: 'say what the wrapper would decide for an address right now, and why (changes nothing)',
  builder: (y) =>
    y
      .positional('ip', { type: 'string', demandOption: true, describe: 'the client address (IPv4, IPv6, or ::ffff:a.b.c.d)' })
      .option('dir', { type: 'string', describe: 'the greylist tree (default: $JGREYLIST_DIR, else /var/qmail/jgreylist)' })
      .option('by-ip', { type: 'boolean', describe: 'the tree is per IP, for an empty tree (default: the layout the tree has, else $JGREYLIST_BY_IP)' })
      .option('holdtime', { type: 'number', describe: 'hold time in seconds (default: $JGREYLIST_HOLDTIME, else 120)' })
      .option('listdir', { type: 'string', describe: 'where the white- and blacklist are (default: $QGREY_LISTDIR, else /var/qmail/control/qgrey)' })
      .option('json', { type: 'boolean', default: false, describe: 'print the answer as one JSON object' })
      .example('$0 check 192.0.2.7', 'greylisted, and if so until when?')
      .example('$0 check --json --dir /var/qmail/jgreylist 2001:db8::25', 'the same for an IPv6 client, as JSON'),
  handler: async (argv) => {
    const { run } = await import('../actions/check.js');
    process.exitCode = await run(argv);
  },
};
