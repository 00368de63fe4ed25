/* TCP streams on a loop's io_uring ring.  A send, a recv and a wait for
 * readability are each one operation on the ring, prepared on the loop's
 * thread and submitted with everything else that turn prepared by the
 * single io_uring_enter that also waits.  Each queue has at most its head
 * in the kernel, so that bytes go and come in order.
 *
 * Only the loop's thread touches the ring: another thread queues the aio
 * and posts the conn's kick task, after one try of the plain system call
 * when nothing is queued (which, like the epoll path, needs no hop when
 * the socket is ready).
 *
 * An aio in the kernel is finished only by its completion, whatever
 * raced it (cancel, timeout, close): the cancel function asks the kernel
 * to cancel and records why, and the completion then finishes it once,
 * with data if some came first.  Stop waits for those completions, or on
 * the loop's own thread cancels synchronously; the conn is freed only
 * once its last completion has come back. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/tcp_conn.h"
#include "platform/poller_uring.h"
#include "platform/socket.h"

/* Entries per operation: most sends are a head and a body, most recvs one
 * buffer; what does not fit goes by the next operation. */
#define URING_SEND_IOV 16
#define URING_RECV_IOV 4

typedef struct uring_conn uring_conn;

typedef struct uring_op {
	poller_op     pop;
	uring_conn   *conn;
	list_node    *queue;     /* the aios it serves; NULL for the connect */
	nghttpw_aio  *aio;       /* the aio it is in the kernel for, or NULL */
	struct iovec *vec;
	unsigned      nvec_max;
	size_t        asked;     /* bytes the last send asked for */
	int           cancel_rv; /* why the aio is to end, 0 if it is not */
	bool          inflight;  /* prepared; its completion not yet back */
	bool          cancel_sent;
	bool          file_wait; /* a sendfile waits for the socket to drain */
	struct msghdr msg;
} uring_op;

struct uring_conn {
	tcp_conn       c; /* first: the stream's arg is either */
	plat_cond      cv;
	uring_op       send;
	uring_op       recv;
	uring_op       ready;
	uring_op       connect;
	struct iovec   send_vec[URING_SEND_IOV];
	struct iovec   recv_vec[URING_RECV_IOV];
	task           kick_task;
	unsigned       stop_waiters;
	bool           kick_posted;
	bool           free_pending;
};

const size_t tcp_uring_conn_size = sizeof(uring_conn);

static inline bool
uring_on_loop(uring_conn *u)
{
	return (loop_current() == u->c.loop);
}

static inline poller *
uring_poller(uring_conn *u)
{
	return (loop_poller(u->c.loop));
}

static void
uring_kick_locked(uring_conn *u)
{
	if (!u->kick_posted) {
		u->kick_posted = true;
		loop_post(u->c.loop, &u->kick_task);
	}
}

/* Whether nothing of the conn is left in the kernel or the run queue. */
static bool
uring_idle_locked(uring_conn *u)
{
	return (!u->send.inflight && !u->recv.inflight && !u->ready.inflight &&
	    !u->connect.inflight && !u->kick_posted);
}

bool
tcp_uring_busy_locked(tcp_conn *c)
{
	uring_conn *u = (uring_conn *) c;

	/* A kick posted alone does not count: it finds the conn closed
	 * (detached) and leaves the socket alone. */
	return (u->send.inflight || u->recv.inflight || u->ready.inflight ||
	    u->connect.inflight);
}

static void
uring_destroy(uring_conn *u)
{
	if (u->c.pfd.fd >= 0) { /* not detached */
		close(u->c.pfd.fd);
	}
	tcp_conn_destroy(&u->c);
}

/* Unlocks; frees the conn if it was let go of and nothing of it is left. */
static void
uring_unlock(uring_conn *u)
{
	bool done = u->free_pending && uring_idle_locked(u);

	if (u->stop_waiters > 0) {
		plat_cond_broadcast(&u->cv);
	}
	plat_mutex_unlock(&u->c.mtx);
	if (done) {
		uring_destroy(u);
	}
}

