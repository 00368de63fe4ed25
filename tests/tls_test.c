/* TLS streams, dialers and listeners over loopback, with certificates made
 * at run time (tests/support/tls_certs.c), and against the openssl command
 * line tools when they are installed. */
#ifdef NGHTTPW_HAVE_TLS

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nghttpw/nghttpw.h"
#include "nghttpw/tls.h"
#include "support/pairs.h"
#include "support/piped_child.h"
#include "support/ws_util.h"
#include "support/programs.h"
#include "support/tls_certs.h"
#include "support/tls_endpoints.h"
#include "support/tmp_dir.h"

#define WAIT_MS 5000

/* ------------------------------------------------------------ helpers */

static const tls_test_certs *
certs(void)
{
	const tls_test_certs *c = tls_test_certs_get();
	cr_assert_not_null(c, "making the test certificates failed");
	return (c);
}

static nghttpw_tls_config *
server_config(const char *cert, const char *key)
{
	nghttpw_tls_config *cfg;

	cr_assert_eq(nghttpw_tls_config_alloc(&cfg, NGHTTPW_TLS_MODE_SERVER), 0);
	cr_assert_eq(nghttpw_tls_config_own_cert(cfg, cert, key, NULL), 0);
	return (cfg);
}

/* A client trusting the test CA; name NULL: verify by the URL's host. */
static nghttpw_tls_config *
client_config(const char *name)
{
	nghttpw_tls_config *cfg;

	cr_assert_eq(nghttpw_tls_config_alloc(&cfg, NGHTTPW_TLS_MODE_CLIENT), 0);
	cr_assert_eq(nghttpw_tls_config_ca_chain(cfg, certs()->ca_cert, NULL), 0);
	if (name != NULL) {
		cr_assert_eq(nghttpw_tls_config_server_name(cfg, name), 0);
	}
	return (cfg);
}

/* A listener; report: whether failed handshakes reach accept. */
static nghttpw_stream_listener *
tls_listen_opt(nghttpw_tls_config *cfg, const char *host, int *port, bool report)
{
	return (tls_test_listen("tls+tcp", host, cfg, report, port));
}

/* Most tests want to see the server's side of a failure. */
static nghttpw_stream_listener *
tls_listen(nghttpw_tls_config *cfg, const char *host, int *port)
{
	return (tls_listen_opt(cfg, host, port, true));
}

/* A connected pair, or the test fails. */
static void
tls_pair(nghttpw_stream_listener *l, nghttpw_stream_dialer *d,
    nghttpw_stream **cs, nghttpw_stream **ss)
{
	int crv, srv;

	tls_test_connect(l, d, cs, &crv, ss, &srv);
	cr_assert_eq(crv, 0, "dial: %s", nghttpw_strerror(crv));
	cr_assert_eq(srv, 0, "accept: %s", nghttpw_strerror(srv));
	cr_assert_not_null(*cs);
	cr_assert_not_null(*ss);
}

/* Both ends of one configuration pair: dial result and accept result. */
static void
try_handshake(nghttpw_tls_config *scfg, nghttpw_tls_config *ccfg,
    const char *host, int *crv, int *srv)
{
	nghttpw_stream_listener *l;
	nghttpw_stream_dialer   *d;
	nghttpw_stream          *cs = NULL, *ss = NULL;
	int                      port;

	l = tls_listen(scfg, "127.0.0.1", &port);
	d = tls_test_dialer("tls+tcp", host, port, ccfg);
	tls_test_connect(l, d, &cs, crv, &ss, srv);
	nghttpw_stream_free(cs);
	nghttpw_stream_free(ss);
	nghttpw_stream_dialer_free(d);
	nghttpw_stream_listener_free(l);
}

static void
echo_check(nghttpw_stream *a, nghttpw_stream *b, const char *msg)
{
	size_t len = strlen(msg);
	char   buf[256];

	cr_assert_lt(len, sizeof(buf));
	cr_assert_eq(send_all(a, msg, len, NULL), 0);
	cr_assert_eq(recv_all(b, buf, len, NULL), 0);
	cr_assert_arr_eq(buf, msg, len);
	cr_assert_eq(send_all(b, buf, len, NULL), 0);
	memset(buf, 0, sizeof(buf));
	cr_assert_eq(recv_all(a, buf, len, NULL), 0);
	cr_assert_arr_eq(buf, msg, len);
}

static char *
get_string(nghttpw_stream *s, const char *opt, int *rvp)
{
	char *v = NULL;
	*rvp    = nghttpw_stream_get_string(s, opt, &v);
	return (v);
}

static bool
get_bool(nghttpw_stream *s, const char *opt)
{
	bool v = false;
	int  rv;

	rv = nghttpw_stream_get_bool(s, opt, &v);
	cr_assert_eq(rv, 0, "%s: %s", opt, nghttpw_strerror(rv));
	return (v);
}

static void
expect_string(nghttpw_stream *s, const char *opt, const char *want)
{
	int   rv;
	char *v = get_string(s, opt, &rv);

	cr_assert_eq(rv, 0, "%s: %s", opt, nghttpw_strerror(rv));
	cr_assert_str_eq(v, want, "%s is '%s', not '%s'", opt, v, want);
	nghttpw_strfree(v);
}

/* A raw TCP listening socket on 127.0.0.1 that nobody answers for. */
static int
raw_listen(int *port)
{
	int fd = raw_tcp_listen(port);

	cr_assert_geq(fd, 0);
	return (fd);
}

static int
raw_connect(int port)
{
	int fd = raw_tcp_connect(port);

	cr_assert_geq(fd, 0);
	return (fd);
}

/* A temporary directory, removed at the end of the test. */
static char tmpdir[64];

static void
tmpdir_make(void)
{
	cr_assert_eq(tmp_dir_make(tmpdir, sizeof(tmpdir), "tls"), 0);
}

static void
setup(void)
{
	signal(SIGPIPE, SIG_IGN);
	(void) certs();
}

/* A child process (openssl) still running is killed at the end of a
 * test whatever happened in it. */
static void
teardown(void)
{
	piped_child_kill_live();
	tmp_dir_remove(tmpdir);
}

TestSuite(tls, .init = setup, .fini = teardown, .timeout = 60);

typedef struct {
	pthread_mutex_t mtx;
	char            text[2048];
	int             lines;
} logbuf;

static void
log_fn(void *arg, const char *msg)
{
	logbuf *lb = arg;

	pthread_mutex_lock(&lb->mtx);
	strncat(lb->text, msg, sizeof(lb->text) - strlen(lb->text) - 2);
	strcat(lb->text, "\n");
	lb->lines++;
	pthread_mutex_unlock(&lb->mtx);
}

/* ------------------------------------------------------------ basics */

Test(tls, echo_and_options)
{
	const char *const    alpn[] = { "http/1.1", NULL };
	nghttpw_tls_config  *scfg   = server_config(certs()->server_cert, certs()->server_key);
	nghttpw_tls_config  *ccfg   = client_config("localhost");
	nghttpw_stream_listener *l;
	nghttpw_stream_dialer   *d;
	nghttpw_stream          *c, *s;
	nghttpw_sockaddr         sa;
	char                    *v;
	int                      port, rv;
	bool                     b;

	cr_assert_eq(nghttpw_tls_config_alpn(scfg, alpn), 0);
	cr_assert_eq(nghttpw_tls_config_alpn(ccfg, alpn), 0);
	l = tls_listen(scfg, "127.0.0.1", &port);
	d = tls_test_dialer("tls+tcp", "127.0.0.1", port, ccfg);
	tls_pair(l, d, &c, &s);
	echo_check(c, s, "hello, tls");

	/* The client verified the server; the server asked for nothing. */
	cr_assert(get_bool(c, NGHTTPW_OPT_TLS_VERIFIED));
	cr_assert_not(get_bool(s, NGHTTPW_OPT_TLS_VERIFIED));
	cr_assert_not(get_bool(c, NGHTTPW_OPT_TLS_RESUMED));
	expect_string(c, NGHTTPW_OPT_TLS_PEER_CN, "localhost");
	expect_string(c, NGHTTPW_OPT_TLS_PEER_ALT_NAMES, "localhost\n127.0.0.1\n::1");
	v = get_string(s, NGHTTPW_OPT_TLS_PEER_CN, &rv);
	cr_assert_eq(rv, NGHTTPW_ENOENT);
	cr_assert_null(v);
	expect_string(c, NGHTTPW_OPT_TLS_ALPN, "http/1.1");
	expect_string(s, NGHTTPW_OPT_TLS_ALPN, "http/1.1");
	v = get_string(c, NGHTTPW_OPT_TLS_ERROR, &rv);
	cr_assert_eq(rv, NGHTTPW_ENOENT);

	/* Wrong types, read-only options, and the TCP options below. */
	cr_assert_eq(nghttpw_stream_get_int(c, NGHTTPW_OPT_TLS_VERIFIED, &rv),
	    NGHTTPW_EBADTYPE);
	cr_assert_eq(nghttpw_stream_set_bool(c, NGHTTPW_OPT_TLS_VERIFIED, true),
	    NGHTTPW_EREADONLY);
	cr_assert_eq(nghttpw_stream_get_addr(c, NGHTTPW_OPT_REMADDR, &sa), 0);
	cr_assert_eq(sa.s_family, NGHTTPW_AF_INET);
	cr_assert_eq(ntohs(sa.s_in.sa_port), port);
	cr_assert_eq(nghttpw_stream_set_bool(c, NGHTTPW_OPT_TCP_NODELAY, false), 0);
	cr_assert_eq(nghttpw_stream_get_bool(c, NGHTTPW_OPT_TCP_NODELAY, &b), 0);
	cr_assert_not(b);
	cr_assert_eq(nghttpw_stream_get_bool(c, "no-such-option", &b),
	    NGHTTPW_ENOTSUP);

	nghttpw_stream_free(c);
	nghttpw_stream_free(s);
	nghttpw_stream_dialer_free(d);
	nghttpw_stream_listener_free(l);
	nghttpw_tls_config_free(scfg);
	nghttpw_tls_config_free(ccfg);
}

