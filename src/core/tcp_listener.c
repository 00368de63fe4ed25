/* TCP listeners: accept tries accept4() at once and queues the aio only
 * when no connection is waiting.  On io_uring a multishot accept on the
 * listener's loop takes the connections instead, without a system call
 * each, into a small stash that accepts draw from; but not from a socket
 * handed over (NGHTTPW_OPT_TCP_LISTEN_FD), which other processes may
 * share. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/aio.h"
#include "core/options.h"
#include "core/tcp.h"
#include "platform/socket.h"
#ifdef NGHTTPW_HAVE_IO_URING
#include "platform/poller_uring.h"
#endif

#define TCP_BACKLOG 512
/* Connections taken ahead of accepts; past that the kernel's backlog
 * holds them (the multishot accept is cancelled until there is room).
 * Those it takes before the cancel lands are kept too. */
#define TCP_STASH 16

typedef struct tcp_listener {
	pthread_mutex_t  mtx;
	poller_fd        pfd;
	loop            *loop;
	char            *url; /* as given, for NGHTTPW_OPT_URL */
	char            *host;
	char            *port;
	int              family;
	tcp_settings     settings;
	list_node        acceptq;
	bool             listening;
	bool             closed;
	bool             reuseport;
	int              adopt_fd; /* a socket given to listen on, or -1 */
	nghttpw_sockaddr bound;
	task             free_task;
#ifdef NGHTTPW_HAVE_IO_URING
	bool             on_ring;
	bool             armed;      /* the multishot accept is in the kernel */
	bool             arm_posted; /* arm_task is queued */
	bool             free_pending;
	poller_op        accept_op;
	task             arm_task;
	unsigned         nstash;
	unsigned         stash_cap;
	int             *stash;
#endif
} tcp_listener;

enum { ACCEPT_DONE, ACCEPT_AGAIN };

/* Accepts one connection for aio; ACCEPT_DONE with *rv set when the aio
 * is over. */
static int
listener_accept_one(tcp_listener *l, nghttpw_aio *aio, int *rv)
{
	nghttpw_stream *s;
	int             fd;

#ifdef NGHTTPW_HAVE_IO_URING
	if (l->on_ring) {
		if (l->nstash == 0) {
			return (ACCEPT_AGAIN);
		}
		fd = l->stash[0];
		memmove(l->stash, l->stash + 1, --l->nstash * sizeof(l->stash[0]));
		goto got_fd;
	}
#endif
	for (;;) {
		fd = accept4(l->pfd.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0) {
			break;
		}
		switch (errno) {
		case EINTR:
		case ECONNABORTED:
			continue;
		case EAGAIN:
#if EAGAIN != EWOULDBLOCK
		case EWOULDBLOCK:
#endif
			return (ACCEPT_AGAIN);
		default:
			*rv = plat_errno_result(errno);
			return (ACCEPT_DONE);
		}
	}
#ifdef NGHTTPW_HAVE_IO_URING
got_fd:
#endif
	if ((*rv = tcp_conn_alloc(&s, fd, &l->settings)) != 0) {
		close(fd);
		return (ACCEPT_DONE);
	}
	nghttpw_aio_set_output(aio, 0, s);
	return (ACCEPT_DONE);
}

/* Serves queued accepts while connections wait. */
static void
listener_drain_locked(tcp_listener *l)
{
	list_node *node;
	int        rv;

	while (!l->closed && (node = list_first(&l->acceptq)) != NULL) {
		nghttpw_aio *aio = LIST_ENTRY(node, nghttpw_aio, prov_node);
		if (listener_accept_one(l, aio, &rv) == ACCEPT_AGAIN) {
			break;
		}
		list_remove(node);
		nghttpw_aio_finish(aio, rv);
	}
}

static void
listener_event(void *arg, unsigned events)
{
	tcp_listener *l = arg;

	(void) events;
	pthread_mutex_lock(&l->mtx);
	listener_drain_locked(l);
	pthread_mutex_unlock(&l->mtx);
}

static void listener_destroy(tcp_listener *l);

