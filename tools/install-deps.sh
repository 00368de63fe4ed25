#!/usr/bin/env bash
# Installs the Debian packages that building and testing nghttpw needs,
# when any of them is missing.  gcc and cmake are expected to be there
# already; they are added only if their commands are missing.
#
# usage: bash tools/install-deps.sh        (as root, on Debian 12)
set -euo pipefail

me="install-deps"

# clang and libclang-rt-dev: the sanitizer builds (the sanitizer runtimes
# are only a recommendation of clang, so they are named here).
# pkg-config: the install test.  libmbedtls-dev: TLS.  node-llhttp: the
# HTTP/1.1 parser sources.  libcriterion-dev: the tests.  asciidoctor: the
# man pages.  make: the build tool CMake drives.  binutils: readelf and nm
# for the install test.  util-linux: setarch for the TSan run.  openssl,
# python3 and curl: programs no one here wrote, that the interoperability
# tests run against ours.  ca-certificates: the system CA bundle that TLS
# clients trust by default.  valgrind: the memory check stage of
# tools/run-tests.sh.
packages=(clang libclang-rt-dev pkg-config libmbedtls-dev node-llhttp
	libcriterion-dev asciidoctor make binutils util-linux
	openssl python3 curl ca-certificates valgrind)
command -v gcc >/dev/null 2>&1 || packages+=(gcc libc6-dev)
command -v cmake >/dev/null 2>&1 || packages+=(cmake)

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
	exit 0
fi

cmd="apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
	echo "$me: missing Debian packages: ${missing[*]}" >&2
	echo "$me: as root, run:" >&2
	echo "    apt-get update && $cmd" >&2
	exit 1
fi

echo "$me: installing ${missing[*]}"
apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
echo "$me: done"
