// The CLI's bundle (scripts/bundle.sh): bin/qgrey runs dist/cli/qgrey.mjs, in which yargs
// measures its help text with src/render/width.ts instead of string-width. Every --help must
// read exactly as the unbundled CLI (string-width) renders it.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import stringWidth from '../../src/render/width.js';
import { QGREY, ROOT } from '../helpers/util.js';

const UNBUNDLED = `import(${JSON.stringify(join(ROOT, 'dist/src/cli.js'))}).then((m) => m.main(process.argv.slice(1))).then((c) => { process.exitCode = c; })`;

/** `qgrey WORDS --help` into a pipe (so at 80 columns), bundled or not. */
function help(bundled: boolean, words: string[]): string {
  const args = bundled ? [QGREY, ...words, '--help'] : ['--input-type=module', '-e', UNBUNDLED, '--', ...words, '--help'];
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

describe('the CLI bundle', () => {
  it('is what bin/qgrey runs, and has no string-width or emoji tables in it', () => {
    assert.match(readFileSync(QGREY, 'utf8'), /import\('\.\.\/dist\/cli\/qgrey\.mjs'\)/);
    const main = readFileSync(join(ROOT, 'dist/cli/qgrey.mjs'), 'utf8');
    assert.doesNotMatch(main, /RGI_Emoji|Intl\.Segmenter/);
    assert.ok(existsSync(join(ROOT, 'dist/cli/tree-child.mjs')));
  });

  it('renders every --help exactly as the unbundled CLI does', () => {
    const top = help(false, []);
    const words = [...top.matchAll(/^ {2}qgrey ([a-z]+)/gm)].map((m) => m[1]!);
    assert.ok(words.length >= 10, top);
    const cases: string[][] = [[], ...words.map((w) => [w]), ['whitelist', 'add'], ['whitelist', 'spf'], ['blacklist', 'load'], ['whitelist', 'outgoing']];
    for (const c of cases) assert.equal(help(true, c), help(false, c), `qgrey ${c.join(' ')} --help`);
  });
});

describe('width (string-width in the bundle)', () => {
  // each answer is string-width 8.3's for the same text
  it('counts characters, colour escapes as nothing, wide ones as two, marks and controls as none', () => {
    assert.equal(stringWidth(''), 0);
    assert.equal(stringWidth('qgrey whitelist add <ip>'), 24);
    assert.equal(stringWidth('\x1b[1m\x1b[31mred\x1b[39m\x1b[22m'), 3);
    assert.equal(stringWidth('\x1b[31mred\x1b[39m', { countAnsiEscapeCodes: true }), 11);
    assert.equal(stringWidth('日本'), 4);
    assert.equal(stringWidth('ｑ'), 2);
    assert.equal(stringWidth('e\u0301'), 1);
    assert.equal(stringWidth('a\tb'), 2);
    assert.equal(stringWidth('—…'), 2);
  });
});
