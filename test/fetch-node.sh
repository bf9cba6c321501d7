#!/bin/sh
# test/fetch-node.sh VERSION: a real Node.js VERSION from the npm registry's node-linux-ARCH
# package (the one the `node` devDependency installs), unpacked once into a cache directory
# ($QGREY_NODE_CACHE, else $TMPDIR/qgrey-node-cache) and reused. Prints its bin directory.
# For the tests of other Node versions: Node 18 (refused with one line) and Node 20.19 (the
# oldest supported, which CI runs the suite on).
set -eu
v=${1:?usage: test/fetch-node.sh VERSION}
case $(uname -m) in
  x86_64) arch=x64 ;;
  aarch64) arch=arm64 ;;
  *) echo "test/fetch-node.sh: fatal: no node-linux package for $(uname -m)" >&2; exit 100 ;;
esac
cache=${QGREY_NODE_CACHE:-${TMPDIR:-/tmp}/qgrey-node-cache}
dir=$cache/node-$v-$arch
if [ ! -x "$dir/bin/node" ]; then
  mkdir -p "$cache"
  work=$(mktemp -d "$cache/.fetch.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  (cd "$work" && npm pack --silent "node-linux-$arch@$v" >/dev/null) || {
    echo "test/fetch-node.sh: fatal: unable to fetch node-linux-$arch@$v from the npm registry" >&2; exit 111; }
  tar -xzf "$work"/node-linux-*.tgz -C "$work"
  # a concurrent fetch may have won: then keep its copy
  mv -T "$work/package" "$dir" 2>/dev/null || [ -x "$dir/bin/node" ]
fi
"$dir/bin/node" --version >/dev/null
echo "$dir/bin"
