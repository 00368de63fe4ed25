/* The poller's io_uring(7) back-end.  Each loop turn is one io_uring_enter
 * that submits what the turn prepared and waits for completions.  The
 * epoll set (descriptors that stay on readiness) is watched by a
 * multishot poll on the ring, and the wake-up eventfd by a read on it, so
 * that neither costs a system call of its own when nothing is ready. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "nghttpw/nghttpw.h"
#include "platform/poller_impl.h"
#include "platform/poller_uring.h"
#include "platform/socket.h"

#define RING_ENTRIES 256
#define RING_CQ_ENTRIES 4096

struct poller_ring {
	struct io_uring ring;
	poller         *owner;
	poller_op       epoll_op; /* multishot poll of the epoll set */
	poller_op       wake_op;  /* read of the eventfd */
	uint64_t        wake_count;
	bool            woken;
	bool            closing;
	unsigned        inflight; /* operations of poller_sqe's callers */
	int             setup_rv;
};

/* The operations the stream code and the poller itself use. */
static const int ring_ops_needed[] = {
	IORING_OP_RECV,
	IORING_OP_RECVMSG,
	IORING_OP_SEND,
	IORING_OP_SENDMSG,
	IORING_OP_POLL_ADD,
	IORING_OP_ASYNC_CANCEL,
	IORING_OP_READ,
	IORING_OP_ACCEPT,
};

/* How the kernel runs the work that completes an operation, best first.
 * By default it interrupts the submitting thread for it (an IPI and a
 * signal-like detour through the kernel, per completion while the thread
 * runs).  COOP_TASKRUN leaves it for the thread's next entry into the
 * kernel; DEFER_TASKRUN (Linux 6.1) for its next wait on the ring, which
 * a loop makes every turn anyway, so completions come in one batch.  It
 * needs a single submitting thread: the loop's, which takes the ring
 * over when it starts (the ring is made disabled by another thread). */
static const unsigned ring_taskrun_flags[] = {
	IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
	    IORING_SETUP_R_DISABLED,
	IORING_SETUP_COOP_TASKRUN,
	0,
};

static int
ring_setup(struct io_uring *ring, unsigned entries)
{
	struct io_uring_params params;
	int                    rv = -EINVAL;

	for (size_t i = 0; i < sizeof(ring_taskrun_flags) / sizeof(ring_taskrun_flags[0]) &&
	     rv == -EINVAL; i++) {
		memset(&params, 0, sizeof(params));
		params.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL |
		    ring_taskrun_flags[i];
		params.cq_entries = RING_CQ_ENTRIES;
		rv = io_uring_queue_init_params(entries, ring, &params);
	}
	return (rv);
}

/* Whether the kernel behind ring has all this back-end relies on: each
 * operation, a wait with a timeout in the same system call as the submit
 * (EXT_ARG), completions never dropped (NODROP), and synchronous cancel. */
static bool
ring_has_all(struct io_uring *ring)
{
	struct io_uring_probe         *probe;
	struct io_uring_sync_cancel_reg reg;
	bool                           ok = true;
	const unsigned                 feats = IORING_FEAT_EXT_ARG | IORING_FEAT_NODROP;

	if ((ring->features & feats) != feats) {
		return (false);
	}
	if ((probe = io_uring_get_probe_ring(ring)) == NULL) {
		return (false);
	}
	for (size_t i = 0; i < sizeof(ring_ops_needed) / sizeof(ring_ops_needed[0]); i++) {
		ok = ok && io_uring_opcode_supported(probe, ring_ops_needed[i]);
	}
	io_uring_free_probe(probe);
	/* Nothing has user data 1 here: a kernel that knows synchronous
	 * cancel says ENOENT. */
	memset(&reg, 0, sizeof(reg));
	reg.addr            = 1;
	reg.timeout.tv_sec  = -1;
	reg.timeout.tv_nsec = -1;
	return (ok && io_uring_register_sync_cancel(ring, &reg) == -ENOENT);
}

static pthread_once_t usable_once = PTHREAD_ONCE_INIT;
static bool           usable;

