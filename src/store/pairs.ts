// The replies file of the list directory (src/core/pairs.ts has its format): read by qgrey-spp
// per RCPT, held in memory by qgreyd (PairCache: parsed again when the file changes), written
// by `qgrey whitelist outgoing` under the lists' lock discipline, atomically, keeping its mode
// and owner, never through a symbolic link.
//
// No npm imports: the per-RCPT path.

import { join } from 'node:path';
import { PairIndex, findPair, parsePairs, renderPairs, type Pair, type PairLine } from '../core/pairs.js';
import { fileSignature, readListText, updateListFile, type ListWrite } from './lists.js';

export const REPLIES_FILE = 'replies';

export function repliesPath(listDir: string): string {
  return join(listDir, REPLIES_FILE);
}

/** The file's text; '' when it does not exist; a temporary error when it cannot be read. */
export function readPairsText(listDir: string): string {
  return readListText(repliesPath(listDir));
}

/** The live pair (remote, local), both normalised, of the list directory's replies file. */
export function findReply(listDir: string, remote: string, local: string, now: number): Pair | null {
  const text = readPairsText(listDir);
  return text === '' ? null : findPair(text, remote, local, now);
}

/**
 * Read, change and rewrite the replies file under its lock (`.replies.lock`): `change` gets
 * the parsed lines and returns new ones or null (no change). True when written (or, with
 * dryRun, when it would be).
 */
export function updatePairs(listDir: string, change: (lines: PairLine[]) => PairLine[] | null, opts: ListWrite = {}): boolean {
  return updateListFile(repliesPath(listDir), parsePairs, renderPairs, change, opts);
}

const EMPTY = new PairIndex('');

/** qgreyd's replies files, each parsed when first needed and again when it changed (inode, size, mtime, ctime). */
export class PairCache {
  private readonly held = new Map<string, { sig: string | null; index: PairIndex }>();
  onLoad: ((path: string, pairs: number, bad: number) => void) | null = null;

  reload(): void {
    this.held.clear();
  }

  index(listDir: string): PairIndex {
    const path = repliesPath(listDir);
    const sig = fileSignature(path);
    const h = this.held.get(path);
    if (h !== undefined && h.sig === sig) return h.index;
    const index = sig === null ? EMPTY : new PairIndex(readListText(path));
    this.held.set(path, { sig, index });
    if (sig !== null || h !== undefined) this.onLoad?.(path, sig === null ? -1 : index.pairs, index.bad);
    return index;
  }

  find(listDir: string, remote: string, local: string, now: number): Pair | null {
    return this.index(listDir).find(remote, local, now);
  }
}
