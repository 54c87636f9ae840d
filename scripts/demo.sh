#!/usr/bin/env bash
# The README's main command: set up, build, evaluate the embedded random baseline on a few
# Korean suites into results/keval.db, and write the leaderboard to results/site/index.html.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
mkdir -p results
build/keval run --tasks kobest,haerae_partial,csatqa_188,kice_2023,korquad_v1,korsts --backend random --seed 1234 \
  --db results/keval.db
echo
build/keval runs --db results/keval.db
echo
build/keval report --db results/keval.db --out results/site
echo "leaderboard: results/site/index.html"
