/* Streams: TCP over 127.0.0.1 and ::1, and a user's own stream plugged in
 * through the public table, all held to the same behaviour. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/stream.h"
#include "nghttpw/nghttpw.h"
#include "nghttpw/tls.h"
#include "support/pairs.h"

typedef enum { KIND_TCP4, KIND_TCP6, KIND_MEM } pair_kind;

static void
make_pair(pair_kind kind, nghttpw_stream **a, nghttpw_stream **b)
{
	int rv;

	switch (kind) {
	case KIND_TCP4:
		rv = tcp_pair("127.0.0.1", a, b);
		break;
	case KIND_TCP6:
		if (!have_ipv6()) {
			cr_skip_test("no ::1 on this machine");
		}
		rv = tcp_pair("[::1]", a, b);
		break;
	default:
		rv = mem_pair(a, b);
		break;
	}
	cr_assert_eq(rv, 0, "pair: %s", nghttpw_strerror(rv));
}

static void
check_echo(pair_kind kind)
{
	nghttpw_stream *a, *b;
	char            msg[] = "hello, stream";
	char            buf[sizeof(msg)];

	make_pair(kind, &a, &b);
	cr_assert_eq(send_all(a, msg, sizeof(msg), NULL), 0);
	cr_assert_eq(recv_all(b, buf, sizeof(buf), NULL), 0);
	cr_assert_arr_eq(buf, msg, sizeof(msg));
	/* and back */
	cr_assert_eq(send_all(b, buf, sizeof(buf), NULL), 0);
	memset(buf, 0, sizeof(buf));
	cr_assert_eq(recv_all(a, buf, sizeof(buf), NULL), 0);
	cr_assert_arr_eq(buf, msg, sizeof(msg));
	nghttpw_stream_free(a);
	nghttpw_stream_free(b);
}

Test(stream, echo_tcp4) { check_echo(KIND_TCP4); }
Test(stream, echo_tcp6) { check_echo(KIND_TCP6); }
Test(stream, echo_user_stream) { check_echo(KIND_MEM); }

/* 1,000 iovs of random sizes (more than IOV_MAX entries in one send would
 * need) travel while the peer reads, and arrive byte-exact. */
typedef struct {
	nghttpw_stream *s;
	unsigned char  *buf;
	size_t          len;
	int             rv;
} reader;

static void *
reader_main(void *arg)
{
	reader *r = arg;
	r->rv     = recv_all(r->s, r->buf, r->len, NULL);
	return (NULL);
}

static void
check_many_iovs(pair_kind kind, unsigned niov)
{
	nghttpw_stream *a, *b;
	nghttpw_iov    *iov = calloc(niov, sizeof(*iov));
	unsigned char  *src;
	size_t          total = 0, off = 0;
	unsigned        seed  = 4321;
	reader          r;
	pthread_t       t;
	unsigned        first = 0;

	for (unsigned i = 0; i < niov; i++) {
		iov[i].iov_len = (size_t) (rand_r(&seed) % 3000); /* zero too */
		total += iov[i].iov_len;
	}
	src = malloc(total);
	fill_pattern(src, total, 77);
	for (unsigned i = 0; i < niov; i++) {
		iov[i].iov_buf = src + off;
		off += iov[i].iov_len;
	}
	make_pair(kind, &a, &b);
	r = (reader) { .s = b, .buf = malloc(total), .len = total };
	pthread_create(&t, NULL, reader_main, &r);

	/* Send some, then drop what went out and send the rest. */
	while (first < niov) {
		size_t n;
		cr_assert_eq(sync_op(nghttpw_stream_send, a, iov + first,
		                 niov - first, 10000, &n),
		    0);
		cr_assert_gt(n, 0);
		while (n > 0 && first < niov) {
			if (n >= iov[first].iov_len) {
				n -= iov[first].iov_len;
				first++;
			} else {
				iov[first].iov_buf = (char *) iov[first].iov_buf + n;
				iov[first].iov_len -= n;
				n = 0;
			}
		}
		while (first < niov && iov[first].iov_len == 0) {
			first++;
		}
	}
	pthread_join(t, NULL);
	cr_assert_eq(r.rv, 0);
	cr_assert_eq(memcmp(r.buf, src, total), 0, "data differs");
	nghttpw_stream_free(a);
	nghttpw_stream_free(b);
	free(r.buf);
	free(src);
	free(iov);
}

Test(stream, thousand_iovs_tcp4) { check_many_iovs(KIND_TCP4, 1000); }
Test(stream, thousand_iovs_tcp6) { check_many_iovs(KIND_TCP6, 1000); }
Test(stream, thousand_iovs_user_stream) { check_many_iovs(KIND_MEM, 1000); }
Test(stream, beyond_iov_max_tcp4) { check_many_iovs(KIND_TCP4, 2500); }

static void
check_peer_close(pair_kind kind)
{
	nghttpw_stream *a, *b;
	char            buf[16];
	nghttpw_iov     iov = { buf, sizeof(buf) };
	size_t          n;

	make_pair(kind, &a, &b);
	cr_assert_eq(send_all(a, "abc", 3, NULL), 0);
	nghttpw_stream_close(a);
	/* What was sent before the close still arrives, with its count. */
	cr_assert_eq(sync_op(nghttpw_stream_recv, b, &iov, 1, 5000, &n), 0);
	cr_assert_eq(n, 3);
	cr_assert_eq(sync_op(nghttpw_stream_recv, b, &iov, 1, 5000, &n),
	    NGHTTPW_ECLOSED);
	cr_assert_eq(n, 0);
	/* Our own closed stream refuses work. */
	cr_assert_eq(sync_op(nghttpw_stream_send, a, &iov, 1, 5000, NULL),
	    NGHTTPW_ECLOSED);
	nghttpw_stream_free(a);
	nghttpw_stream_free(b);
}

Test(stream, peer_close_tcp4) { check_peer_close(KIND_TCP4); }
Test(stream, peer_close_tcp6) { check_peer_close(KIND_TCP6); }
Test(stream, peer_close_user_stream) { check_peer_close(KIND_MEM); }

Test(stream, close_aborts_pending_recv)
{
	nghttpw_stream *a, *b;
	nghttpw_aio    *aio;
	char            buf[8];
	nghttpw_iov     iov = { buf, sizeof(buf) };

	make_pair(KIND_TCP4, &a, &b);
	nghttpw_aio_alloc(&aio, NULL, NULL);
	nghttpw_aio_set_iov(aio, 1, &iov);
	nghttpw_stream_recv(a, aio);
	nghttpw_msleep(20);
	cr_assert(nghttpw_aio_busy(aio));
	nghttpw_stream_close(a);
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), NGHTTPW_ECLOSED);
	nghttpw_aio_free(aio);
	nghttpw_stream_free(a);
	nghttpw_stream_free(b);
}

/* A peer that resets: a plain socket closed with SO_LINGER set to zero
 * sends RST, as a crashed or impatient client does. */
static nghttpw_stream *
accept_raw_peer(int *rawfd)
{
	nghttpw_stream_listener *l;
	nghttpw_aio             *aio;
	nghttpw_stream          *s;
	struct sockaddr_in       sin = { .sin_family = AF_INET };
	int                      port;

	cr_assert_eq(nghttpw_stream_listener_alloc(&l, "tcp://127.0.0.1:0"), 0);
	cr_assert_eq(nghttpw_stream_listener_listen(l), 0);
	nghttpw_stream_listener_get_int(l, NGHTTPW_OPT_TCP_BOUND_PORT, &port);
	sin.sin_port        = htons((uint16_t) port);
	sin.sin_addr.s_addr = htonl(0x7f000001);
	*rawfd              = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_eq(connect(*rawfd, (void *) &sin, sizeof(sin)), 0);
	nghttpw_aio_alloc(&aio, NULL, NULL);
	nghttpw_aio_set_timeout(aio, 5000);
	nghttpw_stream_listener_accept(l, aio);
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), 0);
	s = nghttpw_aio_get_output(aio, 0);
	nghttpw_aio_free(aio);
	nghttpw_stream_listener_free(l);
	return (s);
}

