#!/usr/bin/env bash
# Installs what is missing, builds nghttpw without its tests in build/serve
# and runs the HTTP server tool, nghttpw-serve (tools/nghttpw-serve.c):
# by default it serves the current directory on http://127.0.0.1:8080/
# until Ctrl-C.
#
# usage: bash tools/run-serve.sh [DIR] [nghttpw-serve options]
#   e.g. bash tools/run-serve.sh
#        bash tools/run-serve.sh public --listen http://127.0.0.1:8000
#        bash tools/run-serve.sh --cert cert.pem --key key.pem
# Paths are taken from the current directory, wherever the script is.
# Options: build/serve/tools/nghttpw-serve --help, or
# man -l build/serve/man/man1/nghttpw-serve.1.
# Environment: JOBS (parallel build jobs; default 2).
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
me="run-serve"

bash "$top/tools/install-deps.sh"

echo "$me: building in $top/build/serve"
cmake -S "$top" -B "$top/build/serve" -DNGHTTPW_TESTS=OFF -DNGHTTPW_TOOLS=ON
cmake --build "$top/build/serve" -j "${JOBS:-2}"

# Not from the top of the tree: DIR, --cert and --key are the caller's.
echo "$me: running $top/build/serve/tools/nghttpw-serve $* (Ctrl-C stops it)"
exec "$top/build/serve/tools/nghttpw-serve" "$@"