static void
uring_prep(uring_conn *u, uring_op *op, nghttpw_aio *aio,
    struct io_uring_sqe *sqe)
{
	int      fd = u->c.pfd.fd;
	unsigned n;

	if (op == &u->ready || op->file_wait) {
		io_uring_prep_poll_add(sqe, fd, op->file_wait ? POLLOUT : POLLIN);
		return;
	}
	n = (unsigned) aio_iov_to_iovec(aio, op->vec, (int) op->nvec_max);
	if (op == &u->send) {
		op->asked = 0;
		for (unsigned i = 0; i < n; i++) {
			op->asked += op->vec[i].iov_len;
		}
	}
	if (n == 1) {
		if (op == &u->send) {
			io_uring_prep_send(sqe, fd, op->vec[0].iov_base,
			    op->vec[0].iov_len, MSG_NOSIGNAL);
		} else {
			io_uring_prep_recv(sqe, fd, op->vec[0].iov_base,
			    op->vec[0].iov_len, 0);
		}
		return;
	}
	memset(&op->msg, 0, sizeof(op->msg));
	op->msg.msg_iov    = op->vec;
	op->msg.msg_iovlen = n;
	if (op == &u->send) {
		io_uring_prep_sendmsg(sqe, fd, &op->msg, MSG_NOSIGNAL);
	} else {
		io_uring_prep_recvmsg(sqe, fd, &op->msg, 0);
	}
}

/* Puts op in the kernel for aio; false (aio not taken) when the ring is
 * stopping or full. */
static bool
uring_start_op(uring_conn *u, uring_op *op, nghttpw_aio *aio, int *rv)
{
	poller              *p = uring_poller(u);
	struct io_uring_sqe *sqe;

	if (poller_closing(p)) {
		*rv = NGHTTPW_ECLOSED;
		return (false);
	}
	if ((sqe = poller_sqe(p, &op->pop)) == NULL) {
		*rv = NGHTTPW_ENOMEM;
		return (false);
	}
	uring_prep(u, op, aio, sqe);
	op->aio         = aio;
	op->inflight    = true;
	op->cancel_sent = false;
	return (true);
}

/* Puts the head of op's queue in the kernel, when op is free.  On the
 * loop's thread, conn locked. */
static void
uring_issue_locked(uring_conn *u, uring_op *op)
{
	list_node *node;

	while (op->aio == NULL && !op->inflight && !u->c.closed &&
	    (node = list_first(op->queue)) != NULL) {
		nghttpw_aio *aio = LIST_ENTRY(node, nghttpw_aio, prov_node);
		int          rv;

		op->cancel_rv = 0;
		op->file_wait = false;
		if (aio->file_fd >= 0) {
			/* No ring operation sends from a file without a pipe:
			 * sendfile when the socket has room. */
			if (tcp_sendfile_some(&u->c, aio, &rv) == IO_DONE) {
				list_remove(node);
				nghttpw_aio_finish(aio, rv);
				continue;
			}
			op->file_wait = true;
		}
		if (!uring_start_op(u, op, aio, &rv)) {
			list_remove(node);
			nghttpw_aio_finish(aio, rv);
		}
	}
}

/* Asks the kernel to end op's aio early. */
static void
uring_cancel_op_locked(uring_conn *u, uring_op *op)
{
	if (!op->inflight || op->cancel_sent) {
		return;
	}
	if (uring_on_loop(u)) {
		op->cancel_sent = poller_cancel(uring_poller(u), &op->pop);
	} else {
		uring_kick_locked(u);
	}
}

/* The end of aio from op's completion: IO_AGAIN when it is to go on (a
 * send the socket took all of with more to send, a sendfile whose socket
 * has room). */
