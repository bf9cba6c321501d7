// `qgrey clean` on the tree as one streaming pass (TreeStore.expire): the walk of walk.ts, whose
// directories of entries are swept where they are read instead of yielding every entry. In each
// one, from inside it (the cursor's working directory, so no name crosses a symlink): its names,
// one lstat each, jgreylist-clean's rules on the whole-second times; then each expired entry is
// lstat'ed again just before its unlink and left if it changed meanwhile (the wrapper revisited
// or replaced it); then the temporary files of dead runs. What is held from one directory to the
// next is a few counters, so memory does not grow with the tree. Anomalies are yielded as the
// walk yields them; each directory's item says how many things in it stay, for the caller to
// remove it when none does (TreeStore.expire).
//
// A mixed tree is refused before the pass (layoutsIn, walk.ts); one that becomes mixed during
// the pass (an entry of the other layout written meanwhile) stops it with the same refusal.
//
// No npm imports.

import { lstatSync, readdirSync, unlinkSync, type Stats } from 'node:fs';
import { QgreyError, reason } from '../core/errors.js';
import type { Layout } from '../core/key.js';
import type { Cursor } from './cursor.js';
import { linkedAnomaly } from './entries.js';
import { expiredAt, mixedMessage, type ExpireRules } from './store.js';
import { Walker, isOurTemp, leafNames, left, tempPid, type WalkItem } from './walk.js';

/** one options object for every lstat (not one per call) */
const MAYBE = { throwIfNoEntry: false } as const;

/** What unlinkIfUnchanged did. */
export const REMOVED = 0;
export const CHANGED = 1;
export const GONE = 2;

const fsFail = (verb: string, p: string, err: unknown) => new QgreyError(`unable to ${verb} ${p}: ${reason(err)}`, 111, { cause: err });

/**
 * In the working directory, the directory `dir` (for messages): unlink `name` (not with `dry`)
 * if it is still a regular file with one link and these whole-second times (the scan's, as
 * jgreylist-clean compares them). REMOVED, CHANGED (left), or GONE.
 */
export function unlinkIfUnchanged(name: string, mtime: number, atime: number, dry: boolean, dir: string): number {
  let st: Stats | undefined;
  try {
    st = lstatSync(name, MAYBE);
  } catch (err) {
    throw fsFail('examine', `${dir}/${name}`, err);
  }
  if (st === undefined) return GONE;
  // revisited or recreated since the scan (the wrapper's), or replaced: keep it
  if (!st.isFile() || st.nlink > 1 || Math.floor(st.mtimeMs / 1000) !== mtime || Math.floor(st.atimeMs / 1000) !== atime) return CHANGED;
  if (dry) return REMOVED;
  try {
    unlinkSync(name);
  } catch (err) {
    if ((err as { code?: string } | null)?.code === 'ENOENT') return GONE;
    throw fsFail('remove', `${dir}/${name}`, err);
  }
  return REMOVED;
}

/** whether process `pid` exists (signal 0: EPERM means it does, under another user) */
export function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as { code?: string } | null)?.code === 'EPERM';
  }
}

export interface SweepConfig {
  readonly rules: ExpireRules;
  readonly dryRun: boolean;
  /** the store's layout: an expired entry of the other one is left (as removeIfUnchanged does) */
  readonly layout: Layout;
  /** the tree's name in messages */
  readonly where: string;
  readonly root: string;
  /** called for each directory and before each removal; throws to stop */
  readonly beat: () => void;
}

const byString = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

export class Sweeper extends Walker {
  maxAge = 0;
  oneTime = 0;
  /** entries that stay by the rules */
  kept = 0;
  /** expired at the first look, not at the second: kept */
  changed = 0;
  removedTemps = 0;
  /** the first entry of each layout met */
  private readonly seen: { classc?: string; byip?: string } = {};
  // per directory, reused: the expired entries (index, whole-second mtime and atime, why)
  private goIdx: number[] = [];
  private goM: number[] = [];
  private goA: number[] = [];
  private goWhy: number[] = [];

  constructor(
    cur: Cursor,
    private readonly cfg: SweepConfig,
  ) {
    super(cur, undefined, true, true);
  }

  private met(layout: Layout, rel: string, name: string): void {
    if (this.seen[layout] !== undefined) return;
    this.seen[layout] = rel + '/' + name;
    const { classc, byip } = this.seen;
    if (classc !== undefined && byip !== undefined) throw new QgreyError(mixedMessage(this.cfg.where, classc, byip), 100);
  }