static void
raw_reset(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

Test(stream, peer_reset_gives_econnreset)
{
	nghttpw_stream *a;
	char            buf[64] = { 0 };
	nghttpw_iov     iov = { buf, sizeof(buf) };
	int             raw, rv;
	size_t          n;

	a = accept_raw_peer(&raw);
	cr_assert_eq(write(raw, "abcd", 4), 4);
	nghttpw_msleep(20);
	/* Bytes that came before the reset are read first, with their count. */
	cr_assert_eq(sync_op(nghttpw_stream_recv, a, &iov, 1, 5000, &n), 0);
	cr_assert_eq(n, 4);
	raw_reset(raw);
	nghttpw_msleep(20);
	rv = sync_op(nghttpw_stream_recv, a, &iov, 1, 5000, &n);
	cr_assert_eq(rv, NGHTTPW_ECONNRESET, "got %s", nghttpw_strerror(rv));
	cr_assert_eq(n, 0);
	rv = sync_op(nghttpw_stream_send, a, &iov, 1, 5000, &n);
	cr_assert(rv == NGHTTPW_ECONNRESET || rv == NGHTTPW_ECLOSED, "got %s",
	    nghttpw_strerror(rv));
	nghttpw_stream_free(a);
}

Test(stream, reset_while_recv_pending)
{
	nghttpw_stream *a;
	nghttpw_aio    *aio;
	char            buf[64];
	nghttpw_iov     iov = { buf, sizeof(buf) };
	int             raw;

	a = accept_raw_peer(&raw);
	nghttpw_aio_alloc(&aio, NULL, NULL);
	nghttpw_aio_set_iov(aio, 1, &iov);
	nghttpw_aio_set_timeout(aio, 5000);
	nghttpw_stream_recv(a, aio);
	nghttpw_msleep(20);
	raw_reset(raw);
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), NGHTTPW_ECONNRESET);
	nghttpw_aio_free(aio);
	nghttpw_stream_free(a);
}

Test(stream, send_to_vanished_peer_reports_count_then_error)
{
	nghttpw_stream *a, *b;
	size_t          len = 8 << 20, moved;
	unsigned char  *big = malloc(len);
	int             rv;

	make_pair(KIND_TCP4, &a, &b);
	fill_pattern(big, len, 1);
	nghttpw_stream_free(b);
	rv = send_all(a, big, len, &moved);
	cr_assert(rv == NGHTTPW_ECONNRESET || rv == NGHTTPW_ECLOSED, "got %s",
	    nghttpw_strerror(rv));
	cr_assert_lt(moved, len);
	nghttpw_stream_free(a);
	free(big);
}

static void
check_recv_timeout(pair_kind kind)
{
	nghttpw_stream *a, *b;
	char            buf[8];
	nghttpw_iov     iov = { buf, sizeof(buf) };
	nghttpw_time    start;
	size_t          n;

	make_pair(kind, &a, &b);
	start = nghttpw_clock();
	cr_assert_eq(sync_op(nghttpw_stream_recv, a, &iov, 1, 80, &n),
	    NGHTTPW_ETIMEDOUT);
	cr_assert_geq(nghttpw_clock() - start, 80);
	cr_assert_eq(n, 0);
	/* The stream is still good after a timed-out recv. */
	cr_assert_eq(send_all(b, "ok", 2, NULL), 0);
	cr_assert_eq(recv_all(a, buf, 2, NULL), 0);
	cr_assert_arr_eq(buf, "ok", 2);
	nghttpw_stream_free(a);
	nghttpw_stream_free(b);
}

Test(stream, recv_timeout_tcp4) { check_recv_timeout(KIND_TCP4); }
Test(stream, recv_timeout_user_stream) { check_recv_timeout(KIND_MEM); }

/* An aio made for a stream (stream_aio_alloc) lives on the stream's loop:
 * a timeout, which fires on the aio's home loop, calls back on the same
 * thread as the I/O does.  Several streams over four loops, so a home
 * picked apart from the stream would show. */
typedef struct {
	nghttpw_stream *s;
	nghttpw_aio    *aio;
	atomic_int      calls;
	pthread_t       thread;
} thread_probe;

static void
thread_probe_cb(void *arg)
{
	thread_probe *p = arg;

	p->thread = pthread_self();
	atomic_fetch_add(&p->calls, 1);
}

static pthread_t
probe_recv(thread_probe *p, nghttpw_stream *peer, nghttpw_duration timeout,
    int want)
{
	char        buf[1];
	nghttpw_iov iov = { buf, sizeof(buf) };

	atomic_store(&p->calls, 0);
	nghttpw_aio_set_timeout(p->aio, timeout);
	cr_assert_eq(nghttpw_aio_set_iov(p->aio, 1, &iov), 0);
	nghttpw_stream_recv(p->s, p->aio);
	if (peer != NULL) {
		cr_assert_eq(send_all(peer, "x", 1, NULL), 0);
	}
	nghttpw_aio_wait(p->aio);
	cr_assert_eq(atomic_load(&p->calls), 1);
	cr_assert_eq(nghttpw_aio_result(p->aio), want);
	return (p->thread);
}

Test(stream, stream_aio_is_homed_on_the_streams_loop)
{
	enum { NSTREAMS = 6 };
	nghttpw_stream *a[NSTREAMS], *b[NSTREAMS];
	thread_probe    p[NSTREAMS];

	nghttpw_fini();
	nghttpw_init_set_parameter(NGHTTPW_INIT_NUM_POLLER_THREADS, 4);
	for (int i = 0; i < NSTREAMS; i++) {
		make_pair(KIND_TCP4, &a[i], &b[i]);
		p[i] = (thread_probe) { .s = b[i] };
		cr_assert_eq(
		    stream_aio_alloc(b[i], &p[i].aio, thread_probe_cb, &p[i]), 0);
	}
	for (int i = 0; i < NSTREAMS; i++) {
		pthread_t io = probe_recv(&p[i], a[i], 5000, 0);
		pthread_t to = probe_recv(&p[i], NULL, 10, NGHTTPW_ETIMEDOUT);
		cr_assert(pthread_equal(io, to), "stream %d: timeout off its loop", i);
	}
	for (int i = 0; i < NSTREAMS; i++) {
		nghttpw_aio_free(p[i].aio);
		nghttpw_stream_free(a[i]);
		nghttpw_stream_free(b[i]);
	}
	nghttpw_fini();
}

Test(stream, empty_iov_is_einval)
{
	nghttpw_stream *a, *b;
	nghttpw_iov     iov = { NULL, 0 };

	make_pair(KIND_TCP4, &a, &b);
	cr_assert_eq(sync_op(nghttpw_stream_send, a, &iov, 1, 1000, NULL),
	    NGHTTPW_EINVAL);
	cr_assert_eq(sync_op(nghttpw_stream_recv, a, NULL, 0, 1000, NULL),
	    NGHTTPW_EINVAL);
	nghttpw_stream_free(a);
	nghttpw_stream_free(b);
}

/* Data already waiting: the recv completes at once inside the call, yet
 * its callback must not run there. */
typedef struct {
	atomic_int calls;
	atomic_int inline_call;
	pthread_t  starter;
	atomic_int starter_inside;
} inline_probe;

static void
inline_cb(void *arg)
{
	inline_probe *p = arg;
	if (pthread_equal(pthread_self(), p->starter) &&
	    atomic_load(&p->starter_inside)) {
		atomic_store(&p->inline_call, 1);
	}
	atomic_fetch_add(&p->calls, 1);
}

Test(stream, recv_with_data_waiting_never_calls_back_inline)
{
	nghttpw_stream *a, *b;
	nghttpw_aio    *aio;
	inline_probe    p = { 0 };
	char            buf[8];
	nghttpw_iov     iov = { buf, sizeof(buf) };

	make_pair(KIND_TCP4, &a, &b);
	cr_assert_eq(send_all(b, "ready", 5, NULL), 0);
	nghttpw_msleep(30); /* the bytes sit in a's socket buffer */
	nghttpw_aio_alloc(&aio, inline_cb, &p);
	nghttpw_aio_set_iov(aio, 1, &iov);
	p.starter = pthread_self();
	atomic_store(&p.starter_inside, 1);
	nghttpw_stream_recv(a, aio);
	atomic_store(&p.starter_inside, 0);
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), 0);
	cr_assert_eq(nghttpw_aio_count(aio), 5);
	cr_assert_eq(atomic_load(&p.calls), 1);
	cr_assert_eq(atomic_load(&p.inline_call), 0);
	nghttpw_aio_free(aio);
	nghttpw_stream_free(a);
	nghttpw_stream_free(b);
}

/* A read that comes back short has emptied the socket, so the next read
 * waits for readiness instead of trying the socket; bytes that arrive
 * around that moment must still wake it, whichever comes first. */
