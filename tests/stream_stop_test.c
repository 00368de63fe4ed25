/* nghttpw_stream_dialer_stop and nghttpw_stream_listener_stop on every
 * scheme of ours: a pending dial or accept ends once with NGHTTPW_ECLOSED,
 * later ones fail so, and once stop returns the transport touches no aio
 * (the tests free the aio at once: ASan and TSan see a late touch). */
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nghttpw/nghttpw.h"
#include "nghttpw/tls.h"
#include "support/pairs.h"
#include "support/tls_certs.h"

typedef struct scheme {
	const char *name;
	const char *path; /* the listener's, for WebSocket */
	bool        tls;
} scheme;

static const scheme schemes[] = {
	{ "tcp", "", false },
	{ "tls+tcp", "", true },
	{ "ws", "/stop", false },
	{ "wss", "/stop", true },
	{ "https", "", true },
};

#define NSCHEMES (sizeof(schemes) / sizeof(schemes[0]))

static bool
have_tls(void)
{
	nghttpw_tls_config *cfg;

	if (nghttpw_tls_config_alloc(&cfg, NGHTTPW_TLS_MODE_CLIENT) != 0) {
		return (false);
	}
	nghttpw_tls_config_free(cfg);
	return (true);
}

static const tls_test_certs *
certs(void)
{
	const tls_test_certs *c = tls_test_certs_get();
	cr_assert_not_null(c, "making the test certificates failed");
	return (c);
}

/* Counts the callbacks of an aio. */
typedef struct counted {
	nghttpw_aio *aio;
	atomic_int   calls;
} counted;

static void
counted_cb(void *arg)
{
	counted *c = arg;

	atomic_fetch_add(&c->calls, 1);
}

static void
counted_init(counted *c)
{
	atomic_init(&c->calls, 0);
	cr_assert_eq(nghttpw_aio_alloc(&c->aio, counted_cb, c), 0);
	nghttpw_aio_set_timeout(c->aio, 10000);
}

/* Waits for the one callback and returns the result, freeing a stream
 * that came with it. */
static int
counted_end(counted *c)
{
	int rv;

	nghttpw_aio_wait(c->aio);
	rv = nghttpw_aio_result(c->aio);
	nghttpw_stream_free(nghttpw_aio_get_output(c->aio, 0));
	nghttpw_aio_set_output(c->aio, 0, NULL);
	cr_assert_eq(atomic_load(&c->calls), 1, "%d callbacks",
	    atomic_load(&c->calls));
	return (rv);
}

static nghttpw_stream_listener *
listener_new(const scheme *sch)
{
	nghttpw_stream_listener *l;
	nghttpw_tls_config      *cfg;
	char                     url[96];

	snprintf(url, sizeof(url), "%s://127.0.0.1:0%s", sch->name, sch->path);
	cr_assert_eq(nghttpw_stream_listener_alloc(&l, url), 0, "%s", url);
	if (sch->tls) {
		cr_assert_eq(nghttpw_tls_config_alloc(&cfg, NGHTTPW_TLS_MODE_SERVER), 0);
		cr_assert_eq(nghttpw_tls_config_own_cert(cfg, certs()->server_cert,
		                 certs()->server_key, NULL),
		    0);
		cr_assert_eq(
		    nghttpw_stream_listener_set_ptr(l, NGHTTPW_OPT_TLS_CONFIG, cfg), 0);
		nghttpw_tls_config_free(cfg);
	}
	return (l);
}

static nghttpw_stream_listener *
listener_listening(const scheme *sch, int *port)
{
	nghttpw_stream_listener *l = listener_new(sch);
	int                      rv;

	rv = nghttpw_stream_listener_listen(l);
	cr_assert_eq(rv, 0, "%s listen: %s", sch->name, nghttpw_strerror(rv));
	cr_assert_eq(
	    nghttpw_stream_listener_get_int(l, NGHTTPW_OPT_TCP_BOUND_PORT, port), 0);
	return (l);
}

static nghttpw_stream_dialer *
dialer_new(const scheme *sch, int port)
{
	nghttpw_stream_dialer *d;
	nghttpw_tls_config    *cfg;
	char                   url[96];

	snprintf(url, sizeof(url), "%s://127.0.0.1:%d%s", sch->name, port,
	    sch->path);
	cr_assert_eq(nghttpw_stream_dialer_alloc(&d, url), 0, "%s", url);
	if (sch->tls) {
		cr_assert_eq(nghttpw_tls_config_alloc(&cfg, NGHTTPW_TLS_MODE_CLIENT), 0);
		cr_assert_eq(
		    nghttpw_tls_config_ca_chain(cfg, certs()->ca_cert, NULL), 0);
		cr_assert_eq(
		    nghttpw_stream_dialer_set_ptr(d, NGHTTPW_OPT_TLS_CONFIG, cfg), 0);
		nghttpw_tls_config_free(cfg);
	}
	return (d);
}

/* A peer that never answers, so that a dial stays pending.  handshake:
 * the kernel takes the connection in and nobody speaks (a TLS or
 * WebSocket dial waits in its handshake); otherwise the accept queue is
 * full, SYNs are dropped, and the TCP connect itself waits.  Returns the
 * descriptors to close, ended by -1. */