  /** A directory of entries (or of per-IP containers), swept; what stays is counted in its 'dir' item. */
  protected override *leaves(rel: string, depth: number, v6: boolean): Generator<WalkItem> {
    this.cfg.beat();
    if (!this.cur.cd(rel)) {
      yield left('unreadable', rel, 'cannot be read: it changed during the walk (gone, or no longer a directory reached without a symlink)');
      return;
    }
    let names: string[];
    try {
      names = readdirSync('.').sort(byString);
    } catch (err) {
      yield left('unreadable', rel, `cannot be read: ${reason(err)}`);
      return;
    }
    const nameOk = leafNames(depth, v6);
    const leafDepth = depth + 1;
    const layout: Layout = leafDepth === 3 ? 'classc' : 'byip';
    const rules = this.cfg.rules;
    let holds = 0;
    let go = 0;
    let containers: number[] | null = null;
    let temps: number[] | null = null;
    for (let i = 0; i < names.length; i++) {
      const name = names[i]!;
      if (!nameOk.test(name)) {
        if (isOurTemp(name)) (temps ??= []).push(i);
        else {
          holds++;
          yield left('bad-name', rel + '/' + name, 'is not part of a jgreylist tree; left alone');
        }
        continue;
      }
      let st: Stats | undefined;
      try {
        st = lstatSync(name, MAYBE);
      } catch (err) {
        holds++;
        yield left('unreadable', rel + '/' + name, `cannot be examined: ${reason(err)}`);
        continue;
      }
      if (st === undefined) continue; // removed meanwhile
      if (st.isFile()) {
        if (st.nlink > 1) {
          holds++;
          yield { type: 'anomaly', anomaly: linkedAnomaly(rel + '/' + name, st) };
          continue;
        }
        if (this.seen[layout] === undefined) this.met(layout, rel, name);
        const mtime = Math.floor(st.mtimeMs / 1000);
        const atime = Math.floor(st.atimeMs / 1000);
        const why = expiredAt(mtime, atime, rules);
        if (why === 0) {
          this.kept++;
          holds++;
          continue;
        }
        this.goIdx[go] = i;
        this.goM[go] = mtime;
        this.goA[go] = atime;
        this.goWhy[go] = why;
        go++;
        continue;
      }
      holds++;
      if (st.isSymbolicLink()) yield left('symlink', rel + '/' + name, 'is a symbolic link; left alone');
      else if (!st.isDirectory()) yield left('not-regular', rel + '/' + name, 'is not a regular file; left alone');
      else if (leafDepth === 3) {
        holds--; // a per-IP container: its own item says whether it stays
        (containers ??= []).push(i);
      } else yield left('not-regular', rel + '/' + name, 'is a directory, expected a regular file; left alone');
    }
    if (go > 0) {
      if (layout !== this.cfg.layout) {
        // as removeIfUnchanged: the store's layout is not this one (detected from the first entries)
        this.changed += go;
        holds += go;
        yield left('not-regular', rel, 'changed since the walk (gone, or no longer a directory); left its entries alone');
      } else {
        // the wrapper may have touched an entry since it was looked at: each is looked at again
        const dry = this.cfg.dryRun;
        const dir = this.cfg.root + '/' + rel;
        for (let j = 0; j < go; j++) {
          this.cfg.beat();
          const r = unlinkIfUnchanged(names[this.goIdx[j]!]!, this.goM[j]!, this.goA[j]!, dry, dir);
          if (r === REMOVED) {
            if (this.goWhy[j] === 1) this.maxAge++;
            else this.oneTime++;
          } else if (r === CHANGED) {
            this.changed++;
            holds++;
          }
        }
      }
    }
    if (temps !== null) holds += this.sweepTemps(names, temps, rel);
    if (containers !== null) for (const i of containers) yield* this.leaves(rel + '/' + names[i]!, leafDepth, v6);
    yield { type: 'dir', key: rel, holds };
  }

  /** the temporary files of dead runs, removed (counted, with dryRun); how many stay */
  private sweepTemps(names: readonly string[], idx: readonly number[], rel: string): number {
    let stay = 0;
    for (const i of idx) {
      const name = names[i]!;
      const pid = tempPid(name);
      if (pid <= 0 || pidExists(pid)) {
        stay++; // not a pid we can check, or alive: keep it
        continue;
      }
      if (this.cfg.dryRun) {
        this.removedTemps++;
        continue;
      }
      let st: Stats | undefined;
      try {
        st = lstatSync(name, MAYBE);
      } catch (err) {
        throw fsFail('examine', `${this.cfg.root}/${rel}/${name}`, err);
      }
      if (st === undefined || !st.isFile()) {
        stay++; // as tidy did: a name that is no longer a file of ours keeps its directory
        continue;
      }
      try {
        unlinkSync(name);
        this.removedTemps++;
      } catch {
        stay++; // not ours to remove: leave it
      }
    }
    return stay;
  }
}

/** The items of the sweep of the tree the cursor is anchored at (the working directory moves; restored at the end). */
export function* sweepTree(cur: Cursor, s: Sweeper): Generator<WalkItem> {
  try {
    yield* s.top();
  } finally {
    cur.leave();
  }
}
