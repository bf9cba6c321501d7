// One error type for everything qgrey reports to a user. The exit code is part of
// the error (100 permanent: bad input or usage; 111 temporary: try again later), and
// src/cli.ts is the one place that turns it into process.exitCode.

export type ExitCode = 100 | 111;

export class QgreyError extends Error {
  readonly exitCode: ExitCode;
  constructor(message: string, exitCode: ExitCode, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'QgreyError';
    this.exitCode = exitCode;
  }
  get permanent(): boolean {
    return this.exitCode === 100;
  }
  get temporary(): boolean {
    return this.exitCode === 111;
  }
}

/** Bad input, bad usage, a refused layout: running again will not help. */
export function permanent(message: string, cause?: unknown): QgreyError {
  return new QgreyError(message, 100, cause === undefined ? undefined : { cause });
}

/** A busy lock, an unreachable DNS server, a full disk: try again later. */
export function temporary(message: string, cause?: unknown): QgreyError {
  return new QgreyError(message, 111, cause === undefined ? undefined : { cause });
}

/** The errno-style reason of a system error, for one-line messages. */
export function reason(err: unknown): string {
  if (err && typeof err === 'object') {
    const e = err as { code?: unknown; message?: unknown };
    if (typeof e.code === 'string' && typeof e.message === 'string') {
      const m = /^[A-Z]+: ([^,]+)/.exec(e.message);
      return m?.[1] ?? e.code;
    }
    if (typeof e.message === 'string') return e.message;
  }
  return String(err);
}

/** The one table of system errors that mean "temporary": the resource may come back. */
export const TEMPORARY_ERRNOS: ReadonlySet<string> = new Set(['EAGAIN', 'EBUSY', 'ENOSPC', 'EDQUOT', 'EIO', 'EMFILE', 'ENFILE', 'ENOMEM', 'EINTR', 'ETIMEDOUT']);

export function isTemporaryErrno(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && TEMPORARY_ERRNOS.has(code);
}

/** Quote untrusted text for a one-line message: printable ASCII kept, the rest escaped, length capped. */
export function quote(text: string, max = 120): string {
  let out = '';
  for (const ch of text) {
    const c = ch.codePointAt(0) ?? 0;
    if (c === 0x5c) out += '\\\\';
    else if (c === 0x27) out += "\\'";
    else if (c >= 0x20 && c < 0x7f) out += ch;
    else if (c === 0x0d) out += '\\r';
    else if (c === 0x09) out += '\\t';
    else if (c < 0x100) out += '\\x' + c.toString(16).padStart(2, '0');
    else out += ch;
    if (out.length >= max) {
      out = out.slice(0, max) + '...';
      break;
    }
  }
  return "'" + out + "'";
}
