// Text that reaches the log or the client: cleaned the way tcpserver and rblsmtpd clean it.
// Pure. No npm imports (per-connection path).

/**
 * Untrusted text for one log line: bytes outside printable ASCII (and, with `blanks`
 * false, the space too) become `?`; at most `max` characters. A trailing CR is dropped.
 */
export function clean(text: string, max = 200, blanks = true): string {
  const end = text.endsWith('\r') ? text.length - 1 : text.length;
  const lo = blanks ? 0x20 : 0x21;
  let out = '';
  for (let i = 0; i < end && out.length < max; i++) {
    const c = text.charCodeAt(i);
    out += c >= lo && c <= 0x7e ? text[i] : '?';
  }
  return out;
}

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