static int
uring_result(uring_conn *u, uring_op *op, nghttpw_aio *aio, int res, int *rv)
{
	int cancel_rv = op->cancel_rv != 0 ? op->cancel_rv : NGHTTPW_ECLOSED;

	if (u->c.closed) {
		*rv = cancel_rv;
		return (IO_DONE);
	}
	if (op == &u->recv && res > 0) {
		/* The bytes are off the socket: they are the result, even when
		 * a cancel raced them. */
		aio_iov_advance(aio, (size_t) res);
		*rv = 0;
		return (IO_DONE);
	}
	if (op->cancel_rv != 0 || res == -ECANCELED) {
		*rv = cancel_rv;
		return (IO_DONE);
	}
	if (res == -EAGAIN || res == -EINTR) {
		return (IO_AGAIN);
	}
	if (op == &u->ready) {
		*rv = res < 0 ? plat_errno_result(-res) : 0;
		return (IO_DONE);
	}
	if (op->file_wait) {
		return (tcp_sendfile_some(&u->c, aio, rv));
	}
	if (op == &u->recv) {
		*rv = res == 0 ? NGHTTPW_ECLOSED : plat_errno_result(-res);
		return (IO_DONE);
	}
	if (res > 0) {
		aio_iov_advance(aio, (size_t) res);
		if ((size_t) res == op->asked && aio_iov_residual(aio) > 0) {
			return (IO_AGAIN);
		}
		*rv = 0;
		return (IO_DONE);
	}
	/* Bytes already sent make this a success; the error will be seen
	 * by the next send. */
	*rv = aio->count > 0 ? 0 : (res == 0 ? NGHTTPW_ECLOSED
	                                     : plat_errno_result(-res));
	return (IO_DONE);
}

static void
uring_connect_done(uring_conn *u)
{
	tcp_connect_cb cb = u->c.connect_cb;

	if (cb == NULL || u->c.closed) {
		uring_unlock(u);
		return;
	}
	u->c.connect_cb = NULL;
	plat_mutex_unlock(&u->c.mtx);
	/* May free the stream: u is not touched after. */
	tcp_connected(&u->c, cb, u->c.connect_arg);
}

static void
uring_op_done(poller_op *pop, int res, unsigned flags)
{
	uring_op    *op = (uring_op *) (void *) pop;
	uring_conn  *u  = op->conn;
	nghttpw_aio *aio;
	int          rv;

	(void) flags;
	plat_mutex_lock(&u->c.mtx);
	op->inflight = false;
	if (op == &u->connect) {
		uring_connect_done(u);
		return;
	}
	if ((aio = op->aio) != NULL) {
		if (uring_result(u, op, aio, res, &rv) == IO_AGAIN) {
			if (uring_start_op(u, op, aio, &rv)) {
				uring_unlock(u);
				return;
			}
		}
		op->aio = NULL;
		list_remove(&aio->prov_node);
		nghttpw_aio_finish(aio, rv);
	}
	uring_issue_locked(u, op);
	uring_unlock(u);
}

/* Runs on the loop for other threads: starts what they queued, and sends
 * the cancels they asked for. */
static void
uring_kick(void *arg)
{
	uring_conn *u = arg;
	uring_op   *ops[] = { &u->send, &u->recv, &u->ready, &u->connect };

	plat_mutex_lock(&u->c.mtx);
	u->kick_posted = false;
	if (u->c.connect_cb != NULL && !u->c.closed && !u->connect.inflight) {
		struct io_uring_sqe *sqe;
		poller              *p = uring_poller(u);
		if (!poller_closing(p) && (sqe = poller_sqe(p, &u->connect.pop)) != NULL) {
			io_uring_prep_poll_add(sqe, u->c.pfd.fd, POLLOUT);
			u->connect.inflight    = true;
			u->connect.cancel_sent = false;
		}
	}
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		if (ops[i]->inflight) {
			if (ops[i]->cancel_rv != 0 || u->c.closed) {
				uring_cancel_op_locked(u, ops[i]);
			}
		} else if (ops[i]->queue != NULL) {
			uring_issue_locked(u, ops[i]);
		}
	}
	uring_unlock(u);
}

