// qgrey whitelist|blacklist add/remove/list/load/lookup, and the addlist alias.
// Every change is computed in full first (walk), then written once under the list's lock
// (apply); bad input changes nothing.

import type { Env } from '../core/config.js';
import { readFileSync } from 'node:fs';
import { isTemporaryErrno, permanent, quote, reason, temporary } from '../core/errors.js';
import { formatIp, parseIp } from '../core/ip.js';
import { parseDuration, parseWhen } from '../core/when.js';
import { Zone } from '../core/zone.js';
import { clean } from '../core/text.js';
import { error, warn } from '../render/diag.js';
import {
  MANUAL,
  SOURCE_RE,
  findInText,
  formatEntry,
  formatExpiry,
  header,
  isExpired,
  netKey,
  parseAddress,
  parseLine,
  printable,
  type ListEntry,
  type ListLine,
  type ListName,
  type Net,
} from '../store/lists.js';
import type { ListStore } from '../store/list-store.js';
import { openLists, type OpenLists } from '../store/open.js';

export interface ListCommonArgs {
  /** the environment: the settings a flag does not give (src/core/config.ts) */
  env: Env;
  list: ListName;
  listdir?: string;
  /** --store (openLists) */
  store?: string;
}

/** `f` on the lists of --listdir / --store (openLists), closed after. */
export async function withLists<T>(argv: { listdir?: string | undefined; store?: string | undefined; env: Env }, f: (ls: ListStore) => Promise<T>, open: OpenLists = openLists): Promise<T> {
  const ls = await open({ listdir: argv.listdir, store: argv.store, env: argv.env });
  try {
    return await f(ls);
  } finally {
    await ls.close();
  }
}
const say = (m: string) => process.stdout.write(m + '\n');

/** `never`, a duration from now (`30d`), a date or a local time (`2026-12-31 23:59:59`), ISO 8601. */
export function parseUntil(text: string | undefined, now: number, zone = Zone.of(), what = '--until'): number | null {
  if (text === undefined || text === '' || text === 'never') return null;
  const t = text.trim();
  let at: number;
  if (/^[0-9]+(?:\.[0-9]+)?[smhdw]$/.test(t)) at = now + parseDuration(t, what);
  else {
    if (/^[0-9]{4}-[0-9]{2}-[0-9]{2}$/.test(t)) {
      // a bare date means to the end of that day
      parseWhen(t, now, zone, what); // a day that does not exist is named as typed
      at = parseWhen(t + ' 23:59:59', now, zone, what).sec;
    } else at = parseWhen(t, now, zone, what).sec;
  }
  if (at <= now) throw permanent(`${what} ${quote(text)} is in the past: expected a time still to come`);
  return at >= 253370764800 ? null : Math.floor(at);
}

function checkSource(s: string | undefined): string {
  if (s === undefined || s === '') return MANUAL;
  if (!SOURCE_RE.test(s)) throw permanent(`bad --source ${quote(s)}: expected letters, digits and . _ - : @ / + (e.g. file:partners)`);
  return s;
}

function checkText(s: string | undefined, what: string): string {
  if (s === undefined) return '';
  if (!printable(s)) throw permanent(`bad ${what} ${quote(s)}: printable ASCII only`);
  return s.trim();
}

export interface NewEntry {
  readonly canon: string;
  readonly net: Net;
  readonly comment: string;
  readonly message: string | null;
}

/** The addresses an edit added, updated (expiry, message or comment), removed, or left as they were. */
export interface Which {
  added: string[];
  updated: string[];
  removed: string[];
  unchanged: string[];
}

/**
 * What a list edit prints with --json (add, remove, load, addlist, mx, spf): one object.
 *   list      `whitelist` or `blacklist`
 *   dryRun    true with --dry-run (then nothing was written)
 *   written   the list file was rewritten (with --dry-run: would be); false when nothing changed
 *   sources   one per source the edit touched, in order: `source` (manual, mx:DOMAIN, ...),
 *             `domain` (mx, spf; else null), and the addresses `added`, `updated`, `removed`,
 *             `unchanged`, as the list spells them (129.74., 192.0.2.0/24)
 *   bad       input lines left out (load --skip-bad): { line, text, why }
 *   skipped   what an mx/spf import leaves out on purpose, one line of text each
 *   failed    mx/spf domains that failed and were left as they were: { domain, error }
 */
export interface EditReport {
  list: ListName;
  dryRun: boolean;
  written: boolean;
  sources: ({ source: string; domain: string | null } & Which)[];
  bad: BadInput[];
  skipped: string[];
  failed: { domain: string; error: string }[];
}

