// `qgrey list`: every greylist entry as one typed record per line, kind first (like spamdb):
//   GREY|LABEL|KEY|FIRST|LAST     still inside the hold time: the next connection is greylisted
//   KNOWN|LABEL|KEY|FIRST|LAST    past the hold time: the next connection passes
//   SYMLINK|KEY|DETAIL            things in the tree that are not entries, left alone
//   ODD|KEY|DETAIL                (a directory where a file belongs, a foreign name, a FIFO...)
//   UNREADABLE|KEY|DETAIL
// FIRST and LAST are first seen (mtime) and last seen (atime) as `YYYY-MM-DD HH:MM:SS` in the
// local zone (TZ), as tai64nlocal prints times (--utc: in UTC). --json: one object per line, with
// the times as seconds since the epoch (first, last) and in ISO 8601 UTC (firstSeen, lastSeen).

import { warn } from '../render/diag.js';
import { keyLabel } from '../core/key.js';
import { formatCivil, Zone } from '../core/zone.js';
import { holdtime, treeDir, type Env } from '../core/config.js';
import { openStore, type OpenStore } from '../store/open.js';
import { keyLayout, sanitizeName, type Anomaly } from '../store/store.js';
import { LineWriter } from '../render/writer.js';
import type { Clock } from '../core/clock.js';

/** What `qgrey list` is given (built by src/commands/list.ts). */
export interface ListArgs {
  /** the environment: the settings a flag does not give (src/core/config.ts) */
  env: Env;
  dir?: string;
  /** --store: the shared Redis store (openStore) */
  store?: string;
  holdtime?: number;
  /** --utc: FIRST and LAST in UTC, not the local zone */
  utc?: boolean;
  json: boolean;
}

const iso = (sec: number) => formatCivil(sec).replace(' ', 'T') + 'Z';

function anomalyKind(a: Anomaly): 'SYMLINK' | 'ODD' | 'UNREADABLE' {
  switch (a.what) {
    case 'symlink':
      return 'SYMLINK';
    case 'not-regular':
    case 'bad-name':
    case 'linked':
      return 'ODD';
    case 'unreadable':
      return 'UNREADABLE';
  }
}

export async function run(argv: ListArgs, clock: Clock, open: OpenStore = openStore): Promise<number> {
  const root = treeDir(argv.dir, argv.env);
  const hold = argv.holdtime ?? holdtime(argv.env);
  const now = clock();
  const zone = argv.utc === true ? new Zone('UTC') : new Zone();
  const local = (sec: number) => zone.formatSeconds(Math.floor(sec));
  const out = new LineWriter(process.stdout, process.stdout.isTTY === true);
  // anomalies arrive before the batch that follows them in the walk: written in that order
  const odd: string[] = [];
  let mixed: string | null = null;
  const store = await open({
    env: argv.env,
    dir: root,
    readOnly: true,
    store: argv.store,
    onAnomaly: (a) => {
      const kind = anomalyKind(a);
      odd.push(argv.json ? JSON.stringify({ kind: kind.toLowerCase(), key: sanitizeName(a.key), detail: a.detail }) : `${kind}|${sanitizeName(a.key)}|${a.detail}`);
    },
  });
  const flush = async () => {
    for (const line of odd.splice(0)) await out.write(line, !argv.json);
  };
  try {
    for await (const batch of store.scan({ mixed: 'report', onMixed: (m) => (mixed = m) })) {
      await flush();
      for (const e of batch) {
        const kind = e.first + hold > now ? 'GREY' : 'KNOWN';
        const label = keyLabel(e.key);
        if (argv.json) {
          await out.write(
            JSON.stringify({ kind: kind.toLowerCase(), label, key: e.key, layout: keyLayout(e.key), first: e.mtime, last: e.atime, firstSeen: iso(e.mtime), lastSeen: iso(e.atime) }),
            false,
          );
        } else await out.write(`${kind}|${label}|${e.key}|${local(e.mtime)}|${local(e.atime)}`);
      }
    }
    await flush();
  } finally {
    await store.close();
  }
  await out.end();
  if (mixed !== null) warn(mixed);
  return 0;
}