Test(tls, ipv6_and_ip_san)
{
	nghttpw_tls_config      *scfg;
	nghttpw_tls_config      *ccfg;
	nghttpw_stream_listener *l;
	nghttpw_stream_dialer   *d;
	nghttpw_stream          *c, *s;
	int                      port;

	if (!have_ipv6()) {
		cr_skip_test("no ::1 on this machine");
	}
	scfg = server_config(certs()->server_cert, certs()->server_key);
	ccfg = client_config(NULL); /* verified against the IP SAN ::1 */
	l    = tls_listen(scfg, "[::1]", &port);
	d    = tls_test_dialer("tls+tcp6", "[::1]", port, ccfg);
	tls_pair(l, d, &c, &s);
	echo_check(c, s, "over IPv6");
	cr_assert(get_bool(c, NGHTTPW_OPT_TLS_VERIFIED));
	nghttpw_stream_free(c);
	nghttpw_stream_free(s);
	nghttpw_stream_dialer_free(d);
	nghttpw_stream_listener_free(l);
	nghttpw_tls_config_free(scfg);
	nghttpw_tls_config_free(ccfg);
}

Test(tls, https_scheme_is_tls)
{
	nghttpw_tls_config      *scfg = server_config(certs()->server_cert, certs()->server_key);
	nghttpw_tls_config      *ccfg = client_config(NULL);
	nghttpw_stream_listener *l;
	nghttpw_stream_dialer   *d;
	nghttpw_stream          *c, *s;
	int                      port;

	l = tls_listen(scfg, "127.0.0.1", &port);
	d = tls_test_dialer("https", "127.0.0.1", port, ccfg);
	tls_pair(l, d, &c, &s);
	echo_check(c, s, "https");
	nghttpw_stream_free(c);
	nghttpw_stream_free(s);
	nghttpw_stream_dialer_free(d);
	nghttpw_stream_listener_free(l);
	nghttpw_tls_config_free(scfg);
	nghttpw_tls_config_free(ccfg);
}

/* wss:// is WebSocket over TLS (not a bare TLS stream): a wss listener
 * and dialer, each with its configuration, exchange messages. */
Test(tls, wss_scheme_is_websocket_over_tls)
{
	nghttpw_tls_config      *scfg = server_config(certs()->server_cert, certs()->server_key);
	nghttpw_tls_config      *ccfg = client_config(NULL);
	nghttpw_stream_listener *l;
	nghttpw_stream          *c, *s;
	char                     url[64], buf[16];
	int                      port;
	bool                     verified = false;
	size_t                   n;
	unsigned                 fl;

	cr_assert_eq(nghttpw_stream_listener_alloc(&l, "wss://127.0.0.1:0/secure"), 0);
	cr_assert_eq(nghttpw_stream_listener_set_ptr(l, NGHTTPW_OPT_TLS_CONFIG, scfg), 0);
	cr_assert_eq(nghttpw_stream_listener_listen(l), 0);
	cr_assert_eq(nghttpw_stream_listener_get_int(l, NGHTTPW_OPT_TCP_BOUND_PORT, &port), 0);
	snprintf(url, sizeof(url), "wss://127.0.0.1:%d/secure", port);
	{
		nghttpw_stream_dialer *d;
		cr_assert_eq(nghttpw_stream_dialer_alloc(&d, url), 0);
		cr_assert_eq(nghttpw_stream_dialer_set_ptr(d, NGHTTPW_OPT_TLS_CONFIG, ccfg), 0);
		cr_assert_eq(ws_dial_accept(l, d, &c, &s), 0);
		nghttpw_stream_dialer_free(d);
	}
	/* The TLS stream's options come through the WebSocket. */
	cr_assert_eq(nghttpw_stream_get_bool(c, NGHTTPW_OPT_TLS_VERIFIED, &verified), 0);
	cr_assert(verified);
	cr_assert_eq(ws_send(c, NGHTTPW_WS_TEXT, "over tls", 8), 0);
	cr_assert_eq(ws_recv(s, buf, sizeof(buf), &n, &fl, 0), 0);
	cr_assert_eq(n, 8);
	cr_assert_eq(memcmp(buf, "over tls", 8), 0);
	nghttpw_stream_free(c);
	nghttpw_stream_free(s);
	nghttpw_stream_listener_free(l);
	nghttpw_tls_config_free(scfg);
	nghttpw_tls_config_free(ccfg);
}

/* ------------------------------------------------------------ bulk */

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

/* 300 iovs, tiny and large mixed, 4 MiB in all, sent with partial sends
 * resumed, and received byte-exact while the peer reads. */
