/* TCP streams.  On epoll every send and recv first tries the system call
 * at once; only when the socket would block is the aio queued, and the
 * loop's edge-triggered readiness events then drain the queues in order.
 * On io_uring (tcp_uring.c) they are operations on the loop's ring. */
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/options.h"
#include "core/tcp_conn.h"
#include "platform/socket.h"

#define TCP_RECV_IOV 64
/* stream_send_now's entries: a message's head, chunk framing and body. */
#define SEND_NOW_IOV 8

static const nghttpw_stream_ops tcp_ops;

/* The file variant of tcp_send_some: the kernel copies from the page
 * cache to the socket, the file is never read into user memory. */
int
tcp_sendfile_some(tcp_conn *c, nghttpw_aio *aio, int *rv)
{
	while (aio->file_len > 0) {
		off_t   off  = (off_t) aio->file_off;
		size_t  want = aio->file_len > (1u << 30) ? (1u << 30)
		                                          : (size_t) aio->file_len;
		ssize_t n    = sendfile(c->pfd.fd, aio->file_fd, &off, want);
		if (n > 0) {
			aio->count += (size_t) n;
			aio->file_off += (uint64_t) n;
			aio->file_len -= (uint64_t) n;
			continue;
		}
		if (n == 0) {
			/* The file is shorter than promised. */
			*rv = aio->count > 0 ? 0 : NGHTTPW_EINVAL;
			return (IO_DONE);
		}
		if (errno == EINTR) {
			continue;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			if (aio->count == 0) {
				return (IO_AGAIN);
			}
			break;
		}
		*rv = aio->count > 0 ? 0 : plat_errno_result(errno);
		return (IO_DONE);
	}
	*rv = 0;
	return (IO_DONE);
}

/* Sends as much of aio as the socket takes.  IO_DONE with *rv set when the
 * operation is over (some bytes went, or an error). */
int
tcp_send_some(tcp_conn *c, nghttpw_aio *aio, int *rv)
{
	struct iovec vec[IOV_MAX];

	if (aio->file_fd >= 0) {
		return (tcp_sendfile_some(c, aio, rv));
	}

	for (;;) {
		struct msghdr msg = { 0 };
		ssize_t       n;

		msg.msg_iov    = vec;
		msg.msg_iovlen = (size_t) aio_iov_to_iovec(aio, vec, IOV_MAX);
		if (msg.msg_iovlen == 0) {
			*rv = 0;
			return (IO_DONE);
		}
		n = sendmsg(c->pfd.fd, &msg, MSG_NOSIGNAL);
		if (n > 0) {
			aio_iov_advance(aio, (size_t) n);
			continue;
		}
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (aio->count == 0) {
				return (IO_AGAIN);
			}
			*rv = 0;
			return (IO_DONE);
		}
		/* Bytes already sent make this a success; the error will be
		 * seen by the next send. */
		*rv = aio->count > 0 ? 0 : plat_errno_result(errno);
		return (IO_DONE);
	}
}

int
tcp_recv_some(tcp_conn *c, nghttpw_aio *aio, int *rv)
{
	struct iovec vec[TCP_RECV_IOV];
	int          nvec;
	size_t       want = 0;
	ssize_t      n;

	/* With edge-triggered events, a socket that came up empty stays
	 * empty until the next readiness event; a read now would only say
	 * EAGAIN. */
	if (c->unreadable) {
		return (IO_AGAIN);
	}
	nvec = aio_iov_to_iovec(aio, vec, TCP_RECV_IOV);
	for (int i = 0; i < nvec; i++) {
		want += vec[i].iov_len;
	}
	do {
		n = readv(c->pfd.fd, vec, nvec);
	} while (n < 0 && errno == EINTR);
	if (n > 0) {
		aio_iov_advance(aio, (size_t) n);
		/* A short read took all the data the socket had (TCP hands
		 * over all it has queued, up to the buffer), so it is empty
		 * too -- unless an end it already announced waits behind the
		 * data, which no new event will announce again. */
		c->unreadable = (size_t) n < want && !c->eof_pending;
		*rv = 0;
	} else if (n == 0) {
		*rv = NGHTTPW_ECLOSED;
	} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
		c->unreadable = true;
		return (IO_AGAIN);
	} else {
		*rv = plat_errno_result(errno);
	}
	return (IO_DONE);
}

/* For stream_wait_readable: done as soon as a read would not block. */
static int
tcp_readable(tcp_conn *c, nghttpw_aio *aio, int *rv)
{
	(void) aio;
	if (c->unreadable) {
		return (IO_AGAIN);
	}
	*rv = 0;
	return (IO_DONE);
}

