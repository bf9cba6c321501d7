// The whitelist and blacklist in the shared Redis store: each list is the text of a list file
// (qgrey(5), LIST FILES: the same parser, the same writer, comments kept byte for byte) in
// PREFIX list:NAME, and every write raises PREFIX lists:version. A write reads, changes and
// writes back inside WATCH/MULTI, retried when another host wrote in between, so two admins on
// two hosts never lose each other's change. Readers that hold the lists in memory (qgreyd)
// poll the version key (ListsWatcher) and reload when it moved.

import type { Redis as Client } from 'ioredis';
import { temporary, QgreyError } from '../core/errors.js';
import type { Ip } from '../core/ip.js';
import type { ListStore, UpdateOptions } from './list-store.js';
import { findInText, parseList, purger, renderList, type ListLine, type ListMatch, type ListName, type PurgeResult } from './lists.js';
import type { RedisTarget } from './redis-url.js';
import { clean } from '../core/text.js';

/** how often a holder of the lists asks whether they changed */
export const LISTS_POLL_MS = 2000;

function why(err: unknown): string {
  return clean(err instanceof Error ? err.message : String(err));
}

/** WATCH belongs to a connection: one list write at a time per client. */
const queues = new WeakMap<Client, Promise<unknown>>();

function serial<T>(c: Client, f: () => Promise<T>): Promise<T> {
  const prev = queues.get(c) ?? Promise.resolve();
  const next = prev.then(f, f);
  queues.set(c, next.catch(() => {}));
  return next;
}

export class RedisLists {
  constructor(
    private readonly c: Client,
    private readonly prefix: string,
    /** the store's URL without passwords, for messages */
    private readonly where: string,
  ) {}

  key(name: ListName): string {
    return `${this.prefix}list:${name}`;
  }

  get versionKey(): string {
    return `${this.prefix}lists:version`;
  }

  private fail(verb: string, err: unknown): QgreyError {
    return err instanceof QgreyError ? err : temporary(`unable to ${verb} in the Redis store ${this.where}: ${why(err)}`, err);
  }

  /** The list's text ('' when it was never written: an empty list, as a missing file is). */
  async readText(name: ListName): Promise<string> {
    try {
      return (await this.c.get(this.key(name))) ?? '';
    } catch (err) {
      throw this.fail(`read the ${name}`, err);
    }
  }

  async read(name: ListName): Promise<ListLine[]> {
    return parseList(await this.readText(name));
  }

  /** Both lists and the version they belong to, read together. */
  async snapshot(): Promise<{ version: string; whitelist: string; blacklist: string }> {
    try {
      const [v, w, b] = await this.c.mget(this.versionKey, this.key('whitelist'), this.key('blacklist'));
      return { version: v ?? '0', whitelist: w ?? '', blacklist: b ?? '' };
    } catch (err) {
      throw this.fail('read the lists', err);
    }
  }

  async version(): Promise<string> {
    try {
      return (await this.c.get(this.versionKey)) ?? '0';
    } catch (err) {
      throw this.fail('read the lists version', err);
    }
  }

  /**
   * updateList() for Redis: `change` gets the parsed lines and returns the new ones, or null
   * for no change. Returns whether the list was (or, with dryRun, would be) written.
   */
  update(name: ListName, change: (lines: ListLine[]) => ListLine[] | null, opts: { dryRun?: boolean } = {}): Promise<boolean> {
    return serial(this.c, () => this.updateNow(name, change, opts));
  }

