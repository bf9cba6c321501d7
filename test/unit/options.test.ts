// One wording for a bad whole number, whether the command parses the text typed (wholeOption)
// or an action is given the number (wholeNumber, for callers other than the commands).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { wholeNumber, wholeOption } from '../../src/actions/options.js';

const message = (f: () => unknown) => {
  try {
    f();
  } catch (err) {
    return (err as Error).message;
  }
  return null;
};

test('wholeOption and wholeNumber refuse the same values with the same line', () => {
  for (const [v, min, max] of [[0, 1, undefined], [-1, 0, undefined], [40, 0, 32], [1.5, 1, undefined]] as const) {
    const a = message(() => wholeOption(String(v), '--x', min, max));
    const b = message(() => wholeNumber(v, '--x', min, max));
    assert.ok(a !== null, `${v} refused`);
    assert.equal(b, a);
  }
  assert.equal(message(() => wholeNumber(0, '--min-events', 1)), "unable to parse --min-events '0': expected a whole number, 1 or more");
  assert.equal(message(() => wholeNumber(33, '--min-prefix4', 0, 32)), "unable to parse --min-prefix4 '33': expected a whole number, 0 to 32");
  assert.equal(wholeNumber(32, '--min-prefix4', 0, 32), 32);
  assert.equal(wholeOption(' 7 ', '--top', 0), 7);
});
