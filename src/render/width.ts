// How wide text is on a terminal, for yargs' help layout: the CLI's bundle (scripts/bundle.sh)
// gives yargs, cliui and wrap-ansi this module in place of the string-width package. That
// package builds Unicode emoji and grapheme tables when it is loaded, which was about a quarter
// of every qgrey command's start-up (bench/commands.bench.ts, "CLI fixed cost"), to measure
// help text that is ours and ASCII. Here: colour escapes count nothing, nor do control
// characters and combining marks; East Asian wide and fullwidth characters count two; every
// other character one. Unbundled (dist/src/cli.js) yargs keeps string-width.

const SGR = /\x1b\[[0-9;]*m/g;
const ZERO = /[\u0000-\u001f\u007f-\u009f\u0300-\u036f\u200b-\u200f\u2028-\u202e\u2060-\u2064\ufe00-\ufe0f\ufeff]/u;

/** Two columns: Hangul Jamo, CJK, Hangul syllables, compatibility ideographs, fullwidth forms. */
function wide(c: number): boolean {
  return (
    (c >= 0x1100 && c <= 0x115f) ||
    (c >= 0x2e80 && c <= 0x303e) ||
    (c >= 0x3041 && c <= 0x33ff) ||
    (c >= 0x3400 && c <= 0x4dbf) ||
    (c >= 0x4e00 && c <= 0x9fff) ||
    (c >= 0xa000 && c <= 0xa4cf) ||
    (c >= 0xac00 && c <= 0xd7a3) ||
    (c >= 0xf900 && c <= 0xfaff) ||
    (c >= 0xfe30 && c <= 0xfe4f) ||
    (c >= 0xff00 && c <= 0xff60) ||
    (c >= 0xffe0 && c <= 0xffe6) ||
    (c >= 0x1f300 && c <= 0x1f64f) ||
    (c >= 0x1f900 && c <= 0x1f9ff) ||
    (c >= 0x20000 && c <= 0x3fffd)
  );
}

export default function stringWidth(text: string, opts: { countAnsiEscapeCodes?: boolean } = {}): number {
  if (typeof text !== 'string' || text === '') return 0;
  const s = opts.countAnsiEscapeCodes ? text : text.replace(SGR, '');
  let n = 0;
  for (const ch of s) {
    if (ZERO.test(ch)) continue;
    n += wide(ch.codePointAt(0)!) ? 2 : 1;
  }
  return n;
}
