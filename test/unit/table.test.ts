// render/table.ts: a table cut to a width (every cell in exactly one part, the label in each),
// and free text wrapped to it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fitTable, wrapText, type Column } from '../../src/render/table.js';
import { painter } from '../../src/render/colour.js';

const plain = painter(0);
const cols: Column[] = ['label', 'aaaa', 'bbbb', 'cccc', 'dddd', 'eeee'].map((title) => ({ title }));
const rows = [
  ['one', 1, 2, 3, 4, 5],
  ['two', 10, 20, 30, 40, 50],
];
const groups = [
  { title: 'A', columns: [1, 2] },
  { title: 'B', columns: [3, 4, 5] },
];

test('fitTable: one table when it fits, else the groups, a group too wide cut further', () => {
  const whole = fitTable(cols, rows, groups, 'all', 80, plain);
  assert.deepEqual(whole.map((p) => p.title), ['all']);
  assert.equal(whole[0]!.lines[0], 'label  aaaa  bbbb  cccc  dddd  eeee');
  // 35 characters: the groups (17 and 23 wide) fit alone
  const two = fitTable(cols, rows, groups, 'all', 30, plain);
  assert.deepEqual(two.map((p) => [p.title, p.lines[0]]), [['A', 'label  aaaa  bbbb'], ['B', 'label  cccc  dddd  eeee']]);
  assert.deepEqual(two[1]!.lines.slice(1), ['one       3     4     5', 'two      30    40    50']);
  const narrow = fitTable(cols, rows, groups, 'all', 17, plain);
  assert.deepEqual(narrow.map((p) => [p.title, p.lines[0]]), [
    ['A', 'label  aaaa  bbbb'],
    ['B', 'label  cccc  dddd'],
    ['B (continued)', 'label  eeee'],
  ]);
  for (const p of narrow) for (const l of p.lines) assert.ok(l.length <= 17, l);
});

test('wrapText: at most the width, later lines indented, leading spaces kept', () => {
  assert.deepEqual(wrapText('a bb ccc dddd', 6), ['a bb', '  ccc', '  dddd']);
  assert.deepEqual(wrapText('  x y', 80), ['  x y']);
  assert.deepEqual(wrapText('short', 80), ['short']);
  assert.deepEqual(wrapText('a verylongword b', 5), ['a', '  verylongword', '  b']);
});
