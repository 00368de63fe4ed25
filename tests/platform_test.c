/* nng's portable helpers under their nghttpw names: threads, mutexes and
 * condition variables tested with real concurrency, the random numbers
 * and the socket pair. */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "nghttpw/nghttpw.h"

enum { THREADS = 4, ROUNDS = 100000 };

typedef struct {
	nghttpw_mtx *mtx;
	nghttpw_cv  *cv;
	long         counter; /* guarded by mtx, bumped without atomics */
	int          tokens;
	bool         go;
	atomic_int   woken;
} shared;

static void
count_under_lock(void *arg)
{
	shared *sh = arg;

	for (int i = 0; i < ROUNDS; i++) {
		nghttpw_mtx_lock(sh->mtx);
		sh->counter++;
		nghttpw_mtx_unlock(sh->mtx);
	}
}

/* Lost updates would show in the total (and to TSan) if the lock did not
 * exclude. */
Test(platform, mutex_excludes_across_threads)
{
	shared          sh = { 0 };
	nghttpw_thread *t[THREADS];

	cr_assert_eq(nghttpw_mtx_alloc(&sh.mtx), 0);
	for (int i = 0; i < THREADS; i++) {
		cr_assert_eq(nghttpw_thread_create(&t[i], count_under_lock, &sh), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		nghttpw_thread_destroy(t[i]);
	}
	cr_assert_eq(sh.counter, (long) THREADS * ROUNDS);
	nghttpw_mtx_free(sh.mtx);
}

static void
wait_for_go(void *arg)
{
	shared *sh = arg;

	nghttpw_mtx_lock(sh->mtx);
	while (!sh->go) {
		nghttpw_cv_wait(sh->cv);
	}
	nghttpw_mtx_unlock(sh->mtx);
	atomic_fetch_add(&sh->woken, 1);
}

static void
take_one_token(void *arg)
{
	shared *sh = arg;

	nghttpw_mtx_lock(sh->mtx);
	while (sh->tokens == 0) {
		nghttpw_cv_wait(sh->cv);
	}
	sh->tokens--;
	nghttpw_mtx_unlock(sh->mtx);
	atomic_fetch_add(&sh->woken, 1);
}

static void
wait_woken(shared *sh, int want)
{
	for (int i = 0; i < 2000 && atomic_load(&sh->woken) < want; i++) {
		nghttpw_msleep(1);
	}
}

Test(platform, cv_wake_wakes_every_waiter)
{
	shared          sh = { 0 };
	nghttpw_thread *t[THREADS];

	cr_assert_eq(nghttpw_mtx_alloc(&sh.mtx), 0);
	cr_assert_eq(nghttpw_cv_alloc(&sh.cv, sh.mtx), 0);
	for (int i = 0; i < THREADS; i++) {
		cr_assert_eq(nghttpw_thread_create(&t[i], wait_for_go, &sh), 0);
	}
	nghttpw_msleep(30); /* most are waiting by now; the rest see go */
	cr_assert_eq(atomic_load(&sh.woken), 0);
	nghttpw_mtx_lock(sh.mtx);
	sh.go = true;
	nghttpw_cv_wake(sh.cv);
	nghttpw_mtx_unlock(sh.mtx);
	wait_woken(&sh, THREADS);
	cr_assert_eq(atomic_load(&sh.woken), THREADS);
	for (int i = 0; i < THREADS; i++) {
		nghttpw_thread_destroy(t[i]);
	}
	nghttpw_cv_free(sh.cv);
	nghttpw_mtx_free(sh.mtx);
}

/* One token and one wake1 at a time: the waiters finish one by one. */
Test(platform, cv_wake1_wakes_one_at_a_time)
{
	shared          sh = { 0 };
	nghttpw_thread *t[THREADS];

	cr_assert_eq(nghttpw_mtx_alloc(&sh.mtx), 0);
	cr_assert_eq(nghttpw_cv_alloc(&sh.cv, sh.mtx), 0);
	for (int i = 0; i < THREADS; i++) {
		cr_assert_eq(nghttpw_thread_create(&t[i], take_one_token, &sh), 0);
	}
	nghttpw_msleep(30);
	for (int n = 1; n <= THREADS; n++) {
		nghttpw_mtx_lock(sh.mtx);
		sh.tokens++;
		nghttpw_cv_wake1(sh.cv);
		nghttpw_mtx_unlock(sh.mtx);
		wait_woken(&sh, n);
		nghttpw_msleep(10); /* no second waiter leaves on one token */
		cr_assert_eq(atomic_load(&sh.woken), n);
	}
	for (int i = 0; i < THREADS; i++) {
		nghttpw_thread_destroy(t[i]);
	}
	nghttpw_cv_free(sh.cv);
	nghttpw_mtx_free(sh.mtx);
}

Test(platform, cv_until_times_out_on_the_library_clock)
{
	nghttpw_mtx *m;
	nghttpw_cv  *cv;
	nghttpw_time start = nghttpw_clock();
	int          rv;

	cr_assert_eq(nghttpw_mtx_alloc(&m), 0);
	cr_assert_eq(nghttpw_cv_alloc(&cv, m), 0);
	nghttpw_mtx_lock(m);
	do { /* a spurious wake-up returns 0 early */
		rv = nghttpw_cv_until(cv, start + 50);
	} while (rv == 0);
	nghttpw_mtx_unlock(m);
	cr_assert_eq(rv, NGHTTPW_ETIMEDOUT);
	cr_assert_geq(nghttpw_clock() - start, 50);
	cr_assert_lt(nghttpw_clock() - start, 1000);
	/* A deadline already passed returns at once. */
	nghttpw_mtx_lock(m);
	cr_assert_eq(nghttpw_cv_until(cv, start), NGHTTPW_ETIMEDOUT);
	nghttpw_mtx_unlock(m);
	nghttpw_cv_free(cv);
	nghttpw_mtx_free(m);
}

static void
go_later(void *arg)
{
	shared *sh = arg;

	nghttpw_msleep(20);
	nghttpw_mtx_lock(sh->mtx);
	sh->go = true;
	nghttpw_cv_wake(sh->cv);
	nghttpw_mtx_unlock(sh->mtx);
}

Test(platform, cv_until_returns_zero_when_woken)
{
	shared          sh = { 0 };
	nghttpw_thread *t;
	nghttpw_time    start = nghttpw_clock();

	cr_assert_eq(nghttpw_mtx_alloc(&sh.mtx), 0);
	cr_assert_eq(nghttpw_cv_alloc(&sh.cv, sh.mtx), 0);
	cr_assert_eq(nghttpw_thread_create(&t, go_later, &sh), 0);
	nghttpw_mtx_lock(sh.mtx);
	while (!sh.go) {
		cr_assert_eq(nghttpw_cv_until(sh.cv, start + 5000), 0);
	}
	nghttpw_mtx_unlock(sh.mtx);
	cr_assert_lt(nghttpw_clock() - start, 2000);
	nghttpw_thread_destroy(t);
	nghttpw_cv_free(sh.cv);
	nghttpw_mtx_free(sh.mtx);
}

typedef struct {
	atomic_bool named; /* set_name from outside is done */
	char        seen[32];
	char        own[32];
} names;

static void
read_names(void *arg)
{
	names *n = arg;

	while (!atomic_load(&n->named)) {
		nghttpw_msleep(1);
	}
	pthread_getname_np(pthread_self(), n->seen, sizeof(n->seen));
	/* NULL names the calling thread, as in nng. */
	nghttpw_thread_set_name(NULL, "a-name-much-longer-than-fifteen");
	pthread_getname_np(pthread_self(), n->own, sizeof(n->own));
}

Test(platform, thread_names)
{
	nghttpw_thread *t;
	names           n = { 0 };

	cr_assert_eq(nghttpw_thread_create(&t, read_names, &n), 0);
	nghttpw_thread_set_name(t, "worker");
	atomic_store(&n.named, true);
	nghttpw_thread_destroy(t);
	cr_assert_str_eq(n.seen, "worker");
	cr_assert_str_eq(n.own, "a-name-much-lon"); /* Linux keeps 15 */
}

static void
slow_then_flag(void *arg)
{
	nghttpw_msleep(50);
	atomic_store((atomic_bool *) arg, true);
}

Test(platform, thread_destroy_waits_for_the_thread)
{
	nghttpw_thread *t;
	atomic_bool     done = false;

	cr_assert_eq(nghttpw_thread_create(&t, slow_then_flag, &done), 0);
	nghttpw_thread_destroy(t);
	cr_assert(atomic_load(&done));
	nghttpw_thread_destroy(NULL);
}

/* Every bit takes both values over a thousand draws (a stuck bit, a
 * constant or a counter would not). */
Test(platform, random_varies_in_every_bit)
{
	uint32_t ones = 0, zeros = 0, first = nghttpw_random();
	bool     differs = false;

	for (int i = 0; i < 1000; i++) {
		uint32_t v = nghttpw_random();
		ones |= v;
		zeros |= ~v;
		differs |= v != first;
	}
	cr_assert(differs);
	cr_assert_eq(ones, UINT32_MAX);
	cr_assert_eq(zeros, UINT32_MAX);
}

Test(platform, socket_pair_carries_bytes_both_ways)
{
	int  fds[2];
	char buf[8];

	cr_assert_eq(nghttpw_socket_pair(fds), 0);
	cr_assert_eq(write(fds[0], "ping", 4), 4);
	cr_assert_eq(read(fds[1], buf, sizeof(buf)), 4);
	cr_assert_eq(memcmp(buf, "ping", 4), 0);
	cr_assert_eq(write(fds[1], "pong", 4), 4);
	cr_assert_eq(read(fds[0], buf, sizeof(buf)), 4);
	cr_assert_eq(memcmp(buf, "pong", 4), 0);
	close(fds[0]);
	cr_assert_eq(read(fds[1], buf, sizeof(buf)), 0); /* EOF */
	close(fds[1]);
}
