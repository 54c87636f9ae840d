#!/usr/bin/env bash
# The README's main command: install what keval needs, build build/keval (and nothing else), evaluate
# the embedded random baseline on a few Korean suites into results/keval.db, and write the
# leaderboard to results/site/index.html. Each step says what it does and how long it took.
set -euo pipefail
cd "$(dirname "$0")/.."

tasks=kobest,haerae_partial,csatqa_188,kice_2023,korquad_v1,korsts
db=results/keval.db
site=results/site

step_start=$SECONDS
step() {  # step N TEXT: announce step N of 4
  step_start=$SECONDS
  printf '\n== keval demo %s/4: %s\n' "$1" "$2"
}
step_done() {
  printf '== done in %d s\n' $((SECONDS - step_start))
}

step 1 "packages (scripts/setup.sh: Debian packages for building keval, when missing)"
scripts/setup.sh
step_done

step 2 "build (scripts/build.sh keval: only the command line tool, into build/keval)"
scripts/build.sh keval
step_done

step 3 "evaluate (the random baseline on $tasks, into $db)"
mkdir -p "$(dirname "$db")"
build/keval run --tasks "$tasks" --backend random --seed 1234 --db "$db"
echo
build/keval runs --db "$db"
step_done

step 4 "report (the static leaderboard, into $site/)"
build/keval report --db "$db" --out "$site"
step_done

printf '\n== keval demo finished in %d min %d s. Results:\n' $((SECONDS / 60)) $((SECONDS % 60))
echo "   database     $db        (build/keval runs --db $db; build/keval results --db $db --run RUN_ID)"
echo "   leaderboard  $site/index.html  (open it in a browser)"
echo "   tests        scripts/test.sh           (reuses this build)"
