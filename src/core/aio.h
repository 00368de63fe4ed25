/* The aio's insides, for providers inside the library. */
#ifndef NGHTTPW_CORE_AIO_H
#define NGHTTPW_CORE_AIO_H

#include <pthread.h>
#include <stdatomic.h>
#include <sys/uio.h>

#include "core/list.h"
#include "core/loop.h"
#include "nghttpw/nghttpw.h"

#define AIO_IOV_INLINE 4
#define AIO_NUM_IO 4

struct nghttpw_aio {
	loop            *home; /* its heap holds the timer */
	pthread_mutex_t *mtx;  /* home's mutex: guards the state below */
	void (*cb)(void *);
	void *cb_arg;

	/* Written under mtx; read without it by nghttpw_aio_result, which
	 * the run queue orders after the write in a callback. */
	atomic_int       result;
	size_t           count;
	nghttpw_duration timeout;
	nghttpw_time     expire_at;
	bool             use_expire;

	nghttpw_iov *iov;
	unsigned     niov;
	unsigned     iov_cap;
	nghttpw_iov  iov_inline[AIO_IOV_INLINE];
	void        *inputs[AIO_NUM_IO];
	void        *outputs[AIO_NUM_IO];

	/* Operation state, guarded by the home loop's mutex. */
	nghttpw_aio_cancelfn cancel_fn;
	void                *cancel_arg;
	int                  abort_rv;   /* abort seen between begin and defer */
	int                  expire_rv;  /* ETIMEDOUT, or 0 for a sleep */
	unsigned             cancelling; /* cancel functions now running */
	bool                 pending;    /* begun, callback not yet queued */
	bool                 finished;
	bool                 finish_held; /* finished while cancelling */
	unsigned             in_cb;       /* callbacks queued or running */
	unsigned             waiters;     /* threads in nghttpw_aio_wait */
	bool                 stopped;
	bool                 sleeping;
	nghttpw_time         sleep_until;
	timer_node           timer;
	pthread_cond_t       cv;
	task                 done_task;
	task                 reap_task;

	/* For the provider that owns the operation: a queue link and a cursor
	 * into the iov (entry index and offset within it). */
	list_node prov_node;
	unsigned  iov_idx;
	size_t    iov_off;

	/* A send from a file instead of the iov (stream_sendfile), when
	 * file_fd >= 0: what is left of it. */
	int      file_fd;
	uint64_t file_off;
	uint64_t file_len;
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

/* Finishes with a result and count in one call. */
void aio_finish_count(nghttpw_aio *, int rv, size_t count);

/* Waits until no cancel function called with arg is still running.  A
 * provider calls this after removing its aios and before freeing arg. */
void aio_cancel_barrier(void *arg);

#endif
