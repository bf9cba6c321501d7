// Durations (`90m`, `36h`, `30d`) and points in time (`36h` ago, `2026-11-20`,
// `2026-11-20 10:00:00` in the given zone, ISO 8601 with a zone, a TAI64N label). Pure.

import { permanent, quote } from './errors.js';
import { decodeLabel, type Stamp } from './tai64n.js';
import { civilFromDays, daysFromCivil, type Zone } from './zone.js';

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

/** Seconds in a duration such as `45s`, `90m`, `36h`, `30d`, `2w`; a bare number is seconds. */
export function parseDuration(text: string, what = 'duration'): number {
  const m = /^([0-9]+(?:\.[0-9]+)?)([smhdw]?)$/.exec(text.trim());
  if (!m) throw permanent(`unable to parse ${what} ${quote(text)}: expected a number and a unit s, m, h, d or w (e.g. 90m, 36h, 30d)`);
  return Number(m[1]) * (UNITS[m[2] || 's'] as number);
}

/** A point in time. Durations count back from `now` (seconds). Zone-less dates are read in `zone`. */
export function parseWhen(text: string, now: number, zone: Zone, what = 'time'): Stamp {
  const t = text.trim();
  if (t === 'now') return { sec: Math.floor(now), nsec: Math.round((now % 1) * 1e9) };
  if (/^[0-9]+(?:\.[0-9]+)?[smhdw]$/.test(t)) {
    const at = now - parseDuration(t, what);
    const sec = Math.floor(at);
    return { sec, nsec: Math.round((at - sec) * 1e9) };
  }
  if (t.startsWith('@')) {
    const r = decodeLabel(t + (t.length === 25 ? '' : ''));
    if (r.ok && t.length === 25) return r.stamp;
  }
  const m = /^([0-9]{4})-([0-9]{2})-([0-9]{2})(?:[ T]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]{1,9}))?)?)?(Z|[+-][0-9]{2}:?[0-9]{2})?$/.exec(t);
  if (m) {
    const [y, mo, d, h, mi, s] = [m[1], m[2], m[3], m[4] ?? '0', m[5] ?? '0', m[6] ?? '0'].map(Number) as [number, number, number, number, number, number];
    if (mo >= 1 && mo <= 12 && d >= 1 && d <= 31 && h <= 23 && mi <= 59 && s <= 59) {
      // 2027-02-30 is no day, not March 2
      if (civilFromDays(daysFromCivil(y, mo, d))[2] !== d) {
        const days = daysFromCivil(mo === 12 ? y + 1 : y, mo === 12 ? 1 : mo + 1, 1) - daysFromCivil(y, mo, 1);
        throw permanent(`unable to parse ${what} ${quote(text)}: ${m[1]}-${m[2]} has ${days} days, not ${d}`);
      }
      const local = daysFromCivil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
      const nsec = m[7] ? Number(m[7].padEnd(9, '0')) : 0;
      const z = m[8];
      if (z !== undefined) {
        let off = 0;
        if (z !== 'Z') {
          const zz = z.replace(':', '');
          off = (zz[0] === '-' ? -1 : 1) * (Number(zz.slice(1, 3)) * 3600 + Number(zz.slice(3, 5)) * 60);
        }
        return { sec: local - off, nsec };
      }
      return { sec: zone.fromLocal(local).sec, nsec };
    }
  }
  throw permanent(
    `unable to parse ${what} ${quote(text)}: expected a duration (90m, 36h, 30d), a date (2026-11-20), a local time (2026-11-20 10:00:00), ISO 8601 with a zone, or a TAI64N label`,
  );
}
