// The merge counts a line found in two sources once, also where the sources only touch at
// their ends, and keeps lines that repeat within one source.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openLogs } from '../../src/logs/read.js';
import { encodeLabel } from '../../src/core/tai64n.js';
import { Zone } from '../../src/core/zone.js';
import { tempDir } from '../helpers/util.js';

const line = (sec: number, text: string) => `${encodeLabel({ sec, nsec: 500 })} ${text}\n`;

async function read(paths: string[]): Promise<string[]> {
  const { records } = openLogs(paths, { zone: new Zone('UTC') });
  const out: string[] = [];
  for await (const r of records) out.push(`${r.stamp!.sec} ${r.body}`);
  return out;
}

test('sources that follow each other: the shared line at the seam once, nothing else lost', async () => {
  using d = tempDir();
  const a = join(d.path, 'a');
  const b = join(d.path, 'b');
  writeFileSync(a, line(1000, 'one') + line(1500, 'two') + line(2000, 'seam'));
  writeFileSync(b, line(2000, 'seam') + line(2500, 'three') + line(9000, 'four'));
  assert.deepEqual(await read([a, b]), ['1000 one', '1500 two', '2000 seam', '2500 three', '9000 four']);
  assert.deepEqual(await read([b, a]), ['1000 one', '1500 two', '2000 seam', '2500 three', '9000 four']);
});

test('overlapping sources: each line once; a line repeated inside one source is kept twice', async () => {
  using d = tempDir();
  const a = join(d.path, 'a');
  const b = join(d.path, 'b');
  writeFileSync(a, line(1000, 'x') + line(1000, 'x') + line(1001, 'y') + line(5000, 'late'));
  writeFileSync(b, line(1000, 'x') + line(1001, 'y') + line(1002, 'z'));
  assert.deepEqual(await read([a, b]), ['1000 x', '1000 x', '1001 y', '1002 z', '5000 late']);
});

test('a source far ahead of the other: no line dropped, order by time', async () => {
  using d = tempDir();
  const a = join(d.path, 'a');
  const b = join(d.path, 'b');
  writeFileSync(a, line(100, 'p') + line(200, 'same text') + line(300, 'r'));
  writeFileSync(b, line(100000, 'same text') + line(100100, 's'));
  assert.deepEqual(await read([a, b]), ['100 p', '200 same text', '300 r', '100000 same text', '100100 s']);
});
