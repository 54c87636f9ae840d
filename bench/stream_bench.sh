#!/usr/bin/env bash
# A request stream against a server whose latency is heavy-tailed: build/keval-mock-server on
# 127.0.0.1 where 5% of requests take 1 s and the rest 50 ms. keval-stream-bench sends 2,250
# distinct requests (kmmlu --limit 50: 45 subjects x 50) through the OpenAI backend's stream at
# concurrency 64 and 256 and prints the wall time against the ideal (the requests' latencies
# spread over the slots) plus the slowest request; then the same in batches of 4 x concurrency
# through answer(), each batch waiting for its slowest request.
# Not a test: prints its figures. Usage: bench/stream_bench.sh [build-dir]
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}"
bench="$build/bench/keval-stream-bench"
mock="$build/keval-mock-server"
[ -x "$bench" ] && [ -x "$mock" ] || { echo "build first: cmake --build $build --target keval-stream-bench keval-mock-server" >&2; exit 2; }

work="$(mktemp -d)"
mock_pid=""
cleanup() { [ -n "$mock_pid" ] && kill "$mock_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

"$mock" --port 0 --latency-ms 50 --slow-share 0.05 --slow-ms 1000 --threads 300 >"$work/port" &
mock_pid=$!
for _ in $(seq 50); do [ -s "$work/port" ] && break; sleep 0.1; done
url="http://127.0.0.1:$(head -1 "$work/port")/v1"

for c in 64 256; do
  "$bench" --base-url "$url" --requests 2250 --concurrency "$c" --batch $((4 * c))
done
