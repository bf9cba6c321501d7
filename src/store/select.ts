// Which store holds the greylist: the one setting, `--store` or $QGREY_STORE. Unset or empty:
// the jgreylist tree (JGREYLIST_DIR) and the list files (QGREY_LISTDIR), as ever; a
// redis://, rediss:// or redis+sentinel:// URL: the shared Redis store (redis-url.ts) for the
// entries and the lists alike. Read by openStore() and openLists() (open.ts), the
// per-process wrapper and qgreyd, before anything loads the Redis client.
//
// No npm imports.

import { storeSetting, type Env } from '../core/config.js';
import { permanent, quote } from '../core/errors.js';
import { hidePasswords, isRedisUrl, parseStoreUrl, type RedisTarget } from './redis-url.js';

/** The Redis store the setting names, or null for the tree. A bad setting is a permanent error quoting it. */
export function selectedStore(flag: string | undefined, env: Env): RedisTarget | null {
  const s = storeSetting(flag, env);
  if (s === '') return null;
  if (!isRedisUrl(s)) {
    throw permanent(`unable to use the store ${quote(hidePasswords(s), 80)}${flag === undefined ? ' (QGREY_STORE)' : ''}: expected a redis://, rediss:// or redis+sentinel:// URL, or nothing for the greylist tree`);
  }
  return parseStoreUrl(s);
}
