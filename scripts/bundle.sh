#!/bin/sh
# The bundles (`npm run build` runs this after tsc). esbuild runs here only: no bundle needs it
# at run time.
#
# qgreylist's decision program, dist/src/wrapper/main.js and what it imports, as one CommonJS
# file that bin/qgreylist runs once per SMTP connection. One file starts faster than the ES
# modules (no resolution and reading of a dozen files, no ESM facades for the builtins;
# bench/wrapper.bench.ts measures both). The wrapper's import rule (node: builtins, core and
# store only) is checked over dist/wrapper-bundle.meta.json by test/unit/wrapper-bundle.test.ts.
# The Redis client (ioredis) stays outside: the shared store's code (src/store/redis.ts)
# imports it when QGREY_STORE selects Redis, never on the tree path.
set -eu
cd "$(dirname "$0")/.."
# the project's own esbuild (a devDependency), whether or not npm put node_modules/.bin on PATH
PATH="$PWD/node_modules/.bin:$PATH"
if ! command -v esbuild >/dev/null 2>&1; then
  echo "bundle.sh: esbuild not found: run npm ci (it is a devDependency) first" >&2
  exit 100
fi
esbuild dist/src/wrapper/main.js --bundle --platform=node --format=cjs --target=node20 --external:ioredis \
  --outfile=dist/src/wrapper/qgreylist.cjs --metafile=dist/wrapper-bundle.meta.json --log-level=warning
# qgrey-spp's per-process program (bin/qgrey-spp), the same way and under the same rule
esbuild dist/src/spp/main.js --bundle --platform=node --format=cjs --target=node20 --external:ioredis \
  --outfile=dist/src/spp/qgrey-spp.cjs --metafile=dist/spp-bundle.meta.json --log-level=warning
# The admin CLI (bin/qgrey) and the tree process that root's maintenance runs as the tree's
# owner (src/store/privsep.ts): ES modules split into chunks, so that a command loads its own
# action only, as the lazy imports of src/commands/ do unbundled. Its start-up is mostly
# module loading (resolving, reading and compiling some 150 files of ours, yargs' and glob's):
# the bundle cuts about 30% of `qgrey --version` (bench/commands.bench.ts, "cli"). Every file
# sits in dist/cli/, two levels below package.json as dist/src/cli.js is, so the CLI finds its
# package.json the same way; QGREY_TREE_CHILD names the tree process's program for privsep.
# The Redis and MySQL clients stay outside, imported when a command opens them.
rm -rf dist/cli
exec esbuild qgrey=dist/src/cli.js tree-child=dist/src/store/tree-child.js --bundle --splitting \
  --platform=node --format=esm --target=node20 --external:ioredis --external:mysql2 \
  --outdir=dist/cli --out-extension:.js=.mjs --define:QGREY_TREE_CHILD='"./tree-child.mjs"' --alias:string-width=./dist/src/render/width.js \
  --metafile=dist/cli-bundle.meta.json --log-level=warning
