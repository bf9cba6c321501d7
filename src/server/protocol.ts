// qgreyd's line protocol, spoken by bin/qgreylist with bash's /dev/tcp and `read` (no fork).
// Pure: bytes in, a request or a reason out; a verdict in, bytes out.
//
// Request (client -> qgreyd), bytes, lines ending in LF, at most MAX_REQUEST bytes:
//
//     qgreyd1 SECRET PID EUID          the shared secret, the connection's pid (for the log
//                                      line) and the client's effective uid
//     qgreyd1 SECRET PID EUID rcpt     the same for one RCPT of bin/qgrey-spp (triplet
//                                      greylisting, src/spp/); a qgreyd without it refuses
//                                      the header as malformed, and the client falls back
//     NAME=VALUE                       one per variable that is set, in any order; NAME is
//     ...                              [A-Za-z_][A-Za-z0-9_]*; in VALUE `%`, LF and CR are
//                                      written %25, %0A, %0D (any %HH is decoded)
//     (an empty line)                  the end
//
// VALUE is decoded to bytes and then read as UTF-8, as Node reads its own environment, so
// qgreyd sees what the per-process program would see in process.env.
//
// Reply (qgreyd -> client), then qgreyd closes the connection; every reply ends with `.` on
// a line of its own, so a cut reply is never acted on:
//
//     qgreyd1 exec NL LOG NL . NL                            run the next program
//     qgreyd1 rbl NL TIMEOUT NL PATH NL RBLSMTPD NL LOG NL . NL   exec PATH -t TIMEOUT with RBLSMTPD
//     qgreyd1 local NL WHY NL . NL                           nothing was decided: use the per-process
//                                                            program (its own dialogue, another tree)
//     qgreyd1 spp NL COMMAND NL LOG NL . NL                  (rcpt) print COMMAND, if any, for qmail-spp
//     qgreyd1 error NL WHY NL . NL                           refused, malformed, busy: nothing was
//                                                            decided; the client falls back and logs it
//
// LOG is the whole line for the connection's log (`qgreylist[PID]: IP: EVENT`), empty for
// none; it is last before the `.` so that it is taken whole.

export const VERSION = 'qgreyd1';
export const MAX_REQUEST = 16384;
export const MAX_VARS = 200;

export interface Request {
  readonly secret: string;
  readonly pid: number;
  readonly euid: number;
  /** a connection (bin/qgreylist) or one RCPT (bin/qgrey-spp) */
  readonly kind: 'connection' | 'rcpt';
  readonly env: Record<string, string>;
}

/** A request that cannot be read; `text` is the offending line (untrusted: clean it before logging). */
export class Malformed extends Error {
  constructor(
    message: string,
    readonly text: string,
  ) {
    super(message);
  }
}

const HEADER = /^qgreyd1 (\S{1,256}) ([0-9]{1,10}) ([0-9]{1,10})( rcpt)?$/;
const NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

/**
 * Where the request ends (the index after its empty line) in `buf`, or -1 while it is
 * incomplete. A first line that is not a qgreyd1 header ends it at once (parseRequest then
 * refuses it), so a stray client need not wait for the timeout.
 */
export function requestEnd(buf: Buffer): number {
  const first = buf.indexOf(10);
  if (first === -1) return buf.length >= 8 && buf.toString('latin1', 0, 8) !== `${VERSION} ` ? buf.length : -1;
  if (first < 8 || buf.toString('latin1', 0, 8) !== `${VERSION} `) return first + 1;
  const i = buf.indexOf('\n\n', first - 1, 'latin1');
  return i === -1 ? -1 : i + 2;
}

