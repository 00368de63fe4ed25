/* The slow paths of plat_mutex and plat_cond, on Linux futexes. */
#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "platform/mutex.h"

/* Rounds of spinning before sleeping: a holder keeps these locks for a
 * few dozen instructions, so a short wait usually beats two system calls. */
#define SPIN_ROUNDS 100

static void
futex_wait(atomic_uint *word, unsigned expected)
{
	/* EAGAIN (the word changed) and EINTR both mean: look again. */
	(void) syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, expected, NULL,
	    NULL, 0);
}

static void
futex_wake(atomic_uint *word, int n)
{
	(void) syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}

static inline void
cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

/* Locks m marked as having sleepers, sleeping until it is free: whoever
 * unlocks then wakes one, which marks it again, so no sleeper is
 * forgotten. */
static void
mutex_lock_marked(plat_mutex *m)
{
	while (atomic_exchange_explicit(&m->state, 2, memory_order_acquire) != 0) {
		futex_wait(&m->state, 2);
	}
}

void
plat_mutex_lock_contended(plat_mutex *m)
{
	for (int i = 0; i < SPIN_ROUNDS; i++) {
		unsigned expected = 0;
		if (atomic_load_explicit(&m->state, memory_order_relaxed) == 0 &&
		    atomic_compare_exchange_weak_explicit(&m->state, &expected,
		        1, memory_order_acquire, memory_order_relaxed)) {
			return;
		}
		cpu_relax();
	}
	mutex_lock_marked(m);
}

void
plat_mutex_wake(plat_mutex *m)
{
	futex_wake(&m->state, 1);
}

void
plat_cond_wait(plat_cond *c, plat_mutex *m)
{
	/* Read under the mutex: a broadcast after the unlock changes seq,
	 * and the futex then refuses to sleep. */
	unsigned seq = atomic_load_explicit(&c->seq, memory_order_relaxed);

	plat_mutex_unlock(m);
	futex_wait(&c->seq, seq);
	/* Others woken with us may still sleep on the mutex. */
	mutex_lock_marked(m);
}

void
plat_cond_broadcast(plat_cond *c)
{
	atomic_fetch_add_explicit(&c->seq, 1, memory_order_relaxed);
	futex_wake(&c->seq, INT_MAX);
}
