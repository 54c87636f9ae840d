#!/usr/bin/env bash
# Installs the Debian packages keval needs to build and test. Idempotent: quiet, and touches
# nothing, when everything is already installed.
set -euo pipefail

packages=(
  g++ cmake make pkg-config        # toolchain
  libcurl4-openssl-dev             # HTTP backends (libcurl multi interface)
  nlohmann-json3-dev               # JSON
  libsqlite3-dev                   # the results database
  libcli11-dev                     # command line
  libfmt-dev                       # formatting
  libyaml-cpp-dev                  # task files (keeps line numbers and duplicate keys for errors)
  libutf8proc-dev                  # Unicode NFC and case mapping for Korean text
  libgtest-dev                     # tests
  libcpp-httplib-dev               # the tests' OpenAI-compatible mock server (tests/mock_server)
  python3                          # the exec backend's toy model in tests (tests/exec_model.py)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "keval setup: installing ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