#ifdef NGHTTPW_HAVE_IO_URING
/* The multishot accept, on the listener's loop.  Whatever thread asks
 * for it posts arm_task there; the loop's thread arms it directly. */
static void
ring_arm_locked(tcp_listener *l)
{
	poller              *p = loop_poller(l->loop);
	struct io_uring_sqe *sqe;

	if (l->closed || l->armed || l->nstash >= TCP_STASH || poller_closing(p)) {
		return;
	}
	if ((sqe = poller_sqe(p, &l->accept_op)) != NULL) {
		io_uring_prep_multishot_accept(
		    sqe, l->pfd.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		l->armed = true;
	}
}

/* Arms, or cancels once closed or full. */
static void
ring_update_locked(tcp_listener *l)
{
	if (loop_current() != l->loop) {
		if (!l->arm_posted) {
			l->arm_posted = true;
			loop_post(l->loop, &l->arm_task);
		}
	} else if (l->armed && (l->closed || l->nstash >= TCP_STASH)) {
		(void) poller_cancel(loop_poller(l->loop), &l->accept_op);
	} else {
		ring_arm_locked(l);
	}
}

/* Unlocks; frees l if it was let go of and the kernel is done with it. */
static void
ring_unlock(tcp_listener *l)
{
	bool done = l->free_pending && !l->armed && !l->arm_posted;

	pthread_mutex_unlock(&l->mtx);
	if (done) {
		listener_destroy(l);
	}
}

static void
ring_arm_task(void *arg)
{
	tcp_listener *l = arg;

	pthread_mutex_lock(&l->mtx);
	l->arm_posted = false;
	if (l->listening) {
		ring_update_locked(l);
	}
	ring_unlock(l);
}

/* Keeps an accepted descriptor for the next accept. */
static void
ring_stash_locked(tcp_listener *l, int fd)
{
	if (l->nstash == l->stash_cap) {
		unsigned cap = 2 * l->stash_cap;
		int     *grown = realloc(l->stash, cap * sizeof(*grown));
		if (grown == NULL) {
			close(fd); /* the peer sees a reset, as on a full backlog */
			return;
		}
		l->stash     = grown;
		l->stash_cap = cap;
	}
	l->stash[l->nstash++] = fd;
}

static void
ring_accept_done(poller_op *op, int res, unsigned flags)
{
	tcp_listener *l = (tcp_listener *) (void *) ((char *) op -
	    offsetof(tcp_listener, accept_op));
	list_node    *node;

	pthread_mutex_lock(&l->mtx);
	if ((flags & IORING_CQE_F_MORE) == 0) {
		l->armed = false;
	}
	if (res >= 0) {
		if (l->closed) {
			close(res);
		} else {
			ring_stash_locked(l, res);
		}
		listener_drain_locked(l);
	} else if (res != -ECANCELED && !l->closed &&
	    (node = list_first(&l->acceptq)) != NULL) {
		/* As accept4's error would (EMFILE, say); the next accept
		 * arms again, so that no error is retried in a loop. */
		list_remove(node);
		nghttpw_aio_finish(LIST_ENTRY(node, nghttpw_aio, prov_node),
		    plat_errno_result(-res));
	}
	/* Cancelled when full, armed again when not. */
	if (l->armed ? l->nstash >= TCP_STASH : (res >= 0 || res == -ECANCELED)) {
		ring_update_locked(l);
	}
	ring_unlock(l);
}
#endif

static void
listener_cancel(nghttpw_aio *aio, void *arg, int rv)
{
	tcp_listener *l = arg;

	pthread_mutex_lock(&l->mtx);
	if (list_linked(&aio->prov_node)) {
		list_remove(&aio->prov_node);
		nghttpw_aio_finish(aio, rv);
	}
	pthread_mutex_unlock(&l->mtx);
}

static void
tcp_listener_accept(void *arg, nghttpw_aio *aio)
{
	tcp_listener *l = arg;
	int           rv;

	if (!nghttpw_aio_begin(aio)) {
		return;
	}
	pthread_mutex_lock(&l->mtx);
	if (l->closed) {
		nghttpw_aio_finish(aio, NGHTTPW_ECLOSED);
	} else if (!l->listening) {
		nghttpw_aio_finish(aio, NGHTTPW_ESTATE);
	} else if (list_empty(&l->acceptq) &&
	    listener_accept_one(l, aio, &rv) == ACCEPT_DONE) {
		nghttpw_aio_finish(aio, rv);
	} else if (aio_defer(aio, listener_cancel, l)) {
		list_append(&l->acceptq, &aio->prov_node);
	}
#ifdef NGHTTPW_HAVE_IO_URING
	/* A connection drawn from the stash makes room; an error stopped
	 * the multishot accept. */
	if (l->on_ring && l->listening && !l->closed && !l->armed) {
		ring_update_locked(l);
	}
#endif
	pthread_mutex_unlock(&l->mtx);
}

/* The socket given with NGHTTPW_OPT_TCP_LISTEN_FD (systemd's, say): a
 * TCP socket, bound; made to listen if it is not yet. */
static int
listener_adopt(int fd)
{
	int       type, acc, flags;
	socklen_t len = sizeof(type);
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0) {
		return (NGHTTPW_EINVAL); /* not a socket, or not open */
	}
	if (type != SOCK_STREAM || getsockname(fd, (void *) &ss, &sslen) != 0 ||
	    (ss.ss_family != AF_INET && ss.ss_family != AF_INET6)) {
		return (NGHTTPW_EINVAL);
	}
	len = sizeof(acc);
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &len) != 0 ||
	    (!acc && listen(fd, TCP_BACKLOG) != 0)) {
		return (plat_errno_result(errno));
	}
	if ((flags = fcntl(fd, F_GETFL)) < 0 ||
	    fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) {
		return (plat_errno_result(errno));
	}
	return (0);
}

