import { test } from 'node:test';
import assert from 'node:assert/strict';
import { progress } from '../../src/render/progress.js';

function fakeStream(isTTY: boolean) {
  const out: string[] = [];
  return { s: { isTTY, write: (t: string) => out.push(t) }, out };
}

test('progress: silent when stderr is not a terminal (cron), warnings still written', () => {
  const { s, out } = fakeStream(false);
  const p = progress('rebuild', { stream: s });
  p.tick(10);
  p.warn('x:1: something');
  p.done();
  assert.deepEqual(out, ['qgrey: warning: x:1: something\n']);
});

test('progress: on a terminal draws a line count at most once a second, clears it before a warning and at the end', () => {
  const { s, out } = fakeStream(true);
  let now = 5000;
  const p = progress('rebuild', { stream: s, clock: () => now });
  now += 999;
  p.tick(5); // within the first second: not drawn
  assert.deepEqual(out, []);
  now += 1;
  p.tick(1234);
  now += 500;
  p.tick(2000); // half a second later: not drawn
  assert.deepEqual(out, ['\rqgrey rebuild: 1234 lines read...']);
  p.warn('w');
  assert.deepEqual(out.slice(1), ['\r\x1b[K', 'qgrey: warning: w\n']);
  p.done();
  assert.equal(out.length, 3, 'nothing left to clear after the warning');
});

test('progress: a phase is drawn at once on a terminal (the tree-writing phase of rebuild), cleared at the end; nothing in cron', () => {
  const { s, out } = fakeStream(true);
  const p = progress('rebuild', { stream: s, clock: () => 0 });
  p.phase('writing 3 entries into the tree');
  assert.deepEqual(out, ['\r\x1b[Kqgrey rebuild: writing 3 entries into the tree...']);
  p.done();
  assert.deepEqual(out.at(-1), '\r\x1b[K');
  const cron = fakeStream(false);
  const q = progress('rebuild', { stream: cron.s });
  q.phase('writing 3 entries into the tree');
  q.done();
  assert.deepEqual(cron.out, []);
});
