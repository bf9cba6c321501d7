// A log file as a stream of byte chunks, decompressed by magic bytes (not by name):
// gzip through node:zlib; bzip2, xz and zstd through their own tools, which are faster.

import { spawn } from 'node:child_process';
import { closeSync, createReadStream, fstatSync, openSync, readSync } from 'node:fs';
import { createGunzip } from 'node:zlib';
import type { Readable } from 'node:stream';
import { permanent, temporary, reason, quote } from '../core/errors.js';

export type Compression = 'none' | 'gzip' | 'bzip2' | 'xz' | 'zstd';

export function sniff(head: Buffer): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 3 && head[0] === 0x42 && head[1] === 0x5a && head[2] === 0x68) return 'bzip2';
  if (head.length >= 6 && head[0] === 0xfd && head[1] === 0x37 && head[2] === 0x7a && head[3] === 0x58 && head[4] === 0x5a && head[5] === 0x00) return 'xz';
  if (head.length >= 4 && head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return 'zstd';
  return 'none';
}

export interface OpenedLog {
  readonly compression: Compression;
  readonly ino: number;
  readonly size: number;
  /** byte offset in the (uncompressed plain) file where reading starts */
  readonly start: number;
  /**
   * The bytes. A chunk may be a view of a buffer that is reused for the next chunk: copy what
   * must outlive the step of the loop it was delivered in.
   */
  readonly chunks: AsyncIterable<Buffer>;
  /**
   * A plain regular file only: read the next bytes straight into `buf` at `at` (at most `len`),
   * synchronously; 0 at the end. It reads from where `chunks` would go on, and `chunks` goes on
   * from where it stopped: a reader may take either, one after the other.
   */
  readonly readInto?: (buf: Buffer, at: number, len: number) => number;
  /** give the file up without reading it (when `chunks` is not iterated to the end) */
  readonly release: () => Promise<void>;
}

/**
 * A regular file read with synchronous reads into one reused buffer: no stream machinery and
 * no garbage per chunk (a stream allocates a fresh buffer for every read). Reads from a regular
 * file do not wait on anyone, so blocking for one 64 KiB read is fine for a command-line tool.
 * `readInto` reads at the same position, into the caller's buffer (the WebAssembly scanner's
 * memory: no copy from a buffer of ours to it).
 */
function plainFile(fd: number, from: number, close: () => void): { chunks: AsyncGenerator<Buffer>; readInto: (buf: Buffer, at: number, len: number) => number } {
  let pos = from;
  const readInto = (buf: Buffer, at: number, len: number): number => {
    const n = readSync(fd, buf, at, len, pos);
    pos += n;
    return n;
  };
  const chunks = (async function* (): AsyncGenerator<Buffer> {
    const buf = Buffer.allocUnsafeSlow(CHUNK);
    try {
      for (;;) {
        const n = readInto(buf, 0, CHUNK);
        if (n === 0) return;
        yield n === CHUNK ? buf : buf.subarray(0, n);
      }
    } finally {
      close();
    }
  })();
  return { chunks, readInto };
}

// 64 KiB: a chunk stays in the CPU cache while it is scanned (1 MiB reads were 4x slower).
const CHUNK = 1 << 16;

const TOOLS: Record<Exclude<Compression, 'none' | 'gzip'>, string[][]> = {
  bzip2: [['lbzip2', '-dc'], ['bzip2', '-dc']],
  xz: [['xz', '-dc']],
  zstd: [['zstd', '-dcq']],
};

/**
 * Decompress through an external tool (the first of `tools` that exists). `input` is a file
 * descriptor the tool reads directly, or chunks that are fed to its stdin.
 */