static void
silent_peer(bool handshake, int *port, int fds[4])
{
	struct sockaddr_in sa;
	socklen_t          len = sizeof(sa);

	fds[1] = fds[2] = fds[3] = -1;
	if (handshake) {
		cr_assert_geq(fds[0] = raw_tcp_listen(port), 0);
		return;
	}
	cr_assert_geq(fds[0] = socket(AF_INET, SOCK_STREAM, 0), 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family      = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(fds[0], (void *) &sa, sizeof(sa)), 0);
	cr_assert_eq(listen(fds[0], 0), 0);
	cr_assert_eq(getsockname(fds[0], (void *) &sa, &len), 0);
	*port = ntohs(sa.sin_port);
	/* Backlog 0 queues one; the rest wait in SYN_SENT, as our dial will. */
	for (int i = 1; i < 3; i++) {
		cr_assert_geq(fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), 0);
		(void) connect(fds[i], (void *) &sa, sizeof(sa));
	}
	nghttpw_msleep(20);
}

static void
close_all(int fds[4])
{
	for (int i = 0; i < 4 && fds[i] >= 0; i++) {
		close(fds[i]);
	}
}

/* Whether the connection that listen_fd took in has been closed by the
 * dialer already: past what the dialer sent (a ClientHello, a request),
 * the end is there without waiting. */
static bool
peer_sees_end(int listen_fd)
{
	char    buf[4096];
	ssize_t n;
	int     fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK);

	cr_assert_geq(fd, 0);
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
	}
	close(fd);
	return (n == 0 || errno == ECONNRESET);
}

static void
check_stop_pending_dial(const scheme *sch, bool handshake)
{
	nghttpw_stream_dialer *d;
	counted                c, late;
	int                    fds[4];
	int                    port;

	if (sch->tls && !have_tls()) {
		cr_skip_test("built without TLS");
	}
	silent_peer(handshake, &port, fds);
	d = dialer_new(sch, port);
	counted_init(&c);
	nghttpw_stream_dialer_dial(d, c.aio);
	nghttpw_msleep(50);
	cr_assert_eq(atomic_load(&c.calls), 0, "%s: the dial did not wait", sch->name);

	nghttpw_stream_dialer_stop(d);
	/* Nothing of d's holds the connection or may touch the aio now:
	 * freeing it at once is safe. */
	if (handshake) {
		cr_assert(peer_sees_end(fds[0]), "%s: connection still open",
		    sch->name);
	}
	cr_assert_eq(counted_end(&c), NGHTTPW_ECLOSED, "%s", sch->name);
	nghttpw_aio_free(c.aio);

	counted_init(&late);
	nghttpw_stream_dialer_dial(d, late.aio);
	cr_assert_eq(counted_end(&late), NGHTTPW_ECLOSED, "%s", sch->name);
	nghttpw_stream_dialer_stop(d); /* twice: nothing more happens */
	nghttpw_msleep(20);
	cr_assert_eq(atomic_load(&late.calls), 1);
	nghttpw_aio_free(late.aio);
	nghttpw_stream_dialer_free(d);
	close_all(fds);
}

Test(stream_stop, dial_connecting_tcp) { check_stop_pending_dial(&schemes[0], false); }
Test(stream_stop, dial_connecting_tls) { check_stop_pending_dial(&schemes[1], false); }
Test(stream_stop, dial_connecting_ws) { check_stop_pending_dial(&schemes[2], false); }
Test(stream_stop, dial_connecting_wss) { check_stop_pending_dial(&schemes[3], false); }
Test(stream_stop, dial_connecting_https) { check_stop_pending_dial(&schemes[4], false); }
Test(stream_stop, dial_handshaking_tls) { check_stop_pending_dial(&schemes[1], true); }
Test(stream_stop, dial_handshaking_ws) { check_stop_pending_dial(&schemes[2], true); }
Test(stream_stop, dial_handshaking_wss) { check_stop_pending_dial(&schemes[3], true); }
Test(stream_stop, dial_handshaking_https) { check_stop_pending_dial(&schemes[4], true); }

static void
check_stop_pending_accept(const scheme *sch)
{
	nghttpw_stream_listener *l;
	counted                  c, late;
	int                      port;

	if (sch->tls && !have_tls()) {
		cr_skip_test("built without TLS");
	}
	l = listener_listening(sch, &port);
	counted_init(&c);
	nghttpw_stream_listener_accept(l, c.aio);
	nghttpw_msleep(20);
	cr_assert_eq(atomic_load(&c.calls), 0);

	nghttpw_stream_listener_stop(l);
	cr_assert_eq(counted_end(&c), NGHTTPW_ECLOSED, "%s", sch->name);
	nghttpw_aio_free(c.aio);

	counted_init(&late);
	nghttpw_stream_listener_accept(l, late.aio);
	cr_assert_eq(counted_end(&late), NGHTTPW_ECLOSED, "%s", sch->name);
	/* As in nng: a stopped listener is closed, and does not listen again. */
	cr_assert_eq(nghttpw_stream_listener_listen(l), NGHTTPW_ECLOSED);
	nghttpw_stream_listener_stop(l);
	nghttpw_msleep(20);
	cr_assert_eq(atomic_load(&late.calls), 1);
	nghttpw_aio_free(late.aio);
	nghttpw_stream_listener_free(l);
}

