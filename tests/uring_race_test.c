/* Races on the io_uring path, where a recv or send in the kernel is ended
 * only by its completion: a cancel, a timeout or a close against the
 * data arriving.  Each aio must finish exactly once, with the data when
 * the data won (no byte lost or read twice), and a stream freed with
 * operations in the kernel must not be touched after (ASan sees that). */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nghttpw/nghttpw.h"
#include "support/pairs.h"

typedef struct {
	atomic_int calls;
} counted;

static void
count_cb(void *arg)
{
	counted *c = arg;
	atomic_fetch_add(&c->calls, 1);
}

static void use_uring(void);

static void
uring_pair(nghttpw_stream **a, nghttpw_stream **b)
{
	int rv;

	use_uring();
	if ((rv = tcp_pair("127.0.0.1", a, b)) == NGHTTPW_ENOTSUP) {
		cr_skip_test("the kernel refuses io_uring here");
	}
	cr_assert_eq(rv, 0, "pair: %s", nghttpw_strerror(rv));
}

static void
use_uring(void)
{
	nghttpw_init_set_parameter(
	    NGHTTPW_INIT_POLLER_BACKEND, NGHTTPW_POLLER_IO_URING);
	nghttpw_init_set_parameter(NGHTTPW_INIT_NUM_POLLER_THREADS, 2);
}

/* A one-byte recv against a byte sent at about the same time and a cancel
 * (or a deadline of 0-1 ms): the bytes received, in order, are exactly
 * the bytes sent.  The sender is a plain socket, so that a write returns
 * at once and the cancel can land between the data and its completion. */
static void
check_recv_race(bool use_timeout, int rounds)
{
	nghttpw_stream *b;
	nghttpw_aio    *aio;
	counted         cnt = { 0 };
	unsigned char   next_in = 0, out, in;
	int             got = 0, port, lfd, fd, rv;

	use_uring();
	cr_assert((lfd = raw_tcp_listen(&port)) >= 0);
	if ((rv = tcp_dial(port, &b)) == NGHTTPW_ENOTSUP) {
		cr_skip_test("the kernel refuses io_uring here");
	}
	cr_assert_eq(rv, 0);
	cr_assert((fd = accept(lfd, NULL, NULL)) >= 0);
	close(lfd);
	cr_assert_eq(nghttpw_aio_alloc(&aio, count_cb, &cnt), 0);
	for (int i = 0; i < rounds; i++) {
		nghttpw_iov iov = { .iov_buf = &in, .iov_len = 1 };
		int         rv;

		out = (unsigned char) i;
		cr_assert_eq(nghttpw_aio_set_iov(aio, 1, &iov), 0);
		nghttpw_aio_set_timeout(aio, use_timeout ? (i % 2) : -1);
		nghttpw_stream_recv(b, aio);
		if (i % 3 == 0) {
			nghttpw_aio_cancel(aio);
		}
		cr_assert_eq(write(fd, &out, 1), 1);
		if (i % 3 == 1) {
			nghttpw_aio_cancel(aio);
		}
		nghttpw_aio_wait(aio);
		cr_assert_eq(atomic_load(&cnt.calls), i + 1, "round %d", i);
		rv = nghttpw_aio_result(aio);
		if (rv == 0) {
			cr_assert_eq(nghttpw_aio_count(aio), 1);
			cr_assert_eq(in, next_in, "round %d: byte %u, not %u", i,
			    in, next_in);
			next_in++;
			got++;
		} else {
			cr_assert(rv == NGHTTPW_ECANCELED || rv == NGHTTPW_ETIMEDOUT,
			    "round %d: %s", i, nghttpw_strerror(rv));
			cr_assert_eq(nghttpw_aio_count(aio), 0);
		}
	}
	/* What the cancels left in the socket comes in order after. */
	while (got < rounds) {
		cr_assert_eq(recv_all(b, &in, 1, NULL), 0);
		cr_assert_eq(in, next_in);
		next_in++;
		got++;
	}
	nghttpw_aio_free(aio);
	nghttpw_stream_free(b);
	close(fd);
}

Test(uring_race, cancel_vs_recv, .timeout = 120) { check_recv_race(false, 3000); }
Test(uring_race, timeout_vs_recv, .timeout = 120) { check_recv_race(true, 3000); }

typedef struct {
	nghttpw_stream *s;
	int             how; /* 0 close, 1 stop, 2 free */
} closer;

static void *
closer_main(void *arg)
{
	closer *c = arg;

	switch (c->how) {
	case 0:
		nghttpw_stream_close(c->s);
		break;
	case 1:
		nghttpw_stream_stop(c->s);
		break;
	default:
		nghttpw_stream_free(c->s);
		break;
	}
	return (NULL);
}

