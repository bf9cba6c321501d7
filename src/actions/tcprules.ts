// qgrey tcprules: the lists as tcp.smtp rules for sites that keep the C jgreylist
// (FORMATS.md 4.9): `ADDR:allow,JGREYLIST=""` for white, `ADDR:allow,JGREYLIST="text"` for
// black, inside a marked block so the admin's own rules are kept.
//
// tcprules matches the most specific key (exact address, then 3-, 2-, 1-octet prefix) and,
// for a duplicate key, the first line. qgrey's lookup checks the blacklist first and, within
// a list, takes the smallest entry. To give the same answers: every entry becomes aligned
// keys (a /22 is `a.b.4-7.`, a /30 `a.b.c.0-3`); duplicate keys keep the smallest entry; a
// whitelist key that lies inside (or equals) a blacklist key is left out, since the
// blacklist wins there. IPv6 entries cannot be expressed (Debian's tcprules refuses the
// line) and are listed in a comment instead; so is a /0.
//
// With --merge, a rule of ours is more specific than some of the admin's, and tcprules then
// uses ours alone: a partner whitelisted by `192.0.2.:allow,JGREYLIST=""` would lose the
// QMAILQUEUE or RELAYCLIENT the admin's `:allow,...` or `10.:allow,...` gave it. So each rule
// of ours carries the instruction and variables of the admin rule it hides (the one tcprules
// would have used for those addresses without ours), JGREYLIST aside; a key whose hidden rule
// is `deny` is left out (the client is refused whatever JGREYLIST says). tcpserver looks a
// client up in this order (tested against tcprulescheck): `info@IP`, `info@=HOST`, the exact
// IP, `=HOST`, the 3-, 2-, 1-octet prefixes, `=.DOMAIN` suffixes, `=`, the default rule. A
// rule of ours can therefore also hide `=` rules, and which addresses those cover depends on
// DNS: when such a rule gives something other than the address rule it would carry, the merge
// is refused with a message naming both lines.

import type { Env } from '../core/config.js';
import { spawnSync } from 'node:child_process';
import { lstatSync } from 'node:fs';
import { isTemporaryErrno, permanent, quote, reason, temporary } from '../core/errors.js';
import { formatCidr } from '../core/ip.js';
import { renameAtomic } from '../store/atomic.js';
import { clean } from '../core/text.js';
import { warn } from '../render/diag.js';
import { DEFAULT_BLACK_MESSAGE, isExpired, netSize, readListText, writeListAtomic, type ListEntry, type ListLine, type ListName } from '../store/lists.js';
import { withLists } from './lists.js';

export const BEGIN = '# qgrey lists: begin';
export const END = '# qgrey lists: end';

export interface TcprulesArgs {
  /** the environment: the settings a flag does not give (src/core/config.ts) */
  env: Env;
  listdir?: string;
  /** --store (openLists) */
  store?: string;
  merge?: string;
  cdb?: string;
  dryRun: boolean;
  quiet: boolean;
  /** print what was made and what changed as one JSON object (TcprulesReport) */
  json?: boolean;
}

/**
 * What `qgrey tcprules --json` prints: one object.
 *   rules        the lines of the qgrey block, markers left out
 *   black, white how many of them come from each list
 *   notExported  list entries tcprules cannot hold (IPv6, every address), one line of text each
 *   leftToDeny   keys left out because a rule of the admin's denies those clients (--merge)
 *   merge        the rules file of --merge, else null
 *   changed      --merge: the file was rewritten (with --dry-run: would be); else null
 *   added, removed  --merge: block lines that are new, and old block lines gone; else null
 *   cdb          the cdb of --cdb, else null; compiled: it was rebuilt
 *   dryRun       true with --dry-run (nothing written, nothing compiled)
 */
export interface TcprulesReport {
  rules: string[];
  black: number;
  white: number;
  notExported: string[];
  leftToDeny: number;
  merge: string | null;
  changed: boolean | null;
  added: string[] | null;
  removed: string[] | null;
  cdb: string | null;
  compiled: boolean;
  dryRun: boolean;
}

