/* The pieces a parked connection is made of: readability waits on bare
 * sockets (fd_wait), the slab its record comes from, and taking the
 * socket out of a TCP stream. */
#include <criterion/criterion.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/fd_wait.h"
#include "core/slab.h"
#include "core/tcp.h"
#include "nghttpw/nghttpw.h"
#include "support/pairs.h"

#define T_TIMEOUT 30

typedef struct {
	fd_wait         w;
	pthread_mutex_t mtx;
	pthread_cond_t  cv;
	int             calls;
	int             rv;
	nghttpw_time    at;
	pthread_t       caller;
} waiter;

static void
waiter_cb(fd_wait *w, int rv)
{
	waiter *wt = (waiter *) (void *) w;

	pthread_mutex_lock(&wt->mtx);
	wt->calls++;
	wt->rv     = rv;
	wt->at     = nghttpw_clock();
	wt->caller = pthread_self();
	pthread_cond_broadcast(&wt->cv);
	pthread_mutex_unlock(&wt->mtx);
}

static void
waiter_init(waiter *wt)
{
	memset(wt, 0, sizeof(*wt));
	pthread_mutex_init(&wt->mtx, NULL);
	pthread_cond_init(&wt->cv, NULL);
}

static loop *
a_loop(void)
{
	int   rv = 0;
	loop *l  = loop_pick(&rv);

	if (l == NULL && rv == NGHTTPW_ENOTSUP) {
		cr_skip_test("the kernel refuses io_uring here");
	}
	cr_assert_not_null(l, "loop_pick: %s", nghttpw_strerror(rv));
	return (l);
}

/* The callback's result; fails the test if none comes within 5 s. */
static int
waiter_result(waiter *wt)
{
	nghttpw_time deadline = nghttpw_clock() + 5000;
	int          rv;

	pthread_mutex_lock(&wt->mtx);
	while (wt->calls == 0 && nghttpw_clock() < deadline) {
		pthread_mutex_unlock(&wt->mtx);
		nghttpw_msleep(1);
		pthread_mutex_lock(&wt->mtx);
	}
	cr_assert_eq(wt->calls, 1, "callback not called");
	rv = wt->rv;
	pthread_mutex_unlock(&wt->mtx);
	return (rv);
}

static void
pair(int sv[2])
{
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
}

/* The waits and the detach run on both back-ends: each test is in a suite
 * on the one the environment picks (NGHTTPW_POLLER; epoll when unset) and
 * in a twin suite ending in _uring on io_uring, skipped where the kernel
 * refuses it.  On io_uring a wait is in the epoll set the ring watches,
 * and a stream's socket is taken out of its ring operations. */
static void
on_uring(void)
{
	nghttpw_init_set_parameter(
	    NGHTTPW_INIT_POLLER_BACKEND, NGHTTPW_POLLER_IO_URING);
}
TestSuite(fd_wait_uring, .init = on_uring);
TestSuite(tcp_detach_uring, .init = on_uring);

