/* TLS listeners under sockets that hold on without finishing a
 * handshake: silent ones, half ClientHellos and whole ClientHellos that
 * never answer.  A live client must still be served at once, the
 * handshake timeout must hold, and a full table sheds the oldest. */
#ifdef NGHTTPW_HAVE_TLS

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nghttpw/nghttpw.h"
#include "nghttpw/tls.h"
#include "support/pairs.h"
#include "support/tls_certs.h"

#define WAIT_MS 5000
#define NSILENT 500
#define NHALF 500
#define NREPLAY 100 /* more than the listener's 64 handshake slots */

/* The bound for a live client's handshake is 100 ms (a starved
 * one waits seconds).  A sanitized build at -O0 spends much of that on
 * the two ECDSA handshakes' arithmetic alone, so it gets three times as
 * long: still far below what starvation costs. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define LIVE_HANDSHAKE_MS 300
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define LIVE_HANDSHAKE_MS 300
#endif
#endif
#ifndef LIVE_HANDSHAKE_MS
#define LIVE_HANDSHAKE_MS 100
#endif

static void
setup(void)
{
	struct rlimit rl;

	signal(SIGPIPE, SIG_IGN);
	cr_assert_not_null(tls_test_certs_get(), "making the test certificates failed");
	/* Both ends of a thousand sockets live in this process. */
	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	rl.rlim_cur = rl.rlim_max;
	(void) setrlimit(RLIMIT_NOFILE, &rl);
}

TestSuite(tls_admission, .init = setup, .timeout = 60);

static nghttpw_tls_config *
server_config(void)
{
	const tls_test_certs *c = tls_test_certs_get();
	nghttpw_tls_config   *cfg;

	cr_assert_eq(nghttpw_tls_config_alloc(&cfg, NGHTTPW_TLS_MODE_SERVER), 0);
	cr_assert_eq(nghttpw_tls_config_own_cert(cfg, c->server_cert, c->server_key, NULL), 0);
	return (cfg);
}

static nghttpw_stream_dialer *
client_dialer(int port)
{
	nghttpw_tls_config    *cfg;
	nghttpw_stream_dialer *d;
	char                   url[64];

	snprintf(url, sizeof(url), "tls+tcp://127.0.0.1:%d", port);
	cr_assert_eq(nghttpw_tls_config_alloc(&cfg, NGHTTPW_TLS_MODE_CLIENT), 0);
	cr_assert_eq(nghttpw_tls_config_ca_chain(cfg, tls_test_certs_get()->ca_cert, NULL), 0);
	cr_assert_eq(nghttpw_stream_dialer_alloc(&d, url), 0);
	cr_assert_eq(nghttpw_stream_dialer_set_ptr(d, NGHTTPW_OPT_TLS_CONFIG, cfg), 0);
	nghttpw_tls_config_free(cfg); /* the dialer holds it */
	return (d);
}

static nghttpw_stream_listener *
listen_tls(int *port, nghttpw_duration hs_ms)
{
	nghttpw_tls_config      *cfg = server_config();
	nghttpw_stream_listener *l;

	cr_assert_eq(nghttpw_stream_listener_alloc(&l, "tls+tcp://127.0.0.1:0"), 0);
	cr_assert_eq(nghttpw_stream_listener_set_ptr(l, NGHTTPW_OPT_TLS_CONFIG, cfg), 0);
	nghttpw_tls_config_free(cfg);
	cr_assert_eq(nghttpw_stream_listener_set_ms(
	                 l, NGHTTPW_OPT_TLS_HANDSHAKE_TIMEOUT, hs_ms),
	    0);
	cr_assert_eq(nghttpw_stream_listener_listen(l), 0);
	cr_assert_eq(nghttpw_stream_listener_get_int(l, NGHTTPW_OPT_TCP_BOUND_PORT, port), 0);
	return (l);
}

static int
raw_connect(int port)
{
	int fd = raw_tcp_connect(port);

	cr_assert_geq(fd, 0);
	return (fd);
}

