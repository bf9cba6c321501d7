// C's atoi(), as jgreylist and the qmail-spp MySQL plugin read their numbers from the
// environment and control files: the one copy, for the wrapper, the maintenance commands and
// qgrey-spp alike, so that each reads JGREYLIST_HOLDTIME (and the rest) the same way.
// Pure; on the per-connection path.

/** Leading blanks, an optional sign, digits; stops at the first other character; clamped to C's int. */
export function atoi(s: string): number {
  let i = 0;
  while (i < s.length && (s[i] === ' ' || (s.charCodeAt(i) >= 9 && s.charCodeAt(i) <= 13))) i++;
  let neg = false;
  if (s[i] === '-' || s[i] === '+') {
    neg = s[i] === '-';
    i++;
  }
  let n = 0;
  for (; i < s.length; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) break;
    n = n * 10 + d;
    if (n > 2147483648) n = 2147483648; // int range, without C's undefined behaviour
  }
  return neg ? (n === 0 ? 0 : -n) : Math.min(n, 2147483647);
}
