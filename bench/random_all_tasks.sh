#!/usr/bin/env bash
# Benchmark: the random baseline over every task (about 60k samples) into a fresh database.
# Prints samples/s and peak memory. Targets: under 10 s, under 200 MB.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x build/keval ] || { scripts/setup.sh; scripts/build.sh; }
command -v /usr/bin/time >/dev/null 2>&1 || { echo "installing GNU time" >&2; apt-get install -y -qq time >/dev/null; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# Sum the samples of the "tasks" array (groups would count them twice).
samples=$(build/keval tasks --json | awk '/^  "tasks": \[/ {in_tasks = 1} in_tasks && /"samples":/ {gsub(/[^0-9]/, "", $2); s += $2} END {print s}')
/usr/bin/time -f "%e %M" -o "$out/time" build/keval run --backend random --tasks all --no-progress --db "$out/bench.db" >"$out/log"
read -r seconds peak_kb <"$out/time"
db_mb=$(du -m "$out/bench.db" | cut -f1)
awk -v n="$samples" -v s="$seconds" -v kb="$peak_kb" -v db="$db_mb" 'BEGIN {
  printf "random over all tasks: %d samples in %.2f s = %.0f samples/s; peak memory %.1f MB; database %d MB\n", n, s, n / s, kb / 1024, db
}'