#define TWIN_TEST(suite, name, secs)                                       \
	static void suite##_##name##_body(void);                           \
	Test(suite, name, .timeout = secs)                                 \
	{                                                                  \
		suite##_##name##_body();                                   \
	}                                                                  \
	Test(suite##_uring, name, .timeout = secs)                         \
	{                                                                  \
		suite##_##name##_body();                                   \
	}                                                                  \
	static void suite##_##name##_body(void)

TWIN_TEST(fd_wait, data_ends_the_wait, T_TIMEOUT)
{
	waiter wt;
	int    sv[2];

	waiter_init(&wt);
	pair(sv);
	cr_assert_eq(fd_wait_start(&wt.w, a_loop(), sv[0],
	                 NGHTTPW_DURATION_INFINITE, waiter_cb),
	    0);
	nghttpw_msleep(50);
	cr_assert_eq(wt.calls, 0, "a writable socket is not readable");
	cr_assert_eq(write(sv[1], "x", 1), 1);
	cr_assert_eq(waiter_result(&wt), 0);
	cr_assert_eq(fd_wait_cancel(&wt.w), false, "over already");
	close(sv[0]);
	close(sv[1]);
}

/* Bytes that came before the wait began (a request sent just as the
 * connection parks) end it at once. */
TWIN_TEST(fd_wait, data_already_there_ends_the_wait, T_TIMEOUT)
{
	waiter wt;
	int    sv[2];

	waiter_init(&wt);
	pair(sv);
	cr_assert_eq(write(sv[1], "x", 1), 1);
	cr_assert_eq(fd_wait_start(&wt.w, a_loop(), sv[0], 10000, waiter_cb), 0);
	cr_assert_eq(waiter_result(&wt), 0);
	close(sv[0]);
	close(sv[1]);
}

TWIN_TEST(fd_wait, the_peers_close_ends_the_wait, T_TIMEOUT)
{
	waiter wt;
	int    sv[2];

	waiter_init(&wt);
	pair(sv);
	cr_assert_eq(fd_wait_start(&wt.w, a_loop(), sv[0], 10000, waiter_cb), 0);
	close(sv[1]);
	cr_assert_eq(waiter_result(&wt), 0);
	close(sv[0]);
}

TWIN_TEST(fd_wait, times_out, T_TIMEOUT)
{
	waiter       wt;
	int          sv[2];
	nghttpw_time start = nghttpw_clock();

	waiter_init(&wt);
	pair(sv);
	cr_assert_eq(fd_wait_start(&wt.w, a_loop(), sv[0], 100, waiter_cb), 0);
	cr_assert_eq(waiter_result(&wt), NGHTTPW_ETIMEDOUT);
	cr_assert_geq(wt.at - start, 100);
	close(sv[0]);
	close(sv[1]);
}

/* A cancel reports later, on the loop, never inside the call. */
TWIN_TEST(fd_wait, cancel_reports_on_the_loop, T_TIMEOUT)
{
	waiter wt;
	int    sv[2];

	waiter_init(&wt);
	pair(sv);
	cr_assert_eq(fd_wait_start(&wt.w, a_loop(), sv[0],
	                 NGHTTPW_DURATION_INFINITE, waiter_cb),
	    0);
	cr_assert_eq(fd_wait_cancel(&wt.w), true);
	cr_assert_eq(fd_wait_cancel(&wt.w), false, "once");
	cr_assert_eq(waiter_result(&wt), NGHTTPW_ECANCELED);
	cr_assert(!pthread_equal(wt.caller, pthread_self()));
	/* Data now finds nobody waiting. */
	cr_assert_eq(write(sv[1], "x", 1), 1);
	nghttpw_msleep(20);
	cr_assert_eq(wt.calls, 1);
	close(sv[0]);
	close(sv[1]);
}

/* Data and a cancel at the same moment: one callback, and the cancel's
 * answer says which won. */
static void *
write_one(void *arg)
{
	(void) !write(*(int *) arg, "x", 1);
	return (NULL);
}

TWIN_TEST(fd_wait, cancel_racing_data_reports_once, 120)
{
	loop *l = a_loop();

	for (int i = 0; i < 2000; i++) {
		waiter    wt;
		int       sv[2];
		pthread_t t;
		bool      won;

		waiter_init(&wt);
		pair(sv);
		cr_assert_eq(fd_wait_start(&wt.w, l, sv[0], 10000, waiter_cb), 0);
		pthread_create(&t, NULL, write_one, &sv[1]);
		won = fd_wait_cancel(&wt.w);
		pthread_join(t, NULL);
		cr_assert_eq(waiter_result(&wt), won ? NGHTTPW_ECANCELED : 0,
		    "round %d", i);
		cr_assert_eq(wt.calls, 1);
		close(sv[0]);
		close(sv[1]);
	}
}

/* Many waits ending together by timeout, cancel and data, on every loop:
 * each reports once (the timer heap and the poller stay consistent). */
TWIN_TEST(fd_wait, many_waits_end_each_once, 120)
{
	enum { N = 300 };
	static waiter wt[N];
	static int    sv[N][2];

	for (int i = 0; i < N; i++) {
		waiter_init(&wt[i]);
		pair(sv[i]);
		cr_assert_eq(fd_wait_start(&wt[i].w, a_loop(), sv[i][0],
		                 i % 3 == 0 ? 30 + i % 50 : 10000, waiter_cb),
		    0);
	}
	for (int i = 0; i < N; i++) {
		if (i % 3 == 1) {
			cr_assert(fd_wait_cancel(&wt[i].w));
		} else if (i % 3 == 2) {
			cr_assert_eq(write(sv[i][1], "x", 1), 1);
		}
	}
	for (int i = 0; i < N; i++) {
		int want = i % 3 == 0 ? NGHTTPW_ETIMEDOUT
		    : i % 3 == 1      ? NGHTTPW_ECANCELED
		                      : 0;
		cr_assert_eq(waiter_result(&wt[i]), want, "wait %d", i);
		close(sv[i][0]);
		close(sv[i][1]);
	}
}

/* ---------------------------------------------------------------- slab */

typedef struct {
	char   fill[100];
	size_t n;
} rec;

Test(slab, records_are_distinct_zeroed_and_reused, .timeout = T_TIMEOUT)
{
	static slab s = SLAB_INITIALIZER(s, sizeof(rec));
	enum { N = 3000 }; /* several chunks */
	static rec *r[N];

	for (int round = 0; round < 3; round++) {
		for (size_t i = 0; i < N; i++) {
			r[i] = slab_alloc(&s);
			cr_assert_not_null(r[i]);
			for (size_t k = 0; k < sizeof(rec); k++) {
				cr_assert_eq(((char *) r[i])[k], 0);
			}
			memset(r[i]->fill, 0x5a, sizeof(r[i]->fill));
			r[i]->n = i;
		}
		for (size_t i = 0; i < N; i++) {
			cr_assert_eq(r[i]->n, i, "overlap at %zu", i);
		}
		/* Every other one, then the rest: chunks go partial, then
		 * empty. */
		for (size_t i = 0; i < N; i += 2) {
			slab_free(&s, r[i]);
		}
		for (size_t i = 0; i < N; i += 2) {
			r[i] = slab_alloc(&s);
			r[i]->n = i;
		}
		for (size_t i = 0; i < N; i++) {
			cr_assert_eq(r[i]->n, i, "overlap at %zu", i);
			slab_free(&s, r[i]);
		}
	}
}

/* ------------------------------------------------------ tcp detach */

static void
a_tcp_pair(nghttpw_stream **a, nghttpw_stream **b)
{
	int rv = tcp_pair("127.0.0.1", a, b);

	if (rv == NGHTTPW_ENOTSUP) {
		cr_skip_test("the kernel refuses io_uring here");
	}
	cr_assert_eq(rv, 0, "tcp_pair: %s", nghttpw_strerror(rv));
}

TWIN_TEST(tcp_detach, the_socket_outlives_its_stream, T_TIMEOUT)
{
	nghttpw_stream *a, *b;
	tcp_settings    ts;
	int             fd;
	char            buf[8];

	a_tcp_pair(&a, &b);
	cr_assert(tcp_stream_detachable(a));
	cr_assert_eq(tcp_stream_detach(a, &fd, &ts), 0);
	cr_assert_eq(tcp_stream_detach(a, &fd, &ts), NGHTTPW_ESTATE);
	nghttpw_stream_free(a);
	nghttpw_msleep(20); /* the free completes on the loop */
	/* Still open and connected, both ways, and wrapped again. */
	cr_assert_eq(write(fd, "ping", 4), 4);
	cr_assert_eq(recv_all(b, buf, 4, NULL), 0);
	cr_assert_arr_eq(buf, "ping", 4);
	cr_assert_eq(tcp_conn_alloc(&a, fd, &ts), 0);
	cr_assert_eq(send_all(b, "pong", 4, NULL), 0);
	cr_assert_eq(recv_all(a, buf, 4, NULL), 0);
	cr_assert_arr_eq(buf, "pong", 4);
	nghttpw_stream_free(a);
	nghttpw_stream_free(b);
}

/* An aio receiving into buf on s, started. */
static nghttpw_aio *
recv_started(nghttpw_stream *s, char *buf, size_t len)
{
	nghttpw_aio *aio;
	nghttpw_iov  iov = { .iov_buf = buf, .iov_len = len };

	cr_assert_eq(nghttpw_aio_alloc(&aio, NULL, NULL), 0);
	cr_assert_eq(nghttpw_aio_set_iov(aio, 1, &iov), 0);
	nghttpw_stream_recv(s, aio);
	return (aio);
}

TWIN_TEST(tcp_detach, only_tcp_streams_with_nothing_pending, T_TIMEOUT)
{
	nghttpw_stream *a, *b;
	nghttpw_aio    *aio;
	char            buf[8];
	tcp_settings    ts;
	int             fd;

	cr_assert_eq(mem_pair(&a, &b), 0);
	cr_assert(!tcp_stream_detachable(a));
	cr_assert_eq(tcp_stream_detach(a, &fd, &ts), NGHTTPW_ENOTSUP);
	nghttpw_stream_free(a);
	nghttpw_stream_free(b);

	a_tcp_pair(&a, &b);
	aio = recv_started(a, buf, sizeof(buf));
	cr_assert_eq(tcp_stream_detach(a, &fd, &ts), NGHTTPW_ESTATE);
	nghttpw_stream_close(a);
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), NGHTTPW_ECLOSED);
	cr_assert_eq(tcp_stream_detach(a, &fd, &ts), NGHTTPW_ESTATE);
	nghttpw_aio_free(aio);
	nghttpw_stream_free(a);
	nghttpw_stream_free(b);
}

