// Local-time conversion in a named zone, both ways, with the fold and gap of DST
// transitions made explicit. Offsets are looked up once per 15-minute bucket and cached.

import { formatNanos, type Stamp } from './tai64n.js';

export interface LocalParts {
  y: number;
  mo: number;
  d: number;
  h: number;
  mi: number;
  s: number;
}

export function civilFromDays(days: number): [number, number, number] {
  // Howard Hinnant's algorithm, days since 1970-01-01
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const y = yoe + era * 400;
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  return [m <= 2 ? y + 1 : y, m, d];
}

export function daysFromCivil(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m > 2 ? m - 3 : m + 9) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

const p2 = (n: number) => (n < 10 ? '0' + n : String(n));

export function formatCivil(sec: number): string {
  const days = Math.floor(sec / 86400);
  const rem = sec - days * 86400;
  const [y, m, d] = civilFromDays(days);
  const h = Math.floor(rem / 3600);
  const mi = Math.floor((rem % 3600) / 60);
  const s = rem % 60;
  return `${String(y).padStart(4, '0')}-${p2(m)}-${p2(d)} ${p2(h)}:${p2(mi)}:${p2(s)}`;
}

export class Zone {
  private readonly asked: string | undefined;
  // resolved on first use: the first Intl call loads ICU's zone data (~30 ms), which a run that
  // meets only TAI64N labels never needs
  private state: { name: string; utc: boolean; fmt: Intl.DateTimeFormat | null } | undefined;
  private readonly cache = new Map<number, number>();

  /** `name` undefined: the process's local zone (TZ, else /etc/localtime). */
  constructor(name?: string) {
    this.asked = name;
  }

  private get s(): { name: string; utc: boolean; fmt: Intl.DateTimeFormat | null } {
    if (this.state !== undefined) return this.state;
    const resolved = this.asked ?? Intl.DateTimeFormat().resolvedOptions().timeZone ?? 'UTC';
    const utc = /^(UTC|Etc\/UTC|Etc\/GMT|GMT|UCT|Etc\/UCT|Universal|Zulu)$/.test(resolved);
    const fmt = utc
      ? null
      : new Intl.DateTimeFormat('en-US', {
          timeZone: resolved,
          hourCycle: 'h23',
          year: 'numeric',
          month: 'numeric',
          day: 'numeric',
          hour: 'numeric',
          minute: 'numeric',
          second: 'numeric',
        });
    return (this.state = { name: resolved, utc, fmt });
  }

  get name(): string {
    return this.s.name;
  }

  get utc(): boolean {
    return this.s.utc;
  }

  /** Throws RangeError for an unknown zone name. */
  static of(name?: string): Zone {
    if (name !== undefined) new Intl.DateTimeFormat('en-US', { timeZone: name });
    return new Zone(name);
  }

  /** Seconds east of UTC in force at Unix time `sec`. */
  offsetAt(sec: number): number {
    const { utc, fmt } = this.s;
    if (utc || !fmt) return 0;
    const bucket = Math.floor(sec / 900);
    const hit = this.cache.get(bucket);
    if (hit !== undefined) return hit;
    const base = bucket * 900;
    const parts = fmt.formatToParts(new Date(base * 1000));
    const get = (t: string) => Number(parts.find((p) => p.type === t)?.value ?? 0);
    const local = daysFromCivil(get('year'), get('month'), get('day')) * 86400 + get('hour') * 3600 + get('minute') * 60 + get('second');
    const off = local - base;
    if (this.cache.size > 20000) this.cache.clear();
    this.cache.set(bucket, off);
    return off;
  }

  /** `YYYY-MM-DD HH:MM:SS` in this zone. */
  formatSeconds(sec: number): string {
    return formatCivil(sec + this.offsetAt(sec));
  }

  /** `YYYY-MM-DD HH:MM:SS.nnnnnnnnn`, byte for byte as tai64nlocal prints it. */
  formatStamp(s: Stamp): string {
    return this.formatSeconds(s.sec) + '.' + formatNanos(s.nsec);
  }

  /**
   * The Unix time of a local wall-clock time (seconds since the epoch as if UTC).
   * In a fold (the repeated hour) the earlier instant is chosen; `fold` says so.
   * In a gap (the skipped hour) the time is read with the offset before the gap.
   */
  fromLocal(localSec: number): { sec: number; fold: boolean; gap: boolean } {
    if (this.utc) return { sec: localSec, fold: false, gap: false };
    const before = this.offsetAt(localSec - 86400);
    const after = this.offsetAt(localSec + 86400);
    const cands: number[] = [];
    for (const off of before === after ? [before] : [before, after]) {
      const t = localSec - off;
      if (this.offsetAt(t) === off) cands.push(t);
    }
    if (cands.length === 0) {
      // either a gap, or offsets a day away differ from the one in force: try the exact one
      const t0 = localSec - this.offsetAt(localSec - before);
      if (this.offsetAt(t0) + t0 === localSec) return { sec: t0, fold: false, gap: false };
      return { sec: localSec - before, fold: false, gap: true };
    }
    if (cands.length === 2 && cands[0] !== cands[1]) return { sec: Math.min(cands[0] as number, cands[1] as number), fold: true, gap: false };
    return { sec: cands[0] as number, fold: false, gap: false };
  }
}
