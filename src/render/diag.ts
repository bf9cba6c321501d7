// The one shape of qgrey's diagnostics on stderr that are not fatal: `qgrey: warning: TEXT`
// (the run goes on) and `qgrey: error: TEXT` (one of several bad inputs, reported before the
// run stops). Fatal lines are cli.ts's. TEXT comes sanitised or quoted by the caller.

export interface Sink {
  write(text: string): unknown;
}

export function warningLine(message: string): string {
  return `qgrey: warning: ${message}\n`;
}

export function warn(message: string, sink: Sink = process.stderr): void {
  sink.write(warningLine(message));
}

export function error(message: string, sink: Sink = process.stderr): void {
  sink.write(`qgrey: error: ${message}\n`);
}
