/* The aio: one asynchronous operation at a time, completed exactly once.
 *
 * A provider calls begin, then either finishes at once or defers with a
 * cancel function.  Abort, timeout and stop reach the provider only through
 * that cancel function, which finishes the aio if it still owns it.  The
 * callback is always run from a loop's run queue, never from the call that
 * finished the operation.
 *
 * Two defers: the library's own providers use aio_defer, which finishes
 * the aio itself when the operation may not start and says so.  The public
 * nghttpw_aio_defer is nng's: it returns nothing, so the provider always
 * goes on to own the aio, and an operation that may not start (stopped,
 * aborted or already expired) reaches it through its cancel function,
 * called soon after from the aio's loop, never from inside the defer (the
 * provider usually holds the lock its cancel function takes). */
#include <stdlib.h>
#include <string.h>

#include "core/aio.h"

/* Cancel functions in flight, so a provider can wait them out before it
 * frees the argument they were given. */
typedef struct cancel_call {
	void               *arg;
	struct cancel_call *next;
} cancel_call;

static pthread_mutex_t cancel_mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t  cancel_cv  = PTHREAD_COND_INITIALIZER;
static cancel_call    *cancel_calls;

static void
cancel_call_push(cancel_call *c, void *arg)
{
	c->arg = arg;
	pthread_mutex_lock(&cancel_mtx);
	c->next      = cancel_calls;
	cancel_calls = c;
	pthread_mutex_unlock(&cancel_mtx);
}