  private async updateNow(name: ListName, change: (lines: ListLine[]) => ListLine[] | null, opts: { dryRun?: boolean }): Promise<boolean> {
    const key = this.key(name);
    for (let attempt = 0; attempt < 20; attempt++) {
      try {
        await this.c.watch(key);
        const before = (await this.c.get(key)) ?? '';
        const next = change(parseList(before));
        const text = next === null ? before : renderList(next);
        if (text === before || opts.dryRun) {
          await this.c.unwatch();
          return text !== before;
        }
        const r = await this.c.multi().set(key, text).incr(this.versionKey).exec();
        if (r !== null) {
          for (const [err] of r) if (err) throw err;
          return true;
        }
        // another host wrote in between: read again
      } catch (err) {
        await this.c.unwatch().catch(() => {});
        throw this.fail(`write the ${name}`, err);
      }
    }
    throw temporary(`unable to write the ${name} in the Redis store ${this.where}: other hosts kept changing it; try again`);
  }
}

/**
 * Holds both lists in memory for a long-running reader: asks for the version every
 * LISTS_POLL_MS and reloads both texts when it moved. `load` builds what the reader keeps
 * (qgreyd: an index per list). While Redis is away the last lists stay in force.
 */
export class ListsWatcher<T> {
  private timer: NodeJS.Timeout | null = null;
  private current: { version: string; whitelist: T; blacklist: T } | null = null;
  private busy = false;

  constructor(
    private readonly lists: RedisLists,
    private readonly load: (text: string, name: ListName) => T,
    private readonly onLoad?: (version: string) => void,
    private readonly onError?: (err: QgreyError) => void,
  ) {}

  /** Load once, and keep polling. Rejects when the first load fails (the polls go on). */
  async start(pollMs = LISTS_POLL_MS): Promise<void> {
    // polling starts first: when the first load fails, a later poll loads them
    this.timer = setInterval(() => void this.refresh(false), pollMs);
    this.timer.unref();
    await this.refresh(true);
  }

  /** Ask now (SIGHUP); `force` reloads even when the version did not move. */
  async refresh(force: boolean): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      if (!force && this.current !== null && (await this.lists.version()) === this.current.version) return;
      const s = await this.lists.snapshot();
      this.current = { version: s.version, whitelist: this.load(s.whitelist, 'whitelist'), blacklist: this.load(s.blacklist, 'blacklist') };
      this.onLoad?.(s.version);
    } catch (err) {
      if (force && this.current === null) throw err;
      this.onError?.(err instanceof QgreyError ? err : temporary(why(err)));
    } finally {
      this.busy = false;
    }
  }

  get(name: ListName): T | null {
    return this.current === null ? null : this.current[name];
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}

/** The lists of the shared store as a ListStore (openLists(), open.ts), on a connection of its own. */
export class RedisListStore implements ListStore {
  readonly shared = true;
  readonly lists: RedisLists;

  private constructor(
    private readonly c: Client,
    private readonly t: RedisTarget,
  ) {
    this.lists = new RedisLists(c, t.prefix, t.display);
  }

  static async open(t: RedisTarget): Promise<RedisListStore> {
    const { connectRedis } = await import('./redis.js');
    return new RedisListStore(await connectRedis(t, 'command'), t);
  }

  where(name: ListName): string {
    return `${this.t.display} ${this.lists.key(name)}`;
  }

  readText(name: ListName): Promise<string> {
    return this.lists.readText(name);
  }

  read(name: ListName): Promise<ListLine[]> {
    return this.lists.read(name);
  }

  update(name: ListName, change: (lines: ListLine[]) => ListLine[] | null, opts: UpdateOptions = {}): Promise<boolean> {
    return this.lists.update(name, change, { dryRun: opts.dryRun === true });
  }

  async find(name: ListName, ip: Ip, now: number): Promise<ListMatch | null> {
    return findInText(await this.lists.readText(name), ip, now);
  }

  async purge(name: ListName, now: number, opts: { readonly dryRun?: boolean } = {}): Promise<PurgeResult> {
    const p = purger(now);
    await this.lists.update(name, p.change, { dryRun: opts.dryRun === true });
    return p.result;
  }

  async close(): Promise<void> {
    const { closeClient } = await import('./redis.js');
    await closeClient(this.c, this.t.timeout);
  }
}
