#!/usr/bin/env bash
# How fast keval drives an OpenAI-compatible server, against build/keval-mock-server on 127.0.0.1:
#  1. the server's own ceiling: wrk, 16 connections, POST /v1/chat/completions;
#  2. keval end to end (20,000 generated multiple-choice samples, generation mode, concurrency 16,
#     fresh database) as a share of that ceiling (goal >= 0.25);
#  3. keval's peak memory over a 100,000-sample run (goal < 100 MB);
#  4. with 50 ms of server latency at concurrency 64, keval's rate against the ideal 64/0.05 = 1280
#     requests/s (goal >= 90%).
# Not a test: prints its figures. Usage: bench/http_throughput.sh [build-dir]
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}"
keval="$build/keval"
mock="$build/keval-mock-server"
for tool in curl python3 bc; do command -v "$tool" >/dev/null || { echo "bench/http_throughput.sh needs $tool" >&2; exit 2; }; done
[ -x "$keval" ] && [ -x "$mock" ] || { echo "build first: cmake -S . -B $build && cmake --build $build -j2" >&2; exit 2; }
if ! command -v wrk >/dev/null; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq wrk >/dev/null
fi

work="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

start_mock() {  # flags... ; sets $port
  local port_file
  port_file="$(mktemp -p "$work" port.XXXXXX)"  # a file per server: an old one's port is never read
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

# Requests per second while keval was sending: the mock's request count over the time between
# its first and last request (task loading excluded; single-turn tasks are built and scored a
# chunk at a time between requests, so that part is included).
sending_rate() {
  curl -s "http://127.0.0.1:$port/stats" | python3 -c 'import json, sys
s = json.load(sys.stdin)
print("%.0f" % (s["total"] / max(1e-9, s["last_request_s"] - s["first_request_s"])))'
}

run_keval() {  # db concurrency ; prints elapsed seconds
  local t0 t1
  t0=$(date +%s.%N)
  "$keval" --tasks-dir "$work/tasks" --datasets-dir "$work/datasets" run --tasks bench_mc --mc-mode generate \
    --backend openai-chat --model mock --base-url "http://127.0.0.1:$port/v1" --concurrency "$2" --no-progress \
    --db "$1" >/dev/null
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc -l
}

echo "== 1. server ceiling (wrk, 16 connections, 5 s)"
start_mock
cat >"$work/post.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"model": "mock", "messages": [{"role": "user", "content": "질문 1번 문제의 답은 무엇인가?\\nA. 사과\\nB. 배\\nC. 감\\nD. 귤\\n답:"}], "max_tokens": 256, "temperature": 0}'
LUA
wrk_rate=$(wrk -t2 -c16 -d5s -s "$work/post.lua" "http://127.0.0.1:$port/v1/chat/completions" | awk '/Requests\/sec/ {print $2}')
echo "wrk: $wrk_rate requests/s"

echo "== 2. keval end to end: 20,000 samples, concurrency 16"
make_task 20000
start_mock  # a fresh server, so its counters cover keval's requests only
secs=$(run_keval "$work/a.db" 16)
keval_rate=$(echo "20000 / $secs" | bc -l)
send_rate=$(sending_rate)
printf 'keval: %.0f samples/s end to end (%.2f s, loading and scoring included); ratio to wrk %.2f (goal >= 0.25)\n' \
  "$keval_rate" "$secs" "$(echo "$keval_rate / $wrk_rate" | bc -l)"
printf 'keval: %s requests/s while sending; ratio to wrk %.2f\n' "$send_rate" "$(echo "$send_rate / $wrk_rate" | bc -l)"

echo "== 3. peak memory: 100,000 samples"
make_task 100000
/usr/bin/time -f '%M' -o "$work/rss" "$keval" --tasks-dir "$work/tasks" --datasets-dir "$work/datasets" run --tasks bench_mc \
  --mc-mode generate --backend openai-chat --model mock --base-url "http://127.0.0.1:$port/v1" --concurrency 16 --no-progress \
  --db "$work/b.db" >/dev/null
printf 'peak RSS: %.1f MB (goal < 100 MB)\n' "$(echo "$(tail -1 "$work/rss") / 1024" | bc -l)"

echo "== 4. 50 ms latency, concurrency 64: 20,000 samples"
start_mock --latency-ms 50
make_task 20000
secs=$(run_keval "$work/c.db" 64)
rate=$(echo "20000 / $secs" | bc -l)
send_rate=$(sending_rate)
printf 'keval: %.0f requests/s end to end (%.2f s) = %.0f%% of 64/0.05 = 1280 (goal >= 90%%)\n' "$rate" "$secs" "$(echo "$rate / 1280 * 100" | bc -l)"
printf 'keval: %s requests/s while sending = %.0f%% of 1280\n' "$send_rate" "$(echo "$send_rate / 1280 * 100" | bc -l)"