async function* fromTool(path: string, input: number | AsyncIterable<Buffer>, tools: string[][]): AsyncIterable<Buffer> {
  let lastErr: unknown;
  for (const [cmd, ...args] of tools) {
    const child = spawn(cmd!, args, { stdio: [typeof input === 'number' ? input : 'pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((res) => child.on('close', (c) => res(c)));
    const spawned = await new Promise<boolean>((res) => {
      child.once('spawn', () => res(true));
      child.once('error', (e) => {
        lastErr = e;
        res(false);
      });
    });
    if (!spawned) continue;
    const feed =
      typeof input === 'number'
        ? Promise.resolve()
        : (async () => {
            const w = child.stdin!;
            w.on('error', () => {});
            const write = (b: Buffer) => (w.write(b) ? Promise.resolve() : new Promise<void>((res) => w.once('drain', () => res())));
            for await (const b of input) await write(b);
            w.end();
          })();
    for await (const chunk of child.stdout! as Readable) yield chunk as Buffer;
    await feed;
    const code = await exited;
    if (code !== 0) throw permanent(`unable to decompress ${quote(path)} with ${cmd}: ${stderr.trim().split('\n')[0] || 'exit ' + code}`);
    return;
  }
  throw temporary(`unable to decompress ${quote(path)}: ${tools.map((t) => t[0]).join(' or ')} not found (${reason(lastErr)})`);
}

/**
 * A stream that cannot seek (stdin, a pipe, /dev/stdin): the first chunk tells the format,
 * then the data goes through as it is or through the decompressor.
 */
function unseekable(path: string, source: Readable): OpenedLog {
  const chunks = (async function* (): AsyncGenerator<Buffer> {
    const it = (source as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
    let first: Buffer = Buffer.alloc(0);
    let ended = false;
    while (first.length < 6) {
      const r = await it.next();
      if (r.done) {
        ended = true;
        break;
      }
      first = first.length ? Buffer.concat([first, r.value]) : r.value;
    }
    const rest = async function* () {
      if (ended) return;
      for (;;) {
        const r = await it.next();
        if (r.done) return;
        yield r.value;
      }
    };
    const compression = sniff(first);
    if (compression === 'none') {
      if (first.length) yield first;
      yield* rest();
      return;
    }
    const all = async function* () {
      yield first;
      yield* rest();
    };
    yield* fromTool(path, all(), compression === 'gzip' ? [['gzip', '-dc']] : TOOLS[compression]);
  })();
  return { compression: 'none', ino: 0, size: 0, start: 0, chunks, release: async () => void source.destroy() };
}

/** Open a log file (or '-' for stdin) at byte `start` (only honoured for plain files). */
export async function openLog(path: string, start = 0): Promise<OpenedLog> {
  if (path === '-') return unseekable(path, process.stdin);
  // synchronous open, stat and first read: a local file answers at once, and going through
  // the thread pool for each of them cost about 50 ms idle over a hundred rotated files
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    throw permanent(`unable to open log ${quote(path)}: ${reason(err)}`, err);
  }
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    closeSync(fd);
  };
  const st = fstatSync(fd);
  if (!st.isFile()) {
    // a pipe or a terminal (/dev/stdin): no positioned reads
    closed = true; // the stream closes it
    const opened = unseekable(path, createReadStream('', { fd, highWaterMark: CHUNK, autoClose: true }));
    return { ...opened, ino: st.ino };
  }
  const head = Buffer.alloc(6);
  const bytesRead = readSync(fd, head, 0, 6, 0);
  const compression = sniff(head.subarray(0, bytesRead));
  if (compression === 'none') {
    const from = start > 0 && start <= st.size ? start : 0;
    const { chunks, readInto } = plainFile(fd, from, close);
    // (a generator never started runs no finally: close it here too)
    return { compression, ino: st.ino, size: st.size, start: from, chunks, readInto, release: async () => void (await chunks.return(undefined), close()) };
  }
  if (compression === 'gzip') {
    closed = true; // the stream closes it
    const stream = createReadStream('', { fd, start: 0, highWaterMark: CHUNK, autoClose: true }).pipe(createGunzip({ chunkSize: CHUNK }));
    return { compression, ino: st.ino, size: st.size, start: 0, chunks: stream as AsyncIterable<Buffer>, release: async () => void stream.destroy() };
  }
  const chunks = (async function* () {
    try {
      yield* fromTool(path, fd, TOOLS[compression]);
    } finally {
      close();
    }
  })();
  return { compression, ino: st.ino, size: st.size, start: 0, chunks, release: async () => close() };
}
