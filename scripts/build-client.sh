#!/bin/sh
# The compiled qgreylist client (src/client/qgreylist.c) as dist/client/qgreylist, made by
# `npm run build` where there is a C compiler. Without one, one line says so and the build
# goes on: bin/qgreylist (bash) asks qgreyd itself, only slower (qgreyd(8), PERFORMANCE).
set -eu
cd "$(dirname "$0")/.."
cc=${CC:-cc}
if ! command -v "$cc" >/dev/null 2>&1; then
  echo "build: no C compiler ($cc): dist/client/qgreylist not built; bin/qgreylist asks qgreyd itself" >&2
  exit 0
fi
mkdir -p dist/client
# static where libc.a is (Debian's libc6-dev): no dynamic loader per connection, about a
# tenth of the client's CPU; else as any program
"$cc" -O2 -Wall -Wextra -static -o dist/client/qgreylist.tmp src/client/qgreylist.c 2>/dev/null ||
  "$cc" -O2 -Wall -Wextra -o dist/client/qgreylist.tmp src/client/qgreylist.c
mv -f dist/client/qgreylist.tmp dist/client/qgreylist
