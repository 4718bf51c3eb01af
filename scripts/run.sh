#!/usr/bin/env bash
# Installs what is needed, builds Flowgate and runs it on the bundled example:
# a small stdio MCP server (examples/demo-server) behind a WASM guard
# (examples/demo-guard), configured by examples/demo.toml.
# Usage: scripts/run.sh [extra flowgate flags]   (Ctrl-C stops it)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=gcc >/dev/null
cmake --build build -j "$(nproc)"
exec build/src/flowgate --config examples/demo.toml --listen 127.0.0.1:8000 --log-dir build/demo-logs "$@"
