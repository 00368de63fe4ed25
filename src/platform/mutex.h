/* A mutex and condition variable for the library's hottest locks: each
 * loop's (taken by every aio operation, several times per request) and
 * those of the connections on the request path.  Uncontended, a lock or
 * an unlock is one atomic instruction, inline, where a pthread mutex
 * costs a call and some fifty instructions more per pair.  Contended, a
 * thread spins briefly, then sleeps on a futex.
 *
 * The state word: 0 free, 1 held, 2 held with sleepers (or maybe). */
#ifndef NGHTTPW_PLATFORM_MUTEX_H
#define NGHTTPW_PLATFORM_MUTEX_H

#include <stdatomic.h>

typedef struct plat_mutex {
	atomic_uint state;
} plat_mutex;

/* Waiters are woken by a change of seq; they recheck their condition. */
typedef struct plat_cond {
	atomic_uint seq;
} plat_cond;

#define PLAT_MUTEX_INITIALIZER { 0 }
#define PLAT_COND_INITIALIZER { 0 }

void plat_mutex_lock_contended(plat_mutex *);
void plat_mutex_wake(plat_mutex *);

static inline void
plat_mutex_init(plat_mutex *m)
{
	atomic_init(&m->state, 0);
}

static inline void
plat_mutex_lock(plat_mutex *m)
{
	unsigned expected = 0;

	if (!atomic_compare_exchange_strong_explicit(&m->state, &expected, 1,
	        memory_order_acquire, memory_order_relaxed)) {
		plat_mutex_lock_contended(m);
	}
}

static inline void
plat_mutex_unlock(plat_mutex *m)
{
	if (atomic_exchange_explicit(&m->state, 0, memory_order_release) == 2) {
		plat_mutex_wake(m);
	}
}

static inline void
plat_cond_init(plat_cond *c)
{
	atomic_init(&c->seq, 0);
}

/* Unlocks m, sleeps until a broadcast (or spuriously), locks m again. */
void plat_cond_wait(plat_cond *, plat_mutex *);

/* Wakes every waiter; the caller holds the waiters' mutex. */
void plat_cond_broadcast(plat_cond *);

#endif