/** The lines between the qgrey block's markers in a rules file (none without a block). */
function oldBlock(text: string): string[] {
  const lines = text.split('\n');
  const b = lines.findIndex((l) => l.startsWith(BEGIN));
  if (b === -1) return [];
  const e = lines.findIndex((l, k) => k > b && l.startsWith(END));
  return lines.slice(b + 1, e === -1 ? undefined : e);
}

/** An aligned block: the first `depth` octets fixed (depth 1..4). */
interface Key {
  readonly depth: number;
  readonly lo: number;
}

function keyText(depth: number, lo: number, last: string): string {
  const o: (number | string)[] = [(lo >>> 24) & 255, (lo >>> 16) & 255, (lo >>> 8) & 255, lo & 255].slice(0, depth);
  o[depth - 1] = last;
  return o.join('.') + (depth < 4 ? '.' : '');
}

/** The aligned blocks covering [lo, hi], largest first at each point (tcprules keys). */
export function keysOf(lo: number, hi: number): Key[] {
  const out: Key[] = [];
  let x = lo;
  while (x <= hi) {
    let depth = 4;
    for (let d = 1; d <= 3; d++) {
      const size = 256 ** (4 - d);
      if (x % size === 0 && x + size - 1 <= hi) {
        depth = d;
        break;
      }
    }
    out.push({ depth, lo: x });
    x += 256 ** (4 - depth);
  }
  return out;
}

const blockOf = (k: Key) => ({ lo: k.lo, hi: k.lo + 256 ** (4 - k.depth) - 1 });
const id = (k: Key) => `${k.depth}:${k.lo}`;

/** Group consecutive keys of one depth and one parent into `a.b.4-7.` patterns. */
export function patterns(keys: readonly Key[]): string[] {
  const sorted = [...keys].sort((a, b) => a.depth - b.depth || a.lo - b.lo);
  const out: string[] = [];
  let i = 0;
  while (i < sorted.length) {
    const k = sorted[i]!;
    const step = 256 ** (4 - k.depth);
    const parent = Math.floor(k.lo / (step * 256));
    let j = i;
    while (j + 1 < sorted.length) {
      const n = sorted[j + 1]!;
      if (n.depth !== k.depth || n.lo !== sorted[j]!.lo + step || Math.floor(n.lo / (step * 256)) !== parent) break;
      j++;
    }
    const first = Math.floor(k.lo / step) % 256;
    const last = Math.floor(sorted[j]!.lo / step) % 256;
    out.push(keyText(k.depth, k.lo, first === last ? String(first) : `${first}-${last}`));
    i = j + 1;
  }
  return out;
}

function delimiterFor(text: string): string {
  for (const c of ['"', "'", '|', '/', '!', '~', '^', '+']) if (!text.includes(c)) return c;
  throw permanent(`blacklist message ${quote(text)} uses every delimiter tcprules could take`);
}

// ---------------------------------------------------------------------------------------
// the admin's rules, read as tcprules reads them

/** What a rule gives a client: allow or deny, and the variables it sets (in order, as written). */
export interface Outcome {
  readonly allow: boolean;
  /** the `,NAME=dVALUEd` settings other than JGREYLIST, as written */
  readonly vars: readonly string[];
}

export interface AdminRule extends Outcome {
  /** 1-based line in the rules file */
  readonly line: number;
  readonly text: string;
  /** before the qgrey block (or the place it will go) */
  readonly before: boolean;
}

/** The admin's rules by kind of key; the first rule of a key wins, as in tcprules. */
export interface AdminRules {
  /** IPv4 keys as tcpserver spells them: '' (default), `a.`, `a.b.`, `a.b.c.`, `a.b.c.d` */
  readonly ip: Map<string, AdminRule>;
  /** `=NAME`: looked up after the exact address, before the prefixes */
  readonly host: AdminRule[];
  /** `=.DOMAIN` and `=`: looked up after the prefixes, before the default */
  readonly domain: AdminRule[];
}

const NO_RULE: Outcome = { allow: true, vars: [] };

