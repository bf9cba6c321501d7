#!/bin/sh
# Installs the real programs the tests run against, when they are missing.
# Tests never skip silently: if a program cannot be installed, this fails.
set -eu
need=""
have() { command -v "$1" >/dev/null 2>&1; }
have multilog      || need="$need daemontools"
have tai64nlocal   || need="$need daemontools"
have tcpserver     || need="$need ucspi-tcp"
have tcprules      || need="$need ucspi-tcp"
have swaks         || need="$need swaks"
have dnsmasq       || need="$need dnsmasq-base"
have redis-server  || need="$need redis-server"
have mariadb-install-db || need="$need mariadb-server"
have openssl       || need="$need openssl"
have mandoc        || need="$need mandoc"
have zstd          || need="$need zstd"
have xz            || need="$need xz-utils"
have bzip2         || need="$need bzip2"
have xmllint       || need="$need libxml2-utils"
have clang-14      || need="$need clang-14"
have wasm-ld-14    || need="$need lld-14"
have cc            || need="$need gcc libc6-dev"
[ -n "$need" ] || exit 0
echo "test/need-tools.sh: installing:$need" >&2
if [ "$(id -u)" = 0 ]; then sudo=""; elif have sudo; then sudo="sudo -n"; else
  echo "test/need-tools.sh: fatal: missing$need and not root: install them first" >&2; exit 111
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# shellcheck disable=SC2086
$sudo apt-get install -y -qq --no-install-recommends $need >/dev/null