Test(stream, read_after_short_read_waits_for_new_data, .timeout = 60)
{
	nghttpw_stream *a, *b;
	nghttpw_aio    *aio;
	char            buf[64];
	nghttpw_iov     iov = { buf, sizeof(buf) };

	make_pair(KIND_TCP4, &a, &b);
	cr_assert_eq(nghttpw_aio_alloc(&aio, NULL, NULL), 0);
	nghttpw_aio_set_timeout(aio, 5000);
	nghttpw_aio_set_iov(aio, 1, &iov);
	for (int i = 0; i < 500; i++) {
		size_t first = 1 + (size_t) (i % 13), second = 1 + (size_t) (i % 7);

		cr_assert_eq(send_all(b, "0123456789abc", first, NULL), 0);
		if (i % 2 == 0) {
			nghttpw_msleep(1); /* sometimes already there */
		}
		nghttpw_stream_recv(a, aio);
		nghttpw_aio_wait(aio);
		cr_assert_eq(nghttpw_aio_result(aio), 0, "round %d", i);
		cr_assert_eq(nghttpw_aio_count(aio), first, "round %d", i);

		nghttpw_stream_recv(a, aio);
		if (i % 3 == 0) {
			nghttpw_msleep(1); /* sometimes already waiting */
		}
		cr_assert_eq(send_all(b, "ABCDEFG", second, NULL), 0);
		nghttpw_aio_wait(aio);
		cr_assert_eq(nghttpw_aio_result(aio), 0, "round %d: %s", i,
		    nghttpw_strerror(nghttpw_aio_result(aio)));
		cr_assert_eq(nghttpw_aio_count(aio), second, "round %d", i);
		cr_assert_eq(memcmp(buf, "ABCDEFG", second), 0);
	}
	nghttpw_aio_free(aio);
	nghttpw_stream_free(a);
	nghttpw_stream_free(b);
}

/* stream_wait_readable: done when a read would find something, without
 * reading it; data, the peer's end and our close all end the wait.  Until
 * a read has found the socket empty, it is taken as readable. */
Test(stream, wait_readable_reports_without_reading, .timeout = 30)
{
	nghttpw_stream *a, *b, *m1, *m2;
	nghttpw_aio    *aio;
	char            buf[16];
	nghttpw_iov     iov = { buf, sizeof(buf) };
	size_t          n;

	make_pair(KIND_TCP4, &a, &b);
	cr_assert_eq(nghttpw_aio_alloc(&aio, NULL, NULL), 0);

	/* Nothing yet: the wait stays pending, then data ends it. */
	cr_assert_eq(send_all(b, "x", 1, NULL), 0);
	cr_assert_eq(sync_op(nghttpw_stream_recv, a, &iov, 1, 5000, &n), 0);
	stream_wait_readable(a, aio);
	nghttpw_msleep(50);
	cr_assert(nghttpw_aio_busy(aio), "a wait on an emptied socket ended");
	cr_assert_eq(send_all(b, "hello", 5, NULL), 0);
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), 0);
	cr_assert_eq(nghttpw_aio_count(aio), 0);
	/* ... and the bytes are all still there. */
	cr_assert_eq(sync_op(nghttpw_stream_recv, a, &iov, 1, 5000, &n), 0);
	cr_assert_eq(n, 5);

	/* A timeout ends it like any operation. */
	nghttpw_aio_set_timeout(aio, 30);
	stream_wait_readable(a, aio);
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), NGHTTPW_ETIMEDOUT);
	nghttpw_aio_set_timeout(aio, 5000);

	/* The peer's end is something to read. */
	stream_wait_readable(a, aio);
	nghttpw_stream_close(b);
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), 0);
	cr_assert_eq(sync_op(nghttpw_stream_recv, a, &iov, 1, 5000, &n),
	    NGHTTPW_ECLOSED);
	nghttpw_stream_free(a);
	nghttpw_stream_free(b);

	/* Our own close fails a pending wait.  (A socket not yet read is
	 * taken as readable, so empty it first.) */
	make_pair(KIND_TCP4, &a, &b);
	cr_assert_eq(send_all(b, "x", 1, NULL), 0);
	cr_assert_eq(sync_op(nghttpw_stream_recv, a, &iov, 1, 5000, &n), 0);
	stream_wait_readable(a, aio);
	nghttpw_stream_close(a);
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), NGHTTPW_ECLOSED);
	nghttpw_stream_free(a);
	nghttpw_stream_free(b);

	/* Streams that are not TCP cannot. */
	make_pair(KIND_MEM, &m1, &m2);
	stream_wait_readable(m1, aio);
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), NGHTTPW_ENOTSUP);
	nghttpw_stream_free(m1);
	nghttpw_stream_free(m2);
	nghttpw_aio_free(aio);
}

/* A peer that answers and closes before our loop has seen the connect:
 * one edge-triggered event carries the connect, the data and the end,
 * and the end must not be lost after the data is read. */
static int eof_listen_fd;

static void *
answer_and_close(void *arg)
{
	int fd = accept(eof_listen_fd, NULL, NULL);

	(void) arg;
	cr_assert_eq(write(fd, "hello", 5), 5);
	close(fd);
	return (NULL);
}

static void
block_loop_cb(void *arg)
{
	(void) arg;
	nghttpw_msleep(300);
}

Test(stream, end_arriving_with_the_connect_is_seen, .timeout = 30)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t          sl  = sizeof(sin);
	nghttpw_stream    *s;
	nghttpw_aio       *blk;
	pthread_t          t;
	char               buf[64];
	nghttpw_iov        iov = { buf, sizeof(buf) };
	size_t             n;

	/* One loop, kept busy while the dial's events pile up. */
	nghttpw_init_set_parameter(NGHTTPW_INIT_NUM_POLLER_THREADS, 1);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	eof_listen_fd       = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_eq(bind(eof_listen_fd, (struct sockaddr *) &sin, sizeof(sin)), 0);
	cr_assert_eq(listen(eof_listen_fd, 4), 0);
	getsockname(eof_listen_fd, (struct sockaddr *) &sin, &sl);
	pthread_create(&t, NULL, answer_and_close, NULL);

	cr_assert_eq(nghttpw_aio_alloc(&blk, block_loop_cb, NULL), 0);
	nghttpw_sleep_aio(0, blk);
	nghttpw_msleep(20);
	cr_assert_eq(tcp_dial(ntohs(sin.sin_port), &s), 0);
	pthread_join(t, NULL);

	cr_assert_eq(sync_op(nghttpw_stream_recv, s, &iov, 1, 2000, &n), 0);
	cr_assert_eq(n, 5);
	cr_assert_eq(sync_op(nghttpw_stream_recv, s, &iov, 1, 2000, &n),
	    NGHTTPW_ECLOSED);
	nghttpw_stream_free(s);
	nghttpw_aio_free(blk);
	close(eof_listen_fd);
}

Test(stream, refused_dial_gives_econnrefused)
{
	nghttpw_stream_listener *l;
	nghttpw_stream_dialer   *d;
	char                     url[64];
	int                      port;
	nghttpw_aio             *aio;

	/* A port that was just ours and is now closed. */
	cr_assert_eq(nghttpw_stream_listener_alloc(&l, "tcp://127.0.0.1:0"), 0);
	cr_assert_eq(nghttpw_stream_listener_listen(l), 0);
	cr_assert_eq(
	    nghttpw_stream_listener_get_int(l, NGHTTPW_OPT_TCP_BOUND_PORT, &port),
	    0);
	nghttpw_stream_listener_free(l);
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", port);
	cr_assert_eq(nghttpw_stream_dialer_alloc(&d, url), 0);
	nghttpw_aio_alloc(&aio, NULL, NULL);
	nghttpw_aio_set_timeout(aio, 5000);
	nghttpw_stream_dialer_dial(d, aio);
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), NGHTTPW_ECONNREFUSED);
	cr_assert_null(nghttpw_aio_get_output(aio, 0));
	nghttpw_aio_free(aio);
	nghttpw_stream_dialer_free(d);
}

Test(stream, closed_dialer_refuses)
{
	nghttpw_stream_dialer *d;
	nghttpw_aio           *aio;

	cr_assert_eq(nghttpw_stream_dialer_alloc(&d, "tcp://127.0.0.1:9"), 0);
	nghttpw_stream_dialer_close(d);
	nghttpw_aio_alloc(&aio, NULL, NULL);
	nghttpw_stream_dialer_dial(d, aio);
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), NGHTTPW_ECLOSED);
	nghttpw_aio_free(aio);
	nghttpw_stream_dialer_free(d);
}

Test(stream, bad_addresses)
{
	nghttpw_stream_dialer *d;

	cr_assert_eq(nghttpw_stream_dialer_alloc(&d, "tcp://127.0.0.1"),
	    NGHTTPW_EADDRINVAL);
	cr_assert_eq(nghttpw_stream_dialer_alloc(&d, "tcp://:80"),
	    NGHTTPW_EADDRINVAL);
	/* A URL of a scheme no stream serves: ENOTSUP, as in nng. */
	cr_assert_eq(nghttpw_stream_dialer_alloc(&d, "nope://x:1"),
	    NGHTTPW_ENOTSUP);
	cr_assert_eq(nghttpw_stream_dialer_alloc(&d, NULL), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_stream_listener_alloc(NULL, "tcp://127.0.0.1:0"),
	    NGHTTPW_EINVAL);
}

