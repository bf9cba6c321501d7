// openStore(): the one way the actions get a store (the wrapper's is open-entries.ts), and
// openLists(): the one way they get the lists. The store setting (--store, else $QGREY_STORE;
// select.ts) picks the shared Redis store for both; unset, the tree and the list files.
// A maintenance command started as root does its tree work in a process running as the tree's
// owner (privsep.ts); everything else works in this process.
//
// No npm imports (the Redis store, which loads ioredis, is imported only when selected).

import type { Layout } from '../core/key.js';
import { FileLists, type ListStore } from './list-store.js';
import { lockWait, listDir, type Env } from '../core/config.js';
import { openTreeAsOwner } from './privsep.js';
import { selectedStore } from './select.js';
import type { Anomaly, GreyStore } from './store.js';

export interface StoreConfig {
  /** the tree's root directory */
  readonly dir: string;
  /** the environment (QGREY_STORE, QGREY_LOCK_WAIT; NODE_OPTIONS for the tree process) */
  readonly env: Env;
  /** --store: the store setting (undefined: $QGREY_STORE; unset or '': the tree) */
  readonly store?: string | undefined;
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

/** The store of `cfg`: the Redis store when selected, else the tree, worked on as its owner. */
export const openStore: OpenStore = async (cfg) => {
  const t = selectedStore(cfg.store, cfg.env);
  if (t === null) return openTreeAsOwner(cfg);
  const { RedisStore } = await import('./redis.js');
  return RedisStore.open(t, { layout: cfg.layout ?? null, mode: 'command', lockWait: lockWait(cfg.env), onAnomaly: cfg.onAnomaly });
};

export interface ListsConfig {
  /** --listdir (the list files' directory) */
  readonly listdir?: string | undefined;
  /** --store, as for openStore */
  readonly store?: string | undefined;
  /** the environment (QGREY_LISTDIR, QGREY_STORE, QGREY_LOCK_WAIT) */
  readonly env: Env;
}

export type OpenLists = (cfg: ListsConfig) => Promise<ListStore>;

/** The lists: in the Redis store when selected, else the files of the list directory. */
export const openLists: OpenLists = async (cfg) => {
  const t = selectedStore(cfg.store, cfg.env);
  if (t === null) return new FileLists(listDir(cfg.listdir, cfg.env), cfg.env);
  const { RedisListStore } = await import('./redis-lists.js');
  return RedisListStore.open(t);
};
