#!/usr/bin/env bash
# Installs what the tests need, then builds and runs every test three ways:
#   build/       gcc, optimised            ctest: everything but `tsan`
#   build-san/   clang, ASan + UBSan,      ctest: everything but `tsan`,
#                libFuzzer targets          including the bounded `fuzz` runs
#   build-tsan/  clang, ThreadSanitizer    ctest: the `tsan` label
# Exits non-zero on the first failure. Usage: scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
scripts/install-test-tools.sh

jobs=$(nproc)
step() { printf '\n==== %s ====\n' "$*"; }

step "build (gcc, RelWithDebInfo)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=gcc >/dev/null
cmake --build build -j "$jobs"
step "tests (gcc)"
ctest --test-dir build --output-on-failure -j "$jobs" -LE 'tsan|fuzz'

step "build (clang, ASan + UBSan, fuzzers)"
cmake -S . -B build-san -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang \
      -DFLOWGATE_SANITIZE=ON -DFLOWGATE_FUZZ=ON -DFLOWGATE_BENCH=OFF >/dev/null
cmake --build build-san -j "$jobs"
step "tests (ASan + UBSan, fuzz runs)"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-san --output-on-failure -j "$jobs" -LE tsan

step "build (clang, ThreadSanitizer)"
cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang \
      -DFLOWGATE_TSAN=ON -DFLOWGATE_BENCH=OFF >/dev/null
cmake --build build-tsan -j "$jobs"
step "tests (ThreadSanitizer)"
TSAN_OPTIONS=halt_on_error=1 ctest --test-dir build-tsan --output-on-failure -j "$jobs" -L tsan

step "all test runs passed"
