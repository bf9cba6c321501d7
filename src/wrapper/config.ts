// What qgreylist reads from its environment, as one pure function of `env`.
//
// jgreylist v8's variables keep their meanings and defaults: numbers are read like C's
// atoi() (leading blanks, optional sign, digits; anything else counts as 0), and a variable
// that is unset or empty takes its default. Our own additions start with QGREY_.
// No npm imports: this is on the per-connection path.

import type { Layout } from '../core/key.js';
import { listDir } from '../store/lists.js';
import { atoi } from '../core/atoi.js';

export type FailMode = 'open' | 'closed';
export type DialogueMode = 'auto' | 'rblsmtpd' | 'node';

export interface WrapperConfig {
  /** JGREYLIST: undefined when unset; '' whitelists; text denies */
  readonly jgreylist: string | undefined;
  /** JGREYLIST_DIR ('' when unset) */
  readonly dir: string;
  /** JGREYLIST_NOREV ('' disables the check) */
  readonly norev: string;
  readonly layout: Layout;
  readonly holdtime: number;
  readonly log: boolean;
  readonly logPid: boolean;
  readonly logSmtp: boolean;
  /** seconds, 5..300 */
  readonly timeout: number;
  /** the N-th RCPT hangs up; 0 = off (a negative value hangs up at the first RCPT, as in jgreylist) */
  readonly limit: number;
  /** the client's address as tcpserver gave it (TCPREMOTEIP, else TCP6REMOTEIP); '' when neither */
  readonly remoteIp: string;
  /** TCPREMOTEHOST is set and non-empty */
  readonly hasReverse: boolean;
  /** RELAYCLIENT is set (any value, even empty, as qmail-smtpd reads it) */
  readonly relayclient: boolean;
  /** QGREY_FAIL: what to do when something of ours breaks */
  readonly fail: FailMode;
  /** QGREY_LISTDIR, else /var/qmail/control/qgrey */
  readonly listDir: string;
  /** QGREY_DIALOGUE: who answers a greylisted or denied client */
  readonly dialogue: DialogueMode;
  /** QGREY_STORE as given: '' for the tree (JGREYLIST_DIR) and the list files, else the shared Redis store's URL */
  readonly store: string;
}

export { atoi } from '../core/atoi.js';

/** jgreylist's getenv_int(): unset or empty gives the default. */
function int(env: NodeJS.ProcessEnv, name: string, def: number): number {
  const v = env[name];
  return v !== undefined && v !== '' ? atoi(v) : def;
}

export function readConfig(env: NodeJS.ProcessEnv): WrapperConfig {
  const timeout = int(env, 'JGREYLIST_TIMEOUT', 60);
  const tcp = env.TCPREMOTEIP ?? '';
  const dlg = env.QGREY_DIALOGUE;
  return {
    jgreylist: env.JGREYLIST,
    dir: env.JGREYLIST_DIR ?? '',
    norev: env.JGREYLIST_NOREV ?? '',
    layout: int(env, 'JGREYLIST_BY_IP', 0) !== 0 ? 'byip' : 'classc',
    holdtime: int(env, 'JGREYLIST_HOLDTIME', 120),
    log: int(env, 'JGREYLIST_LOG', 1) !== 0,
    logPid: int(env, 'JGREYLIST_LOG_PID', 1) !== 0,
    logSmtp: int(env, 'JGREYLIST_LOG_SMTP', 0) !== 0,
    timeout: timeout < 5 ? 5 : timeout > 300 ? 300 : timeout,
    limit: int(env, 'JGREYLIST_LIMIT', 0),
    remoteIp: tcp !== '' ? tcp : (env.TCP6REMOTEIP ?? ''),
    hasReverse: (env.TCPREMOTEHOST ?? '') !== '',
    relayclient: env.RELAYCLIENT !== undefined,
    fail: env.QGREY_FAIL === 'closed' ? 'closed' : 'open',
    listDir: listDir(undefined, env),
    dialogue: dlg === 'rblsmtpd' || dlg === 'node' ? dlg : 'auto',
    store: env.QGREY_STORE ?? '',
  };
}
