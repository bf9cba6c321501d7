// The actions against both stores: the in-memory store and a real tree, seeded alike, must give
// the same reports, the same listings and the same entries afterwards.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tempDir } from '../helpers/util.js';
import { accepted, greetdelay, writeLog } from '../e2e/rebuild-gen.js';
import { MemoryStore } from '../../src/store/memory.js';
import { TreeEntries } from '../../src/store/entries.js';
import { openStore, type OpenStore } from '../../src/store/open.js';
import type { Entry } from '../../src/store/store.js';
import type { Layout } from '../../src/core/key.js';
import { run as clean } from '../../src/actions/clean.js';
import { run as evict } from '../../src/actions/evict.js';
import { run as rebuild } from '../../src/actions/rebuild.js';
import { run as list } from '../../src/actions/list.js';
import { run as check } from '../../src/actions/check.js';

const NOW = Math.floor(Date.now() / 1000);
/** the one clock every run here reads (half a second into NOW, as the wall clock is after NOW was taken), so that runs against the two stores see the same time */
const clock = () => NOW + 0.5;
// run as root (CI), the root-owned trees here are worked on in this process only when told
// --owner root; a tree of another owner would be worked on by a tree process, and while an
// action waits on its pipe the test runner's own reports would land in capture()
const OWNER = process.geteuid?.() === 0 ? { owner: 'root' } : {};
/** the actions see this environment, not the test runner's */
const ENV = {};
const D = 86400;

/** stdout of an action run in this process */
async function capture(f: () => Promise<number>): Promise<string> {
  const write = process.stdout.write;
  const errWrite = process.stderr.write;
  let out = '';
  process.stdout.write = ((chunk: string | Uint8Array) => {
    out += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
    return true;
  }) as typeof process.stdout.write;
  process.stderr.write = (() => true) as typeof process.stderr.write;
  try {
    assert.equal(await f(), 0);
  } finally {
    process.stdout.write = write;
    process.stderr.write = errWrite;
  }
  return out;
}

const strip = (json: string) =>
  json
    .trim()
    .split('\n')
    .map((l) => {
      const { seconds: _s, scanSeconds: _a, treeSeconds: _b, dir: _d, ...rest } = JSON.parse(l) as Record<string, unknown>;
      return rest;
    });

interface Pair {
  tree: string;
  memory: MemoryStore;
  mem: OpenStore;
  dispose(): void;
}

function pair(layout: Layout, entries: Entry[]): Pair {
  const d = tempDir();
  const t = new TreeEntries(d.path, layout);
  const memory = new MemoryStore(layout);
  for (const e of entries) {
    t.putSync(e);
    memory.put(e);
  }
  return { tree: d.path, memory, mem: async () => memory, dispose: () => d[Symbol.dispose]() };
}

/** what a store holds, as whole seconds */
async function contents(open: OpenStore, dir: string): Promise<string[]> {
  const s = await open({ dir, env: ENV, readOnly: true });
  const out: string[] = [];
  for await (const b of s.scan()) for (const w of b) out.push(`${w.key} ${w.mtime} ${w.atime}`);
  await s.close();
  return out;
}

const SEED: Entry[] = [
  { key: '001/001/001', first: NOW - 40 * D, last: NOW - 31 * D }, // max-age
  { key: '001/001/002', first: NOW - 2 * D, last: NOW - 2 * D }, // one-time
  { key: '001/002/001', first: NOW - 3 * D, last: NOW - 2 * D }, // kept
  { key: '002/001/001', first: NOW - 3600, last: NOW - 3600 }, // kept (too young for one-time)
  { key: '203/000/113', first: NOW - 9 * D, last: NOW - 8 * D }, // rebuilt from the logs
  { key: '198/051/100', first: NOW - 600, last: NOW - 300 }, // recent: carried over
  { key: 'v6/20010db8/00000000', first: NOW - 95 * D, last: NOW - 90 * D }, // max-age
];

