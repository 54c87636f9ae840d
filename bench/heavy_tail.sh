#!/usr/bin/env bash
# Keeping every slot busy when answers take very different times. The mock server answers a share
# of requests (--slow-share, default 5%) in --slow-ms (default 1,000 ms) and the rest in
# --latency-ms (default 50 ms), as a real server answers short and long generations. A run that
# waits at a barrier (the end of a task, of a chunk, of a turn) leaves its slots idle behind the
# slowest request; one continuous stream does not. For
#   1. many small tasks: kmmlu --limit 50 (45 subjects x 50 questions), and
#   2. one large task: 10,000 generated questions,
# at concurrency 64 and 256, it prints keval's wall time (loading and scoring included) against
# the ideal: requests / (concurrency / mean latency) + one slow request, as a percentage
# (goal >= 90%).
# Not a test: prints its figures. Usage: bench/heavy_tail.sh [build-dir]
# Environment: SLOW_SHARE (0.05), SLOW_MS (1000), LATENCY_MS (50), LARGE (10000), CONCURRENCY ("64 256").
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}"
keval="$build/keval"
mock="$build/keval-mock-server"
slow_share="${SLOW_SHARE:-0.05}"
slow_ms="${SLOW_MS:-1000}"
latency_ms="${LATENCY_MS:-50}"
large="${LARGE:-10000}"
concurrencies="${CONCURRENCY:-64 256}"
for tool in curl python3 bc; do command -v "$tool" >/dev/null || { echo "bench/heavy_tail.sh needs $tool" >&2; exit 2; }; done
[ -x "$keval" ] && [ -x "$mock" ] || { echo "build first: cmake --build $build -j2 --target keval keval-mock-server" >&2; exit 2; }

work="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

start_mock() {  # sets $port; a fresh server each time, so its counters cover one run
  local port_file
  port_file="$(mktemp -p "$work" port.XXXXXX)"
  "$mock" --port 0 --threads 300 --latency-ms "$latency_ms" --slow-share "$slow_share" --slow-ms "$slow_ms" \
    >"$port_file" 2>"$work/mock.err" &
  pids+=($!)
  for _ in $(seq 50); do [ -s "$port_file" ] && break; sleep 0.1; done
  port="$(head -1 "$port_file" 2>/dev/null || true)"
  if [ -z "$port" ]; then
    echo "the mock server did not start: $(cat "$work/mock.err")" >&2
    echo "(it needs --slow-share and --slow-ms: a mock server with heavy-tailed latency)" >&2
    exit 2
  fi
}

make_large_task() {  # n
  mkdir -p "$work/tasks/bench" "$work/datasets/bench"
  cat >"$work/tasks/bench/bench_mc.yaml" <<'YAML'
task: bench_mc
suite: bench
version: 1
licence: "generated"
dataset:
  file: bench/mc.jsonl
  format: jsonl
output_type: multiple_choice
prompt: "질문 {{q}}\n답:"
generation_prompt: "질문 {{q}}\n{{options}}\n답:"
choices_field: choices
choice_labels: [A, B, C, D]
target:
  field: gold
  kind: index
scorer: multiple_choice
metrics: [acc]
YAML
  awk -v n="$1" 'BEGIN { for (i = 0; i < n; i++) printf "{\"q\": \"%d번 문제의 답은 무엇인가?\", \"choices\": [\"사과 %d\", \"배 %d\", \"감 %d\", \"귤 %d\"], \"gold\": %d}\n", i, i, i, i, i, i % 4 }' \
    >"$work/datasets/bench/mc.jsonl"
}
make_large_task "$large"

# The mean latency the server was asked for: a share of requests slow, the rest fast.
mean_s=$(echo "((1 - $slow_share) * $latency_ms + $slow_share * $slow_ms) / 1000" | bc -l)

measure() {  # label concurrency keval-args...
  local label="$1" concurrency="$2" t0 t1 secs requests ideal
  shift 2
  start_mock
  t0=$(date +%s.%N)
  "$keval" "$@" --mc-mode generate --backend openai-chat --model mock --base-url "http://127.0.0.1:$port/v1" \
    --concurrency "$concurrency" --no-progress --db "$work/$label-$concurrency.db" >/dev/null
  t1=$(date +%s.%N)
  secs=$(echo "$t1 - $t0" | bc -l)
  requests=$(curl -s "http://127.0.0.1:$port/stats" | python3 -c 'import json, sys; print(json.load(sys.stdin)["total"])')
  ideal=$(echo "$requests / ($concurrency / $mean_s) + $slow_ms / 1000" | bc -l)
  printf '%-34s concurrency %3d: %6d requests in %6.2f s; ideal %6.2f s = %3.0f%% of the ideal (goal >= 90%%)\n' \
    "$label" "$concurrency" "$requests" "$secs" "$ideal" "$(echo "$ideal / $secs * 100" | bc -l)"
}

printf 'server: %s%% of requests take %s ms, the rest %s ms (mean %.1f ms)\n' \
  "$(echo "$slow_share * 100" | bc -l | sed 's/0*$//; s/\.$//')" "$slow_ms" "$latency_ms" "$(echo "$mean_s * 1000" | bc -l)"
for c in $concurrencies; do
  measure "many small tasks (kmmlu --limit 50)" "$c" run --tasks kmmlu --limit 50
  measure "one large task ($large samples)" "$c" --tasks-dir "$work/tasks" --datasets-dir "$work/datasets" run --tasks bench_mc
done
