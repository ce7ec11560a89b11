#!/usr/bin/env bash
# Installs every Debian package Cairn needs (idempotent; quiet when everything is present),
# then configures and builds into ./build.  Usage: deploy/setup.sh [--no-build]
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential cmake pkg-config ccache git
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libleveldb-dev libsnappy-dev
  libfuse3-dev fuse3
  libgtest-dev libgmock-dev libbenchmark-dev
  libisal-dev libcli11-dev libgoogle-glog-dev libgoogle-perftools-dev
  fio bindfs sqlite3 rsync procps psmisc bc
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

[ "${1:-}" = "--no-build" ] && exit 0

BUILD_TYPE="${CAIRN_BUILD_TYPE:-Release}"
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
if [ ! -f build/CMakeCache.txt ]; then
  cmake -S . -B build -DCMAKE_BUILD_TYPE="$BUILD_TYPE" "${launcher[@]}" >/dev/null
fi
cmake --build build -j"${CAIRN_JOBS:-2}" -- --no-print-directory >build/build.log 2>&1 || {
  grep -E 'error|Error' -A5 build/build.log | head -60 >&2
  echo "setup: build failed (full log: build/build.log)" >&2
  exit 1
}
echo "setup: build ok (build/bin)" >&2