/* The start of a ClientHello record that announces 512 bytes. */
static void
send_half_hello(int fd)
{
	unsigned char b[105] = { 22, 3, 1, 512 >> 8, 512 & 0xff, 1 };

	cr_assert_eq(write(fd, b, sizeof(b)), (ssize_t) sizeof(b));
}

/* A real ClientHello, as our dialer sends it: read off a plain TCP
 * listener that the dialer takes for a TLS server. */
static size_t
capture_hello(unsigned char *buf, size_t cap)
{
	int                    port, fd;
	int                    lfd = raw_tcp_listen(&port);
	nghttpw_stream_dialer *d;
	nghttpw_aio           *aio;
	size_t                 got = 0, want = 5;
	ssize_t                n;

	cr_assert_geq(lfd, 0);
	d = client_dialer(port);
	cr_assert_eq(nghttpw_aio_alloc(&aio, NULL, NULL), 0);
	nghttpw_aio_set_timeout(aio, WAIT_MS);
	nghttpw_stream_dialer_dial(d, aio);
	cr_assert_geq(fd = accept(lfd, NULL, NULL), 0);
	while (got < want) {
		cr_assert_gt(n = read(fd, buf + got, want - got), 0);
		got += (size_t) n;
		if (got == 5) {
			want = 5 + ((size_t) buf[3] << 8 | buf[4]);
			cr_assert_leq(want, cap);
		}
	}
	close(fd);
	close(lfd);
	nghttpw_aio_wait(aio);
	nghttpw_aio_free(aio);
	nghttpw_stream_dialer_free(d);
	return (got);
}

/* Dials while l accepts; returns how long the handshake took (ms). */
static nghttpw_time
timed_handshake(nghttpw_stream_listener *l, int port)
{
	nghttpw_stream_dialer *d = client_dialer(port);
	nghttpw_aio           *acc, *dial;
	nghttpw_time           start, took;

	cr_assert_eq(nghttpw_aio_alloc(&acc, NULL, NULL), 0);
	cr_assert_eq(nghttpw_aio_alloc(&dial, NULL, NULL), 0);
	nghttpw_aio_set_timeout(acc, WAIT_MS);
	nghttpw_aio_set_timeout(dial, WAIT_MS);
	nghttpw_stream_listener_accept(l, acc);
	start = nghttpw_clock();
	nghttpw_stream_dialer_dial(d, dial);
	nghttpw_aio_wait(dial);
	took = nghttpw_clock() - start;
	nghttpw_aio_wait(acc);
	cr_assert_eq(nghttpw_aio_result(dial), 0, "dial: %s",
	    nghttpw_strerror(nghttpw_aio_result(dial)));
	cr_assert_eq(nghttpw_aio_result(acc), 0, "accept: %s",
	    nghttpw_strerror(nghttpw_aio_result(acc)));
	nghttpw_stream_free(nghttpw_aio_get_output(dial, 0));
	nghttpw_stream_free(nghttpw_aio_get_output(acc, 0));
	nghttpw_aio_free(acc);
	nghttpw_aio_free(dial);
	nghttpw_stream_dialer_free(d);
	return (took);
}

/* Lets the listener take in what is in its backlog: it does while an
 * accept waits.  The accept is then cancelled. */
static void
let_listener_take_in(nghttpw_stream_listener *l, nghttpw_duration ms)
{
	nghttpw_aio *acc;

	cr_assert_eq(nghttpw_aio_alloc(&acc, NULL, NULL), 0);
	nghttpw_aio_set_timeout(acc, ms);
	nghttpw_stream_listener_accept(l, acc);
	nghttpw_aio_wait(acc);
	cr_assert_eq(nghttpw_aio_result(acc), NGHTTPW_ETIMEDOUT);
	nghttpw_aio_free(acc);
}

/* True when the server has closed fd within ms (whatever it sent first). */
static bool
closed_by_server(int fd, int ms)
{
	nghttpw_time  end = nghttpw_clock() + ms;
	struct pollfd p   = { .fd = fd, .events = POLLIN };
	char          buf[4096];

	for (;;) {
		nghttpw_time now  = nghttpw_clock();
		int          wait = now < end ? (int) (end - now) : 0;
		if (poll(&p, 1, wait) <= 0) {
			return (false);
		}
		if (read(fd, buf, sizeof(buf)) <= 0) {
			return (true);
		}
	}
}

