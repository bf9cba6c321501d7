#!/bin/sh
# The wrapper bundle (`npm run build` runs this after tsc): qgreylist's decision program,
# dist/src/wrapper/main.js and what it imports, as one CommonJS file that bin/qgreylist runs
# once per SMTP connection. One file starts faster than the ES modules (no resolution and
# reading of a dozen files, no ESM facades for the builtins; bench/wrapper.bench.ts measures
# both). esbuild runs here only: the bundle needs nothing at run time. The wrapper's import
# rule (node: builtins, core and store only) is checked over dist/wrapper-bundle.meta.json
# by test/unit/wrapper-bundle.test.ts. The Redis client (ioredis) stays outside: the shared
# store's code (src/store/redis.ts) imports it when QGREY_STORE selects Redis, never on the
# tree path.
set -eu
cd "$(dirname "$0")/.."
esbuild dist/src/wrapper/main.js --bundle --platform=node --format=cjs --target=node20 --external:ioredis \
  --outfile=dist/src/wrapper/qgreylist.cjs --metafile=dist/wrapper-bundle.meta.json --log-level=warning
# qgrey-spp's per-process program (bin/qgrey-spp), the same way and under the same rule
exec esbuild dist/src/spp/main.js --bundle --platform=node --format=cjs --target=node20 \
  --outfile=dist/src/spp/qgrey-spp.cjs --metafile=dist/spp-bundle.meta.json --log-level=warning
