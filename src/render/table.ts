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

/** Each column's width: its title's or its widest cell's. */
function widthsOf(columns: readonly Column[], rows: readonly (readonly Cell[])[]): number[] {
  return columns.map((c, i) => rows.reduce((w, r) => Math.max(w, textOf(r[i] ?? '').length), c.title.length));
}

/** The lines of a table: a header line, then one line per row. Trailing spaces are trimmed. */
export function renderTable(columns: readonly Column[], rows: readonly (readonly Cell[])[], p: Painter): string[] {
  const widths = widthsOf(columns, rows);
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

/** One of the tables a wide table is cut into: its title, then its lines. */
export interface TablePart {
  title: string;
  lines: string[];
}

/**
 * A table no wider than `width` characters: cut, when it is wider, into tables that each
 * repeat the first column (the row's label) and hold the next columns in order. `groups` are
 * the column indexes (the first column left out) that belong together, each with its title; a
 * group is cut further, with `(continued)` in its title, only when it alone is too wide. Every
 * cell of the table is in exactly one part. A table that fits is one part with `titles.whole`.
 */
export function fitTable(
  columns: readonly Column[],
  rows: readonly (readonly Cell[])[],
  groups: readonly { title: string; columns: readonly number[] }[],
  whole: string,
  width: number,
  p: Painter,
): TablePart[] {
  const widths = widthsOf(columns, rows);
  const span = (cols: readonly number[]) => cols.reduce((w, i) => w + 2 + (widths[i] as number), widths[0] as number);
  const part = (title: string, cols: readonly number[]): TablePart => ({
    title,
    lines: renderTable(
      [0, ...cols].map((i) => columns[i] as Column),
      rows.map((r) => [0, ...cols].map((i) => r[i] ?? '')),
      p,
    ),
  });
  const all = groups.flatMap((g) => g.columns);
  if (span(all) <= width) return [part(whole, all)];
  const out: TablePart[] = [];
  for (const g of groups) {
    let cur: number[] = [];
    let n = 0;
    for (const i of g.columns) {
      if (cur.length > 0 && span([...cur, i]) > width) {
        out.push(part(n++ === 0 ? g.title : `${g.title} (continued)`, cur));
        cur = [];
      }
      cur.push(i);
    }
    if (cur.length > 0) out.push(part(n === 0 ? g.title : `${g.title} (continued)`, cur));
  }
  return out;
}

/**
 * Words of `text` in lines of at most `width` characters, the lines after the first indented
 * by `indent` (the spaces `text` starts with are kept on its first line); a word longer than
 * a line is left whole on a line of its own.
 */
export function wrapText(text: string, width: number, indent = '  '): string[] {
  const out: string[] = [];
  const lead = /^ */.exec(text)![0];
  let line = lead;
  for (const word of text.slice(lead.length).split(' ')) {
    if (line.trimStart() !== '' && line.length + 1 + word.length > width) {
      out.push(line);
      line = indent + word;
    } else line = line.trimStart() === '' ? line + word : `${line} ${word}`;
  }
  out.push(line);
  return out;
}