/* The op whose aio in the kernel is aio, or NULL. */
static uring_op *
uring_holder(uring_conn *u, nghttpw_aio *aio)
{
	if (u->send.aio == aio) {
		return (&u->send);
	}
	if (u->recv.aio == aio) {
		return (&u->recv);
	}
	if (u->ready.aio == aio) {
		return (&u->ready);
	}
	return (NULL);
}

static void
uring_cancel(nghttpw_aio *aio, void *arg, int rv)
{
	uring_conn *u = arg;
	uring_op   *op;

	plat_mutex_lock(&u->c.mtx);
	if (list_linked(&aio->prov_node)) {
		if ((op = uring_holder(u, aio)) != NULL) {
			if (op->cancel_rv == 0) {
				op->cancel_rv = rv;
			}
			uring_cancel_op_locked(u, op);
		} else {
			list_remove(&aio->prov_node);
			nghttpw_aio_finish(aio, rv);
		}
	}
	plat_mutex_unlock(&u->c.mtx);
}

static bool
uring_try(uring_conn *u, nghttpw_aio *aio,
    int (*io)(tcp_conn *, nghttpw_aio *, int *), int *rv)
{
	bool done = io(&u->c, aio, rv) == IO_DONE;

	/* Only the readiness path has events to clear that mark. */
	u->c.unreadable = false;
	return (done);
}

static void
uring_submit(uring_conn *u, uring_op *op, nghttpw_aio *aio,
    int (*io)(tcp_conn *, nghttpw_aio *, int *))
{
	int rv;

	plat_mutex_lock(&u->c.mtx);
	if (u->c.closed) {
		nghttpw_aio_finish(aio, NGHTTPW_ECLOSED);
	} else if (io != NULL && !uring_on_loop(u) && op->aio == NULL &&
	    list_empty(op->queue) && uring_try(u, aio, io, &rv)) {
		/* Another thread: one try now saves the hop to the loop. */
		nghttpw_aio_finish(aio, rv);
	} else if (aio_defer(aio, uring_cancel, u)) {
		list_append(op->queue, &aio->prov_node);
		if (op->aio == NULL) {
			if (uring_on_loop(u)) {
				uring_issue_locked(u, op);
			} else {
				uring_kick_locked(u);
			}
		}
	}
	plat_mutex_unlock(&u->c.mtx);
}

static void
uring_start(uring_conn *u, uring_op *op, nghttpw_aio *aio,
    int (*io)(tcp_conn *, nghttpw_aio *, int *))
{
	if (tcp_io_begin(aio)) {
		uring_submit(u, op, aio, io);
	}
}

static void
uring_send(void *arg, nghttpw_aio *aio)
{
	uring_conn *u = arg;
	uring_start(u, &u->send, aio, tcp_send_some);
}

static void
uring_recv(void *arg, nghttpw_aio *aio)
{
	uring_conn *u = arg;
	uring_start(u, &u->recv, aio, tcp_recv_some);
}

void
tcp_uring_sendfile(tcp_conn *c, nghttpw_aio *aio)
{
	uring_conn *u = (uring_conn *) c;
	uring_submit(u, &u->send, aio, tcp_sendfile_some);
}

void
tcp_uring_wait_readable(tcp_conn *c, nghttpw_aio *aio)
{
	uring_conn *u = (uring_conn *) c;
	uring_submit(u, &u->ready, aio, NULL);
}

/* Ends with ECLOSED what is queued and not in the kernel, and asks the
 * kernel to end the rest. */
static void
uring_fail_op_locked(uring_conn *u, uring_op *op)
{
	list_node *node = op->queue->next;

	while (node != op->queue) {
		list_node   *next = node->next;
		nghttpw_aio *aio  = LIST_ENTRY(node, nghttpw_aio, prov_node);
		if (aio != op->aio) {
			list_remove(node);
			nghttpw_aio_finish(aio, NGHTTPW_ECLOSED);
		}
		node = next;
	}
	if (op->aio != NULL && op->cancel_rv == 0) {
		op->cancel_rv = NGHTTPW_ECLOSED;
	}
	uring_cancel_op_locked(u, op);
}

