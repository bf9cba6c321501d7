// Plain text tables: one record per line, columns separated by at least two spaces and no
// cell holding two spaces in a row, so `awk -F '  +'` splits them; numbers right-aligned.
// Colour, when the painter has it, is added after padding so the columns line up either way.

import type { Painter, Style } from './colour.js';

export interface Column {
  title: string;
  align?: 'left' | 'right';
}

export type Cell = string | number | { text: string | number; style: Style };

function textOf(c: Cell): string {
  return (typeof c === 'object' ? String(c.text) : String(c)).replace(/ {2,}/g, ' ');
}

function styleOf(c: Cell): Style {
  return typeof c === 'object' ? c.style : 'plain';
}

/** The lines of a table: a header line, then one line per row. Trailing spaces are trimmed. */
export function renderTable(columns: readonly Column[], rows: readonly (readonly Cell[])[], p: Painter): string[] {
  const widths = columns.map((c, i) => Math.max(c.title.length, ...rows.map((r) => textOf(r[i] ?? '').length)));
  const line = (cells: readonly Cell[], head: boolean) =>
    columns
      .map((c, i) => {
        const cell = cells[i] ?? '';
        const t = textOf(cell);
        const w = widths[i] as number;
        const padded = (c.align ?? (i === 0 ? 'left' : 'right')) === 'left' ? t.padEnd(w) : t.padStart(w);
        const last = i === columns.length - 1;
        const out = last ? padded.trimEnd() : padded;
        return p.paint(head ? 'head' : styleOf(cell), out);
      })
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.title), true), ...rows.map((r) => line(r, false))];
}

/** A duration in seconds as `45s`, `12m05s`, `3h02m`, `2d04h`; `-` for null. */
export function formatDelay(sec: number | null): string {
  if (sec === null || !Number.isFinite(sec)) return '-';
  const s = Math.round(sec);
  if (s < 60) return `${s}s`;
  const p2 = (n: number) => String(n).padStart(2, '0');
  if (s < 3600) return `${Math.floor(s / 60)}m${p2(s % 60)}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${p2(Math.floor((s % 3600) / 60))}m`;
  return `${Math.floor(s / 86400)}d${p2(Math.floor((s % 86400) / 3600))}h`;
}
