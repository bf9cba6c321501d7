// '-' means standard input for every command that reads logs (yargs would drop a lone '-';
// src/cli.ts carries it through), and a compressed stream on stdin is recognised too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, mkdirSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { FIXTURES, giveTree, qgrey, tempDir } from '../helpers/util.js';

const SAMPLE = join(FIXTURES, 'logs/qlog_sample_raw.log');

test("logs: '-' reads stdin, plain or gzip, the same as the file", () => {
  const want = qgrey(['logs', '--utc', SAMPLE]);
  assert.equal(want.code, 0, want.stderr);
  const plain = qgrey(['logs', '--utc', '-'], { input: readFileSync(SAMPLE) });
  assert.equal(plain.stdout, want.stdout);
  const gz = qgrey(['logs', '--utc', '-'], { input: gzipSync(readFileSync(SAMPLE)) });
  assert.equal(gz.code, 0, gz.stderr);
  assert.equal(gz.stdout, want.stdout);
  // stdin and the same file together: every line once
  const both = qgrey(['logs', '--utc', '-', SAMPLE], { input: readFileSync(SAMPLE) });
  assert.equal(both.stdout, want.stdout);
});

test("rebuild: '-' reads stdin, never the default logs", () => {
  using d = tempDir();
  const tree = join(d.path, 'jgreylist');
  mkdirSync(tree, { mode: 0o700 });
  giveTree(tree);
  const r = qgrey(['rebuild', '--dry-run', '--json', '--dir', tree, '--days', '100000', '-'], { input: readFileSync(SAMPLE) });
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as { files: number; lines: number; accepted: number; written: number };
  assert.equal(j.files, 1);
  assert.equal(j.lines, 58);
  assert.equal(j.accepted, 13);
  // 203.0.113 (alice, news, big), 198.51.100 (bad helo), 2001:db8::/64; relay and AUTH skipped
  assert.equal(j.written, 3);
});
