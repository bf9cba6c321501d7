// Colour for people, never for machines: the only importer of chalk. Whether to colour is
// decided here, once, from the environment and the stream:
//   FORCE_COLOR set: `0` or `false` turns colour off; `1`-`3`, `true` or empty turns it on
//     (any other value is ignored). It wins over NO_COLOR, as in Node itself.
//   else NO_COLOR set to a non-empty value: off (https://no-color.org; chalk 6 ignores it).
//   else on only when the stream is a terminal and TERM is not `dumb`.
// So cron mail, pipes and files are plain unless FORCE_COLOR asks otherwise.

import { Chalk, type ChalkInstance } from 'chalk';

export type ColourLevel = 0 | 1 | 2 | 3;

/** The colour level for a stream; pure: the environment and the TTY flag are parameters. */
export function colourLevel(env: Readonly<Record<string, string | undefined>>, isTTY: boolean): ColourLevel {
  const force = env.FORCE_COLOR;
  if (force !== undefined) {
    if (force === '0' || force === 'false') return 0;
    if (force === '' || force === 'true') return 1;
    if (/^[0-9]+$/.test(force)) return Math.min(Number(force), 3) as ColourLevel;
  }
  const no = env.NO_COLOR;
  if (no !== undefined && no !== '') return 0;
  if (!isTTY || env.TERM === 'dumb') return 0;
  return 1;
}

/** What the renderers may ask for; the meaning, not the colour. */
export type Style = 'head' | 'good' | 'bad' | 'warn' | 'dim' | 'plain';

export interface Painter {
  readonly enabled: boolean;
  paint(style: Style, text: string): string;
}

export function painter(level: ColourLevel): Painter {
  if (level === 0) return { enabled: false, paint: (_s, t) => t };
  const c: ChalkInstance = new Chalk({ level });
  const styles: Record<Style, (t: string) => string> = {
    head: (t) => c.bold(t),
    good: (t) => c.green(t),
    bad: (t) => c.red(t),
    warn: (t) => c.yellow(t),
    dim: (t) => c.dim(t),
    plain: (t) => t,
  };
  return { enabled: true, paint: (s, t) => (t === '' ? t : styles[s](t)) };
}

/** The painter for a stream such as process.stdout. */
export function painterFor(stream: { isTTY?: boolean }, env: Readonly<Record<string, string | undefined>>): Painter {
  return painter(colourLevel(env, stream.isTTY === true));
}