/** `allow,A="x",B=|y|` -> Outcome; a string says why it is not one. */
function parseInstruction(text: string): Outcome | string {
  const comma = text.indexOf(',');
  const word = comma === -1 ? text : text.slice(0, comma);
  if (word !== 'allow' && word !== 'deny') return `expected allow or deny after the colon, not ${quote(word)}`;
  const vars: string[] = [];
  let i = comma === -1 ? text.length : comma;
  while (i < text.length) {
    // at a comma: NAME=, a delimiter, the value, the same delimiter
    const eq = text.indexOf('=', i + 1);
    if (eq === -1 || eq + 1 >= text.length) return `expected NAME="value" after ${quote(text.slice(0, i + 1), 60)}`;
    const d = text[eq + 1] as string;
    const close = text.indexOf(d, eq + 2);
    if (close === -1) return `the value of ${quote(text.slice(i + 1, eq))} has no closing ${d}`;
    const end = close + 1;
    if (end < text.length && text[end] !== ',') return `expected a comma after ${quote(text.slice(i + 1, end), 60)}`;
    if (end === text.length - 1) return 'a comma at the end of the line';
    const name = text.slice(i + 1, eq);
    if (name !== 'JGREYLIST') vars.push(text.slice(i + 1, end));
    i = end;
  }
  return { allow: word === 'allow', vars };
}

/** The keys a tcprules key stands for: its first `a-b` range expanded, as tcprules does. */
function expandKey(key: string): string[] {
  const dash = key.indexOf('-');
  if (dash === -1) return [key];
  let st = dash;
  while (st > 0 && key.charCodeAt(st - 1) >= 48 && key.charCodeAt(st - 1) <= 57) st--;
  let en = dash + 1;
  while (en < key.length && key.charCodeAt(en) >= 48 && key.charCodeAt(en) <= 57) en++;
  const a = Number(key.slice(st, dash) || '0');
  const b = Number(key.slice(dash + 1, en) || '0');
  const out: string[] = [];
  for (let n = a; n <= b && out.length < 65536; n++) out.push(key.slice(0, st) + n + key.slice(en));
  return out;
}

/**
 * The rules outside the qgrey block of `text`. Lines are read as tcprules reads them:
 * trailing blanks dropped, `#` at the start a comment, a line without a colon skipped; a line
 * tcprules would refuse is refused here too, naming it.
 */
export function parseAdminRules(text: string, file: string): AdminRules {
  const rules: AdminRules = { ip: new Map(), host: [], domain: [] };
  const lines = text === '' ? [] : text.replace(/\n$/, '').split('\n');
  let inBlock = false;
  let seenBlock = false;
  lines.forEach((raw, k) => {
    if (raw.startsWith(BEGIN)) {
      inBlock = seenBlock = true;
      return;
    }
    if (raw.startsWith(END)) {
      inBlock = false;
      return;
    }
    if (inBlock) return;
    const line = raw.replace(/[ \t\r]+$/, '');
    if (line === '' || line.startsWith('#')) return;
    const colon = line.indexOf(':');
    if (colon === -1) return;
    const o = parseInstruction(line.slice(colon + 1));
    if (typeof o === 'string') throw permanent(`unable to merge into ${file}: unable to parse line ${k + 1} ${quote(line)}: ${o} (tcprules would refuse it too)`);
    // without a block yet, ours goes at the end: every admin rule comes before it
    const rule: AdminRule = { ...o, line: k + 1, text: line, before: !seenBlock };
    const key = line.slice(0, colon);
    if (key.includes('@')) return; // info@...: looked up before anything of ours
    if (key.startsWith('=')) {
      (key === '=' || key.startsWith('=.') ? rules.domain : rules.host).push(rule);
      return;
    }
    for (const kk of expandKey(key)) if (!rules.ip.has(kk)) rules.ip.set(kk, rule);
  });
  return rules;
}

const sameOutcome = (a: Outcome, b: Outcome) => a.allow === b.allow && a.vars.length === b.vars.length && a.vars.every((v, k) => valueOf(v) === valueOf(b.vars[k]!));
/** `NAME=dVALUEd` -> `NAME=VALUE`: the same setting whatever the delimiter */
const valueOf = (v: string) => {
  const eq = v.indexOf('=');
  return v.slice(0, eq + 1) + v.slice(eq + 2, -1);
};

