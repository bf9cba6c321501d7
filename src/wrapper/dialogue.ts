// qgreylist's own fake SMTP dialogue, used when rblsmtpd cannot do the job: JGREYLIST_LIMIT
// (hang up at the N-th RCPT) and JGREYLIST_LOG_SMTP (log the dialogue) need it, and it is the
// fallback when no rblsmtpd is installed. It answers as jgreylist v8 does, with two fixes:
// a client that hangs up is let go at once, and what the client sent is cleaned before it
// is logged. No npm imports (per-connection path).
//
// jgreylist v8, for reference: greeting `220 BANNER`; HELO, EHLO, MAIL, RSET -> `250 BANNER`;
// QUIT -> `221 BANNER` and the end; anything else -> the error line (`450 GREYLIST …`,
// `553 DENIED …`); with a limit, the N-th RCPT -> `421 Too many RCPT commands, goodbye.`;
// the whole conversation is limited to JGREYLIST_TIMEOUT seconds -> `421 timeout`.

import { read, write } from 'node:fs';
import { clean } from '../core/text.js';

export const BANNER = 'qgreylist';
export const TOO_MANY = '421 Too many RCPT commands, goodbye.';
/** jgreylist keeps only the first 31 bytes of a command; we keep a little more for the log */
export const MAX_LINE = 512;

export type End = 'quit' | 'limit';

export interface Answer {
  readonly reply: string;
  /** the conversation ends after this reply */
  readonly end: End | null;
}

/** The verb of a command line: its first word, upper-cased (jgreylist's comparison). */
export function verbOf(line: string): string {
  let i = 0;
  while (i < line.length && i < 31) {
    const c = line.charCodeAt(i);
    if (c === 32 || (c >= 9 && c <= 13)) break;
    i++;
  }
  return line.slice(0, i).toUpperCase();
}

/** The conversation's state: pure, one command line in, one reply out. */
export class Dialogue {
  private rcpts = 0;
  /**
   * @param error the full reply to every other command, e.g. `450 GREYLIST Try again later.`
   * @param limit JGREYLIST_LIMIT (0: off)
   */
  constructor(
    readonly error: string,
    readonly limit: number,
  ) {}

  greeting(): string {
    return '220 ' + BANNER;
  }

  answer(line: string): Answer {
    const verb = verbOf(line);
    if (verb === 'QUIT') return { reply: '221 ' + BANNER, end: 'quit' };
    if (verb === 'HELO' || verb === 'EHLO' || verb === 'MAIL' || verb === 'RSET') return { reply: '250 ' + BANNER, end: null };
    if (this.limit !== 0 && verb === 'RCPT') {
      this.rcpts++;
      if (this.rcpts >= this.limit) return { reply: TOO_MANY, end: 'limit' };
    }
    return { reply: this.error, end: null };
  }
}

export type Ending = End | 'closed' | 'timeout';

export interface ConverseOptions {
  readonly inFd: number;
  readonly outFd: number;
  readonly timeoutMs: number;
  /** JGREYLIST_LOG_SMTP: called with `>>> reply` and `<<< command` (already cleaned) */
  readonly trace: ((line: string) => void) | null;
}

/**
 * Hold the conversation on inFd/outFd until QUIT, the RCPT limit, the client hanging up
 * (end of file or a read error), or the timeout for the whole conversation. Reads go
 * through libuv's thread pool so the descriptor's flags are never changed; at most
 * MAX_LINE bytes of a line are kept, so a client cannot make us hold more memory.
 * Resolves with how it ended; the caller exits the process (a read may still be pending).
 */
export function converse(d: Dialogue, o: ConverseOptions): Promise<Ending> {
  return new Promise((resolve) => {
    let done = false;
    let pending = 0; // writes in flight
    let ending: Ending | null = null;
    const queue: Buffer[] = [];
    let grace: NodeJS.Timeout | undefined;

    const finish = (how: Ending) => {
      if (ending === null) ending = how;
      if (pending === 0 && queue.length === 0 && !done) {
        done = true;
        clearTimeout(timer);
        clearTimeout(grace);
        resolve(ending);
      }
    };
    const flush = () => {
      if (pending > 0 || queue.length === 0) {
        if (ending !== null) finish(ending);
        return;
      }
      const b = queue.shift()!;
      pending++;
      write(o.outFd, b, 0, b.length, null, (err, n) => {
        pending--;
        if (err) {
          queue.length = 0;
          finish('closed');
          return;
        }
        if (n < b.length) queue.unshift(b.subarray(n));
        flush();
      });
    };
    const say = (reply: string) => {
      o.trace?.('>>> ' + reply);
      queue.push(Buffer.from(reply + '\r\n', 'latin1'));
      flush();
    };

    const timer = setTimeout(() => {
      if (ending === null) {
        say('421 timeout');
        finish('timeout');
      }
      // a client that does not read can keep a write pending: give it a moment, no more
      grace = setTimeout(() => {
        if (done) return;
        done = true;
        resolve(ending ?? 'timeout');
      }, 2000);
    }, o.timeoutMs);

    let line = '';
    const buf = Buffer.allocUnsafe(4096);
    const more = () => {
      read(o.inFd, buf, 0, buf.length, null, (err, n) => {
        if (ending !== null) return;
        if (err || n === 0) {
          finish('closed');
          return;
        }
        let start = 0;
        for (let i = 0; i < n; i++) {
          if (buf[i] !== 10) continue;
          line += buf.toString('latin1', start, Math.min(i, start + MAX_LINE - line.length));
          start = i + 1;
          if (o.trace) o.trace('<<< ' + clean(line));
          const a = d.answer(line.endsWith('\r') ? line.slice(0, -1) : line);
          line = '';
          say(a.reply);
          if (a.end !== null) {
            finish(a.end);
            return;
          }
        }
        if (start < n && line.length < MAX_LINE) line += buf.toString('latin1', start, Math.min(n, start + MAX_LINE - line.length));
        more();
      });
    };

    say(d.greeting());
    more();
  });
}