Test(tls, scatter_gather_4mib)
{
	const unsigned           niov  = 300;
	const size_t             total = 4u << 20;
	nghttpw_tls_config      *scfg  = server_config(certs()->server_cert, certs()->server_key);
	nghttpw_tls_config      *ccfg  = client_config("localhost");
	nghttpw_iov             *iov   = calloc(niov, sizeof(*iov));
	unsigned char           *src   = malloc(total);
	nghttpw_stream_listener *l;
	nghttpw_stream_dialer   *d;
	nghttpw_stream          *c, *s;
	size_t                   sum = 0, off = 0;
	unsigned                 seed = 99, first = 0;
	reader                   r;
	pthread_t                t;
	int                      port;

	for (unsigned i = 0; i + 1 < niov; i++) {
		/* A third tiny (even empty) ones, to be gathered. */
		iov[i].iov_len = (size_t) (i % 3 == 0 ? rand_r(&seed) % 200
		                                      : rand_r(&seed) % 24000);
		sum += iov[i].iov_len;
	}
	cr_assert_lt(sum, total);
	iov[niov - 1].iov_len = total - sum;
	fill_pattern(src, total, 5);
	for (unsigned i = 0; i < niov; i++) {
		iov[i].iov_buf = src + off;
		off += iov[i].iov_len;
	}
	l = tls_listen(scfg, "127.0.0.1", &port);
	d = tls_test_dialer("tls+tcp", "127.0.0.1", port, ccfg);
	tls_pair(l, d, &c, &s);

	r = (reader) { .s = s, .buf = malloc(total), .len = total };
	pthread_create(&t, NULL, reader_main, &r);
	while (first < niov) {
		size_t n;
		int    rv = sync_op(nghttpw_stream_send, c, iov + first,
		       niov - first, 20000, &n);
		cr_assert_eq(rv, 0, "send: %s", nghttpw_strerror(rv));
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
	cr_assert_eq(r.rv, 0, "recv: %s", nghttpw_strerror(r.rv));
	cr_assert_eq(memcmp(r.buf, src, total), 0, "the data differs");

	nghttpw_stream_free(c);
	nghttpw_stream_free(s);
	nghttpw_stream_dialer_free(d);
	nghttpw_stream_listener_free(l);
	nghttpw_tls_config_free(scfg);
	nghttpw_tls_config_free(ccfg);
	free(r.buf);
	free(src);
	free(iov);
}

/* Sends and recvs queue up in order, like TCP's. */
Test(tls, queued_operations_keep_order)
{
	nghttpw_tls_config      *scfg = server_config(certs()->server_cert, certs()->server_key);
	nghttpw_tls_config      *ccfg = client_config("localhost");
	nghttpw_stream_listener *l;
	nghttpw_stream_dialer   *d;
	nghttpw_stream          *c, *s;
	nghttpw_aio             *tx[8];
	char                     msgs[8][32];
	char                     got[8 * 32];
	int                      port;

	l = tls_listen(scfg, "127.0.0.1", &port);
	d = tls_test_dialer("tls+tcp", "127.0.0.1", port, ccfg);
	tls_pair(l, d, &c, &s);
	for (int i = 0; i < 8; i++) {
		nghttpw_iov iov = { msgs[i], sizeof(msgs[i]) };
		memset(msgs[i], 'a' + i, sizeof(msgs[i]));
		cr_assert_eq(nghttpw_aio_alloc(&tx[i], NULL, NULL), 0);
		nghttpw_aio_set_timeout(tx[i], WAIT_MS);
		nghttpw_aio_set_iov(tx[i], 1, &iov);
		nghttpw_stream_send(c, tx[i]);
	}
	cr_assert_eq(recv_all(s, got, sizeof(got), NULL), 0);
	for (int i = 0; i < 8; i++) {
		nghttpw_aio_wait(tx[i]);
		cr_assert_eq(nghttpw_aio_result(tx[i]), 0);
		cr_assert_eq(nghttpw_aio_count(tx[i]), 32);
		cr_assert_arr_eq(got + 32 * i, msgs[i], 32);
		nghttpw_aio_free(tx[i]);
	}
	nghttpw_stream_free(c);
	nghttpw_stream_free(s);
	nghttpw_stream_dialer_free(d);
	nghttpw_stream_listener_free(l);
	nghttpw_tls_config_free(scfg);
	nghttpw_tls_config_free(ccfg);
}

Test(tls, recv_timeout_then_data)
{
	nghttpw_tls_config      *scfg = server_config(certs()->server_cert, certs()->server_key);
	nghttpw_tls_config      *ccfg = client_config("localhost");
	nghttpw_stream_listener *l;
	nghttpw_stream_dialer   *d;
	nghttpw_stream          *c, *s;
	char                     buf[8];
	nghttpw_iov              iov = { buf, sizeof(buf) };
	size_t                   n;
	int                      port;

	l = tls_listen(scfg, "127.0.0.1", &port);
	d = tls_test_dialer("tls+tcp", "127.0.0.1", port, ccfg);
	tls_pair(l, d, &c, &s);
	cr_assert_eq(sync_op(nghttpw_stream_recv, c, &iov, 1, 80, &n),
	    NGHTTPW_ETIMEDOUT);
	cr_assert_eq(send_all(s, "later", 5, NULL), 0);
	cr_assert_eq(sync_op(nghttpw_stream_recv, c, &iov, 1, WAIT_MS, &n), 0);
	cr_assert_eq(n, 5);
	cr_assert_arr_eq(buf, "later", 5);
	nghttpw_stream_free(c);
	nghttpw_stream_free(s);
	nghttpw_stream_dialer_free(d);
	nghttpw_stream_listener_free(l);
	nghttpw_tls_config_free(scfg);
	nghttpw_tls_config_free(ccfg);
}

/* ------------------------------------------------------------ verification */

static void
expect_refused(const char *cert, const char *key, const char *name, const char *host)
{
	nghttpw_tls_config *scfg = server_config(cert, key);
	nghttpw_tls_config *ccfg = client_config(name);
	int                 crv, srv;

	try_handshake(scfg, ccfg, host, &crv, &srv);
	cr_assert_eq(crv, NGHTTPW_EPEERAUTH, "dial: %s", nghttpw_strerror(crv));
	/* The client's alert tells the server why. */
	cr_assert_eq(srv, NGHTTPW_EPEERAUTH, "accept: %s", nghttpw_strerror(srv));
	nghttpw_tls_config_free(scfg);
	nghttpw_tls_config_free(ccfg);
}

Test(tls, wrong_host_name_refused)
{
	expect_refused(certs()->wrong_host_cert, certs()->wrong_host_key,
	    "localhost", "127.0.0.1");
}

Test(tls, wrong_host_address_refused)
{
	/* No server name: the URL's 127.0.0.1 must be an IP SAN. */
	expect_refused(certs()->wrong_host_cert, certs()->wrong_host_key, NULL,
	    "127.0.0.1");
}

Test(tls, expired_refused)
{
	expect_refused(certs()->expired_cert, certs()->expired_key, "localhost",
	    "127.0.0.1");
}

Test(tls, unknown_ca_refused)
{
	expect_refused(certs()->untrusted_cert, certs()->untrusted_key,
	    "localhost", "127.0.0.1");
}

Test(tls, optional_auth_connects_unverified)
{
	nghttpw_tls_config      *scfg = server_config(certs()->untrusted_cert, certs()->untrusted_key);
	nghttpw_tls_config      *ccfg = client_config("localhost");
	nghttpw_stream_listener *l;
	nghttpw_stream_dialer   *d;
	nghttpw_stream          *c, *s;
	int                      port;

	cr_assert_eq(nghttpw_tls_config_auth_mode(ccfg, NGHTTPW_TLS_AUTH_MODE_OPTIONAL), 0);
	l = tls_listen(scfg, "127.0.0.1", &port);
	d = tls_test_dialer("tls+tcp", "127.0.0.1", port, ccfg);
	tls_pair(l, d, &c, &s);
	cr_assert_not(get_bool(c, NGHTTPW_OPT_TLS_VERIFIED));
	echo_check(c, s, "unverified but working");
	nghttpw_stream_free(c);
	nghttpw_stream_free(s);
	nghttpw_stream_dialer_free(d);
	nghttpw_stream_listener_free(l);
	nghttpw_tls_config_free(scfg);
	nghttpw_tls_config_free(ccfg);
}

Test(tls, failure_is_logged)
{
	nghttpw_tls_config *scfg = server_config(certs()->untrusted_cert, certs()->untrusted_key);
	nghttpw_tls_config *ccfg = client_config("localhost");
	logbuf              clog = { .mtx = PTHREAD_MUTEX_INITIALIZER };
	logbuf              slog = { .mtx = PTHREAD_MUTEX_INITIALIZER };
	int                 crv, srv;

	cr_assert_eq(nghttpw_tls_config_log(ccfg, log_fn, &clog), 0);
	cr_assert_eq(nghttpw_tls_config_log(scfg, log_fn, &slog), 0);
	try_handshake(scfg, ccfg, "127.0.0.1", &crv, &srv);
	cr_assert_eq(crv, NGHTTPW_EPEERAUTH);
	cr_assert_eq(srv, NGHTTPW_EPEERAUTH, "accept: %s", nghttpw_strerror(srv));
	pthread_mutex_lock(&clog.mtx);
	cr_assert_not_null(strstr(clog.text, "verification failed"), "log: %s", clog.text);
	cr_assert_not_null(strstr(clog.text, "127.0.0.1:"), "log: %s", clog.text);
	pthread_mutex_unlock(&clog.mtx);
	pthread_mutex_lock(&slog.mtx);
	cr_assert_not_null(strstr(slog.text, "alert"), "log: %s", slog.text);
	pthread_mutex_unlock(&slog.mtx);
	nghttpw_tls_config_free(scfg);
	nghttpw_tls_config_free(ccfg);
}

static pthread_mutex_t lib_log_mtx = PTHREAD_MUTEX_INITIALIZER;
static char            lib_log[2048];

static void
lib_logger(nghttpw_log_level level, nghttpw_log_facility facility,
    const char *msgid, const char *msg)
{
	size_t used;

	pthread_mutex_lock(&lib_log_mtx);
	used = strlen(lib_log);
	snprintf(lib_log + used, sizeof(lib_log) - used, "%d %d %s %s\n",
	    (int) level, (int) facility, msgid, msg);
	pthread_mutex_unlock(&lib_log_mtx);
}

/* With no log of the configuration's own, the library's logger hears of
 * the failure, as an authentication warning, and only at WARN or above. */
Test(tls, failure_reaches_the_library_log)
{
	nghttpw_tls_config *scfg = server_config(certs()->untrusted_cert, certs()->untrusted_key);
	nghttpw_tls_config *ccfg = client_config("localhost");
	char                want[64];
	int                 crv, srv;

	nghttpw_log_set_logger(lib_logger);
	nghttpw_log_set_level(NGHTTPW_LOG_ERR);
	try_handshake(scfg, ccfg, "127.0.0.1", &crv, &srv);
	cr_assert_eq(crv, NGHTTPW_EPEERAUTH);
	pthread_mutex_lock(&lib_log_mtx);
	cr_assert_str_empty(lib_log, "logged below its level: %s", lib_log);
	pthread_mutex_unlock(&lib_log_mtx);

	nghttpw_log_set_level(NGHTTPW_LOG_WARN);
	try_handshake(scfg, ccfg, "127.0.0.1", &crv, &srv);
	cr_assert_eq(crv, NGHTTPW_EPEERAUTH);
	cr_assert_eq(srv, NGHTTPW_EPEERAUTH, "accept: %s", nghttpw_strerror(srv));
	snprintf(want, sizeof(want), "%d %d NGHTTPW-TLS-CONN-FAIL tls to 127.0.0.1:",
	    NGHTTPW_LOG_WARN, NGHTTPW_LOG_AUTH);
	pthread_mutex_lock(&lib_log_mtx);
	cr_assert_not_null(strstr(lib_log, want), "log: %s", lib_log);
	cr_assert_not_null(strstr(lib_log, "verification failed"), "log: %s", lib_log);
	cr_assert_not_null(strstr(lib_log, "NGHTTPW-TLS-CONN-FAIL tls from 127.0.0.1:"),
	    "log: %s", lib_log);
	pthread_mutex_unlock(&lib_log_mtx);
	nghttpw_log_set_logger(nghttpw_null_logger);
	nghttpw_tls_config_free(scfg);
	nghttpw_tls_config_free(ccfg);
}

/* TLS 1.0 and 1.1 are not offered (RFC 8996); 1.2 up to "1.3" is 1.2. */
Test(tls, versions_below_1_2_refused)
{
	nghttpw_tls_config *scfg = server_config(certs()->server_cert, certs()->server_key);
	nghttpw_tls_config *ccfg = client_config("localhost");
	int                 crv, srv;

	cr_assert_eq(nghttpw_tls_config_version(ccfg, NGHTTPW_TLS_1_0, NGHTTPW_TLS_1_1),
	    NGHTTPW_ENOTSUP);
	cr_assert_eq(nghttpw_tls_config_version(ccfg, NGHTTPW_TLS_1_1, NGHTTPW_TLS_1_2),
	    NGHTTPW_ENOTSUP);
	cr_assert_eq(nghttpw_tls_config_version(scfg, NGHTTPW_TLS_1_0, NGHTTPW_TLS_1_2),
	    NGHTTPW_ENOTSUP);
	cr_assert_eq(nghttpw_tls_config_version(ccfg, NGHTTPW_TLS_1_2, NGHTTPW_TLS_1_3), 0);
	cr_assert_eq(nghttpw_tls_config_version(scfg, NGHTTPW_TLS_1_2, NGHTTPW_TLS_1_2), 0);
	try_handshake(scfg, ccfg, "127.0.0.1", &crv, &srv);
	cr_assert_eq(crv, 0, "%s", nghttpw_strerror(crv));
	cr_assert_eq(srv, 0, "%s", nghttpw_strerror(srv));
	nghttpw_tls_config_free(scfg);
	nghttpw_tls_config_free(ccfg);
}

/* ------------------------------------------------------------ client certs */

static nghttpw_tls_config *
server_requiring_clients(void)
{
	nghttpw_tls_config *cfg = server_config(certs()->server_cert, certs()->server_key);

	cr_assert_eq(nghttpw_tls_config_ca_chain(cfg, certs()->ca_cert, NULL), 0);
	cr_assert_eq(nghttpw_tls_config_auth_mode(cfg, NGHTTPW_TLS_AUTH_MODE_REQUIRED), 0);
	return (cfg);
}

Test(tls, client_cert_required_and_missing)
{
	nghttpw_tls_config *scfg = server_requiring_clients();
	nghttpw_tls_config *ccfg = client_config("localhost");
	int                 crv, srv;

	try_handshake(scfg, ccfg, "127.0.0.1", &crv, &srv);
	cr_assert_eq(crv, NGHTTPW_EPEERAUTH, "dial: %s", nghttpw_strerror(crv));
	cr_assert_eq(srv, NGHTTPW_EPEERAUTH, "accept: %s", nghttpw_strerror(srv));
	nghttpw_tls_config_free(scfg);
	nghttpw_tls_config_free(ccfg);
}

Test(tls, client_cert_from_unknown_ca_refused)
{
	nghttpw_tls_config *scfg = server_requiring_clients();
	nghttpw_tls_config *ccfg = client_config("localhost");
	int                 crv, srv;

	cr_assert_eq(nghttpw_tls_config_own_cert(ccfg, certs()->untrusted_cert,
	                 certs()->untrusted_key, NULL),
	    0);
	try_handshake(scfg, ccfg, "127.0.0.1", &crv, &srv);
	cr_assert_eq(crv, NGHTTPW_EPEERAUTH, "dial: %s", nghttpw_strerror(crv));
	cr_assert_eq(srv, NGHTTPW_EPEERAUTH, "accept: %s", nghttpw_strerror(srv));
	nghttpw_tls_config_free(scfg);
	nghttpw_tls_config_free(ccfg);
}

Test(tls, client_cert_present)
{
	nghttpw_tls_config      *scfg = server_requiring_clients();
	nghttpw_tls_config      *ccfg = client_config("localhost");
	nghttpw_stream_listener *l;
	nghttpw_stream_dialer   *d;
	nghttpw_stream          *c, *s;
	int                      port;

	cr_assert_eq(nghttpw_tls_config_own_cert(
	                 ccfg, certs()->client_cert, certs()->client_key, NULL),
	    0);
	l = tls_listen(scfg, "127.0.0.1", &port);
	d = tls_test_dialer("tls+tcp", "127.0.0.1", port, ccfg);
	tls_pair(l, d, &c, &s);
	cr_assert(get_bool(s, NGHTTPW_OPT_TLS_VERIFIED));
	expect_string(s, NGHTTPW_OPT_TLS_PEER_CN, "test-client");
	expect_string(c, NGHTTPW_OPT_TLS_PEER_CN, "localhost");
	echo_check(c, s, "mutual");
	nghttpw_stream_free(c);
	nghttpw_stream_free(s);
	nghttpw_stream_dialer_free(d);
	nghttpw_stream_listener_free(l);
	nghttpw_tls_config_free(scfg);
	nghttpw_tls_config_free(ccfg);
}

/* ------------------------------------------------------------ resumption, SNI */

Test(tls, second_dial_resumes)
{
	nghttpw_tls_config      *scfg = server_requiring_clients();
	nghttpw_tls_config      *ccfg = client_config("localhost");
	nghttpw_stream_listener *l;
	nghttpw_stream_dialer   *d;
	nghttpw_stream          *c, *s;
	int                      port;
	int                      full = 0;

	cr_assert_eq(nghttpw_tls_config_own_cert(
	                 ccfg, certs()->client_cert, certs()->client_key, NULL),
	    0);
	l = tls_listen(scfg, "127.0.0.1", &port);
	d = tls_test_dialer("tls+tcp", "127.0.0.1", port, ccfg);
	for (int i = 0; i < 3; i++) {
		tls_pair(l, d, &c, &s);
		cr_assert_eq(get_bool(c, NGHTTPW_OPT_TLS_RESUMED),
		    get_bool(s, NGHTTPW_OPT_TLS_RESUMED));
		full += !get_bool(c, NGHTTPW_OPT_TLS_RESUMED);
		cr_assert_eq(get_bool(c, NGHTTPW_OPT_TLS_RESUMED), i > 0,
		    "dial %d: resumed is wrong", i);
		/* What the full handshake learnt is still known. */
		cr_assert(get_bool(c, NGHTTPW_OPT_TLS_VERIFIED));
		expect_string(s, NGHTTPW_OPT_TLS_PEER_CN, "test-client");
		echo_check(c, s, "resumed?");
		nghttpw_stream_free(c);
		nghttpw_stream_free(s);
	}
	cr_assert_eq(full, 1, "%d full handshakes for 3 dials", full);

	/* A new configuration forgets the session. */
	nghttpw_tls_config_free(ccfg);
	ccfg = client_config("localhost");
	cr_assert_eq(nghttpw_tls_config_own_cert(
	                 ccfg, certs()->client_cert, certs()->client_key, NULL),
	    0);
	cr_assert_eq(nghttpw_stream_dialer_set_ptr(d, NGHTTPW_OPT_TLS_CONFIG, ccfg), 0);
	tls_pair(l, d, &c, &s);
	cr_assert_not(get_bool(c, NGHTTPW_OPT_TLS_RESUMED));
	nghttpw_stream_free(c);
	nghttpw_stream_free(s);

	nghttpw_stream_dialer_free(d);
	nghttpw_stream_listener_free(l);
	nghttpw_tls_config_free(scfg);
	nghttpw_tls_config_free(ccfg);
}

static void
sni_dial(nghttpw_tls_config *scfg, const char *name, int want_rv, const char *want_cn)
{
	nghttpw_tls_config      *ccfg = client_config(name);
	nghttpw_stream_listener *l;
	nghttpw_stream_dialer   *d;
	nghttpw_stream          *c = NULL, *s = NULL;
	int                      port, crv, srv;

	l = tls_listen(scfg, "127.0.0.1", &port);
	d = tls_test_dialer("tls+tcp", "127.0.0.1", port, ccfg);
	tls_test_connect(l, d, &c, &crv, &s, &srv);
	cr_assert_eq(crv, want_rv, "%s: dial: %s", name, nghttpw_strerror(crv));
	if (want_cn != NULL) {
		expect_string(c, NGHTTPW_OPT_TLS_PEER_CN, want_cn);
		echo_check(c, s, name);
	}
	nghttpw_stream_free(c);
	nghttpw_stream_free(s);
	nghttpw_stream_dialer_free(d);
	nghttpw_stream_listener_free(l);
	nghttpw_tls_config_free(ccfg);
}

Test(tls, sni_picks_certificate)
{
	nghttpw_tls_config *scfg = server_config(certs()->server_cert, certs()->server_key);

	cr_assert_eq(nghttpw_tls_config_add_sni_cert(scfg, "alpha.test",
	                 certs()->alpha_cert, certs()->alpha_key, NULL),
	    0);
	cr_assert_eq(nghttpw_tls_config_add_sni_cert(scfg, "beta.test",
	                 certs()->beta_cert, certs()->beta_key, NULL),
	    0);
	cr_assert_eq(nghttpw_tls_config_add_sni_cert(scfg, "BETA.test",
	                 certs()->beta_cert, certs()->beta_key, NULL),
	    NGHTTPW_EEXIST);
	sni_dial(scfg, "alpha.test", 0, "alpha.test");
	sni_dial(scfg, "beta.test", 0, "beta.test");
	sni_dial(scfg, "localhost", 0, "localhost");        /* the default */
	sni_dial(scfg, "gamma.test", NGHTTPW_EPEERAUTH, NULL); /* default: wrong name */
	nghttpw_tls_config_free(scfg);
}

Test(tls, sni_only_server)
{
	nghttpw_tls_config *scfg;

	/* Without an own certificate the first SNI one is the default. */
	cr_assert_eq(nghttpw_tls_config_alloc(&scfg, NGHTTPW_TLS_MODE_SERVER), 0);
	cr_assert_eq(nghttpw_tls_config_add_sni_cert(scfg, "*.test",
	                 certs()->alpha_cert, certs()->alpha_key, NULL),
	    0);
	sni_dial(scfg, "alpha.test", 0, "alpha.test");
	sni_dial(scfg, "other.test", NGHTTPW_EPEERAUTH, NULL);
	nghttpw_tls_config_free(scfg);
}

/* ------------------------------------------------------------ stalls */

static void
dial_silent_server(nghttpw_duration timeout, int cancel_after, int close_after,
    int want)
{
	nghttpw_tls_config    *ccfg = client_config("localhost");
	nghttpw_stream_dialer *d;
	nghttpw_aio           *aio;
	nghttpw_time           start;
	int                    port;
	int                    lfd = raw_listen(&port);

	d = tls_test_dialer("tls+tcp", "127.0.0.1", port, ccfg);
	cr_assert_eq(nghttpw_aio_alloc(&aio, NULL, NULL), 0);
	nghttpw_aio_set_timeout(aio, timeout);
	start = nghttpw_clock();
	nghttpw_stream_dialer_dial(d, aio);
	if (cancel_after >= 0) {
		nghttpw_msleep(cancel_after);
		nghttpw_aio_cancel(aio);
	}
	if (close_after >= 0) {
		nghttpw_msleep(close_after);
		nghttpw_stream_dialer_close(d);
	}
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), want, "got %s",
	    nghttpw_strerror(nghttpw_aio_result(aio)));
	cr_assert_null(nghttpw_aio_get_output(aio, 0));
	cr_assert_lt(nghttpw_clock() - start, 3000);
	nghttpw_aio_free(aio);
	nghttpw_stream_dialer_free(d);
	nghttpw_tls_config_free(ccfg);
	close(lfd);
}

