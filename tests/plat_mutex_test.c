/* The library's own futex mutex and condition variable (src/platform/
 * mutex.c), which every aio operation and connection lock goes through:
 * exclusion under contention (the spin and the sleeping path), and a
 * broadcast that no waiter misses, over many rounds. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include <criterion/criterion.h>

#include "platform/mutex.h"

enum { THREADS = 4, ROUNDS = 200000, PING_ROUNDS = 20000 };

static plat_mutex mtx = PLAT_MUTEX_INITIALIZER;
static plat_cond  cond = PLAT_COND_INITIALIZER;
static long       counter; /* guarded by mtx, bumped without atomics */

static void *
count_under_lock(void *arg)
{
	(void) arg;
	for (int i = 0; i < ROUNDS; i++) {
		plat_mutex_lock(&mtx);
		counter++;
		plat_mutex_unlock(&mtx);
	}
	return (NULL);
}

/* More threads than CPUs, so holders are preempted and waiters sleep on
 * the futex: a lost update or a lost wake-up shows as a wrong total or a
 * hang (the test's timeout). */
Test(plat_mutex, excludes_under_contention, .timeout = 60)
{
	pthread_t t[THREADS];

	counter = 0;
	for (int i = 0; i < THREADS; i++) {
		cr_assert_eq(pthread_create(&t[i], NULL, count_under_lock, NULL), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(t[i], NULL);
	}
	cr_assert_eq(counter, (long) THREADS * ROUNDS);
	cr_assert_eq(atomic_load(&mtx.state), 0, "left locked or marked");
}

static int turn; /* whose move: 0 or 1, guarded by mtx */

static void *
ping_pong(void *arg)
{
	int me = (int) (long) arg;

	for (int i = 0; i < PING_ROUNDS; i++) {
		plat_mutex_lock(&mtx);
		while (turn != me) {
			plat_cond_wait(&cond, &mtx);
		}
		turn = 1 - me;
		plat_cond_broadcast(&cond);
		plat_mutex_unlock(&mtx);
	}
	return (NULL);
}

/* Two threads that each wait for the other's move, 20,000 times each:
 * every move is one broadcast that the other must not miss, whether it
 * is already asleep or just about to sleep. */
Test(plat_mutex, cond_broadcast_is_never_missed, .timeout = 60)
{
	pthread_t a, b;

	turn = 0;
	cr_assert_eq(pthread_create(&a, NULL, ping_pong, (void *) 0L), 0);
	cr_assert_eq(pthread_create(&b, NULL, ping_pong, (void *) 1L), 0);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	cr_assert_eq(turn, 0);
}
