#!/usr/bin/env bash
# Benchmark: `keval report` on a database of 20 random runs over every task (about 60k samples
# each). Prints the time to write the site, the size of index.html, of all the HTML pages, of the
# sample data files, and the largest page and data file.
# Targets: under 5 s; pages that stay small however many samples there are (the samples are in
# data/<task>/*.js files of 50 samples each, read as the sample browser shows them).
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
html_bytes=$(find "$out/site" -name '*.html' -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
data_bytes=$(find "$out/site/data" -name '*.js' -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
data_files=$(find "$out/site/data" -name '*.js' | wc -l)
largest_page=$(find "$out/site" -name '*.html' -printf '%s %P\n' | sort -n | tail -n 1)
largest_data=$(find "$out/site/data" -name '*.js' -printf '%s %P\n' | sort -n | tail -n 1)
awk -v s="$start" -v e="$end" -v n="$runs" -v idx="$index_kb" -v html="$html_bytes" -v data="$data_bytes" -v files="$data_files" \
    -v page="$largest_page" -v chunk="$largest_data" 'BEGIN {
  split(page, p, " "); split(chunk, c, " ")
  printf "keval report: %d runs x all tasks in %.2f s; index.html %d KB; HTML pages %.2f MB in all (largest %s, %d KB); " \
         "sample data %.1f MB in %d files (largest %s, %d KB)\n", n, e - s, idx, html / 1048576, p[2], p[1] / 1024,
         data / 1048576, files, c[2], c[1] / 1024
}'
