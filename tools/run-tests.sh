#!/usr/bin/env bash
# Builds nghttpw three ways and runs the whole test suite (ctest) on each:
#   gcc    build/ci-gcc   gcc, -O2 -g, man pages included
#   asan   build/ci-asan  clang, NGHTTPW_SANITIZE=address,undefined
#   tsan   build/ci-tsan  clang, NGHTTPW_SANITIZE=thread
#   fuzz   build/fuzz     every libFuzzer target for FUZZ_SECONDS (15) each
# Missing Debian packages are installed first (tools/install-deps.sh).
# Ends with one line 'run-tests: N passed, M failed[, K skipped]' (tests
# of all three builds; a build that fails counts as one failure; the tsan
# build runs the same tests through tests/support/tsan-runner, since
# Criterion cannot start under TSan, see CMakeLists.txt) and exits
# non-zero if anything failed.
#
# usage: bash tools/run-tests.sh [gcc] [asan] [tsan] [fuzz]   (default: all)
# Environment: JOBS (parallel jobs for make and ctest; default 2).
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
root=$(pwd)
me="run-tests"
jobs=${JOBS:-2}

bash tools/install-deps.sh || {
	echo "$me: the build dependencies are missing (see above)" >&2
	echo "$me: 0 passed, 1 failed"
	exit 1
}

stages=("$@")
[ ${#stages[@]} -gt 0 ] || stages=(gcc asan tsan fuzz)
for s in "${stages[@]}"; do
	case "$s" in
	gcc | asan | tsan | fuzz) ;;
	*)
		echo "$me: unknown build '$s' (use gcc, asan, tsan, fuzz)" >&2
		exit 2
		;;
	esac
done

total_pass=0
total_fail=0
total_skip=0
summary=()
t_all=$SECONDS

# A tiny threaded program built with the sanitizer decides whether this
# kernel needs ASLR off for it (clang 14's TSan, and sometimes ASan, stop
# with 'unexpected memory mapping' or crash when mmap randomisation is
# high).  Prints the command prefix to use: nothing, or setarch ... -R.
sanitizer_prefix() {
	local cc=$1 san=$2 dir out
	dir=$(mktemp -d)
	cat >"$dir/probe.c" <<'EOF'
#include <pthread.h>
#include <stdlib.h>
static int counter;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static void *work(void *arg) {
	(void) arg;
	pthread_mutex_lock(&mu);
	counter++;
	pthread_mutex_unlock(&mu);
	return NULL;
}
int main(void) {
	pthread_t t[2];
	char *p = malloc(16);
	for (int i = 0; i < 2; i++) pthread_create(&t[i], NULL, work, NULL);
	for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
	free(p);
	return counter == 2 ? 0 : 1;
}
EOF
	if ! "$cc" -fsanitize="$san" -g -pthread -o "$dir/probe" "$dir/probe.c" >"$dir/log" 2>&1; then
		echo "$me: cannot build a -fsanitize=$san program:" >&2
		sed 's/^/    /' "$dir/log" >&2
		rm -rf "$dir"
		return 1
	fi
	if out=$("$dir/probe" 2>&1); then
		rm -rf "$dir"
		return 0
	fi
	if setarch "$(uname -m)" -R "$dir/probe" >/dev/null 2>&1; then
		echo "$me: -fsanitize=$san fails with ASLR on here; running its tests under setarch -R" >&2
		echo "$out" | grep -m 3 -E 'unexpected memory mapping|FATAL|ERROR|DEADLYSIGNAL' | sed 's/^/    /' >&2
		rm -rf "$dir"
		echo "setarch $(uname -m) -R"
		return 0
	fi
	echo "$me: a -fsanitize=$san program fails here even with ASLR off:" >&2
	echo "$out" | head -n 20 | sed 's/^/    /' >&2
	rm -rf "$dir"
	return 1
}

