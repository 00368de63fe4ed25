#!/usr/bin/env bash
# Installs a built nghttpw tree into a temporary prefix, then builds the
# program in this directory against it in four ways and runs each:
#   find_package(nghttpw) -> nghttpw::nghttpw (shared), nghttpw::nghttpw_static
#   pkg-config nghttpw    -> shared, and static (--static, libnghttpw.a)
# It also checks what got installed (the HTML reference with
# tests/install/check_html.py) and what the shared library exports.
#
# usage: tests/install/run.sh BUILD_DIR
# Environment: CC (the compiler; default cc), NGHTTPW_CONSUMER_CFLAGS (extra
# compile and link flags, e.g. the sanitizer flags of a sanitizer build),
# KEEP=1 keeps the temporary directory.
set -euo pipefail

me="install_consumer"
die() {
	echo "$me: FAILED: $*" >&2
	exit 1
}

[ $# -eq 1 ] || die "usage: $0 BUILD_DIR"
[ -f "$1/CMakeCache.txt" ] || die "$1 is not a configured CMake build directory"
build=$(cd "$1" && pwd)
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/../.." && pwd)
cc=${CC:-cc}
flags=${NGHTTPW_CONSUMER_CFLAGS:-}

work=$(mktemp -d "${TMPDIR:-/tmp}/nghttpw-install.XXXXXX")
if [ "${KEEP:-0}" = 1 ]; then
	echo "$me: keeping $work"
else
	trap 'rm -rf "$work"' EXIT
fi
prefix="$work/prefix"

# Runs a step quietly; on failure shows its output and stops.
step() {
	local what=$1
	shift
	local log
	log="$work/$(echo "$what" | tr -c 'A-Za-z0-9\n' '_').log"
	if ! "$@" >"$log" 2>&1; then
		echo "$me: FAILED: $what" >&2
		echo "$me: command: $*" >&2
		sed 's/^/    /' "$log" >&2
		exit 1
	fi
}

cache() { sed -n "s/^$1:[A-Z]*=//p" "$build/CMakeCache.txt"; }

# ---------------------------------------------------------------- install
step "cmake --install" cmake --install "$build" --prefix "$prefix"

pc=$(find "$prefix" -name nghttpw.pc -path '*/pkgconfig/*' | head -n 1)
[ -n "$pc" ] || die "no pkgconfig/nghttpw.pc under $prefix"
pcdir=$(dirname "$pc")
libdir=$(dirname "$pcdir")
config=$(find "$prefix" -name nghttpwConfig.cmake | head -n 1)
[ -n "$config" ] || die "no nghttpwConfig.cmake under $prefix"

for f in "$prefix/include/nghttpw/nghttpw.h" "$libdir/libnghttpw.a" \
	"$libdir/libnghttpw.so" "$libdir/libnghttpw.so.0" \
	"$(dirname "$config")/nghttpwConfigVersion.cmake" \
	"$(dirname "$config")/nghttpwTargets.cmake"; do
	[ -e "$f" ] || die "not installed: ${f#"$prefix"/}"
done
for h in "$src"/include/nghttpw/*.h; do
	[ -f "$prefix/include/nghttpw/$(basename "$h")" ] ||
		die "header not installed: include/nghttpw/$(basename "$h")"
done
soname=$(readelf -d "$libdir/libnghttpw.so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = "libnghttpw.so.0" ] || die "SONAME is '$soname', not libnghttpw.so.0"

if [ "$(cache NGHTTPW_MANPAGES)" = ON ]; then
	want=0
	for a in "$src"/man/*.adoc; do
		[ -e "$a" ] || continue
		want=$((want + 1))
	done
	have=0
	if [ -d "$prefix/share/man" ]; then
		have=$(find "$prefix/share/man" -type f | wc -l)
	fi
	[ "$have" -eq "$want" ] ||
		die "$have man pages installed under share/man, but man/ has $want .adoc files"
	# The HTML reference: every page, the index, and links that resolve.
	[ -f "$prefix/share/doc/nghttpw/html/index.html" ] ||
		die "not installed: share/doc/nghttpw/html/index.html"
	step "the installed HTML reference (share/doc/nghttpw/html)" \
		python3 "$here/check_html.py" "$prefix/share/doc/nghttpw/html" "$src/man"
fi
if [ "$(cache NGHTTPW_TOOLS)" = ON ]; then
	for t in "$src"/tools/*.c; do
		[ -e "$t" ] || continue
		[ -x "$prefix/bin/$(basename "$t" .c)" ] ||
			die "tool not installed: bin/$(basename "$t" .c)"
	done
fi

# The shared library exports its public API and nothing else.
exported=$(nm -D --defined-only "$libdir/libnghttpw.so" | awk '{print $3}' |
	grep -Ev '^(_init|_fini|_edata|_end|__bss_start)$' |
	grep -Ev '^__(asan|ubsan|tsan|odr_asan|sancov)' | sort -u || true)
stray=$(echo "$exported" | grep -v '^nghttpw_' | grep -v '^$' || true)
[ -z "$stray" ] || die "the shared library exports non-API symbols: $(echo "$stray" | tr '\n' ' ')"
declared=$(cat "$prefix"/include/nghttpw/*.h | grep 'NGHTTPW_DECL' |
	grep -oE '\bnghttpw_[A-Za-z0-9_]+[[:space:]]*\(' | tr -d '( \t' | sort -u || true)
missing=$(comm -23 <(echo "$declared") <(echo "$exported") | grep -v '^$' || true)
if [ -n "$missing" ]; then
	# Not fatal: parts of the API are still being written.
	echo "$me: WARNING: declared NGHTTPW_DECL but not exported by libnghttpw.so:" \
		"$(echo "$missing" | tr '\n' ' ')" >&2
fi

# ------------------------------------------------------ find_package(nghttpw)
# shellcheck disable=SC2086
step "configure the consumer with CMake" cmake -S "$here" -B "$work/cmake" \
	-DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_COMPILER="$cc" \
	-DCMAKE_C_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="$flags"
step "build the consumer with CMake" cmake --build "$work/cmake"

# ------------------------------------------------------------ pkg-config
export PKG_CONFIG_PATH="$pcdir${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
step "pkg-config --exists nghttpw" pkg-config --exists --print-errors nghttpw
pc_shared=$(pkg-config --cflags --libs nghttpw)
pc_static=$(pkg-config --static --cflags --libs nghttpw)
case " $pc_shared " in
*NGHTTPW_STATIC_LIB*) die "pkg-config --cflags gives NGHTTPW_STATIC_LIB to shared-library users" ;;
esac
# Link the archive by name: next to the .so, -lnghttpw would pick the .so.
pc_static=$(echo "$pc_static" | sed 's/\(^\|[[:space:]]\)-lnghttpw\([[:space:]]\|$\)/\1-l:libnghttpw.a\2/')
mkdir -p "$work/pc"
# shellcheck disable=SC2086
step "build with pkg-config (shared)" \
	$cc $flags -o "$work/pc/consumer_shared" "$here/main.c" $pc_shared
# shellcheck disable=SC2086
step "build with pkg-config --static" \
	$cc $flags -DEXPECT_STATIC=1 -o "$work/pc/consumer_static" "$here/main.c" $pc_static

# ------------------------------------------------------------------- run
for exe in "$work/cmake/consumer_shared" "$work/cmake/consumer_static" \
	"$work/pc/consumer_shared" "$work/pc/consumer_static"; do
	how="${exe#"$work"/}"
	needs_so=no
	if readelf -d "$exe" | grep -q 'NEEDED.*libnghttpw\.so'; then
		needs_so=yes
	fi
	case "$how" in
	*static) [ $needs_so = no ] || die "$how links libnghttpw.so, not the archive" ;;
	*) [ $needs_so = yes ] || die "$how does not link libnghttpw.so" ;;
	esac
	if ! out=$(LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$exe" 2>&1); then
		echo "$out" | sed 's/^/    /' >&2
		die "$how did not exit 0"
	fi
	echo "$me: $how: $out"
done
echo "$me: installed to a temporary prefix; find_package and pkg-config consumers (shared and static) built and ran"
