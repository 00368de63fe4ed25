/* Between the poller's two back-ends (poller.c, poller_uring.c). */
#ifndef NGHTTPW_PLATFORM_POLLER_IMPL_H
#define NGHTTPW_PLATFORM_POLLER_IMPL_H

#include "platform/poller.h"

/* Waits up to timeout_ms in epoll_wait and dispatches what is ready;
 * true if the wake-up descriptor was among it (and is drained). */
bool poller_epoll_run(poller *, int timeout_ms);

#ifdef NGHTTPW_HAVE_IO_URING
/* Sets up p->ring over p's epoll set and eventfd, which are open. */
int  poller_uring_open(poller *);
void poller_uring_start(poller *);
void poller_uring_close(poller *);
bool poller_uring_run(poller *, int timeout_ms);
#endif

#endif
