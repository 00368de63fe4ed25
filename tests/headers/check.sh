#!/bin/sh
# Compiles tests/headers/all.c against the public headers as C99 and C11
# with -pedantic-errors, and as C++ when a C++ compiler is there.
# usage: check.sh CC INCLUDE_DIR
set -eu
cc=${1:?usage: check.sh CC INCLUDE_DIR}
inc=${2:?usage: check.sh CC INCLUDE_DIR}
src=$(cd "$(dirname "$0")" && pwd)/all.c
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for std in c99 c11; do
	"$cc" -std=$std -pedantic-errors -Wall -Wextra -Werror -I "$inc" \
	    -c "$src" -o "$out/all-$std.o"
	echo "check.sh: $std ok"
done
if command -v c++ >/dev/null 2>&1; then
	c++ -x c++ -std=c++11 -pedantic-errors -Wall -Wextra -Werror -I "$inc" \
	    -c "$src" -o "$out/all-cxx.o"
	echo "check.sh: c++11 ok"
else
	echo "check.sh: no C++ compiler here; C++ not checked"
fi
