// The wrapper's bundler: tsc's ESM output -> one CommonJS file, and the import rule it enforces.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT, tempDir } from '../helpers/util.js';
import { bundle, BundleError, convert } from '../../src/wrapper/bundle.js';

function tree(files: Record<string, string>): { path: string; [Symbol.dispose](): void } {
  const t = tempDir();
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(t.path, name, '..'), { recursive: true });
    writeFileSync(join(t.path, name), text);
  }
  return t;
}

describe('wrapper bundle', () => {
  it('converts imports, exports, lazy builtins and import()', () => {
    const m = convert(
      'wrapper/a.js',
      [
        "import { readFileSync, constants as C } from 'node:fs';",
        "import { spawnSync } from 'node:child_process';",
        "import { x, y as z } from '../core/b.js';",
        "import * as ns from './c.js';",
        'export function f() { return x + z; }',
        'export async function g() { const { h } = await import("./d.js"); return h; }',
        'export class K {}',
        'const v = 1;',
        'export { v, v as w };',
      ].join('\n'),
    );
    assert.deepEqual(m.deps, ['core/b.js', 'wrapper/c.js', 'wrapper/d.js']);
    assert.match(m.code, /^const readFileSync = require\("node:fs"\)\.readFileSync; const C = require\("node:fs"\)\.constants;$/m);
    assert.match(m.code, /^const spawnSync = \(\.\.\.a\) => require\("node:child_process"\)\.spawnSync\(\.\.\.a\);$/m);
    assert.match(m.code, /^const \{ x, y: z \} = __load\("core\/b\.js"\);$/m);
    assert.match(m.code, /^const ns = __load\("wrapper\/c\.js"\);$/m);
    assert.match(m.code, /await Promise\.resolve\(\)\.then\(\(\) => __load\("wrapper\/d\.js"\)\)/);
    assert.match(m.code, /Object\.assign\(exports, \{ f: f, g: g, K: K, v: v, w: v \}\);$/);
  });

  it('refuses npm packages, the admin CLI, cycles and mutable exports, with one clear line', () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ 'wrapper/main.js': "import yargs from 'yargs';" }, /imports "yargs": the decision program may import no npm package/],
      [{ 'wrapper/main.js': "import { x } from 'chalk';" }, /may import no npm package/],
      [{ 'wrapper/main.js': "import { run } from '../actions/check.js';", 'actions/check.js': 'export function run() {}' }, /may not import the admin CLI's code/],
      [{ 'wrapper/main.js': "import { a } from './a.js';", 'wrapper/a.js': "import { b } from './b.js';\nexport const a = 1;", 'wrapper/b.js': "import { a } from './a.js';\nexport const b = 2;" }, /import cycle: wrapper\/main\.js -> wrapper\/a\.js -> wrapper\/b\.js -> wrapper\/a\.js/],
      [{ 'wrapper/main.js': 'export let n = 1;' }, /exports a mutable binding n/],
      [{ 'wrapper/main.js': 'export default 1;' }, /cannot bundle an export form/],
      [{ 'wrapper/main.js': 'const u = import.meta.url;' }, /cannot bundle import\.meta/],
    ];
    for (const [files, re] of cases) {
      using t = tree(files);
      assert.throws(() => bundle(t.path), (e: unknown) => e instanceof BundleError && re.test(e.message));
    }
  });

  it('the real decision program bundles and runs, without loading node:child_process', () => {
    using t = tempDir();
    const code = bundle(join(ROOT, 'dist/src'));
    assert.ok(!/require\("(?!node:)/.test(code), 'only builtins are required');
    const file = join(t.path, 'q.cjs');
    writeFileSync(file, code + '\n;process.on("exit", () => process.stderr.write("loaded:" + process.moduleLoadList.filter((m) => /child_process/.test(m)).join(",") + "\\n"));\n');
    const r = spawnSync(process.execPath, [file, '77'], { encoding: 'utf8', env: { JGREYLIST: '', TCPREMOTEIP: '192.0.2.7' } });
    assert.equal(r.stdout, 'exec\n');
    assert.equal(r.stderr, 'qgreylist[77]: 192.0.2.7: OK whitelisted\nloaded:\n');
  });
});
