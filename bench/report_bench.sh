#!/usr/bin/env bash
# Benchmark: `keval report` on a database of 20 random runs over every task (about 60k samples
# each). Prints the time to write the site, the size of index.html and of the whole site.
# Target: under 5 s, and an index.html that stays small (sample pages are separate files).
# Usage: bench/report_bench.sh [RUNS]   (default 20; the database is kept in bench/out/ so a
# second call only re-times the report)
set -euo pipefail
cd "$(dirname "$0")/.."
keval=${KEVAL:-build/keval}   # the binary to time (default: the tree's build)
[ -x "$keval" ] || { scripts/setup.sh; scripts/build.sh; }
runs=${1:-20}
out=bench/out
db=$out/report_bench_$runs.db
mkdir -p "$out"
have=0
[ -f "$db" ] && have=$("$keval" runs --db "$db" --json | grep -c '"config_hash"' || true)
if [ "$have" -lt "$runs" ]; then
  rm -f "$db" "$db-wal" "$db-shm"
  start=$(date +%s.%N)
  for seed in $(seq 1 "$runs"); do
    "$keval" run --backend random --tasks all --seed "$seed" --no-progress --name "random-seed-$seed" --db "$db" >/dev/null
  done
  awk -v s="$start" -v e="$(date +%s.%N)" -v n="$runs" 'BEGIN { printf "created %d runs over all tasks in %.1f s\n", n, e - s }'
fi
rm -rf "$out/site"
start=$(date +%s.%N)
"$keval" report --db "$db" --out "$out/site"
end=$(date +%s.%N)
index_kb=$(( $(stat -c %s "$out/site/index.html") / 1024 ))
site_mb=$(du -sm "$out/site" | cut -f1)
largest=$(ls -S "$out/site/tasks" | head -n 1)
largest_mb=$(awk -v b="$(stat -c %s "$out/site/tasks/$largest")" 'BEGIN { printf "%.1f", b / 1048576 }')
awk -v s="$start" -v e="$end" -v n="$runs" -v idx="$index_kb" -v mb="$site_mb" -v big="$largest" -v bigmb="$largest_mb" 'BEGIN {
  printf "keval report: %d runs x all tasks in %.2f s; index.html %d KB; site %d MB (largest task page %s, %s MB)\n", n, e - s, idx, mb, big, bigmb
}'
