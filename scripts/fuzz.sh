#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/) with clang, ASan and UBSan in build-fuzz/ and runs
# each for a short fixed time from its seed corpus (tests/fuzz/corpus/<target>/) and its kept
# crash inputs (tests/fuzz/regressions/<target>/, replayed first). Fails on any finding; the
# input that found it is left in build-fuzz/findings/. docs/testing.md says how to run longer.
#   FUZZ_SECONDS=7 (per target)   FUZZ_TARGETS="task_file gate_file …" (default: all)
set -euo pipefail
cd "$(dirname "$0")/.."

# clang and its runtime (libFuzzer, sanitizers): installed here only when missing, as setup.sh does.
packages=(clang libclang-rt-14-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "keval fuzz: installing ${missing[*]}" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

seconds="${FUZZ_SECONDS:-7}"
targets=(${FUZZ_TARGETS:-task_file gate_file replay_file exec_reply openai_reply extract_choice numeric_answer judge_verdict})
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ -DKEVAL_FUZZ=ON \
  -DKEVAL_TESTS=OFF -DKEVAL_BENCH=OFF "${launcher[@]}" >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target "${targets[@]/#/fuzz_}"

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}" UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}"
mkdir -p build-fuzz/findings
failed=()
for t in "${targets[@]}"; do
  work="build-fuzz/corpus/$t"  # new inputs go here, never into the repository
  mkdir -p "$work"
  regressions=()
  if [ -d "tests/fuzz/regressions/$t" ] && [ -n "$(ls -A "tests/fuzz/regressions/$t")" ]; then
    regressions=("tests/fuzz/regressions/$t")
    # Kept crash inputs, each once: they must all pass before any new fuzzing.
    if ! "build-fuzz/fuzz_$t" -runs=0 "tests/fuzz/regressions/$t" </dev/null >"build-fuzz/findings/$t.regressions.log" 2>&1; then
      echo "fuzz $t: a kept regression input fails again (build-fuzz/findings/$t.regressions.log)" >&2
      failed+=("$t")
      continue
    fi
  fi
  echo "fuzz $t: ${seconds}s"
  if ! "build-fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=0 \
      -artifact_prefix="build-fuzz/findings/$t-" "$work" "tests/fuzz/corpus/$t" "${regressions[@]}" \
      </dev/null >"build-fuzz/findings/$t.log" 2>&1; then
    echo "fuzz $t: FINDING, see build-fuzz/findings/$t.log and build-fuzz/findings/$t-*" >&2
    tail -n 40 "build-fuzz/findings/$t.log" >&2
    failed+=("$t")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: findings in ${failed[*]}; keep each input under tests/fuzz/regressions/<target>/ once fixed" >&2
  exit 1
fi
echo "fuzz: ${#targets[@]} targets, ${seconds}s each, no finding"
