// The streaming log reader every command uses. Lines are kept as latin1 strings (one char per
// byte, so output can be byte-for-byte), prefixes are decoded, malformed labels are reported
// with file and line number and skipped without losing the neighbouring lines, and several
// sources are merged in time order with lines found both in a backup and in the live
// directory counted once. Memory is bounded by the chunk size times the number of sources.

import { isAscii } from 'node:buffer';
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { compareStamp, type Stamp } from '../core/tai64n.js';
import { Zone } from '../core/zone.js';
import { parsePrefix, parseBody, acceptedFacts, type AcceptedFacts, type LogEvent } from '../core/logline.js';
import { parseIp } from '../core/ip.js';
import { quote } from '../core/errors.js';
import { acceptedScanner, recordIp, ACCEPTED_NEEDLE, FAST, F_IP4, F_IP6, F_MAPPED, F_RECEIVED, F_RELAY, HEAD, OUT_LINES, OUT_TEXT, R_AUTH, R_AUTH_LEN, R_END, R_FLAGS, R_GROUPS, R_HI, R_IP, R_IP4, R_IP_LEN, R_LINE, R_LO, R_NANO, R_START, R_STATUS, R_TEXT, R_PID, NO_PID, L_END, L_HI, L_LO, L_NANO, L_REC, type AcceptedScanner } from '../native/accepted.js';
import { expandSources, type FileSource } from './sources.js';
import { openLog } from './open.js';

export interface ReadOptions {
  /** zone for zone-less readable stamps (tai64nlocal output, sagredo d/m stamps); default: local */
  zone?: Zone;
  since?: Stamp | null;
  until?: Stamp | null;
  /** only lines containing this text are delivered (a fast byte search, before any parsing) */
  needle?: string;
  /**
   * Without a needle: a TAI64N-labelled line is delivered only when this says yes to its body
   * (`buf[at]` is the body's first byte, `end` the index of its newline). It looks at bytes, so
   * a line passed over costs no string, no parse and no record. Lines without a label, and
   * labels that are not well-formed (reported as usual), are always delivered. Ignored when the
   * paths make more than one group (a backup next to the live log): lines found in both are
   * counted as duplicates, so every line is needed for the count.
   */
  keep?: (buf: Buffer, at: number, end: number) => boolean;
  /** one-line warnings: "FILE:LINE: ..." */
  warn?: (msg: string) => void;
  /** byte offset to start a plain file at (incremental runs); 0 = from the start */
  resume?: (file: { path: string; ino: number; size: number }) => number;
  /** patterns among `paths` that may match no file (a command's defaults); others that match none are an error */
  optional?: readonly string[];
  /**
   * false: never use the WebAssembly scan of accepted lines (src/native/accepted.c), as
   * QGREY_NO_WASM=1 does; the records are the same either way (tests compare the two)
   */
  wasm?: boolean;
  /**
   * With the accepted-line needle, or with no needle (then `keep` is not asked about these
   * lines), and the WebAssembly scan: a plain accepted line whose remoteip is an IPv4 address
   * (dotted or IPv4-mapped) and whose time is inside since/until is handed to this as numbers,
   * and becomes no record (no string, no object). Every other line is a record as usual.
   * Called as the scan meets the lines, before the records of the same chunk are delivered
   * (unless `each` takes them), so without `each` it suits a consumer that does not care about
   * the order (rebuild's earliest and latest time per key). Ignored, as `each` is, when the
   * paths make more than one group (the merge needs every line to count duplicates).
   */
  accepted?: AcceptedSink;
  /**
   * With `accepted`: the same for a plain accepted line whose remoteip is an IPv6 address (not
   * IPv4-mapped). Without it such a line is a record.
   */
  accepted6?: Accepted6Sink;
  /**
   * Every record is handed to this as it is made, in log order with the calls of `accepted`
   * and `consume`, instead of being delivered in the batches (which then stay empty), so that a
   * consumer that counts in order (stats) can take them all; an empty batch comes at the end of
   * each file. Ignored with several groups: the records then come in the batches, merged, and
   * neither the sink nor `consume` is called.
   */
  each?: (r: LogRecord) => void;
  /**
   * With `keep` and `each`: a TAI64N-labelled line that `keep` keeps and whose time is inside
   * since/until is offered to this first, with its time (`buf[at]` is the body's first byte,
   * `end` the index of its newline). True: it counted the line from its bytes, in order with
   * `each`'s records, and the line becomes no record. Ignored, as `each` is, with several groups.
   */
  consume?: (buf: Buffer, at: number, end: number, sec: number, nsec: number) => boolean;
}

