/* The aio contract: results and counts, timeouts, cancel and abort, wait
 * and stop, callbacks never inline, and exactly-once completion under
 * races between cancel, timeout and completion. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "nghttpw/nghttpw.h"

typedef struct {
	atomic_int calls;
	atomic_int last_result;
	pthread_t  thread;
	atomic_int saw_starter; /* the callback ran inside the starting call */
} cb_record;

static _Thread_local bool in_start_call;

static void
record_cb(void *arg)
{
	cb_record *r = arg;
	r->thread    = pthread_self();
	atomic_store(&r->saw_starter, in_start_call);
	atomic_fetch_add(&r->calls, 1);
}

/* A provider of our own, as a user ported from nng writes one: begin,
 * take the aio, defer it; from then on either its cancel function or a
 * separate "completer" finishes it, whichever takes it first. */
typedef struct {
	pthread_mutex_t mtx;
	nghttpw_aio    *aio;
} race_prov;

static void
race_cancel(nghttpw_aio *aio, void *arg, int rv)
{
	race_prov *p = arg;

	pthread_mutex_lock(&p->mtx);
	if (p->aio == aio) {
		p->aio = NULL;
		nghttpw_aio_finish(aio, rv);
	}
	pthread_mutex_unlock(&p->mtx);
}

/* race_start's second half, for a caller that has begun already. */
static void
race_start_deferred(race_prov *p, nghttpw_aio *aio)
{
	pthread_mutex_lock(&p->mtx);
	p->aio = aio;
	nghttpw_aio_defer(aio, race_cancel, p);
	pthread_mutex_unlock(&p->mtx);
}

static void
race_start(race_prov *p, nghttpw_aio *aio)
{
	if (nghttpw_aio_begin(aio)) {
		race_start_deferred(p, aio);
	}
}

static bool
race_complete(race_prov *p, size_t count)
{
	nghttpw_aio *aio;

	pthread_mutex_lock(&p->mtx);
	if ((aio = p->aio) != NULL) {
		p->aio = NULL;
		nghttpw_aio_set_count(aio, count);
		nghttpw_aio_finish(aio, 0);
	}
	pthread_mutex_unlock(&p->mtx);
	return (aio != NULL);
}

/* A provider that completes inside the starting call. */
static void
instant_start(nghttpw_aio *aio, int rv, size_t count)
{
	if (nghttpw_aio_begin(aio)) {
		nghttpw_aio_set_count(aio, count);
		nghttpw_aio_finish(aio, rv);
	}
}

Test(aio, alloc_rejects_null)
{
	cr_assert_eq(nghttpw_aio_alloc(NULL, NULL, NULL), NGHTTPW_EINVAL);
}

Test(aio, result_and_count_from_provider)
{
	nghttpw_aio *aio;
	cb_record    r = { 0 };

	cr_assert_eq(nghttpw_aio_alloc(&aio, record_cb, &r), 0);
	instant_start(aio, NGHTTPW_EPROTO, 1234);
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), NGHTTPW_EPROTO);
	cr_assert_eq(nghttpw_aio_count(aio), 1234);
	cr_assert_eq(atomic_load(&r.calls), 1);
	instant_start(aio, 0, 7);
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), 0);
	cr_assert_eq(nghttpw_aio_count(aio), 7);
	cr_assert_eq(atomic_load(&r.calls), 2);
	nghttpw_aio_free(aio);
}

Test(aio, callback_never_inline_from_user_thread)
{
	nghttpw_aio *aio;
	cb_record    r = { 0 };

	cr_assert_eq(nghttpw_aio_alloc(&aio, record_cb, &r), 0);
	in_start_call = true;
	instant_start(aio, 0, 1);
	/* Had the callback run inside the call, it would be on this thread
	 * and would have seen in_start_call set (checked below). */
	in_start_call = false;
	nghttpw_aio_wait(aio);
	cr_assert_eq(atomic_load(&r.calls), 1);
	cr_assert(!pthread_equal(r.thread, pthread_self()));
	cr_assert_eq(atomic_load(&r.saw_starter), 0);
	nghttpw_aio_free(aio);
}

/* From a callback (an I/O thread), starting an operation that completes at
 * once must not run its callback inside that start either. */
typedef struct {
	nghttpw_aio *inner;
	atomic_int   inner_started_returned;
} chain;