/* The kernel counts a thread that sets up a ring among its users, and
 * when the ring goes it interrupts each of them (a blocking call with a
 * timeout then fails with EINTR).  So the user's threads never set one
 * up: a thread of ours does it, and is gone by then. */
static void
run_apart(void *(*fn)(void *), void *arg)
{
	pthread_t t;

	if (pthread_create(&t, NULL, fn, arg) == 0) {
		pthread_join(t, NULL);
	}
}

static void *
usable_probe_main(void *arg)
{
	struct io_uring ring;

	(void) arg;
	if (ring_setup(&ring, 4) == 0) {
		usable = ring_has_all(&ring);
		io_uring_queue_exit(&ring);
	}
	return (NULL);
}

static void
usable_probe(void)
{
	run_apart(usable_probe_main, NULL);
}

bool
poller_uring_usable(void)
{
	pthread_once(&usable_once, usable_probe);
	return (usable);
}

struct io_uring_sqe *
poller_sqe(poller *p, poller_op *op)
{
	struct io_uring     *ring = &p->ring->ring;
	struct io_uring_sqe *sqe;

	if ((sqe = io_uring_get_sqe(ring)) == NULL) {
		/* Full: this turn prepared more than the ring holds. */
		(void) io_uring_submit(ring);
		if ((sqe = io_uring_get_sqe(ring)) == NULL) {
			return (NULL);
		}
	}
	io_uring_sqe_set_data(sqe, op);
	if (op != &p->ring->epoll_op && op != &p->ring->wake_op && op != NULL) {
		p->ring->inflight++;
	}
	return (sqe);
}

bool
poller_cancel(poller *p, poller_op *op)
{
	struct io_uring_sqe *sqe;

	/* The cancel request's own completion (user data NULL) is dropped. */
	if ((sqe = poller_sqe(p, NULL)) == NULL) {
		return (false);
	}
	io_uring_prep_cancel(sqe, op, 0);
	return (true);
}

void
poller_cancel_sync(poller *p, poller_op *op)
{
	struct io_uring_sync_cancel_reg reg;

	/* What is still in the submission queue is out of the kernel's
	 * reach: it goes in first, to be found. */
	(void) io_uring_submit(&p->ring->ring);
	memset(&reg, 0, sizeof(reg));
	reg.addr            = (uint64_t) (uintptr_t) op;
	reg.timeout.tv_sec  = -1;
	reg.timeout.tv_nsec = -1;
	(void) io_uring_register_sync_cancel(&p->ring->ring, &reg);
}

unsigned
poller_ops_inflight(poller *p)
{
	return (p->ring != NULL ? p->ring->inflight : 0);
}

bool
poller_closing(poller *p)
{
	return (p->ring != NULL && p->ring->closing);
}

void
poller_cancel_all(poller *p)
{
	struct io_uring_sqe *sqe;

	if (p->ring == NULL || p->ring->closing) {
		return;
	}
	p->ring->closing = true;
	/* The poller's own operations are cancelled too; they re-arm. */
	if (p->ring->inflight > 0 && (sqe = poller_sqe(p, NULL)) != NULL) {
		io_uring_prep_cancel(sqe, NULL, IORING_ASYNC_CANCEL_ANY);
	}
}

static void
ring_arm_epoll(poller_ring *r)
{
	struct io_uring_sqe *sqe = poller_sqe(r->owner, &r->epoll_op);

	if (sqe != NULL) {
		io_uring_prep_poll_multishot(sqe, r->owner->epfd, POLLIN);
	}
}

static void
ring_arm_wake(poller_ring *r)
{
	struct io_uring_sqe *sqe = poller_sqe(r->owner, &r->wake_op);

	if (sqe != NULL) {
		io_uring_prep_read(sqe, r->owner->wakefd, &r->wake_count,
		    sizeof(r->wake_count), 0);
	}
}

static void
ring_epoll_done(poller_op *op, int res, unsigned flags)
{
	poller_ring *r = (poller_ring *) (void *) ((char *) op -
	    offsetof(poller_ring, epoll_op));

	if (res >= 0 && (poller_epoll_run(r->owner, 0))) {
		r->woken = true;
	}
	if ((flags & IORING_CQE_F_MORE) == 0) {
		ring_arm_epoll(r);
	}
}

