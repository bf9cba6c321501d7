// The environment variables a source file reads: directly (`env.NAME`, `envInt(env, 'NAME', ...)`)
// and through the readers of src/core/config.ts it calls (treeDir() reads JGREYLIST_DIR...), so a
// test that a man page names every variable a program reads cannot miss one read through them.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './util.js';

function direct(text: string): string[] {
  return [...text.matchAll(/env\.([A-Z0-9_]+)|env, '([A-Z0-9_]+)'/g)].map((m) => (m[1] ?? m[2])!);
}

/** the exported functions of src/core/config.ts and the variables each reads */
export function configReaders(): Map<string, string[]> {
  const text = readFileSync(join(ROOT, 'src/core/config.ts'), 'utf8');
  return new Map([...text.matchAll(/^export function (\w+)\([^)]*\)[^{]*\{\n([\s\S]*?)^\}/gm)].map((m) => [m[1]!, direct(m[2]!)]));
}

/** what `file` (relative to the repository) reads, and which config readers it calls */
export function envVarsRead(file: string): { vars: Set<string>; readers: string[] } {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const readers = configReaders();
  const called = [...new Set([...text.matchAll(/\b(\w+)\(/g)].map((m) => m[1]!))].filter((f) => readers.has(f) && f !== 'envInt');
  return { vars: new Set([...direct(text), ...called.flatMap((f) => readers.get(f)!)]), readers: called };
}
