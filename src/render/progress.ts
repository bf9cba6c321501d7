// Progress for long runs: a line count on stderr, redrawn at most once a second, and only when
// stderr is a terminal, so cron mail and multilog never see it. Warnings clear it first.

import { warningLine } from './diag.js';

export interface Progress {
  /** report how far we are (called often; draws at most once a second) */
  tick(lines: number): void;
  /** say which phase is running now (drawn at once, on a terminal only): 'writing 81632 entries into the tree' */
  phase(text: string): void;
  /** a warning line, written so it does not mix with the progress line */
  warn(message: string): void;
  /** erase the progress line (call once at the end) */
  done(): void;
}

export interface ProgressOptions {
  /** where to draw (default stderr); drawn only when it is a terminal */
  readonly stream?: { readonly isTTY?: boolean; write(text: string): unknown };
  /** the clock, in milliseconds (default Date.now) */
  readonly clock?: () => number;
}

export function progress(label: string, { stream = process.stderr, clock = Date.now }: ProgressOptions = {}): Progress {
  const tty = stream.isTTY === true;
  let shown = false;
  let last = clock();
  const clear = () => {
    if (shown) stream.write('\r\x1b[K');
    shown = false;
  };
  return {
    tick(lines) {
      if (!tty) return;
      const now = clock();
      if (now - last < 1000) return;
      last = now;
      shown = true;
      stream.write(`\rqgrey ${label}: ${lines} lines read...`);
    },
    phase(text) {
      if (!tty) return;
      last = clock();
      shown = true;
      stream.write(`\r\x1b[Kqgrey ${label}: ${text}...`);
    },
    warn(message) {
      clear();
      stream.write(warningLine(message));
    },
    done: clear,
  };
}
