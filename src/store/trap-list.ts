// The blacklist entries of spamtrap hits: `ADDRESS EXPIRY trap:TRAP`, one per client address,
// written into the list directory's blacklist (qgrey(5)) so that qgreylist refuses the client
// at connect. Used by qgrey-spp at RCPT and by `qgrey traps` from the logs. Under the list's
// lock, atomic, every other line kept byte for byte.
//
// No npm imports: the per-RCPT path.

import { readFileSync } from 'node:fs';
import { reason, temporary } from '../core/errors.js';
import { parseTraps, type Traps } from '../core/traps.js';
import { formatEntry, header, listPath, parseLine, updateList, type ListLine, type ListWrite } from './lists.js';

export const TRAPS_FILE = 'traps';

/** The traps list of the list directory; a missing file is no traps. */
export function readTraps(listDir: string): Traps {
  const path = `${listDir}/${TRAPS_FILE}`;
  let text = '';
  try {
    text = readFileSync(path, 'latin1');
  } catch (err) {
    if ((err as { code?: string }).code !== 'ENOENT') throw temporary(`unable to read ${path}: ${reason(err)}`, err);
  }
  return parseTraps(text);
}

export type TrapWrite = 'added' | 'extended' | 'kept';

/**
 * The blacklist change of one trapped client, for any list store (updateList, ListStore.update):
 * blacklist `address` (a canonical IP) until `until` with source `source` (trap:…). An entry of
 * a trap for it that lasts longer is kept; a shorter one is extended. `what()` says what the
 * last call of `change` did.
 */
export function trapChange(address: string, source: string, until: number): { change: (lines: ListLine[]) => ListLine[] | null; what: () => TrapWrite } {
  let what: TrapWrite = 'kept';
  const fresh = parseLine(formatEntry({ address, expires: Math.ceil(until), source, message: null, comment: '' }), 0);
  return {
    what: () => what,
    change: (lines) => {
      what = 'kept';
      const k = lines.findIndex((l) => l.kind === 'entry' && l.entry.address === address && l.entry.source.startsWith('trap:'));
      if (k === -1) {
        what = 'added';
        const head: ListLine[] =
          lines.length > 0
            ? lines
            : header('blacklist')
                .trimEnd()
                .split('\n')
                .map((text, i) => ({ kind: 'comment' as const, line: i + 1, text }));
        return [...head, fresh];
      }
      const old = lines[k]!;
      if (old.kind === 'entry' && (old.entry.expires === null || old.entry.expires >= Math.ceil(until))) return null;
      what = 'extended';
      const out = lines.slice();
      out[k] = fresh;
      return out;
    },
  };
}

/** trapChange() on the list directory's blacklist file, under its lock, atomically. `dryRun`: nothing written. */
export function blacklistTrapped(listDir: string, address: string, source: string, until: number, opts: ListWrite = {}): TrapWrite {
  const t = trapChange(address, source, until);
  updateList(listPath(listDir, 'blacklist'), t.change, opts);
  return t.what();
}