export { F_RECEIVED, F_RELAY } from '../native/accepted.js';

/** flag of AcceptedSink (besides accepted.ts's F_RECEIVED and F_RELAY): authuser is not empty */
export const F_AUTH = 64;

/**
 * A plain accepted IPv4 line: its TAI64N time (`sec`, `nsec`), flags (F_RECEIVED for
 * qlogreceived, else qlogenvelope; F_RELAY for relay=yes; F_AUTH for a non-empty authuser;
 * other bits mean nothing here), the address as an unsigned 32-bit number, and the pid= at
 * the end of the line as a number.
 */
export type AcceptedSink = (sec: number, nsec: number, flags: number, ip4: number, pid: number) => void;

/**
 * A plain accepted IPv6 line, as AcceptedSink has it; the address as four unsigned 32-bit
 * words, the first the highest (words 0 and 1: the /64 prefix).
 */
export type Accepted6Sink = (sec: number, nsec: number, flags: number, w0: number, w1: number, w2: number, w3: number, pid: number) => void;

/**
 * The pid= number that ends the body of the line buf[ls, le) (one CR before the newline
 * allowed), as Number() reads it: -1 when it is not 1 to 15 digits after ` pid=`.
 */
function pidAt(buf: Buffer, ls: number, le: number): number {
  let e = le;
  if (e > ls && buf[e - 1] === 13) e--;
  let i = e;
  while (i > ls && buf[i - 1]! >= 48 && buf[i - 1]! <= 57) i--;
  if (i === e || e - i > 15 || i - ls < 5 || buf[i - 1] !== 61 || buf[i - 2] !== 100 || buf[i - 3] !== 105 || buf[i - 4] !== 112 || buf[i - 5] !== 32) return -1;
  let n = 0;
  for (; i < e; i++) n = n * 10 + buf[i]! - 48;
  return n;
}

export interface ReadStats {
  files: number;
  skippedFiles: number;
  /** complete lines read (with a needle: all of them, not only those holding it), counted at the end of each file */
  lines: number;
  bad: number;
  partial: number;
  folds: number;
  gaps: number;
  duplicates: number;
  /** per file read: inode and the byte offset just after the last complete line */
  ends: Map<string, { ino: number; offset: number }>;
}

const NO_TIME: Stamp = { sec: -Infinity, nsec: 0 };

const NON_ASCII = /[^\x00-\x7f]/;

export class LogRecord {
  private ev: LogEvent | undefined;
  /** the accepted-line facts, when the WebAssembly scan worked them out already (see recordFacts) */
  facts: AcceptedFacts | undefined = undefined;
  constructor(
    /** file path or '-' */
    readonly source: string,
    readonly group: number,
    /** 1-based line number in the file */
    readonly lineno: number,
    /** the line's own time, or null when it has no timestamp */
    readonly stamp: Stamp | null,
    /** the time used for ordering (the line's own, else the previous stamped line's) */
    readonly order: Stamp,
    readonly prefix: 'tai64n' | 'local' | 'none',
    /** the whole line as a latin1 string, without the newline */
    readonly line: string,
    /** where the body starts in `line` */
    readonly bodyStart: number,
    /** for TAI64N lines: the first byte after the hex run (tai64nlocal copies from there) */
    readonly restStart: number,
    /** the line is pure ASCII (its latin1 and UTF-8 readings agree); undefined: find out when asked */
    private isAscii?: boolean,
  ) {}

  /** the line is pure ASCII (its latin1 and UTF-8 readings agree) */
  get ascii(): boolean {
    return (this.isAscii ??= !NON_ASCII.test(this.line));
  }

  /** the text after the timestamp, UTF-8 decoded, without a trailing CR */
  get body(): string {
    const end = this.line.charCodeAt(this.line.length - 1) === 13 ? this.line.length - 1 : this.line.length;
    const raw = this.line.slice(this.bodyStart, end);
    // latin1 -> bytes -> utf8, only when there is a non-ASCII byte
    return this.ascii ? raw : Buffer.from(raw, 'latin1').toString('utf8');
  }