export function editReport(list: ListName, dryRun: boolean, written: boolean, sources: EditReport['sources'], rest: Partial<Pick<EditReport, 'bad' | 'skipped' | 'failed'>> = {}): EditReport {
  return { list, dryRun, written, sources, bad: rest.bad ?? [], skipped: rest.skipped ?? [], failed: rest.failed ?? [] };
}

export const sayJson = (r: EditReport) => process.stdout.write(JSON.stringify(r) + '\n');

function entryLine(e: NewEntry, expires: number | null, source: string): ListLine {
  const text = formatEntry({ address: e.canon, expires, source, message: e.message, comment: e.comment });
  const l = parseLine(text, 0);
  if (l.kind !== 'entry') throw new Error(`internal: wrote an unparsable line: ${text}`);
  return l;
}

function withHeader(lines: ListLine[], name: ListName): ListLine[] {
  if (lines.length > 0) return lines;
  return header(name)
    .trimEnd()
    .split('\n')
    .map((text, k) => ({ kind: 'comment' as const, line: k + 1, text }));
}

/**
 * Replace every entry of `source` with `entries` (in this order). The first old line of the
 * source is where the new ones go; when nothing differs, null (no write).
 */
export function replaceSource(
  lines: ListLine[],
  name: ListName,
  source: string,
  entries: readonly NewEntry[],
  expires: number | null,
): { lines: ListLine[] | null; added: number; removed: number; kept: number; which: Which } {
  // old entries of the source by key: the address as written, and the line
  const old = new Map<string, { address: string; text: string }>();
  let at = -1;
  const rest: ListLine[] = [];
  const oldTexts: string[] = [];
  for (const l of lines) {
    if (l.kind === 'entry' && l.entry.source === source) {
      if (at === -1) at = rest.length;
      if (!old.has(netKey(l.entry.net))) old.set(netKey(l.entry.net), { address: l.entry.address, text: l.text });
      oldTexts.push(l.text);
      continue;
    }
    rest.push(l);
  }
  const fresh = entries.map((e) => entryLine(e, expires, source));
  const newKeys = new Set(entries.map((e) => netKey(e.net)));
  const which: Which = { added: [], updated: [], removed: [], unchanged: [] };
  entries.forEach((e, k) => {
    const o = old.get(netKey(e.net));
    (o === undefined ? which.added : o.text === fresh[k]!.text ? which.unchanged : which.updated).push(e.canon);
  });
  for (const [k, o] of old) if (!newKeys.has(k)) which.removed.push(o.address);
  const added = which.added.length;
  const removed = which.removed.length;
  const kept = newKeys.size - added;
  if (oldTexts.length === fresh.length && oldTexts.every((t, k) => t === fresh[k]!.text)) {
    return { lines: null, added: 0, removed: 0, kept, which: { added: [], updated: [], removed: [], unchanged: entries.map((e) => e.canon) } };
  }
  const base = withHeader(rest, name);
  const pos = at === -1 ? base.length : at + (base.length - rest.length);
  return { lines: [...base.slice(0, pos), ...fresh, ...base.slice(pos)], added, removed, kept, which };
}

/** Add or update entries of `source` by address; other entries are kept. Null when nothing changes. */
export function mergeEntries(lines: ListLine[], name: ListName, source: string, entries: readonly NewEntry[], expires: number | null): { lines: ListLine[] | null; added: number; updated: number; which: Which } {
  const which: Which = { added: [], updated: [], removed: [], unchanged: [] };
  const out = lines.slice();
  const index = new Map<string, number>();
  out.forEach((l, k) => {
    if (l.kind === 'entry' && l.entry.source === source && !index.has(netKey(l.entry.net))) index.set(netKey(l.entry.net), k);
  });
  let added = 0;
  let updated = 0;
  const appended: ListLine[] = [];
  for (const e of entries) {
    const key = netKey(e.net);
    const fresh = entryLine(e, expires, source);
    const k = index.get(key);
    if (k === undefined) {
      appended.push(fresh);
      index.set(key, -1);
      added++;
      which.added.push(e.canon);
    } else if (k >= 0) {
      const old = out[k]!;
      // a new entry without comment or message keeps the old one's
      const o = old.kind === 'entry' ? old.entry : null;
      const merged = entryLine({ ...e, comment: e.comment || o?.comment || '', message: e.message ?? o?.message ?? null }, expires, source);
      if (merged.text !== old.text && !(o && sameEntry(o, merged))) {
        out[k] = merged;
        updated++;
        which.updated.push(e.canon);
      } else which.unchanged.push(e.canon);
    }
  }
  if (added === 0 && updated === 0) return { lines: null, added, updated, which };
  return { lines: [...withHeader(out, name), ...appended], added, updated, which };
}

