// The tree process of privsep.ts: `node tree-child.js UID GID`, started by root. It drops to
// UID and GID (supplementary groups cleared first, each step checked) before it reads a single
// request, then serves GreyStore calls on the tree, one JSON line each on stdin, answers one
// JSON line each on stdout. If its parent goes away without saying `close`, it kills itself as
// a killed run would die: what it leaves (lock, staging tree) the next run's lock recovers.
//
// No npm imports.

import { createInterface } from 'node:readline';
import { QgreyError } from '../core/errors.js';
import { AnomalyError, type Anomaly } from './store.js';
import type { ChildOpen, FromChild, ToChild } from './privsep.js';
import type { Entry, ExpireRules, MergeOptions, StoreLock, Walked } from './store.js';

/** the requests' JSON, typed as the parent (privsep.ts RemoteTree) sends it */
type DryRun = { readonly dryRun?: boolean } | undefined;
import { openTree, type TreeStore } from './tree.js';

function send(m: FromChild): void {
  process.stdout.write(JSON.stringify(m) + '\n');
}

function die(message: string): never {
  send({ id: 1, err: { message, exitCode: 111 } });
  process.exit(111);
}

const uid = Number(process.argv[2]);
const gid = Number(process.argv[3]);
if (!Number.isInteger(uid) || !Number.isInteger(gid) || uid <= 0 || gid < 0) die(`the tree process was started without an owner (${process.argv.slice(2).join(' ')})`);
try {
  process.setgroups!([gid]);
  process.setgid!(gid);
  process.setuid!(uid);
} catch (err) {
  die(`unable to become uid ${uid} gid ${gid} for the tree work: ${err instanceof Error ? err.message : String(err)}`);
}
if (process.getuid!() !== uid || process.geteuid!() !== uid || process.getgid!() !== gid || process.getegid!() !== gid || process.getgroups!().some((g) => g !== gid)) {
  die(`unable to become uid ${uid} gid ${gid} for the tree work`);
}

const parent = process.ppid;
let tree: TreeStore | null = null;
let lock: StoreLock | null = null;
let closing = false;

/** A parent that is gone wants nothing more: die as it did, leaving what a killed run leaves. */
function orphaned(): boolean {
  if (process.ppid === parent) return false;
  process.kill(process.pid, 'SIGKILL');
  return true;
}

function open(o: ChildOpen): TreeStore {
  return openTree({
    dir: o.dir,
    layout: o.layout,
    layoutSource: o.layoutSource,
    onAnomaly: (a: Anomaly) => send({ ev: 'anomaly', a }),
    alive: () => !orphaned(),
    lockWait: o.lockWait,
  }, o.where);
}

async function handle(m: ToChild): Promise<unknown> {
  if (m.op === 'open') {
    const o = m.args[0] as ChildOpen;
    tree = open(o);
    return { layout: tree.layout };
  }
  const t = tree;
  if (t === null) throw new QgreyError('the tree process was not told which tree', 111);
  const a = m.args;
  switch (m.op) {
    case 'get':
      return t.get(a[0] as string);
    case 'create':
      return t.create(a[0] as string, a[1] as number);
    case 'touch':
      return t.touch(a[0] as string, a[1] as number);
    case 'merge':
      return t.merge(a[0] as readonly Entry[], a[1] as MergeOptions);
    case 'remove':
      return t.removeIfUnchanged(a[0] as readonly Walked[], a[1] as DryRun);
    case 'tidy':
      return t.tidy(a[0] as DryRun);
    case 'expire':
      return t.expire(a[0] as ExpireRules, a[1] as DryRun);
    case 'scan': {
      const opts = a[0] as object;
      for await (const batch of t.scan({ ...opts, onMixed: (msg) => send({ ev: 'mixed', m: msg }) })) send({ id: m.id, batch });
      return true;
    }
    case 'lock':
      lock = await t.lock(a[0] as string);
      return lock.recovered;
    case 'unlock':
      await lock?.release();
      lock = null;
      return true;
    case 'close':
      closing = true;
      await lock?.release();
      lock = null;
      await t.close();
      return true;
  }
}

let chain: Promise<void> = Promise.resolve();
const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  const m = JSON.parse(line) as ToChild;
  chain = chain.then(async () => {
    try {
      send({ id: m.id, ok: (await handle(m)) ?? null });
    } catch (err) {
      if (err instanceof AnomalyError) send({ id: m.id, err: { message: err.message, exitCode: err.exitCode, anomaly: err.anomaly, where: tree?.where ?? '' } });
      else if (err instanceof QgreyError) send({ id: m.id, err: { message: err.message, exitCode: err.exitCode } });
      else send({ id: m.id, err: { message: `internal error in the tree process: ${err instanceof Error ? err.message : String(err)}`, exitCode: 111 } });
    }
  });
});
rl.on('close', () => {
  void chain.then(() => {
    if (!closing) process.kill(process.pid, 'SIGKILL');
    process.exit(0);
  });
});
