// Replace a file so that readers see the old or the new content, never half: a temp file
// beside it, every byte written, owner and mode set, fsync, rename, then fsync the directory
// (as tcprules does). The one writer for lists, state files and charts. No npm imports.

import { closeSync, constants, fchownSync, fstatSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { permanent, reason, temporary } from '../core/errors.js';

export interface AtomicOptions {
  /** permission bits of the new file (default 0644) */
  mode?: number;
  /** how `data` given as a string is encoded (default utf8) */
  encoding?: BufferEncoding;
  /** give the new file this owner (when running as root and it differs) */
  owner?: { uid: number; gid: number } | null;
  /** what the file is, for messages ("state file"); default: the path alone */
  what?: string;
}

export function writeFileAtomic(path: string, data: string | Buffer, opts: AtomicOptions = {}): void {
  const dir = dirname(path);
  const name = opts.what ? `${opts.what} ${path}` : path;
  const tmp = join(dir, `.${basename(path)}.tmp.${process.pid}`);
  const buf = typeof data === 'string' ? Buffer.from(data, opts.encoding ?? 'utf8') : data;
  let fd = -1;
  try {
    fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, opts.mode ?? 0o644);
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off);
    const owner = opts.owner;
    if (owner && process.getuid?.() === 0) {
      const st = fstatSync(fd);
      if (st.uid !== owner.uid || st.gid !== owner.gid) fchownSync(fd, owner.uid, owner.gid);
    }
    fsyncSync(fd);
    closeSync(fd);
    fd = -1;
    renameSync(tmp, path);
  } catch (err) {
    if (fd >= 0) closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      /* not created */
    }
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw permanent(`unable to write ${name}: directory ${dir} does not exist`, err);
    if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS' || code === 'EISDIR') throw permanent(`unable to write ${name}: ${reason(err)}`, err);
    throw temporary(`unable to write ${name}: ${reason(err)}`, err);
  }
  try {
    const dfd = openSync(dir, constants.O_RDONLY);
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  } catch {
    /* some file systems refuse to fsync a directory; the rename is done */
  }
}