static void
chain_outer_cb(void *arg)
{
	chain *c = arg;
	in_start_call = true;
	instant_start(c->inner, 0, 3);
	in_start_call = false;
	atomic_store(&c->inner_started_returned, 1);
}

Test(aio, callback_never_inline_from_io_thread)
{
	nghttpw_aio *outer;
	cb_record    r = { 0 };
	chain        c = { 0 };

	cr_assert_eq(nghttpw_aio_alloc(&c.inner, record_cb, &r), 0);
	cr_assert_eq(nghttpw_aio_alloc(&outer, chain_outer_cb, &c), 0);
	instant_start(outer, 0, 0);
	nghttpw_aio_wait(outer);
	nghttpw_aio_wait(c.inner);
	cr_assert_eq(atomic_load(&r.calls), 1);
	cr_assert_eq(atomic_load(&r.saw_starter), 0);
	/* Queued on the same loop, not handed to another thread. */
	cr_assert_eq(atomic_load(&c.inner_started_returned), 1);
	nghttpw_aio_free(outer);
	nghttpw_aio_free(c.inner);
}

Test(aio, sleep_completes_with_zero_after_delay)
{
	nghttpw_aio *aio;
	nghttpw_time start;

	cr_assert_eq(nghttpw_aio_alloc(&aio, NULL, NULL), 0);
	start = nghttpw_clock();
	nghttpw_sleep_aio(50, aio);
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), 0);
	cr_assert_geq(nghttpw_clock() - start, 50);
	cr_assert_lt(nghttpw_clock() - start, 1000);
	nghttpw_aio_free(aio);
}

Test(aio, timeout_fires_within_bound)
{
	nghttpw_aio *aio;
	race_prov    p = { .mtx = PTHREAD_MUTEX_INITIALIZER };
	nghttpw_time start, took;

	cr_assert_eq(nghttpw_aio_alloc(&aio, NULL, NULL), 0);
	nghttpw_aio_set_timeout(aio, 100);
	start = nghttpw_clock();
	race_start(&p, aio);
	nghttpw_aio_wait(aio);
	took = nghttpw_clock() - start;
	cr_assert_eq(nghttpw_aio_result(aio), NGHTTPW_ETIMEDOUT);
	cr_assert_geq(took, 100);
	cr_assert_lt(took, 400, "timeout took %llu ms", (unsigned long long) took);
	cr_assert_null(p.aio, "the provider's cancel function was not called");
	nghttpw_aio_free(aio);
}

Test(aio, sleep_cut_short_by_shorter_timeout)
{
	nghttpw_aio *aio;

	cr_assert_eq(nghttpw_aio_alloc(&aio, NULL, NULL), 0);
	nghttpw_aio_set_timeout(aio, 20);
	nghttpw_sleep_aio(5000, aio);
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), NGHTTPW_ETIMEDOUT);
	nghttpw_aio_free(aio);
}

Test(aio, zero_timeout_fails_at_once_without_inline_callback)
{
	nghttpw_aio *aio;
	cb_record    r = { 0 };
	race_prov    p = { .mtx = PTHREAD_MUTEX_INITIALIZER };

	cr_assert_eq(nghttpw_aio_alloc(&aio, record_cb, &r), 0);
	nghttpw_aio_set_timeout(aio, NGHTTPW_DURATION_ZERO);
	in_start_call = true;
	race_start(&p, aio);
	in_start_call = false;
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), NGHTTPW_ETIMEDOUT);
	cr_assert_eq(atomic_load(&r.saw_starter), 0);
	cr_assert_null(p.aio);
	nghttpw_aio_free(aio);
}

Test(aio, expire_in_the_past_times_out)
{
	nghttpw_aio *aio;
	race_prov    p = { .mtx = PTHREAD_MUTEX_INITIALIZER };

	cr_assert_eq(nghttpw_aio_alloc(&aio, NULL, NULL), 0);
	nghttpw_aio_set_expire(aio, nghttpw_clock() + 30);
	race_start(&p, aio);
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), NGHTTPW_ETIMEDOUT);
	nghttpw_aio_free(aio);
}

