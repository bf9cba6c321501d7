// The wrapper bundle (scripts/bundle.sh, esbuild) and the wrapper's import rule: the
// per-connection decision program imports node: builtins, src/core and src/store only.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { buildSync, type Metafile } from 'esbuild';
import { ROOT, tempDir } from '../helpers/util.js';

const CLI_CODE = /(?:^|\/)src\/(?:cli\.js|commands\/|actions\/|render\/)/;

/** The one npm import allowed: the Redis client, imported when the shared store is opened (never on the tree path). */
const LAZY_OK = { file: /(?:^|\/)src\/store\/redis\.js$/, path: 'ioredis', kind: 'dynamic-import' };

/** Every break of the import rule in an esbuild metafile, one line each. */
function ruleBreaks(meta: Metafile): string[] {
  const out: string[] = [];
  for (const [file, input] of Object.entries(meta.inputs)) {
    if (file.includes('node_modules/')) out.push(`${file}: an npm package in the decision program`);
    else if (CLI_CODE.test(file)) out.push(`${file}: the admin CLI's code in the decision program`);
    for (const imp of input.imports) {
      const lazy = LAZY_OK.file.test(file) && imp.path === LAZY_OK.path && imp.kind === LAZY_OK.kind;
      if (imp.external === true && !imp.path.startsWith('node:') && !lazy) out.push(`${file}: imports ${imp.path}, which is not a node: builtin`);
    }
  }
  return out;
}

function bundleOf(files: Record<string, string>): string[] {
  using t = tempDir();
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(t.path, name, '..'), { recursive: true });
    writeFileSync(join(t.path, name), text);
  }
  const r = buildSync({
    entryPoints: [join(t.path, 'src/wrapper/main.js')],
    absWorkingDir: t.path,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    write: false,
    metafile: true,
    logLevel: 'silent',
    external: ['external-pkg', 'ioredis'],
  });
  return ruleBreaks(r.metafile);
}

describe('wrapper bundle', () => {
  it('the real bundle holds core, store and wrapper code only, and imports node: builtins only', () => {
    const meta = JSON.parse(readFileSync(join(ROOT, 'dist/wrapper-bundle.meta.json'), 'utf8')) as Metafile;
    const inputs = Object.keys(meta.inputs);
    assert.ok(inputs.includes('dist/src/wrapper/main.js'), inputs.join(' '));
    assert.ok(inputs.includes('dist/src/store/lists.js'), inputs.join(' '));
    assert.deepEqual(ruleBreaks(meta), []);
    for (const f of inputs) assert.match(f, /^dist\/src\/(?:wrapper|core|store)\//);
  });

  it('the rule catches an npm package, bundled or left external, and the admin CLI', () => {
    const pkg = { 'node_modules/chalk/package.json': '{"name":"chalk","main":"index.js"}', 'node_modules/chalk/index.js': 'exports.x = 1;' };
    assert.deepEqual(bundleOf({ ...pkg, 'src/wrapper/main.js': "import { x } from 'chalk'; console.log(x);" }), [
      'node_modules/chalk/index.js: an npm package in the decision program',
    ]);
    assert.deepEqual(bundleOf({ 'src/wrapper/main.js': "import { x } from 'external-pkg'; console.log(x);" }), [
      'src/wrapper/main.js: imports external-pkg, which is not a node: builtin',
    ]);
    assert.deepEqual(
      bundleOf({
        'src/wrapper/main.js': "import { run } from './lazy.js'; run();",
        'src/wrapper/lazy.js': "export async function run() { await import('../actions/check.js'); }",
        'src/actions/check.js': 'export const y = 1;',
      }),
      ["src/actions/check.js: the admin CLI's code in the decision program"],
    );
    assert.deepEqual(bundleOf({ 'src/wrapper/main.js': "import { readFileSync } from 'node:fs'; import { k } from '../core/k.js'; console.log(readFileSync, k);", 'src/core/k.js': 'export const k = 1;' }), []);
    // the Redis client: only lazily, only from the Redis store's module
    assert.deepEqual(bundleOf({ 'src/wrapper/main.js': "import('../store/redis.js');", 'src/store/redis.js': "export const c = () => import('ioredis');" }), []);
    assert.deepEqual(bundleOf({ 'src/wrapper/main.js': "import { Redis } from 'ioredis'; console.log(Redis);" }), ['src/wrapper/main.js: imports ioredis, which is not a node: builtin']);
    assert.deepEqual(bundleOf({ 'src/wrapper/main.js': "import('../store/redis.js');", 'src/store/redis.js': "import { Redis } from 'ioredis'; export const c = Redis;" }), ['src/store/redis.js: imports ioredis, which is not a node: builtin']);
  });

  it('the real decision program runs from the bundle, without loading node:child_process', () => {
    using t = tempDir();
    const code = readFileSync(join(ROOT, 'dist/src/wrapper/qgreylist.cjs'), 'utf8');
    assert.ok(!/require\("(?!node:)/.test(code), 'only builtins are required');
    assert.deepEqual(code.match(/import\("[^"]*"\)/g), ['import("ioredis")'], 'the one lazy import is the Redis client');
    const file = join(t.path, 'q.cjs');
    writeFileSync(file, code + '\n;process.on("exit", () => process.stderr.write("loaded:" + process.moduleLoadList.filter((m) => /child_process/.test(m)).join(",") + Object.keys(require.cache).filter((m) => /node_modules/.test(m)).join(",") + "\\n"));\n');
    const r = spawnSync(process.execPath, [file, '77'], { encoding: 'utf8', env: { JGREYLIST: '', TCPREMOTEIP: '192.0.2.7' } });
    assert.equal(r.stdout, 'exec\n');
    assert.equal(r.stderr, 'qgreylist[77]: 192.0.2.7: OK whitelisted\nloaded:\n');
  });
});
