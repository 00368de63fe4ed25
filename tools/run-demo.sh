#!/usr/bin/env bash
# Installs what is missing, builds nghttpw without its tests in build/demo
# and runs the loopback echo demo (tools/nghttpw-demo.c).
#
# usage: bash tools/run-demo.sh [demo arguments, e.g. --size 1000000]
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
me="run-demo"

bash tools/install-deps.sh

echo "$me: building in build/demo"
cmake -S . -B build/demo -DNGHTTPW_TESTS=OFF -DNGHTTPW_TOOLS=ON
cmake --build build/demo -j "${JOBS:-2}"

echo "$me: running build/demo/tools/nghttpw-demo $*"
exec build/demo/tools/nghttpw-demo "$@"
