/* The wait of an event loop, over epoll(7) or io_uring(7), and an eventfd
 * used to wake the waiter.  It knows nothing of aios: it reports readiness
 * of registered descriptors to a callback and, on io_uring, the result of
 * each operation submitted through it to that operation's callback. */
#ifndef NGHTTPW_PLATFORM_POLLER_H
#define NGHTTPW_PLATFORM_POLLER_H

#include <stdbool.h>

/* Readiness bits passed to a pollfd's callback. */
#define POLLER_IN 0x1u
#define POLLER_OUT 0x2u
#define POLLER_ERR 0x4u
#define POLLER_HUP 0x8u /* the peer shut down its side: reads end in EOF */

typedef struct poller_fd {
	int  fd;
	void (*cb)(void *arg, unsigned events);
	void *arg;
} poller_fd;

typedef enum {
	POLLER_BACKEND_EPOLL,
	POLLER_BACKEND_IO_URING,
} poller_backend;

/* An operation submitted to the ring, embedded in its owner: done gets
 * the completion's result (a count or -errno) and flags, on the loop's
 * thread, from poller_run. */
typedef struct poller_op {
	void (*done)(struct poller_op *, int res, unsigned flags);
} poller_op;

typedef struct poller_ring poller_ring;

typedef struct poller {
	int          epfd;
	int          wakefd;
	poller_ring *ring; /* NULL on epoll */
} poller;

/* Whether this build and kernel can run the io_uring back-end (the ring
 * sets up, and the probe finds every operation used).  Asked once. */
bool poller_uring_usable(void);

int  poller_open(poller *, poller_backend);
void poller_close(poller *);

/* Called by the thread that will run p, before its first poller_run: on
 * io_uring only that thread ever submits. */
void poller_start(poller *);

/* Registers fd edge-triggered for input and output; events reach pfd->cb.
 * Any thread.  On io_uring too, through an epoll set the ring watches. */
int  poller_add(poller *, poller_fd *);
void poller_del(poller *, poller_fd *);
void poller_wake(poller *);

/* Waits up to timeout_ms (-1 forever) and dispatches what is ready.  On
 * io_uring the operations prepared since the last call are submitted by
 * the same system call that waits.  Returns true if a wake-up was among
 * the events. */
bool poller_run(poller *, int timeout_ms);

/* Operations in flight that were submitted through poller_sqe. */
unsigned poller_ops_inflight(poller *);

/* For a loop that is stopping: asks the kernel to cancel every operation
 * in flight (if any); from then on poller_closing is true and nothing new
 * is to be submitted. */
void poller_cancel_all(poller *);
bool poller_closing(poller *);

#endif
