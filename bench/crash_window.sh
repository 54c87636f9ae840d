#!/usr/bin/env bash
# What a kill -9 costs, and what committing often costs, against build/keval-mock-server on 127.0.0.1:
#  1. throughput: 20,000 generated multiple-choice samples, concurrency 16, fresh database
#     (bench/http_throughput.sh step 2), three times each;
#  2. the crash window: a 6,000-sample run (20 ms of server latency, concurrency 32) killed (-9)
#     0.5 to 2.5 s after its first request, then resumed; the prompts the server answered and was
#     asked again are the answers the kill lost (a reply still in the socket when the kill landed
#     counts too), shown with the time the run took to receive that many.
# With a second keval binary (e.g. one built from an earlier commit) both are measured for it too,
# side by side. Not a test: prints its figures.
# Usage: bench/crash_window.sh [build-dir] [other-keval]
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}"
other="${2:-}"
mock="$build/keval-mock-server"
for tool in curl python3 bc; do command -v "$tool" >/dev/null || { echo "bench/crash_window.sh needs $tool" >&2; exit 2; }; done
[ -x "$build/keval" ] && [ -x "$mock" ] || { echo "build first: cmake --build $build --target keval keval-mock-server" >&2; exit 2; }

work="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

start_mock() {  # sets $port; a fresh server, so its counters cover one measurement
  local port_file
  port_file="$(mktemp -p "$work" port.XXXXXX)"
  "$mock" --port 0 "$@" >"$port_file" &
  pids+=($!)
  for _ in $(seq 50); do [ -s "$port_file" ] && break; sleep 0.1; done
  port="$(head -1 "$port_file")"
}

make_task() {  # n
  rm -rf "$work/tasks" "$work/datasets"
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

keval_args() {  # db [concurrency]
  echo --tasks-dir "$work/tasks" --datasets-dir "$work/datasets" run --tasks bench_mc --mc-mode generate \
    --backend openai-chat --model mock --base-url "http://127.0.0.1:$port/v1" --concurrency "${2:-16}" --no-progress \
    --db "$1"
}

throughput() {  # keval ; prints samples/s end to end
  local t0 t1 db
  db="$work/t$RANDOM.db"
  t0=$(date +%s.%N)
  # shellcheck disable=SC2046
  "$1" $(keval_args "$db") >/dev/null
  t1=$(date +%s.%N)
  rm -f "$db"*
  printf '%.0f' "$(echo "20000 / ($t1 - $t0)" | bc -l)"
}

# Prompts the server answered well and was then asked again (every sample's prompt differs).
asked_twice() {
  curl -s "http://127.0.0.1:$port/stats" | python3 -c 'import json, sys
print(len(json.load(sys.stdin)["repeated_after_success"]))'
}

kill_and_resume() {  # keval seconds ; prints "re-asked/ms" for one kill
  local db="$work/k$RANDOM.db" pid id rate again
  start_mock --latency-ms 20
  # shellcheck disable=SC2046
  "$1" $(keval_args "$db" 32) >/dev/null 2>&1 &
  pid=$!
  # From the first request on: loading the task is not the window being measured.
  for _ in $(seq 600); do
    [ "$(curl -s "http://127.0.0.1:$port/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])')" != 0 ] && break
    sleep 0.05
  done
  sleep "$2"
  kill -9 "$pid"; wait "$pid" 2>/dev/null || true
  # Answers a second while it ran: the server's count over the time between its first and last request.
  rate=$(curl -s "http://127.0.0.1:$port/stats" | python3 -c 'import json, sys
s = json.load(sys.stdin)
print("%.1f" % (s["total"] / max(1e-9, s["last_request_s"] - s["first_request_s"])))')
  id=$("$1" runs --json --db "$db" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
  "$1" --tasks-dir "$work/tasks" --datasets-dir "$work/datasets" run --resume "$id" --no-progress --db "$db" >/dev/null
  again=$(asked_twice)
  printf '%s/%.0fms' "$again" "$(echo "$again / $rate * 1000" | bc -l)"
  rm -f "$db"*
}

binaries=("$build/keval")
[ -n "$other" ] && binaries+=("$other")

echo "== 1. throughput: 20,000 samples, concurrency 16 (samples/s end to end, three runs)"
make_task 20000
start_mock
for k in "${binaries[@]}"; do
  printf '%-40s %s %s %s\n' "$k" "$(throughput "$k")" "$(throughput "$k")" "$(throughput "$k")"
done

echo "== 2. kill -9 during a 6,000-sample run (20 ms server latency, concurrency 32), then --resume:"
echo "   answered requests asked again / the time it took to answer them, for kills 0.5 to 2.5 s in"
make_task 6000
for k in "${binaries[@]}"; do
  line=""
  for delay in 0.5 0.9 1.3 1.7 2.1 2.5; do line+=" $(kill_and_resume "$k" "$delay")"; done
  printf '%-40s%s\n' "$k" "$line"
done
