#!/usr/bin/env bash
# Installs every Debian package the build, the tests and the benchmarks need.
# Idempotent: asks apt only for what is missing, and runs `apt-get update` at
# most once. Usage: scripts/install-deps.sh
set -euo pipefail

PKGS=(
  build-essential cmake pkg-config git curl ca-certificates
  libjansson-dev libmicrohttpd-dev libcurl4-openssl-dev libcmocka-dev libjq-dev
  libgnutls28-dev
  wabt clang lld llvm libclang-rt-14-dev libclang-rt-14-dev-wasm32 wasi-libc
  nodejs npm
  zsh fish  # test_completion loads the completion scripts into them
)

missing=()
for p in "${PKGS[@]}"; do
  # nodejs may come from another source (e.g. nodesource); any node works.
  if [ "$p" = nodejs ] || [ "$p" = npm ]; then
    command -v "${p/nodejs/node}" >/dev/null 2>&1 && continue
  fi
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "install-deps: all Debian packages present"
fi