Test(tls, handshake_timeout)
{
	nghttpw_time start = nghttpw_clock();

	dial_silent_server(100, -1, -1, NGHTTPW_ETIMEDOUT);
	cr_assert_geq(nghttpw_clock() - start, 100);
}

Test(tls, handshake_cancel)
{
	dial_silent_server(WAIT_MS, 50, -1, NGHTTPW_ECANCELED);
}

Test(tls, handshake_dialer_closed)
{
	dial_silent_server(WAIT_MS, -1, 50, NGHTTPW_ECLOSED);
}

/* A server that reads the ClientHello and hangs up. */
static void *
drop_main(void *arg)
{
	int  lfd = *(int *) arg;
	int  fd  = accept(lfd, NULL, NULL);
	char buf[64];

	if (fd >= 0) {
		(void) read(fd, buf, sizeof(buf));
		close(fd);
	}
	return (NULL);
}

Test(tls, peer_drops_mid_handshake)
{
	nghttpw_tls_config    *ccfg = client_config("localhost");
	nghttpw_stream_dialer *d;
	nghttpw_aio           *aio;
	pthread_t              t;
	int                    port, rv;
	int                    lfd = raw_listen(&port);

	pthread_create(&t, NULL, drop_main, &lfd);
	d = tls_test_dialer("tls+tcp", "127.0.0.1", port, ccfg);
	cr_assert_eq(nghttpw_aio_alloc(&aio, NULL, NULL), 0);
	nghttpw_aio_set_timeout(aio, WAIT_MS);
	nghttpw_stream_dialer_dial(d, aio);
	nghttpw_aio_wait(aio);
	rv = nghttpw_aio_result(aio);
	cr_assert(rv == NGHTTPW_ECONNRESET || rv == NGHTTPW_ECLOSED, "got %s",
	    nghttpw_strerror(rv));
	pthread_join(t, NULL);
	nghttpw_aio_free(aio);
	nghttpw_stream_dialer_free(d);
	nghttpw_tls_config_free(ccfg);
	close(lfd);
}

