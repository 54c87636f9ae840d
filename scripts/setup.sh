#!/usr/bin/env bash
# Installs the Debian packages keval needs, from Debian 12's own archive, without recommended
# packages. This is the one place where anything is installed:
#   scripts/setup.sh          what building keval and scripts/demo.sh need
#   scripts/setup.sh --test   that, plus what the tests need (scripts/test.sh calls this)
# Idempotent: prints nothing and touches nothing when everything is already installed.
set -euo pipefail

build_packages=(
  g++ cmake make pkg-config        # toolchain
  libcurl4-openssl-dev             # HTTP backends (libcurl multi interface)
  nlohmann-json3-dev               # JSON
  libsqlite3-dev                   # the results database
  libcli11-dev                     # command line
  libfmt-dev                       # formatting
  libyaml-cpp-dev                  # task files (keeps line numbers and duplicate keys for errors)
  libutf8proc-dev                  # Unicode NFC and case mapping for Korean text
  # Needed to configure build/, which the demo configures exactly as the tests do (so that the
  # tests reuse its objects); both are small.
  libgtest-dev                     # tests
  libcpp-httplib-dev               # the tests' OpenAI-compatible mock server (tests/mock_server)
)

test_packages=(
  python3                          # the exec backend's toy model (tests/exec_model.py)
  chromium                         # the browser test (tests/browser): headless Chromium renders the leaderboard
  fonts-noto-cjk                   # Korean glyphs in the browser test's screenshot
  # libFuzzer for the fuzz targets: `clang++ -fsanitize=fuzzer` links with these two on Debian 12
  # (clang does not pull in the runtime libraries, libclang-rt-14-dev).
  clang libclang-rt-14-dev
  zlib1g-dev                       # the browser test decodes its PNG screenshots (Hangul drawn as glyphs, not boxes)
  # A real one-node Slurm cluster on 127.0.0.1 for the sharded-run test (tests/cluster/slurm_test.sh).
  slurmctld slurmd slurm-client munge
)

usage() { echo "usage: scripts/setup.sh [--test]" >&2; exit 2; }
packages=("${build_packages[@]}")
case "${1-}" in
  "") ;;
  --test) packages+=("${test_packages[@]}") ;;
  *) usage ;;
esac
[ $# -le 1 ] || usage

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "keval setup: missing packages: ${missing[*]}; run this as root, or install sudo" >&2; exit 1; }
  sudo=(sudo)
fi
log=$(mktemp -t keval-setup.XXXXXX)
trap 'rm -f "$log"' EXIT

# apt-get's output condensed to one progress line (rewritten in place on a terminal, a line per
# tenth in a log; a line per file for the package lists): a fresh machine spends minutes here, and silence looks like a hang. The full
# output goes to $log and is shown only when apt-get fails.
progress() {
  local what=$1 upgraded=0 total=0 fetched=0 unpacked=0 set_up=0 shown=-1 line percent message last=""
  while IFS= read -r line; do
    case "$line" in
      *" upgraded, "*" newly installed, "*)  # "2 upgraded, 76 newly installed, 0 to remove and 9 not upgraded."
        upgraded=${line%% upgraded*}; total=${line#*upgraded, }; total=$(( ${total%% newly*} + upgraded )) ;;
      Get:*|Hit:*) fetched=$((fetched + 1)) ;;  # Hit: a package list that is up to date
      "Unpacking "*) unpacked=$((unpacked + 1)) ;;
      "Setting up "*) set_up=$((set_up + 1)) ;;
      *) continue ;;
    esac
    if [ "$total" -gt 0 ]; then
      # Downloading, unpacking and setting up count for a third each (a retried download or a
      # package set up twice by a trigger counts once).
      [ "$fetched" -le "$total" ] || fetched=$total
      [ "$unpacked" -le "$total" ] || unpacked=$total
      [ "$set_up" -le "$total" ] || set_up=$total
      percent=$(( (fetched + unpacked + set_up) * 100 / (3 * total) ))
      [ "$percent" -le 100 ] || percent=100
      message=$(printf '%s: %3d%% (of %d packages: %d downloaded, %d unpacked, %d set up)' \
        "$what" "$percent" "$total" "$fetched" "$unpacked" "$set_up")
    else
      percent=0
      message="$what: $fetched package lists read"
    fi
    [ "$message" != "$last" ] || continue
    last=$message
    if [ -t 2 ]; then
      printf '\r\033[K  %s' "$message" >&2
    elif [ "$total" -eq 0 ] || [ $((percent / 10)) -gt "$shown" ]; then
      shown=$((percent / 10))
      printf '  %s\n' "$message" >&2
    fi
  done
  if [ -t 2 ]; then printf '\n' >&2; fi
}

# apt-get ARGS..., its output condensed by `progress`. Returns apt-get's status; the end of its
# output is in $log.
run_apt() {
  local status
  set +e
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "$@" </dev/null 2>&1 | tee "$log" | progress "$1"
  status=${PIPESTATUS[0]}
  set -e
  return "$status"
}

fail() {
  echo "keval setup: apt-get $1 failed:" >&2
  tail -n 30 "$log" >&2
  exit 1
}

update() {
  echo "  updating the package lists" >&2
  run_apt update || fail update
}

echo "keval setup: installing ${missing[*]} (with what they depend on)" >&2
# Package lists younger than an hour are fresh enough (the demo then the tests update once); if
# installing from them fails, they are updated and the install tried again.
updated=false
if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages*' -mmin -60 2>/dev/null | head -n 1)" ]; then
  update
  updated=true
fi
if ! run_apt install -y --no-install-recommends "${missing[@]}"; then
  $updated && fail install
  update
  run_apt install -y --no-install-recommends "${missing[@]}" || fail install
fi
echo "keval setup: done" >&2