  event(): LogEvent {
    return (this.ev ??= parseBody(this.body));
  }
}

/** What a rebuild needs from an accepted line: acceptedFacts(r.body), precomputed when the reader could. */
export function recordFacts(r: LogRecord): AcceptedFacts | null {
  return r.facts ?? acceptedFacts(r.body);
}

/** Buffer's own latin1 decoder, without toString's argument checks */
type Latin1 = Buffer & { latin1Slice(start: number, end: number): string };

// decodeLabel's range check and formula (src/core/tai64n.ts), for labels the WebAssembly scan read
const HI_BASE = 0x40000000;
const HI_SPAN = 1 << 21;

/**
 * The stamp of a well-formed TAI64N label at buf[ls] followed by a space, as decodeLabel reads
 * it, into `into`; false when it is not one (make() then reports it as usual).
 */
function labelAt(buf: Buffer, ls: number, into: { sec: number; nsec: number }): boolean {
  if (buf[ls] !== 64 || buf[ls + 25] !== 32) return false;
  let hi = 0;
  let lo = 0;
  let ns = 0;
  for (let i = 1; i <= 24; i++) {
    const c = buf[ls + i]!;
    const d = c <= 57 ? c - 48 : c - 87;
    if (d < 0 || d > 15 || (c > 57 && c < 97)) return false;
    if (i <= 8) hi = hi * 16 + d;
    else if (i <= 16) lo = lo * 16 + d;
    else ns = ns * 16 + d;
  }
  const rel = hi - HI_BASE;
  if (rel <= -HI_SPAN || rel >= HI_SPAN) return false;
  into.sec = rel * 4294967296 + lo - 10;
  into.nsec = ns;
  return true;
}

/** labelAt from the module's line record at lo[k] (lines()): the same answer, the same stamp. */
function labelOf(lo: Uint32Array, k: number, into: { sec: number; nsec: number }): boolean {
  const rel = lo[k + L_HI]! - HI_BASE;
  if (rel <= -HI_SPAN || rel >= HI_SPAN) return false;
  into.sec = rel * 4294967296 + lo[k + L_LO]! - 10;
  into.nsec = lo[k + L_NANO]!;
  return true;
}

function countNewlines(buf: Buffer, from: number, to: number): number {
  let n = 0;
  let i = buf.indexOf(10, from);
  while (i !== -1 && i < to) {
    n++;
    i = buf.indexOf(10, i + 1);
  }
  return n;
}

const MAX_LINE = 16 << 20;

// bytes read at a time into the WebAssembly scanner's memory (as the chunks: the cache)
const DIRECT_READ = 1 << 16;

/**
 * The newlines in the first `end` bytes of the plain file at `path` (the one with inode `ino`):
 * the line number a resumed read starts after. 0 if the file is not that one any more, or
 * cannot be read (the numbers in messages are then counted from the resume point).
 */
function linesBefore(path: string, ino: number, end: number): number {
  let fd = -1;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    if (fstatSync(fd).ino !== ino) return 0;
    const buf = Buffer.allocUnsafe(Math.min(end, 1 << 20));
    let n = 0;
    for (let pos = 0; pos < end; ) {
      const got = readSync(fd, buf, 0, Math.min(buf.length, end - pos), pos);
      if (got <= 0) break;
      n += countNewlines(buf, 0, got);
      pos += got;
    }
    return n;
  } catch {
    return 0;
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}

