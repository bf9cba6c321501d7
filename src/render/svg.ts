// A standalone SVG chart of `qgrey stats`: decisions per day (or hour) as stacked bars on
// top, and below them what became of the keys first greylisted that day (delivered later,
// came back without delivering, never came back). Pure: result in, text out. Every bar
// carries its numbers (data-row, data-series, data-value and a <title> tooltip), and the
// legend repeats the totals, so what is drawn can be checked against --json.

import type { Row, StatsResult } from '../core/stats.js';
import { columnCount, decisionText } from '../core/decision.js';

export interface Series {
  readonly id: string;
  readonly label: string;
  readonly colour: string;
  readonly value: (r: Row) => number;
}

export const DECISION_SERIES: readonly Series[] = [
  { id: 'firstTime', label: decisionText('firstTime'), colour: '#e8a33d', value: (r) => r.decisions.firstTime },
  { id: 'tooSoon', label: decisionText('tooSoon'), colour: '#f3d27a', value: (r) => r.decisions.tooSoon },
  { id: 'known', label: decisionText('known'), colour: '#4a9c5d', value: (r) => r.decisions.known },
  { id: 'whitelisted', label: decisionText('whitelisted'), colour: '#8fd19e', value: (r) => r.decisions.whitelisted },
  { id: 'denied', label: 'DENY', colour: '#c0392b', value: (r) => columnCount(r.decisions, 'denied') },
  { id: 'other', label: 'other (relayclient, HANGUP, FAIL)', colour: '#95a5a6', value: (r) => columnCount(r.decisions, 'other') },
];

export const OUTCOME_SERIES: readonly Series[] = [
  { id: 'delivered', label: 'came back and delivered', colour: '#2e86c1', value: (r) => r.delivered },
  { id: 'backNotDelivered', label: 'came back, no mail', colour: '#aed6f1', value: (r) => r.backNotDelivered },
  { id: 'neverBack', label: 'never came back', colour: '#7f8c8d', value: (r) => r.neverBack },
];

/** Escape text for XML content and attribute values. */
export function xmlEscape(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c] as string);
}

/** The smallest 1, 2 or 5 times a power of ten that is >= n (at least 1). */
export function niceMax(n: number): number {
  if (n <= 1) return 1;
  const p = 10 ** Math.floor(Math.log10(n));
  for (const m of [1, 2, 5, 10]) if (m * p >= n) return m * p;
  return 10 * p;
}

/** A y axis for values up to `max`: whole-number ticks of a round step, at most five of them above zero. */
export function axis(max: number): { top: number; step: number } {
  const step = niceMax(Math.max(1, max) / 5);
  return { step, top: step * Math.max(1, Math.ceil(max / step)) };
}

const PANEL_H = 180;
const LEFT = 56;
const RIGHT = 16;
/** the plot's width however few rows there are (the bars spread over it); more rows widen it at 6 px each */
const PLOT_W = 720;
/** the widest a bar gets (two rows would otherwise be two slabs of 250 px) */
const MAX_BAR = 48;
/** a label's width in px at font-size 11, with room on both sides */
const labelPx = (text: string) => Math.ceil(text.length * 6.5) + 10;
const num = (x: number) => String(Math.round(x * 100) / 100);

interface Panel {
  title: string;
  series: readonly Series[];
}

