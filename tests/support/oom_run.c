/* The driver of the allocation failure tests (oom_test.c, ws_oom_test.c):
 * runs a scenario with each allocation failed in turn and judges every
 * run.  See tests/oom_test.c for the rules. */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>

#include "nghttpw/nghttpw.h"
#include "support/oom.h"
#include "support/oom_run.h"

/* ------------------------------------------------------------ the driver */

typedef struct run_state {
	const char   *name;
	oom_scope     scope;
	bool          sticky;   /* every allocation from the nth fails */
	unsigned long n;        /* the allocation failed; 0 in the baseline */
	unsigned      problems; /* in all runs of the loop */
	unsigned      run_problems;
	bool          baseline;
} run_state;

static run_state *cur;

static const char *
scope_name(oom_scope s)
{
	if (cur != NULL && cur->sticky) {
		return (s == OOM_THREAD ? "thread, from N on" : "any, from N on");
	}
	return (s == OOM_THREAD ? "thread" : "any");
}

static unsigned long
env_ulong(const char *name)
{
	const char *v = getenv(name);

	return (v != NULL ? strtoul(v, NULL, 10) : 0);
}

/* Records a problem of the current run. */
void
bad(const char *fmt, ...)
{
	va_list ap;

	cur->problems++;
	cur->run_problems++;
	fprintf(stderr, "OOM PROBLEM [%s, %s, N=%lu]: ", cur->name,
	    scope_name(cur->scope), cur->n);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	oom_print_site(stderr);
}

/* An error that may end a run: the injected failure, reported as such. */
bool
is_oom(int rv)
{
	return (rv == NGHTTPW_ENOMEM && oom_fired());
}

/* The first failure of a run, from the operation that met it. */
void
first_failure(int rv, const char *what)
{
	if (!is_oom(rv)) {
		bad("%s failed with %d (%s), expected NGHTTPW_ENOMEM from the "
		    "failed allocation",
		    what, rv, nghttpw_strerror(rv));
	}
}

/* A failure seen after the first one: the close that the first one led
 * to, or the injected failure itself. */
void
later_failure(int rv, const char *what)
{
	if (rv != 0 && !is_oom(rv) && rv != NGHTTPW_ECLOSED &&
	    rv != NGHTTPW_ECONNRESET && rv != NGHTTPW_ECANCELED) {
		bad("%s then failed with %d (%s)", what, rv, nghttpw_strerror(rv));
	}
}

void
require_wrapping(void)
{
	nghttpw_url *u;

	if (!oom_available()) {
		cr_skip_test("not linked with -Wl,--wrap=malloc,... (see "
		             "tests/oom_test.c): no allocation failure injection");
	}
	/* The library's own calls must go through the wrappers: the static
	 * library is linked into the program, so they do. */
	oom_arm(OOM_THREAD, 0);
	cr_assert_eq(nghttpw_url_parse(&u, "http://h/"), 0);
	nghttpw_url_free(u);
	cr_assert_gt(oom_disarm(), 0,
	    "the library's allocations do not reach the wrappers");
	/* Two I/O threads unless told otherwise (OOM_THREADS): completions
	 * then run on a loop other than the aio's own, too. */
	nghttpw_init_set_parameter(NGHTTPW_INIT_NUM_POLLER_THREADS,
	    env_ulong("OOM_THREADS") > 0 ? env_ulong("OOM_THREADS") : 2);
}

/* One run: returns whether a failure was injected. */
static bool
run_once(run_state *rs, unsigned long n, void (*fn)(void *), void *arg,
    unsigned long *countp)
{
	size_t live;
	bool   fired;

	rs->n            = n;
	rs->baseline     = n == 0;
	rs->run_problems = 0;
	if (getenv("OOM_VERBOSE") != NULL) {
		fprintf(stderr, "oom %s/%s: N=%lu\n", rs->name,
		    scope_name(rs->scope), n);
	}
	/* Start from a stopped runtime, and stop it again before looking
	 * for leaks: its threads and deferred frees are then all done. */
	nghttpw_fini();
	oom_track_begin();
	oom_print_on_fire(getenv("OOM_SITES") != NULL);
	if (rs->sticky) {
		oom_arm_from(rs->scope, n);
	} else {
		oom_arm(rs->scope, n);
	}
	fn(arg);
	*countp = oom_disarm();
	fired   = oom_fired();
	nghttpw_fini();
	if ((live = oom_track_live()) != 0) {
		bad("%zd block(s) still allocated after the run, listed below "
		    "(-1: the record overflowed)",
		    (ssize_t) live);
	}
	(void) oom_track_end(live != 0 ? stderr : NULL);
	return (fired);
}

static void
run_loop_mode(const char *name, oom_scope scope, bool sticky,
    void (*fn)(void *), void *arg)
{
	run_state     rs = { .name = name, .scope = scope, .sticky = sticky };
	unsigned long only = env_ulong("OOM_ONLY");
	unsigned long from = env_ulong("OOM_FROM");
	unsigned long count, n, points = 0;

	require_wrapping();
	cur = &rs;
	run_once(&rs, 0, fn, arg, &count);
	cr_assert_eq(rs.problems, 0, "%s/%s: the scenario fails without "
	    "injected failures", name, scope_name(scope));
	fprintf(stderr, "oom %s/%s: baseline made %lu allocations\n", name,
	    scope_name(scope), count);
	for (n = only > 0 ? only : (from > 0 ? from : 1);; n++) {
		if (!run_once(&rs, n, fn, arg, &count)) {
			break;
		}
		points++;
		if (only > 0) {
			break;
		}
	}
	fprintf(stderr,
	    "oom %s/%s: %lu allocation points failed in turn, %u problem(s)\n",
	    name, scope_name(scope), points, rs.problems);
	cr_assert_eq(rs.problems, 0, "%s/%s: %u problem(s), see stderr", name,
	    scope_name(scope), rs.problems);
}

/* Fails allocation N alone, for N = 1, 2, ... */
void
run_loop(const char *name, oom_scope scope, void (*fn)(void *), void *arg)
{
	run_loop_mode(name, scope, false, fn, arg);
}

/* Fails every allocation from N on, for N = 1, 2, ...: error paths that
 * allocate meet failures too. */
void
run_loop_sticky(
    const char *name, oom_scope scope, void (*fn)(void *), void *arg)
{
	run_loop_mode(name, scope, true, fn, arg);
}

/* --------------------------------------------------------------- helpers */

/* Waits for an aio; a wait that reaches the time limit is a hang. */
int
wait_rv(nghttpw_aio *aio, const char *what)
{
	int rv;

	nghttpw_aio_wait(aio);
	rv = nghttpw_aio_result(aio);
	if (rv == NGHTTPW_ETIMEDOUT) {
		bad("%s did not complete in %d ms (hang)", what, OP_TIMEOUT);
	}
	return (rv);
}

nghttpw_aio *
aio_new(int *rvp)
{
	nghttpw_aio *aio = NULL;

	if ((*rvp = nghttpw_aio_alloc(&aio, NULL, NULL)) == 0) {
		nghttpw_aio_set_timeout(aio, OP_TIMEOUT);
	}
	return (aio);
}


bool
oom_run_baseline(void)
{
	return (cur->baseline);
}

bool
oom_run_sticky(void)
{
	return (cur->sticky);
}
