/* The pieces a parked connection is made of: readability waits on bare
 * sockets (fd_wait), the slab its record comes from, and taking the
 * socket out of a TCP stream. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
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


/* Parking takes a socket out of an epoll stream: io_uring's streams are
 * not parked (yet), whatever NGHTTPW_POLLER says. */
static void
on_epoll(void)
{
	nghttpw_init_set_parameter(NGHTTPW_INIT_POLLER_BACKEND, NGHTTPW_POLLER_EPOLL);
}
TestSuite(tcp_detach, .init = on_epoll);

Test(fd_wait, data_ends_the_wait, .timeout = T_TIMEOUT)
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
Test(fd_wait, data_already_there_ends_the_wait, .timeout = T_TIMEOUT)
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

Test(fd_wait, the_peers_close_ends_the_wait, .timeout = T_TIMEOUT)
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

Test(fd_wait, times_out, .timeout = T_TIMEOUT)
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
Test(fd_wait, cancel_reports_on_the_loop, .timeout = T_TIMEOUT)
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

Test(fd_wait, cancel_racing_data_reports_once, .timeout = 120)
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
Test(fd_wait, many_waits_end_each_once, .timeout = 120)
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

Test(tcp_detach, the_socket_outlives_its_stream, .timeout = T_TIMEOUT)
{
	nghttpw_stream *a, *b;
	tcp_settings    ts;
	int             fd;
	char            buf[8];

	cr_assert_eq(tcp_pair("127.0.0.1", &a, &b), 0);
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

Test(tcp_detach, only_tcp_streams_with_nothing_pending, .timeout = T_TIMEOUT)
{
	nghttpw_stream *a, *b;
	nghttpw_aio    *aio;
	nghttpw_iov     iov;
	char            buf[8];
	tcp_settings    ts;
	int             fd;

	cr_assert_eq(mem_pair(&a, &b), 0);
	cr_assert(!tcp_stream_detachable(a));
	cr_assert_eq(tcp_stream_detach(a, &fd, &ts), NGHTTPW_ENOTSUP);
	nghttpw_stream_free(a);
	nghttpw_stream_free(b);

	cr_assert_eq(tcp_pair("127.0.0.1", &a, &b), 0);
	cr_assert_eq(nghttpw_aio_alloc(&aio, NULL, NULL), 0);
	iov.iov_buf = buf;
	iov.iov_len = sizeof(buf);
	cr_assert_eq(nghttpw_aio_set_iov(aio, 1, &iov), 0);
	nghttpw_stream_recv(a, aio);
	cr_assert_eq(tcp_stream_detach(a, &fd, &ts), NGHTTPW_ESTATE);
	nghttpw_stream_close(a);
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), NGHTTPW_ECLOSED);
	cr_assert_eq(tcp_stream_detach(a, &fd, &ts), NGHTTPW_ESTATE);
	nghttpw_aio_free(aio);
	nghttpw_stream_free(a);
	nghttpw_stream_free(b);
}
