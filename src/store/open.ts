// openStore(): the one way the actions get a store (the wrapper's is open-entries.ts).
// A maintenance command started as root does its tree work in a process running as the tree's
// owner (privsep.ts); everything else works in this process.
//
// No npm imports.

import type { Layout } from '../core/key.js';
import { openTreeAsOwner } from './privsep.js';
import type { Anomaly, GreyStore } from './store.js';

export interface StoreConfig {
  /** the tree's root directory */
  readonly dir: string;
  /** the layout asked for (refused when the tree holds the other one); undefined: the tree's */
  readonly layout?: Layout | undefined;
  /** where the asked layout came from when not a flag (e.g. JGREYLIST_BY_IP), for the refusal */
  readonly layoutSource?: string | undefined;
  /** --owner USER:GROUP: who does the tree work (default: the owner of the tree's root) */
  readonly owner?: string | undefined;
  /** only reads (list, check): run as root, a root-owned tree is read in this process, not refused */
  readonly readOnly?: boolean | undefined;
  /** things in the tree that are not entries, left alone (tree-only report) */
  readonly onAnomaly?: ((a: Anomaly) => void) | undefined;
}

export type OpenStore = (cfg: StoreConfig) => Promise<GreyStore>;

/** The store of `cfg`: the tree, worked on as its owner. */
export const openStore: OpenStore = (cfg) => openTreeAsOwner(cfg);
