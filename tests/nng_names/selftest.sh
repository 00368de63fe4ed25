#!/bin/sh
# Shows that tests/headers/check.sh with a names list fails on each kind of
# disagreement with the headers, and passes on entries that agree: one small
# list per mistake, made here.
# usage: selftest.sh CC INCLUDE_DIR
set -u
cc=${1:?usage: selftest.sh CC INCLUDE_DIR}
inc=${2:?usage: selftest.sh CC INCLUDE_DIR}
check=$(cd "$(dirname "$0")/../headers" && pwd)/check.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0

# expect PASS|FAIL WHAT ENTRY
expect() {
	printf '%s\n' "$3" >"$tmp/list.txt"
	if sh "$check" "$cc" "$inc" "$tmp/list.txt" >"$tmp/out" 2>&1; then
		got=PASS
	else
		got=FAIL
	fi
	if [ "$got" = "$1" ]; then
		echo "selftest: $2: $got, as it must"
	else
		echo "selftest: FAILED: $2: $got, not $1"
		sed 's/^/    /' "$tmp/out"
		status=1
	fi
}

expect PASS "a function as nng has it" \
	'fn      int nng_aio_result(nng_aio *);'
expect FAIL "a function with another return type" \
	'fn      size_t nng_aio_result(nng_aio *);'
expect FAIL "a function with another parameter" \
	'fn      void nng_aio_set_timeout(nng_aio *, int64_t);'
expect FAIL "a function the headers lack" \
	'fn      void nng_aio_frobnicate(nng_aio *);'
expect PASS "a typedef as nng has it" 'typedef int32_t nng_duration;'
expect FAIL "a typedef of another type" 'typedef int64_t nng_duration;'
expect PASS "a member as nng has it" 'member  nng_iov size_t iov_len;'
expect FAIL "a member of another type" 'member  nng_iov int iov_len;'
expect FAIL "a member the type lacks" 'member  nng_iov size_t iov_size;'
expect PASS "a constant as nng has it" 'const   NNG_ECLOSED 7'
expect FAIL "a constant of another value" 'const   NNG_ECLOSED 8'
expect FAIL "a constant the headers lack" 'const   NNG_ENOTACONSTANT'
expect PASS "a string constant as nng has it" 'const   NNG_OPT_URL "url"'
expect FAIL "a string constant of another length" 'const   NNG_OPT_URL "urls"'
if command -v c++ >/dev/null 2>&1; then
	expect FAIL "a string constant of another text (C++)" \
		'const   NNG_OPT_URL "uri"'
fi
expect FAIL "two types of other sizes" 'size    nng_iov nng_aio_cancelfn'
exit $status
