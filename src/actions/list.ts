// `qgrey list`: every greylist entry as one typed record per line, kind first (like spamdb):
//   GREY|LABEL|KEY|FIRST|LAST     still inside the hold time: the next connection is greylisted
//   KNOWN|LABEL|KEY|FIRST|LAST    past the hold time: the next connection passes
//   SYMLINK|KEY|DETAIL            things in the tree that are not entries, left alone
//   ODD|KEY|DETAIL                (a directory where a file belongs, a foreign name, a FIFO...)
//   UNREADABLE|KEY|DETAIL
// FIRST and LAST are seconds since the epoch (mtime and atime). --json: one object per line.

import type { ListArgs } from '../commands/list.js';
import { keyLabel } from '../core/key.js';
import { formatCivil } from '../core/zone.js';
import { treeDir, walkTree, sanitizeName, layoutName, holdtimeFromEnv } from '../store/tree.js';
import type { Anomaly } from '../store/store.js';
import { LineWriter } from '../render/writer.js';
import { treeFs } from '../native/treefs.js';

const iso = (sec: number) => formatCivil(sec).replace(' ', 'T') + 'Z';

function anomalyKind(a: Anomaly): 'SYMLINK' | 'ODD' | 'UNREADABLE' {
  switch (a.what) {
    case 'symlink':
      return 'SYMLINK';
    case 'not-regular':
    case 'bad-name':
      return 'ODD';
    case 'unreadable':
      return 'UNREADABLE';
  }
}

export async function run(argv: ListArgs): Promise<number> {
  const root = treeDir(argv.dir);
  const hold = argv.holdtime ?? holdtimeFromEnv();
  const now = Date.now() / 1000;
  const out = new LineWriter(process.stdout, process.stdout.isTTY === true);
  const layouts = new Set<string>();
  for (const x of walkTree(root, { native: treeFs() })) {
    if (x.type === 'entry') {
      const e = x.entry;
      layouts.add(x.layout);
      const kind = e.first + hold > now ? 'GREY' : 'KNOWN';
      const label = keyLabel(e.key);
      if (argv.json) {
        await out.write(
          JSON.stringify({ kind: kind.toLowerCase(), label, key: e.key, layout: x.layout, first: x.mtime, last: x.atime, firstSeen: iso(x.mtime), lastSeen: iso(x.atime) }),
          false,
        );
      } else await out.write(`${kind}|${label}|${e.key}|${x.mtime}|${x.atime}`);
    } else if (x.type === 'anomaly') {
      const a = x.anomaly;
      const kind = anomalyKind(a);
      if (argv.json) await out.write(JSON.stringify({ kind: kind.toLowerCase(), key: sanitizeName(a.key), detail: a.detail }), false);
      else await out.write(`${kind}|${sanitizeName(a.key)}|${a.detail}`);
    }
  }
  await out.end();
  if (layouts.size > 1) {
    process.stderr.write(`qgrey: warning: ${root} mixes ${layoutName('classc')} and ${layoutName('byip')} entries; jgreylist cannot use such a tree\n`);
  }
  return 0;
}
