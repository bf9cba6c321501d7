// For `qgrey stats`: which of the wrapper's `OK whitelisted` decisions were for a client covered
// by an `out:` entry (`whitelist outgoing`), i.e. replies to our own users' mail that passed
// without a greylisting delay. The decision lines do not name the entry (jgreylist's never
// could), so the address is looked up in the whitelist as it is now: of the entries that cover
// it and were live at the time of the line, the most specific (as the wrapper picks it) must
// have an `out:` source. An entry since replaced or removed by `clean` is not seen, and a
// client whitelisted by `tcp.smtp` (JGREYLIST="") that an `out:` entry also covers is counted.

import type { Env } from '../core/config.js';
import type { Ip } from '../core/ip.js';
import { formatIp } from '../core/ip.js';
import { netContains, netSize, type ListEntry } from '../store/lists.js';
import { openLists } from '../store/open.js';

const PREFIX = 'out:';

export interface Replies {
  /** `OK whitelisted` decisions whose client an out: entry covered */
  connections: number;
  /** per domain, most first */
  domains: { domain: string; connections: number }[];
}

export class RepliesCounter {
  private readonly entries: ListEntry[];
  private readonly cache = new Map<string, ListEntry[]>();
  private readonly byDomain = new Map<string, number>();
  private n = 0;

  constructor(entries: readonly ListEntry[]) {
    this.entries = entries.slice();
  }

  /** The whitelist of `listdir` (flag, else $QGREY_LISTDIR, else the default); null when it has no out: entry or cannot be read. */
  static async open(env: Env, listdir: string | undefined, warn: (m: string) => void, store?: string): Promise<RepliesCounter | null> {
    const all: ListEntry[] = [];
    try {
      const ls = await openLists({ listdir, store, env });
      try {
        for (const l of await ls.read('whitelist')) if (l.kind === 'entry') all.push(l.entry);
      } finally {
        await ls.close();
      }
    } catch (err) {
      // a report: say so and go on without this count
      warn(`${err instanceof Error ? err.message : String(err)}: replies through out: entries not counted`);
      return null;
    }
    return all.some((e) => e.source.startsWith(PREFIX)) ? new RepliesCounter(all) : null;
  }

  /** An `OK whitelisted` decision for `ip` at `t` (seconds). */
  whitelisted(ip: Ip, t: number): void {
    const k = formatIp(ip);
    let covering = this.cache.get(k);
    if (!covering) {
      covering = this.entries.filter((e) => netContains(e.net, ip)).sort((a, b) => netSize(a.net) - netSize(b.net));
      this.cache.set(k, covering);
    }
    const best = covering.find((e) => e.expires === null || e.expires > t);
    if (!best || !best.source.startsWith(PREFIX)) return;
    this.n++;
    const d = best.source.slice(PREFIX.length);
    this.byDomain.set(d, (this.byDomain.get(d) ?? 0) + 1);
  }

  result(): Replies {
    const domains = [...this.byDomain].map(([domain, connections]) => ({ domain, connections }));
    domains.sort((a, b) => b.connections - a.connections || (a.domain < b.domain ? -1 : 1));
    return { connections: this.n, domains };
  }
}
