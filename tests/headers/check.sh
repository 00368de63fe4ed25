#!/bin/sh
# Compiles tests/headers/all.c against the public headers as C99 and C11
# with -pedantic-errors, and as C++ when a C++ compiler is there.
#
# With a third argument, the list of nng names (tests/nng_names/nng-1.12.txt)
# instead: tests/nng_names/gen.py makes a C file of it that holds the headers
# to nng's names and shapes, compiled the same three ways; when it does not
# compile, each entry is compiled alone to name every one that fails.
# usage: check.sh CC INCLUDE_DIR [NNG_NAMES_LIST]
set -eu
cc=${1:?usage: check.sh CC INCLUDE_DIR [NNG_NAMES_LIST]}
inc=${2:?usage: check.sh CC INCLUDE_DIR [NNG_NAMES_LIST]}
list=${3:-}
here=$(cd "$(dirname "$0")" && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

src=$here/all.c
if [ -n "$list" ]; then
	src=$out/nng_names.c
	entries=$(python3 "$here/../nng_names/gen.py" "$list" "$src")
	echo "check.sh: $entries entries in $(basename "$list")"
fi

status=0
for std in c99 c11; do
	if "$cc" -std=$std -pedantic-errors -Wall -Wextra -Werror -I "$inc" \
	    -c "$src" -o "$out/all-$std.o" >"$out/$std.log" 2>&1; then
		echo "check.sh: $std ok"
	else
		echo "check.sh: $std FAILED"
		status=1
	fi
done
if command -v c++ >/dev/null 2>&1; then
	if c++ -x c++ -std=c++11 -pedantic-errors -Wall -Wextra -Werror -I "$inc" \
	    -c "$src" -o "$out/all-cxx.o" >"$out/cxx.log" 2>&1; then
		echo "check.sh: c++11 ok"
	else
		echo "check.sh: c++11 FAILED"
		status=1
	fi
else
	echo "check.sh: no C++ compiler here; C++ not checked"
fi
[ $status -eq 0 ] && exit 0

if [ -z "$list" ]; then
	cat "$out"/*.log >&2
	exit 1
fi
# Which entries: each alone in C11; then the whole file again in each
# language without those, and each alone in a language that still fails,
# so that one failure neither hides nor causes another.
names_of() { # LANG FLAGS...: compile the generated file, quietly
	lang=$1
	shift
	case $lang in
	c++11) set -- c++ -x c++ -std=c++11 "$@" ;;
	*) set -- "$cc" -std="$lang" "$@" ;;
	esac
	"$@" -pedantic-errors -Wall -Wextra -Werror -I "$inc" -fsyntax-only \
	    "$src" >"$out/entry.log" 2>&1
}
report() { # N LANG
	line=$(sed -n "s/^#line \([0-9]*\) .*/\1/p" "$src" | sed -n "${1}p")
	echo "check.sh: FAILED ($2): $(sed -n "${line}p" "$list")"
	grep -m 1 'error' "$out/entry.log" | sed 's/^/    /'
	skip="$skip -DNGHTTPW_NAMES_SKIP_$1"
}
skip=""
failed=0
for lang in c11 c99 c++11; do
	if [ $lang = c++11 ] && ! command -v c++ >/dev/null 2>&1; then
		continue
	fi
	# shellcheck disable=SC2086
	if [ "$lang" != c11 ] && names_of "$lang" $skip; then
		continue
	fi
	n=1
	while [ "$n" -le "$entries" ]; do
		case " $skip " in
		*" -DNGHTTPW_NAMES_SKIP_$n "*) ;;
		*)
			if ! names_of "$lang" -DNGHTTPW_NAMES_ONLY=$n; then
				report $n "$lang"
				failed=$((failed + 1))
			fi
			;;
		esac
		n=$((n + 1))
	done
done
echo "check.sh: $failed of $entries entries fail"
exit 1
