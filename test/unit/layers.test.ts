// STYLE.md's import direction, read from the sources: bin -> cli -> commands -> actions ->
// {store, logs, dns, render} -> core, and core imports nothing outside itself. What two layers
// share lives below both (core/text.ts's replyText for check and the wrapper; store/state-file.ts
// for the log readers' state), never in a sibling or in a per-connection program.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ROOT } from '../helpers/util.js';

const SRC = join(ROOT, 'src');

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const d of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, d.name);
    if (d.isDirectory()) out.push(...sources(p));
    else if (d.name.endsWith('.ts')) out.push(p);
  }
  return out;
}

/** The top-level src/ directories a file imports from (static and dynamic imports alike). */
function layersOf(file: string): Set<string> {
  const text = readFileSync(file, 'utf8');
  const out = new Set<string>();
  for (const m of text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)) {
    const target = relative(SRC, join(file, '..', m[1]!));
    out.add(target.includes('/') ? target.split('/')[0]! : target);
  }
  return out;
}

// which layers each may import (itself always)
const ALLOWED: Record<string, string[]> = {
  core: [],
  native: ['core'],
  logs: ['core', 'native'],
  dns: ['core'],
  render: ['core'],
  store: ['core'],
  actions: ['core', 'store', 'logs', 'dns', 'render', 'native'],
};

test('each layer imports only the layers below it', () => {
  const bad: string[] = [];
  for (const [layer, allowed] of Object.entries(ALLOWED)) {
    for (const f of sources(join(SRC, layer))) {
      for (const l of layersOf(f)) if (l !== layer && !allowed.includes(l)) bad.push(`${relative(ROOT, f)} imports from src/${l}`);
    }
  }
  assert.deepEqual(bad, []);
});