/* A listener URL without a port listens on one the system picks, as
 * nng's do. */
Test(stream, a_listener_without_a_port_gets_one)
{
	nghttpw_stream_listener *l;
	int                      port = 0;

	cr_assert_eq(nghttpw_stream_listener_alloc(&l, "tcp://127.0.0.1"), 0);
	cr_assert_eq(nghttpw_stream_listener_listen(l), 0);
	cr_assert_eq(nghttpw_stream_listener_get_int(l, NGHTTPW_OPT_TCP_BOUND_PORT, &port), 0);
	cr_assert_gt(port, 0);
	nghttpw_stream_listener_free(l);
}

Test(stream, address_in_use)
{
	nghttpw_stream_listener *l1, *l2;
	char                     url[64];
	int                      port;

	cr_assert_eq(nghttpw_stream_listener_alloc(&l1, "tcp://127.0.0.1:0"), 0);
	cr_assert_eq(nghttpw_stream_listener_listen(l1), 0);
	nghttpw_stream_listener_get_int(l1, NGHTTPW_OPT_TCP_BOUND_PORT, &port);
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", port);
	cr_assert_eq(nghttpw_stream_listener_alloc(&l2, url), 0);
	cr_assert_eq(nghttpw_stream_listener_listen(l2), NGHTTPW_EADDRINUSE);
	nghttpw_stream_listener_free(l2);
	nghttpw_stream_listener_free(l1);
}

Test(stream, accept_before_listen_and_after_close)
{
	nghttpw_stream_listener *l;
	nghttpw_aio             *aio;

	cr_assert_eq(nghttpw_stream_listener_alloc(&l, "tcp://127.0.0.1:0"), 0);
	nghttpw_aio_alloc(&aio, NULL, NULL);
	nghttpw_stream_listener_accept(l, aio);
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), NGHTTPW_ESTATE);

	cr_assert_eq(nghttpw_stream_listener_listen(l), 0);
	nghttpw_stream_listener_accept(l, aio);
	nghttpw_msleep(20);
	cr_assert(nghttpw_aio_busy(aio));
	nghttpw_stream_listener_close(l); /* pending accept ends */
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), NGHTTPW_ECLOSED);
	nghttpw_stream_listener_accept(l, aio); /* and so does a new one */
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), NGHTTPW_ECLOSED);
	nghttpw_aio_free(aio);
	nghttpw_stream_listener_free(l);
}

Test(stream, options)
{
	nghttpw_stream  *a, *b;
	nghttpw_sockaddr la, ra, lb, rb;
	bool             on;
	int              x;
	char            *str;

	make_pair(KIND_TCP4, &a, &b);
	cr_assert_eq(nghttpw_stream_get_addr(a, NGHTTPW_OPT_LOCADDR, &la), 0);
	cr_assert_eq(nghttpw_stream_get_addr(a, NGHTTPW_OPT_REMADDR, &ra), 0);
	cr_assert_eq(nghttpw_stream_get_addr(b, NGHTTPW_OPT_LOCADDR, &lb), 0);
	cr_assert_eq(nghttpw_stream_get_addr(b, NGHTTPW_OPT_REMADDR, &rb), 0);
	cr_assert_eq(la.s_family, NGHTTPW_AF_INET);
	cr_assert_eq(la.s_in.sa_addr, htonl(0x7f000001));
	cr_assert_eq(la.s_in.sa_port, rb.s_in.sa_port);
	cr_assert_eq(ra.s_in.sa_port, lb.s_in.sa_port);

	cr_assert_eq(nghttpw_stream_get_bool(a, NGHTTPW_OPT_TCP_NODELAY, &on), 0);
	cr_assert(on, "TCP_NODELAY is on by default");
	cr_assert_eq(nghttpw_stream_set_bool(a, NGHTTPW_OPT_TCP_NODELAY, false), 0);
	cr_assert_eq(nghttpw_stream_get_bool(a, NGHTTPW_OPT_TCP_NODELAY, &on), 0);
	cr_assert(!on);
	cr_assert_eq(nghttpw_stream_set_bool(a, NGHTTPW_OPT_TCP_KEEPALIVE, true), 0);
	cr_assert_eq(nghttpw_stream_get_bool(a, NGHTTPW_OPT_TCP_KEEPALIVE, &on), 0);
	cr_assert(on);

	cr_assert_eq(nghttpw_stream_get_int(a, NGHTTPW_OPT_TCP_NODELAY, &x),
	    NGHTTPW_EBADTYPE);
	cr_assert_eq(nghttpw_stream_get_int(a, "no-such-option", &x),
	    NGHTTPW_ENOTSUP);
	cr_assert_eq(nghttpw_stream_get_string(a, "no-such-option", &str),
	    NGHTTPW_ENOTSUP);
	cr_assert_eq(nghttpw_stream_set_int(a, NGHTTPW_OPT_LOCADDR, 1),
	    NGHTTPW_EREADONLY);
	nghttpw_stream_free(a);
	nghttpw_stream_free(b);
}

Test(stream, user_stream_without_getters_says_enotsup)
{
	nghttpw_stream *a, *b;
	bool            on;

	make_pair(KIND_MEM, &a, &b);
	cr_assert_eq(nghttpw_stream_get_bool(a, NGHTTPW_OPT_TCP_NODELAY, &on),
	    NGHTTPW_ENOTSUP);
	cr_assert_eq(nghttpw_stream_set_bool(a, NGHTTPW_OPT_TCP_NODELAY, true),
	    NGHTTPW_ENOTSUP);
	nghttpw_stream_free(a);
	nghttpw_stream_free(b);
}

Test(stream, stream_alloc_checks_table)
{
	nghttpw_stream           *s;
	static nghttpw_stream_ops empty;

	cr_assert_eq(nghttpw_stream_alloc(&s, NULL, NULL), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_stream_alloc(&s, &empty, NULL), NGHTTPW_EINVAL);
}

Test(stream, listener_options)
{
	nghttpw_stream_listener *l;
	nghttpw_sockaddr         sa;
	int                      port;

	cr_assert_eq(nghttpw_stream_listener_alloc(&l, "tcp://127.0.0.1:0"), 0);
	cr_assert_eq(
	    nghttpw_stream_listener_get_int(l, NGHTTPW_OPT_TCP_BOUND_PORT, &port),
	    NGHTTPW_ESTATE);
	cr_assert_eq(nghttpw_stream_listener_listen(l), 0);
	cr_assert_eq(nghttpw_stream_listener_listen(l), NGHTTPW_ESTATE);
	cr_assert_eq(
	    nghttpw_stream_listener_get_int(l, NGHTTPW_OPT_TCP_BOUND_PORT, &port),
	    0);
	cr_assert_gt(port, 0);
	cr_assert_eq(nghttpw_stream_listener_get_addr(l, NGHTTPW_OPT_LOCADDR, &sa),
	    0);
	cr_assert_eq(ntohs(sa.s_in.sa_port), port);
	cr_assert_eq(
	    nghttpw_stream_listener_set_bool(l, NGHTTPW_OPT_TCP_NODELAY, false), 0);
	nghttpw_stream_listener_free(l);
}

/* Dials d and accepts on l; both streams, or the test fails. */
static void
dial_accept(nghttpw_stream_dialer *d, nghttpw_stream_listener *l,
    nghttpw_stream **ds, nghttpw_stream **ls)
{
	nghttpw_aio *da, *la;

	nghttpw_aio_alloc(&da, NULL, NULL);
	nghttpw_aio_alloc(&la, NULL, NULL);
	nghttpw_aio_set_timeout(da, 5000);
	nghttpw_aio_set_timeout(la, 5000);
	nghttpw_stream_listener_accept(l, la);
	nghttpw_stream_dialer_dial(d, da);
	nghttpw_aio_wait(da);
	nghttpw_aio_wait(la);
	cr_assert_eq(nghttpw_aio_result(da), 0);
	cr_assert_eq(nghttpw_aio_result(la), 0);
	*ds = nghttpw_aio_get_output(da, 0);
	*ls = nghttpw_aio_get_output(la, 0);
	nghttpw_aio_free(da);
	nghttpw_aio_free(la);
}

/* What a user sets on a dialer and a listener with the typed functions is
 * read back the same way, and reaches the streams they make. */
