// The one sanitiser of untrusted text for a log or report line, cleaned the way tcpserver and
// rblsmtpd clean it (core/errors.ts's quote() is the one for quoting bad input in a message).
// Pure; on the per-connection path.

/**
 * Bytes outside printable ASCII (and, with `blanks` false, the space too) become `?`; at most
 * `max` characters. A trailing CR is dropped.
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

/** Text for an SMTP reply: printable ASCII, at most 200 characters (rblsmtpd's limits). */
export function replyText(text: string): string {
  return clean(text, 200, true);
}

/** The bytes b[at...] before `end` start with `lit` (the log readers' byte filters). */
export function bytesAt(b: Uint8Array, at: number, end: number, lit: Uint8Array): boolean {
  if (at + lit.length > end) return false;
  for (let i = 0; i < lit.length; i++) if (b[at + i] !== lit[i]) return false;
  return true;
}
