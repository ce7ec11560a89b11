#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite (ctest).
set -euo pipefail
cd "$(dirname "$0")/.."
./deploy/setup.sh
cd build
ctest --output-on-failure --timeout 600 -j"${CAIRN_TEST_JOBS:-2}" "$@"