/** The chart as a complete SVG document. `title` is shown at the top. */
export function renderSvg(result: StatsResult, title: string): string {
  const rows = result.rows;
  const n = Math.max(rows.length, 1);
  const slot = Math.max(6, PLOT_W / n);
  const barW = Math.min(MAX_BAR, Math.max(4, Math.round(slot * 0.7)));
  const plotW = n * slot;
  const width = Math.ceil(LEFT + plotW + RIGHT);
  const unit = result.by === 'hour' ? 'hour' : 'day';
  // the last row is partial when the logs end before its day (hour) does: keys first
  // greylisted then may still come back, so its outcome bars are drawn open and noted
  const last = rows[rows.length - 1];
  const span = unit === 'hour' ? 3600 : 86400;
  const partial = last !== undefined && last.start !== null && result.to !== null && result.to < last.start + span - 1 ? rows.length - 1 : -1;
  const panels: Panel[] = [
    { title: `Decisions per ${unit}`, series: DECISION_SERIES },
    { title: `Keys first greylisted that ${unit}: what became of them`, series: OUTCOME_SERIES },
  ];
  const out: string[] = [];
  let y = 34;
  const body: string[] = [];
  // one label every `every` rows so they do not overlap, on round hours (days): every row,
  // else every 2, 3, 4, 6, 12 or 24 hours (2 or 7 days, then multiples of 7), where the
  // hour (the day count) is a multiple of it
  const widest = rows.reduce((w, r) => Math.max(w, labelPx(shortLabel(r.label, unit))), 0);
  const need = Math.max(1, Math.ceil(widest / slot));
  const steps = unit === 'hour' ? [1, 2, 3, 4, 6, 12, 24] : [1, 2, 7];
  const every = steps.find((k) => k >= need) ?? Math.ceil(need / steps[steps.length - 1]!) * steps[steps.length - 1]!;
  const labelled = (r: Row, i: number) => {
    if (every === 1) return true;
    if (r.start === null) return i % every === 0;
    if (unit === 'hour') {
      const h = /T([0-9]{2}):/.exec(r.label);
      return h ? Number(h[1]) % every === 0 : i % every === 0;
    }
    return Math.round(r.start / 86400) % every === 0;
  };
  for (const [pi, panel] of panels.entries()) {
    const top = y + 22;
    const max = Math.max(0, ...rows.map((r) => panel.series.reduce((s, ser) => s + ser.value(r), 0)));
    const { top: scaleMax, step } = axis(max);
    const scale = PANEL_H / scaleMax;
    const base = top + PANEL_H;
    body.push(`<g class="panel" id="panel-${pi}" data-scale-max="${scaleMax}" data-px-per-unit="${num(scale)}" data-baseline="${base}">`);
    body.push(`<text x="${LEFT}" y="${y + 12}" font-size="13" font-weight="bold">${xmlEscape(panel.title)}</text>`);
    for (let v = 0; v <= scaleMax; v += step) {
      const gy = base - v * scale;
      body.push(`<line x1="${LEFT}" y1="${num(gy)}" x2="${LEFT + plotW}" y2="${num(gy)}" stroke="#ddd" stroke-width="1"/>`);
      body.push(`<text x="${LEFT - 4}" y="${num(gy + 4)}" text-anchor="end" fill="#555">${num(v)}</text>`);
    }
    const outcomes = panel.series === OUTCOME_SERIES;
    for (const [i, r] of rows.entries()) {
      const x = LEFT + i * slot + (slot - barW) / 2;
      const open = outcomes && i === partial;
      let acc = 0;
      for (const ser of panel.series) {
        const v = ser.value(r);
        if (v <= 0) continue;
        const h = v * scale;
        const ry = base - (acc + v) * scale;
        acc += v;
        const look = open ? ` fill-opacity="0.35" stroke="${ser.colour}" stroke-dasharray="3 2"` : '';
        const tip = open ? `${r.label} (partial): ${ser.label} ${v}, may still come back` : `${r.label}: ${ser.label} ${v}`;
        body.push(
          `<rect x="${num(x)}" y="${num(ry)}" width="${barW}" height="${num(h)}" fill="${ser.colour}" data-row="${xmlEscape(r.label)}" data-series="${ser.id}" data-value="${v}"${open ? ' data-partial="true"' : ''}${look}>` +
            `<title>${xmlEscape(tip)}</title></rect>`,
        );
      }
      if (labelled(r, i)) {
        const lx = LEFT + i * slot + slot / 2;
        const mark = i === partial ? '*' : '';
        body.push(`<text class="label" x="${num(lx)}" y="${base + 14}" text-anchor="middle" fill="#555">${xmlEscape(shortLabel(r.label, unit) + mark)}</text>`);
      }
    }
    body.push(`<line x1="${LEFT}" y1="${base}" x2="${LEFT + plotW}" y2="${base}" stroke="#333" stroke-width="1"/>`);
    // legend with totals, wrapped to the width of the chart
    let lx = LEFT;
    let ly = base + 32;
    for (const ser of panel.series) {
      const total = rows.reduce((s, r) => s + ser.value(r), 0);
      const text = `${ser.label} (${total})`;
      const w = 14 + Math.ceil(text.length * 6.5) + 14;
      if (lx > LEFT && lx + w > width - RIGHT) {
        lx = LEFT;
        ly += 16;
      }
      body.push(
        `<g class="legend" data-series="${ser.id}" data-total="${total}"><rect x="${lx}" y="${ly - 9}" width="10" height="10" fill="${ser.colour}"/>` +
          `<text x="${lx + 14}" y="${ly}">${xmlEscape(text)}</text></g>`,
      );
      lx += w;
    }
    if (outcomes && partial >= 0) {
      ly += 16;
      const r = rows[partial]!;
      body.push(
        `<text class="partial" x="${LEFT}" y="${ly}" fill="#555" data-row="${xmlEscape(r.label)}">${xmlEscape(`* ${shortLabel(r.label, unit)}: the logs end before this ${unit} does; its keys may still come back (drawn open)`)}</text>`,
      );
    }
    body.push('</g>');
    y = ly + 24;
  }
  const height = y;
  const w = width;
  out.push('<?xml version="1.0" encoding="UTF-8"?>');
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="${w}" height="${height}" viewBox="0 0 ${w} ${height}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="11">`,
  );
  out.push(`<title>${xmlEscape(title)}</title>`);
  out.push(`<rect x="0" y="0" width="${w}" height="${height}" fill="#fff"/>`);
  out.push(`<text x="${LEFT}" y="20" font-size="15" font-weight="bold">${xmlEscape(title)}</text>`);
  if (rows.length === 0) out.push(`<text x="${LEFT}" y="${34 + 22 + PANEL_H / 2}" fill="#555">no greylisting decisions in the logs read</text>`);
  out.push(...body);
  out.push('</svg>');
  return out.join('\n') + '\n';
}

function shortLabel(label: string, unit: string): string {
  // 2026-11-20 -> 11-20; 2026-11-20T13:00 -> 20 13h
  if (unit === 'day' && /^[0-9]{4}-/.test(label)) return label.slice(5);
  // hours: the day and the hour; a label is shown only for round hours, so this stays short
  const m = /^[0-9]{4}-[0-9]{2}-([0-9]{2})T([0-9]{2}):00$/.exec(label);
  return m ? `${m[1]} ${m[2]}h` : label;
}
