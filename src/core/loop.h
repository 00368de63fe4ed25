/* Event loops: one thread each, running a poller (epoll or io_uring), a per-loop timer
 * heap and a run queue of deferred tasks.  Sockets belong to one loop;
 * completions run on the thread that saw the I/O. */
#ifndef NGHTTPW_CORE_LOOP_H
#define NGHTTPW_CORE_LOOP_H

#include <pthread.h>
#include <stddef.h>

#include "core/list.h"
#include "core/task.h"
#include "nghttpw/nghttpw.h"
#include "platform/mutex.h"
#include "platform/poller.h"

#define TIMER_NEVER UINT64_MAX

typedef struct loop loop;

/* A timer entry, embedded in its owner.  expire is called on the loop's
 * thread with the loop's mutex held; it may drop and retake it. */
typedef struct timer_node {
	nghttpw_time deadline;
	size_t       index; /* position in the heap, SIZE_MAX when absent */
	void (*expire)(struct timer_node *);
} timer_node;

/* Starts the runtime if needed and returns a loop, round-robin; NULL when
 * the runtime could not start (*rvp says why).  loop_pick places new
 * connections and listeners; loop_pick_home gives an aio allocated
 * without a home its own, from a rotation of its own. */
loop *loop_pick(int *rvp);
loop *loop_pick_home(int *rvp);

/* The loop whose thread is calling, or NULL. */
loop *loop_current(void);

/* The start of every loop, visible so that the mutex (taken by every aio
 * operation) is reached without a call or a pointer of its own. */
typedef struct loop_head {
	plat_mutex mtx;
	/* For threads that wait, under mtx, on something homed on the loop.
	 * Shared: a broadcast wakes every such waiter, and each rechecks its
	 * own condition. */
	plat_cond cv;
} loop_head;

static inline plat_mutex *
loop_mutex(loop *l)
{
	return (&((loop_head *) (void *) l)->mtx);
}

static inline plat_cond *
loop_cond(loop *l)
{
	return (&((loop_head *) (void *) l)->cv);
}

/* Queues t to run on l's thread after the current batch of events; never
 * runs it inline.  The _locked form is for callers holding l's mutex. */
void loop_post(loop *l, task *t);
void loop_post_locked(loop *l, task *t);

/* Whether l's thread has ended (nghttpw_fini): what is posted to it then
 * never runs.  l's mutex held. */
bool loop_exited_locked(loop *l);

/* Queues t on the calling thread's loop, without a lock; false (and
 * nothing queued) when the caller is not on a loop. */
bool loop_push_current(task *t);

/* Timers; the caller holds the loop's mutex.  Whoever owns a timer
 * reserves room for it first (reserve may fail with NGHTTPW_ENOMEM), and
 * releases that once the timer is gone for good; adding then never fails. */
void timer_init(timer_node *, void (*expire)(timer_node *));
int  loop_timer_reserve_locked(loop *);
void loop_timer_release_locked(loop *);
void loop_timer_add_locked(loop *, timer_node *);
void loop_timer_remove_locked(loop *, timer_node *);

/* Whether t is in its loop's heap: a check callers inline, since most
 * completions have no timer to remove. */
static inline bool
timer_armed(const timer_node *t)
{
	return (t->index != SIZE_MAX);
}

/* The loop's poller: its back-end, and on io_uring its ring, which only
 * the loop's own thread may submit to. */
poller *loop_poller(loop *);

/* Readiness registration for a descriptor. */
int  loop_poll_add(loop *, poller_fd *);
void loop_poll_del(loop *, poller_fd *);

/* Runs t on a library thread that may block (used to free aios). */
void runtime_reap(task *t);

/* Asks for the memory freed lately to go back to the system: for a burst
 * of frees that leaves the heaps mostly empty (connections parked), since
 * malloc returns pages below a chunk still in use only when told.  The
 * reaper does it once it has been idle a little while, at most every few
 * hundred milliseconds however often this is called. */
void runtime_trim_soon(void);

/* runtime_reap for frees nobody waits for, many at a time (connections
 * parking): without a wake-up of the reaper each, but by the time of the
 * next trim (runtime_trim_soon, which this asks for). */
void runtime_reap_lazy(task *t);

/* Stops every loop and the reaper; used by nghttpw_fini. */
void runtime_stop(void);

/* Something that goes on in the background after its owner let go of it
 * (a WebSocket's closing handshake, say).  nghttpw_fini first takes each
 * off the list and calls its stop, without any lock of the runtime's
 * held, which must end the background work (what is left to free then
 * goes through the loops and the reaper as usual).  remove says whether
 * it was still listed: whoever takes it off owns what the listing held. */
typedef struct runtime_linger {
	list_node node;
	void (*stop)(struct runtime_linger *);
} runtime_linger;

void runtime_linger_add(runtime_linger *);
bool runtime_linger_remove(runtime_linger *);

#endif
