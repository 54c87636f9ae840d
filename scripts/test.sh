#!/usr/bin/env bash
# The README's test command: install what the tests need, build everything in build/ (the same
# settings as scripts/demo.sh, so what the demo built is not built again), run every test with
# ctest. A test that cannot run here is reported by ctest as skipped, not as passed.
set -euo pipefail
cd "$(dirname "$0")/.."

step_start=$SECONDS
step() {  # step N TEXT: announce step N of 3
  step_start=$SECONDS
  printf '\n== keval test %s/3: %s\n' "$1" "$2"
}
step_done() {
  printf '== done in %d s\n' $((SECONDS - step_start))
}

step 1 "packages (scripts/setup.sh --test: building, plus what the tests need, when missing)"
scripts/setup.sh --test
step_done

step 2 "build (scripts/build.sh: every target in build/)"
scripts/build.sh
step_done

step 3 "tests (ctest in build/)"
ctest --test-dir build --output-on-failure -j"$(nproc)"
step_done
printf '\n== keval test finished in %d min %d s\n' $((SECONDS / 60)) $((SECONDS % 60))