function sameEntry(a: ListEntry, b: ListLine): boolean {
  return b.kind === 'entry' && a.expires === b.entry.expires && a.message === b.entry.message && a.comment === b.entry.comment;
}

// ---------------------------------------------------------------------------------------
// load: addlist-style input

export interface BadInput {
  readonly line: number;
  readonly text: string;
  readonly why: string;
}

/** One address or prefix per line, `# comment` allowed after it; blank and comment lines skipped. */
export function parseLoadInput(text: string): { entries: NewEntry[]; bad: BadInput[] } {
  const entries: NewEntry[] = [];
  const bad: BadInput[] = [];
  const seen = new Set<string>();
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  lines.forEach((raw, k) => {
    const line = raw.replace(/\r$/, '');
    const hash = line.indexOf('#');
    const body = (hash === -1 ? line : line.slice(0, hash)).trim();
    const comment = hash === -1 ? '' : line.slice(hash + 1).trim();
    if (body === '') return;
    const fields = body.split(/[ \t]+/);
    if (fields.length !== 1) {
      bad.push({ line: k + 1, text: line, why: 'expected one address or prefix per line, then an optional # comment' });
      return;
    }
    const a = parseAddress(fields[0]!);
    if (typeof a === 'string') {
      bad.push({ line: k + 1, text: line, why: a });
      return;
    }
    if (!printable(comment)) {
      bad.push({ line: k + 1, text: line, why: 'the comment has characters outside printable ASCII' });
      return;
    }
    const key = netKey(a.net);
    if (seen.has(key)) return;
    seen.add(key);
    entries.push({ canon: a.canon, net: a.net, comment, message: null });
  });
  return { entries, bad };
}

function readInput(file: string | undefined): { name: string; text: string } {
  if (file === undefined || file === '-') {
    try {
      return { name: 'stdin', text: readFileSync(0, 'latin1') };
    } catch (err) {
      throw temporary(`unable to read stdin: ${reason(err)}`, err);
    }
  }
  try {
    return { name: file, text: readFileSync(file, 'latin1') };
  } catch (err) {
    const msg = `unable to read ${file}: ${reason(err)}`;
    throw isTemporaryErrno(err) ? temporary(msg, err) : permanent(msg, err);
  }
}

export interface LoadArgs extends ListCommonArgs {
  file?: string;
  until?: string;
  source?: string;
  skipBad: boolean;
  message?: string;
  dryRun: boolean;
  /** nothing on stdout on success (cron) */
  quiet: boolean;
  /** print what changed as one JSON object (EditReport) instead of the summary */
  json?: boolean;
}

export async function runLoad(argv: LoadArgs, now: number): Promise<number> {
  const source = checkSource(argv.source);
  const expires = parseUntil(argv.until, now);
  const message = argv.message === undefined ? null : checkText(argv.message, '--message');
  if (message !== null && argv.list !== 'blacklist') throw permanent('--message is for the blacklist only');
  const input = readInput(argv.file);
  const { entries, bad } = parseLoadInput(input.text);
  for (const b of bad) (argv.skipBad ? warn : error)(`${input.name} line ${b.line}: ${b.why}: ${quote(b.text)}`);
  if (bad.length > 0 && !argv.skipBad) {
    throw permanent(`${input.name}: ${bad.length} bad line${bad.length === 1 ? '' : 's'}; nothing loaded (fix them, or load the rest with --skip-bad)`);
  }
  const withMsg = entries.map((e) => ({ ...e, message }));
  let summary = '';
  let which: Which = { added: [], updated: [], removed: [], unchanged: [] };
  const changed = await withLists(argv, (ls) => ls.update(
    argv.list,
    (lines) => {
      if (source === MANUAL) {
        const r = mergeEntries(lines, argv.list, source, withMsg, expires);
        summary = `${r.added} added, ${r.updated} updated, ${entries.length - r.added - r.updated} unchanged`;
        which = r.which;
        return r.lines;
      }
      const r = replaceSource(lines, argv.list, source, withMsg, expires);
      summary = `${r.added} added, ${r.removed} removed, ${r.kept} kept`;
      which = r.which;
      return r.lines;
    },
    { dryRun: argv.dryRun, create: true },
  ));
  if (argv.json === true) sayJson(editReport(argv.list, argv.dryRun, changed, [{ source, domain: null, ...which }], { bad: bad.slice() }));
  else if (!argv.quiet) say(`${argv.list} ${source}: ${summary}${bad.length ? `, ${bad.length} bad lines skipped` : ''}${argv.dryRun && changed ? ' (dry run: not written)' : ''}`);
  return 0;
}