async function* fileRecords(src: FileSource, opts: ReadOptions, zone: Zone, stats: ReadStats): AsyncGenerator<LogRecord[]> {
  const warn = opts.warn ?? (() => {});
  const since = opts.since ?? null;
  const until = opts.until ?? null;
  if (since && src.rotatedAt !== null && src.rotatedAt < since.sec) {
    stats.skippedFiles++;
    return;
  }
  const first = await openLog(src.path, 0).catch((e: unknown) => Promise.reject(e));
  let log = first;
  // lines before the resume point: messages count FILE:LINE from the start of the file
  let skipped = 0;
  if (opts.resume && src.path !== '-') {
    const start = opts.resume({ path: src.path, ino: first.ino, size: first.size });
    if (start > 0 && first.compression === 'none') {
      // reopen at the offset (the first stream has not been consumed)
      await first.release();
      log = await openLog(src.path, start);
      skipped = log.start > 0 ? linesBefore(src.path, log.ino, log.start) : 0;
    }
  }
  stats.files++;
  const needle = opts.needle ? Buffer.from(opts.needle, 'latin1') : null;
  // the WebAssembly scan: for the accepted needle, or beside `keep` for the sink's lines
  const wasm = (opts.needle === ACCEPTED_NEEDLE || (!needle && opts.accepted)) && opts.wasm !== false ? acceptedScanner() : null;
  const sink = wasm ? opts.accepted : undefined;
  const sink6 = sink !== undefined ? opts.accepted6 : undefined;
  const each = opts.each;
  const consume = each !== undefined && !needle ? opts.consume : undefined;
  // the label of a line offered to `consume`
  const taken = { sec: 0, nsec: 0 };
  let lineno = skipped;
  let offset = log.start;
  let last: Stamp = NO_TIME;
  // the stamp of the last line `keep` passed over, when it is later than `last` (made a Stamp only when a line needs it)
  const passed = { sec: 0, nsec: 0 };
  let passedLast = false;
  const keep = needle ? undefined : opts.keep;
  let rest: Buffer | null = null;

  // whether the whole chunk being scanned is ASCII (one SIMD pass per chunk); if not, each
  // line finds out for itself when asked
  let chunkAscii: true | undefined;
  const make = (buf: Buffer, ls: number, le: number, out: LogRecord[]) => {
    if (passedLast) {
      last = { sec: passed.sec, nsec: passed.nsec };
      passedLast = false;
    }
    const line = buf.toString('latin1', ls, le);
    const p = parsePrefix(line, zone);
    if (p.type === 'bad') {
      stats.bad++;
      warn(`${src.path}:${lineno}: skipped a line with a malformed TAI64N label (${p.why}): ${quote(line.slice(0, 60))}`);
      return;
    }
    let stamp: Stamp | null = null;
    if (p.type !== 'none') {
      stamp = p.stamp;
      last = stamp;
      if (p.type === 'local') {
        if (p.fold) stats.folds++;
        if (p.gap) stats.gaps++;
      }
    }
    const order = stamp ?? last;
    if (since && compareStamp(order, since) < 0) return;
    if (until && compareStamp(order, until) > 0) return;
    const r = new LogRecord(src.path, src.group, lineno, stamp, order, p.type, line, p.body, p.type === 'tai64n' ? p.rest : p.body, chunkAscii);
    if (each !== undefined) each(r);
    else out.push(r);
  };

  const inWindow = (sec: number, nsec: number) =>
    !(since && (sec < since.sec || (sec === since.sec && nsec < since.nsec))) && !(until && (sec > until.sec || (sec === until.sec && nsec > until.nsec)));

  // The FAST scan record at word k, the line buf[ls, le), for the sink: true when it took
  // the line (handed over, or outside since/until), false when it is for make().
  const toSink = (sink: AcceptedSink, o: Uint32Array, k: number, buf: Buffer, ls: number, le: number): boolean => {
    const flags = o[k + R_FLAGS]!;
    const v6 = (flags & F_IP6) !== 0 && sink6 !== undefined;
    if ((flags & (F_IP4 | F_MAPPED)) === 0 && !v6) return false;
    const rel = o[k + R_HI]! - HI_BASE;
    if (rel <= -HI_SPAN || rel >= HI_SPAN) return false;
    const pw = o[k + R_PID]!;
    const pid = pw !== NO_PID ? pw : pidAt(buf, ls, le);
    if (pid < 0) return false;
    const sec = rel * 4294967296 + o[k + R_LO]! - 10;
    const nsec = o[k + R_NANO]!;
    // the line's time is the one unlabelled lines after it are ordered by: kept as numbers,
    // made a Stamp only when such a line comes (make())
    passed.sec = sec;
    passed.nsec = nsec;
    passedLast = true;
    if (!inWindow(sec, nsec)) return true;
    const f = o[k + R_AUTH_LEN]! !== 0 ? flags | F_AUTH : flags;
    if (v6) sink6(sec, nsec, f, o[k + R_GROUPS]!, o[k + R_GROUPS + 1]!, o[k + R_GROUPS + 2]!, o[k + R_GROUPS + 3]!, pid);
    else sink(sec, nsec, f, o[k + R_IP4]!, pid);
    return true;
  };

  // The accepted-line needle through WebAssembly: the lines [from, lastNl] are copied to its
  // memory, which counts their newlines and finds the lines holding the needle; a plain
  // accepted line comes back parsed (FAST), any other goes through make() as on the JS path.
  // One module serves every reader in the process (merged sources interleave): each call
  // copies in, scans and takes out everything it needs before it returns. `placed`: the lines
  // were read straight into its memory (buf is that memory, from is 0), nothing to copy.
  const scanWasm = (w: AcceptedScanner, buf: Buffer, from: number, lastNl: number, out: LogRecord[], placed: boolean) => {
    if (!placed) w.input.set(buf.subarray(from, lastNl + 1));
    // with a sink, the few FAST lines it does not take are cut from buf instead of text
    const hits = w.scan(lastNl + 1 - from, sink === undefined);
    const o = w.out;
    const base = lineno;
    chunkAscii = undefined; // make() finds out per line
    // the FAST lines, one after the other: one string, each line cut from it (V8 slices
    // without copying; one string per chunk costs far less than one per line)
    let text: string | undefined;
    for (let h = 0, k = HEAD; h < hits; h++, k += w.rec) {
      lineno = base + o[k + R_LINE]!;
      const ls = o[k + R_START]!;
      const le = o[k + R_END]!;
      if (o[k + R_STATUS] === FAST) {
        if (sink !== undefined && toSink(sink, o, k, buf, from + ls, from + le)) continue;
        const rel = o[k + R_HI]! - HI_BASE;
        if (rel > -HI_SPAN && rel < HI_SPAN) {
          const sec = rel * 4294967296 + o[k + R_LO]! - 10;
          const nsec = o[k + R_NANO]!;
          const flags = o[k + R_FLAGS]!;
          const stamp: Stamp = { sec, nsec };
          last = stamp;
          passedLast = false;
          if (since && compareStamp(stamp, since) < 0) continue;
          if (until && compareStamp(stamp, until) > 0) continue;
          // with a sink, the few FAST lines left (IPv6 without accepted6) are cut one by one from
          // buf (the scan copied none to text): a string of the chunk's whole text, most of it
          // the sink's lines, would cost more than it saves
          const at = o[k + R_TEXT]!;
          const line = sink !== undefined ? (buf as Latin1).latin1Slice(from + ls, from + le) : (text ??= (w.text as Latin1).latin1Slice(0, o[OUT_TEXT]!)).slice(at, at + le - ls);
          const ipAt = o[k + R_IP]! - ls;
          const remoteip = line.slice(ipAt, ipAt + o[k + R_IP_LEN]!);
          const authLen = o[k + R_AUTH_LEN]!;
          const authAt = o[k + R_AUTH]! - ls;
          const r = new LogRecord(src.path, src.group, lineno, stamp, stamp, 'tai64n', line, 26, 25, true);
          r.facts = {
            kind: flags & F_RECEIVED ? 'qlogreceived' : 'qlogenvelope',
            remoteip,
            ip: recordIp(o, k) ?? parseIp(remoteip),
            relay: (flags & F_RELAY) !== 0,
            authuser: authLen === 0 ? '' : line.slice(authAt, authAt + authLen),
          };
          if (each !== undefined) each(r);
          else out.push(r);
          continue;
        }
      }
      make(buf, from + ls, from + le, out);
    }
    lineno = base + o[OUT_LINES]!;
  };

  let skipping = false;
  // Lines are cut from each chunk in place; only a line that straddles two chunks is copied.
  const scan = (buf: Buffer, from: number, lastNl: number, out: LogRecord[], placed = false) => {
    if (wasm && needle && lastNl + 1 - from <= wasm.cap) {
      scanWasm(wasm, buf, from, lastNl, out, placed);
      return;
    }
    chunkAscii = isAscii(buf) ? true : undefined;
    if (needle) {
      // walk the newlines up to each hit: that counts the lines and finds the hit's line
      let ls = from;
      for (;;) {
        const i = buf.indexOf(needle, ls);
        if (i === -1 || i > lastNl) break;
        let le = buf.indexOf(10, ls);
        while (le < i) {
          lineno++;
          ls = le + 1;
          le = buf.indexOf(10, ls);
        }
        lineno++;
        make(buf, ls, le, out);
        ls = le + 1;
      }
      lineno += countNewlines(buf, ls, lastNl + 1);
    } else {
      // with the sink: the scan finds the plain accepted lines first, and the walk hands each
      // to the sink when it comes to it (in order with the other lines)
      let hits = 0;
      let h = 0;
      let k = HEAD;
      let at = -1; // where the next FAST line starts, relative to `from`
      const o = wasm !== null ? wasm.out : null;
      // every line's end and label from the module (lines()), a batch at a time, instead of a
      // search for its newline and a parse of its label here
      let lo: Uint32Array | null = null;
      let lj = 0; // the next line record's first word
      let lend = 0; // the end of the batch's records
      if (o !== null && lastNl + 1 - from <= wasm!.cap) {
        if (!placed) wasm!.input.set(buf.subarray(from, lastNl + 1));
        hits = wasm!.scan(lastNl + 1 - from, false);
        while (h < hits && o[k + R_STATUS] !== FAST) h++, (k += wasm!.rec);
        if (h < hits) at = o[k + R_START]!;
        lo = wasm!.lineOut;
      }
      let ls = from;
      while (ls <= lastNl) {
        let le: number;
        let lk = -1; // the line's record in lo
        if (lo !== null) {
          if (lj === lend) {
            lend = wasm!.lines(ls - from, lastNl + 1 - from) * L_REC;
            lj = 0;
          }
          lk = lj;
          lj += L_REC;
          le = from + lo[lk + L_END]!;
        } else le = buf.indexOf(10, ls);
        lineno++;
        if (ls - from === at) {
          const took = toSink(sink!, o!, k, buf, ls, le);
          for (h++, k += wasm!.rec; h < hits && o![k + R_STATUS] !== FAST; ) h++, (k += wasm!.rec);
          at = h < hits ? o![k + R_START]! : -1;
          if (took) {
            ls = le + 1;
            continue;
          }
        }
        if (keep !== undefined && le - ls > 26) {
          if (!keep(buf, ls + 26, le)) {
            if (lk >= 0 ? labelOf(lo!, lk, passed) : labelAt(buf, ls, passed)) {
              passedLast = true;
              ls = le + 1;
              continue;
            }
          } else if (consume !== undefined && (lk >= 0 ? labelOf(lo!, lk, taken) : labelAt(buf, ls, taken)) && inWindow(taken.sec, taken.nsec) && consume(buf, ls + 26, le, taken.sec, taken.nsec)) {
            passed.sec = taken.sec;
            passed.nsec = taken.nsec;
            passedLast = true;
            ls = le + 1;
            continue;
          }
        }
        make(buf, ls, le, out);
        ls = le + 1;
      }
    }
  };
  // an unterminated line over MAX_LINE bytes: warn once, drop what we hold and the rest of it
  const dropIfTooLong = () => {
    if (!rest || rest.length <= MAX_LINE) return;
    lineno++;
    warn(`${src.path}:${lineno}: skipped a line longer than ${MAX_LINE} bytes`);
    stats.bad++;
    offset += rest.length;
    rest = null;
    skipping = true;
  };
  // A plain file with the WebAssembly scan: read straight into the module's memory, after the
  // start of a line the last read left unfinished (moved to the front). Every step reads, scans
  // and takes out what it needs; before a yield, where another reader may use the module, the
  // unfinished line is kept in `rest` instead. A line longer than the module's memory goes on
  // below, with the chunks, from where this stopped.
  if (wasm && log.readInto) {
    const input = wasm.input;
    const read = log.readInto;
    let held = 0; // the unfinished line at input[0, held)
    let done = false;
    try {
      for (;;) {
        if (rest) {
          input.set(rest, 0);
          held = rest.length;
          rest = null;
        }
        const got = read(input, held, Math.min(DIRECT_READ, wasm.cap - held));
        if (got === 0) break;
        const n = held + got;
        const lastNl = input.lastIndexOf(10, n - 1);
        if (lastNl < 0) {
          held = n;
          if (wasm.cap - held < DIRECT_READ) break; // a very long line: the chunks take it
          continue;
        }
        const out: LogRecord[] = [];
        scan(input.subarray(0, n), 0, lastNl, out, true);
        offset += lastNl + 1;
        held = n - lastNl - 1;
        if (held > 0) input.copyWithin(0, lastNl + 1, n);
        if (out.length) {
          if (held > 0) rest = Buffer.from(input.subarray(0, held));
          held = 0;
          yield out;
        }
      }
      done = true;
    } finally {
      // an error, or the consumer stopped: the chunks would have closed the file
      if (!done) await log.release();
    }
    if (held > 0) {
      rest = Buffer.from(input.subarray(0, held));
      dropIfTooLong();
    }
  }
  for await (const chunk0 of log.chunks) {
    let chunk: Buffer = chunk0;
    if (skipping) {
      // the tail of an over-long line: drop it up to its newline
      const nl = chunk.indexOf(10);
      if (nl === -1) {
        offset += chunk.length;
        continue;
      }
      skipping = false; // (the line was counted when it was dropped)
      offset += nl + 1;
      chunk = chunk.subarray(nl + 1);
    }
    const out: LogRecord[] = [];
    let from = 0;
    if (rest) {
      const nl = chunk.indexOf(10);
      if (nl === -1) {
        rest = Buffer.concat([rest, chunk]);
        dropIfTooLong();
        continue;
      }
      const joined = Buffer.concat([rest, chunk.subarray(0, nl + 1)]);
      scan(joined, 0, joined.length - 1, out);
      offset += joined.length;
      rest = null;
      from = nl + 1;
    }
    const lastNl = chunk.lastIndexOf(10);
    if (lastNl >= from) {
      scan(chunk, from, lastNl, out);
      offset += lastNl + 1 - from;
      from = lastNl + 1;
    }
    if (from < chunk.length) {
      // a copy: the chunk's buffer may be reused for the next read
      rest = Buffer.from(chunk.subarray(from));
      dropIfTooLong();
    }
    if (out.length) yield out;
  }
  let endOffset = offset;
  if (rest && rest.length) {
    if (src.live) {
      // the line multilog is writing: normal, read whole by the next run; counted, not warned about
      stats.partial++;
    } else {
      lineno++;
      const out: LogRecord[] = [];
      if (!needle || rest.includes(needle)) make(rest, 0, rest.length, out);
      endOffset += rest.length;
      if (out.length) yield out;
    }
  }
  // every line read, also those a needle passed over
  stats.lines += lineno - skipped;
  if (src.path !== '-') stats.ends.set(src.path, { ino: log.ino, offset: endOffset });
  // `each` took the records: an empty batch, so the consumer sees the counts once a file
  if (each !== undefined) yield [];
}

