// Buffered line output with back-pressure. Lines are latin1 strings (one char per byte) so
// log text goes out byte for byte; on a terminal, control bytes are shown as '?' so a log
// line can never drive the terminal.

import type { Writable } from 'node:stream';

const HIGH = 64 * 1024;

export class LineWriter {
  private parts: string[] = [];
  private size = 0;
  constructor(
    private readonly stream: Writable,
    private readonly sanitize: boolean,
  ) {}

  /** Queue one line (latin1); flush when the buffer is full. */
  async write(line: string, latin1 = true): Promise<void> {
    this.line(line, latin1);
    if (this.size >= HIGH) await this.flush();
  }

  /** Queue one line; `latin1` false means the text is UTF-8 (JSON). */
  line(text: string, latin1: boolean): void {
    const t = this.sanitize ? text.replace(/[\x00-\x08\x0a-\x1f\x7f]/g, '?') : text;
    if (!latin1) {
      this.parts.push(Buffer.from(t + '\n', 'utf8').toString('latin1'));
    } else this.parts.push(t, '\n');
    this.size += t.length + 1;
  }

  async flush(): Promise<void> {
    if (!this.parts.length) return;
    const buf = Buffer.from(this.parts.join(''), 'latin1');
    this.parts = [];
    this.size = 0;
    if (!this.stream.write(buf)) {
      await new Promise<void>((res) => {
        const done = () => {
          this.stream.off('drain', done);
          this.stream.off('close', done);
          res();
        };
        this.stream.on('drain', done);
        this.stream.on('close', done);
      });
    }
  }

  async end(): Promise<void> {
    await this.flush();
  }
}