# run_build NAME CC CFLAGS SANITIZE [extra cmake args...]
run_build() {
	local name=$1 cc=$2 cflags=$3 san=$4
	shift 4
	local dir="build/ci-$name" t0=$SECONDS prefix="" log rc line passed failed skipped
	log="$root/build/ci-$name.log"
	mkdir -p build
	echo
	echo "=== $me: $name: $cc $cflags${san:+ -fsanitize=$san} in $dir"

	if [ -n "$san" ]; then
		if ! prefix=$(sanitizer_prefix "$cc" "$san"); then
			summary+=("$name: FAILED (the sanitizer does not work here)")
			total_fail=$((total_fail + 1))
			return
		fi
	fi

	if ! cmake -S . -B "$dir" -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE= \
		-DCMAKE_C_FLAGS="$cflags" -DNGHTTPW_SANITIZE="$san" \
		-DNGHTTPW_TESTS=ON -DNGHTTPW_TOOLS=ON "$@" >"$log" 2>&1; then
		cat "$log"
		echo "$me: $name: configure FAILED"
		summary+=("$name: FAILED (configure)")
		total_fail=$((total_fail + 1))
		return
	fi
	if ! cmake --build "$dir" -j "$jobs" >>"$log" 2>&1; then
		# With parallel jobs the first error may be far from the end.
		grep -E -A3 'error|warning:|Error [0-9]' "$log" | head -n 150
		echo "--- last lines of $log:"
		tail -n 40 "$log"
		echo "$me: $name: build FAILED (full log: $log)"
		summary+=("$name: FAILED (build)")
		total_fail=$((total_fail + 1))
		return
	fi
	echo "$me: $name: built in $((SECONDS - t0)) s"

	# shellcheck disable=SC2086
	(cd "$dir" && $prefix ctest --output-on-failure -j "$jobs") 2>&1 | tee -a "$log"
	rc=${PIPESTATUS[0]}
	line=$(grep -E '[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -n 1)
	if [ -n "$line" ]; then
		failed=$(echo "$line" | sed -E 's/.* ([0-9]+) tests? failed out of.*/\1/')
		passed=$(($(echo "$line" | sed -E 's/.*out of ([0-9]+).*/\1/') - failed))
	else
		passed=0
		failed=0
	fi
	skipped=$(grep -cE '^[[:space:]]+[0-9]+ - .* \((Disabled|Skipped)\)$' "$log" || true)
	if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
		failed=1 # ctest failed without a count (no tests, a crash...)
	fi
	if [ $((passed + failed)) -eq 0 ]; then
		echo "$me: $name: ctest ran no test"
		failed=1
	fi
	total_pass=$((total_pass + passed))
	total_fail=$((total_fail + failed))
	total_skip=$((total_skip + skipped))
	local notrun=""
	[ "$skipped" -eq 0 ] || notrun=", $skipped not run"
	if [ "$failed" -eq 0 ]; then
		summary+=("$name: ok, $passed tests passed$notrun ($((SECONDS - t0)) s)")
	else
		summary+=("$name: FAILED, $passed passed, $failed failed$notrun ($((SECONDS - t0)) s)")
	fi
}

for s in "${stages[@]}"; do
	case "$s" in
	gcc)
		run_build gcc gcc "-O2 -g" ""
		;;
	asan)
		# Criterion's test workers report their result before they exit,
		# so a leak found at exit only fails the test when LeakSanitizer
		# aborts (Criterion then warns about a crash, and exits non-zero).
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
			UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
			run_build asan clang "-O1 -g" "address,undefined" -DNGHTTPW_MANPAGES=OFF
		;;
	tsan)
		TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 atexit_sleep_ms=0" \
			run_build tsan clang "-O1 -g" "thread" -DNGHTTPW_MANPAGES=OFF
		;;
	fuzz)
		# A short run of every libFuzzer target on its seeds and the
		# regression inputs: catches a crash a change brings back.
		t0=$SECONDS
		echo
		echo "=== $me: fuzz: every target for ${FUZZ_SECONDS:-15} s"
		if NGHTTPW_FUZZ_FRESH=1 bash tools/fuzz "${FUZZ_SECONDS:-15}"; then
			summary+=("fuzz: ok ($((SECONDS - t0)) s)")
			total_pass=$((total_pass + 1))
		else
			summary+=("fuzz: FAILED ($((SECONDS - t0)) s, inputs in build/fuzz/crashes)")
			total_fail=$((total_fail + 1))
		fi
		;;
	esac
done

echo
echo "=== $me: summary ($((SECONDS - t_all)) s)"
for l in "${summary[@]}"; do
	echo "  $l"
done
if [ "$total_skip" -gt 0 ]; then
	echo "  (not run: tests that ctest skipped)"
	echo "$me: $total_pass passed, $total_fail failed, $total_skip skipped"
else
	echo "$me: $total_pass passed, $total_fail failed"
fi
[ "$total_fail" -eq 0 ]