/* Serves queued aios from the head until the socket would block. */
static void
tcp_drain(tcp_conn *c, list_node *q, int (*io)(tcp_conn *, nghttpw_aio *, int *))
{
	list_node *node;
	int        rv;

	while ((node = list_first(q)) != NULL) {
		nghttpw_aio *aio = LIST_ENTRY(node, nghttpw_aio, prov_node);
		if (io(c, aio, &rv) == IO_AGAIN) {
			return;
		}
		list_remove(node);
		nghttpw_aio_finish(aio, rv);
	}
}

static void
tcp_fail_queue(list_node *q, int rv)
{
	list_node *node;

	while ((node = list_first(q)) != NULL) {
		list_remove(node);
		nghttpw_aio_finish(LIST_ENTRY(node, nghttpw_aio, prov_node), rv);
	}
}

void
tcp_connected(tcp_conn *c, tcp_connect_cb cb, void *arg)
{
	struct sockaddr_storage ss;
	socklen_t               len = sizeof(ss);
	int                     err = 0;
	socklen_t               errlen = sizeof(err);

	if (getsockopt(c->pfd.fd, SOL_SOCKET, SO_ERROR, &err, &errlen) != 0) {
		err = errno;
	}
	if (err == 0 && getpeername(c->pfd.fd, (void *) &ss, &len) == 0) {
		plat_sockaddr_from(&c->remote, &ss);
		cb(arg, 0, &c->stream);
		return;
	}
	if (err == 0) {
		err = errno;
	}
	cb(arg, plat_errno_result(err), NULL);
	nghttpw_stream_free(&c->stream);
}

static void
tcp_event(void *arg, unsigned events)
{
	tcp_conn      *c = arg;
	tcp_connect_cb cb;

	plat_mutex_lock(&c->mtx);
	if (events & (POLLER_HUP | POLLER_ERR)) {
		/* Edge-triggered: this is the only word of it (see
		 * tcp_recv_some), even when it comes with the connect. */
		c->eof_pending = true;
	}
	if ((cb = c->connect_cb) != NULL) {
		if ((events & POLLER_OUT) == 0) {
			plat_mutex_unlock(&c->mtx);
			return;
		}
		c->connect_cb = NULL;
		plat_mutex_unlock(&c->mtx);
		tcp_connected(c, cb, c->connect_arg);
		return;
	}
	if (!c->closed) {
		if (events & POLLER_OUT) {
			tcp_drain(c, &c->sendq, tcp_send_some);
		}
		if (events & POLLER_IN) {
			c->unreadable = false;
			tcp_drain(c, &c->readyq, tcp_readable);
			tcp_drain(c, &c->recvq, tcp_recv_some);
		}
	}
	plat_mutex_unlock(&c->mtx);
}

static void
tcp_cancel(nghttpw_aio *aio, void *arg, int rv)
{
	tcp_conn *c = arg;

	plat_mutex_lock(&c->mtx);
	if (list_linked(&aio->prov_node)) {
		list_remove(&aio->prov_node);
		nghttpw_aio_finish(aio, rv);
	}
	plat_mutex_unlock(&c->mtx);
}

/* Serves a begun aio at once when nothing is queued before it and the
 * socket allows, else queues it on q until readiness. */
static void
tcp_submit(tcp_conn *c, nghttpw_aio *aio, list_node *q,
    int (*io)(tcp_conn *, nghttpw_aio *, int *))
{
	int rv;

	plat_mutex_lock(&c->mtx);
	if (c->closed) {
		nghttpw_aio_finish(aio, NGHTTPW_ECLOSED);
	} else if (list_empty(q) && io(c, aio, &rv) == IO_DONE) {
		nghttpw_aio_finish(aio, rv);
	} else if (aio_defer(aio, tcp_cancel, c)) {
		list_append(q, &aio->prov_node);
	}
	plat_mutex_unlock(&c->mtx);
}

bool
tcp_io_begin(nghttpw_aio *aio)
{
	if (!nghttpw_aio_begin(aio)) {
		return (false);
	}
	if (aio_iov_residual(aio) == 0) {
		nghttpw_aio_finish(aio, NGHTTPW_EINVAL);
		return (false);
	}
	return (true);
}

static void
tcp_start(tcp_conn *c, nghttpw_aio *aio, list_node *q,
    int (*io)(tcp_conn *, nghttpw_aio *, int *))
{
	if (tcp_io_begin(aio)) {
		tcp_submit(c, aio, q, io);
	}
}

