// qgreyd's copies of the small files qgrey-spp reads per RCPT (the timers' control/greylisting,
// the traps list): read once and again only when the file changed (device, inode, size, mtime
// or ctime, as the lists' cache decides; src/server/lists.ts), so an answer is the one the
// per-process program would read from the file at that moment, without reading it per RCPT.
// SIGHUP forgets them (reload()).
//
// Imports node: builtins and src/core only.

import { readFileSync, statSync } from 'node:fs';
import { reason, temporary } from '../core/errors.js';

interface Held<T> {
  readonly sig: string | null;
  readonly value: T;
}

export class FileCache<T> {
  private readonly held = new Map<string, Held<T>>();

  /** `parse` gets the file's text, or null when there is no such file. */
  constructor(private readonly parse: (text: string | null, path: string) => T) {}

  reload(): void {
    this.held.clear();
  }

  get(path: string): T {
    let sig: string | null = null;
    try {
      const st = statSync(path);
      sig = `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
    } catch (err) {
      if ((err as { code?: string }).code !== 'ENOENT') throw temporary(`unable to read ${path}: ${reason(err)}`, err);
    }
    const h = this.held.get(path);
    if (h !== undefined && h.sig === sig) return h.value;
    let text: string | null = null;
    if (sig !== null) {
      try {
        text = readFileSync(path, 'latin1');
      } catch (err) {
        if ((err as { code?: string }).code !== 'ENOENT') throw temporary(`unable to read ${path}: ${reason(err)}`, err);
      }
    }
    const value = this.parse(text, path);
    // a file read while it changed is parsed again next time (its signature then differs)
    this.held.set(path, { sig: text === null ? null : sig, value });
    return value;
  }
}