Test(aio, cancel_gives_ecanceled)
{
	nghttpw_aio *aio;
	cb_record    r = { 0 };

	cr_assert_eq(nghttpw_aio_alloc(&aio, record_cb, &r), 0);
	nghttpw_sleep_aio(NGHTTPW_DURATION_INFINITE, aio);
	cr_assert(nghttpw_aio_busy(aio));
	nghttpw_aio_cancel(aio);
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), NGHTTPW_ECANCELED);
	cr_assert_eq(atomic_load(&r.calls), 1);
	cr_assert(!nghttpw_aio_busy(aio));
	/* Cancelling with nothing pending changes nothing. */
	nghttpw_aio_cancel(aio);
	cr_assert_eq(atomic_load(&r.calls), 1);
	nghttpw_aio_free(aio);
}

Test(aio, abort_passes_its_code)
{
	nghttpw_aio *aio;
	race_prov    p = { .mtx = PTHREAD_MUTEX_INITIALIZER };

	cr_assert_eq(nghttpw_aio_alloc(&aio, NULL, NULL), 0);
	race_start(&p, aio);
	nghttpw_aio_abort(aio, NGHTTPW_ECONNSHUT);
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), NGHTTPW_ECONNSHUT);
	nghttpw_aio_free(aio);
}

/* An abort that comes before the defer reaches the provider through its
 * cancel function, after the defer has returned (the provider holds its
 * lock around the defer, and its cancel function takes that lock). */
Test(aio, abort_between_begin_and_defer_is_not_lost)
{
	nghttpw_aio *aio;
	cb_record    r = { 0 };
	race_prov    p = { .mtx = PTHREAD_MUTEX_INITIALIZER };

	cr_assert_eq(nghttpw_aio_alloc(&aio, record_cb, &r), 0);
	cr_assert(nghttpw_aio_begin(aio));
	nghttpw_aio_abort(aio, NGHTTPW_EPROTO);
	pthread_mutex_lock(&p.mtx);
	p.aio = aio;
	nghttpw_aio_defer(aio, race_cancel, &p);
	cr_assert_eq(atomic_load(&r.calls), 0);
	pthread_mutex_unlock(&p.mtx);
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), NGHTTPW_EPROTO);
	cr_assert_null(p.aio, "the cancel function was not called");
	cr_assert_eq(atomic_load(&r.calls), 1);
	nghttpw_aio_free(aio);
}

/* Stopped between begin and defer: nghttpw_aio_stop waits, the defer hands
 * the provider ECANCELED through its cancel function, and the provider's
 * one finish ends the stop. */
typedef struct {
	nghttpw_aio *aio;
	atomic_bool  returned;
} stopper;

static void *
stopper_main(void *arg)
{
	stopper *st = arg;

	nghttpw_aio_stop(st->aio);
	atomic_store(&st->returned, true);
	return (NULL);
}

Test(aio, stop_before_defer_reaches_the_cancel_function)
{
	nghttpw_aio *aio;
	cb_record    r = { 0 };
	race_prov    p = { .mtx = PTHREAD_MUTEX_INITIALIZER };
	stopper      st;
	pthread_t    t;

	cr_assert_eq(nghttpw_aio_alloc(&aio, record_cb, &r), 0);
	st = (stopper) { .aio = aio };
	cr_assert(nghttpw_aio_begin(aio));
	pthread_create(&t, NULL, stopper_main, &st);
	nghttpw_msleep(30);
	cr_assert(!atomic_load(&st.returned), "stop did not wait");
	race_start_deferred(&p, aio);
	pthread_join(t, NULL);
	cr_assert_eq(atomic_load(&r.calls), 1);
	cr_assert_eq(nghttpw_aio_result(aio), NGHTTPW_ECANCELED);
	cr_assert_null(p.aio);
	cr_assert(!race_complete(&p, 1), "the provider still held the aio");
	nghttpw_aio_free(aio);
}

/* Without a cancel function the operation cannot be cancelled, and so
 * does not time out either (as in nng): only its provider ends it. */
Test(aio, defer_without_cancel_function_waits_for_the_provider)
{
	nghttpw_aio *aio;
	race_prov    p = { .mtx = PTHREAD_MUTEX_INITIALIZER };

	cr_assert_eq(nghttpw_aio_alloc(&aio, NULL, NULL), 0);
	nghttpw_aio_set_timeout(aio, 10);
	cr_assert(nghttpw_aio_begin(aio));
	pthread_mutex_lock(&p.mtx);
	p.aio = aio;
	nghttpw_aio_defer(aio, NULL, NULL);
	pthread_mutex_unlock(&p.mtx);
	nghttpw_aio_cancel(aio);
	nghttpw_msleep(50);
	cr_assert(nghttpw_aio_busy(aio));
	cr_assert(race_complete(&p, 5));
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), 0);
	cr_assert_eq(nghttpw_aio_count(aio), 5);
	nghttpw_aio_free(aio);
}

