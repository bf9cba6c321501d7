// The jgreylist environment as jgreylist reads it, for the maintenance commands.
//
// No npm imports.

import { atoi } from '../core/atoi.js';

export const DEFAULT_TREE_DIR = '/var/qmail/jgreylist';

/** The tree: flag, else $JGREYLIST_DIR (as jgreylist reads it), else /var/qmail/jgreylist. */
export function treeDir(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (flag !== undefined && flag !== '') return flag;
  const e = env.JGREYLIST_DIR;
  return e !== undefined && e !== '' ? e : DEFAULT_TREE_DIR;
}

/** JGREYLIST_BY_IP as jgreylist reads it (atoi, non-zero = per IP). */
export function byIpFromEnv(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = env.JGREYLIST_BY_IP;
  if (v === undefined) return false;
  return atoi(v) !== 0;
}

/** JGREYLIST_HOLDTIME as jgreylist reads it: unset or empty -> 120, else atoi. */
export function holdtimeFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const v = env.JGREYLIST_HOLDTIME;
  if (v === undefined || v === '') return 120;
  return atoi(v);
}