function hex(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** %HH-decode `b[from, to)` into bytes, or null on a bad escape. */
function decode(b: Buffer, from: number, to: number): Buffer | null {
  if (b.indexOf(37, from) === -1 || b.indexOf(37, from) >= to) return b.subarray(from, to);
  const out = Buffer.allocUnsafe(to - from);
  let n = 0;
  for (let i = from; i < to; i++) {
    const c = b[i]!;
    if (c !== 37) {
      out[n++] = c;
      continue;
    }
    const h = i + 2 < to ? hex(b[i + 1]!) : -1;
    const l = h === -1 ? -1 : hex(b[i + 2]!);
    if (l === -1) return null;
    out[n++] = h * 16 + l;
    i += 2;
  }
  return out.subarray(0, n);
}

/** Parse a whole request (up to and including its empty line). Throws Malformed. */
export function parseRequest(buf: Buffer): Request {
  const end = buf.length;
  let nl = buf.indexOf(10);
  if (nl === -1 || nl >= end) throw new Malformed('no header line', buf.toString('latin1', 0, Math.min(end, 80)));
  const header = buf.toString('latin1', 0, nl);
  const m = HEADER.exec(header);
  if (!m) throw new Malformed(`bad header: expected "${VERSION} SECRET PID EUID"`, header.replace(/^(qgreyd1 )\S+/, '$1*'));
  const env: Record<string, string> = Object.create(null) as Record<string, string>;
  let vars = 0;
  for (let at = nl + 1; at < end; at = nl + 1) {
    nl = buf.indexOf(10, at);
    if (nl === -1) nl = end;
    if (nl === at) break; // the empty line
    const eq = buf.indexOf(61, at);
    const line = () => buf.toString('latin1', at, Math.min(nl, at + 80));
    if (eq === -1 || eq > nl) throw new Malformed('a line without NAME=', line());
    const name = buf.toString('latin1', at, eq);
    if (!NAME.test(name)) throw new Malformed('bad variable name', line());
    if (name in env) throw new Malformed('a variable given twice', line());
    if (++vars > MAX_VARS) throw new Malformed(`more than ${MAX_VARS} variables`, line());
    const v = decode(buf, eq + 1, nl);
    if (v === null) throw new Malformed('bad %HH escape', line());
    env[name] = v.toString('utf8');
  }
  return { secret: m[1]!, pid: Number(m[2]), euid: Number(m[3]), kind: m[4] === undefined ? 'connection' : 'rcpt', env };
}

/** Encode one value as the client does (for tests and other clients). */
export function encodeValue(v: string): string {
  return v.replace(/%/g, '%25').replace(/\n/g, '%0A').replace(/\r/g, '%0D');
}

/** A request's bytes, as bin/qgreylist writes them. */
export function formatRequest(r: Omit<Request, 'kind'> & { readonly kind?: Request['kind'] }): Buffer {
  let s = `${VERSION} ${r.secret} ${r.pid} ${r.euid}${r.kind === 'rcpt' ? ' rcpt' : ''}\n`;
  for (const [k, v] of Object.entries(r.env)) s += `${k}=${encodeValue(v)}\n`;
  return Buffer.from(s + '\n', 'utf8');
}

export type Reply =
  | { readonly kind: 'exec'; readonly log: string | null }
  | { readonly kind: 'rbl'; readonly timeout: number; readonly path: string; readonly rblsmtpd: string; readonly log: string | null }
  | { readonly kind: 'spp'; readonly command: string | null; readonly log: string | null }
  | { readonly kind: 'local' | 'error'; readonly why: string };

/** The reply's bytes (latin1: the log line and the texts are what the per-process program writes). */
export function formatReply(r: Reply): Buffer {
  let s: string;
  switch (r.kind) {
    case 'exec':
      s = `${VERSION} exec\n${r.log ?? ''}\n.\n`;
      break;
    case 'rbl':
      s = `${VERSION} rbl\n${r.timeout}\n${r.path}\n${r.rblsmtpd}\n${r.log ?? ''}\n.\n`;
      break;
    case 'spp':
      s = `${VERSION} spp\n${(r.command ?? '').replace(/[\r\n]/g, ' ')}\n${r.log ?? ''}\n.\n`;
      break;
    case 'local':
    case 'error':
      s = `${VERSION} ${r.kind}\n${r.why.replace(/[\r\n]/g, ' ')}\n.\n`;
      break;
  }
  return Buffer.from(s, 'latin1');
}
