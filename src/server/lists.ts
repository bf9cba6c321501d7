// qgreyd's lists: the whitelist and blacklist files parsed once and held in memory, indexed
// so a lookup reads a few entries instead of the whole file. Each lookup first stats the file
// (a few microseconds) and parses it again when it changed (inode, size, mtime or ctime), so
// an answer is always the one the per-process program would read from the file at that moment;
// SIGHUP forgets every parse (reload()).
//
// The answer is the same as findInList's (src/store/lists.ts): of the live entries that cover
// the address, the most specific (fewest addresses) wins, and on a tie the first in the file.
// Imports node: builtins, src/core and src/store only (no npm package).

import type { Ip } from '../core/ip.js';
import { DEFAULT_BLACK_MESSAGE, fileSignature, isExpired, netContains, netSize, parseList, readListText, type ListEntry } from '../store/lists.js';

/** One list file's entries, IPv4 ones bucketed by every first octet they cover. */
export class ListIndex {
  readonly entries: number;
  readonly bad: number;
  private readonly v4: (ListEntry[] | undefined)[] = new Array(256);
  private readonly v6: ListEntry[] = [];

  constructor(text: string) {
    let entries = 0;
    let bad = 0;
    for (const l of parseList(text)) {
      if (l.kind === 'bad') bad++;
      if (l.kind !== 'entry') continue;
      entries++;
      const n = l.entry.net;
      if (n.family === 6) {
        this.v6.push(l.entry);
        continue;
      }
      for (let o = Math.floor(n.lo / 16777216); o <= Math.floor(n.hi / 16777216); o++) (this.v4[o] ??= []).push(l.entry);
    }
    this.entries = entries;
    this.bad = bad;
  }

  /** The entry that decides for `ip` at `now` (seconds), or null. */
  find(ip: Ip, now: number): ListEntry | null {
    const cands = ip.family === 4 ? this.v4[Math.floor(ip.value / 16777216)] : this.v6;
    if (cands === undefined) return null;
    let best: ListEntry | null = null;
    let bestSize = Infinity;
    // candidates are in file order, so `<` keeps the first of equally specific entries
    for (const e of cands) {
      if (!netContains(e.net, ip) || isExpired(e, now)) continue;
      const size = netSize(e.net);
      if (size < bestSize) {
        best = e;
        bestSize = size;
      }
    }
    return best;
  }
}

interface Held {
  /** what the file was when parsed; null when it did not exist */
  readonly sig: string | null;
  readonly index: ListIndex | null;
}

const EMPTY = new ListIndex('');

/** The list files of one directory, each parsed when first needed and again when it changes. */
export class ListCache {
  private readonly held = new Map<string, Held>();
  /** called with (path, entries, bad lines) after each parse, and (path, -1, 0) when a file went away */
  onLoad: ((path: string, entries: number, bad: number) => void) | null = null;

  /** Forget every parse: the next lookup reads each file again (SIGHUP). */
  reload(): void {
    this.held.clear();
  }

  /** The index for `path`, read again if the file changed. Throws temporary() when it cannot be read. */
  index(path: string): ListIndex {
    const sig = fileSignature(path);
    const h = this.held.get(path);
    if (h !== undefined && h.sig === sig) return h.index ?? EMPTY;
    if (sig === null) {
      this.held.set(path, { sig, index: null });
      if (h !== undefined) this.onLoad?.(path, -1, 0);
      return EMPTY;
    }
    // read as the per-process program reads it (a missing file is an empty list)
    const index = new ListIndex(readListText(path));
    this.held.set(path, { sig, index });
    this.onLoad?.(path, index.entries, index.bad);
    return index;
  }

  /** findInList's answer for `ip` in the list at `path`, from memory. */
  find(path: string, ip: Ip, now: number): { readonly label: string; readonly message: string } | null {
    const e = this.index(path).find(ip, now);
    return e === null ? null : { label: e.address, message: e.message ?? DEFAULT_BLACK_MESSAGE };
  }
}