/* Clients that stall or talk nonsense do not hold up a good one; by
 * default their failures are not reported to accept. */
static void
bad_clients(bool report)
{
	nghttpw_tls_config      *scfg = server_config(certs()->server_cert, certs()->server_key);
	nghttpw_tls_config      *ccfg = client_config("localhost");
	logbuf                   slog = { .mtx = PTHREAD_MUTEX_INITIALIZER };
	nghttpw_stream_listener *l;
	nghttpw_stream_dialer   *d;
	nghttpw_stream          *c, *s;
	nghttpw_aio             *acc;
	int                      port, silent, noisy;

	cr_assert_eq(nghttpw_tls_config_log(scfg, log_fn, &slog), 0);
	l      = tls_listen_opt(scfg, "127.0.0.1", &port, report);
	silent = raw_connect(port);
	noisy  = raw_connect(port);
	cr_assert_eq(write(noisy, "GET / HTTP/1.1\r\n\r\n", 18), 18);
	if (report) {
		/* The nonsense is reported to an accept. */
		cr_assert_eq(nghttpw_aio_alloc(&acc, NULL, NULL), 0);
		nghttpw_aio_set_timeout(acc, WAIT_MS);
		nghttpw_stream_listener_accept(l, acc);
		nghttpw_aio_wait(acc);
		cr_assert_eq(nghttpw_aio_result(acc), NGHTTPW_ECRYPTO, "accept: %s",
		    nghttpw_strerror(nghttpw_aio_result(acc)));
		nghttpw_aio_free(acc);
	}
	/* The silent one does not block the next good client, and accept
	 * returns the good one (TCP connections are taken in only while an
	 * accept waits, so here the bad ones are met during this accept). */
	d = tls_test_dialer("tls+tcp", "127.0.0.1", port, ccfg);
	tls_pair(l, d, &c, &s);
	echo_check(c, s, "still serving");
	pthread_mutex_lock(&slog.mtx);
	cr_assert_eq(slog.lines, 1, "server log: %s", slog.text);
	pthread_mutex_unlock(&slog.mtx);
	nghttpw_stream_free(c);
	nghttpw_stream_free(s);
	nghttpw_stream_dialer_free(d);
	nghttpw_stream_listener_free(l);
	close(silent);
	close(noisy);
	nghttpw_tls_config_free(scfg);
	nghttpw_tls_config_free(ccfg);
}

Test(tls, listener_survives_bad_clients)
{
	bad_clients(false);
}

Test(tls, listener_reports_bad_clients)
{
	bad_clients(true);
}

/* ------------------------------------------------------------ endings */

Test(tls, close_notify_gives_eclosed)
{
	nghttpw_tls_config      *scfg = server_config(certs()->server_cert, certs()->server_key);
	nghttpw_tls_config      *ccfg = client_config("localhost");
	nghttpw_stream_listener *l;
	nghttpw_stream_dialer   *d;
	nghttpw_stream          *c, *s;
	char                     buf[16];
	nghttpw_iov              iov = { buf, sizeof(buf) };
	size_t                   n;
	int                      port, rv;

	l = tls_listen(scfg, "127.0.0.1", &port);
	d = tls_test_dialer("tls+tcp", "127.0.0.1", port, ccfg);
	tls_pair(l, d, &c, &s);
	cr_assert_eq(send_all(s, "bye", 3, NULL), 0);
	nghttpw_stream_close(s);
	cr_assert_eq(sync_op(nghttpw_stream_recv, c, &iov, 1, WAIT_MS, &n), 0);
	cr_assert_eq(n, 3);
	rv = sync_op(nghttpw_stream_recv, c, &iov, 1, WAIT_MS, &n);
	cr_assert_eq(rv, NGHTTPW_ECLOSED, "got %s", nghttpw_strerror(rv));
	rv = sync_op(nghttpw_stream_recv, c, &iov, 1, WAIT_MS, &n);
	cr_assert_eq(rv, NGHTTPW_ECLOSED, "again: got %s", nghttpw_strerror(rv));
	/* Our own closed stream refuses work. */
	cr_assert_eq(sync_op(nghttpw_stream_send, s, &iov, 1, WAIT_MS, NULL),
	    NGHTTPW_ECLOSED);
	nghttpw_stream_free(c);
	nghttpw_stream_free(s);
	nghttpw_stream_dialer_free(d);
	nghttpw_stream_listener_free(l);
	nghttpw_tls_config_free(scfg);
	nghttpw_tls_config_free(ccfg);
}

