// qgrey-spp's control file, the MySQL plugin's (GLCONFIGFILE, else
// /var/qmail/control/greylisting: block_expire, record_expire, record_expire_good): where it
// is and the timers it gives. Read by qgrey-spp per RCPT and by `qgrey check --from/--to`.
//
// No npm imports.

import { readFileSync } from 'node:fs';
import { QgreyError } from '../core/errors.js';
import { readTimers, type Timers } from '../core/triplet.js';

import type { Env } from '../core/config.js';

/** The timers from the control file (a missing file: the defaults; an unreadable one: an error). */
export function timersFrom(path: string, env: Env): Timers {
  let text: string | null = null;
  try {
    text = readFileSync(path, 'latin1');
  } catch (err) {
    if ((err as { code?: string }).code !== 'ENOENT') throw new QgreyError(`unable to read ${path}: ${(err as Error).message.replace(/^[A-Z]+: /, '').replace(/, open .*$/, '')}`, 111);
  }
  return readTimers(text, env);
}
