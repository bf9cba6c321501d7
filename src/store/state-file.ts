// The state file of incremental log readers (`evict --state`, `whitelist outgoing --state`,
// `traps --state`): a JSON document, written atomically (mode 0600), that remembers per inode
// how far each log file was read (logs/state.ts makes and reads those marks), plus whatever
// the command keeps of its window. A missing file is a first run; an unreadable one a
// temporary error; one of another shape is warned about and started afresh.

import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { reason, temporary } from '../core/errors.js';
import { ensureDir, writeFileAtomic } from './atomic.js';

/** The saved document, or null (first run, or not one this command wrote: `valid` said no). */
export function loadStateFile<T extends { files: unknown[] }>(path: string, valid: (s: T) => boolean, warn: (m: string) => void): T | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw temporary(`unable to read state file ${path}: ${reason(err)}`, err);
  }
  try {
    const s = JSON.parse(text) as T;
    if (typeof s !== 'object' || s === null || !Array.isArray(s.files) || !valid(s)) throw new Error('unknown shape');
    return s;
  } catch (err) {
    warn(`state file ${path} is not one qgrey wrote (${reason(err)}); starting afresh from --since`);
    return null;
  }
}

export function saveStateFile<T extends { files: unknown[] }>(path: string, s: T): void {
  // as whitelist add creates the list directory (the README's state files are in it)
  ensureDir(dirname(path), 'state directory');
  writeFileAtomic(path, JSON.stringify(s) + '\n', { mode: 0o600, what: 'state file' });
}