/* A recv that ended (here by a cancel; on io_uring its completion is
 * back from the kernel) no longer holds the socket. */
TWIN_TEST(tcp_detach, a_recv_once_over_leaves_the_socket_free, T_TIMEOUT)
{
	nghttpw_stream *a, *b;
	nghttpw_aio    *aio;
	char            buf[8];
	tcp_settings    ts;
	int             fd;

	a_tcp_pair(&a, &b);
	aio = recv_started(a, buf, sizeof(buf));
	nghttpw_msleep(20); /* in the kernel by now, on io_uring */
	cr_assert_eq(tcp_stream_detach(a, &fd, &ts), NGHTTPW_ESTATE);
	nghttpw_aio_cancel(aio);
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), NGHTTPW_ECANCELED);
	cr_assert_eq(tcp_stream_detach(a, &fd, &ts), 0);
	nghttpw_stream_free(a);
	/* Nothing of the stream reads from the socket any more. */
	cr_assert_eq(send_all(b, "late", 4, NULL), 0);
	nghttpw_msleep(20);
	cr_assert_eq(recv(fd, buf, sizeof(buf), MSG_DONTWAIT), 4);
	cr_assert_arr_eq(buf, "late", 4);
	close(fd);
	nghttpw_aio_free(aio);
	nghttpw_stream_free(b);
}