async function* groupRecords(files: FileSource[], opts: ReadOptions, zone: Zone, stats: ReadStats): AsyncGenerator<LogRecord[]> {
  for (const f of files) yield* fileRecords(f, opts, zone, stats);
}

interface Cursor {
  /** its place among the cursors: of two lines at the same time, the lower one's goes first */
  idx: number;
  it: AsyncGenerator<LogRecord[]>;
  batch: LogRecord[];
  i: number;
  done: boolean;
}

async function refill(c: Cursor): Promise<void> {
  while (!c.done && c.i >= c.batch.length) {
    const r = await c.it.next();
    if (r.done) c.done = true;
    else {
      c.batch = r.value;
      c.i = 0;
    }
  }
}

/** Merge group streams by time, in batches; within a group the order of the files is kept. */
async function* merge(groups: AsyncGenerator<LogRecord[]>[], stats: ReadStats): AsyncGenerator<LogRecord[]> {
  if (groups.length === 1) {
    yield* groups[0]!;
    return;
  }
  const cursors: Cursor[] = groups.map((it, idx) => ({ idx, it, batch: [], i: 0, done: false }));
  await Promise.all(cursors.map(refill));
  // dedupe across groups: per (time, body), emit max over groups of the per-group count
  // key -> [emitted, group, count, group, count, ...]: one small array per line (most lines are
  // seen in one group once), with the keys in arrival order for forgetting
  const seen = new Map<string, number[]>();
  const qkeys: string[] = [];
  const qsecs: number[] = [];
  let qhead = 0;
  let out: LogRecord[] = [];
  // The cursor whose line is next, and the earliest line of the others. Only the chosen one
  // moves, so the others' earliest stays what it was until another is chosen: it is looked for
  // again only then, not at every line (sources that follow each other in time take turns
  // seldom).
  const others: { first: Stamp | null; idx: number } = { first: null, idx: 0 };
  const choose = (): Cursor | null => {
    let b: Cursor | null = null;
    for (const c of cursors) if (!c.done && (b === null || compareStamp(c.batch[c.i]!.order, b.batch[b.i]!.order) < 0)) b = c;
    others.first = null;
    for (const c of cursors) {
      if (c === b || c.done) continue;
      const o = c.batch[c.i]!.order;
      if (others.first === null || compareStamp(o, others.first) < 0) {
        others.first = o;
        others.idx = c.idx;
      }
    }
    return b;
  };
  let best: Cursor | null = null;
  for (;;) {
    if (best === null || best.done) best = choose();
    else if (others.first !== null) {
      const d = compareStamp(best.batch[best.i]!.order, others.first);
      if (d > 0 || (d === 0 && best.idx > others.idx)) best = choose();
    }
    if (best === null) break;
    const r = best.batch[best.i++]!;
    if (best.i >= best.batch.length) {
      if (out.length) {
        yield out;
        out = [];
      }
      await refill(best);
    }
    if (r.stamp === null) {
      out.push(r);
      continue;
    }
    // forget keys more than two minutes behind the merge front
    const sec = r.stamp.sec;
    while (qhead < qkeys.length && qsecs[qhead]! < sec - 120) seen.delete(qkeys[qhead++]!);
    if (qhead > 4096) {
      qkeys.splice(0, qhead);
      qsecs.splice(0, qhead);
      qhead = 0;
    }
    // A duplicate needs another source with lines at this time: one whose next line is not
    // later (2 s of slack for the overlap multilog leaves between files), or one already seen
    // in the window. Sources that follow each other in time skip the bookkeeping.
    if (seen.size === 0 && !(others.first !== null && others.first.sec <= sec + 2)) {
      out.push(r);
      continue;
    }
    const key = `${sec}.${r.stamp.nsec} ${r.line.slice(r.bodyStart)}`;
    let s = seen.get(key);
    if (!s) {
      s = [0];
      seen.set(key, s);
      qkeys.push(key);
      qsecs.push(sec);
    }
    let mine = 0;
    for (let j = 1; j < s.length; j += 2) {
      if (s[j] === r.group) {
        mine = s[j + 1]! + 1;
        s[j + 1] = mine;
        break;
      }
    }
    if (mine === 0) {
      mine = 1;
      s.push(r.group, 1);
    }
    if (mine > s[0]!) {
      s[0] = mine;
      out.push(r);
    } else stats.duplicates++;
  }
  if (out.length) yield out;
}

