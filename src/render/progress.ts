// Progress for long runs: a line count on stderr, redrawn at most once a second, and only when
// stderr is a terminal, so cron mail and multilog never see it. Warnings clear it first.

export interface Progress {
  /** report how far we are (called often; draws at most once a second) */
  tick(lines: number): void;
  /** a warning line, written so it does not mix with the progress line */
  warn(message: string): void;
  /** erase the progress line (call once at the end) */
  done(): void;
}

export function progress(label: string, stream: NodeJS.WriteStream = process.stderr, prog = 'qgrey'): Progress {
  const tty = stream.isTTY === true;
  let shown = false;
  let last = Date.now();
  const clear = () => {
    if (shown) stream.write('\r\x1b[K');
    shown = false;
  };
  return {
    tick(lines) {
      if (!tty) return;
      const now = Date.now();
      if (now - last < 1000) return;
      last = now;
      shown = true;
      stream.write(`\r${prog} ${label}: ${lines} lines read...`);
    },
    warn(message) {
      clear();
      stream.write(`${prog}: warning: ${message}\n`);
    },
    done: clear,
  };
}
