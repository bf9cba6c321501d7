// The optional C helper of `qgrey clean` (src/native/treefs.c, built into dist/native/treefs.node
// by src/native/build-addon.sh when a C compiler and Node's headers are there). null when it is
// not built or QGREY_NO_NATIVE=1: callers then use the TypeScript walk, with the same results.
// Only the admin CLI loads it; the per-connection wrapper never does.

import { createRequire } from 'node:module';

export interface LeafScan {
  /** every name in the directory but . and .., unsorted */
  names: string[];
  /** 1 regular file, 2 directory, 3 symlink, 4 other, 0 gone meanwhile, 5 not examined (errs) */
  kinds: Uint8Array;
  asec: Float64Array;
  ansec: Float64Array;
  msec: Float64Array;
  mnsec: Float64Array;
  /** errno for kind 5 */
  errs: Int32Array;
}

export interface TreeFs {
  /** the entries of ROOT/REL, REL opened component by component without following a symlink */
  scanLeaf(root: string, rel: string): LeafScan;
  /** unlink each name whose atime and mtime (whole seconds) are still these: 0 removed, 1 gone, 2 changed, -errno */
  removeIfUnchanged(root: string, rel: string, names: string[], asec: Float64Array, msec: Float64Array): Int32Array;
}

export const KIND_GONE = 0;
export const KIND_FILE = 1;
export const KIND_DIR = 2;
export const KIND_SYMLINK = 3;
export const KIND_OTHER = 4;
export const KIND_ERROR = 5;

let loaded: TreeFs | null | undefined;

export function treeFs(): TreeFs | null {
  if (process.env.QGREY_NO_NATIVE === '1') return null;
  if (loaded === undefined) {
    try {
      // dist/src/native/treefs.js -> dist/native/treefs.node
      loaded = createRequire(import.meta.url)('../../native/treefs.node') as TreeFs;
    } catch {
      loaded = null;
    }
  }
  return loaded;
}