Test(stream, dialer_and_listener_typed_options)
{
	nghttpw_stream_listener *l;
	nghttpw_stream_dialer   *d;
	nghttpw_stream          *ds, *ls;
	char                     url[64];
	char                    *str;
	int                      port;
	bool                     on;

	cr_assert_eq(nghttpw_stream_listener_alloc(&l, "tcp://127.0.0.1:0"), 0);
	cr_assert_eq(nghttpw_stream_listener_get_string(l, NGHTTPW_OPT_URL, &str),
	    0);
	cr_assert_str_eq(str, "tcp://127.0.0.1:0");
	nghttpw_strfree(str);
	cr_assert_eq(
	    nghttpw_stream_listener_get_bool(l, NGHTTPW_OPT_TCP_NODELAY, &on), 0);
	cr_assert(on, "TCP_NODELAY is on by default");
	cr_assert_eq(
	    nghttpw_stream_listener_set_bool(l, NGHTTPW_OPT_TCP_NODELAY, false), 0);
	cr_assert_eq(
	    nghttpw_stream_listener_get_bool(l, NGHTTPW_OPT_TCP_NODELAY, &on), 0);
	cr_assert_not(on);
	cr_assert_eq(nghttpw_stream_listener_listen(l), 0);
	cr_assert_eq(
	    nghttpw_stream_listener_get_int(l, NGHTTPW_OPT_TCP_BOUND_PORT, &port),
	    0);

	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", port);
	cr_assert_eq(nghttpw_stream_dialer_alloc(&d, url), 0);
	cr_assert_eq(nghttpw_stream_dialer_get_string(d, NGHTTPW_OPT_URL, &str), 0);
	cr_assert_str_eq(str, url);
	nghttpw_strfree(str);
	cr_assert_eq(
	    nghttpw_stream_dialer_set_bool(d, NGHTTPW_OPT_TCP_KEEPALIVE, true), 0);
	cr_assert_eq(
	    nghttpw_stream_dialer_get_bool(d, NGHTTPW_OPT_TCP_KEEPALIVE, &on), 0);
	cr_assert(on);

	dial_accept(d, l, &ds, &ls);
	cr_assert_eq(nghttpw_stream_get_bool(ls, NGHTTPW_OPT_TCP_NODELAY, &on), 0);
	cr_assert_not(on, "the listener's setting reaches its streams");
	cr_assert_eq(nghttpw_stream_get_bool(ds, NGHTTPW_OPT_TCP_KEEPALIVE, &on), 0);
	cr_assert(on, "the dialer's setting reaches its streams");
	nghttpw_stream_free(ds);
	nghttpw_stream_free(ls);

	/* The URL is what the object was made from, and stays so. */
	cr_assert_eq(nghttpw_stream_dialer_set_string(d, NGHTTPW_OPT_URL, "x"),
	    NGHTTPW_EREADONLY);
	cr_assert_eq(nghttpw_stream_listener_set_string(l, NGHTTPW_OPT_URL, "x"),
	    NGHTTPW_EREADONLY);
	nghttpw_stream_dialer_free(d);
	nghttpw_stream_listener_free(l);
}

/* Every typed accessor checks the type: a known name read or set as
 * another type is NGHTTPW_EBADTYPE, an unknown name NGHTTPW_ENOTSUP. */
Test(stream, dialer_and_listener_types_are_checked)
{
	nghttpw_stream_dialer   *d;
	nghttpw_stream_listener *l;
	nghttpw_sockaddr         sa = { .s_family = NGHTTPW_AF_INET };
	nghttpw_duration         ms;
	uint64_t                 u;
	size_t                   sz;
	char                    *str;
	void                    *p;
	bool                     b;
	int                      x;
	const char              *nd = NGHTTPW_OPT_TCP_NODELAY;
	const char              *no = "no-such-option";

	cr_assert_eq(nghttpw_stream_dialer_alloc(&d, "tcp://127.0.0.1:9"), 0);
	cr_assert_eq(nghttpw_stream_dialer_get_int(d, nd, &x), NGHTTPW_EBADTYPE);
	cr_assert_eq(nghttpw_stream_dialer_get_ms(d, nd, &ms), NGHTTPW_EBADTYPE);
	cr_assert_eq(nghttpw_stream_dialer_get_size(d, nd, &sz), NGHTTPW_EBADTYPE);
	cr_assert_eq(nghttpw_stream_dialer_get_uint64(d, nd, &u), NGHTTPW_EBADTYPE);
	cr_assert_eq(nghttpw_stream_dialer_get_string(d, nd, &str),
	    NGHTTPW_EBADTYPE);
	cr_assert_eq(nghttpw_stream_dialer_get_addr(d, nd, &sa), NGHTTPW_EBADTYPE);
	cr_assert_eq(nghttpw_stream_dialer_get_bool(d, NGHTTPW_OPT_URL, &b),
	    NGHTTPW_EBADTYPE);
	cr_assert_eq(nghttpw_stream_dialer_set_int(d, nd, 1), NGHTTPW_EBADTYPE);
	cr_assert_eq(nghttpw_stream_dialer_set_ms(d, nd, 1), NGHTTPW_EBADTYPE);
	cr_assert_eq(nghttpw_stream_dialer_set_size(d, nd, 1), NGHTTPW_EBADTYPE);
	cr_assert_eq(nghttpw_stream_dialer_set_uint64(d, nd, 1), NGHTTPW_EBADTYPE);
	cr_assert_eq(nghttpw_stream_dialer_set_string(d, nd, "1"),
	    NGHTTPW_EBADTYPE);
	cr_assert_eq(nghttpw_stream_dialer_set_addr(d, nd, &sa), NGHTTPW_EBADTYPE);
	cr_assert_eq(nghttpw_stream_dialer_get_ms(d, no, &ms), NGHTTPW_ENOTSUP);
	cr_assert_eq(nghttpw_stream_dialer_get_size(d, no, &sz), NGHTTPW_ENOTSUP);
	cr_assert_eq(nghttpw_stream_dialer_get_uint64(d, no, &u), NGHTTPW_ENOTSUP);
	cr_assert_eq(nghttpw_stream_dialer_get_addr(d, no, &sa), NGHTTPW_ENOTSUP);
	cr_assert_eq(nghttpw_stream_dialer_set_int(d, no, 1), NGHTTPW_ENOTSUP);
	cr_assert_eq(nghttpw_stream_dialer_set_string(d, no, "1"),
	    NGHTTPW_ENOTSUP);
	cr_assert_eq(nghttpw_stream_dialer_set_addr(d, no, &sa), NGHTTPW_ENOTSUP);
	cr_assert_eq(nghttpw_stream_dialer_get_ptr(d, no, &p), NGHTTPW_ENOTSUP);
	nghttpw_stream_dialer_free(d);

	cr_assert_eq(nghttpw_stream_listener_alloc(&l, "tcp://127.0.0.1:0"), 0);
	cr_assert_eq(nghttpw_stream_listener_listen(l), 0);
	cr_assert_eq(nghttpw_stream_listener_get_ms(l, nd, &ms), NGHTTPW_EBADTYPE);
	cr_assert_eq(nghttpw_stream_listener_get_size(l, nd, &sz),
	    NGHTTPW_EBADTYPE);
	cr_assert_eq(nghttpw_stream_listener_get_uint64(l, nd, &u),
	    NGHTTPW_EBADTYPE);
	cr_assert_eq(nghttpw_stream_listener_get_string(l, nd, &str),
	    NGHTTPW_EBADTYPE);
	cr_assert_eq(nghttpw_stream_listener_get_bool(
	                 l, NGHTTPW_OPT_TCP_BOUND_PORT, &b),
	    NGHTTPW_EBADTYPE);
	cr_assert_eq(nghttpw_stream_listener_set_int(l, nd, 1), NGHTTPW_EBADTYPE);
	cr_assert_eq(nghttpw_stream_listener_set_ms(l, nd, 1), NGHTTPW_EBADTYPE);
	cr_assert_eq(nghttpw_stream_listener_set_size(l, nd, 1), NGHTTPW_EBADTYPE);
	cr_assert_eq(nghttpw_stream_listener_set_uint64(l, nd, 1),
	    NGHTTPW_EBADTYPE);
	cr_assert_eq(nghttpw_stream_listener_set_string(l, nd, "1"),
	    NGHTTPW_EBADTYPE);
	cr_assert_eq(nghttpw_stream_listener_set_addr(l, nd, &sa),
	    NGHTTPW_EBADTYPE);
	cr_assert_eq(nghttpw_stream_listener_get_bool(l, no, &b), NGHTTPW_ENOTSUP);
	cr_assert_eq(nghttpw_stream_listener_get_ms(l, no, &ms), NGHTTPW_ENOTSUP);
	cr_assert_eq(nghttpw_stream_listener_get_size(l, no, &sz),
	    NGHTTPW_ENOTSUP);
	cr_assert_eq(nghttpw_stream_listener_get_uint64(l, no, &u),
	    NGHTTPW_ENOTSUP);
	cr_assert_eq(nghttpw_stream_listener_set_ms(l, no, 1), NGHTTPW_ENOTSUP);
	cr_assert_eq(nghttpw_stream_listener_set_size(l, no, 1), NGHTTPW_ENOTSUP);
	cr_assert_eq(nghttpw_stream_listener_set_uint64(l, no, 1),
	    NGHTTPW_ENOTSUP);
	/* Read-only names stay so whatever the type. */
	cr_assert_eq(nghttpw_stream_listener_set_int(
	                 l, NGHTTPW_OPT_TCP_BOUND_PORT, 80),
	    NGHTTPW_EREADONLY);
	cr_assert_eq(nghttpw_stream_listener_set_addr(l, NGHTTPW_OPT_LOCADDR, &sa),
	    NGHTTPW_EREADONLY);
	nghttpw_stream_listener_free(l);
}

