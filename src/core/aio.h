/* The aio's insides, for providers inside the library. */
#ifndef NGHTTPW_CORE_AIO_H
#define NGHTTPW_CORE_AIO_H

#include <pthread.h>
#include <stdatomic.h>
#include <sys/uio.h>

#include "core/list.h"
#include "core/loop.h"
#include "nghttpw/nghttpw.h"

/* Entries held without an allocation: most of the library's operations
 * use one or two (a head and a body).  A longer vector (a chunked write
 * uses four) is allocated once and kept for the aio's life. */
#define AIO_IOV_INLINE 2
#define AIO_NUM_IO 4

/* Every idle connection holds a few of these, so the fields are ordered to
 * leave little padding, and what only some operations need shares space. */
struct nghttpw_aio {
	/* Its mutex guards the state below, its heap holds the timer, its
	 * condition variable wakes waits. */
	loop *home;
	void (*cb)(void *);
	void  *cb_arg;
	size_t count;
	/* use_expire says which one was set last. */
	union {
		nghttpw_duration timeout;
		nghttpw_time     expire_at;
	};

	nghttpw_iov *iov;
	unsigned     niov;
	unsigned     iov_cap;
	nghttpw_iov  iov_inline[AIO_IOV_INLINE];
	void        *inputs[AIO_NUM_IO];
	void        *outputs[AIO_NUM_IO];

	/* Operation state, guarded by the home loop's mutex. */
	nghttpw_aio_cancelfn cancel_fn;
	void                *cancel_arg;
	/* Written under the lock; read without it by nghttpw_aio_result, which
	 * the run queue orders after the write in a callback. */
	atomic_int result;
	int        abort_rv;   /* abort seen between begin and defer, or
	                        * the refusal nghttpw_aio_defer delivers late */
	unsigned   cancelling; /* cancel functions now running */
	/* Callbacks queued or running, and flags (aio.c's CB_*) that make
	 * the end of a callback take the lock: changed under the lock, but
	 * also without it by a callback that ends with nobody to tell. */
	atomic_uint cb_state;
	unsigned    waiters; /* threads in nghttpw_aio_wait */
	int        file_fd;    /* the provider's, see below */
	/* Bytes, not bitfields: use_expire is written without the lock. */
	bool    use_expire;
	bool    pending; /* begun, callback not yet queued */
	bool    finished;
	bool    finish_held;  /* finished while cancelling */
	bool    stopped;
	bool    expire_sleep; /* expiry ends a sleep (0), not ETIMEDOUT */
	uint8_t reap;         /* where nghttpw_aio_reap has got to */
	uint8_t prov_op;      /* the provider's, see below */
	timer_node timer;
	/* Queues the callback; once the aio is reaped and idle, the reaper's
	 * task instead. */
	task done_task;

	/* For the provider that owns the operation: a queue link and where
	 * the operation is.  That is a cursor into the iov (entry index and
	 * offset within it), or for a send from a file (stream_sendfile,
	 * file_fd >= 0) what is left of the file.  A provider that queues
	 * operations of several kinds and uses no cursor (an HTTP
	 * connection) keeps the kind in prov_op and its arguments in
	 * prov_arg instead, set after nghttpw_aio_begin. */
	list_node prov_node;
	union {
		struct {
			unsigned iov_idx;
			size_t   iov_off;
		};
		struct {
			uint64_t file_off;
			uint64_t file_len;
		};
		void *prov_arg[2];
	};
};

/* nghttpw_aio_alloc with the aio homed on a given loop, so that its lock
 * and timer are that loop's; home NULL picks one round-robin. */
int aio_alloc_on(nghttpw_aio **aiop, void (*cb)(void *), void *arg, loop *home);

/* Builds at most max iovec entries from the cursor; returns how many. */
int aio_iov_to_iovec(nghttpw_aio *, struct iovec *, int max);

/* Moves the cursor on by n bytes and adds n to the count. */
void aio_iov_advance(nghttpw_aio *, size_t n);

/* Bytes between the cursor and the end of the iov. */
size_t aio_iov_residual(const nghttpw_aio *);

/* Defers the begun operation with its cancel function, for the library's
 * own providers.  False when it may not start (the aio was stopped or
 * aborted, or its deadline has passed): the aio is then finished already,
 * and the caller must let go of it. */
bool aio_defer(nghttpw_aio *, nghttpw_aio_cancelfn, void *);

/* Whether the operation begun last has finished (its callback is queued
 * or has run): for a caller that handed the aio to someone else and must
 * know whether that one answered at once. */
bool aio_finished(nghttpw_aio *);

/* Finishes with a result and count in one call. */
void aio_finish_count(nghttpw_aio *, int rv, size_t count);

/* Waits until no cancel function called with arg is still running.  A
 * provider calls this after removing its aios and before freeing arg. */
void aio_cancel_barrier(void *arg);

#endif
