/* A thin wrapper over epoll and an eventfd used to wake the waiter.  It
 * knows nothing of aios: it only reports readiness to a callback. */
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

typedef struct poller {
	int epfd;
	int wakefd;
} poller;

int  poller_open(poller *);
void poller_close(poller *);

/* Registers fd edge-triggered for input and output; events reach pfd->cb. */
int  poller_add(poller *, poller_fd *);
void poller_del(poller *, poller_fd *);
void poller_wake(poller *);

/* Waits up to timeout_ms (-1 forever) and dispatches what is ready.
 * Returns true if a wake-up was among the events. */
bool poller_run(poller *, int timeout_ms);

#endif