/* The untyped get and set move raw bytes, checked by size: the buffer
 * must hold the value, and a set must pass exactly its size. */
Test(stream, untyped_get_and_set)
{
	nghttpw_stream_listener *l;
	nghttpw_stream_dialer   *d;
	nghttpw_stream          *a, *b;
	nghttpw_sockaddr         sa;
	char                     url[64];
	char                     buf[64];
	size_t                   sz;
	bool                     on = true;
	int                      port, x;

	cr_assert_eq(nghttpw_stream_listener_alloc(&l, "tcp://127.0.0.1:0"), 0);
	cr_assert_eq(nghttpw_stream_listener_listen(l), 0);
	sz = sizeof(port);
	cr_assert_eq(nghttpw_stream_listener_get(
	                 l, NGHTTPW_OPT_TCP_BOUND_PORT, &port, &sz),
	    0);
	cr_assert_eq(sz, sizeof(port));
	cr_assert_eq(nghttpw_stream_listener_get_int(
	                 l, NGHTTPW_OPT_TCP_BOUND_PORT, &x),
	    0);
	cr_assert_eq(port, x);
	sz = 1;
	cr_assert_eq(nghttpw_stream_listener_get(
	                 l, NGHTTPW_OPT_TCP_BOUND_PORT, &x, &sz),
	    NGHTTPW_EINVAL);
	cr_assert_eq(sz, sizeof(int), "a short buffer learns the size needed");
	sz = sizeof(buf);
	cr_assert_eq(nghttpw_stream_listener_get(l, NGHTTPW_OPT_URL, buf, &sz), 0);
	cr_assert_str_eq(buf, "tcp://127.0.0.1:0");
	cr_assert_eq(sz, strlen(buf) + 1);
	cr_assert_eq(nghttpw_stream_listener_set(
	                 l, NGHTTPW_OPT_TCP_NODELAY, &on, sizeof(on)),
	    0);
	cr_assert_eq(nghttpw_stream_listener_set(
	                 l, NGHTTPW_OPT_TCP_NODELAY, &x, sizeof(x)),
	    NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_stream_listener_set(l, "no-such-option", &x,
	                 sizeof(x)),
	    NGHTTPW_ENOTSUP);

	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", port);
	cr_assert_eq(nghttpw_stream_dialer_alloc(&d, url), 0);
	on = false;
	cr_assert_eq(nghttpw_stream_dialer_set(
	                 d, NGHTTPW_OPT_TCP_NODELAY, &on, sizeof(on)),
	    0);
	cr_assert_eq(nghttpw_stream_dialer_set(d, NGHTTPW_OPT_TCP_NODELAY, &on, 0),
	    NGHTTPW_EINVAL);
	on = true;
	sz = sizeof(buf); /* a bigger buffer is fine */
	cr_assert_eq(nghttpw_stream_dialer_get(
	                 d, NGHTTPW_OPT_TCP_NODELAY, buf, &sz),
	    0);
	cr_assert_eq(sz, sizeof(bool));
	memcpy(&on, buf, sizeof(on));
	cr_assert_not(on);
	sz = 4;
	cr_assert_eq(nghttpw_stream_dialer_get(d, NGHTTPW_OPT_URL, buf, &sz),
	    NGHTTPW_EINVAL);
	cr_assert_eq(sz, strlen(url) + 1);
	sz = sizeof(buf);
	cr_assert_eq(nghttpw_stream_dialer_get(d, NGHTTPW_OPT_URL, buf, &sz), 0);
	cr_assert_str_eq(buf, url);
	cr_assert_eq(nghttpw_stream_dialer_set(d, NGHTTPW_OPT_URL, url,
	                 strlen(url) + 1),
	    NGHTTPW_EREADONLY);
	cr_assert_eq(nghttpw_stream_dialer_get(d, "no-such-option", buf, &sz),
	    NGHTTPW_ENOTSUP);

	dial_accept(d, l, &a, &b);
	sz = sizeof(sa);
	cr_assert_eq(nghttpw_stream_get(a, NGHTTPW_OPT_REMADDR, &sa, &sz), 0);
	cr_assert_eq(sz, sizeof(sa));
	cr_assert_eq(ntohs(sa.s_in.sa_port), port);
	sz = sizeof(on);
	cr_assert_eq(nghttpw_stream_get(a, NGHTTPW_OPT_TCP_NODELAY, &on, &sz), 0);
	cr_assert_not(on);
	on = true;
	cr_assert_eq(nghttpw_stream_set(a, NGHTTPW_OPT_TCP_NODELAY, &on,
	                 sizeof(on)),
	    0);
	cr_assert_eq(nghttpw_stream_get_bool(a, NGHTTPW_OPT_TCP_NODELAY, &on), 0);
	cr_assert(on);
	cr_assert_eq(nghttpw_stream_set(a, NGHTTPW_OPT_TCP_NODELAY, &on,
	                 sizeof(on) + 1),
	    NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_stream_set(a, NGHTTPW_OPT_LOCADDR, &sa, sizeof(sa)),
	    NGHTTPW_EREADONLY);
	nghttpw_stream_free(a);
	nghttpw_stream_free(b);
	nghttpw_stream_dialer_free(d);
	nghttpw_stream_listener_free(l);
}

/* A NULL object, name or value is NGHTTPW_EINVAL, never a crash. */
Test(stream, option_accessors_refuse_null)
{
	nghttpw_stream_dialer   *d;
	nghttpw_stream_listener *l;
	nghttpw_stream          *a, *b;
	nghttpw_sockaddr         sa = { .s_family = NGHTTPW_AF_INET };
	nghttpw_duration         ms;
	uint64_t                 u;
	size_t                   sz = sizeof(bool);
	char                    *str;
	bool                     on;
	int                      x;
	const char              *nd = NGHTTPW_OPT_TCP_NODELAY;

	cr_assert_eq(nghttpw_stream_dialer_alloc(&d, "tcp://127.0.0.1:9"), 0);
	cr_assert_eq(nghttpw_stream_listener_alloc(&l, "tcp://127.0.0.1:0"), 0);
	make_pair(KIND_TCP4, &a, &b);

	cr_assert_eq(nghttpw_stream_get(NULL, nd, &on, &sz), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_stream_get(a, NULL, &on, &sz), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_stream_get(a, nd, NULL, &sz), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_stream_get(a, nd, &on, NULL), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_stream_set(NULL, nd, &on, sz), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_stream_set(a, NULL, &on, sz), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_stream_set(a, nd, NULL, sz), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_stream_get_uint64(NULL, nd, &u), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_stream_get_uint64(a, NULL, &u), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_stream_get_uint64(a, nd, NULL), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_stream_set_uint64(NULL, nd, 1), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_stream_set_uint64(a, NULL, 1), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_stream_set_addr(NULL, nd, &sa), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_stream_set_addr(a, NULL, &sa), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_stream_set_addr(a, nd, NULL), NGHTTPW_EINVAL);

	cr_assert_eq(nghttpw_stream_dialer_get(NULL, nd, &on, &sz),
	    NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_stream_dialer_get(d, NULL, &on, &sz), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_stream_dialer_get(d, nd, NULL, &sz), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_stream_dialer_get(d, nd, &on, NULL), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_stream_dialer_set(NULL, nd, &on, sz), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_stream_dialer_set(d, NULL, &on, sz), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_stream_dialer_set(d, nd, NULL, sz), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_stream_dialer_get_int(NULL, nd, &x), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_stream_dialer_get_ms(d, NULL, &ms), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_stream_dialer_get_size(d, nd, NULL), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_stream_dialer_get_uint64(NULL, nd, &u),
	    NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_stream_dialer_get_string(d, NGHTTPW_OPT_URL, NULL),
	    NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_stream_dialer_get_addr(d, NULL, &sa), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_stream_dialer_set_int(NULL, nd, 1), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_stream_dialer_set_ms(d, NULL, 1), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_stream_dialer_set_size(NULL, nd, 1), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_stream_dialer_set_uint64(d, NULL, 1), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_stream_dialer_set_string(d, nd, NULL),
	    NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_stream_dialer_set_string(NULL, nd, "x"),
	    NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_stream_dialer_set_addr(d, nd, NULL), NGHTTPW_EINVAL);

	cr_assert_eq(nghttpw_stream_listener_get(NULL, nd, &on, &sz),
	    NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_stream_listener_get(l, NULL, &on, &sz),
	    NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_stream_listener_get(l, nd, NULL, &sz),
	    NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_stream_listener_get(l, nd, &on, NULL),
	    NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_stream_listener_set(NULL, nd, &on, sz),
	    NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_stream_listener_set(l, NULL, &on, sz),
	    NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_stream_listener_set(l, nd, NULL, sz),
	    NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_stream_listener_get_bool(NULL, nd, &on),
	    NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_stream_listener_get_bool(l, nd, NULL),
	    NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_stream_listener_get_ms(l, NULL, &ms), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_stream_listener_get_size(NULL, nd, &sz),
	    NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_stream_listener_get_uint64(l, nd, NULL),
	    NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_stream_listener_get_string(l, NULL, &str),
	    NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_stream_listener_set_int(NULL, nd, 1), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_stream_listener_set_ms(l, NULL, 1), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_stream_listener_set_size(NULL, nd, 1),
	    NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_stream_listener_set_uint64(l, NULL, 1),
	    NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_stream_listener_set_string(l, nd, NULL),
	    NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_stream_listener_set_addr(l, nd, NULL),
	    NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_stream_listener_set_addr(NULL, nd, &sa),
	    NGHTTPW_EINVAL);

	nghttpw_stream_free(a);
	nghttpw_stream_free(b);
	nghttpw_stream_dialer_free(d);
	nghttpw_stream_listener_free(l);
}