Test(tls, close_aborts_pending_ops)
{
	nghttpw_tls_config      *scfg = server_config(certs()->server_cert, certs()->server_key);
	nghttpw_tls_config      *ccfg = client_config("localhost");
	nghttpw_stream_listener *l;
	nghttpw_stream_dialer   *d;
	nghttpw_stream          *c, *s;
	nghttpw_aio             *aio;
	char                     buf[16];
	nghttpw_iov              iov = { buf, sizeof(buf) };
	int                      port;

	l = tls_listen(scfg, "127.0.0.1", &port);
	d = tls_test_dialer("tls+tcp", "127.0.0.1", port, ccfg);
	tls_pair(l, d, &c, &s);
	cr_assert_eq(nghttpw_aio_alloc(&aio, NULL, NULL), 0);
	nghttpw_aio_set_iov(aio, 1, &iov);
	nghttpw_stream_recv(c, aio);
	nghttpw_msleep(20);
	cr_assert(nghttpw_aio_busy(aio));
	nghttpw_stream_close(c);
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), NGHTTPW_ECLOSED);
	/* The server hears an orderly end. */
	cr_assert_eq(sync_op(nghttpw_stream_recv, s, &iov, 1, WAIT_MS, NULL),
	    NGHTTPW_ECLOSED);
	nghttpw_aio_free(aio);
	nghttpw_stream_free(c);
	nghttpw_stream_free(s);
	nghttpw_stream_dialer_free(d);
	nghttpw_stream_listener_free(l);
	nghttpw_tls_config_free(scfg);
	nghttpw_tls_config_free(ccfg);
}

/* A TCP relay that can hang up on the client without TLS knowing. */
typedef struct {
	int        lfd;
	int        port;
	int        target;
	atomic_int cut;
	pthread_t  thr;
} relay;

static bool
relay_copy(int from, int to)
{
	char    buf[16384];
	ssize_t n = read(from, buf, sizeof(buf));

	if (n <= 0) {
		return (false);
	}
	for (ssize_t off = 0; off < n;) {
		ssize_t w = write(to, buf + off, (size_t) (n - off));
		if (w <= 0) {
			return (false);
		}
		off += w;
	}
	return (true);
}

static void *
relay_main(void *arg)
{
	relay        *r  = arg;
	int           cfd = accept(r->lfd, NULL, NULL);
	int           sfd = raw_connect(r->target);
	struct pollfd pf[2] = { { .fd = cfd, .events = POLLIN },
		{ .fd = sfd, .events = POLLIN } };

	while (!atomic_load(&r->cut)) {
		if (poll(pf, 2, 10) <= 0) {
			continue;
		}
		if ((pf[0].revents && !relay_copy(cfd, sfd)) ||
		    (pf[1].revents && !relay_copy(sfd, cfd))) {
			break;
		}
	}
	close(cfd); /* a plain FIN: no close_notify */
	close(sfd);
	return (NULL);
}

Test(tls, truncation_gives_econnreset)
{
	nghttpw_tls_config      *scfg = server_config(certs()->server_cert, certs()->server_key);
	nghttpw_tls_config      *ccfg = client_config("localhost");
	nghttpw_stream_listener *l;
	nghttpw_stream_dialer   *d;
	nghttpw_stream          *c, *s;
	char                     buf[16];
	nghttpw_iov              iov = { buf, sizeof(buf) };
	relay                    r   = { 0 };
	int                      rv;

	l        = tls_listen(scfg, "127.0.0.1", &r.target);
	r.lfd    = raw_listen(&r.port);
	pthread_create(&r.thr, NULL, relay_main, &r);
	d = tls_test_dialer("tls+tcp", "127.0.0.1", r.port, ccfg);
	tls_pair(l, d, &c, &s);
	echo_check(c, s, "through the relay");
	atomic_store(&r.cut, 1);
	pthread_join(r.thr, NULL);
	rv = sync_op(nghttpw_stream_recv, c, &iov, 1, WAIT_MS, NULL);
	cr_assert_eq(rv, NGHTTPW_ECONNRESET, "got %s", nghttpw_strerror(rv));
	{
		int   erv;
		char *msg = get_string(c, NGHTTPW_OPT_TLS_ERROR, &erv);
		cr_assert_eq(erv, 0);
		cr_assert_not_null(strstr(msg, "close_notify"), "tls-error: %s", msg);
		nghttpw_strfree(msg);
	}
	/* Sends fail too once the stream is broken. */
	rv = sync_op(nghttpw_stream_send, c, &iov, 1, WAIT_MS, NULL);
	cr_assert_eq(rv, NGHTTPW_ECONNRESET, "send: %s", nghttpw_strerror(rv));
	nghttpw_stream_free(c);
	nghttpw_stream_free(s);
	nghttpw_stream_dialer_free(d);
	nghttpw_stream_listener_free(l);
	close(r.lfd);
	nghttpw_tls_config_free(scfg);
	nghttpw_tls_config_free(ccfg);
}

/* A stream freed with operations in flight and its peer still there;
 * nothing leaks or crashes (run under the sanitizers and valgrind). */
Test(tls, free_with_operations_pending)
{
	nghttpw_tls_config      *scfg = server_config(certs()->server_cert, certs()->server_key);
	nghttpw_tls_config      *ccfg = client_config("localhost");
	nghttpw_stream_listener *l;
	nghttpw_stream_dialer   *d;
	nghttpw_stream          *c, *s;
	nghttpw_aio             *rx, *tx;
	size_t                   big = 32 << 20;
	unsigned char           *data = calloc(1, big);
	char                     buf[16];
	nghttpw_iov              riov = { buf, sizeof(buf) };
	nghttpw_iov              tiov = { data, big };
	int                      port;

	l = tls_listen(scfg, "127.0.0.1", &port);
	d = tls_test_dialer("tls+tcp", "127.0.0.1", port, ccfg);
	tls_pair(l, d, &c, &s);
	cr_assert_eq(nghttpw_aio_alloc(&rx, NULL, NULL), 0);
	cr_assert_eq(nghttpw_aio_alloc(&tx, NULL, NULL), 0);
	nghttpw_aio_set_iov(rx, 1, &riov);
	nghttpw_aio_set_iov(tx, 1, &tiov);
	nghttpw_stream_recv(c, rx);
	nghttpw_stream_send(c, tx); /* the peer reads nothing */
	nghttpw_msleep(50);
	nghttpw_stream_free(c);
	nghttpw_aio_wait(rx);
	nghttpw_aio_wait(tx);
	cr_assert_eq(nghttpw_aio_result(rx), NGHTTPW_ECLOSED);
	cr_assert_eq(nghttpw_aio_result(tx), NGHTTPW_ECLOSED);
	nghttpw_aio_free(rx);
	nghttpw_aio_free(tx);
	nghttpw_stream_free(s);
	nghttpw_stream_dialer_free(d);
	nghttpw_stream_listener_free(l);
	nghttpw_tls_config_free(scfg);
	nghttpw_tls_config_free(ccfg);
	free(data);
}

/* ------------------------------------------------------------ configuration */