static void
tcp_send(void *arg, nghttpw_aio *aio)
{
	tcp_conn *c = arg;
	tcp_start(c, aio, &c->sendq, tcp_send_some);
}

/* Begins an operation that only TCP streams offer: the stream's
 * tcp_conn, or NULL when the aio is already finished (ENOTSUP if s is not
 * TCP). */
static tcp_conn *
tcp_begin_own(nghttpw_stream *s, nghttpw_aio *aio)
{
	if (!nghttpw_aio_begin(aio)) {
		return (NULL);
	}
	if (s->ops != &tcp_ops
#ifdef NGHTTPW_HAVE_IO_URING
	    && s->ops != &tcp_uring_ops
#endif
	) {
		nghttpw_aio_finish(aio, NGHTTPW_ENOTSUP);
		return (NULL);
	}
	return (s->arg);
}

size_t
stream_send_now(nghttpw_stream *s, const nghttpw_iov *iov, unsigned niov)
{
	struct iovec  vec[SEND_NOW_IOV];
	struct msghdr msg = { 0 };
	tcp_conn     *c;
	ssize_t       n = 0;

	if (s->ops != &tcp_ops) {
		return (0);
	}
	c = s->arg;
	for (unsigned i = 0; i < niov && msg.msg_iovlen < SEND_NOW_IOV; i++) {
		if (iov[i].iov_len > 0) {
			vec[msg.msg_iovlen].iov_base = iov[i].iov_buf;
			vec[msg.msg_iovlen].iov_len  = iov[i].iov_len;
			msg.msg_iovlen++;
		}
	}
	msg.msg_iov = vec;
	plat_mutex_lock(&c->mtx);
	if (!c->closed && c->connect_cb == NULL && list_empty(&c->sendq) &&
	    msg.msg_iovlen > 0) {
		do {
			n = sendmsg(c->pfd.fd, &msg, MSG_NOSIGNAL);
		} while (n < 0 && errno == EINTR);
	}
	plat_mutex_unlock(&c->mtx);
	return (n > 0 ? (size_t) n : 0);
}

void
stream_sendfile(nghttpw_stream *s, int fd, uint64_t off, uint64_t len,
    nghttpw_aio *aio)
{
	tcp_conn *c;

	if ((c = tcp_begin_own(s, aio)) == NULL) {
		return;
	}
	if (len == 0) {
		nghttpw_aio_finish(aio, NGHTTPW_EINVAL);
		return;
	}
	aio->file_fd  = fd;
	aio->file_off = off;
	aio->file_len = len;
#ifdef NGHTTPW_HAVE_IO_URING
	if (s->ops == &tcp_uring_ops) {
		tcp_uring_sendfile(c, aio);
		return;
	}
#endif
	tcp_submit(c, aio, &c->sendq, tcp_sendfile_some);
}

void
stream_wait_readable(nghttpw_stream *s, nghttpw_aio *aio)
{
	tcp_conn *c;

	if ((c = tcp_begin_own(s, aio)) == NULL) {
		return;
	}
#ifdef NGHTTPW_HAVE_IO_URING
	if (s->ops == &tcp_uring_ops) {
		tcp_uring_wait_readable(c, aio);
		return;
	}
#endif
	tcp_submit(c, aio, &c->readyq, tcp_readable);
}

static void
tcp_recv(void *arg, nghttpw_aio *aio)
{
	tcp_conn *c = arg;
	tcp_start(c, aio, &c->recvq, tcp_recv_some);
}

static void
tcp_close(void *arg)
{
	tcp_conn *c = arg;

	plat_mutex_lock(&c->mtx);
	if (!c->closed) {
		c->closed = true;
		(void) shutdown(c->pfd.fd, SHUT_RDWR);
		tcp_fail_queue(&c->sendq, NGHTTPW_ECLOSED);
		tcp_fail_queue(&c->recvq, NGHTTPW_ECLOSED);
		tcp_fail_queue(&c->readyq, NGHTTPW_ECLOSED);
	}
	plat_mutex_unlock(&c->mtx);
}

static void
tcp_stop(void *arg)
{
	tcp_conn *c = arg;

	tcp_close(c);
	plat_mutex_lock(&c->mtx);
	if (c->registered) {
		c->registered = false;
		loop_poll_del(c->loop, &c->pfd);
	}
	plat_mutex_unlock(&c->mtx);
	/* Wait out cancel functions that were handed this stream. */
	aio_cancel_barrier(c);
}