Test(tls_admission, silent_and_half_hellos_do_not_stall_a_client)
{
	int                      fds[NSILENT + NHALF];
	nghttpw_stream_listener *l;
	nghttpw_time             took;
	int                      port;

	l = listen_tls(&port, 30000);
	for (int i = 0; i < NSILENT + NHALF; i++) {
		fds[i] = raw_connect(port);
		if (i >= NSILENT) {
			send_half_hello(fds[i]);
		}
		if (i % 256 == 255) {
			/* Within the TCP backlog. */
			let_listener_take_in(l, 100);
		}
	}
	let_listener_take_in(l, 300);
	took = timed_handshake(l, port);
	cr_log_info("a handshake behind %d idle sockets: %d ms", NSILENT + NHALF, (int) took);
	cr_assert_lt(took, LIVE_HANDSHAKE_MS, "a handshake behind %d idle sockets took %d ms",
	    NSILENT + NHALF, (int) took);
	/* They are all still held (the timeout is far): none was shed. */
	for (int i = 0; i < NSILENT + NHALF; i++) {
		cr_assert(!closed_by_server(fds[i], 0), "socket %d was dropped", i);
	}
	nghttpw_stream_listener_free(l);
	for (int i = 0; i < NSILENT + NHALF; i++) {
		cr_assert(closed_by_server(fds[i], WAIT_MS), "socket %d left open", i);
		close(fds[i]);
	}
}

Test(tls_admission, stalled_handshakes_are_shed_oldest_first)
{
	unsigned char            hello[4096];
	size_t                   len = capture_hello(hello, sizeof(hello));
	int                      fds[NREPLAY];
	nghttpw_stream_listener *l;
	nghttpw_time             took;
	int                      port, shed = 0;

	l = listen_tls(&port, 30000);
	for (int i = 0; i < NREPLAY; i++) {
		fds[i] = raw_connect(port);
		cr_assert_eq(write(fds[i], hello, len), (ssize_t) len);
		/* One at a time: the first ones are the oldest handshakes. */
		let_listener_take_in(l, 10);
	}
	took = timed_handshake(l, port);
	cr_log_info("a handshake behind %d stalled ones: %d ms", NREPLAY, (int) took);
	cr_assert_lt(took, LIVE_HANDSHAKE_MS, "a handshake behind %d stalled ones took %d ms",
	    NREPLAY, (int) took);
	/* 64 slots: the 36 oldest went for the replays, one more for us. */
	for (int i = 0; i < NREPLAY - 64 - 4; i++) {
		cr_assert(closed_by_server(fds[i], WAIT_MS), "oldest %d not shed", i);
	}
	nghttpw_msleep(200); /* for a shed still on its way */
	for (int i = 0; i < NREPLAY; i++) {
		shed += closed_by_server(fds[i], 0);
	}
	cr_assert_eq(shed, NREPLAY - 64 + 1, "%d of %d stalled handshakes shed",
	    shed, NREPLAY);
	nghttpw_stream_listener_free(l);
	for (int i = 0; i < NREPLAY; i++) {
		close(fds[i]);
	}
}

Test(tls_admission, handshake_timeout_holds_in_each_phase)
{
	unsigned char            hello[4096];
	size_t                   len = capture_hello(hello, sizeof(hello));
	nghttpw_stream_listener *l;
	nghttpw_duration         ms;
	nghttpw_time             start;
	int                      port, fds[3];

	l = listen_tls(&port, 200);
	cr_assert_eq(nghttpw_stream_listener_get_ms(l, NGHTTPW_OPT_TLS_HANDSHAKE_TIMEOUT, &ms), 0);
	cr_assert_eq(ms, 200);
	cr_assert_eq(nghttpw_stream_listener_set_ms(l, NGHTTPW_OPT_TLS_HANDSHAKE_TIMEOUT, 0),
	    NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_stream_listener_set_ms(
	                 l, NGHTTPW_OPT_TLS_HANDSHAKE_TIMEOUT, NGHTTPW_DURATION_INFINITE),
	    NGHTTPW_EINVAL);
	fds[0] = raw_connect(port); /* silent */
	fds[1] = raw_connect(port);
	send_half_hello(fds[1]);
	fds[2] = raw_connect(port);
	cr_assert_eq(write(fds[2], hello, len), (ssize_t) len);
	start = nghttpw_clock();
	let_listener_take_in(l, 50);
	for (int i = 0; i < 3; i++) {
		cr_assert(closed_by_server(fds[i], 2000), "socket %d outlived the timeout", i);
		close(fds[i]);
	}
	cr_assert_geq(nghttpw_clock() - start, 150);
	nghttpw_stream_listener_free(l);
}