// ---------------------------------------------------------------------------------------
// add / remove

export interface AddArgs extends ListCommonArgs {
  addresses: string[];
  until?: string;
  comment?: string;
  message?: string;
  dryRun: boolean;
  /** nothing on stdout on success (cron) */
  quiet: boolean;
  /** print what changed as one JSON object (EditReport) instead of the summary */
  json?: boolean;
}

function parseArgsAddresses(addresses: readonly string[]): NewEntry[] {
  const out: NewEntry[] = [];
  const errs: string[] = [];
  for (const a of addresses) {
    const p = parseAddress(a);
    if (typeof p === 'string') errs.push(`bad address ${quote(a)}: ${p}`);
    else out.push({ canon: p.canon, net: p.net, comment: '', message: null });
  }
  if (errs.length === 1) throw permanent(errs[0]!);
  if (errs.length > 1) {
    for (const e of errs) error(e);
    throw permanent(`${errs.length} bad addresses; nothing changed`);
  }
  return out;
}

export async function runAdd(argv: AddArgs, now: number): Promise<number> {
  const entries = parseArgsAddresses(argv.addresses);
  const expires = parseUntil(argv.until, now);
  const comment = checkText(argv.comment, '--comment');
  const message = argv.message === undefined ? null : checkText(argv.message, '--message');
  if (message !== null && argv.list !== 'blacklist') throw permanent('--message is for the blacklist only');
  let r: { added: number; updated: number; which: Which } = { added: 0, updated: 0, which: { added: [], updated: [], removed: [], unchanged: [] } };
  const changed = await withLists(argv, (ls) => ls.update(
    argv.list,
    (lines) => {
      const m = mergeEntries(lines, argv.list, MANUAL, entries.map((e) => ({ ...e, comment, message })), expires);
      r = m;
      return m.lines;
    },
    { dryRun: argv.dryRun, create: true },
  ));
  if (argv.json === true) sayJson(editReport(argv.list, argv.dryRun, changed, [{ source: MANUAL, domain: null, ...r.which }]));
  else if (!argv.quiet) say(`${argv.list} manual: ${r.added} added, ${r.updated} updated, ${entries.length - r.added - r.updated} unchanged${argv.dryRun ? ' (dry run: not written)' : ''}`);
  return 0;
}

export interface RemoveArgs extends ListCommonArgs {
  addresses: string[];
  source?: string;
  dryRun: boolean;
  /** nothing on stdout on success (cron) */
  quiet: boolean;
  /** print what changed as one JSON object (EditReport) instead of the summary */
  json?: boolean;
}

export async function runRemove(argv: RemoveArgs): Promise<number> {
  const wanted = parseArgsAddresses(argv.addresses);
  const source = argv.source === undefined ? undefined : checkSource(argv.source);
  let removed = 0;
  // the removed entries by their source, in the list's order
  const bySource = new Map<string, string[]>();
  const changed = await withLists(argv, (ls) => ls.update(
    argv.list,
    (lines) => {
      const keys = new Set(wanted.map((w) => netKey(w.net)));
      const hit = new Set<string>();
      const out = lines.filter((l) => {
        if (l.kind !== 'entry' || (source !== undefined && l.entry.source !== source)) return true;
        const k = netKey(l.entry.net);
        if (!keys.has(k)) return true;
        hit.add(k);
        bySource.set(l.entry.source, [...(bySource.get(l.entry.source) ?? []), l.entry.address]);
        return false;
      });
      const missing = wanted.filter((w) => !hit.has(netKey(w.net)));
      if (missing.length > 0) {
        throw permanent(`not in the ${argv.list}${source ? ` with source ${source}` : ''}: ${missing.map((m) => m.canon).join(', ')}; nothing removed`);
      }
      removed = lines.length - out.length;
      return out;
    },
    { dryRun: argv.dryRun },
  ));
  if (argv.json === true) {
    sayJson(editReport(argv.list, argv.dryRun, changed, [...bySource].map(([src, removed]) => ({ source: src, domain: null, added: [], updated: [], removed, unchanged: [] }))));
  } else if (!argv.quiet) say(`${argv.list}: ${removed} entr${removed === 1 ? 'y' : 'ies'} removed${argv.dryRun ? ' (dry run: not written)' : ''}`);
  return 0;
}