static void *
stop_later(void *arg)
{
	nghttpw_msleep(50);
	nghttpw_aio_stop(arg);
	return (NULL);
}

Test(aio, stop_from_another_thread_and_begin_refuses_after)
{
	nghttpw_aio *aio;
	cb_record    r = { 0 };
	pthread_t    t;

	cr_assert_eq(nghttpw_aio_alloc(&aio, record_cb, &r), 0);
	nghttpw_sleep_aio(NGHTTPW_DURATION_INFINITE, aio);
	pthread_create(&t, NULL, stop_later, aio);
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), NGHTTPW_ECANCELED);
	pthread_join(t, NULL);
	cr_assert_eq(atomic_load(&r.calls), 1);
	cr_assert(!nghttpw_aio_begin(aio));
	nghttpw_sleep_aio(10, aio);
	nghttpw_msleep(30);
	cr_assert_eq(atomic_load(&r.calls), 1, "a stopped aio ran a callback");
	nghttpw_aio_free(aio);
}

static void
slow_cb(void *arg)
{
	nghttpw_msleep(100);
	atomic_store((atomic_int *) arg, 1);
}

static void *
wait_in_thread(void *arg)
{
	nghttpw_aio_wait(arg);
	return (NULL);
}

Test(aio, wait_and_stop_wait_for_the_callback)
{
	nghttpw_aio *aio;
	atomic_int   done = 0;
	pthread_t    t;

	cr_assert_eq(nghttpw_aio_alloc(&aio, slow_cb, &done), 0);
	instant_start(aio, 0, 0);
	pthread_create(&t, NULL, wait_in_thread, aio);
	pthread_join(t, NULL);
	cr_assert_eq(atomic_load(&done), 1, "wait returned before the callback");
	atomic_store(&done, 0);
	instant_start(aio, 0, 0);
	nghttpw_msleep(20); /* let the callback start */
	nghttpw_aio_stop(aio);
	cr_assert_eq(atomic_load(&done), 1, "stop returned before the callback");
	nghttpw_aio_free(aio);
}

Test(aio, inputs_outputs_and_bounds)
{
	nghttpw_aio *aio;
	int          x;

	cr_assert_eq(nghttpw_aio_alloc(&aio, NULL, NULL), 0);
	for (unsigned i = 0; i < 4; i++) {
		cr_assert_eq(nghttpw_aio_set_input(aio, i, &x), 0);
		cr_assert_eq(nghttpw_aio_get_input(aio, i), &x);
		cr_assert_eq(nghttpw_aio_set_output(aio, i, &x), 0);
	}
	cr_assert_eq(nghttpw_aio_set_input(aio, 4, &x), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_aio_set_output(aio, 4, &x), NGHTTPW_EINVAL);
	cr_assert_null(nghttpw_aio_get_input(aio, 4));
	cr_assert_null(nghttpw_aio_get_output(aio, 4));
	/* Outputs belong to an operation: beginning one clears them. */
	cr_assert(nghttpw_aio_begin(aio));
	cr_assert_null(nghttpw_aio_get_output(aio, 0));
	nghttpw_aio_finish(aio, 0);
	nghttpw_aio_wait(aio);
	nghttpw_aio_free(aio);
}

Test(aio, set_iov_copies_any_number_of_entries)
{
	nghttpw_aio *aio;
	nghttpw_iov  iov[3000];
	nghttpw_iov *got;
	char         byte;

	cr_assert_eq(nghttpw_aio_alloc(&aio, NULL, NULL), 0);
	for (unsigned i = 0; i < 3000; i++) {
		iov[i].iov_buf = &byte;
		iov[i].iov_len = i;
	}
	cr_assert_eq(nghttpw_aio_set_iov(aio, 3000, iov), 0);
	iov[5].iov_len = 999999; /* the aio holds its own copy */
	cr_assert_eq(nghttpw_aio_get_iov(aio, &got), 3000);
	cr_assert_eq(got[5].iov_len, 5);
	cr_assert_eq(got[2999].iov_len, 2999);
	cr_assert_eq(nghttpw_aio_set_iov(aio, 2, NULL), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_aio_set_iov(aio, 1, iov), 0);
	cr_assert_eq(nghttpw_aio_get_iov(aio, &got), 1);
	nghttpw_aio_free(aio);
}

