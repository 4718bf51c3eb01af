#!/usr/bin/env bash
# Installs the npm test tools (real MCP servers and the SDK client) pinned in
# tests/package-lock.json into tests/node_modules. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/../tests"
[ -f package-lock.json ] || { echo "install-test-tools: no tests/package-lock.json, nothing to install"; exit 0; }
if [ -d node_modules ] && [ node_modules/.package-lock.json -nt package-lock.json ]; then
  echo "install-test-tools: npm packages up to date"
  exit 0
fi
npm ci --no-audit --no-fund --loglevel=error
