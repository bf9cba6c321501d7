// Text that reaches the log or the client: cleaned the way tcpserver and rblsmtpd clean it,
// and the one write that puts a line on a descriptor. No npm imports (per-connection path).

import { writeSync } from 'node:fs';
import { clean, replyText } from '../core/text.js';

export { clean, replyText };

/**
 * The address as it appears in a decision line: exactly as tcpserver gave it when it is a
 * valid address (jgreylist prints TCPREMOTEIP as is), otherwise cleaned to one word so the
 * line still parses; `-` when there is none.
 */
export function logAddress(text: string, valid: boolean): string {
  if (text === '') return '-';
  return valid ? text : clean(text, 64, false);
}

/** Write all of `text` to `fd`; a non-blocking log pipe that is full is waited on a little, then the line is given up. */
export function writeAll(fd: number, text: string): void {
  const b = Buffer.from(text, 'latin1');
  let off = 0;
  let spins = 0;
  while (off < b.length) {
    try {
      off += writeSync(fd, b, off, b.length - off);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EAGAIN' && spins++ < 1000) {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
        continue;
      }
      throw err;
    }
  }
}
