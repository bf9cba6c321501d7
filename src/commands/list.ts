import { processEnv } from '../core/config.js';
import { defineCommand, value } from './define.js';
import { STORE_OPTION } from './store-option.js';
import { wholeOption } from '../actions/options.js';
import { wallClock } from '../core/clock.js';

export const list = defineCommand({
  command: 'list',
  describe: 'print every greylist entry, one typed record per line: KIND|LABEL|KEY|FIRST|LAST',
  builder: (y) =>
    y
      .option('dir', { ...value, describe: 'the greylist tree (default: $JGREYLIST_DIR, else /var/qmail/jgreylist)' })
      .option('store', STORE_OPTION)
      .option('holdtime', { ...value, describe: 'seconds an entry stays GREY before it is KNOWN (default: $JGREYLIST_HOLDTIME, else 120)' })
      .option('utc', { type: 'boolean', default: false, describe: 'print FIRST and LAST in UTC instead of the local zone (TZ)' })
      .option('json', { type: 'boolean', default: false, describe: 'one JSON object per line (kind, label, key, layout, first, last: seconds since the epoch; firstSeen, lastSeen: ISO 8601 UTC)' })
      .option('triplets', { type: 'boolean', default: false, describe: "print qgrey-spp's triplets instead: KIND|NET|FROM|TO|FIRST|LAST|UNTIL-OR-EXPIRES|PASSED|BLOCKED, KIND DEFERRED, PASSED or EXPIRED" })
      .option('rcpt-dir', { ...value, describe: "with --triplets: qgrey-spp's triplet directory (default: $QGREY_RCPT_DIR, else /var/qmail/qgrey-rcpt; the Redis store's when --store or QGREY_STORE names one)" })
      .epilog(
        'Kinds: GREY (inside the hold time), KNOWN (past it); SYMLINK, ODD, UNREADABLE for things in the tree that are not entries (KIND|KEY|DETAIL). FIRST and LAST are local times, YYYY-MM-DD HH:MM:SS as tai64nlocal prints them (TZ; --utc for UTC): mtime = first seen, atime = last seen. --json has them as seconds since the epoch.',
      )
      .example('$0 list --dir /var/qmail/jgreylist', 'everything, for awk')
      .example("$0 list | awk -F'|' '$1 == \"GREY\"' | wc -l", 'how many senders are waiting out the hold time')
      .example("$0 list --utc | sort -t'|' -k5 | tail -3", 'the three entries seen last, times in UTC')
      .example("$0 list --triplets | awk -F'|' '$1 == \"DEFERRED\" && $9 == 1' | wc -l", 'triplets deferred once and not retried (yet)'),
  handler: async (argv) => {
    if (argv.triplets) {
      const { runTriplets } = await import('../actions/list-triplets.js');
      process.exitCode = await runTriplets({ env: processEnv(), rcptDir: argv.rcptDir, store: argv.store, utc: argv.utc, json: argv.json }, wallClock);
      return;
    }
    const { run } = await import('../actions/list.js');
    process.exitCode = await run({
      env: processEnv(),
      dir: argv.dir, store: argv.store,
      holdtime: argv.holdtime === undefined ? undefined : wholeOption(argv.holdtime, '--holdtime', 0, Number.MAX_SAFE_INTEGER, 'seconds'),
      utc: argv.utc,
      json: argv.json,
    }, wallClock);
  },
});
