// Text that reaches the log or the client: cleaned the way tcpserver and rblsmtpd clean it.
// Pure. No npm imports (per-connection path).

import { clean } from '../core/text.js';

export { clean };

/**
 * The address as it appears in a decision line: exactly as tcpserver gave it when it is a
 * valid address (jgreylist prints TCPREMOTEIP as is), otherwise cleaned to one word so the
 * line still parses; `-` when there is none.
 */
export function logAddress(text: string, valid: boolean): string {
  if (text === '') return '-';
  return valid ? text : clean(text, 64, false);
}

/** Text for an SMTP reply: printable ASCII, at most 200 characters (rblsmtpd's limits). */
export function replyText(text: string): string {
  return clean(text, 200, true);
}