/* A new socket, bound to the URL's address and listening; or -1 with *rv. */
static int
listener_open(tcp_listener *l, int *rv)
{
	struct sockaddr_storage ss;
	socklen_t               len;
	int                     fd;
	int                     one = 1;

	if ((*rv = plat_resolve(l->host, l->port, l->family, true, &ss, &len)) !=
	    0) {
		return (-1);
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*rv = plat_errno_result(errno);
		return (-1);
	}
	(void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if ((l->reuseport &&
	        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) ||
	    bind(fd, (void *) &ss, len) != 0 || listen(fd, TCP_BACKLOG) != 0) {
		*rv = plat_errno_result(errno);
		close(fd);
		return (-1);
	}
	return (fd);
}

static int
tcp_listener_listen(void *arg)
{
	tcp_listener           *l = arg;
	struct sockaddr_storage ss;
	socklen_t               len;
	int                     fd;
	int                     rv;

	pthread_mutex_lock(&l->mtx);
	if (l->closed) {
		rv = NGHTTPW_ECLOSED;
		goto out;
	}
	if (l->listening) {
		rv = NGHTTPW_ESTATE;
		goto out;
	}
	if (l->adopt_fd >= 0) {
		if ((rv = listener_adopt(l->adopt_fd)) != 0) {
			goto out;
		}
		fd          = l->adopt_fd; /* ours now, closed with l */
		l->adopt_fd = -1;
#ifdef NGHTTPW_HAVE_IO_URING
		/* A socket handed over may be shared with other processes
		 * (nghttpw-serve's workers, systemd's).  A multishot accept
		 * takes connections off the shared queue as they come, and a
		 * process killed then drops them; accept4 on readiness takes
		 * one only when this process is there to serve it. */
		l->on_ring = false;
#endif
	} else if ((fd = listener_open(l, &rv)) < 0) {
		goto out;
	}
	len = sizeof(ss);
	if (getsockname(fd, (void *) &ss, &len) != 0 ||
	    (rv = plat_sockaddr_from(&l->bound, &ss)) != 0) {
		rv = rv != 0 ? rv : plat_errno_result(errno);
		close(fd);
		goto out;
	}
	l->pfd.fd = fd;
#ifdef NGHTTPW_HAVE_IO_URING
	if (l->on_ring) {
		/* Room for what a multishot accept takes before an accept
		 * asks: a connection taken must never be dropped for want of
		 * it (it grows only in the moment a cancel takes to land). */
		if ((l->stash = calloc(TCP_STASH, sizeof(*l->stash))) == NULL) {
			close(fd);
			l->pfd.fd = -1;
			rv        = NGHTTPW_ENOMEM;
			goto out;
		}
		l->stash_cap = TCP_STASH;
		l->listening = true;
		ring_update_locked(l);
		goto out;
	}
#endif
	if ((rv = loop_poll_add(l->loop, &l->pfd)) != 0) {
		close(fd);
		l->pfd.fd = -1;
		goto out;
	}
	l->listening = true;
out:
	pthread_mutex_unlock(&l->mtx);
	return (rv);
}

static void
tcp_listener_close(void *arg)
{
	tcp_listener *l = arg;
	list_node    *node;

	pthread_mutex_lock(&l->mtx);
	if (!l->closed) {
		l->closed = true;
#ifdef NGHTTPW_HAVE_IO_URING
		if (l->listening && l->on_ring) {
			/* The kernel holds the socket while the accept is in
			 * flight: shut down, it stops listening now, and the
			 * accept ends. */
			(void) shutdown(l->pfd.fd, SHUT_RDWR);
			while (l->nstash > 0) {
				close(l->stash[--l->nstash]);
			}
			ring_update_locked(l);
		} else
#endif
		if (l->listening) {
			/* The port is free again when close returns; an event
			 * still in flight sees closed and leaves the fd alone. */
			loop_poll_del(l->loop, &l->pfd);
		}
		if (l->listening) {
			close(l->pfd.fd);
			l->pfd.fd = -1;
		}
		while ((node = list_first(&l->acceptq)) != NULL) {
			list_remove(node);
			nghttpw_aio_finish(LIST_ENTRY(node, nghttpw_aio, prov_node),
			    NGHTTPW_ECLOSED);
		}
	}
	pthread_mutex_unlock(&l->mtx);
}

/* After the close no event or cancel finds an aio queued; a cancel
 * function handed l may still be on its way out. */
static void
tcp_listener_stop(void *arg)
{
	tcp_listener_close(arg);
	aio_cancel_barrier(arg);
}

static void
listener_destroy(tcp_listener *l)
{
#ifdef NGHTTPW_HAVE_IO_URING
	free(l->stash);
#endif
	pthread_mutex_destroy(&l->mtx);
	free(l->url);
	free(l->host);
	free(l->port);
	free(l);
}

static void
listener_free_task(void *arg)
{
	tcp_listener *l = arg;

#ifdef NGHTTPW_HAVE_IO_URING
	/* The last of the accept's completions frees it, if still to come. */
	pthread_mutex_lock(&l->mtx);
	l->free_pending = true;
	ring_unlock(l);
#else
	listener_destroy(l);
#endif
}

static void
tcp_listener_free(void *arg)
{
	tcp_listener *l = arg;

	tcp_listener_stop(l);
	/* The loop may hold l in the batch of events it is working through;
	 * freeing from its run queue comes after that batch. */
	loop_post(l->loop, &l->free_task);
}

static int
tcp_listener_get(void *arg, const char *name, void *buf, size_t *szp,
    nghttpw_type t)
{
	tcp_listener *l = arg;
	int           rv;

	if (strcmp(name, NGHTTPW_OPT_URL) == 0) {
		return (opt_out_string(l->url, buf, szp, t));
	}
	pthread_mutex_lock(&l->mtx);
	if (strcmp(name, NGHTTPW_OPT_TCP_REUSEPORT) == 0) {
		rv = opt_out_bool(l->reuseport, buf, szp, t);
	} else if (strcmp(name, NGHTTPW_OPT_TCP_LISTEN_FD) == 0) {
		rv = NGHTTPW_EWRITEONLY;
	} else if (strcmp(name, NGHTTPW_OPT_TCP_BOUND_PORT) == 0) {
		rv = l->listening ? opt_out_int(ntohs(l->bound.s_in.sa_port), buf,
		                        szp, t)
		                  : NGHTTPW_ESTATE;
	} else if (strcmp(name, NGHTTPW_OPT_LOCADDR) == 0) {
		rv = l->listening ? opt_out_addr(&l->bound, buf, szp, t)
		                  : NGHTTPW_ESTATE;
	} else {
		rv = tcp_settings_get(&l->settings, name, buf, szp, t);
	}
	pthread_mutex_unlock(&l->mtx);
	return (rv);
}

/* The settings that shape the socket itself: only before listening.
 * Lock held. */
static int
listener_set_socket(tcp_listener *l, const char *name, const void *buf,
    size_t sz, nghttpw_type t)
{
	bool b;
	int  fd;
	int  rv;

	if (l->listening || l->closed) {
		return (NGHTTPW_ESTATE);
	}
	if (strcmp(name, NGHTTPW_OPT_TCP_REUSEPORT) == 0) {
		if ((rv = opt_in_bool(buf, sz, t, &b)) == 0) {
			l->reuseport = b;
		}
		return (rv);
	}
	if ((rv = opt_in_int(buf, sz, t, &fd)) != 0) {
		return (rv);
	}
	if (fd < 0) {
		return (NGHTTPW_EINVAL);
	}
	l->adopt_fd = fd;
	return (0);
}

static int
tcp_listener_set(void *arg, const char *name, const void *buf, size_t sz,
    nghttpw_type t)
{
	tcp_listener *l = arg;
	int           rv;

	if (strcmp(name, NGHTTPW_OPT_TCP_BOUND_PORT) == 0 ||
	    strcmp(name, NGHTTPW_OPT_LOCADDR) == 0 ||
	    strcmp(name, NGHTTPW_OPT_URL) == 0) {
		return (NGHTTPW_EREADONLY);
	}
	pthread_mutex_lock(&l->mtx);
	if (strcmp(name, NGHTTPW_OPT_TCP_REUSEPORT) == 0 ||
	    strcmp(name, NGHTTPW_OPT_TCP_LISTEN_FD) == 0) {
		rv = listener_set_socket(l, name, buf, sz, t);
	} else {
		rv = tcp_settings_set(&l->settings, name, buf, sz, t);
	}
	pthread_mutex_unlock(&l->mtx);
	return (rv);
}

static const listener_ops tcp_listener_ops = {
	.l_free   = tcp_listener_free,
	.l_close  = tcp_listener_close,
	.l_stop   = tcp_listener_stop,
	.l_listen = tcp_listener_listen,
	.l_accept = tcp_listener_accept,
	.l_get    = tcp_listener_get,
	.l_set    = tcp_listener_set,
};

int
tcp_listener_alloc(nghttpw_stream_listener *sl, const nghttpw_url *url)
{
	tcp_listener *l;
	int           rv = 0;
	/* No port is port 0, one the system picks (as in nng). */
	const char *port = url->u_port != NULL && url->u_port[0] != '\0' ? url->u_port
	                                                                 : "0";

	if ((l = calloc(1, sizeof(*l))) == NULL) {
		return (NGHTTPW_ENOMEM);
	}
	if ((l->loop = loop_pick(&rv)) == NULL) {
		free(l);
		return (rv);
	}
	if ((l->url = strdup(url->u_rawurl)) == NULL ||
	    (l->host = strdup(url->u_hostname != NULL ? url->u_hostname : "")) ==
	        NULL ||
	    (l->port = strdup(port)) == NULL) {
		free(l->url);
		free(l->host);
		free(l);
		return (NGHTTPW_ENOMEM);
	}
	pthread_mutex_init(&l->mtx, NULL);
	list_init(&l->acceptq);
	task_init(&l->free_task, listener_free_task, l);
	l->pfd.fd           = -1;
	l->adopt_fd         = -1;
	l->pfd.cb           = listener_event;
	l->pfd.arg          = l;
#ifdef NGHTTPW_HAVE_IO_URING
	l->on_ring        = loop_poller(l->loop)->ring != NULL;
	l->accept_op.done = ring_accept_done;
	task_init(&l->arm_task, ring_arm_task, l);
#endif
	l->family           = tcp_scheme_family(url->u_scheme);
	l->settings.nodelay = true;
	sl->ops             = &tcp_listener_ops;
	sl->arg             = l;
	return (0);
}