test('clean: the same report and the same entries left on the tree and in memory', async () => {
  const p = pair('classc', SEED);
  try {
    const args = { ...OWNER, env: ENV, dir: p.tree, maxAge: '30d', oneTime: '1d', lists: false, dryRun: false, json: true, quiet: false };
    const dry = { ...args, dryRun: true };
    const [td, md] = [strip(await capture(() => clean(dry, clock))), strip(await capture(() => clean(dry, clock, p.mem)))];
    assert.deepEqual({ ...td[0], removedDirs: 0 }, md[0]);
    const [t, m] = [strip(await capture(() => clean(args, clock))), strip(await capture(() => clean(args, clock, p.mem)))];
    assert.deepEqual({ ...t[0], removedDirs: 0 }, m[0]);
    assert.deepEqual(t[0], { ...t[0], removedMaxAge: 2, removedOneTime: 1, kept: 4, removedDirs: 3 });
    assert.deepEqual(await contents(openStore, p.tree), await contents(p.mem, p.tree));
  } finally {
    p.dispose();
  }
});

test('rebuild: the same report and the same merged entries on the tree and in memory', async () => {
  const p = pair('classc', SEED);
  using logs = tempDir();
  writeLog(`${logs.path}/current`, [
    [NOW - 2 * D, accepted('203.0.113.45')],
    [NOW - D, accepted('203.0.113.46')],
    [NOW - D, accepted('192.0.2.7')],
    [NOW - 100, accepted('198.51.100.9')],
  ]);
  try {
    const args = { ...OWNER, env: ENV, paths: [`${logs.path}/current`], dir: p.tree, days: 35, exclude: [], defaultExcludes: false, keepRecent: '1h', tz: 'UTC', dryRun: false, json: true, quiet: false };
    const t = strip(await capture(() => rebuild(args, clock)));
    const m = strip(await capture(() => rebuild(args, clock, p.mem)));
    assert.deepEqual(t, m);
    assert.deepEqual(t[0], { ...t[0], written: 3, added: 1, carried: 0, removed: 5 });
    const after = await contents(openStore, p.tree);
    assert.deepEqual(after, await contents(p.mem, p.tree));
    assert.equal(after.length, 3);
    // 198.51.100 was seen 300 s ago (within --keep-recent): its earlier first seen is kept
    assert.ok(after.includes(`198/051/100 ${NOW - 600} ${NOW - 100}`), after.join('\n'));
  } finally {
    p.dispose();
  }
});

test('evict, list and check: the same on the tree and in memory', async () => {
  const p = pair('classc', SEED);
  using logs = tempDir();
  writeLog(`${logs.path}/current`, [
    [NOW - 600, greetdelay('203.0.113.45')],
    [NOW - 500, greetdelay('192.0.2.7')],
  ]);
  try {
    const lt = strip(await capture(() => list({ env: ENV, dir: p.tree, json: true }, clock)));
    assert.deepEqual(lt, strip(await capture(() => list({ env: ENV, dir: p.tree, json: true }, clock, p.mem))));
    assert.equal(lt.length, SEED.length);
    const ct = strip(await capture(() => check({ env: ENV, ip: '198.51.100.7', dir: p.tree, listdir: logs.path, json: true }, clock)));
    const cm = strip(await capture(() => check({ env: ENV, ip: '198.51.100.7', dir: p.tree, listdir: logs.path, json: true }, clock, p.mem)));
    // the same clock: the same text, 'first seen Ns ago' included
    assert.deepEqual(ct, cm);
    assert.equal((ct[0] as { action: string }).action, 'pass');
    const args = { ...OWNER, env: ENV, paths: [`${logs.path}/current`], dir: p.tree, since: '1d', minEvents: 1, tz: 'UTC', dryRun: false, json: true, quiet: false };
    const et = strip(await capture(() => evict(args, clock)));
    assert.deepEqual(et, strip(await capture(() => evict(args, clock, p.mem))));
    // removed and absent apart: 192.0.2 had no entry to remove
    assert.deepEqual((et[0] as { evicted: string[] }).evicted, ['203.0.113']);
    assert.deepEqual((et[0] as { absent: string[] }).absent, ['192.0.2']);
    assert.deepEqual(await contents(openStore, p.tree), await contents(p.mem, p.tree));
  } finally {
    p.dispose();
  }
});
