/* Waiting for a bare socket to become readable in a few bytes: for a
 * connection idle for long that keeps nothing else while it waits (a
 * parked keep-alive connection).  The socket stays the caller's. */
#ifndef NGHTTPW_CORE_FD_WAIT_H
#define NGHTTPW_CORE_FD_WAIT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/loop.h"

typedef struct fd_wait fd_wait;

/* How a wait ended: 0 when the socket has something to read (data, an end
 * or an error), NGHTTPW_ETIMEDOUT, or NGHTTPW_ECANCELED after
 * fd_wait_cancel.  Called once, on the loop's thread, with no lock of
 * ours held; the record is the callee's again, to free or reuse. */
typedef void (*fd_wait_cb)(fd_wait *, int rv);

/* Embedded in its owner's record; the fields are fd_wait.c's. */
struct fd_wait {
	poller_fd  pfd;
	timer_node timer; /* the timeout, or the deferred cancel */
	loop      *loop;
	fd_wait_cb cb;
	uint8_t    state;
};

/* Starts waiting on l for fd to become readable, for up to timeout_ms
 * (NGHTTPW_DURATION_INFINITE: no bound).  Errors: NGHTTPW_ENOMEM, or the
 * poller's refusal of fd; cb is then never called. */
int fd_wait_start(fd_wait *w, loop *l, int fd, nghttpw_duration timeout_ms,
    fd_wait_cb cb);

/* Ends the wait early: true when cb will report NGHTTPW_ECANCELED, false
 * when it has reported (or is about to report) something else.  Any
 * thread; cb never runs inside this call. */
bool fd_wait_cancel(fd_wait *w);

#endif
