#!/usr/bin/env bash
# Builds nghttpw three ways and runs the whole test suite (ctest) on each:
#   gcc    build/ci-gcc   gcc, -O2 -g, man pages included
#   asan   build/ci-asan-O0  gcc -O0, NGHTTPW_SANITIZE=address,undefined
#   tsan   build/ci-tsan  clang, NGHTTPW_SANITIZE=thread
#   valgrind  build/ci-gcc (as the gcc stage left it): aio_test,
#          stream_test, url_test, http_msg_test and http_conn_test under
#          valgrind (memcheck; definite leaks count), one Criterion job each
#   fuzz   build/fuzz     every libFuzzer target for FUZZ_SECONDS (15) each,
#          one per CPU at a time
#   gcc-uring, asan-uring, tsan-uring  the gcc, asan and tsan builds'
#          ctest again on the io_uring back-end (NGHTTPW_POLLER=io_uring;
#          the other stages run on epoll, the default)
# Missing Debian packages are installed first (tools/install-deps.sh).
# Ends with one line 'run-tests: N passed, M failed[, K skipped]' (tests
# of all three builds; a build that fails counts as one failure; the tsan
# build runs the same tests through tests/support/tsan-runner, since
# Criterion cannot start under TSan, see CMakeLists.txt) and exits
# non-zero if anything failed.
#
# usage: bash tools/run-tests.sh [gcc] [gcc-uring] [valgrind] [asan]
#        [asan-uring] [tsan] [tsan-uring] [fuzz]
#        (default: all of them; the stages run in that
#        order whatever the order given, since valgrind uses what gcc
#        built)
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

all_stages=(gcc gcc-uring valgrind asan asan-uring tsan tsan-uring fuzz)
default_stages=("${all_stages[@]}")
asked=("$@")
[ ${#asked[@]} -gt 0 ] || asked=("${default_stages[@]}")
for s in "${asked[@]}"; do
	case "$s" in
	gcc | gcc-uring | valgrind | asan | asan-uring | tsan | tsan-uring | fuzz) ;;
	*)
		echo "$me: unknown build '$s' (use gcc, gcc-uring, valgrind, asan, asan-uring, tsan, tsan-uring, fuzz)" >&2
		exit 2
		;;
	esac
