// TAI64N labels, converted exactly as daemontools' tai64nlocal does: the 16 hex digits of
// seconds minus 2^62 minus 10, no leap-second table, nanoseconds kept as written.

/** An instant: whole Unix seconds (may be negative) and nanoseconds (0..4294967295 as labelled). */
export interface Stamp {
  readonly sec: number;
  readonly nsec: number;
}

export function compareStamp(a: Stamp, b: Stamp): number {
  return a.sec - b.sec || a.nsec - b.nsec;
}

export type LabelResult =
  | { readonly ok: true; readonly stamp: Stamp; /** index of the first byte after the hex run */ readonly end: number }
  | { readonly ok: false; readonly why: string };

const HEX = new Int8Array(128).fill(-1);
for (let i = 0; i < 10; i++) HEX[48 + i] = i;
for (let i = 0; i < 6; i++) HEX[97 + i] = 10 + i;

function isAnyHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70);
}

/** 2^62 as the high 32 bits of the seconds label */
const HI_BASE = 0x40000000;
/** labels more than 2^21 * 2^32 seconds from 1970 cannot be held exactly in a double: refuse them */
const HI_SPAN = 1 << 21;

/**
 * Decode the label at the start of `line` (a string starting with '@').
 * Valid: exactly 24 lowercase hex digits followed by a non-hex character or the end.
 */
export function decodeLabel(line: string): LabelResult {
  let hi = 0;
  let lo = 0;
  let ns = 0;
  for (let i = 1; i <= 24; i++) {
    const c = line.charCodeAt(i);
    const d = c < 128 ? (HEX[c] as number) : -1;
    if (d < 0) {
      if (i <= line.length - 1 && isAnyHex(c)) return { ok: false, why: 'upper-case hex digit in label' };
      return { ok: false, why: `label has ${i - 1} hex digits, expected 24` };
    }
    if (i <= 8) hi = hi * 16 + d;
    else if (i <= 16) lo = lo * 16 + d;
    else ns = ns * 16 + d;
  }
  const next = line.charCodeAt(25);
  if (!Number.isNaN(next) && isAnyHex(next)) {
    return { ok: false, why: (next >= 65 && next <= 70) ? 'upper-case hex digit in label' : 'label has more than 24 hex digits' };
  }
  const rel = hi - HI_BASE;
  if (rel <= -HI_SPAN || rel >= HI_SPAN) return { ok: false, why: 'label out of range' };
  return { ok: true, stamp: { sec: rel * 4294967296 + lo - 10, nsec: ns }, end: 25 };
}

/** Encode an instant as daemontools would label it (for tests and fixtures). */
export function encodeLabel(s: Stamp): string {
  const t = s.sec + 10;
  const hi = HI_BASE + Math.floor(t / 4294967296);
  const lo = ((t % 4294967296) + 4294967296) % 4294967296;
  return (
    '@' +
    hi.toString(16).padStart(8, '0') +
    lo.toString(16).padStart(8, '0') +
    s.nsec.toString(16).padStart(8, '0')
  );
}

/** Nanoseconds as tai64nlocal prints them: at least 9 digits, never clamped. */
export function formatNanos(nsec: number): string {
  return String(nsec).padStart(9, '0');
}
