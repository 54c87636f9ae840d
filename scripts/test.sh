#!/usr/bin/env bash
# The README's test command: set up, build with warnings as errors, run every test with ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh -DKEVAL_WERROR=ON
ctest --test-dir build --output-on-failure -j"$(nproc)"