static void
uring_close(void *arg)
{
	uring_conn *u = arg;

	plat_mutex_lock(&u->c.mtx);
	if (!u->c.closed) {
		u->c.closed = true;
		(void) shutdown(u->c.pfd.fd, SHUT_RDWR);
		uring_fail_op_locked(u, &u->send);
		uring_fail_op_locked(u, &u->recv);
		uring_fail_op_locked(u, &u->ready);
		uring_cancel_op_locked(u, &u->connect);
	}
	plat_mutex_unlock(&u->c.mtx);
}

static bool
uring_holds_aio_locked(uring_conn *u)
{
	return (u->send.aio != NULL || u->recv.aio != NULL || u->ready.aio != NULL);
}

static void
uring_stop(void *arg)
{
	uring_conn *u = arg;
	uring_op   *ops[] = { &u->send, &u->recv, &u->ready };

	uring_close(u);
	plat_mutex_lock(&u->c.mtx);
	if (uring_on_loop(u)) {
		/* The completions would come on this very thread, later: end
		 * the operations now, and let those find no aio. */
		for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
			nghttpw_aio *aio = ops[i]->aio;
			if (aio == NULL) {
				continue;
			}
			poller_cancel_sync(uring_poller(u), &ops[i]->pop);
			ops[i]->aio = NULL;
			list_remove(&aio->prov_node);
			nghttpw_aio_finish(aio, ops[i]->cancel_rv);
		}
	} else {
		u->stop_waiters++;
		while (uring_holds_aio_locked(u)) {
			plat_cond_wait(&u->cv, &u->c.mtx);
		}
		u->stop_waiters--;
	}
	plat_mutex_unlock(&u->c.mtx);
	/* Wait out cancel functions that were handed this stream. */
	aio_cancel_barrier(u);
}

static void
uring_free_task(void *arg)
{
	uring_conn *u = arg;

	aio_cancel_barrier(u);
	plat_mutex_lock(&u->c.mtx);
	u->free_pending = true;
	uring_unlock(u);
}

static void
uring_free(void *arg)
{
	uring_conn *u = arg;

	uring_stop(u);
	/* Freed on the loop, once the last completion is back. */
	loop_post(u->c.loop, &u->c.free_task);
}

const nghttpw_stream_ops tcp_uring_ops = {
	.s_free  = uring_free,
	.s_close = uring_close,
	.s_stop  = uring_stop,
	.s_send  = uring_send,
	.s_recv  = uring_recv,
	.s_get   = tcp_get,
	.s_set   = tcp_set,
};

static void
uring_op_init(uring_conn *u, uring_op *op, list_node *q, struct iovec *vec,
    unsigned nvec)
{
	op->pop.done = uring_op_done;
	op->conn     = u;
	op->queue    = q;
	op->vec      = vec;
	op->nvec_max = nvec;
}

void
tcp_uring_init(tcp_conn *c)
{
	uring_conn *u = (uring_conn *) c;

	plat_cond_init(&u->cv);
	uring_op_init(u, &u->send, &c->sendq, u->send_vec, URING_SEND_IOV);
	uring_op_init(u, &u->recv, &c->recvq, u->recv_vec, URING_RECV_IOV);
	uring_op_init(u, &u->ready, &c->readyq, NULL, 0);
	uring_op_init(u, &u->connect, NULL, NULL, 0);
	task_init(&u->kick_task, uring_kick, u);
	task_init(&c->free_task, uring_free_task, u);
}

void
tcp_uring_connect(tcp_conn *c)
{
	uring_conn *u = (uring_conn *) c;

	/* The poll for writability goes in from the loop. */
	plat_mutex_lock(&c->mtx);
	if (uring_on_loop(u)) {
		plat_mutex_unlock(&c->mtx);
		uring_kick(u);
		return;
	}
	uring_kick_locked(u);
	plat_mutex_unlock(&c->mtx);
}
