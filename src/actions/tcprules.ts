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

import { spawnSync } from 'node:child_process';
import { lstatSync } from 'node:fs';
import { isTemporaryErrno, permanent, quote, reason, temporary } from '../core/errors.js';
import { formatCidr } from '../core/ip.js';
import { DEFAULT_BLACK_MESSAGE, isExpired, listDir, listPath, netSize, readList, readListText, writeListAtomic, type ListEntry, type ListName } from '../store/lists.js';

export const BEGIN = '# qgrey lists: begin';
export const END = '# qgrey lists: end';

export interface TcprulesArgs {
  listdir?: string;
  merge?: string;
  cdb?: string;
  dryRun: boolean;
}

/** An aligned block: the first `depth` octets fixed (depth 1..4). */
interface Key {
  readonly depth: number;
  readonly lo: number;
}

function keyText(depth: number, lo: number, last: string): string {
  const o = [(lo >>> 24) & 255, (lo >>> 16) & 255, (lo >>> 8) & 255, lo & 255].slice(0, depth);
  o[depth - 1] = last as unknown as number;
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

export interface Block {
  readonly lines: string[];
  readonly black: number;
  readonly white: number;
  readonly skipped: string[];
}

function live(path: string, now: number): ListEntry[] {
  const out: ListEntry[] = [];
  for (const l of readList(path)) if (l.kind === 'entry' && !isExpired(l.entry, now)) out.push(l.entry);
  return out;
}

/** The rules for both lists, as the lines of the marked block. */
export function buildBlock(white: readonly ListEntry[], black: readonly ListEntry[]): Block {
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
  const blackKeys = new Map<string, { key: Key; message: string }>();
  for (const { e } of bySize(black)) {
    if (!usable(e, 'blacklist') || e.net.family !== 4) continue;
    for (const k of keysOf(e.net.lo, e.net.hi)) if (!blackKeys.has(id(k))) blackKeys.set(id(k), { key: k, message: e.message ?? DEFAULT_BLACK_MESSAGE });
  }
  const underBlack = (k: Key): boolean => {
    for (let d = 1; d <= k.depth; d++) {
      const size = 256 ** (4 - d);
      if (blackKeys.has(`${d}:${Math.floor(k.lo / size) * size}`)) return true;
    }
    return false;
  };
  const whiteKeys = new Map<string, Key>();
  for (const { e } of bySize(white)) {
    if (!usable(e, 'whitelist') || e.net.family !== 4) continue;
    for (const k of keysOf(e.net.lo, e.net.hi)) if (!underBlack(k) && !whiteKeys.has(id(k))) whiteKeys.set(id(k), k);
  }
  const lines: string[] = [];
  // black rules grouped by message so ranges can be merged
  const byMsg = new Map<string, Key[]>();
  for (const { key, message } of blackKeys.values()) {
    const a = byMsg.get(message) ?? [];
    a.push(key);
    byMsg.set(message, a);
  }
  let nb = 0;
  for (const [msg, keys] of [...byMsg].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))) {
    const d = delimiterFor(msg);
    for (const p of patterns(keys)) {
      lines.push(`${p}:allow,JGREYLIST=${d}${msg}${d}`);
      nb++;
    }
  }
  let nw = 0;
  for (const p of patterns([...whiteKeys.values()])) {
    lines.push(`${p}:allow,JGREYLIST=""`);
    nw++;
  }
  for (const s of skipped) lines.push(`# not exported: ${s.replace(/[^\x20-\x7e]/g, '?')}`);
  return { lines, black: nb, white: nw, skipped };
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

function compile(cdb: string, rules: string): void {
  const tmp = `${cdb}.tmp`;
  const r = spawnSync('tcprules', [cdb, tmp], { input: rules, encoding: 'utf8' });
  if (r.error) {
    const code = (r.error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw permanent('unable to run tcprules: not found in PATH (install ucspi-tcp)');
    throw temporary(`unable to run tcprules: ${reason(r.error)}`, r.error);
  }
  if (r.status !== 0) {
    const msg = (r.stderr || '').trim().split('\n').pop() ?? '';
    const err = `tcprules ${cdb} failed (exit ${r.status}): ${msg.replace(/[^\x20-\x7e]/g, '?')}`;
    throw r.status === 111 ? temporary(err) : permanent(err);
  }
}

export async function run(argv: TcprulesArgs, now = Date.now() / 1000): Promise<number> {
  const dir = listDir(argv.listdir);
  const white = live(listPath(dir, 'whitelist'), now);
  const black = live(listPath(dir, 'blacklist'), now);
  const block = buildBlock(white, black);
  for (const s of block.skipped) process.stderr.write(`qgrey: warning: not exported: ${s}\n`);
  let rules: string;
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
    rules = mergeBlock(before, block.lines, file);
    for (const d of duplicates(rules)) process.stderr.write(`qgrey: warning: duplicate address ${d}\n`);
    if (argv.dryRun) {
      process.stdout.write(rules);
      return 0;
    }
    if (rules !== before) writeListAtomic(file, rules);
  } else {
    rules = [`${BEGIN} (generated by qgrey tcprules from the whitelist and blacklist; edits inside are replaced)`, ...block.lines, END].join('\n') + '\n';
    if (argv.dryRun || argv.cdb === undefined) {
      process.stdout.write(rules);
      return 0;
    }
  }
  if (argv.cdb !== undefined) compile(argv.cdb, rules);
  if (argv.merge !== undefined || argv.cdb !== undefined) {
    const parts = [`${block.black} blacklist and ${block.white} whitelist rules`];
    if (argv.merge !== undefined) parts.push(`merged into ${argv.merge}`);
    if (argv.cdb !== undefined) parts.push(`compiled into ${argv.cdb}`);
    if (block.skipped.length) parts.push(`${block.skipped.length} entries not exported`);
    process.stdout.write(`tcprules: ${parts.join(', ')}\n`);
  }
  return 0;
}