/* A recv whose deadline races a byte from the peer (a connection parking
 * just as its next request comes): either the recv has the byte, or the
 * detach finds the stream free and the byte still in the socket -- never
 * lost in between.  The socket is wrapped again for the next round. */
TWIN_TEST(tcp_detach, a_byte_racing_the_deadline_is_never_lost, 120)
{
	nghttpw_stream *s;
	nghttpw_aio    *aio;
	tcp_settings    ts;
	unsigned        seed = 7;
	int             port, lfd, peer, fd, rv;

	cr_assert((lfd = raw_tcp_listen(&port)) >= 0);
	if ((rv = tcp_dial(port, &s)) == NGHTTPW_ENOTSUP) {
		cr_skip_test("the kernel refuses io_uring here");
	}
	cr_assert_eq(rv, 0);
	cr_assert((peer = accept(lfd, NULL, NULL)) >= 0);
	close(lfd);
	cr_assert_eq(nghttpw_aio_alloc(&aio, NULL, NULL), 0);
	for (int i = 0; i < 400; i++) {
		unsigned char out = (unsigned char) i, in = 0;
		nghttpw_iov   iov = { .iov_buf = &in, .iov_len = 1 };
		struct pollfd pfd;

		cr_assert_eq(nghttpw_aio_set_iov(aio, 1, &iov), 0);
		nghttpw_aio_set_timeout(aio, 1);
		nghttpw_stream_recv(s, aio);
		usleep(rand_r(&seed) % 1500);
		cr_assert_eq(write(peer, &out, 1), 1);
		nghttpw_aio_wait(aio);
		if ((rv = nghttpw_aio_result(aio)) == 0) {
			cr_assert_eq(in, out, "round %d", i);
			continue;
		}
		cr_assert_eq(rv, NGHTTPW_ETIMEDOUT, "round %d: %s", i,
		    nghttpw_strerror(rv));
		cr_assert_eq(tcp_stream_detach(s, &fd, &ts), 0, "round %d", i);
		nghttpw_stream_free(s);
		pfd.fd     = fd;
		pfd.events = POLLIN;
		cr_assert_eq(poll(&pfd, 1, 5000), 1, "round %d: byte lost", i);
		cr_assert_eq(recv(fd, &in, 1, 0), 1);
		cr_assert_eq(in, out, "round %d", i);
		cr_assert_eq(tcp_conn_alloc(&s, fd, &ts), 0);
	}
	nghttpw_aio_free(aio);
	nghttpw_stream_free(s);
	close(peer);
}
