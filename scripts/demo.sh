#!/usr/bin/env bash
# The README's main command: set up, build, and evaluate the embedded random baseline on a few
# Korean suites into results/keval.db.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
mkdir -p results
build/keval run --tasks kobest,haerae,csatqa,kice_2023,korquad_v1,korsts --backend random --seed 1234 \
  --db results/keval.db
echo
build/keval runs --db results/keval.db
