// Who owns a tree: `--owner USER:GROUP` read through /etc/passwd, /etc/group and getent, and
// the owner of a tree's root directory.
//
// No npm imports.

import { lstatSync, readFileSync, type Stats } from 'node:fs';
import { QgreyError, quote } from '../core/errors.js';
import { treeRootError } from './walk.js';

export interface Owner {
  readonly uid: number;
  readonly gid: number;
}

const NUMBER = /^[0-9]+$/;

/** The fields of `name`'s line in /etc/passwd or /etc/group, else from getent; null when unknown. */
function lookup(db: 'passwd' | 'group', name: string): string[] | null {
  try {
    for (const line of readFileSync(`/etc/${db}`, 'utf8').split('\n')) {
      const f = line.split(':');
      if (f[0] === name) return f;
    }
  } catch {
    /* fall through to getent */
  }
  // loaded only here: the wrapper imports the store and never needs child_process
  const r = process.getBuiltinModule('node:child_process').spawnSync('getent', [db, name], { encoding: 'utf8' });
  return r.status === 0 && typeof r.stdout === 'string' ? r.stdout.split('\n')[0]!.split(':') : null;
}

function idOf(db: 'passwd' | 'group', name: string): number | null {
  if (NUMBER.test(name)) return Number(name);
  const f = lookup(db, name);
  return f !== null && NUMBER.test(f[2] ?? '') ? Number(f[2]) : null;
}

/** `user:group` (names or numbers) -> uid and gid. A user alone takes the user's primary group. */
export function parseOwner(text: string): Owner {
  const m = /^([A-Za-z0-9_][A-Za-z0-9_.-]*\$?)(?::([A-Za-z0-9_][A-Za-z0-9_.-]*\$?))?$/.exec(text);
  if (!m) throw new QgreyError(`unable to parse --owner ${quote(text)}: expected USER:GROUP (names or numbers), e.g. vpopmail:vchkpw`, 100);
  const user = m[1]!;
  const group = m[2];
  const uid = idOf('passwd', user);
  if (uid === null) throw new QgreyError(`unknown user ${quote(user)} in --owner: no such entry in /etc/passwd or getent passwd`, 100);
  let gid: number | null;
  if (group === undefined) {
    const f = lookup('passwd', user);
    gid = f !== null && NUMBER.test(f[3] ?? '') ? Number(f[3]) : null;
    if (gid === null) throw new QgreyError(`no primary group known for ${quote(user)}: give --owner USER:GROUP`, 100);
  } else {
    gid = idOf('group', group);
    if (gid === null) throw new QgreyError(`unknown group ${quote(group)} in --owner: no such entry in /etc/group or getent group`, 100);
  }
  return { uid, gid };
}

/** The tree root's own lstat: a directory, not a symlink (root does its tree work as its owner). */
export function rootOwner(root: string): Owner & { symlink: boolean } {
  let st: Stats;
  try {
    st = lstatSync(root);
  } catch (err) {
    throw treeRootError(root, err);
  }
  if (st.isSymbolicLink()) return { uid: st.uid, gid: st.gid, symlink: true };
  if (!st.isDirectory()) throw new QgreyError(`greylist directory ${root} does not exist or is not a directory`, 100);
  return { uid: st.uid, gid: st.gid, symlink: false };
}