Test(tls_admission, default_timeout_and_table_of_hellos_bounded)
{
	enum { OVER = 10, N = 1024 + OVER };
	nghttpw_stream_listener *l;
	nghttpw_tls_config      *cfg = server_config();
	nghttpw_duration         ms;
	int                     *fds = calloc(N, sizeof(*fds));
	int                      port;

	cr_assert_eq(nghttpw_stream_listener_alloc(&l, "tls+tcp://127.0.0.1:0"), 0);
	cr_assert_eq(nghttpw_stream_listener_get_ms(l, NGHTTPW_OPT_TLS_HANDSHAKE_TIMEOUT, &ms), 0);
	cr_assert_eq(ms, 5000);
	cr_assert_eq(nghttpw_stream_listener_set_ptr(l, NGHTTPW_OPT_TLS_CONFIG, cfg), 0);
	nghttpw_tls_config_free(cfg);
	cr_assert_eq(nghttpw_stream_listener_listen(l), 0);
	cr_assert_eq(nghttpw_stream_listener_get_int(l, NGHTTPW_OPT_TCP_BOUND_PORT, &port), 0);
	for (int i = 0; i < N; i++) {
		fds[i] = raw_connect(port);
		if (i % 256 == 255 || i == N - 1) {
			let_listener_take_in(l, 100);
		}
	}
	/* The oldest silent ones made room for the newest. */
	for (int i = 0; i < OVER; i++) {
		cr_assert(closed_by_server(fds[i], 2000), "oldest %d still held", i);
	}
	cr_assert(!closed_by_server(fds[N - 1], 0), "the newest was dropped");
	cr_assert(timed_handshake(l, port) < 1000);
	nghttpw_stream_listener_free(l);
	for (int i = 0; i < N; i++) {
		close(fds[i]);
	}
	free(fds);
}

/* Closing a listener in every state of admission, many times over: no
 * leak, no race (the sanitizer builds run this too). */
Test(tls_admission, close_races_admission)
{
	unsigned char hello[4096];
	size_t        len = capture_hello(hello, sizeof(hello));

	for (int round = 0; round < 40; round++) {
		nghttpw_stream_listener *l;
		nghttpw_aio             *acc;
		int                      port, fds[12];

		l = listen_tls(&port, 50 + round % 4 * 50);
		cr_assert_eq(nghttpw_aio_alloc(&acc, NULL, NULL), 0);
		nghttpw_stream_listener_accept(l, acc);
		for (int i = 0; i < 12; i++) {
			fds[i] = raw_connect(port);
			if (i % 3 == 1) {
				send_half_hello(fds[i]);
			} else if (i % 3 == 2) {
				(void) write(fds[i], hello, len);
			}
		}
		nghttpw_msleep(round % 5 * 20);
		if (round % 2 == 0) {
			nghttpw_stream_listener_close(l);
		}
		nghttpw_stream_listener_free(l);
		nghttpw_aio_wait(acc);
		cr_assert_eq(nghttpw_aio_result(acc), NGHTTPW_ECLOSED);
		nghttpw_aio_free(acc);
		for (int i = 0; i < 12; i++) {
			close(fds[i]);
		}
	}
}

#else
#include <criterion/criterion.h>
Test(tls_admission, not_built)
{
	cr_skip_test("built without TLS");
}
#endif