static void
ring_wake_done(poller_op *op, int res, unsigned flags)
{
	poller_ring *r = (poller_ring *) (void *) ((char *) op -
	    offsetof(poller_ring, wake_op));

	(void) flags;
	if (res >= 0) {
		r->woken = true;
	}
	ring_arm_wake(r);
}

static void *
ring_setup_main(void *arg)
{
	poller_ring *r = arg;

	r->setup_rv = ring_setup(&r->ring, RING_ENTRIES);
	return (NULL);
}

int
poller_uring_open(poller *p)
{
	poller_ring *r;
	int          rv;

	if (!poller_uring_usable()) {
		return (NGHTTPW_ENOTSUP);
	}
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		return (NGHTTPW_ENOMEM);
	}
	r->setup_rv = -EAGAIN; /* if the thread could not start */
	run_apart(ring_setup_main, r);
	if ((rv = r->setup_rv) != 0) {
		free(r);
		return (plat_errno_result(-rv));
	}
	r->owner         = p;
	r->epoll_op.done = ring_epoll_done;
	r->wake_op.done  = ring_wake_done;
	p->ring          = r;
	return (0);
}

void
poller_uring_start(poller *p)
{
	/* The loop's thread becomes the ring's one submitter.  Debian's
	 * liburing 2.3 declares io_uring_enable_rings but does not export
	 * it: the system call, then. */
	if (p->ring->ring.flags & IORING_SETUP_R_DISABLED) {
		(void) syscall(__NR_io_uring_register, p->ring->ring.ring_fd,
		    IORING_REGISTER_ENABLE_RINGS, NULL, 0);
	}
	/* Armed by the loop's thread: the kernel runs the work that
	 * completes an operation in the thread that submitted it, which
	 * would otherwise be whoever started the runtime (its blocking
	 * calls then fail with EINTR, and its exit cancels them).  A wake
	 * written before this stays in the eventfd. */
	ring_arm_epoll(p->ring);
	ring_arm_wake(p->ring);
}

void
poller_uring_close(poller *p)
{
	io_uring_queue_exit(&p->ring->ring);
	free(p->ring);
	p->ring = NULL;
}

/* Hands each completion to its operation.  One at a time, marked seen
 * before its callback runs: a callback may prepare and even submit. */
static void
ring_dispatch(poller_ring *r)
{
	struct io_uring_cqe *cqe;

	while (io_uring_peek_cqe(&r->ring, &cqe) == 0) {
		poller_op *op    = io_uring_cqe_get_data(cqe);
		int        res   = cqe->res;
		unsigned   flags = cqe->flags;

		io_uring_cqe_seen(&r->ring, cqe);
		if (op == NULL) {
			continue;
		}
		if (op != &r->epoll_op && op != &r->wake_op &&
		    (flags & IORING_CQE_F_MORE) == 0) {
			r->inflight--;
		}
		op->done(op, res, flags);
	}
}

bool
poller_uring_run(poller *p, int timeout_ms)
{
	poller_ring         *r = p->ring;
	struct io_uring_cqe *cqe;

	r->woken = false;
	if (timeout_ms == 0) {
		/* Nothing to wait for: submit if there is anything, and take
		 * what has already completed. */
		if (io_uring_sq_ready(&r->ring) > 0 ||
		    (r->ring.flags & IORING_SETUP_DEFER_TASKRUN)) {
			/* Deferred completions are posted only when asked. */
			(void) io_uring_submit_and_get_events(&r->ring);
		}
	} else if (timeout_ms < 0) {
		(void) io_uring_submit_and_wait(&r->ring, 1);
	} else {
		struct __kernel_timespec ts = {
			.tv_sec  = timeout_ms / 1000,
			.tv_nsec = (long long) (timeout_ms % 1000) * 1000000,
		};
		(void) io_uring_submit_and_wait_timeout(&r->ring, &cqe, 1, &ts, NULL);
	}
	ring_dispatch(r);
	return (r->woken);
}