// ---------------------------------------------------------------------------------------
// list / lookup

export interface ShowArgs extends ListCommonArgs {
  source?: string;
  all: boolean;
  json: boolean;
}

const KIND = { whitelist: 'WHITE', blacklist: 'BLACK' } as const;
const field = (t: string) => clean(t, Infinity).replace(/\|/g, '\\|');

export async function runList(argv: ShowArgs, now: number): Promise<number> {
  const { path, lines } = await withLists(argv, async (ls) => ({ path: ls.where(argv.list), lines: await ls.read(argv.list) }));
  const rows: object[] = [];
  for (const l of lines) {
    if (l.kind === 'bad') {
      warn(`${path} line ${l.line}: ${l.why}: ${quote(l.text)} (ignored by every reader)`);
      continue;
    }
    if (l.kind !== 'entry') continue;
    const e = l.entry;
    if (argv.source !== undefined && e.source !== argv.source) continue;
    const expired = isExpired(e, now);
    if (expired && !argv.all) continue;
    if (argv.json) {
      rows.push({ list: argv.list, address: e.address, expires: e.expires === null ? null : formatExpiry(e.expires), expired, source: e.source, message: e.message, comment: e.comment, line: l.line });
    } else {
      say([KIND[argv.list], e.address, formatExpiry(e.expires) + (expired ? '(expired)' : ''), e.source, e.message ?? '', e.comment].map(field).join('|'));
    }
  }
  if (argv.json) say(JSON.stringify(rows));
  return 0;
}

export interface LookupArgs extends ListCommonArgs {
  ips: string[];
  json: boolean;
}

export async function runLookup(argv: LookupArgs, now: number): Promise<number> {
  const ips = argv.ips.map((t) => {
    const ip = parseIp(t);
    if (!ip) throw permanent(`bad address ${quote(t)}: expected an IPv4 or IPv6 address`);
    return ip;
  });
  const text = await withLists(argv, (ls) => ls.readText(argv.list));
  const rows: object[] = [];
  for (const ip of ips) {
    const m = findInText(text, ip, now);
    const a = formatIp(ip);
    // a whitelist entry has no message (the blacklist's default reply is not its)
    const message = m === null ? null : argv.list === 'blacklist' ? m.message : null;
    if (argv.json) rows.push({ ip: a, list: argv.list, match: m === null ? null : { ...m, message } });
    else if (!m) say(`NONE|${a}|||||`);
    // the fields of `list`, after the address asked about: KIND|IP|ENTRY|EXPIRY|SOURCE|MESSAGE|COMMENT
    else say([KIND[argv.list], a, m.label, formatExpiry(m.expires), m.source, message ?? '', m.comment].map(field).join('|'));
  }
  if (argv.json) say(JSON.stringify(rows));
  return 0;
}

// ---------------------------------------------------------------------------------------
// addlist alias: addlist.pl -whitelist|-blacklist YYYY-MM-DD HH:MM:SS < FILE

export interface AddlistArgs {
  /** the environment: the settings a flag does not give (src/core/config.ts) */
  env: Env;
  whitelist: boolean;
  blacklist: boolean;
  date: string;
  time?: string;
  listdir?: string;
  /** --store (openLists) */
  store?: string;
  dryRun: boolean;
  quiet: boolean;
  json?: boolean;
}

export async function runAddlist(argv: AddlistArgs, now: number): Promise<number> {
  if (argv.whitelist === argv.blacklist) throw permanent('give exactly one of -whitelist or -blacklist');
  if (!/^[0-9]{4}-[0-9]{2}-[0-9]{2}$/.test(argv.date) || (argv.time !== undefined && !/^[0-9]{2}:[0-9]{2}:[0-9]{2}$/.test(argv.time))) {
    throw permanent(`unable to parse expiry ${quote(argv.date + (argv.time ? ' ' + argv.time : ''))}: expected YYYY-MM-DD HH:MM:SS (local time)`);
  }
  const until = argv.time === undefined ? argv.date : `${argv.date} ${argv.time}`;
  parseUntil(until, now, Zone.of(), 'expiry');
  return runLoad({ list: argv.whitelist ? 'whitelist' : 'blacklist', env: argv.env, listdir: argv.listdir, store: argv.store, until, skipBad: false, dryRun: argv.dryRun, quiet: argv.quiet, json: argv.json, file: '-' }, now);
}