static void
reap_self_cb(void *arg)
{
	nghttpw_aio **aiop = arg;
	nghttpw_aio_reap(*aiop);
}

Test(aio, reap_from_own_callback)
{
	nghttpw_aio *aio;

	cr_assert_eq(nghttpw_aio_alloc(&aio, reap_self_cb, &aio), 0);
	nghttpw_sleep_aio(1, aio);
	nghttpw_msleep(100);
	nghttpw_fini(); /* the reaper must have run; leak checkers see the rest */
}

/* A provider whose cancel function blocks until released: it keeps the
 * reaper busy, so that what is reaped next waits in the reaper's queue. */
static atomic_bool gate_open;

static void
gate_cancel(nghttpw_aio *aio, void *arg, int rv)
{
	(void) arg;
	while (!atomic_load(&gate_open)) {
		nghttpw_msleep(1);
	}
	nghttpw_aio_finish(aio, rv);
}

/* An operation that finishes while its reaped aio waits for the reaper
 * still gets its callback, and the aio is still freed. */
Test(aio, reap_queued_while_operation_finishes)
{
	nghttpw_aio *gate;
	nghttpw_aio *aio;
	cb_record    rec = { 0 };

	atomic_store(&gate_open, false);
	cr_assert_eq(nghttpw_aio_alloc(&gate, NULL, NULL), 0);
	cr_assert(nghttpw_aio_begin(gate));
	nghttpw_aio_defer(gate, gate_cancel, NULL);
	nghttpw_aio_reap(gate); /* the reaper blocks in gate_cancel */
	nghttpw_msleep(20);

	cr_assert_eq(nghttpw_aio_alloc(&aio, record_cb, &rec), 0);
	nghttpw_sleep_aio(10, aio);
	nghttpw_aio_reap(aio);
	nghttpw_msleep(50); /* the sleep ends while aio is queued */
	cr_assert_eq(atomic_load(&rec.calls), 0);

	atomic_store(&gate_open, true);
	for (int i = 0; i < 1000 && atomic_load(&rec.calls) == 0; i++) {
		nghttpw_msleep(1);
	}
	cr_assert_eq(atomic_load(&rec.calls), 1);
	nghttpw_fini(); /* both reaped; leak checkers see the rest */
}

static void
slow_record_cb(void *arg)
{
	nghttpw_msleep(30);
	record_cb(arg);
}

/* Reaped from another thread while its callback runs: freed after. */
Test(aio, reap_while_callback_runs)
{
	nghttpw_aio *aio;
	cb_record    rec = { 0 };

	cr_assert_eq(nghttpw_aio_alloc(&aio, slow_record_cb, &rec), 0);
	nghttpw_sleep_aio(1, aio);
	nghttpw_msleep(15); /* the callback has started */
	nghttpw_aio_reap(aio);
	for (int i = 0; i < 1000 && atomic_load(&rec.calls) == 0; i++) {
		nghttpw_msleep(1);
	}
	cr_assert_eq(atomic_load(&rec.calls), 1);
	nghttpw_fini();
}

static void *
wait_thread(void *arg)
{
	nghttpw_aio_wait(arg);
	return (NULL);
}

/* Aios of one loop share its condition variable: each wait returns when
 * its own aio is done, whatever the others do. */
Test(aio, waits_on_one_loop_are_independent)
{
	nghttpw_aio *a;
	nghttpw_aio *b;
	pthread_t    t;

	nghttpw_init_set_parameter(NGHTTPW_INIT_NUM_POLLER_THREADS, 1);
	cr_assert_eq(nghttpw_aio_alloc(&a, NULL, NULL), 0);
	cr_assert_eq(nghttpw_aio_alloc(&b, NULL, NULL), 0);
	nghttpw_sleep_aio(NGHTTPW_DURATION_INFINITE, b);
	pthread_create(&t, NULL, wait_thread, b);
	nghttpw_sleep_aio(10, a);
	nghttpw_aio_wait(a); /* b's waiter is woken too, and waits on */
	cr_assert_eq(nghttpw_aio_result(a), 0);
	cr_assert(nghttpw_aio_busy(b));
	nghttpw_aio_cancel(b);
	pthread_join(t, NULL);
	cr_assert_eq(nghttpw_aio_result(b), NGHTTPW_ECANCELED);
	nghttpw_aio_free(a);
	nghttpw_aio_free(b);
	nghttpw_fini();
}

