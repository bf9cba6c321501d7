// The wrapper's store: synchronous access to one tree, in this process (the wrapper runs as
// the tree's owner, tcpserver's uid, and does one get and at most one create or touch).
//
// No npm imports: the per-connection path.

import type { Layout } from '../core/key.js';
import { TreeEntries } from './entries.js';
import type { EntryAccess } from './store.js';

export function openEntries(dir: string, layout: Layout): EntryAccess {
  return new TreeEntries(dir, layout);
}
