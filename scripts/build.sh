#!/usr/bin/env bash
# Configures build/ and builds the named targets (every target when none is named):
#   scripts/build.sh keval     just the command line tool (what scripts/demo.sh needs)
#   scripts/build.sh           everything: tests, mock server, benchmarks (scripts/test.sh)
# Every script configures build/ with exactly these settings, so the demo, the tests and the
# benchmarks share one set of objects: the tests after the demo only build what the demo did not
# need, and no script leaves a setting in build/ that makes another one rebuild.
set -euo pipefail
cd "$(dirname "$0")/.."

settings=(
  -DCMAKE_BUILD_TYPE=Release
  -DKEVAL_WERROR=ON     # the code is warning-free with Debian 12's g++: a warning is a bug to fix
  -DKEVAL_SANITIZE=OFF  # the sanitizer build has its own directory (scripts/sanitize.sh)
  -DKEVAL_TESTS=ON      # configured always, built only when asked for
  -DKEVAL_BENCH=ON
)

log=$(mktemp -t keval-configure.XXXXXX)
trap 'rm -f "$log"' EXIT
if ! cmake -S . -B build "${settings[@]}" >"$log" 2>&1; then
  cat "$log" >&2
  echo "keval build: configuring build/ failed (is scripts/setup.sh done?)" >&2
  exit 1
fi

targets=()
for target in "$@"; do targets+=(--target "$target"); done
cmake --build build -j"$(nproc)" "${targets[@]}"
