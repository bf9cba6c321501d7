// The triplet stores (src/store/triplets.ts): the directory tree and the in-memory one keep the
// same contract; the tree never follows a symlink and never names a file after an address.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, statSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { parseIp } from '../../src/core/ip.js';
import { clientId, tripletId, tripletKey, type Triplet } from '../../src/core/triplet.js';
import { MemoryTriplets, TreeTriplets, type TripletStore } from '../../src/store/triplets.js';
import { tempDir } from '../helpers/util.js';

const key = tripletKey(parseIp('192.0.2.7')!, '../../etc/passwd@x', 'a b@c', false);
const t: Triplet = { ...key, first: 1, last: 2.5, blockUntil: 3, expires: 4, passed: 1, blocked: 2 };

function contract(s: TripletStore): void {
  const id = tripletId(key);
  assert.equal(s.getTriplet(id), null);
  s.putTriplet(id, t);
  assert.deepEqual(s.getTriplet(id), t);
  s.putTriplet(id, { ...t, passed: 5 });
  assert.equal(s.getTriplet(id)!.passed, 5);
  assert.deepEqual([...s.scanTriplets()].map(([i]) => i), [id]);
  const cid = clientId(key.net);
  assert.equal(s.getClient(cid), null);
  s.putClient(cid, { net: key.net, first: 1, last: 2, passed: 3 });
  assert.deepEqual(s.getClient(cid), { net: key.net, first: 1, last: 2, passed: 3 });
  assert.deepEqual([...s.scanTriplets()].map(([i]) => i), [id], 'client records are not triplets');
  assert.equal(s.removeTriplet(id), true);
  assert.equal(s.removeTriplet(id), false);
  assert.throws(() => s.getTriplet('../x'), /not a triplet id/);
}

test('memory and tree stores keep one contract', () => {
  contract(new MemoryTriplets());
  using d = tempDir();
  contract(new TreeTriplets(d.path));
});

test('tree: files by id only, 0600 in 0700 directories; a symlinked root or subdirectory is refused', () => {
  using d = tempDir();
  const root = join(d.path, 'rcpt');
  mkdirSync(root);
  const s = new TreeTriplets(root);
  const id = tripletId(key);
  s.putTriplet(id, t);
  assert.deepEqual(readdirSync(root).sort(), [id.slice(0, 2)]);
  assert.deepEqual(readdirSync(join(root, id.slice(0, 2))), [id]);
  assert.equal(statSync(join(root, id.slice(0, 2))).mode & 0o777, 0o700 & ~process.umask());
  assert.equal(statSync(join(root, id.slice(0, 2), id)).mode & 0o777, 0o600);
  const link = join(d.path, 'link');
  symlinkSync(root, link);
  assert.throws(() => new TreeTriplets(link).getTriplet(id), /is not a directory \(a symbolic link is refused\)/);
  const other = join(d.path, 'other');
  mkdirSync(other);
  const elsewhere = join(d.path, 'elsewhere');
  mkdirSync(elsewhere);
  symlinkSync(elsewhere, join(other, id.slice(0, 2)));
  assert.throws(() => new TreeTriplets(other).putTriplet(id, t), /unsafe triplet directory/);
  assert.deepEqual(readdirSync(elsewhere), [], 'nothing written through the symlink');
});
