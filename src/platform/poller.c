/* The poller's epoll(7) back-end, and what both back-ends share: on
 * io_uring, descriptors that stay on readiness (listeners, the wake-up)
 * are in the same epoll set, which the ring watches. */
#include <errno.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "nghttpw/nghttpw.h"
#include "platform/poller_impl.h"
#include "platform/socket.h"

#define POLLER_BATCH 64

#ifndef NGHTTPW_HAVE_IO_URING
bool
poller_uring_usable(void)
{
	return (false);
}
#endif

int
poller_open(poller *p, poller_backend backend)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };

	p->ring = NULL;
	if ((p->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0) {
		return (plat_errno_result(errno));
	}
	if ((p->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
		int rv = plat_errno_result(errno);
		close(p->epfd);
		return (rv);
	}
	if (backend == POLLER_BACKEND_IO_URING) {
#ifdef NGHTTPW_HAVE_IO_URING
		int rv = poller_uring_open(p);
		if (rv != 0) {
			close(p->wakefd);
			close(p->epfd);
		}
		return (rv);
#else
		close(p->wakefd);
		close(p->epfd);
		return (NGHTTPW_ENOTSUP);
#endif
	}
	/* A NULL data pointer marks the wake-up descriptor. */
	if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, p->wakefd, &ev) != 0) {
		int rv = plat_errno_result(errno);
		close(p->wakefd);
		close(p->epfd);
		return (rv);
	}
	return (0);
}

void
poller_start(poller *p)
{
#ifdef NGHTTPW_HAVE_IO_URING
	if (p->ring != NULL) {
		poller_uring_start(p);
	}
#else
	(void) p;
#endif
}

void
poller_close(poller *p)
{
#ifdef NGHTTPW_HAVE_IO_URING
	if (p->ring != NULL) {
		poller_uring_close(p);
	}
#endif
	close(p->wakefd);
	close(p->epfd);
}

int
poller_add(poller *p, poller_fd *pfd)
{
	struct epoll_event ev = {
		.events   = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
		.data.ptr = pfd,
	};

	if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, pfd->fd, &ev) != 0) {
		return (plat_errno_result(errno));
	}
	return (0);
}

void
poller_del(poller *p, poller_fd *pfd)
{
	struct epoll_event ev = { 0 };

	(void) epoll_ctl(p->epfd, EPOLL_CTL_DEL, pfd->fd, &ev);
}

void
poller_wake(poller *p)
{
	uint64_t one = 1;

	/* EAGAIN means the counter is already non-zero: a wake is pending. */
	(void) !write(p->wakefd, &one, sizeof(one));
}

bool
poller_epoll_run(poller *p, int timeout_ms)
{
	struct epoll_event evs[POLLER_BATCH];
	bool               woken = false;
	int                n;

	n = epoll_wait(p->epfd, evs, POLLER_BATCH, timeout_ms);
	for (int i = 0; i < n; i++) {
		poller_fd *pfd = evs[i].data.ptr;
		unsigned   events = 0;

		if (pfd == NULL) {
			uint64_t count;
			(void) !read(p->wakefd, &count, sizeof(count));
			woken = true;
			continue;
		}
		if (evs[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP)) {
			events |= POLLER_IN;
		}
		if (evs[i].events & (EPOLLRDHUP | EPOLLHUP)) {
			events |= POLLER_HUP;
		}
		if (evs[i].events & (EPOLLOUT | EPOLLHUP)) {
			events |= POLLER_OUT;
		}
		if (evs[i].events & EPOLLERR) {
			events |= POLLER_ERR | POLLER_IN | POLLER_OUT;
		}
		pfd->cb(pfd->arg, events);
	}
	/* A full batch may have left some behind: the ring, which watches
	 * the set, is told of it only once. */
	if (n == POLLER_BATCH && p->ring != NULL) {
		woken |= poller_epoll_run(p, 0);
	}
	return (woken);
}

bool
poller_run(poller *p, int timeout_ms)
{
#ifdef NGHTTPW_HAVE_IO_URING
	if (p->ring != NULL) {
		return (poller_uring_run(p, timeout_ms));
	}
#endif
	return (poller_epoll_run(p, timeout_ms));
}

#ifndef NGHTTPW_HAVE_IO_URING
unsigned
poller_ops_inflight(poller *p)
{
	(void) p;
	return (0);
}

void
poller_cancel_all(poller *p)
{
	(void) p;
}

bool
poller_closing(poller *p)
{
	(void) p;
	return (false);
}
#endif