/** What a rule of ours hides, for the aligned block `k`: the outcome to carry. Throws when it cannot tell. */
export function hiddenOutcome(admin: AdminRules, k: Key, what: string, file: string): Outcome | AdminRule {
  const o = [(k.lo >>> 24) & 255, (k.lo >>> 16) & 255, (k.lo >>> 8) & 255, k.lo & 255];
  const keyAt = (d: number) => (d === 0 ? '' : d === 4 ? o.join('.') : o.slice(0, d).join('.') + '.');
  const own = admin.ip.get(keyAt(k.depth));
  if (own) return own; // the same key: without ours, this rule
  // the rules tcpserver would try after ours, in order; the first address rule always matches
  const unsure: AdminRule[] = k.depth === 4 ? [...admin.host] : [];
  let sure: Outcome | AdminRule = NO_RULE;
  for (let d = k.depth - 1; d >= 0; d--) {
    if (d === 0) unsure.push(...admin.domain);
    const r = admin.ip.get(keyAt(d));
    if (r) {
      sure = r;
      break;
    }
  }
  for (const u of unsure) {
    if (sameOutcome(u, sure)) continue;
    const carried = 'line' in sure ? `line ${sure.line} (${quote(sure.text, 80)})` : 'no rule (allow)';
    throw permanent(
      `unable to merge into ${file}: the rule for ${what} (${keyText(k.depth, k.lo, String(o[k.depth - 1]))}) would also hide line ${u.line} (${quote(u.text, 80)}) from clients whose host name it matches, ` +
        `and that line gives something else than ${carried}; qgrey cannot tell which addresses those names have: give both lines the same variables, or set JGREYLIST in your own rules and leave out --merge`,
    );
  }
  return sure;
}

export interface Block {
  readonly lines: string[];
  readonly black: number;
  readonly white: number;
  readonly skipped: string[];
  /** keys left out because the admin rule they would hide denies the client */
  readonly denied: number;
}

function live(lines: readonly ListLine[], now: number): ListEntry[] {
  const out: ListEntry[] = [];
  for (const l of lines) if (l.kind === 'entry' && !isExpired(l.entry, now)) out.push(l.entry);
  return out;
}

/**
 * The rules for both lists, as the lines of the marked block. With `hidden` (--merge), each
 * key carries what it returns: the instruction and variables of the admin rule it hides; a
 * key that hides a `deny` is left out (counted in `denied`).
 */
export function buildBlock(white: readonly ListEntry[], black: readonly ListEntry[], hidden?: (k: Key, what: string) => Outcome): Block {
  const skipped: string[] = [];
  const bySize = (es: readonly ListEntry[]) => es.map((e, k) => ({ e, k })).sort((a, b) => netSize(a.e.net) - netSize(b.e.net) || a.k - b.k);
  const usable = (e: ListEntry, list: ListName): boolean => {
    if (e.net.family === 6) {
      skipped.push(`${list} ${formatCidr(e.net.cidr)} (${e.source}): IPv6, tcprules cannot match it`);
      return false;
    }
    if (e.net.lo === 0 && e.net.hi === 0xffffffff) {
      skipped.push(`${list} ${e.address} (${e.source}): every address; it would replace the default rule`);
      return false;
    }
    return true;
  };
  // black: key -> message (smallest entry first)
  const blackKeys = new Map<string, { key: Key; message: string; what: string }>();
  for (const { e } of bySize(black)) {
    if (!usable(e, 'blacklist') || e.net.family !== 4) continue;
    for (const k of keysOf(e.net.lo, e.net.hi)) if (!blackKeys.has(id(k))) blackKeys.set(id(k), { key: k, message: e.message ?? DEFAULT_BLACK_MESSAGE, what: `blacklist ${e.address}` });
  }
  const underBlack = (k: Key): boolean => {
    for (let d = 1; d <= k.depth; d++) {
      const size = 256 ** (4 - d);
      if (blackKeys.has(`${d}:${Math.floor(k.lo / size) * size}`)) return true;
    }
    return false;
  };
  const whiteKeys = new Map<string, { key: Key; what: string }>();
  for (const { e } of bySize(white)) {
    if (!usable(e, 'whitelist') || e.net.family !== 4) continue;
    for (const k of keysOf(e.net.lo, e.net.hi)) if (!underBlack(k) && !whiteKeys.has(id(k))) whiteKeys.set(id(k), { key: k, what: `whitelist ${e.address}` });
  }
  // rules grouped by what they set (JGREYLIST, then the carried variables), so ranges merge
  let denied = 0;
  const groups = new Map<string, { black: boolean; jg: string; vars: readonly string[]; keys: Key[] }>();
  const put = (key: Key, what: string, black: boolean, jg: string) => {
    const o = hidden ? hidden(key, what) : { allow: true, vars: [] };
    if (!o.allow) {
      denied++;
      return;
    }
    const gid = `${black ? 0 : 1}\0${jg}\0${o.vars.join('\0')}`;
    const g = groups.get(gid) ?? { black, jg, vars: o.vars, keys: [] };
    g.keys.push(key);
    groups.set(gid, g);
  };
  for (const { key, message, what } of blackKeys.values()) put(key, what, true, message);
  for (const { key, what } of whiteKeys.values()) put(key, what, false, '');
  const lines: string[] = [];
  let nb = 0;
  let nw = 0;
  const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  const order = [...groups.entries()].sort((a, b) => Number(a[1].black ? 0 : 1) - Number(b[1].black ? 0 : 1) || cmp(a[1].jg, b[1].jg) || cmp(a[0], b[0]));
  for (const [, g] of order) {
    const d = g.black ? delimiterFor(g.jg) : '"';
    const vars = g.vars.map((v) => ',' + v).join('');
    for (const p of patterns(g.keys)) {
      lines.push(`${p}:allow${vars},JGREYLIST=${d}${g.jg}${d}`);
      if (g.black) nb++;
      else nw++;
    }
  }
  for (const s of skipped) lines.push(`# not exported: ${clean(s, Infinity)}`);
  return { lines, black: nb, white: nw, skipped, denied };
}