static void
cancel_call_pop(cancel_call *c)
{
	pthread_mutex_lock(&cancel_mtx);
	for (cancel_call **pp = &cancel_calls; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	pthread_cond_broadcast(&cancel_cv);
	pthread_mutex_unlock(&cancel_mtx);
}

void
aio_cancel_barrier(void *arg)
{
	pthread_mutex_lock(&cancel_mtx);
	for (;;) {
		cancel_call *c = cancel_calls;
		while (c != NULL && c->arg != arg) {
			c = c->next;
		}
		if (c == NULL) {
			break;
		}
		pthread_cond_wait(&cancel_cv, &cancel_mtx);
	}
	pthread_mutex_unlock(&cancel_mtx);
}

static void aio_run_callback(void *arg);
static void aio_reap_task(void *arg);
static void aio_expire(timer_node *t);

/* nghttpw_aio_reap hands the aio to the reaper through done_task, which
 * is free only while no callback is queued or running.  So the hand-over
 * waits for the last callback, and a callback owed while the task is on
 * the reaper's queue is queued by the reaper when it gets the task. */
enum {
	REAP_NONE,      /* not reaped, or the reaper has it */
	REAP_HELD,      /* reaped: the last callback to return hands it over */
	REAP_QUEUED,    /* done_task is on the reaper's queue */
	REAP_QUEUED_CB, /* ... and the operation finished meanwhile */
};

/* cb_state: the count of callbacks queued or running, and two flags for
 * when the last one to end has something to do under the lock.  A
 * callback that ends with no flag set needs only one atomic step, and
 * touches the aio no more after it: whoever waits for it may free it. */
#define CB_WAITERS (1u << 30) /* a thread is in nghttpw_aio_wait */
#define CB_REAP (1u << 31)    /* reaped while a callback was owed */
#define CB_COUNT(s) ((s) & ~(CB_WAITERS | CB_REAP))

static inline unsigned
aio_callbacks(nghttpw_aio *aio)
{
	return (CB_COUNT(atomic_load(&aio->cb_state)));
}

static inline void
aio_lock(nghttpw_aio *aio)
{
	plat_mutex_lock(loop_mutex(aio->home));
}

static inline void
aio_unlock(nghttpw_aio *aio)
{
	plat_mutex_unlock(loop_mutex(aio->home));
}

/* Wakes nghttpw_aio_wait; a broadcast nobody waits for is skipped, as it
 * would be on every completion. */
static inline void
aio_wake_locked(nghttpw_aio *aio)
{
	if (aio->waiters > 0) {
		plat_cond_broadcast(loop_cond(aio->home));
	}
}

/* Queues the callback: on the calling loop when there is one (no thread
 * hop after I/O), else on the aio's home loop.  The aio counts as in its
 * callback from now on, so the callback need not lock before it runs:
 * the run queue orders these writes before it.  Home mutex held. */
static void
aio_dispatch_locked(nghttpw_aio *aio)
{
	aio->pending = false;
	/* A counter: a callback that restarts the aio may still be running
	 * its tail on one loop when the next completion runs on another. */
	atomic_fetch_add(&aio->cb_state, 1);
	if (aio->reap == REAP_QUEUED) {
		aio->reap = REAP_QUEUED_CB;
	} else if (!loop_push_current(&aio->done_task)) {
		loop_post_locked(aio->home, &aio->done_task);
	}
}

static void
aio_finish_locked(nghttpw_aio *aio, int rv)
{
	aio->cancel_fn  = NULL;
	aio->cancel_arg = NULL;
	aio->finished   = true;
	atomic_store_explicit(&aio->result, rv, memory_order_relaxed);
	if (timer_armed(&aio->timer)) {
		loop_timer_remove_locked(aio->home, &aio->timer);
	}
	/* A cancel function still running may hold stale references to this
	 * operation; the callback waits for it so no new operation overlaps. */
	if (aio->cancelling > 0) {
		aio->finish_held = true;
	} else {
		aio_dispatch_locked(aio);
	}
}

static void
aio_cancel_done_locked(nghttpw_aio *aio)
{
	if (--aio->cancelling == 0 && aio->finish_held) {
		aio->finish_held = false;
		aio_dispatch_locked(aio);
	}
	aio_wake_locked(aio);
}

/* Calls the cancel function of the deferred operation, if any.  Entered
 * with the home mutex held; returns with it held. */
static void
aio_cancel_locked(nghttpw_aio *aio, int rv)
{
	nghttpw_aio_cancelfn fn  = aio->cancel_fn;
	void                *arg = aio->cancel_arg;
	cancel_call          call;

	if (fn == NULL) {
		return;
	}
	aio->cancel_fn  = NULL;
	aio->cancel_arg = NULL;
	if (timer_armed(&aio->timer)) {
		loop_timer_remove_locked(aio->home, &aio->timer);
	}
	aio->cancelling++;
	cancel_call_push(&call, arg);
	aio_unlock(aio);
	fn(aio, arg, rv);
	cancel_call_pop(&call);
	aio_lock(aio);
	aio_cancel_done_locked(aio);
}

int
aio_alloc_on(nghttpw_aio **aiop, void (*cb)(void *), void *arg, loop *home)
{
	nghttpw_aio *aio;
	int          rv = 0;

	if (aiop == NULL) {
		return (NGHTTPW_EINVAL);
	}
	if (home == NULL && (home = loop_pick_home(&rv)) == NULL) {
		return (rv);
	}
	if ((aio = calloc(1, sizeof(*aio))) == NULL) {
		return (NGHTTPW_ENOMEM);
	}
	aio->home    = home;
	aio->cb      = cb;
	aio->cb_arg  = arg;
	aio->timeout = NGHTTPW_DURATION_DEFAULT;
	aio->iov     = aio->iov_inline;
	aio->iov_cap = AIO_IOV_INLINE;
	timer_init(&aio->timer, aio_expire);
	task_init(&aio->done_task, aio_run_callback, aio);
	plat_mutex_lock(loop_mutex(home));
	rv = loop_timer_reserve_locked(home);
	plat_mutex_unlock(loop_mutex(home));
	if (rv != 0) {
		free(aio);
		return (rv);
	}
	*aiop = aio;
	return (0);
}

int
nghttpw_aio_alloc(nghttpw_aio **aiop, void (*cb)(void *), void *arg)
{
	return (aio_alloc_on(aiop, cb, arg, NULL));
}

void
nghttpw_aio_free(nghttpw_aio *aio)
{
	if (aio == NULL) {
		return;
	}
	nghttpw_aio_stop(aio);
	aio_lock(aio);
	loop_timer_release_locked(aio->home);
	aio_unlock(aio);
	if (aio->iov != aio->iov_inline) {
		free(aio->iov);
	}
	free(aio);
}

/* Puts done_task on the reaper's queue if nothing else needs it now;
 * true when the caller, after unlocking, is to call runtime_reap. */
static bool
aio_reap_locked(nghttpw_aio *aio)
{
	/* Flagged first, so that a callback ending at the same time either
	 * is counted here or sees the flag and comes to the lock. */
	if (CB_COUNT(atomic_fetch_or(&aio->cb_state, CB_REAP)) > 0) {
		aio->reap = REAP_HELD;
		return (false);
	}
	atomic_fetch_and(&aio->cb_state, ~CB_REAP);
	aio->reap         = REAP_QUEUED;
	aio->done_task.fn  = aio_reap_task;
	return (true);
}

static void
aio_reap_task(void *arg)
{
	nghttpw_aio *aio      = arg;
	bool         run_here = false;

	aio_lock(aio);
	aio->done_task.fn = aio_run_callback;
	if (aio->reap == REAP_QUEUED_CB) {
		/* Once nghttpw_fini has ended the loops, nobody else will. */
		if (loop_exited_locked(aio->home)) {
			run_here = true;
		} else {
			loop_post_locked(aio->home, &aio->done_task);
		}
	}
	aio->reap = REAP_NONE;
	aio_unlock(aio);
	if (run_here) {
		aio_run_callback(aio);
	}
	nghttpw_aio_free(aio);
}

void
nghttpw_aio_reap(nghttpw_aio *aio)
{
	bool now;

	if (aio == NULL) {
		return;
	}
	aio_lock(aio);
	now = aio_reap_locked(aio);
	aio_unlock(aio);
	if (now) {
		runtime_reap(&aio->done_task);
	}
}

void
nghttpw_aio_stop(nghttpw_aio *aio)
{
	if (aio == NULL) {
		return;
	}
	aio_lock(aio);
	aio->stopped = true;
	aio_unlock(aio);
	nghttpw_aio_abort(aio, NGHTTPW_ECANCELED);
	nghttpw_aio_wait(aio);
}

void
nghttpw_aio_wait(nghttpw_aio *aio)
{
	if (aio == NULL) {
		return;
	}
	aio_lock(aio);
	if (aio->waiters++ == 0) {
		atomic_fetch_or(&aio->cb_state, CB_WAITERS);
	}
	while (aio->pending || aio_callbacks(aio) > 0 || aio->cancelling > 0) {
		plat_cond_wait(loop_cond(aio->home), loop_mutex(aio->home));
	}
	if (--aio->waiters == 0) {
		atomic_fetch_and(&aio->cb_state, ~CB_WAITERS);
	}
	aio_unlock(aio);
}

bool
nghttpw_aio_busy(nghttpw_aio *aio)
{
	bool busy;

	aio_lock(aio);
	busy = aio->pending || aio_callbacks(aio) > 0 || aio->cancelling > 0;
	aio_unlock(aio);
	return (busy);
}

int
nghttpw_aio_result(nghttpw_aio *aio)
{
	/* No lock: a callback, or a thread back from nghttpw_aio_wait, is
	 * already ordered after the write. */
	return (atomic_load_explicit(&aio->result, memory_order_relaxed));
}

size_t
nghttpw_aio_count(nghttpw_aio *aio)
{
	return (aio->count);
}

void
nghttpw_aio_set_count(nghttpw_aio *aio, size_t count)
{
	aio->count = count;
}

void
nghttpw_aio_cancel(nghttpw_aio *aio)
{
	nghttpw_aio_abort(aio, NGHTTPW_ECANCELED);
}

void
nghttpw_aio_abort(nghttpw_aio *aio, int rv)
{
	if (aio == NULL) {
		return;
	}
	aio_lock(aio);
	if (aio->pending && !aio->finished) {
		if (aio->cancel_fn != NULL) {
			aio_cancel_locked(aio, rv);
		} else if (aio->abort_rv == 0) {
			/* Begun but not yet deferred: defer will refuse it. */
			aio->abort_rv = rv;
		}
	}
	aio_unlock(aio);
}

void
nghttpw_aio_set_timeout(nghttpw_aio *aio, nghttpw_duration ms)
{
	aio->timeout    = ms;
	aio->use_expire = false;
}

void
nghttpw_aio_set_expire(nghttpw_aio *aio, nghttpw_time when)
{
	aio->expire_at  = when;
	aio->use_expire = true;
}

int
nghttpw_aio_set_iov(nghttpw_aio *aio, unsigned niov, const nghttpw_iov *iov)
{
	if (aio == NULL || (niov > 0 && iov == NULL)) {
		return (NGHTTPW_EINVAL);
	}
	if (niov > aio->iov_cap) {
		nghttpw_iov *grown = malloc(niov * sizeof(*grown));
		if (grown == NULL) {
			return (NGHTTPW_ENOMEM);
		}
		if (aio->iov != aio->iov_inline) {
			free(aio->iov);
		}
		aio->iov     = grown;
		aio->iov_cap = niov;
	}
	if (niov > 0) {
		memcpy(aio->iov, iov, niov * sizeof(*iov));
	}
	aio->niov = niov;
	return (0);
}

unsigned
nghttpw_aio_get_iov(nghttpw_aio *aio, nghttpw_iov **iovp)
{
	*iovp = aio->iov;
	return (aio->niov);
}

int
nghttpw_aio_set_input(nghttpw_aio *aio, unsigned index, void *value)
{
	if (index >= AIO_NUM_IO) {
		return (NGHTTPW_EINVAL);
	}
	aio->inputs[index] = value;
	return (0);
}

void *
nghttpw_aio_get_input(nghttpw_aio *aio, unsigned index)
{
	return (index < AIO_NUM_IO ? aio->inputs[index] : NULL);
}

int
nghttpw_aio_set_output(nghttpw_aio *aio, unsigned index, void *value)
{
	if (index >= AIO_NUM_IO) {
		return (NGHTTPW_EINVAL);
	}
	aio->outputs[index] = value;
	return (0);
}

void *
nghttpw_aio_get_output(nghttpw_aio *aio, unsigned index)
{
	return (index < AIO_NUM_IO ? aio->outputs[index] : NULL);
}

bool
nghttpw_aio_begin(nghttpw_aio *aio)
{
	aio_lock(aio);
	if (aio->stopped) {
		atomic_store_explicit(
		    &aio->result, NGHTTPW_ECANCELED, memory_order_relaxed);
		aio->count = 0;
		aio_unlock(aio);
		return (false);
	}
	atomic_store_explicit(&aio->result, 0, memory_order_relaxed);
	aio->count       = 0;
	aio->cancel_fn   = NULL;
	aio->abort_rv    = 0;
	aio->pending     = true;
	aio->finished    = false;
	aio->iov_idx     = 0;
	aio->iov_off     = 0;
	aio->file_fd     = -1;
	memset(aio->outputs, 0, sizeof(aio->outputs));
	aio_unlock(aio);
	return (true);
}

/* The deadline of the operation being deferred, and what expiry means:
 * for a sleep (sleep_until not NULL), the end of the sleep when that comes
 * first.  Reads the clock into *now only when the deadline depends
 * on it: most operations have none. */
static nghttpw_time
aio_deadline(nghttpw_aio *aio, const nghttpw_time *sleep_until,
    nghttpw_time *now_p, bool *sleep_p)
{
	nghttpw_time deadline;
	nghttpw_time now;

	*sleep_p = false;
	if (!aio->use_expire && aio->timeout < 0 && sleep_until == NULL) {
		*now_p = 0;
		return (TIMER_NEVER);
	}
	*now_p = now = nghttpw_clock();
	if (aio->use_expire) {
		deadline = aio->expire_at;
	} else if (aio->timeout == NGHTTPW_DURATION_ZERO) {
		deadline = now;
	} else if (aio->timeout < 0) {
		deadline = TIMER_NEVER;
	} else {
		deadline = now + (nghttpw_time) aio->timeout;
	}
	if (sleep_until != NULL && *sleep_until <= deadline) {
		*sleep_p = true;
		deadline = *sleep_until;
	}
	return (deadline);
}

/* The result an operation being deferred must end with at once (stopped,
 * aborted, out of time; 0 for a sleep already over), or -1 when it may
 * start.  Home mutex held. */
static int
aio_defer_refusal(nghttpw_aio *aio, nghttpw_time deadline, nghttpw_time now,
    bool sleep)
{
	if (aio->stopped) {
		return (NGHTTPW_ECANCELED);
	}
	if (aio->abort_rv != 0) {
		return (aio->abort_rv);
	}
	if (deadline <= now) {
		return (sleep ? 0 : NGHTTPW_ETIMEDOUT);
	}
	return (-1);
}

static void
aio_arm_locked(nghttpw_aio *aio, nghttpw_aio_cancelfn fn, void *arg,
    nghttpw_time deadline, bool sleep)
{
	aio->cancel_fn    = fn;
	aio->cancel_arg   = arg;
	aio->expire_sleep = sleep;
	if (deadline != TIMER_NEVER) {
		aio->timer.deadline = deadline;
		loop_timer_add_locked(aio->home, &aio->timer);
	}
}

static bool
aio_defer_until(nghttpw_aio *aio, nghttpw_aio_cancelfn fn, void *arg,
    const nghttpw_time *sleep_until)
{
	nghttpw_time now;
	nghttpw_time deadline;
	bool         sleep;
	int          rv;

	aio_lock(aio);
	deadline = aio_deadline(aio, sleep_until, &now, &sleep);
	if ((rv = aio_defer_refusal(aio, deadline, now, sleep)) >= 0) {
		aio_finish_locked(aio, rv);
		aio_unlock(aio);
		return (false);
	}
	aio_arm_locked(aio, fn, arg, deadline, sleep);
	aio_unlock(aio);
	return (true);
}

bool
aio_defer(nghttpw_aio *aio, nghttpw_aio_cancelfn fn, void *arg)
{
	return (aio_defer_until(aio, fn, arg, NULL));
}

void
nghttpw_aio_defer(nghttpw_aio *aio, nghttpw_aio_cancelfn fn, void *arg)
{
	nghttpw_time now;
	nghttpw_time deadline;
	bool         sleep;
	int          rv;

	aio_lock(aio);
	deadline = aio_deadline(aio, NULL, &now, &sleep);
	if (fn == NULL) {
		/* Not cancellable, so no timeout either (as in nng): only the
		 * provider ends it. */
		deadline = TIMER_NEVER;
	} else if ((rv = aio_defer_refusal(aio, deadline, now, false)) >= 0) {
		/* Expire at once, with the refusal as the reason. */
		aio->abort_rv = rv;
		deadline      = 0;
	}
	aio_arm_locked(aio, fn, arg, deadline, false);
	aio_unlock(aio);
}

void
nghttpw_aio_finish(nghttpw_aio *aio, int rv)
{
	aio_lock(aio);
	aio_finish_locked(aio, rv);
	aio_unlock(aio);
}

bool
aio_finished(nghttpw_aio *aio)
{
	bool finished;

	aio_lock(aio);
	finished = aio->finished;
	aio_unlock(aio);
	return (finished);
}

void
aio_finish_count(nghttpw_aio *aio, int rv, size_t count)
{
	aio->count = count;
	nghttpw_aio_finish(aio, rv);
}

static void
aio_run_callback(void *arg)
{
	nghttpw_aio *aio = arg;
	bool         reap;
	unsigned     s;

	if (aio->cb != NULL) {
		aio->cb(aio->cb_arg);
	}
	/* Nobody waiting and not reaped: the count goes down, and that is
	 * all (most callbacks). */
	s = atomic_load(&aio->cb_state);
	while ((s & (CB_WAITERS | CB_REAP)) == 0) {
		if (atomic_compare_exchange_weak(&aio->cb_state, &s, s - 1)) {
			return;
		}
	}
	aio_lock(aio);
	atomic_fetch_sub(&aio->cb_state, 1);
	aio_wake_locked(aio);
	reap = aio->reap == REAP_HELD && aio_reap_locked(aio);
	aio_unlock(aio);
	if (reap) {
		runtime_reap(&aio->done_task);
	}
}

/* Timer expiry, on the home loop with its mutex held. */
static void
aio_expire(timer_node *t)
{
	nghttpw_aio *aio = LIST_ENTRY(t, nghttpw_aio, timer);

	int rv = aio->expire_sleep ? 0 : NGHTTPW_ETIMEDOUT;

	/* A refusal nghttpw_aio_defer put off until now. */
	if (aio->abort_rv != 0) {
		rv = aio->abort_rv;
	}
	aio_cancel_locked(aio, rv);
}

static void
aio_sleep_cancel(nghttpw_aio *aio, void *arg, int rv)
{
	(void) arg;
	nghttpw_aio_finish(aio, rv);
}

void
nghttpw_sleep_aio(nghttpw_duration ms, nghttpw_aio *aio)
{
	nghttpw_time until = TIMER_NEVER;

	if (!nghttpw_aio_begin(aio)) {
		return;
	}
	if (ms != NGHTTPW_DURATION_INFINITE) {
		until = nghttpw_clock() + (ms > 0 ? (nghttpw_time) ms : 0);
	}
	aio_defer_until(aio, aio_sleep_cancel, NULL, &until);
}

/* The iov cursor used by providers inside the library. */

int
aio_iov_to_iovec(nghttpw_aio *aio, struct iovec *vec, int max)
{
	int      n   = 0;
	size_t   off = aio->iov_off;

	for (unsigned i = aio->iov_idx; i < aio->niov && n < max; i++) {
		if (aio->iov[i].iov_len > off) {
			vec[n].iov_base = (char *) aio->iov[i].iov_buf + off;
			vec[n].iov_len  = aio->iov[i].iov_len - off;
			n++;
		}
		off = 0;
	}
	return (n);
}

void
aio_iov_advance(nghttpw_aio *aio, size_t n)
{
	aio->count += n;
	while (n > 0 && aio->iov_idx < aio->niov) {
		size_t left = aio->iov[aio->iov_idx].iov_len - aio->iov_off;
		if (n < left) {
			aio->iov_off += n;
			return;
		}
		n -= left;
		aio->iov_idx++;
		aio->iov_off = 0;
	}
}

size_t
aio_iov_residual(const nghttpw_aio *aio)
{
	size_t total = 0;

	for (unsigned i = aio->iov_idx; i < aio->niov; i++) {
		total += aio->iov[i].iov_len;
	}
	return (total - aio->iov_off);
}