/* A recv, a send that fills the socket and a readiness wait in the
 * kernel, while the peer sends and another thread closes, stops or frees
 * the stream: each aio ends once, with a close's result or its data. */
Test(uring_race, close_vs_completion, .timeout = 120)
{
	size_t         big = 8u << 20;
	unsigned char *blob = calloc(1, big);

	cr_assert_not_null(blob);
	for (int i = 0; i < 200; i++) {
		nghttpw_stream *a, *b;
		nghttpw_aio    *rx, *tx;
		counted         crx = { 0 }, ctx = { 0 };
		unsigned char   in[16];
		nghttpw_iov     riov = { .iov_buf = in, .iov_len = sizeof(in) };
		nghttpw_iov     tiov = { .iov_buf = blob, .iov_len = big };
		closer          cl;
		pthread_t       th;

		uring_pair(&a, &b);
		cr_assert_eq(nghttpw_aio_alloc(&rx, count_cb, &crx), 0);
		cr_assert_eq(nghttpw_aio_alloc(&tx, count_cb, &ctx), 0);
		nghttpw_aio_set_iov(rx, 1, &riov);
		nghttpw_aio_set_iov(tx, 1, &tiov);
		nghttpw_stream_recv(b, rx);
		nghttpw_stream_send(b, tx);
		cl.s   = b;
		cl.how = i % 3;
		cr_assert_eq(pthread_create(&th, NULL, closer_main, &cl), 0);
		(void) send_all(a, "x", 1, NULL);
		pthread_join(th, NULL);
		nghttpw_aio_wait(rx);
		nghttpw_aio_wait(tx);
		cr_assert_eq(atomic_load(&crx.calls), 1, "round %d", i);
		cr_assert_eq(atomic_load(&ctx.calls), 1, "round %d", i);
		int rv = nghttpw_aio_result(rx);
		cr_assert(rv == 0 || rv == NGHTTPW_ECLOSED, "round %d: recv %s", i,
		    nghttpw_strerror(rv));
		if (rv == 0) {
			cr_assert_eq(in[0], 'x');
		}
		rv = nghttpw_aio_result(tx);
		cr_assert(rv == 0 || rv == NGHTTPW_ECLOSED, "round %d: send %s", i,
		    nghttpw_strerror(rv));
		nghttpw_aio_free(rx);
		nghttpw_aio_free(tx);
		if (cl.how != 2) {
			nghttpw_stream_free(b);
		}
		nghttpw_stream_free(a);
	}
	free(blob);
}

/* Freed from a callback on the loop's own thread while its send is still
 * in the kernel: the stop there cancels synchronously. */
typedef struct {
	nghttpw_stream *s;
	nghttpw_aio    *tx;
	atomic_int      freed;
} freer;

static void
free_in_cb(void *arg)
{
	freer *f = arg;

	nghttpw_stream_free(f->s);
	atomic_store(&f->freed, 1);
}

Test(uring_race, free_on_loop_with_send_in_kernel, .timeout = 120)
{
	size_t         big  = 8u << 20;
	unsigned char *blob = calloc(1, big);

	cr_assert_not_null(blob);
	for (int i = 0; i < 100; i++) {
		nghttpw_stream *a, *b;
		nghttpw_aio    *rx, *tx;
		counted         ctx = { 0 };
		freer           f   = { 0 };
		unsigned char   in[4];
		nghttpw_iov     riov = { .iov_buf = in, .iov_len = sizeof(in) };
		nghttpw_iov     tiov = { .iov_buf = blob, .iov_len = big };

		uring_pair(&a, &b);
		f.s = b;
		cr_assert_eq(nghttpw_aio_alloc(&rx, free_in_cb, &f), 0);
		cr_assert_eq(nghttpw_aio_alloc(&tx, count_cb, &ctx), 0);
		nghttpw_aio_set_iov(rx, 1, &riov);
		nghttpw_aio_set_iov(tx, 1, &tiov);
		nghttpw_stream_send(b, tx);
		nghttpw_stream_recv(b, rx);
		cr_assert_eq(send_all(a, "y", 1, NULL), 0);
		nghttpw_aio_wait(rx);
		cr_assert_eq(atomic_load(&f.freed), 1);
		nghttpw_aio_wait(tx);
		cr_assert_eq(atomic_load(&ctx.calls), 1);
		int rv = nghttpw_aio_result(tx);
		cr_assert(rv == 0 || rv == NGHTTPW_ECLOSED, "send %s",
		    nghttpw_strerror(rv));
		nghttpw_aio_free(rx);
		nghttpw_aio_free(tx);
		nghttpw_stream_free(a);
	}
	free(blob);
}
