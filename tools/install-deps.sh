#!/usr/bin/env bash
# Installs the Debian packages that building and testing nghttpw needs,
# when any of them is missing, then the npm packages of the WebSocket test
# peers (tests/ws/peers) when they are missing or older than their
# lockfile.  gcc, cmake, node and npm are expected to be there already;
# they are added only if their commands are missing.
#
# usage: bash tools/install-deps.sh        (as root, on Debian 12)
set -euo pipefail

me="install-deps"
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# clang and libclang-rt-dev: the sanitizer builds (the sanitizer runtimes
# are only a recommendation of clang, so they are named here).
# pkg-config: the install test.  libmbedtls-dev: TLS.  node-llhttp: the
# HTTP/1.1 parser sources.  libcriterion-dev: the tests.  asciidoctor: the
# man pages.  make: the build tool CMake drives.  binutils: readelf and nm
# for the install test.  util-linux: setarch for the TSan run.  openssl,
# python3 and curl: programs no one here wrote, that the interoperability
# tests run against ours.  ca-certificates: the system CA bundle that TLS
# clients trust by default.  valgrind: the memory check stage of
# tools/run-tests.sh.  python3-websockets: the Python WebSocket peer
# (tests/ws/peers/py_peer.py, run with /usr/bin/python3).
# python3-autobahn: a second, independent Python WebSocket implementation
# for interoperability tests.  libnng-dev: nng 1.5, whose HTTP and
# WebSocket transport is a later interop peer (and the API ours follows).
# nodejs and npm: run the node WebSocket peer (tests/ws/peers/ws_peer.js)
# and install its `ws` package; only when the commands are missing, since
# a node from elsewhere (e.g. one that bundles its own npm and conflicts
# with Debian's npm package) is just as good.
# chromium: a real browser, run headless by tests/ws_browser_test.c.
# zlib1g-dev: permessage-deflate on WebSockets.
# tinyproxy: a real forward proxy, started on loopback by
# tests/http_proxy_test.c and tests/get_tool_test.c for the client's
# proxy support (absolute form, CONNECT, Basic credentials).
# systemd: its systemd-socket-activate hands nghttpw-serve a socket as
# systemd would (tests/serve_deploy_test.c); nothing runs it as init.
# haproxy, nginx and libnginx-mod-stream (nginx's TCP balancing, which
# sends PROXY headers): the load balancers of tools/lb/run (ctest's
# lb_short).
# liburing-dev: the io_uring back-end of the event loops.
packages=(clang libclang-rt-dev pkg-config libmbedtls-dev node-llhttp zlib1g-dev liburing-dev
	libcriterion-dev asciidoctor make binutils util-linux
	openssl python3 curl ca-certificates valgrind
	python3-websockets python3-autobahn libnng-dev chromium systemd
	haproxy nginx libnginx-mod-stream tinyproxy)
command -v gcc >/dev/null 2>&1 || packages+=(gcc libc6-dev)
command -v cmake >/dev/null 2>&1 || packages+=(cmake)
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)

if ! command -v dpkg-query >/dev/null 2>&1; then
	echo "$me: this is not a Debian system (no dpkg-query); install by hand:" \
		"${packages[*]}" >&2
	exit 1
fi

missing=()
for p in "${packages[@]}"; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	if [ "$status" != "install ok installed" ]; then
		missing+=("$p")
	fi
done

if [ ${#missing[@]} -eq 0 ]; then
	echo "$me: all build and test packages are installed"
else
	cmd="apt-get install -y --no-install-recommends ${missing[*]}"
	if [ "$(id -u)" -ne 0 ]; then
		echo "$me: missing Debian packages: ${missing[*]}" >&2
		echo "$me: as root, run:" >&2
		echo "    apt-get update && $cmd" >&2
		exit 1
	fi
	echo "$me: installing ${missing[*]}"
	apt-get update
	# Servers (nginx, haproxy, tinyproxy) are test peers that the tests
	# start on loopback ports of their own: their packages must not start
	# them as services on port 80 (or fail to, in a container).
	policy=/usr/sbin/policy-rc.d
	own_policy=0
	if [ ! -e "$policy" ]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy"
		chmod 755 "$policy"
		own_policy=1
	fi
	rv=0
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" || rv=$?
	[ $own_policy = 1 ] && rm -f "$policy"
	[ $rv = 0 ] || exit $rv
	echo "$me: Debian packages done"
fi

# The npm peers: `npm ci` installs exactly what package-lock.json pins,
# into tests/ws/peers/node_modules (git-ignored).  It is run only when ws
# is missing, is not the version the lockfile pins, or the lockfile is
# newer than the hidden lockfile npm left at its last install, so that a
# run with everything present stays quick and needs no network.
peers="$top/tests/ws/peers"
stale=no
if [ ! -f "$peers/node_modules/ws/package.json" ] ||
	[ ! -f "$peers/node_modules/.package-lock.json" ] ||
	[ "$peers/package-lock.json" -nt "$peers/node_modules/.package-lock.json" ]; then
	stale=yes
elif ! (cd "$peers" && node -e '
	const want = require("./package-lock.json").packages["node_modules/ws"].version;
	const have = require("./node_modules/ws/package.json").version;
	process.exit(want === have ? 0 : 1);'); then
	stale=yes
fi
if [ "$stale" = yes ]; then
	echo "$me: installing the npm packages of $peers (npm ci)"
	if ! (cd "$peers" && npm ci --no-audit --no-fund); then
		echo "$me: 'npm ci' failed in $peers: the WebSocket test peers" \
			"cannot run (is the npm registry reachable?)" >&2
		exit 1
	fi
else
	echo "$me: the npm packages of the WebSocket test peers are installed"
fi
echo "$me: done"
