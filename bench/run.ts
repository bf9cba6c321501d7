// `npm run bench`: runs every dist/bench/*.bench.js in turn. Each benchmark generates its
// own inputs under a temp dir and prints ratios against baselines measured in the same run.
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const only = process.argv.slice(2);
const files = readdirSync(here)
  .filter((f) => f.endsWith('.bench.js'))
  .filter((f) => only.length === 0 || only.some((o) => f.startsWith(o)))
  .sort();
for (const f of files) {
  const mod = (await import(pathToFileURL(join(here, f)).href)) as { default: () => Promise<void> };
  console.log(`\n== ${f.replace(/\.bench\.js$/, '')}`);
  await mod.default();
}