/* A user stream with options of its own, as nghttpw_stream(5) describes
 * them: each public function reaches s_get and s_set with its type. */
typedef struct {
	pthread_mutex_t  mtx;
	uint64_t         count;
	nghttpw_sockaddr peer;
	nghttpw_type     last; /* the type of the last call */
} opt_stream;

static void
opt_stream_nop(void *arg)
{
	(void) arg;
}

static void
opt_stream_io(void *arg, nghttpw_aio *aio)
{
	(void) arg;
	if (nghttpw_aio_begin(aio)) {
		nghttpw_aio_finish(aio, NGHTTPW_ENOTSUP);
	}
}

/* The option's value as a buffer and size, or NULL for an unknown name or
 * a type other than the option's own (raw bytes are fine). */
static void *
opt_stream_find(
    opt_stream *o, const char *name, nghttpw_type t, size_t *sz, int *rv)
{
	void        *v;
	nghttpw_type want;

	if (strcmp(name, "count") == 0) {
		v    = &o->count;
		*sz  = sizeof(o->count);
		want = NGHTTPW_TYPE_UINT64;
	} else if (strcmp(name, "peer") == 0) {
		v    = &o->peer;
		*sz  = sizeof(o->peer);
		want = NGHTTPW_TYPE_SOCKADDR;
	} else {
		*rv = NGHTTPW_ENOTSUP;
		return (NULL);
	}
	o->last = t;
	if (t != want && t != NGHTTPW_TYPE_OPAQUE) {
		*rv = NGHTTPW_EBADTYPE;
		return (NULL);
	}
	*rv = 0;
	return (v);
}

static int
opt_stream_get(
    void *arg, const char *name, void *buf, size_t *szp, nghttpw_type t)
{
	opt_stream *o = arg;
	void       *v;
	size_t      sz;
	int         rv;

	pthread_mutex_lock(&o->mtx);
	if ((v = opt_stream_find(o, name, t, &sz, &rv)) != NULL) {
		if (*szp < sz) {
			rv = NGHTTPW_EINVAL;
		} else {
			memcpy(buf, v, sz);
		}
		*szp = sz;
	}
	pthread_mutex_unlock(&o->mtx);
	return (rv);
}

static int
opt_stream_set(
    void *arg, const char *name, const void *buf, size_t sz, nghttpw_type t)
{
	opt_stream *o = arg;
	void       *v;
	size_t      vsz;
	int         rv;

	pthread_mutex_lock(&o->mtx);
	if ((v = opt_stream_find(o, name, t, &vsz, &rv)) != NULL) {
		if (sz != vsz) {
			rv = NGHTTPW_EINVAL;
		} else {
			memcpy(v, buf, sz);
		}
	}
	pthread_mutex_unlock(&o->mtx);
	return (rv);
}

static const nghttpw_stream_ops opt_stream_ops = {
	.s_free  = opt_stream_nop,
	.s_close = opt_stream_nop,
	.s_stop  = opt_stream_nop,
	.s_send  = opt_stream_io,
	.s_recv  = opt_stream_io,
	.s_get   = opt_stream_get,
	.s_set   = opt_stream_set,
};

Test(stream, user_stream_options_reach_its_table)
{
	opt_stream       o = { .mtx = PTHREAD_MUTEX_INITIALIZER };
	nghttpw_stream  *s;
	nghttpw_sockaddr sa  = { .s_in = { NGHTTPW_AF_INET, htons(8080),
	                             htonl(0x7f000001) } };
	nghttpw_sockaddr got = { 0 };
	uint64_t         big = UINT64_C(1) << 40;
	uint64_t         u   = 0;
	size_t           sz;
	int              x;

	cr_assert_eq(nghttpw_stream_alloc(&s, &opt_stream_ops, &o), 0);
	cr_assert_eq(nghttpw_stream_set_uint64(s, "count", big), 0);
	cr_assert_eq(o.last, NGHTTPW_TYPE_UINT64);
	cr_assert_eq(nghttpw_stream_get_uint64(s, "count", &u), 0);
	cr_assert_eq(u, big);
	cr_assert_eq(nghttpw_stream_set_addr(s, "peer", &sa), 0);
	cr_assert_eq(o.last, NGHTTPW_TYPE_SOCKADDR);
	cr_assert_eq(nghttpw_stream_get_addr(s, "peer", &got), 0);
	cr_assert_eq(memcmp(&got, &sa, sizeof(sa)), 0);

	/* Untyped: the table sees NGHTTPW_TYPE_OPAQUE and the sizes. */
	u  = 7;
	sz = sizeof(u);
	cr_assert_eq(nghttpw_stream_set(s, "count", &u, sz), 0);
	cr_assert_eq(o.last, NGHTTPW_TYPE_OPAQUE);
	u = 0;
	cr_assert_eq(nghttpw_stream_get(s, "count", &u, &sz), 0);
	cr_assert_eq(u, 7);
	cr_assert_eq(nghttpw_stream_set(s, "count", &x, sizeof(x)),
	    NGHTTPW_EINVAL);

	cr_assert_eq(nghttpw_stream_get_int(s, "count", &x), NGHTTPW_EBADTYPE);
	cr_assert_eq(nghttpw_stream_set_uint64(s, "peer", 1), NGHTTPW_EBADTYPE);
	cr_assert_eq(nghttpw_stream_set_addr(s, "count", &sa), NGHTTPW_EBADTYPE);
	cr_assert_eq(nghttpw_stream_get_uint64(s, "nope", &u), NGHTTPW_ENOTSUP);
	nghttpw_stream_free(s);
}

/* TLS dialers and listeners answer the URL they were made from, and pass
 * the TCP options, of any type, to the TCP dialer or listener under them. */