/** Put the block into `text` (replacing an existing block, else appending it). */
export function mergeBlock(text: string, block: readonly string[], file: string): string {
  const lines = text === '' ? [] : text.replace(/\n$/, '').split('\n');
  const b = lines.findIndex((l) => l.startsWith(BEGIN));
  const wrapped = [`${BEGIN} (generated by qgrey tcprules from the whitelist and blacklist; edits inside are replaced)`, ...block, END];
  if (b === -1) {
    if (lines.some((l) => l.startsWith(END))) throw permanent(`${file}: found '${END}' without '${BEGIN}': fix the block markers by hand`);
    // at the end: the admin's rules come first and win for a duplicate address
    return [...lines, ...wrapped].join('\n') + '\n';
  }
  const e = lines.findIndex((l, k) => k > b && l.startsWith(END));
  if (e === -1) throw permanent(`${file}: '${BEGIN}' on line ${b + 1} has no '${END}' after it: fix the block markers by hand`);
  if (lines.slice(e + 1).some((l) => l.startsWith(BEGIN))) throw permanent(`${file}: more than one qgrey block: fix the block markers by hand`);
  return [...lines.slice(0, b), ...wrapped, ...lines.slice(e + 1)].join('\n') + '\n';
}

/** Admin rule addresses that are also addresses of ours: the first line wins in tcprules. */
function duplicates(merged: string): string[] {
  const seen = new Map<string, { line: number; ours: boolean }>();
  const out: string[] = [];
  let inBlock = false;
  merged.split('\n').forEach((l, k) => {
    if (l.startsWith(BEGIN)) inBlock = true;
    else if (l.startsWith(END)) inBlock = false;
    if (l.startsWith('#')) return;
    const c = l.indexOf(':');
    if (c <= 0) return;
    const addr = l.slice(0, c);
    const prev = seen.get(addr);
    if (prev && prev.ours !== inBlock) out.push(`${addr}: line ${prev.line} (${prev.ours ? 'qgrey' : 'yours'}) comes first and wins over line ${k + 1} (${inBlock ? 'qgrey' : 'yours'})`);
    else if (!prev) seen.set(addr, { line: k + 1, ours: inBlock });
  });
  return out;
}

/**
 * tcprules RULES into `cdb`. tcprules makes its cdb 0644 cut by the umask (root's cron
 * under umask 077: 0600, which tcpserver, running as another uid, cannot read: every
 * connection refused), so it writes a name of ours, which then gets the mode and owner of
 * the cdb it replaces (a new one: 0644) and is renamed over it.
 */