Test(tls, config_rules)
{
	nghttpw_tls_config *cfg, *scfg;
	const char *const   alpn[] = { "http/1.1", NULL };
	const char *const   bad_alpn[] = { "", NULL };
	int                 crv, srv;

	cr_assert_eq(nghttpw_tls_config_alloc(&cfg, 7), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_tls_config_alloc(NULL, NGHTTPW_TLS_MODE_CLIENT), NGHTTPW_EINVAL);
	cfg = client_config(NULL);

	/* Bad input. */
	cr_assert_eq(nghttpw_tls_config_ca_chain(cfg, "not a certificate", NULL),
	    NGHTTPW_ECRYPTO);
	cr_assert_eq(nghttpw_tls_config_own_cert(cfg, "junk", "junk", NULL),
	    NGHTTPW_ECRYPTO);
	cr_assert_eq(nghttpw_tls_config_own_cert(cfg, certs()->server_cert,
	                 certs()->client_key, NULL),
	    NGHTTPW_EINVAL); /* not its key */
	cr_assert_eq(nghttpw_tls_config_ca_file(cfg, "/nonexistent/ca.pem"),
	    NGHTTPW_ENOENT);
	cr_assert_eq(nghttpw_tls_config_auth_mode(cfg, 9), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_tls_config_version(cfg, NGHTTPW_TLS_1_3, NGHTTPW_TLS_1_3),
	    NGHTTPW_ENOTSUP);
	cr_assert_eq(nghttpw_tls_config_version(cfg, NGHTTPW_TLS_1_2, NGHTTPW_TLS_1_1),
	    NGHTTPW_ENOTSUP);
	cr_assert_eq(nghttpw_tls_config_version(cfg, 0x200, NGHTTPW_TLS_1_2),
	    NGHTTPW_ENOTSUP);
	cr_assert_eq(nghttpw_tls_config_version(cfg, NGHTTPW_TLS_1_2, NGHTTPW_TLS_1_3), 0);
	cr_assert_eq(nghttpw_tls_config_alpn(cfg, bad_alpn), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_tls_config_alpn(cfg, alpn), 0);
	cr_assert_eq(nghttpw_tls_config_alpn(cfg, NULL), 0); /* none again */
	cr_assert_eq(nghttpw_tls_config_add_sni_cert(cfg, "x.test",
	                 certs()->alpha_cert, certs()->alpha_key, NULL),
	    NGHTTPW_ENOTSUP);
	cr_assert_eq(nghttpw_tls_config_server_name(cfg, "localhost"), 0);

	/* References. */
	nghttpw_tls_config_hold(cfg);
	nghttpw_tls_config_free(cfg);

	/* Once used, read-only. */
	scfg = server_config(certs()->server_cert, certs()->server_key);
	try_handshake(scfg, cfg, "127.0.0.1", &crv, &srv);
	cr_assert_eq(crv, 0);
	cr_assert_eq(nghttpw_tls_config_server_name(cfg, "x"), NGHTTPW_EBUSY);
	cr_assert_eq(nghttpw_tls_config_ca_chain(cfg, certs()->ca_cert, NULL),
	    NGHTTPW_EBUSY);
	cr_assert_eq(nghttpw_tls_config_own_cert(cfg, certs()->client_cert,
	                 certs()->client_key, NULL),
	    NGHTTPW_EBUSY);
	cr_assert_eq(nghttpw_tls_config_auth_mode(cfg, NGHTTPW_TLS_AUTH_MODE_NONE),
	    NGHTTPW_EBUSY);
	cr_assert_eq(nghttpw_tls_config_version(cfg, NGHTTPW_TLS_1_2, NGHTTPW_TLS_1_2),
	    NGHTTPW_EBUSY);
	cr_assert_eq(nghttpw_tls_config_alpn(cfg, alpn), NGHTTPW_EBUSY);
	cr_assert_eq(nghttpw_tls_config_own_cert(scfg, certs()->alpha_cert,
	                 certs()->alpha_key, NULL),
	    NGHTTPW_EBUSY);
	/* The log hook may change at any time. */
	cr_assert_eq(nghttpw_tls_config_log(cfg, NULL, NULL), 0);
	nghttpw_tls_config_free(cfg);
	nghttpw_tls_config_free(scfg);

	cr_assert_str_eq(nghttpw_tls_engine_name(), "mbed");
	cr_assert_not_null(strstr(nghttpw_tls_engine_description(), "TLS"));
}

Test(tls, dialer_and_listener_options)
{
	nghttpw_stream_dialer   *d;
	nghttpw_stream_listener *l;
	nghttpw_tls_config      *ccfg = client_config(NULL);
	nghttpw_tls_config      *scfg;
	void                    *p = NULL;
	bool                     b;
	int                      port;

	cr_assert_eq(nghttpw_tls_config_alloc(&scfg, NGHTTPW_TLS_MODE_SERVER), 0);

	/* A dialer has a default client configuration. */
	cr_assert_eq(nghttpw_stream_dialer_alloc(&d, "tls+tcp://127.0.0.1:9"), 0);
	cr_assert_eq(nghttpw_stream_dialer_get_ptr(d, NGHTTPW_OPT_TLS_CONFIG, &p), 0);
	cr_assert_not_null(p);
	cr_assert_eq(nghttpw_stream_dialer_set_ptr(d, NGHTTPW_OPT_TLS_CONFIG, scfg),
	    NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_stream_dialer_set_ptr(d, NGHTTPW_OPT_TLS_CONFIG, NULL),
	    NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_stream_dialer_set_ptr(d, NGHTTPW_OPT_TLS_CONFIG, ccfg), 0);
	cr_assert_eq(nghttpw_stream_dialer_get_ptr(d, NGHTTPW_OPT_TLS_CONFIG, &p), 0);
	cr_assert_eq(p, ccfg);
	cr_assert_eq(nghttpw_stream_dialer_set_bool(d, NGHTTPW_OPT_TCP_NODELAY, false), 0);
	cr_assert_eq(nghttpw_stream_dialer_get_bool(d, NGHTTPW_OPT_TCP_NODELAY, &b), 0);
	cr_assert_not(b);
	nghttpw_stream_dialer_free(d);

	/* A listener needs a server configuration with a certificate. */
	cr_assert_eq(nghttpw_stream_listener_alloc(&l, "tls+tcp://127.0.0.1:0"), 0);
	cr_assert_eq(nghttpw_stream_listener_get_ptr(l, NGHTTPW_OPT_TLS_CONFIG, &p),
	    NGHTTPW_ENOENT);
	cr_assert_eq(nghttpw_stream_listener_listen(l), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_stream_listener_set_ptr(l, NGHTTPW_OPT_TLS_CONFIG, ccfg),
	    NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_stream_listener_set_ptr(l, NGHTTPW_OPT_TLS_CONFIG, scfg), 0);
	cr_assert_eq(nghttpw_stream_listener_listen(l), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_tls_config_own_cert(
	                 scfg, certs()->server_cert, certs()->server_key, NULL),
	    0);
	cr_assert_eq(nghttpw_stream_listener_listen(l), 0);
	cr_assert_eq(nghttpw_stream_listener_get_ptr(l, NGHTTPW_OPT_TLS_CONFIG, &p), 0);
	cr_assert_eq(p, scfg);
	nghttpw_stream_listener_free(l);

	/* Addresses are checked as for TCP: a dialer needs a port, a
	 * listener without one listens on a port the system picks. */
	cr_assert_eq(nghttpw_stream_dialer_alloc(&d, "tls+tcp://127.0.0.1"),
	    NGHTTPW_EADDRINVAL);
	cr_assert_eq(nghttpw_stream_listener_alloc(&l, "tls+tcp://127.0.0.1"), 0);
	cr_assert_eq(nghttpw_stream_listener_set_ptr(l, NGHTTPW_OPT_TLS_CONFIG, scfg), 0);
	cr_assert_eq(nghttpw_stream_listener_listen(l), 0);
	cr_assert_eq(
	    nghttpw_stream_listener_get_int(l, NGHTTPW_OPT_TCP_BOUND_PORT, &port), 0);
	cr_assert_gt(port, 0);
	nghttpw_stream_listener_free(l);
	nghttpw_tls_config_free(ccfg);
	nghttpw_tls_config_free(scfg);
}

Test(tls, cert_key_file_and_ca_file)
{
	nghttpw_tls_config *scfg, *ccfg;
	char                path[128];
	int                 crv, srv;

	tmpdir_make();
	cr_assert_eq(tls_test_write_file(tmpdir, "server.pem", certs()->server_cert,
	                 certs()->server_key, NULL),
	    0);
	cr_assert_eq(tls_test_write_file(tmpdir, "ca.pem", certs()->other_ca_cert,
	                 certs()->ca_cert, NULL),
	    0);
	cr_assert_eq(nghttpw_tls_config_alloc(&scfg, NGHTTPW_TLS_MODE_SERVER), 0);
	cr_assert_eq(nghttpw_tls_config_alloc(&ccfg, NGHTTPW_TLS_MODE_CLIENT), 0);
	snprintf(path, sizeof(path), "%s/server.pem", tmpdir);
	cr_assert_eq(nghttpw_tls_config_cert_key_file(scfg, path, NULL), 0);
	snprintf(path, sizeof(path), "%s/ca.pem", tmpdir);
	cr_assert_eq(nghttpw_tls_config_ca_file(ccfg, path), 0);
	cr_assert_eq(nghttpw_tls_config_server_name(ccfg, "localhost"), 0);
	try_handshake(scfg, ccfg, "127.0.0.1", &crv, &srv);
	cr_assert_eq(crv, 0, "dial: %s", nghttpw_strerror(crv));
	cr_assert_eq(srv, 0, "accept: %s", nghttpw_strerror(srv));
	nghttpw_tls_config_free(scfg);
	nghttpw_tls_config_free(ccfg);
}

/* ------------------------------------------------------------ openssl */

static bool
have_openssl(void)
{
	char path[1024];

	return (program_in_path("openssl", path, sizeof(path)));
}

/* Runs argv with its standard error in the temporary directory (see
 * stderr_text). */
static void
spawn(piped_child *ch, char *const argv[])
{
	char errpath[128];

	snprintf(errpath, sizeof(errpath), "%s/stderr.txt", tmpdir);
	cr_assert_eq(piped_child_start(ch, argv, errpath), 0);
}

static char *
stderr_text(void)
{
	static char text[4096];
	char        path[128];
	FILE       *f;
	size_t      n = 0;

	snprintf(path, sizeof(path), "%s/stderr.txt", tmpdir);
	if ((f = fopen(path, "r")) != NULL) {
		n = fread(text, 1, sizeof(text) - 1, f);
		fclose(f);
	}
	text[n] = '\0';
	return (text);
}

