// bin/qgrey on a Node older than 20.19 (issue 16, point 3): a real Node 18.19.0 (Debian 12's)
// from the npm registry runs the real bin/qgrey; every command says one line and exits 100,
// where it used to die with a stack trace inside a dependency it cannot parse.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { QGREY, ROOT, run, tempDir } from '../helpers/util.js';

test('Node 18.19.0: every qgrey command prints one line and exits 100', () => {
  const f = run('sh', [join(ROOT, 'test/fetch-node.sh'), '18.19.0']);
  assert.equal(f.code, 0, f.stderr);
  const node18 = join(f.stdout.trim(), 'node');
  assert.equal(run(node18, ['--version']).stdout, 'v18.19.0\n');
  using d = tempDir();
  for (const args of [[], ['--help'], ['--version'], ['list'], ['whitelist', 'add', '192.0.2.7'], ['stats', '/nonexistent']]) {
    const r = run(node18, [QGREY, ...args], { env: { QGREY_LISTDIR: d.path } });
    assert.equal(r.stderr, 'qgrey: fatal: needs Node.js 20.19 or later (this is 18.19.0)\n', args.join(' '));
    assert.equal(r.stdout, '');
    assert.equal(r.code, 100);
  }
});

test('engines, README and bin/qgrey name the same oldest Node', () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } };
  assert.equal(pkg.engines.node, '>=20.19');
  assert.match(readFileSync(QGREY, 'utf8'), /var want = \[20, 19\];/);
  assert.match(readFileSync(join(ROOT, 'README.md'), 'utf8'), /Node\.js 20\.19 or later/);
});
