// A child process of `qgrey clean` (forked with an IPC channel): walks its share of the tree,
// reports, waits for the parent's word that every share was walked and the tree is sound, then
// applies its removals and reports the counts. It holds no lock of its own: the parent holds
// the tree's lock for the whole run and waits for this process before letting it go.
//
//   parent -> child: { params: PartParams }      child -> parent: { walked: {...} }
//   parent -> child: { go: true | false }        child -> parent: { applied: Applied }
//   on any error:                                child -> parent: { error, exitCode }

import { QgreyError, reason } from '../core/errors.js';
import { applyPart, walkPart, type PartParams, type Walked } from './clean-part.js';

export type ToChild = { params: PartParams } | { go: boolean };
export type FromChild =
  | { walked: Pick<Walked, 'kept' | 'anomalies' | 'seen'> }
  | { applied: ReturnType<typeof applyPart> }
  | { error: string; exitCode: number };

function send(m: FromChild): Promise<void> {
  return new Promise((res) => process.send!(m, undefined, {}, () => res()));
}

async function fail(err: unknown): Promise<never> {
  const exitCode = err instanceof QgreyError ? err.exitCode : 111;
  await send({ error: err instanceof QgreyError ? err.message : `clean: ${reason(err)}`, exitCode });
  process.exit(exitCode);
}

function next(): Promise<ToChild> {
  return new Promise((res) => process.once('message', (m) => res(m as ToChild)));
}

if (process.send === undefined) {
  process.stderr.write('qgrey: clean-child: fatal: to be started by qgrey clean only\n');
  process.exit(100);
}
// the parent gone (killed, crashed): stop, whatever the phase
process.on('disconnect', () => process.exit(111));

try {
  const first = await next();
  if (!('params' in first)) throw new Error('protocol: expected the parameters first');
  const params = first.params;
  const w = walkPart(params);
  await send({ walked: { kept: w.kept, anomalies: w.anomalies, seen: w.seen } });
  const go = await next();
  if (!('go' in go) || !go.go) process.exit(0);
  await send({ applied: applyPart(params, w) });
  process.exit(0);
} catch (err) {
  await fail(err);
}