Test(stream, tls_dialer_and_listener_options)
{
	nghttpw_stream_dialer   *d;
	nghttpw_stream_listener *l;
	char                    *str;
	bool                     on;
	int                      x;

	if (nghttpw_stream_dialer_alloc(&d, "tls+tcp://127.0.0.1:9") ==
	    NGHTTPW_ENOTSUP) {
		cr_skip_test("built without TLS");
	}
	cr_assert_eq(nghttpw_stream_dialer_get_string(d, NGHTTPW_OPT_URL, &str), 0);
	cr_assert_str_eq(str, "tls+tcp://127.0.0.1:9");
	nghttpw_strfree(str);
	cr_assert_eq(nghttpw_stream_dialer_set_string(d, NGHTTPW_OPT_URL, "x"),
	    NGHTTPW_EREADONLY);
	cr_assert_eq(
	    nghttpw_stream_dialer_set_bool(d, NGHTTPW_OPT_TCP_NODELAY, false), 0);
	cr_assert_eq(
	    nghttpw_stream_dialer_get_bool(d, NGHTTPW_OPT_TCP_NODELAY, &on), 0);
	cr_assert_not(on);
	cr_assert_eq(nghttpw_stream_dialer_get_int(d, NGHTTPW_OPT_TCP_NODELAY, &x),
	    NGHTTPW_EBADTYPE);
	cr_assert_eq(nghttpw_stream_dialer_set_int(d, "no-such-option", 1),
	    NGHTTPW_ENOTSUP);
	nghttpw_stream_dialer_free(d);

	cr_assert_eq(nghttpw_stream_listener_alloc(&l, "tls+tcp://127.0.0.1:0"), 0);
	cr_assert_eq(nghttpw_stream_listener_get_string(l, NGHTTPW_OPT_URL, &str),
	    0);
	cr_assert_str_eq(str, "tls+tcp://127.0.0.1:0");
	nghttpw_strfree(str);
	cr_assert_eq(
	    nghttpw_stream_listener_set_bool(l, NGHTTPW_OPT_TCP_KEEPALIVE, true), 0);
	cr_assert_eq(
	    nghttpw_stream_listener_get_bool(l, NGHTTPW_OPT_TCP_KEEPALIVE, &on), 0);
	cr_assert(on);
	cr_assert_eq(nghttpw_stream_listener_get_bool(
	                 l, NGHTTPW_OPT_TLS_HANDSHAKE_ERRORS, &on),
	    0);
	cr_assert_not(on);
	cr_assert_eq(nghttpw_stream_listener_set_int(
	                 l, NGHTTPW_OPT_TCP_BOUND_PORT, 1),
	    NGHTTPW_EREADONLY);
	nghttpw_stream_listener_free(l);
}

/* Races on real sockets: a recv with a tiny timeout, a cancel from
 * another thread and data arriving all compete, many times; each recv
 * completes exactly once and no byte is lost or duplicated. */
typedef struct {
	nghttpw_stream *s;
	atomic_bool     stop;
	atomic_size_t   sent;
} trickle;

static void *
trickle_main(void *arg)
{
	trickle      *t = arg;
	unsigned char seq = 0;
	unsigned      seed = 5;

	while (!atomic_load(&t->stop)) {
		if (send_all(t->s, &seq, 1, NULL) != 0) {
			break;
		}
		seq++;
		atomic_fetch_add(&t->sent, 1);
		if (rand_r(&seed) % 8 == 0) {
			nghttpw_msleep(1);
		}
	}
	return (NULL);
}

static void
count_cb(void *arg)
{
	atomic_fetch_add((atomic_int *) arg, 1);
}

Test(stream, stress_recv_cancel_timeout_data, .timeout = 120)
{
	nghttpw_stream *a, *b;
	nghttpw_aio    *aio;
	atomic_int      calls = 0;
	trickle         t     = { 0 };
	pthread_t       th;
	unsigned        seed = 11;
	unsigned char   expect = 0;
	unsigned char   buf[64];
	nghttpw_iov     iov = { buf, sizeof(buf) };
	int             iters = 5000;
	size_t          received = 0;

	make_pair(KIND_TCP4, &a, &b);
	t.s = b;
	nghttpw_aio_alloc(&aio, count_cb, &calls);
	nghttpw_aio_set_iov(aio, 1, &iov);
	pthread_create(&th, NULL, trickle_main, &t);
	for (int i = 0; i < iters; i++) {
		nghttpw_aio_set_timeout(aio, (nghttpw_duration) (rand_r(&seed) % 3));
		nghttpw_stream_recv(a, aio);
		if (rand_r(&seed) % 2) {
			nghttpw_aio_cancel(aio);
		}
		nghttpw_aio_wait(aio);
		cr_assert_eq(atomic_load(&calls), i + 1);
		int rv = nghttpw_aio_result(aio);
		size_t n = nghttpw_aio_count(aio);
		if (rv == 0) {
			for (size_t k = 0; k < n; k++) {
				cr_assert_eq(buf[k], expect, "byte lost or repeated");
				expect++;
			}
			received += n;
		} else {
			cr_assert(rv == NGHTTPW_ECANCELED || rv == NGHTTPW_ETIMEDOUT,
			    "result %s", nghttpw_strerror(rv));
			cr_assert_eq(n, 0);
		}
	}
	atomic_store(&t.stop, true);
	pthread_join(th, NULL);
	cr_assert_gt(received, 0);
	nghttpw_aio_free(aio);
	nghttpw_stream_free(a);
	nghttpw_stream_free(b);
}

/* Close racing pending operations from other threads. */
Test(stream, stress_close_racing_ops, .timeout = 120)
{
	for (int i = 0; i < 300; i++) {
		nghttpw_stream *a, *b;
		nghttpw_aio    *r, *s;
		atomic_int      calls = 0;
		char            rbuf[16], sbuf[16] = "x";
		nghttpw_iov     riov = { rbuf, sizeof(rbuf) };
		nghttpw_iov     siov = { sbuf, 1 };

		make_pair(KIND_TCP4, &a, &b);
		nghttpw_aio_alloc(&r, count_cb, &calls);
		nghttpw_aio_alloc(&s, count_cb, &calls);
		nghttpw_aio_set_iov(r, 1, &riov);
		nghttpw_aio_set_iov(s, 1, &siov);
		nghttpw_aio_set_timeout(r, (nghttpw_duration) (i % 3));
		nghttpw_stream_recv(a, r);
		nghttpw_stream_send(b, s);
		if (i % 2) {
			nghttpw_stream_close(a);
		}
		nghttpw_stream_free(b);
		nghttpw_aio_wait(r);
		nghttpw_aio_wait(s);
		cr_assert_eq(atomic_load(&calls), 2);
		nghttpw_stream_free(a);
		nghttpw_aio_free(r);
		nghttpw_aio_free(s);
	}
}

/* Names are resolved away from the caller's thread; the dial still works,
 * and a dial cancelled or closed while resolving ends cleanly. */
Test(stream, dial_by_name_and_cancel_while_resolving)
{
	nghttpw_stream_listener *l;
	nghttpw_stream_dialer   *d;
	nghttpw_aio             *aio;
	char                     url[64];
	int                      port;

	cr_assert_eq(nghttpw_stream_listener_alloc(&l, "tcp4://127.0.0.1:0"), 0);
	cr_assert_eq(nghttpw_stream_listener_listen(l), 0);
	nghttpw_stream_listener_get_int(l, NGHTTPW_OPT_TCP_BOUND_PORT, &port);
	snprintf(url, sizeof(url), "tcp4://localhost:%d", port);
	cr_assert_eq(nghttpw_stream_dialer_alloc(&d, url), 0);
	nghttpw_aio_alloc(&aio, NULL, NULL);
	nghttpw_aio_set_timeout(aio, 5000);
	nghttpw_stream_dialer_dial(d, aio);
	cr_assert_eq(nghttpw_aio_result((nghttpw_aio_wait(aio), aio)), 0);
	nghttpw_stream_free(nghttpw_aio_get_output(aio, 0));

	for (int i = 0; i < 200; i++) {
		nghttpw_stream_dialer_dial(d, aio);
		nghttpw_aio_cancel(aio);
		nghttpw_aio_wait(aio);
		int rv = nghttpw_aio_result(aio);
		cr_assert(rv == 0 || rv == NGHTTPW_ECANCELED, "got %s",
		    nghttpw_strerror(rv));
		nghttpw_stream_free(nghttpw_aio_get_output(aio, 0));
	}
	nghttpw_stream_dialer_dial(d, aio);
	nghttpw_stream_dialer_close(d);
	nghttpw_aio_wait(aio);
	cr_assert(nghttpw_aio_result(aio) == 0 ||
	    nghttpw_aio_result(aio) == NGHTTPW_ECLOSED);
	nghttpw_stream_free(nghttpw_aio_get_output(aio, 0));
	nghttpw_aio_free(aio);
	nghttpw_stream_dialer_free(d);
	nghttpw_stream_listener_free(l);
}

Test(stream, null_objects_fail_the_aio)
{
	nghttpw_aio *aio;

	nghttpw_aio_alloc(&aio, NULL, NULL);
	nghttpw_stream_send(NULL, aio);
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), NGHTTPW_EINVAL);
	nghttpw_stream_recv(NULL, aio);
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), NGHTTPW_EINVAL);
	nghttpw_stream_dialer_dial(NULL, aio);
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), NGHTTPW_EINVAL);
	nghttpw_stream_listener_accept(NULL, aio);
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), NGHTTPW_EINVAL);
	nghttpw_aio_free(aio);
}
