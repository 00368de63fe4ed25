/* Readability waits on bare sockets.  A wait ends once, in one of three
 * ways decided under the loop's mutex: the poller reports the socket
 * readable, its timer expires, or it is cancelled.  A cancel cannot call
 * back at once (the loop may hold the record in the batch of events it
 * is going through, and the caller frees it in the callback), so it arms
 * the timer to expire now: timers fire after the batch, on the loop's
 * thread. */
#include "core/fd_wait.h"

enum { FW_WAITING, FW_CANCELLED, FW_DONE };

static void
fw_end_locked(fd_wait *w)
{
	w->state = FW_DONE;
	loop_timer_release_locked(w->loop);
}

static void
fw_event(void *arg, unsigned events)
{
	fd_wait *w = arg;
	loop    *l = w->loop;

	if ((events & POLLER_IN) == 0) {
		return; /* writable: the registration says so once */
	}
	plat_mutex_lock(loop_mutex(l));
	if (w->state != FW_WAITING) {
		plat_mutex_unlock(loop_mutex(l));
		return;
	}
	loop_timer_remove_locked(l, &w->timer);
	loop_poll_del(l, &w->pfd);
	fw_end_locked(w);
	plat_mutex_unlock(loop_mutex(l));
	w->cb(w, 0);
}

/* Loop's mutex held; dropped around the callback. */
static void
fw_expire(timer_node *t)
{
	fd_wait *w = LIST_ENTRY(t, fd_wait, timer);
	loop    *l = w->loop;
	int      rv;

	if (w->state == FW_WAITING) {
		loop_poll_del(l, &w->pfd);
		rv = NGHTTPW_ETIMEDOUT;
	} else {
		rv = NGHTTPW_ECANCELED; /* the poller was left by the cancel */
	}
	fw_end_locked(w);
	plat_mutex_unlock(loop_mutex(l));
	w->cb(w, rv);
	plat_mutex_lock(loop_mutex(l));
}

int
fd_wait_start(fd_wait *w, loop *l, int fd, nghttpw_duration timeout_ms,
    fd_wait_cb cb)
{
	int rv;

	w->pfd.fd  = fd;
	w->pfd.cb  = fw_event;
	w->pfd.arg = w;
	w->loop    = l;
	w->cb      = cb;
	w->state   = FW_WAITING;
	timer_init(&w->timer, fw_expire);
	plat_mutex_lock(loop_mutex(l));
	/* The heap slot is needed for a cancel even without a timeout. */
	if ((rv = loop_timer_reserve_locked(l)) != 0) {
		plat_mutex_unlock(loop_mutex(l));
		return (rv);
	}
	if (timeout_ms >= 0) {
		w->timer.deadline = nghttpw_clock() + (nghttpw_time) timeout_ms;
		loop_timer_add_locked(l, &w->timer);
	}
	/* Under the mutex: an event on another thread waits for it, and
	 * finds the wait complete. */
	if ((rv = loop_poll_add(l, &w->pfd)) != 0) {
		loop_timer_remove_locked(l, &w->timer);
		loop_timer_release_locked(l);
	}
	plat_mutex_unlock(loop_mutex(l));
	return (rv);
}

bool
fd_wait_cancel(fd_wait *w)
{
	loop *l = w->loop;
	bool  won;

	plat_mutex_lock(loop_mutex(l));
	if ((won = w->state == FW_WAITING)) {
		w->state = FW_CANCELLED;
		loop_poll_del(l, &w->pfd);
		loop_timer_remove_locked(l, &w->timer);
		w->timer.deadline = 0;
		loop_timer_add_locked(l, &w->timer);
	}
	plat_mutex_unlock(loop_mutex(l));
	return (won);
}