Test(aio, free_null_is_noop)
{
	nghttpw_aio_free(NULL);
	nghttpw_aio_stop(NULL);
	nghttpw_aio_wait(NULL);
	nghttpw_aio_cancel(NULL);
}

/* How many I/O threads the runtime runs: aios are homed on the loops in
 * turn, and a sleep's callback runs on its aio's own loop. */
static int
count_io_threads(void)
{
	enum { N = 24 };
	nghttpw_aio *aio[N];
	cb_record    r[N];
	int          distinct = 0;

	memset(r, 0, sizeof(r));
	for (int i = 0; i < N; i++) {
		cr_assert_eq(nghttpw_aio_alloc(&aio[i], record_cb, &r[i]), 0);
		nghttpw_sleep_aio(1, aio[i]);
	}
	for (int i = 0; i < N; i++) {
		nghttpw_aio_wait(aio[i]);
		cr_assert_eq(atomic_load(&r[i].calls), 1);
	}
	for (int i = 0; i < N; i++) {
		int j = 0;
		while (j < i && !pthread_equal(r[j].thread, r[i].thread)) {
			j++;
		}
		distinct += j == i;
		nghttpw_aio_free(aio[i]);
	}
	return (distinct);
}

Test(aio, init_parameter_sets_the_io_threads)
{
	nghttpw_init_set_parameter(NGHTTPW_INIT_NUM_POLLER_THREADS, 3);
	cr_assert_eq(count_io_threads(), 3);
	nghttpw_fini();
}

/* nng's clamping: the cap wins over the number, and at least one. */
Test(aio, init_parameter_max_caps_and_zero_means_one)
{
	nghttpw_init_set_parameter(NGHTTPW_INIT_NUM_POLLER_THREADS, 3);
	nghttpw_init_set_parameter(NGHTTPW_INIT_MAX_POLLER_THREADS, 2);
	cr_assert_eq(count_io_threads(), 2);
	nghttpw_fini();
	nghttpw_init_set_parameter(NGHTTPW_INIT_MAX_POLLER_THREADS, 0);
	nghttpw_init_set_parameter(NGHTTPW_INIT_NUM_POLLER_THREADS, 0);
	cr_assert_eq(count_io_threads(), 1);
	nghttpw_fini();
}

/* nng's other parameters (and unknown ones) are accepted and change
 * nothing; once the runtime runs, a parameter is dropped, and after
 * nghttpw_fini the runtime starts anew with what was set before it. */
Test(aio, init_parameter_ignored_when_not_ours_or_too_late)
{
	nghttpw_init_set_parameter(NGHTTPW_INIT_NUM_POLLER_THREADS, 2);
	nghttpw_init_set_parameter(NGHTTPW_INIT_NUM_TASK_THREADS, 7);
	nghttpw_init_set_parameter(NGHTTPW_INIT_NUM_EXPIRE_THREADS, 7);
	nghttpw_init_set_parameter(NGHTTPW_INIT_NUM_RESOLVER_THREADS, 7);
	nghttpw_init_set_parameter(NGHTTPW_INIT_MAX_TASK_THREADS, 1);
	nghttpw_init_set_parameter(NGHTTPW_INIT_MAX_EXPIRE_THREADS, 1);
	nghttpw_init_set_parameter(NGHTTPW_INIT_PARAMETER_NONE, 5);
	nghttpw_init_set_parameter(99, 5);
	cr_assert_eq(count_io_threads(), 2);
	nghttpw_init_set_parameter(NGHTTPW_INIT_NUM_POLLER_THREADS, 3);
	cr_assert_eq(count_io_threads(), 2);
	nghttpw_fini();
	cr_assert_eq(count_io_threads(), 2);
	nghttpw_fini();
}

/* nng's numbers, which programs may have stored. */
Test(aio, init_parameter_values_are_nngs)
{
	cr_assert_eq(NGHTTPW_INIT_PARAMETER_NONE, 0);
	cr_assert_eq(NGHTTPW_INIT_NUM_TASK_THREADS, 1);
	cr_assert_eq(NGHTTPW_INIT_NUM_EXPIRE_THREADS, 2);
	cr_assert_eq(NGHTTPW_INIT_NUM_POLLER_THREADS, 3);
	cr_assert_eq(NGHTTPW_INIT_NUM_RESOLVER_THREADS, 4);
	cr_assert_eq(NGHTTPW_INIT_MAX_TASK_THREADS, 5);
	cr_assert_eq(NGHTTPW_INIT_MAX_EXPIRE_THREADS, 6);
	cr_assert_eq(NGHTTPW_INIT_MAX_POLLER_THREADS, 7);
}