done
# In the fixed order (valgrind runs the gcc build's tests), each once.
stages=()
for s in "${all_stages[@]}"; do
	for a in "${asked[@]}"; do
		if [ "$a" = "$s" ]; then
			stages+=("$s")
			break
		fi
	done
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
# Environment: BUILD_AS, the name of the stage whose build dir to reuse
# (the -uring stages; the same arguments leave its build as it is).
run_build() {
	local name=$1 cc=$2 cflags=$3 san=$4
	shift 4
	local dir="build/ci-${BUILD_AS:-$name}" t0=$SECONDS prefix="" log rc line passed failed skipped
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

# The valgrind stage: a few test programs of the plain gcc build under
# memcheck.  Criterion's workers report their result before they exit, so
# valgrind's exit status (--error-exitcode) does not reach Criterion's for
# leaks found at exit, nor for errors in a test that then passes: every
# error is marked in the log (--error-markers), and a marked error fails
# the test as a non-zero exit does.  Only definite leaks are shown (and
# so marked): the runtime's threads, still running when a worker exits,
# hold blocks that valgrind calls possibly lost.  The tests run $jobs at
# a time, each with one Criterion job.  Suppressed (valgrind_supp):
#   - glibc's resolver state (getaddrinfo on the resolver thread, which
#     is still running at exit): not ours.
valgrind_supp() {
	cat <<'EOF'
{
   glibc-resolv-conf
   Memcheck:Leak
   match-leak-kinds: definite
   ...
   fun:__resolv_conf_allocate
   ...
}
EOF
}
valgrind_tests=(aio_test stream_test url_test http_msg_test http_conn_test)
run_valgrind() {
	local dir=${NGHTTPW_VALGRIND_BUILD:-build/ci-gcc} t0=$SECONDS t logdir
	local failed=() pids=() names=() i rc
	echo
	echo "=== $me: valgrind: ${valgrind_tests[*]} in $dir"
	if ! command -v valgrind >/dev/null 2>&1; then
		echo "$me: valgrind: valgrind is not installed"
		summary+=("valgrind: FAILED (valgrind is not installed)")
		total_fail=$((total_fail + 1))
		return
	fi
	for t in "${valgrind_tests[@]}"; do
		if [ ! -x "$dir/$t" ]; then
			echo "$me: valgrind: $dir/$t is missing (run the gcc stage first)"
			summary+=("valgrind: FAILED ($dir/$t missing; run the gcc stage first)")
			total_fail=$((total_fail + 1))
			return
		fi
	done
	logdir="$root/build/ci-valgrind"
	rm -rf "$logdir"
	mkdir -p "$logdir"
	valgrind_supp >"$logdir/nghttpw.supp"
	vg_one() {
		local t=$1 s=$SECONDS rc
		(cd "$dir" && valgrind --error-exitcode=99 --leak-check=full \
			--errors-for-leak-kinds=definite --show-leak-kinds=definite \
			--error-markers=VGERR-BEGIN,VGERR-END \
			--suppressions="$logdir/nghttpw.supp" \
			--trace-children=yes --quiet "./$t" --jobs 1) \
			>"$logdir/$t.log" 2>&1
		rc=$?
		if [ "$rc" -eq 0 ] && grep -q 'VGERR-BEGIN' "$logdir/$t.log"; then
			rc=99
		fi
		echo "$me: valgrind: $t: exit $rc ($((SECONDS - s)) s)"
		return "$rc"
	}
	for t in "${valgrind_tests[@]}"; do
		if [ ${#pids[@]} -ge "$jobs" ]; then
			wait "${pids[0]}" || failed+=("${names[0]}")
			pids=("${pids[@]:1}")
			names=("${names[@]:1}")
		fi
		vg_one "$t" &
		pids+=($!)
		names+=("$t")
	done
	for i in "${!pids[@]}"; do
		wait "${pids[$i]}" || failed+=("${names[$i]}")
	done
	if [ ${#failed[@]} -eq 0 ]; then
		summary+=("valgrind: ok, ${#valgrind_tests[@]} programs ($((SECONDS - t0)) s)")
		total_pass=$((total_pass + 1))
	else
		for t in "${failed[@]}"; do
			echo "--- $logdir/$t.log (valgrind errors and failures):"
			grep -E -A25 'VGERR-BEGIN|FAIL|CRASH|Assertion|Warning' \
				"$logdir/$t.log" | head -n 80
		done
		summary+=("valgrind: FAILED: ${failed[*]} ($((SECONDS - t0)) s, logs in build/ci-valgrind)")
		total_fail=$((total_fail + 1))
	fi
}

for s in "${stages[@]}"; do
	case "$s" in
	gcc)
		run_build gcc gcc "-O2 -g" ""
		;;
	gcc-uring)
		NGHTTPW_POLLER=io_uring BUILD_AS=gcc run_build gcc-uring gcc "-O2 -g" ""
		;;
	valgrind)
		run_valgrind
		;;
	asan)
		# Criterion's test workers report their result before they exit,
		# so a leak found at exit only fails the test when LeakSanitizer
		# aborts (Criterion then warns about a crash, and exits non-zero).
		# gcc at -O0: it ends the life of every block's objects,
		# compound literals included, where they go out of scope, so a
		# pointer kept past its block (handed to an aio whose callback
		# runs later, say) is reported as stack-use-after-scope.  clang
		# 14 never ends a compound literal's life, at any level, so its
		# build missed such a bug (issue 13).
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
			UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
			run_build asan-O0 gcc "-O0 -g" "address,undefined" -DNGHTTPW_MANPAGES=OFF
		;;
	asan-uring)
		NGHTTPW_POLLER=io_uring BUILD_AS=asan-O0 \
			ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
			UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
			run_build asan-uring gcc "-O0 -g" "address,undefined" -DNGHTTPW_MANPAGES=OFF
		;;
	tsan)
		TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 atexit_sleep_ms=0" \
			run_build tsan clang "-O1 -g" "thread" -DNGHTTPW_MANPAGES=OFF
		;;
	tsan-uring)
		NGHTTPW_POLLER=io_uring BUILD_AS=tsan \
			TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 atexit_sleep_ms=0" \
			run_build tsan-uring clang "-O1 -g" "thread" -DNGHTTPW_MANPAGES=OFF
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
