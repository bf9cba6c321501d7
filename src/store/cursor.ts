// A working directory inside the tree that is known to be the directory the walk means.
//
// Node has no openat() or fchdir(), so every lookup by a full path crosses directories the
// tree's owner can swap for symlinks. Instead the tree is entered from its root and walked by
// one relative component at a time: the component is opened O_DIRECTORY|O_NOFOLLOW (so it is
// a real directory inside the current one), chdir'ed into, and '.' must then have the device
// and inode of that descriptor. Relative names are then looked up in the directory itself,
// whatever happens to the paths above it. Going up, '..' is checked against the inode
// remembered on the way down; anything unexpected starts again from the root.
// The real protection against the tree's owner is that root never does tree work (see
// privsep.ts); this keeps a run that is the owner from being led outside its own tree.
//
// No npm imports.

import { closeSync, constants as C, fstatSync, openSync, statSync, type Stats } from 'node:fs';

const O_DIR = C.O_RDONLY | C.O_DIRECTORY | C.O_NOFOLLOW | C.O_NONBLOCK;

interface Id {
  dev: number;
  ino: number;
}

const same = (a: Id, b: Id) => a.dev === b.dev && a.ino === b.ino;

function dirId(name: string): Id | null {
  let fd: number;
  try {
    fd = openSync(name, O_DIR);
  } catch {
    return null;
  }
  try {
    const st = fstatSync(fd);
    return st.isDirectory() ? { dev: st.dev, ino: st.ino } : null;
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}

function here(): Id | null {
  try {
    const st = statSync('.');
    return { dev: st.dev, ino: st.ino };
  } catch {
    return null;
  }
}

export class Cursor {
  /** components of the directory we are in, relative to the root; null: not inside */
  private at: string[] | null = null;
  private ids: Id[] = [];
  private home: string | null = null;

  constructor(
    readonly root: string,
    private readonly rootId: Id,
  ) {}

  static of(root: string, st: Stats): Cursor {
    return new Cursor(root, { dev: st.dev, ino: st.ino });
  }

  /** Go back to the working directory we came from (before yielding to other code). */
  leave(): void {
    if (this.at === null) return;
    this.at = null;
    this.ids = [];
    if (this.home !== null) {
      try {
        process.chdir(this.home);
      } catch {
        process.chdir('/');
      }
    } else process.chdir('/');
  }

  private enterRoot(): boolean {
    if (this.at === null) {
      try {
        this.home = process.cwd();
      } catch {
        this.home = null;
      }
    }
    try {
      process.chdir(this.root);
    } catch {
      this.at = null;
      return false;
    }
    const h = here();
    if (h === null || !same(h, this.rootId)) {
      this.leave();
      return false;
    }
    this.at = [];
    this.ids = [this.rootId];
    return true;
  }

  private down(name: string): boolean {
    const id = dirId(name);
    if (id === null) return false;
    try {
      process.chdir(name);
    } catch {
      return false;
    }
    const h = here();
    if (h === null || !same(h, id)) {
      // swapped between the open and the chdir: start again from the root next time
      this.at = null;
      this.enterRoot();
      return false;
    }
    this.at!.push(name);
    this.ids.push(id);
    return true;
  }

  private up(): boolean {
    try {
      process.chdir('..');
    } catch {
      return false;
    }
    this.at!.pop();
    this.ids.pop();
    const h = here();
    return h !== null && same(h, this.ids[this.ids.length - 1]!);
  }

  /**
   * Make `rel` ('' = the root, 'a/b' below it) the working directory; false when it is gone or
   * is not a directory reached without a symlink (then the working directory is the root or
   * the directory we came from).
   */
  cd(rel: string): boolean {
    const want = rel === '' ? [] : rel.split('/');
    if (this.at === null && !this.enterRoot()) return false;
    let at = this.at!;
    let common = 0;
    while (common < at.length && common < want.length && at[common] === want[common]) common++;
    while (at.length > common) {
      if (!this.up()) {
        if (!this.enterRoot()) return false;
        at = this.at!;
        common = 0;
        break;
      }
    }
    for (let i = common; i < want.length; i++) {
      if (!this.down(want[i]!)) {
        return false;
      }
    }
    return true;
  }
}
