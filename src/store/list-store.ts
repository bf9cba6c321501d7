// The whitelist and blacklist behind one interface, so the list commands, check, clean and
// tcprules work the same on the list files (the tree-mode default, hand-editable) and on the
// shared Redis store (redis-lists.ts). openLists() (open.ts) picks one by the store setting.
//
// No npm imports.

import type { Ip } from '../core/ip.js';
import { lockWait, type Env } from '../core/config.js';
import {
  ensureListDir,
  findInText,
  listPath,
  purgeExpired,
  purger,
  readListText,
  parseList,
  updateList,
  type ListLine,
  type ListMatch,
  type ListName,
  type PurgeResult,
} from './lists.js';

export interface UpdateOptions {
  readonly dryRun?: boolean | undefined;
  /** make the list's home first (the list directory; nothing to make in Redis) */
  readonly create?: boolean | undefined;
}

export interface ListStore {
  /** true for the shared store (Redis): every host reads these lists */
  readonly shared: boolean;
  /** where the list is, for messages: the file, or the store's URL and key */
  where(name: ListName): string;
  /** the list's text ('' for a missing list) */
  readText(name: ListName): Promise<string>;
  read(name: ListName): Promise<ListLine[]>;
  /** updateList(): `change` gets the lines, returns new ones or null; true when written (or would be) */
  update(name: ListName, change: (lines: ListLine[]) => ListLine[] | null, opts?: UpdateOptions): Promise<boolean>;
  /** findInList()'s answer */
  find(name: ListName, ip: Ip, now: number): Promise<ListMatch | null>;
  /** purgeExpired(): the entries expired at `now` removed */
  purge(name: ListName, now: number, opts?: { readonly dryRun?: boolean }): Promise<PurgeResult>;
  close(): Promise<void>;
}

/** The list files of one directory (QGREY_LISTDIR). */
export class FileLists implements ListStore {
  readonly shared = false;
  readonly dir: string;

  /** QGREY_LOCK_WAIT, read when a list's lock is taken (a dry run takes none) */
  private readonly wait: () => number;

  /** `dir`: the list directory (listDir()); `env` gives QGREY_LOCK_WAIT */
  constructor(dir: string, env: Env) {
    this.dir = dir;
    this.wait = () => lockWait(env);
  }

  where(name: ListName): string {
    return listPath(this.dir, name);
  }

  async readText(name: ListName): Promise<string> {
    return readListText(this.where(name));
  }

  async read(name: ListName): Promise<ListLine[]> {
    return parseList(readListText(this.where(name)));
  }

  async update(name: ListName, change: (lines: ListLine[]) => ListLine[] | null, opts: UpdateOptions = {}): Promise<boolean> {
    if (opts.create && !opts.dryRun) ensureListDir(this.dir);
    return updateList(this.where(name), change, { dryRun: opts.dryRun === true, lockWait: this.wait });
  }

  async find(name: ListName, ip: Ip, now: number): Promise<ListMatch | null> {
    return findInText(readListText(this.where(name)), ip, now);
  }

  purge(name: ListName, now: number, opts: { readonly dryRun?: boolean } = {}): Promise<PurgeResult> {
    return purgeExpired(this.where(name), now, { ...opts, lockWait: this.wait });
  }

  async close(): Promise<void> {}
}

export { purger };
