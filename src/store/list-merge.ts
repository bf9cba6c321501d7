// One list merged into another (`qgrey sync`: the list files and the shared Redis store's
// lists, either way round). An entry is the same entry on both sides when it covers the same
// addresses and has the same SOURCE. Nothing is removed from the target:
//   - an entry only the source has is added at the end, its line as written there;
//   - an entry both have: the one that lasts longer (`never` is longest) wins, its line as
//     written on its side; on a tie the target's line is kept (so two runs, one each way,
//     agree and a third changes nothing; a MESSAGE or COMMENT changed on one side only moves
//     with a longer expiry);
//   - source entries expired at `now` and lines the source cannot parse are left out;
//     the target's own lines (comments, other entries, lines it cannot parse) are kept byte
//     for byte.
// A target with no line at all gets the source's text, comments included, less what is left out.
//
// No npm imports.

import { isExpired, netKey, type ListLine } from './lists.js';

export interface ListMergeCounts {
  /** entries read from the source */
  read: number;
  added: number;
  updated: number;
  unchanged: number;
  /** source entries expired, left out */
  expired: number;
  /** source lines not understood, left out */
  bad: number;
}

const keyOf = (l: ListLine & { kind: 'entry' }) => `${netKey(l.entry.net)} ${l.entry.source}`;
/** seconds, `never` as infinity */
const until = (l: ListLine & { kind: 'entry' }) => l.entry.expires ?? Infinity;

/** The target's new lines (null: no change) and the counts. */
export function mergeListLines(target: readonly ListLine[], source: readonly ListLine[], now: number): { lines: ListLine[] | null; counts: ListMergeCounts } {
  const counts: ListMergeCounts = { read: 0, added: 0, updated: 0, unchanged: 0, expired: 0, bad: 0 };
  const live: (ListLine & { kind: 'entry' })[] = [];
  for (const l of source) {
    if (l.kind === 'bad') counts.bad++;
    if (l.kind !== 'entry') continue;
    counts.read++;
    if (isExpired(l.entry, now)) counts.expired++;
    else live.push(l);
  }
  if (target.length === 0) {
    counts.added = live.length;
    const out = source.filter((l) => l.kind === 'comment' || (l.kind === 'entry' && !isExpired(l.entry, now)));
    return { lines: out.length > 0 ? out : null, counts };
  }
  const out = target.slice();
  const at = new Map<string, number>();
  out.forEach((l, i) => {
    if (l.kind === 'entry' && !at.has(keyOf(l))) at.set(keyOf(l), i);
  });
  let changed = false;
  for (const l of live) {
    const k = keyOf(l);
    const i = at.get(k);
    if (i === undefined) {
      at.set(k, out.length);
      out.push(l);
      counts.added++;
      changed = true;
      continue;
    }
    const t = out[i] as ListLine & { kind: 'entry' };
    if (until(l) > until(t)) {
      out[i] = l;
      counts.updated++;
      changed = true;
    } else counts.unchanged++;
  }
  return { lines: changed ? out : null, counts };
}
