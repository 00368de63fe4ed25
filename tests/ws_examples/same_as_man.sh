#!/bin/sh
# Checks that the two programs of this directory are, byte for byte, the
# two C listings of the EXAMPLES section of man/nghttpw_ws.adoc (the page
# pastes them: man pages here use no include::).
# usage: same_as_man.sh [SOURCE_DIR]   (default: the tree holding this file)
set -eu
top=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
page=$top/man/nghttpw_ws.adoc
dir=$top/tests/ws_examples
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The n-th "[source, c]" listing after "== EXAMPLES", without its fences.
listing() {
	awk -v want="$1" '
		/^== EXAMPLES$/ { ex = 1; next }
		ex && /^== / { exit }
		ex && /^\[source, c\]$/ { n++; next }
		ex && n == want && /^----$/ { if (inside) exit; inside = 1; next }
		inside { print }
	' "$page"
}

status=0
n=0
for prog in echo_server echo_client; do
	n=$((n + 1))
	listing $n > "$tmp/$prog.c"
	if ! cmp -s "$tmp/$prog.c" "$dir/$prog.c"; then
		echo "$prog.c differs from listing $n of man/nghttpw_ws.adoc:" >&2
		diff -u "$dir/$prog.c" "$tmp/$prog.c" >&2 || true
		status=1
	fi
done
[ $status -eq 0 ] && echo "same_as_man: both listings match"
exit $status
