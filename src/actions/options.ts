// Option values shared by several commands, checked once, with one wording for errors.

import { Zone } from '../core/zone.js';
import { parseCidr, type Cidr } from '../core/ip.js';
import { permanent, quote } from '../core/errors.js';

/** A time zone option (`--tz`); undefined means the local zone (TZ). */
export function zoneOption(name: string | undefined, flag: string): Zone {
  try {
    return Zone.of(name);
  } catch {
    throw permanent(`unknown time zone ${quote(name ?? '')} in ${flag}: expected an IANA name such as Europe/Rome or UTC`);
  }
}

/** A repeatable address-or-network option (`--ip`, `--exclude`). */
export function cidrOptions(list: readonly string[] | undefined, flag: string): Cidr[] {
  return (list ?? []).map((t) => {
    const c = parseCidr(t);
    if (!c) throw permanent(`unable to parse ${flag} ${quote(t)}: expected an IPv4 or IPv6 address or network (192.0.2.7, 192.0.2.0/24, 2001:db8::/32)`);
    return c;
  });
}

/** A whole-number option (`--holdtime 120`, `--top 0`), given as the text typed. */
export function wholeOption(text: string, flag: string, min: number, max = Number.MAX_SAFE_INTEGER, unit = ''): number {
  const t = text.trim();
  const n = /^[0-9]+$/.test(t) ? Number(t) : NaN;
  if (!(n >= min && n <= max)) throw badWhole(text, flag, min, max, unit);
  return n;
}

/**
 * The same check of a number an action is given (the commands parse with wholeOption; an
 * action called otherwise gets the same message).
 */
export function wholeNumber(v: number, flag: string, min: number, max = Number.MAX_SAFE_INTEGER, unit = ''): number {
  if (!(Number.isInteger(v) && v >= min && v <= max)) throw badWhole(String(v), flag, min, max, unit);
  return v;
}

function badWhole(text: string, flag: string, min: number, max: number, unit: string) {
  const range = max === Number.MAX_SAFE_INTEGER ? `${min} or more` : `${min} to ${max}`;
  return permanent(`unable to parse ${flag} ${quote(text)}: expected a whole number${unit ? ` of ${unit}` : ''}, ${range}`);
}

/** A number option above 0 (`--days 30`, `--days 0.5`), given as the text typed. */
export function positiveOption(text: string, flag: string, unit: string): number {
  const t = text.trim();
  const n = /^([0-9]+(\.[0-9]*)?|\.[0-9]+)$/.test(t) ? Number(t) : NaN;
  if (!(n > 0)) throw permanent(`unable to parse ${flag} ${quote(text)}: expected a number of ${unit} above 0 (such as 30 or 0.5)`);
  return n;
}