Test(aio, strerror_covers_codes)
{
	cr_assert_str_eq(nghttpw_strerror(NGHTTPW_ECLOSED), "Object closed");
	cr_assert_str_eq(nghttpw_strerror(NGHTTPW_ETIMEDOUT), "Timed out");
	cr_assert_str_eq(nghttpw_strerror(NGHTTPW_ESYSERR | 2), strerror(2));
	cr_assert_not_null(strstr(nghttpw_strerror(4242), "4242"));
	for (int e = 1; e <= NGHTTPW_ECONNSHUT; e++) {
		cr_assert_null(strstr(nghttpw_strerror(e), "Unknown"), "code %d", e);
	}
}

/* Exactly once: cancel, abort, timeout and a completing thread race over
 * thousands of operations; each must end with exactly one callback. */

typedef struct {
	race_prov  *prov;
	atomic_bool stop;
} completer;

static void *
completer_main(void *arg)
{
	completer *c = arg;
	unsigned   seed = 7;

	while (!atomic_load(&c->stop)) {
		race_complete(c->prov, 42);
		if (rand_r(&seed) % 4 == 0) {
			sched_yield();
		}
	}
	return (NULL);
}

Test(aio, stress_exactly_once_under_races, .timeout = 60)
{
	race_prov   p = { .mtx = PTHREAD_MUTEX_INITIALIZER };
	completer   c = { .prov = &p };
	nghttpw_aio *aio;
	cb_record   r = { 0 };
	pthread_t   t;
	unsigned    seed  = 12345;
	int         iters = 20000;
	int         seen[4] = { 0 };

	cr_assert_eq(nghttpw_aio_alloc(&aio, record_cb, &r), 0);
	pthread_create(&t, NULL, completer_main, &c);
	for (int i = 0; i < iters; i++) {
		unsigned pick = rand_r(&seed);
		nghttpw_aio_set_timeout(aio, (nghttpw_duration) (pick % 3));
		race_start(&p, aio);
		switch ((pick >> 4) % 3) {
		case 0:
			nghttpw_aio_cancel(aio);
			break;
		case 1:
			nghttpw_aio_abort(aio, NGHTTPW_EPROTO);
			break;
		default:
			break;
		}
		nghttpw_aio_wait(aio);
		cr_assert_eq(atomic_load(&r.calls), i + 1, "iteration %d", i);
		int rv = nghttpw_aio_result(aio);
		if (rv == 0) {
			cr_assert_eq(nghttpw_aio_count(aio), 42);
			seen[0]++;
		} else if (rv == NGHTTPW_ECANCELED) {
			seen[1]++;
		} else if (rv == NGHTTPW_EPROTO) {
			seen[2]++;
		} else {
			cr_assert_eq(rv, NGHTTPW_ETIMEDOUT, "result %d", rv);
			seen[3]++;
		}
	}
	atomic_store(&c.stop, true);
	pthread_join(t, NULL);
	nghttpw_msleep(20);
	cr_assert_eq(atomic_load(&r.calls), iters, "late extra callback");
	cr_assert_null(p.aio);
	/* All four outcomes really were raced. */
	cr_assert_gt(seen[0], 0);
	cr_assert_gt(seen[1], 0);
	cr_assert_gt(seen[2], 0);
	cr_assert_gt(seen[3], 0);
	nghttpw_aio_free(aio);
}

/* Ported-from-nng providers against nghttpw_aio_stop from another thread,
 * a completer and timeouts of 0 to 2 ms: stop may land before begin,
 * between begin and defer, or while deferred.  Each begun operation gets
 * exactly one callback, before stop returns, and the provider never holds
 * an aio that stop has let go of. */
