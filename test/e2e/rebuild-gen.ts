// Real-shaped qmail-smtpd log lines at chosen times, for the tree tests (rebuild, evict, check).
// Lines are written the way `multilog t` stores them: a TAI64N label, a space, the line.
import { writeFileSync } from 'node:fs';

/** The TAI64N label daemontools writes for Unix time `sec` (2^62 + 10 + sec, 16 hex digits, then nanoseconds). */
export function label(sec: number, nsec = 0): string {
  return '@' + (BigInt(Math.floor(sec)) + (1n << 62n) + 10n).toString(16).padStart(16, '0') + nsec.toString(16).padStart(8, '0');
}

export interface AcceptedOpts {
  kind?: 'qlogenvelope' | 'qlogreceived';
  relay?: boolean;
  authuser?: string;
  helo?: string;
  mailfrom?: string;
  pid?: number;
}

/** A `result=accepted code=250` qlog line, as sagredo's qmail-smtpd writes it. */
export function accepted(ip: string, o: AcceptedOpts = {}): string {
  const kind = o.kind ?? 'qlogenvelope';
  const helo = o.helo ?? 'mail.sender.example';
  const reason = kind === 'qlogenvelope' ? 'rcptto detail=chkuser' : 'queueaccept detail=';
  const size = kind === 'qlogenvelope' ? '' : '1234';
  return (
    `${kind}: result=accepted code=250 reason=${reason} helo=${helo} mailfrom=${o.mailfrom ?? 'alice@sender.example'} rcptto=bob@example.org ` +
    `relay=${o.relay ? 'yes' : 'no'} rcpthosts=${kind === 'qlogenvelope' ? 'yes' : ''} size=${size} authuser=${o.authuser ?? ''} authtype=${o.authuser ? 'login' : ''} ` +
    `encrypted= sslverified=no localip=192.0.2.10 localport=25 remoteip=${ip} remoteport=51234 remotehost=mail.sender.example qp=${kind === 'qlogreceived' ? '5374' : ''} pid=${o.pid ?? 5373}`
  );
}

export function greetdelay(ip: string, pid = 4711): string {
  return `qmail-smtpd[${pid}]: GREETDELAY from ${ip}: client disconnected`;
}

export type Wording = 'closed-before-quit' | 'hang-up-before-quit' | 'plain';
export function readFailed(ip: string, wording: Wording = 'closed-before-quit', helo = 'unknown'): string {
  const why = wording === 'closed-before-quit' ? ' (connection closed by the client before the quit cmd)' : wording === 'hang-up-before-quit' ? ' (hang up before quit cmd)' : '';
  return `qmail-smtpd: read failed${why}: (null) from ${ip} to (null) helo ${helo}`;
}

/** Write lines `[unixSeconds, body]` as a multilog file; `crlf` ends lines with CR LF. */
export function writeLog(path: string, lines: readonly (readonly [number, string])[], o: { crlf?: boolean } = {}): void {
  writeFileSync(path, lines.map(([t, b], i) => `${label(t, (i * 7919) % 1e9)} ${b}${o.crlf ? '\r' : ''}\n`).join(''));
}
