/* The io_uring side of the poller, for the code that submits operations
 * on a loop's ring.  Only the loop's own thread may call these (the
 * submission queue has a single producer). */
#ifndef NGHTTPW_PLATFORM_POLLER_URING_H
#define NGHTTPW_PLATFORM_POLLER_URING_H

#include <liburing.h>

#include "platform/poller.h"

/* A submission entry whose completion goes to op, or NULL if none can be
 * had (the queue is full and could not be flushed).  The caller fills in
 * the operation; it is submitted by the next poller_run. */
struct io_uring_sqe *poller_sqe(poller *, poller_op *op);

/* Asks the kernel to cancel op; op's completion still comes (with
 * -ECANCELED, or its result if it ended first).  False when no entry was
 * free for the request. */
bool poller_cancel(poller *, poller_op *op);

/* Submits what is prepared and cancels op, returning once the kernel no
 * longer touches op's buffers.  Its completion still comes later. */
void poller_cancel_sync(poller *, poller_op *op);

#endif
