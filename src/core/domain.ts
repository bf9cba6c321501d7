// A mail domain as qgrey keeps it (whitelist outgoing, reply pairs). Pure.
//
// No npm imports: the per-RCPT path.

import { domainToASCII } from 'node:url';

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * A domain as qgrey keeps it: lower case, no trailing dot, IDN labels in punycode; null when it
 * is not a host name of at least two labels (an address literal, `localhost`, `?` bytes).
 */
export function normaliseDomain(text: string): string | null {
  let d = text.trim();
  if (d.endsWith('.')) d = d.slice(0, -1);
  if (d === '' || d.startsWith('[') || d.length > 253) return null;
  const a = domainToASCII(d.toLowerCase());
  if (a === '' || a.length > 253) return null;
  const labels = a.split('.');
  if (labels.length < 2 || !labels.every((l) => LABEL.test(l))) return null;
  // an all-numeric last label is an IPv4 address written without brackets
  if (/^[0-9]+$/.test(labels[labels.length - 1]!)) return null;
  return a;
}