export interface OpenedLogs {
  /** records in batches (the fast way to read: one await per batch, not per line) */
  batches: AsyncIterable<LogRecord[]>;
  /** the same records one by one */
  records: AsyncIterable<LogRecord>;
  /** counts, filled in as reading goes */
  stats: ReadStats;
}

/** Read logs. Iterate either `batches` or `records`, not both. */
export function openLogs(paths: readonly string[], opts: ReadOptions = {}): OpenedLogs {
  const stats: ReadStats = { files: 0, skippedFiles: 0, lines: 0, bad: 0, partial: 0, folds: 0, gaps: 0, duplicates: 0, ends: new Map() };
  const zone = opts.zone ?? new Zone();
  const batches = (async function* () {
    const sources = await expandSources(paths.length ? paths : ['-'], opts.optional);
    const byGroup = new Map<number, FileSource[]>();
    for (const s of sources) {
      const g = byGroup.get(s.group);
      if (g) g.push(s);
      else byGroup.set(s.group, [s]);
    }
    // with several groups every line takes part in the dedupe (and its count), so none is passed over
    // or handed to `accepted`
    const o = byGroup.size > 1 && (opts.keep || opts.accepted || opts.each) ? { ...opts, keep: undefined, accepted: undefined, each: undefined, consume: undefined } : opts;
    const groups = [...byGroup.values()].map((files) => groupRecords(files, o, zone, stats));
    yield* merge(groups, stats);
  })();
  const records = (async function* () {
    for await (const b of batches) yield* b;
  })();
  return { batches, records, stats };
}
