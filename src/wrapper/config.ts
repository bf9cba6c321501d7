// What qgreylist reads from its environment, as one pure function of `env`.
//
// jgreylist v8's variables keep their meanings and defaults: numbers are read like C's
// atoi() (leading blanks, optional sign, digits; anything else counts as 0), and a variable
// that is unset or empty takes its default. Our own additions start with QGREY_.
// No npm imports: this is on the per-connection path.

import type { Layout } from '../core/key.js';
import { byIp, envInt, holdtime, listDir, noRev, storeSetting, type Env } from '../core/config.js';

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

export function readConfig(env: Env): WrapperConfig {
  const timeout = envInt(env, 'JGREYLIST_TIMEOUT', 60);
  const tcp = env.TCPREMOTEIP ?? '';
  const dlg = env.QGREY_DIALOGUE;
  return {
    jgreylist: env.JGREYLIST,
    dir: env.JGREYLIST_DIR ?? '',
    norev: noRev(env),
    layout: byIp(env) ? 'byip' : 'classc',
    holdtime: holdtime(env),
    log: envInt(env, 'JGREYLIST_LOG', 1) !== 0,
    logPid: envInt(env, 'JGREYLIST_LOG_PID', 1) !== 0,
    logSmtp: envInt(env, 'JGREYLIST_LOG_SMTP', 0) !== 0,
    timeout: timeout < 5 ? 5 : timeout > 300 ? 300 : timeout,
    limit: envInt(env, 'JGREYLIST_LIMIT', 0),
    remoteIp: tcp !== '' ? tcp : (env.TCP6REMOTEIP ?? ''),
    hasReverse: (env.TCPREMOTEHOST ?? '') !== '',
    relayclient: env.RELAYCLIENT !== undefined,
    fail: env.QGREY_FAIL === 'closed' ? 'closed' : 'open',
    listDir: listDir(undefined, env),
    dialogue: dlg === 'rblsmtpd' || dlg === 'node' ? dlg : 'auto',
    store: storeSetting(undefined, env),
  };
}