Test(stream_stop, accept_tcp) { check_stop_pending_accept(&schemes[0]); }
Test(stream_stop, accept_tls) { check_stop_pending_accept(&schemes[1]); }
Test(stream_stop, accept_ws) { check_stop_pending_accept(&schemes[2]); }
Test(stream_stop, accept_wss) { check_stop_pending_accept(&schemes[3]); }
Test(stream_stop, accept_https) { check_stop_pending_accept(&schemes[4]); }

/* A listener that never listened stops too, and refuses afterwards. */
Test(stream_stop, before_listen_and_null)
{
	for (size_t i = 0; i < NSCHEMES; i++) {
		nghttpw_stream_listener *l;
		nghttpw_stream_dialer   *d;
		counted                  c;

		if (schemes[i].tls && !have_tls()) {
			continue;
		}
		l = listener_new(&schemes[i]);
		nghttpw_stream_listener_stop(l);
		cr_assert_eq(nghttpw_stream_listener_listen(l), NGHTTPW_ECLOSED);
		counted_init(&c);
		nghttpw_stream_listener_accept(l, c.aio);
		cr_assert_eq(counted_end(&c), NGHTTPW_ECLOSED);
		nghttpw_stream_listener_free(l);

		d = dialer_new(&schemes[i], 9);
		nghttpw_stream_dialer_stop(d);
		atomic_store(&c.calls, 0);
		nghttpw_stream_dialer_dial(d, c.aio);
		cr_assert_eq(counted_end(&c), NGHTTPW_ECLOSED);
		nghttpw_stream_dialer_free(d);
		nghttpw_aio_free(c.aio);
	}
	nghttpw_stream_dialer_stop(NULL);
	nghttpw_stream_listener_stop(NULL);
}

/* The race: a connection arrives and a dial completes while both ends
 * are stopped, from two threads, at varying moments.  Each aio ends
 * once, with a stream or an error, and is freed as soon as stop returns
 * (a touch after that is a use after free). */
typedef struct stopper {
	nghttpw_stream_listener *l;
	unsigned                 delay_us;
} stopper;

static void *
stop_listener_main(void *arg)
{
	stopper *s = arg;

	usleep(s->delay_us);
	nghttpw_stream_listener_stop(s->l);
	return (NULL);
}

/* step_us spreads the stops over the time a connection takes. */
static void
check_stop_race(const scheme *sch, int rounds, unsigned step_us)
{
	int outcomes[2] = { 0, 0 };

	if (sch->tls && !have_tls()) {
		cr_skip_test("built without TLS");
	}
	for (int i = 0; i < rounds; i++) {
		nghttpw_stream_dialer *d;
		counted                acc, dial;
		pthread_t              t;
		stopper                s;
		int                    port;
		int                    rv;

		s.l        = listener_listening(sch, &port);
		s.delay_us = (unsigned) (i % 8) * step_us;
		d          = dialer_new(sch, port);
		counted_init(&acc);
		counted_init(&dial);
		nghttpw_stream_listener_accept(s.l, acc.aio);
		cr_assert_eq(pthread_create(&t, NULL, stop_listener_main, &s), 0);
		nghttpw_stream_dialer_dial(d, dial.aio);
		usleep((unsigned) (i % 5) * step_us * 2);
		nghttpw_stream_dialer_stop(d);
		pthread_join(t, NULL);

		rv = counted_end(&acc);
		cr_assert(rv == 0 || rv == NGHTTPW_ECLOSED, "%s accept: %s",
		    sch->name, nghttpw_strerror(rv));
		outcomes[rv == 0]++;
		nghttpw_aio_free(acc.aio);
		rv = counted_end(&dial);
		cr_assert(rv != NGHTTPW_ECANCELED && rv != NGHTTPW_ETIMEDOUT,
		    "%s dial: %s", sch->name, nghttpw_strerror(rv));
		nghttpw_aio_free(dial.aio);
		nghttpw_stream_dialer_free(d);
		nghttpw_stream_listener_free(s.l);
	}
	cr_log_info("%s: %d accepted, %d closed", sch->name, outcomes[1],
	    outcomes[0]);
}

Test(stream_stop, race_tcp, .timeout = 120) { check_stop_race(&schemes[0], 300, 40); }
Test(stream_stop, race_tls, .timeout = 120) { check_stop_race(&schemes[1], 80, 3000); }
Test(stream_stop, race_ws, .timeout = 120) { check_stop_race(&schemes[2], 150, 150); }
Test(stream_stop, race_wss, .timeout = 120) { check_stop_race(&schemes[3], 60, 3000); }
Test(stream_stop, race_https, .timeout = 120) { check_stop_race(&schemes[4], 40, 3000); }