static void
tcp_free_task(void *arg)
{
	tcp_conn *c = arg;

	aio_cancel_barrier(c);
	if (c->pfd.fd >= 0) { /* not detached */
		close(c->pfd.fd);
	}
	free(c);
}

static void
tcp_free(void *arg)
{
	tcp_conn *c = arg;

	tcp_stop(c);
	/* The loop may hold this conn in the batch of events it is working
	 * through; freeing from its run queue comes after that batch. */
	loop_post(c->loop, &c->free_task);
}

int
tcp_settings_get(const tcp_settings *ts, const char *name, void *buf,
    size_t *szp, nghttpw_type t)
{
	if (strcmp(name, NGHTTPW_OPT_TCP_NODELAY) == 0) {
		return (opt_out_bool(ts->nodelay, buf, szp, t));
	}
	if (strcmp(name, NGHTTPW_OPT_TCP_KEEPALIVE) == 0) {
		return (opt_out_bool(ts->keepalive, buf, szp, t));
	}
	return (NGHTTPW_ENOTSUP);
}

int
tcp_settings_set(tcp_settings *ts, const char *name, const void *buf,
    size_t sz, nghttpw_type t)
{
	if (strcmp(name, NGHTTPW_OPT_TCP_NODELAY) == 0) {
		return (opt_in_bool(buf, sz, t, &ts->nodelay));
	}
	if (strcmp(name, NGHTTPW_OPT_TCP_KEEPALIVE) == 0) {
		return (opt_in_bool(buf, sz, t, &ts->keepalive));
	}
	return (NGHTTPW_ENOTSUP);
}

int
tcp_get(void *arg, const char *name, void *buf, size_t *szp, nghttpw_type t)
{
	tcp_conn *c = arg;
	int       rv;

	plat_mutex_lock(&c->mtx);
	if (strcmp(name, NGHTTPW_OPT_LOCADDR) == 0) {
		rv = opt_out_addr(&c->local, buf, szp, t);
	} else if (strcmp(name, NGHTTPW_OPT_REMADDR) == 0) {
		rv = opt_out_addr(&c->remote, buf, szp, t);
	} else {
		rv = tcp_settings_get(&c->settings, name, buf, szp, t);
	}
	plat_mutex_unlock(&c->mtx);
	return (rv);
}

int
tcp_set(void *arg, const char *name, const void *buf, size_t sz, nghttpw_type t)
{
	tcp_conn    *c = arg;
	tcp_settings ts;
	int          rv;

	if (strcmp(name, NGHTTPW_OPT_LOCADDR) == 0 ||
	    strcmp(name, NGHTTPW_OPT_REMADDR) == 0) {
		return (NGHTTPW_EREADONLY);
	}
	plat_mutex_lock(&c->mtx);
	ts = c->settings;
	if ((rv = tcp_settings_set(&ts, name, buf, sz, t)) == 0 &&
	    (rv = plat_set_nodelay(c->pfd.fd, ts.nodelay)) == 0 &&
	    (rv = plat_set_keepalive(c->pfd.fd, ts.keepalive)) == 0) {
		c->settings = ts;
	}
	plat_mutex_unlock(&c->mtx);
	return (rv);
}

static const nghttpw_stream_ops tcp_ops = {
	.s_free  = tcp_free,
	.s_close = tcp_close,
	.s_stop  = tcp_stop,
	.s_send  = tcp_send,
	.s_recv  = tcp_recv,
	.s_get   = tcp_get,
	.s_set   = tcp_set,
};

static int
tcp_conn_new(tcp_conn **cp, int fd, const tcp_settings *ts)
{
	struct sockaddr_storage ss;
	socklen_t               len = sizeof(ss);
	tcp_conn               *c;
	loop                   *l;
	size_t                  size = sizeof(*c);
	int                     rv   = 0;

	if ((l = loop_pick(&rv)) == NULL) {
		return (rv);
	}
#ifdef NGHTTPW_HAVE_IO_URING
	if (tcp_conn_on_ring(l)) {
		size = tcp_uring_conn_size;
	}
#endif
	if ((c = calloc(1, size)) == NULL) {
		return (NGHTTPW_ENOMEM);
	}
	c->loop = l;
	plat_mutex_init(&c->mtx);
	list_init(&c->sendq);
	list_init(&c->recvq);
	list_init(&c->readyq);
	stream_init(&c->stream, &tcp_ops, c);
	c->stream.loop = c->loop;
	task_init(&c->free_task, tcp_free_task, c);
	c->pfd.fd   = fd;
	c->pfd.cb   = tcp_event;
	c->pfd.arg  = c;
	c->settings = *ts;
#ifdef NGHTTPW_HAVE_IO_URING
	if (tcp_conn_on_ring(l)) {
		stream_init(&c->stream, &tcp_uring_ops, c);
		c->stream.loop = c->loop;
		tcp_uring_init(c);
	}
#endif
	(void) plat_set_nodelay(fd, ts->nodelay);
	(void) plat_set_keepalive(fd, ts->keepalive);
	if (getsockname(fd, (void *) &ss, &len) == 0) {
		plat_sockaddr_from(&c->local, &ss);
	}
	*cp = c;
	return (0);
}