static int
free_port(void)
{
	int port;
	int fd = raw_listen(&port);
	close(fd);
	return (port);
}

Test(tls, openssl_s_server_against_our_dialer)
{
	nghttpw_tls_config    *ccfg;
	nghttpw_stream_dialer *d;
	nghttpw_stream        *c = NULL;
	piped_child            ch;
	char                   out[4096] = "";
	char                   accept_arg[64], cert[128], key[128];
	char                   buf[16];
	int                    rv = -1;

	if (!have_openssl()) {
		cr_skip_test("the openssl program is not installed");
	}
	tmpdir_make();
	cr_assert_eq(tls_test_write_file(tmpdir, "cert.pem", certs()->server_cert, NULL), 0);
	cr_assert_eq(tls_test_write_file(tmpdir, "key.pem", certs()->server_key, NULL), 0);
	snprintf(cert, sizeof(cert), "%s/cert.pem", tmpdir);
	snprintf(key, sizeof(key), "%s/key.pem", tmpdir);
	ccfg = client_config("localhost");

	/* The port may be taken between our probe and openssl: retry. */
	for (int attempt = 0; attempt < 5 && rv != 0; attempt++) {
		int port = free_port();
		snprintf(accept_arg, sizeof(accept_arg), "127.0.0.1:%d", port);
		char *const argv[] = { "openssl", "s_server", "-accept", accept_arg,
			"-cert", cert, "-key", key, "-rev", "-naccept", "1", NULL };
		out[0] = '\0';
		spawn(&ch, argv);
		if (!piped_child_read_until(&ch, out, sizeof(out), "ACCEPT", 5000)) {
			piped_child_wait(&ch, 0);
			continue;
		}
		d = tls_test_dialer("tls+tcp", "127.0.0.1", port, ccfg);
		{
			nghttpw_stream *none;
			int             srv;
			tls_test_connect(NULL, d, &c, &rv, &none, &srv);
		}
		nghttpw_stream_dialer_free(d);
		if (rv != 0) {
			piped_child_wait(&ch, 0);
		}
	}
	cr_assert_eq(rv, 0, "dial to openssl s_server: %s\n%s", nghttpw_strerror(rv),
	    stderr_text());
	cr_assert(get_bool(c, NGHTTPW_OPT_TLS_VERIFIED));
	expect_string(c, NGHTTPW_OPT_TLS_PEER_CN, "localhost");
	cr_assert_eq(send_all(c, "hello\n", 6, NULL), 0);
	cr_assert_eq(recv_all(c, buf, 6, NULL), 0);
	cr_assert_arr_eq(buf, "olleh\n", 6, "s_server sent '%.6s'", buf);
	nghttpw_stream_free(c);
	piped_child_wait(&ch, 2000);
	nghttpw_tls_config_free(ccfg);
}

/* Serves one connection: reads a line, answers "pong\n", closes. */
typedef struct {
	nghttpw_stream_listener *l;
	int                      rv;
	char                     alpn[32];
	char                     line[32];
} one_server;

static void *
one_server_main(void *arg)
{
	one_server     *os = arg;
	nghttpw_aio    *acc;
	nghttpw_stream *s;
	char           *alpn = NULL;
	size_t          len  = 0;

	nghttpw_aio_alloc(&acc, NULL, NULL);
	nghttpw_aio_set_timeout(acc, 10000);
	nghttpw_stream_listener_accept(os->l, acc);
	nghttpw_aio_wait(acc);
	if ((os->rv = nghttpw_aio_result(acc)) != 0) {
		nghttpw_aio_free(acc);
		return (NULL);
	}
	s = nghttpw_aio_get_output(acc, 0);
	nghttpw_aio_free(acc);
	if (nghttpw_stream_get_string(s, NGHTTPW_OPT_TLS_ALPN, &alpn) == 0) {
		snprintf(os->alpn, sizeof(os->alpn), "%s", alpn);
		nghttpw_strfree(alpn);
	}
	while (len < sizeof(os->line) - 1 && strchr(os->line, '\n') == NULL) {
		nghttpw_iov iov = { os->line + len, sizeof(os->line) - 1 - len };
		size_t      n;
		if ((os->rv = sync_op(nghttpw_stream_recv, s, &iov, 1, 10000, &n)) != 0) {
			break;
		}
		len += n;
	}
	if (os->rv == 0) {
		os->rv = send_all(s, "pong\n", 5, NULL);
	}
	nghttpw_stream_close(s);
	nghttpw_stream_free(s);
	return (NULL);
}

Test(tls, openssl_s_client_against_our_listener)
{
	const char *const        alpn[] = { "http/1.1", NULL };
	nghttpw_tls_config      *scfg;
	piped_child              ch;
	one_server               os = { 0 };
	pthread_t                t;
	char                     out[4096] = "";
	char                     connect_arg[64], ca[128];
	int                      port, status;

	if (!have_openssl()) {
		cr_skip_test("the openssl program is not installed");
	}
	tmpdir_make();
	cr_assert_eq(tls_test_write_file(tmpdir, "ca.pem", certs()->ca_cert, NULL), 0);
	snprintf(ca, sizeof(ca), "%s/ca.pem", tmpdir);
	scfg = server_config(certs()->server_cert, certs()->server_key);
	cr_assert_eq(nghttpw_tls_config_alpn(scfg, alpn), 0);
	os.l = tls_listen(scfg, "127.0.0.1", &port);
	pthread_create(&t, NULL, one_server_main, &os);

	snprintf(connect_arg, sizeof(connect_arg), "127.0.0.1:%d", port);
	char *const argv[] = { "openssl", "s_client", "-connect", connect_arg,
		"-CAfile", ca, "-verify_return_error", "-verify_hostname",
		"localhost", "-servername", "localhost", "-alpn", "http/1.1",
		"-quiet", NULL };
	spawn(&ch, argv);
	cr_assert_eq(write(ch.in, "ping\n", 5), 5);
	cr_assert(piped_child_read_until(&ch, out, sizeof(out), "pong", 10000),
	    "s_client printed '%s'\n%s", out, stderr_text());
	status = piped_child_wait(&ch, 5000);
	pthread_join(t, NULL);
	cr_assert_eq(os.rv, 0, "our server: %s", nghttpw_strerror(os.rv));
	cr_assert_str_eq(os.line, "ping\n");
	cr_assert_str_eq(os.alpn, "http/1.1");
	cr_assert_eq(status, 0, "s_client exit %d\n%s", status, stderr_text());
	nghttpw_stream_listener_free(os.l);
	nghttpw_tls_config_free(scfg);
}

/* Whether the CPU has AES instructions (the "aes" flag of x86). */
static bool
cpu_has_aes(void)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char  line[4096];
	bool  aes = false;

	while (f != NULL && !aes && fgets(line, sizeof(line), f) != NULL) {
		aes = strncmp(line, "flags", 5) == 0 && strstr(line, " aes ") != NULL;
	}
	if (f != NULL) {
		fclose(f);
	}
	return (aes);
}

/* A client that prefers ChaCha20 still gets AES-GCM from our server where
 * the CPU makes AES-GCM the cheaper cipher; elsewhere its choice stands. */
Test(tls, server_prefers_aes_gcm_with_aes_instructions)
{
	nghttpw_tls_config *scfg;
	piped_child         ch;
	one_server          os = { 0 };
	pthread_t           t;
	char                out[4096] = "";
	char                connect_arg[64];
	int                 port;

	if (!have_openssl()) {
		cr_skip_test("the openssl program is not installed");
	}
	tmpdir_make();
	scfg = server_config(certs()->server_cert, certs()->server_key);
	os.l = tls_listen(scfg, "127.0.0.1", &port);
	pthread_create(&t, NULL, one_server_main, &os);

	snprintf(connect_arg, sizeof(connect_arg), "127.0.0.1:%d", port);
	char *const argv[] = { "openssl", "s_client", "-connect", connect_arg,
		"-tls1_2", "-brief", "-cipher",
		"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-GCM-SHA256",
		NULL };
	spawn(&ch, argv);
	cr_assert_eq(write(ch.in, "ping\n", 5), 5);
	cr_assert(piped_child_read_until(&ch, out, sizeof(out), "pong", 10000),
	    "s_client printed '%s'\n%s", out, stderr_text());
	piped_child_wait(&ch, 5000);
	pthread_join(t, NULL);
	cr_assert_eq(os.rv, 0, "our server: %s", nghttpw_strerror(os.rv));
	cr_assert_not_null(strstr(stderr_text(), cpu_has_aes()
	                                             ? "ECDHE-ECDSA-AES128-GCM-SHA256"
	                                             : "ECDHE-ECDSA-CHACHA20-POLY1305"),
	    "%s", stderr_text());
	nghttpw_stream_listener_free(os.l);
	nghttpw_tls_config_free(scfg);
}

#else /* !NGHTTPW_HAVE_TLS */

#include <criterion/criterion.h>

Test(tls, not_built)
{
	cr_skip_test("nghttpw was built without TLS");
}

#endif
