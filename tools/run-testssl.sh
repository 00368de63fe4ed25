#!/usr/bin/env bash
# Scans nghttpw-serve's HTTPS with Debian's testssl.sh and prints what it
# finds, the way a user's scanner would see a default server: an ECDSA
# P-256 certificate made here (self-signed, with SANs for 127.0.0.1 and
# localhost), default TLS settings, `--hsts` on, loopback only.
#
# The certificate's own findings (self-signed, no CRL or OCSP URI) belong
# to the throwaway certificate, not to nghttpw, and the HTTP headers a
# site sends (X-Frame-Options, Content-Security-Policy...) are the site's
# choice: both are listed apart.  Exits 1 when anything else (protocols,
# ciphers, curves, vulnerabilities) is rated LOW or worse, 0 otherwise.  Takes
# about a minute; not part of tools/run-tests.sh for that reason.
#
# usage: bash tools/run-testssl.sh [BUILD_DIR]   (default: build; built
#        with the tools; testssl.sh is installed first if missing, which
#        needs root)
# Environment: PORT (default 9453), TESTSSL_ARGS (more testssl options).
set -euo pipefail

me="run-testssl"
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$top/build}
serve=$build/tools/nghttpw-serve
port=${PORT:-9453}

if [ ! -x "$serve" ]; then
	echo "$me: $serve is missing: build with the tools first" >&2
	exit 2
fi
if ! command -v testssl >/dev/null 2>&1; then
	echo "$me: installing Debian's testssl.sh"
	apt-get install -y --no-install-recommends testssl.sh >/dev/null
fi

work=$(mktemp -d)
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$work/key.pem" -out "$work/cert.pem" -days 90 \
	-subj /CN=localhost -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
	2>/dev/null
echo "nghttpw" >"$work/index.html"
"$serve" -q -t 1 --hsts 31536000 -l "https://127.0.0.1:$port" \
	-c "$work/cert.pem" -k "$work/key.pem" "$work" &
pid=$!
for _ in $(seq 50); do
	if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
		break
	fi
	sleep 0.1
done

# shellcheck disable=SC2086 # TESTSSL_ARGS is a list of options
testssl --quiet --color 0 --warnings off ${TESTSSL_ARGS:-} \
	--jsonfile "$work/result.json" "127.0.0.1:$port" >"$work/result.txt" 2>&1 || true
grep -E '^ (SSLv|TLS |NPN|ALPN|Obsolete|Strong|PFS|Elliptic|Strict)' \
	"$work/result.txt" || true

/usr/bin/python3 - "$work/result.json" <<'EOF'
import json
import sys

# Findings of the certificate made for the scan, and testssl's notes on
# the openssl it runs, are not nghttpw's; the site's headers are the
# site's.
CERT = ("cert_", "engine_problem", "DNS_CAArecord")
SITE = ("security_headers", "HSTS", "banner_", "cookie_")
RANKS = {"LOW": 1, "MEDIUM": 2, "HIGH": 3, "CRITICAL": 4}

groups = {CERT: [], SITE: [], (): []}
for f in json.load(open(sys.argv[1])):
    if f.get("severity") not in RANKS:
        continue
    line = "  %-8s %-28s %s" % (f["severity"], f["id"], f["finding"])
    kind = next((k for k in (CERT, SITE) if f["id"].startswith(k)), ())
    groups[kind].append(line)
for kind, title in ((CERT, "the throwaway certificate (not nghttpw's)"),
                    (SITE, "the site's HTTP headers (the site's choice)"),
                    ((), "nghttpw-serve's TLS")):
    print("run-testssl: findings of %s:" % title)
    print("\n".join(groups[kind]) or "  none")
sys.exit(1 if groups[()] else 0)
EOF
