// --store, on every command that reads or writes greylist entries or lists (not a command).
import { value } from './define.js';

export const STORE_OPTION = {
  ...value,
  describe: 'the shared greylist store: a redis://, rediss:// or redis+sentinel:// URL, for the entries and the lists (default: $QGREY_STORE; unset: the tree and the list files)',
} as const;
