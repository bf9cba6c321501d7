// The WebAssembly scan of accepted lines (src/native/accepted.c, committed as base64 in
// accepted-wasm.ts): loaded synchronously once, on first use. Null when WebAssembly is missing
// or fails to load, or QGREY_NO_WASM=1: the reader then takes its JavaScript path, which gives
// the same records.

import { processEnv, wasmOff } from '../core/config.js';
import { ACCEPTED_WASM } from './accepted-wasm.js';
import type { Ip } from '../core/ip.js';

/** The needle the scan looks for; the reader uses it only for exactly this needle. */
export const ACCEPTED_NEEDLE = 'result=accepted code=250';

/** record status: the line holds the needle; parse it in JavaScript */
export const OTHER = 0;
/** record status: a plain accepted line behind a TAI64N label; its facts are in the record */
export const FAST = 1;

/** flags (word R_FLAGS): qlogreceived (else qlogenvelope), relay=yes; how parseIp reads remoteip:
 * an IPv4 dotted quad (R_IP4), an IPv4-mapped IPv6 address (R_IP4), an IPv6 address (R_GROUPS);
 * none of these: parse it in JavaScript */
export const F_RECEIVED = 1;
export const F_RELAY = 2;
export const F_IP4 = 4;
export const F_MAPPED = 8;
export const F_IP6 = 16;

/** word offsets in a record (see accepted.c) */
export const R_START = 0;
export const R_END = 1;
export const R_LINE = 2;
export const R_STATUS = 3;
export const R_HI = 4;
export const R_LO = 5;
export const R_NANO = 6;
export const R_FLAGS = 7;
export const R_AUTH = 8;
export const R_AUTH_LEN = 9;
export const R_IP = 10;
export const R_IP_LEN = 11;
export const R_IP4 = 12;
export const R_TEXT = 13;
/** 4 words: the 8 groups of an IPv6 address, two a word, the first in the high half */
export const R_GROUPS = 14;
/** the pid= value (FAST) when it has at most 9 digits, else NO_PID */
export const R_PID = 18;
export const NO_PID = 0xffffffff;

/** words before the first record: newlines, records, bytes of FAST lines in `text` */
export const HEAD = 4;
export const OUT_LINES = 0;
export const OUT_RECORDS = 1;
export const OUT_TEXT = 2;

export interface AcceptedScanner {
  /** the most bytes one scan takes */
  readonly cap: number;
  /** words per record */
  readonly rec: number;
  /** the input area (wasm memory): copy complete lines to its start, then scan */
  readonly input: Buffer;
  /** the results: [newlines, records, text bytes, -, record 0 ..., record 1 ...] */
  readonly out: Uint32Array;
  /** the FAST lines, one after the other (record word R_TEXT: where each starts) */
  readonly text: Buffer;
  /**
   * scan the first n bytes of `input` (they end with '\n'); returns the number of records.
   * `text`: copy the FAST lines to `text` (R_TEXT); without it R_TEXT is not set.
   */
  scan(n: number, text: boolean): number;
  /**
   * The lines of `input` from `at` (a line start) before `n` (input[n - 1] is '\n'), at most a
   * batch of them, into `lineOut`; returns how many (accepted.c's lines(): per line its '\n'
   * and its label, L_* below). Go on from just after the last one's '\n'.
   */
  lines(at: number, n: number): number;
  readonly lineOut: Uint32Array;
}

/** words per line record of lines() */
export const L_REC = 4;
/** the index of the line's '\n' */
export const L_END = 0;
/** its TAI64N label's seconds (high word: 0 when the line has no label the reader takes), low word, nanoseconds */
export const L_HI = 1;
export const L_LO = 2;
export const L_NANO = 3;

// the part of the WebAssembly API used here (the project's lib settings do not declare it)
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
}

interface Exports {
  memory: { buffer: ArrayBuffer };
  input_ptr(): number;
  output_ptr(): number;
  text_ptr(): number;
  input_cap(): number;
  record_words(): number;
  scan(n: number, copy: number): number;
  lines_ptr(): number;
  lines_max(): number;
  lines(at: number, n: number): number;
}

/**
 * remoteip of the FAST record at word k as parseIp would return it, or undefined when the C
 * left it to JavaScript (then parseIp decides, which may well say null).
 */
export function recordIp(o: Uint32Array, k: number): Ip | undefined {
  const flags = o[k + R_FLAGS]!;
  if (flags & F_IP4) return { family: 4, value: o[k + R_IP4]!, mapped: false };
  if (flags & F_MAPPED) return { family: 4, value: o[k + R_IP4]!, mapped: true };
  if (flags & F_IP6) {
    const at = k + R_GROUPS;
    const a = o[at]!, b = o[at + 1]!, c = o[at + 2]!, d = o[at + 3]!;
    return { family: 6, groups: [a >>> 16, a & 0xffff, b >>> 16, b & 0xffff, c >>> 16, c & 0xffff, d >>> 16, d & 0xffff] };
  }
  return undefined;
}

let loaded: AcceptedScanner | null | undefined;

function load(): AcceptedScanner | null {
  const api = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
  if (typeof api !== 'object') return null;
  try {
    const mod = new api.Module(Buffer.from(ACCEPTED_WASM, 'base64'));
    const ex = new api.Instance(mod, {}).exports as Exports;
    const cap = ex.input_cap();
    const rec = ex.record_words();
    // the memory never grows (the module has no allocator), so these views stay valid
    const input = Buffer.from(ex.memory.buffer, ex.input_ptr(), cap);
    const maxRecords = Math.floor(cap / (ACCEPTED_NEEDLE.length + 1)) + 1;
    const out = new Uint32Array(ex.memory.buffer, ex.output_ptr(), HEAD + maxRecords * rec);
    const text = Buffer.from(ex.memory.buffer, ex.text_ptr(), cap);
    const scan = ex.scan;
    const lines = ex.lines;
    const lineOut = new Uint32Array(ex.memory.buffer, ex.lines_ptr(), ex.lines_max() * L_REC);
    return { cap, rec, input, out, text, scan: (n: number, copy: boolean) => scan(n, copy ? 1 : 0), lines: (at: number, n: number) => lines(at, n), lineOut };
  } catch {
    return null;
  }
}

/** The scanner, or null when the JavaScript path must be used. */
export function acceptedScanner(): AcceptedScanner | null {
  // a knob of the tests and benches, read where it acts rather than threaded through every log reader
  if (wasmOff(processEnv())) return null;
  if (loaded === undefined) loaded = load();
  return loaded;
}