function compile(cdb: string, rules: string): void {
  const tmp = `${cdb}.tmp`;
  const staged = `${cdb}.qgrey-new`;
  const r = spawnSync('tcprules', [staged, tmp], { input: rules, encoding: 'utf8' });
  // tcprules may fail (its temp file cannot be made) before reading all of its input: then
  // the write gets EPIPE, and its own exit code and message say why
  if (r.error && !((r.error as NodeJS.ErrnoException).code === 'EPIPE' && r.status !== null && r.status !== 0)) {
    const code = (r.error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw permanent('unable to run tcprules: not found in PATH (install ucspi-tcp)');
    throw temporary(`unable to run tcprules: ${reason(r.error)}`, r.error);
  }
  if (r.status !== 0) {
    const msg = (r.stderr || '').trim().split('\n').pop() ?? '';
    const err = `tcprules ${cdb} failed (exit ${r.status}): ${clean(msg, Infinity)}`;
    throw r.status === 111 ? temporary(err) : permanent(err);
  }
  renameAtomic(staged, cdb, { what: 'rules cdb' });
}

export async function run(argv: TcprulesArgs, now: number): Promise<number> {
  const [white, black] = await withLists(argv, async (ls) => [live(await ls.read('whitelist'), now), live(await ls.read('blacklist'), now)]);
  let block: Block;
  let rules: string;
  let delta: { changed: boolean; added: string[]; removed: string[] } | null = null;
  const json = argv.json === true;
  const report = (compiled: boolean): TcprulesReport => ({
    rules: block.lines,
    black: block.black,
    white: block.white,
    notExported: block.skipped,
    leftToDeny: block.denied,
    merge: argv.merge ?? null,
    changed: delta?.changed ?? null,
    added: delta?.added ?? null,
    removed: delta?.removed ?? null,
    cdb: argv.cdb ?? null,
    compiled,
    dryRun: argv.dryRun,
  });
  if (argv.merge !== undefined) {
    const file = argv.merge;
    try {
      if (lstatSync(file).isSymbolicLink()) throw permanent(`refusing to replace ${file}: it is a symbolic link`);
    } catch (err) {
      if (err instanceof Error && err.name === 'QgreyError') throw err;
      const msg = `unable to read ${file}: ${reason(err)}`;
      throw isTemporaryErrno(err) ? temporary(msg, err) : permanent(msg, err);
    }
    const before = readListText(file);
    const admin = parseAdminRules(before, file);
    block = buildBlock(white, black, (k, what) => hiddenOutcome(admin, k, what, file));
    rules = mergeBlock(before, block.lines, file);
    for (const d of duplicates(rules)) warn(`duplicate address ${d}`);
    const was = oldBlock(before);
    const fresh = new Set(block.lines);
    const had = new Set(was);
    delta = { changed: rules !== before, added: block.lines.filter((l) => !had.has(l)), removed: was.filter((l) => !fresh.has(l)) };
    if (argv.dryRun) {
      process.stdout.write(json ? JSON.stringify(report(false)) + '\n' : rules);
      return 0;
    }
    if (rules !== before) writeListAtomic(file, rules);
  } else {
    block = buildBlock(white, black);
    rules = [`${BEGIN} (generated by qgrey tcprules from the whitelist and blacklist; edits inside are replaced)`, ...block.lines, END].join('\n') + '\n';
    if (argv.dryRun || argv.cdb === undefined) {
      process.stdout.write(json ? JSON.stringify(report(false)) + '\n' : rules);
      return 0;
    }
  }
  if (argv.cdb !== undefined) compile(argv.cdb, rules);
  if (json) process.stdout.write(JSON.stringify(report(argv.cdb !== undefined)) + '\n');
  else if ((argv.merge !== undefined || argv.cdb !== undefined) && !argv.quiet) {
    const parts = [`${block.black} blacklist and ${block.white} whitelist rules`];
    if (argv.merge !== undefined) parts.push(`merged into ${argv.merge}`);
    if (argv.cdb !== undefined) parts.push(`compiled into ${argv.cdb}`);
    if (block.skipped.length) parts.push(`${block.skipped.length} entries not exported`);
    if (block.denied) parts.push(`${block.denied} left to your deny rules`);
    process.stdout.write(`tcprules: ${parts.join(', ')}\n`);
  }
  return 0;
}
