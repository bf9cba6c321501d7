// Who does the tree work of a maintenance command.
//
// No npm imports.

import { openTree } from './tree.js';
import { parseOwner, rootOwner } from './owner.js';
import type { StoreConfig } from './open.js';
import type { GreyStore } from './store.js';

export async function openTreeAsOwner(cfg: StoreConfig): Promise<GreyStore> {
  const o = cfg.owner !== undefined ? parseOwner(cfg.owner) : rootOwner(cfg.dir);
  return openTree({ dir: cfg.dir, layout: cfg.layout, layoutSource: cfg.layoutSource, owner: { uid: o.uid, gid: o.gid }, onAnomaly: cfg.onAnomaly });
}
