#!/bin/sh
# test/on-node.sh VERSION: the suite, as `npm test` built it, run again on Node.js VERSION
# (fetched by test/fetch-node.sh) put first on PATH, so the tests, the qgrey they spawn
# (process.execPath) and the wrapper's `node` are all that Node. CI runs it with 20.19.0,
# the oldest Node that package.json's engines allows (Debian 13 ships 20.19).
set -eu
cd "$(dirname "$0")/.."
[ -f dist/cli/qgrey.mjs ] || { echo 'test/on-node.sh: fatal: nothing built: run npm test (or npm run build) first' >&2; exit 100; }
bin=$(sh test/fetch-node.sh "${1:?usage: test/on-node.sh VERSION}")
PATH=$bin:$PATH
export PATH
echo "test/on-node.sh: the suite on Node $(node --version)" >&2
# Node 20 takes no glob in --test: the files are listed
# shellcheck disable=SC2046
exec node --test --test-concurrency=2 --test-timeout=300000 --test-force-exit $(find dist/test -name '*.test.js' | sort)
