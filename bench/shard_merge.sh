#!/usr/bin/env bash
# Sharding at scale: every task on the random backend, once on one machine and once as 64 shards
# (run one after another here; on a cluster they run side by side), then `keval merge`.
# Prints the merge's time and peak memory and the databases' sizes, and checks that the merged
# results equal the one-machine run's. Not a test: prints its figures.
# Usage: bench/shard_merge.sh [build-dir] [shards]
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}"
shards="${2:-64}"
keval="$build/keval"
[ -x "$keval" ] || { echo "build first: cmake -S . -B $build && cmake --build $build -j2 --target keval" >&2; exit 2; }
command -v /usr/bin/time >/dev/null || { echo "bench/shard_merge.sh needs /usr/bin/time (Debian package time)" >&2; exit 2; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

measure() {  # label command... ; prints seconds and peak memory
  /usr/bin/time -f "%e %M" -o "$work/time" "$@" >/dev/null 2>&1
  read -r seconds kb <"$work/time"
  printf '%-34s %8.2f s  peak %6.0f MB\n' "$1 $2" "$seconds" "$(echo "$kb / 1024" | bc -l)"
}

echo "one machine:"
measure "$keval" run --tasks all --backend random --seed 1 --name one --no-progress --db "$work/one.db"
t0=$(date +%s.%N)
for i in $(seq 0 $((shards - 1))); do
  "$keval" run --tasks all --backend random --seed 1 --name "campaign-shard$i" --shard "$i/$shards" --no-progress \
    --db "$work/shard-$i.db" >/dev/null 2>&1
done
t1=$(date +%s.%N)
printf '%d shards, one after another:       %8.2f s (%.2f s a shard)\n' "$shards" "$(echo "$t1 - $t0" | bc -l)" \
  "$(echo "($t1 - $t0) / $shards" | bc -l)"
echo "merge:"
measure "$keval" merge --db "$work/merged.db" "$work"/shard-*.db
measure "$keval" merge --db "$work/merged.db" "$work"/shard-*.db   # again: every shard unchanged
size() { du -k "$1" | cut -f1; }
shard_kb=0
for f in "$work"/shard-*.db; do shard_kb=$((shard_kb + $(size "$f"))); done
printf 'database sizes: one machine %d MB, merged %d MB, %d shards together %d MB\n' \
  $(($(size "$work/one.db") / 1024)) $(($(size "$work/merged.db") / 1024)) "$shards" $((shard_kb / 1024))
"$keval" results --db "$work/one.db" --run one --json >"$work/a.json"
"$keval" results --db "$work/merged.db" --run campaign --json >"$work/b.json"
python3 -c 'import json, sys
a, b = (json.load(open(p))["tasks"] for p in sys.argv[1:])
print("merged results equal the one-machine run:", a == b, "(%d task results)" % len(a))
sys.exit(0 if a == b else 1)' "$work/a.json" "$work/b.json"