Test(aio, stress_user_provider_racing_stop, .timeout = 60)
{
	race_prov p = { .mtx = PTHREAD_MUTEX_INITIALIZER };
	completer c = { .prov = &p };
	pthread_t ct;
	unsigned  seed   = 4242;
	int       begun  = 0;
	int       iters  = 3000;

	pthread_create(&ct, NULL, completer_main, &c);
	for (int i = 0; i < iters; i++) {
		nghttpw_aio *aio;
		cb_record    r = { 0 };
		stopper      st;
		pthread_t    t;
		bool         ok;

		cr_assert_eq(nghttpw_aio_alloc(&aio, record_cb, &r), 0);
		nghttpw_aio_set_timeout(aio, (nghttpw_duration) (rand_r(&seed) % 3));
		st = (stopper) { .aio = aio };
		if (i % 4 == 0) {
			stopper_main(&st); /* surely before begin */
		} else {
			pthread_create(&t, NULL, stopper_main, &st);
		}
		if (rand_r(&seed) % 2 == 0) {
			sched_yield();
		}
		if ((ok = nghttpw_aio_begin(aio))) {
			race_start_deferred(&p, aio);
			begun++;
		}
		if (i % 4 != 0) {
			pthread_join(t, NULL);
		}
		cr_assert_eq(atomic_load(&r.calls), ok ? 1 : 0, "iteration %d", i);
		pthread_mutex_lock(&p.mtx);
		cr_assert_null(p.aio, "iteration %d: still held after stop", i);
		pthread_mutex_unlock(&p.mtx);
		nghttpw_aio_free(aio);
	}
	atomic_store(&c.stop, true);
	pthread_join(ct, NULL);
	cr_assert_gt(begun, 0, "stop always came before begin");
}

Test(aio, stress_stop_racing_sleep_and_free, .timeout = 60)
{
	unsigned seed = 99;

	for (int i = 0; i < 2000; i++) {
		nghttpw_aio *aio;
		cb_record    r = { 0 };
		cr_assert_eq(nghttpw_aio_alloc(&aio, record_cb, &r), 0);
		nghttpw_aio_set_timeout(aio, (nghttpw_duration) (rand_r(&seed) % 2));
		nghttpw_sleep_aio((nghttpw_duration) (rand_r(&seed) % 2), aio);
		nghttpw_aio_free(aio);
		cr_assert_eq(atomic_load(&r.calls), 1, "iteration %d", i);
	}
}

/* A callback that restarts its aio, with other threads waiting on it:
 * the aio stays busy from one operation into the next, so no wait returns
 * before the chain ends, and each callback sees its own result and count
 * (read without a lock). */
typedef struct {
	nghttpw_aio *aio;
	int          limit;
	atomic_int   calls;
	atomic_int   bad;
} restart_chain;

static void
chain_cb(void *arg)
{
	restart_chain *c = arg;
	int            n = atomic_fetch_add(&c->calls, 1) + 1;

	if (nghttpw_aio_result(c->aio) != n ||
	    nghttpw_aio_count(c->aio) != (size_t) n) {
		atomic_fetch_add(&c->bad, 1);
	}
	if (n < c->limit) {
		instant_start(c->aio, n + 1, (size_t) n + 1);
	}
}

static void *
chain_waiter(void *arg)
{
	restart_chain *c = arg;

	nghttpw_aio_wait(c->aio);
	if (atomic_load(&c->calls) != c->limit || nghttpw_aio_busy(c->aio)) {
		atomic_fetch_add(&c->bad, 1);
	}
	return (NULL);
}

Test(aio, stress_waiters_on_a_restarting_callback, .timeout = 60)
{
	enum { WAITERS = 3 };
	restart_chain c = { .limit = 20 };
	pthread_t     t[WAITERS];

	cr_assert_eq(nghttpw_aio_alloc(&c.aio, chain_cb, &c), 0);
	for (int round = 0; round < 500; round++) {
		atomic_store(&c.calls, 0);
		instant_start(c.aio, 1, 1);
		for (int i = 0; i < WAITERS; i++) {
			pthread_create(&t[i], NULL, chain_waiter, &c);
		}
		chain_waiter(&c);
		for (int i = 0; i < WAITERS; i++) {
			pthread_join(t[i], NULL);
		}
		cr_assert_eq(atomic_load(&c.bad), 0, "round %d", round);
	}
	nghttpw_aio_free(c.aio);
}

/* A callback that reaps its own aio while nghttpw_fini is shutting the
 * loops down must neither deadlock nor leak. */
Test(aio, stress_reap_from_callback_during_fini, .timeout = 60)
{
	for (int i = 0; i < 200; i++) {
		nghttpw_aio *aio;
		cr_assert_eq(nghttpw_aio_alloc(&aio, reap_self_cb, &aio), 0);
		instant_start(aio, 0, 0);
		nghttpw_fini();
	}
}