void
tcp_conn_destroy(tcp_conn *c)
{
	free(c);
}

int
tcp_conn_alloc(nghttpw_stream **sp, int fd, const tcp_settings *ts)
{
	struct sockaddr_storage ss;
	socklen_t               len = sizeof(ss);
	tcp_conn               *c;
	int                     rv;

	if ((rv = tcp_conn_new(&c, fd, ts)) != 0) {
		return (rv);
	}
	if (getpeername(fd, (void *) &ss, &len) == 0) {
		plat_sockaddr_from(&c->remote, &ss);
	}
	if (tcp_conn_on_ring(c->loop)) {
		*sp = &c->stream;
		return (0);
	}
	if ((rv = loop_poll_add(c->loop, &c->pfd)) != 0) {
		tcp_conn_destroy(c);
		return (rv);
	}
	c->registered = true;
	*sp           = &c->stream;
	return (0);
}

int
tcp_conn_connect(int fd, const tcp_settings *ts, tcp_connect_cb cb,
    void *cb_arg, void **handle)
{
	tcp_conn *c;
	int       rv;

	if ((rv = tcp_conn_new(&c, fd, ts)) != 0) {
		return (rv);
	}
	c->connect_cb  = cb;
	c->connect_arg = cb_arg;
	*handle        = c;
#ifdef NGHTTPW_HAVE_IO_URING
	if (tcp_conn_on_ring(c->loop)) {
		tcp_uring_connect(c);
		return (0);
	}
#endif
	/* Registering a socket edge-triggered reports it writable as soon as
	 * the connect is done, even when that was before this call. */
	plat_mutex_lock(&c->mtx);
	if ((rv = loop_poll_add(c->loop, &c->pfd)) != 0) {
		plat_mutex_unlock(&c->mtx);
		tcp_conn_destroy(c);
		return (rv);
	}
	c->registered = true;
	plat_mutex_unlock(&c->mtx);
	return (0);
}

bool
tcp_conn_abort_connect(void *handle)
{
	tcp_conn *c = handle;
	bool      aborted;

	plat_mutex_lock(&c->mtx);
	aborted       = c->connect_cb != NULL;
	c->connect_cb = NULL;
	plat_mutex_unlock(&c->mtx);
	if (aborted) {
		nghttpw_stream_free(&c->stream);
	}
	return (aborted);
}

bool
tcp_stream_detachable(nghttpw_stream *s)
{
	return (s->ops == &tcp_ops
#ifdef NGHTTPW_HAVE_IO_URING
	    || s->ops == &tcp_uring_ops
#endif
	);
}

/* Whether the socket is in use: an operation is queued, or (on io_uring)
 * still in the kernel, where a recv could take bytes nobody would see.
 * Conn locked. */
static bool
tcp_busy_locked(tcp_conn *c)
{
	if (c->connect_cb != NULL || !list_empty(&c->sendq) ||
	    !list_empty(&c->recvq) || !list_empty(&c->readyq)) {
		return (true);
	}
#ifdef NGHTTPW_HAVE_IO_URING
	if (c->stream.ops == &tcp_uring_ops) {
		return (tcp_uring_busy_locked(c));
	}
#endif
	return (false);
}

int
tcp_stream_detach(nghttpw_stream *s, int *fdp, tcp_settings *ts)
{
	tcp_conn *c = s->arg;
	int       rv = 0;

	if (!tcp_stream_detachable(s)) {
		return (NGHTTPW_ENOTSUP);
	}
	plat_mutex_lock(&c->mtx);
	if (c->closed || tcp_busy_locked(c)) {
		rv = NGHTTPW_ESTATE;
	} else {
		/* Closed as far as the stream goes: its close and free leave
		 * the socket alone. */
		c->closed = true;
		if (c->registered) {
			c->registered = false;
			loop_poll_del(c->loop, &c->pfd);
		}
		*fdp      = c->pfd.fd;
		*ts       = c->settings;
		c->pfd.fd = -1;
	}
	plat_mutex_unlock(&c->mtx);
	return (rv);
}
