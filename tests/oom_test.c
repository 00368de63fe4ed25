/* Out of memory: every allocation of an exchange is failed in turn.
 *
 * Each loop runs a scenario once without failure (the baseline, which also
 * records the expected outputs), then again and again with allocation
 * N = 1, 2, ... failed, until a run finishes with no failure injected.
 * Every run must end in full success (the same outputs as the baseline)
 * or in a clean failure: the operation that met the failure reports
 * NGHTTPW_ENOMEM (its peer then sees the close: NGHTTPW_ECLOSED or
 * NGHTTPW_ECONNRESET; a server answers 500 or closes), no wait runs into
 * its time limit, and nothing allocated during the run is left once the
 * scenario has freed what it made and the runtime is stopped.
 *
 * The injector (tests/support/oom.c) needs the program linked with
 *   -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=strdup,
 *       --wrap=strndup,--wrap=free
 * (see CMakeLists.txt); without it every test here is skipped.
 *
 * Environment, to study one failure:
 *   OOM_VERBOSE=1  print each N before it runs (so a crash names it)
 *   OOM_ONLY=N     run only N (after the baseline)
 *   OOM_FROM=N     start at N
 *   OOM_SITES=1    print the stack of every failed allocation, when it
 *                  fails
 *   OOM_THREADS=N  the number of I/O threads (2 by default) */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <fcntl.h>
#include <unistd.h>

#include "http/http_conn.h"
#include "http/http_msg.h"
#include "nghttpw/http.h"
#include "support/oom.h"
#include "support/oom_run.h"
#include "support/pairs.h"

static bool
str_same(const char *a, const char *b)
{
	if (a == NULL || b == NULL) {
		return (a == b);
	}
	return (strcmp(a, b) == 0);
}

static void
copy_str(char *dst, size_t cap, const char *s)
{
	snprintf(dst, cap, "%s", s != NULL ? s : "(null)");
}

/* ------------------------------------------------------------ a TCP pair
 *
 * Like tests/support/pairs.c's tcp_pair, with every result checked: an
 * accept or dial that fails inside the I/O threads must come back as an
 * error.  Returns 0, or the first failure (the dial's first: when it
 * fails, the accept is cancelled, as nobody will connect, where tcp_pair
 * would wait out its time limit). */
static int
tcp_pair_checked(nghttpw_stream **a, nghttpw_stream **b)
{
	nghttpw_stream_listener *l    = NULL;
	nghttpw_stream_dialer   *d    = NULL;
	nghttpw_aio             *acc  = NULL;
	nghttpw_aio             *dial = NULL;
	char                     url[64];
	int                      port;
	int                      rv, rd, ra;

	*a = *b = NULL;
	if ((rv = nghttpw_stream_listener_alloc(&l, "tcp://127.0.0.1:0")) != 0) {
		first_failure(rv, "listener_alloc");
		return (rv);
	}
	if ((rv = nghttpw_stream_listener_listen(l)) != 0 ||
	    (rv = nghttpw_stream_listener_get_int(
	         l, NGHTTPW_OPT_TCP_BOUND_PORT, &port)) != 0) {
		first_failure(rv, "listener_listen");
		goto out;
	}
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", port);
	if ((rv = nghttpw_stream_dialer_alloc(&d, url)) != 0) {
		first_failure(rv, "dialer_alloc");
		goto out;
	}
	if ((acc = aio_new(&rv)) == NULL || (dial = aio_new(&rv)) == NULL) {
		first_failure(rv, "aio_alloc");
		goto out;
	}
	nghttpw_stream_listener_accept(l, acc);
	nghttpw_stream_dialer_dial(d, dial);
	if ((rd = wait_rv(dial, "dial")) != 0) {
		nghttpw_aio_cancel(acc);
	}
	ra = wait_rv(acc, "accept");
	if (rd == 0 && ra == 0) {
		*a = nghttpw_aio_get_output(dial, 0);
		*b = nghttpw_aio_get_output(acc, 0);
		if (*a == NULL || *b == NULL) {
			bad("dial or accept succeeded without a stream");
		}
		rv = 0;
		goto out;
	}
	if (rd == 0) {
		/* The accept met the failure (accepting the socket). */
		first_failure(ra, "accept");
		rv = ra;
	} else {
		first_failure(rd, "dial");
		if (ra != 0 && ra != NGHTTPW_ECANCELED) {
			later_failure(ra, "accept");
		}
		rv = rd;
	}
	nghttpw_stream_free(rd == 0 ? nghttpw_aio_get_output(dial, 0) : NULL);
	nghttpw_stream_free(ra == 0 ? nghttpw_aio_get_output(acc, 0) : NULL);
out:
	nghttpw_aio_free(acc);
	nghttpw_aio_free(dial);
	nghttpw_stream_dialer_free(d);
	nghttpw_stream_listener_free(l);
	return (rv);
}

/* -------------------------------------------------- the injector itself */

static void *
alloc_thread(void *arg)
{
	void **p = arg;

	*p = malloc(16);
	return (NULL);
}

Test(oom, injector_self_test)
{
	void     *p, *q, *r;
	char     *s;
	pthread_t t;

	require_wrapping();
	/* The nth allocation fails, and only that one. */
	oom_arm(OOM_THREAD, 2);
	p = malloc(8);
	q = calloc(1, 8);
	r = realloc(NULL, 8);
	cr_assert_eq(oom_disarm(), 3);
	cr_assert(oom_fired());
	cr_assert_not_null(p);
	cr_assert_null(q);
	cr_assert_not_null(r);
	/* realloc, strdup and strndup fail too. */
	oom_arm(OOM_THREAD, 1);
	cr_assert_null(realloc(NULL, 4096));
	oom_arm(OOM_THREAD, 1);
	cr_assert_null(strdup("x"));
	oom_arm(OOM_THREAD, 1);
	cr_assert_null(strndup("xy", 1));
	cr_assert_eq(oom_disarm(), 1);
	free(p);
	free(r);

	/* Thread scope: other threads neither count nor fail. */
	oom_arm(OOM_THREAD, 1);
	pthread_create(&t, NULL, alloc_thread, &p);
	pthread_join(t, NULL);
	cr_assert_eq(oom_disarm(), 0);
	cr_assert_not_null(p);
	free(p);
	oom_arm(OOM_ANY, 1);
	pthread_create(&t, NULL, alloc_thread, &p);
	pthread_join(t, NULL);
	cr_assert_eq(oom_disarm(), 1);
	cr_assert_null(p);

	/* Tracking: what is freed is forgotten, what is not is reported,
	 * on whichever thread it was made. */
	oom_track_begin();
	q = malloc(10);
	s = strdup("kept");
	r = realloc(malloc(10), 100);
	free(q);
	pthread_create(&t, NULL, alloc_thread, &p);
	pthread_join(t, NULL);
	cr_assert_eq(oom_track_live(), 3);
	free(p);
	free(r);
	cr_assert_eq(oom_track_end(NULL), 1);
	free(s);
}

/* ------------------------------------- 1. URLs and messages (synchronous) */

/* A synchronous step.  When it meets the injected failure it must say
 * NGHTTPW_ENOMEM and leave its object as it was (same), and then succeed
 * when repeated (when only one allocation is failed). */
#define STEP(expr, same)                                                    \
	do {                                                                \
		int rv_ = (expr);                                           \
		if (rv_ != 0 && is_oom(rv_)) {                              \
			if (!(same)) {                                      \
				bad("%s: failed with ENOMEM but changed its " \
				    "object",                               \
				    #expr);                                 \
			}                                                   \
			if (oom_run_sticky()) {                             \
				goto out; /* it would fail again */         \
			}                                                   \
			rv_ = (expr);                                       \
		}                                                           \
		if (rv_ != 0) {                                             \
			bad("%s: %d (%s)", #expr, rv_, nghttpw_strerror(rv_)); \
			goto out;                                           \
		}                                                           \
	} while (0)

typedef struct msg_golden {
	char   req_head[4096];
	char   res_head[1024];
	char   req2_head[1024];
	size_t err_len;
} msg_golden;

static void
compare_golden(char *golden, size_t cap, const char *got, size_t len,
    const char *what)
{
	if (oom_run_baseline()) {
		cr_assert_lt(len, cap);
		memcpy(golden, got, len);
		golden[len] = '\0';
	} else if (strlen(golden) != len || memcmp(golden, got, len) != 0) {
		bad("%s differs from the baseline:\n--- got\n%.*s--- expected\n%s",
		    what, (int) len, got, golden);
	}
}

static void
scen_msg(void *arg)
{
	msg_golden       *g   = arg;
	nghttpw_url      *u   = NULL;
	nghttpw_url      *u2  = NULL;
	nghttpw_http_req *req = NULL;
	nghttpw_http_res *res = NULL;
	nghttpw_http_res *err = NULL;
	static const char raw[] =
	    "http://user:pw@Example.TEST:8080/a/b%20c?x=1&y=2#frag";
	static unsigned char big[1000];
	const char *head;
	size_t      hlen;
	void       *data;
	size_t      size;
	char        old[256];

	fill_pattern(big, sizeof(big), 1);
	STEP(nghttpw_url_parse(&u, raw), true);
	STEP(nghttpw_url_clone(&u2, u), true);
	if (!str_same(u->u_rawurl, u2->u_rawurl) ||
	    !str_same(u->u_scheme, u2->u_scheme) ||
	    !str_same(u->u_userinfo, u2->u_userinfo) ||
	    !str_same(u->u_host, u2->u_host) ||
	    !str_same(u->u_hostname, u2->u_hostname) ||
	    !str_same(u->u_port, u2->u_port) ||
	    !str_same(u->u_path, u2->u_path) ||
	    !str_same(u->u_query, u2->u_query) ||
	    !str_same(u->u_fragment, u2->u_fragment) ||
	    !str_same(u->u_requri, u2->u_requri)) {
		bad("url_clone gave a different URL");
	}

	STEP(nghttpw_http_req_alloc(&req, u2), true);
	STEP(nghttpw_http_req_set_method(req, "POST"),
	    str_same(nghttpw_http_req_get_method(req), "GET"));
	STEP(nghttpw_http_req_add_header(req, "X-A", "1"),
	    nghttpw_http_req_get_header(req, "X-A") == NULL);
	STEP(nghttpw_http_req_add_header(req, "X-A", "2"),
	    str_same(nghttpw_http_req_get_header(req, "X-A"), "1"));
	for (int i = 0; i < 24; i++) {
		char name[16], value[64];
		snprintf(name, sizeof(name), "X-H%02d", i);
		snprintf(value, sizeof(value), "value %d of a longer header line", i);
		STEP(nghttpw_http_req_add_header(req, name, value),
		    nghttpw_http_req_get_header(req, name) == NULL);
	}
	copy_str(old, sizeof(old), nghttpw_http_req_get_header(req, "Host"));
	STEP(nghttpw_http_req_set_header(req, "Host",
	         "a-much-longer-host-name-than-before.example.test:8081"),
	    str_same(nghttpw_http_req_get_header(req, "Host"), old));
	STEP(nghttpw_http_req_add_header(req, "Set-Cookie", "a=1"), true);
	STEP(nghttpw_http_req_add_header(req, "Set-Cookie", "b=2"), true);
	STEP(nghttpw_http_req_del_header(req, "X-H03"), true);
	STEP(nghttpw_http_req_set_data(req, "hello", 5),
	    nghttpw_http_req_get_header(req, "Content-Length") == NULL);
	STEP(nghttpw_http_req_copy_data(req, big, sizeof(big)),
	    (nghttpw_http_req_get_data(req, &data, &size),
	        data != NULL && size == 5 && memcmp(data, "hello", 5) == 0 &&
	            str_same(nghttpw_http_req_get_header(req, "Content-Length"),
	                "5")));
	nghttpw_http_req_get_data(req, &data, &size);
	if (size != sizeof(big) || memcmp(data, big, size) != 0) {
		bad("copy_data kept the wrong body");
	}
	STEP(nhw_http_req_get_head(req, &head, &hlen), true);
	compare_golden(g->req_head, sizeof(g->req_head), head, hlen, "request head");

	/* Reset keeps buffers; new start line and fields. */
	nghttpw_http_req_reset(req);
	STEP(nghttpw_http_req_set_uri(req,
	         "/a/considerably/longer/request/target/than/the/first/one/"
	         "so/that/the/buffer/grows?with=a&query=string"),
	    str_same(nghttpw_http_req_get_uri(req), "/"));
	STEP(nghttpw_http_req_set_version(req, "HTTP/1.0"), true);
	STEP(nghttpw_http_req_set_header(req, "Connection", "keep-alive"),
	    nghttpw_http_req_get_header(req, "Connection") == NULL);
	STEP(nhw_http_req_get_head(req, &head, &hlen), true);
	compare_golden(g->req2_head, sizeof(g->req2_head), head, hlen,
	    "request head after reset");

	STEP(nghttpw_http_res_alloc(&res), true);
	STEP(nghttpw_http_res_set_status(res, 404), true);
	STEP(nghttpw_http_res_set_reason(res, "Nowhere To Be Found"),
	    str_same(nghttpw_http_res_get_reason(res), "Not Found"));
	STEP(nghttpw_http_res_set_version(res, "HTTP/1.0"), true);
	STEP(nghttpw_http_res_add_header(res, "Content-Type", "text/plain"),
	    nghttpw_http_res_get_header(res, "Content-Type") == NULL);
	STEP(nghttpw_http_res_set_header(res, "X-Res", "one"),
	    nghttpw_http_res_get_header(res, "X-Res") == NULL);
	STEP(nghttpw_http_res_set_header(res, "X-Res", "a longer second value"),
	    str_same(nghttpw_http_res_get_header(res, "X-Res"), "one"));
	STEP(nghttpw_http_res_copy_data(res, big, 300),
	    nghttpw_http_res_get_header(res, "Content-Length") == NULL);
	STEP(nhw_http_res_get_head(res, &head, &hlen), true);
	compare_golden(g->res_head, sizeof(g->res_head), head, hlen, "response head");

	STEP(nghttpw_http_res_alloc_error(&err, 503), true);
	nghttpw_http_res_get_data(err, &data, &size);
	if (oom_run_baseline()) {
		g->err_len = size;
	}
	if (size != g->err_len ||
	    memmem(data, size, "503 Service Unavailable", 23) == NULL) {
		bad("res_alloc_error made a wrong body");
	}
out:
	nghttpw_http_res_free(err);
	nghttpw_http_res_free(res);
	nghttpw_http_req_free(req);
	nghttpw_url_free(u2);
	nghttpw_url_free(u);
}

Test(oom, url_and_messages, .timeout = 300)
{
	static msg_golden g;

	run_loop("messages", OOM_THREAD, scen_msg, &g);
}

/* --------------------------------------------- 2. aios and stream pairs */

#define MANY_IOV 100

/* Points aio at what is left of src after skip bytes. */
static int
iov_rest(nghttpw_aio *aio, const nghttpw_iov *src, unsigned n, size_t skip)
{
	nghttpw_iov tmp[MANY_IOV];
	unsigned    k = 0;

	for (unsigned i = 0; i < n && k < MANY_IOV; i++) {
		if (skip >= src[i].iov_len) {
			skip -= src[i].iov_len;
			continue;
		}
		tmp[k].iov_buf = (char *) src[i].iov_buf + skip;
		tmp[k].iov_len = src[i].iov_len - skip;
		skip           = 0;
		k++;
	}
	return (nghttpw_aio_set_iov(aio, k, tmp));
}

static void
scen_streams(void *arg)
{
	static unsigned char out[MANY_IOV * 97];
	static unsigned char in[MANY_IOV * 97];
	nghttpw_iov      siov[MANY_IOV], riov[MANY_IOV];
	nghttpw_aio     *sa = NULL, *ra = NULL;
	nghttpw_stream  *m1 = NULL, *m2 = NULL, *t1 = NULL, *t2 = NULL;
	nghttpw_iov     *got;
	size_t           sent = 0, recvd = 0;
	int              rv;

	(void) arg;
	fill_pattern(out, sizeof(out), 2);
	memset(in, 0, sizeof(in));
	for (unsigned i = 0; i < MANY_IOV; i++) {
		siov[i] = (nghttpw_iov) { out + i * 97, 97 };
		riov[i] = (nghttpw_iov) { in + i * 97, 97 };
	}
	STEP((sa = aio_new(&rv)) == NULL ? rv : 0, true);
	STEP((ra = aio_new(&rv)) == NULL ? rv : 0, true);
	STEP(nghttpw_aio_set_iov(sa, 8, siov), nghttpw_aio_get_iov(sa, &got) == 0);
	STEP(nghttpw_aio_set_iov(sa, MANY_IOV, siov),
	    nghttpw_aio_get_iov(sa, &got) == 8 && got[0].iov_buf == out);
	STEP(nghttpw_aio_set_iov(ra, MANY_IOV, riov),
	    nghttpw_aio_get_iov(ra, &got) == 0);

	/* An in-memory pair: only the stream wrappers allocate. */
	if ((rv = mem_pair(&m1, &m2)) != 0) {
		first_failure(rv, "mem pair");
		goto out;
	}
	nghttpw_stream_free(m1);
	nghttpw_stream_free(m2);
	m1 = m2 = NULL;

	if ((rv = tcp_pair_checked(&t1, &t2)) != 0) {
		goto out;
	}
	/* Everything across, many entries at a time. */
	while (recvd < sizeof(in)) {
		if (sent < sizeof(out)) {
			if ((rv = iov_rest(sa, siov, MANY_IOV, sent)) != 0) {
				first_failure(rv, "set_iov (send)");
				goto out;
			}
			nghttpw_stream_send(t1, sa);
			if ((rv = wait_rv(sa, "send")) != 0) {
				first_failure(rv, "send");
				goto out;
			}
			sent += nghttpw_aio_count(sa);
		}
		if ((rv = iov_rest(ra, riov, MANY_IOV, recvd)) != 0) {
			first_failure(rv, "set_iov (recv)");
			goto out;
		}
		nghttpw_stream_recv(t2, ra);
		if ((rv = wait_rv(ra, "recv")) != 0) {
			first_failure(rv, "recv");
			goto out;
		}
		recvd += nghttpw_aio_count(ra);
	}
	if (memcmp(in, out, sizeof(in)) != 0) {
		bad("the bytes across the TCP pair differ");
	}
out:
	nghttpw_stream_free(t1);
	nghttpw_stream_free(t2);
	nghttpw_stream_free(m1);
	nghttpw_stream_free(m2);
	nghttpw_aio_free(sa);
	nghttpw_aio_free(ra);
}

Test(oom, aio_and_stream_pairs_thread, .timeout = 300)
{
	run_loop("streams", OOM_THREAD, scen_streams, NULL);
}

Test(oom, aio_and_stream_pairs_any_thread, .timeout = 300)
{
	run_loop("streams", OOM_ANY, scen_streams, NULL);
}

Test(oom, aio_and_stream_pairs_any_thread_from_n_on, .timeout = 300)
{
	run_loop_sticky("streams", OOM_ANY, scen_streams, NULL);
}

/* ------------------------------------------- 3. an http_conn exchange */

#define BODY1_LEN 3000
#define BODY2_LEN 5000

static unsigned char body1[BODY1_LEN];
static unsigned char body2[BODY2_LEN];
static char          chunked_res[8192];
static size_t        chunked_res_len;
static char          chunked_body[6000];
static size_t        chunked_body_len;
static char          big_value[6000]; /* a head larger than the buffer */

/* The scripted peer's answer: a chunked response, a trailer at the end. */
static void
build_bodies(void)
{
	static const size_t sizes[] = { 5, 7, 4500, 1 };
	char               *p       = chunked_res;

	fill_pattern(body1, sizeof(body1), 3);
	fill_pattern(body2, sizeof(body2), 4);
	memset(big_value, 'b', sizeof(big_value) - 1);
	big_value[sizeof(big_value) - 1] = '\0';
	/* An interim response first: transact skips it. */
	p += sprintf(p, "HTTP/1.1 100 Continue\r\n\r\n");
	p += sprintf(p, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
	                "X-Peer: scripted\r\n\r\n");
	chunked_body_len = 0;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		p += sprintf(p, "%zx\r\n", sizes[i]);
		for (size_t j = 0; j < sizes[i]; j++) {
			char c = (char) ('a' + (chunked_body_len + j) % 26);
			*p++   = c;
			chunked_body[chunked_body_len + j] = c;
		}
		chunked_body_len += sizes[i];
		p += sprintf(p, "\r\n");
	}
	p += sprintf(p, "0\r\nX-Trailer: t\r\n\r\n");
	chunked_res_len = (size_t) (p - chunked_res);
}

/* Waits for the peer's step while a transact is pending on the other
 * end: when the transact ends with an error first, nobody will answer the
 * peer, so its step is cancelled. */
static int
wait_peer(nghttpw_aio *peer, nghttpw_aio *tx, const char *what)
{
	while (nghttpw_aio_busy(peer)) {
		if (!nghttpw_aio_busy(tx) && nghttpw_aio_result(tx) != 0) {
			nghttpw_aio_cancel(peer);
			break;
		}
		nghttpw_msleep(1);
	}
	return (wait_rv(peer, what));
}

/* A setup or sequential step: its failure is the first of the run. */
static void
scen_conn(void *arg)
{
	const bool          *tcp  = arg;
	nghttpw_stream      *s1   = NULL, *s2 = NULL;
	nghttpw_http_conn   *cc   = NULL, *sc = NULL;
	nghttpw_url         *url  = NULL;
	nghttpw_http_req    *req  = NULL, *sreq = NULL, *req2 = NULL;
	nghttpw_http_res    *res  = NULL, *cres = NULL, *res2 = NULL;
	nghttpw_aio         *ca   = NULL, *pa = NULL, *ta = NULL;
	static unsigned char rbody[BODY2_LEN];
	nghttpw_iov          iov;
	void                *data;
	size_t               size;
	bool                 busy[3];
	int                  rv;

	if (*tcp) {
		if ((rv = tcp_pair_checked(&s1, &s2)) != 0) {
			goto out; /* reported */
		}
	} else {
		CHECK(mem_pair(&s1, &s2), "mem pair");
	}
	/* A connection owns its stream once made. */
	CHECK(nghttpw_http_conn_alloc(&cc, s1), "conn_alloc (client)");
	s1 = NULL;
	CHECK(nghttpw_http_conn_alloc(&sc, s2), "conn_alloc (server)");
	s2 = NULL;
	CHECK((ca = aio_new(&rv)) == NULL ? rv : 0, "aio_alloc");
	CHECK((pa = aio_new(&rv)) == NULL ? rv : 0, "aio_alloc");
	CHECK((ta = aio_new(&rv)) == NULL ? rv : 0, "aio_alloc");
	CHECK(nghttpw_url_parse(&url, "http://server.test/upload?id=7"),
	    "url_parse");
	CHECK(nghttpw_http_req_alloc(&req, url), "req_alloc");
	CHECK(nghttpw_http_req_set_method(req, "PUT"), "req_set_method");
	CHECK(nghttpw_http_req_add_header(req, "X-Req", "first"), "req_add_header");
	CHECK(nghttpw_http_req_add_header(req, "X-Big", big_value), "req_add_header");
	CHECK(nghttpw_http_req_copy_data(req, body1, BODY1_LEN), "req_copy_data");
	CHECK(nghttpw_http_req_alloc(&sreq, NULL), "req_alloc");
	CHECK(nghttpw_http_req_alloc(&req2, url), "req_alloc");
	CHECK(nghttpw_http_req_set_uri(req2, "/chunked"), "req_set_uri");
	CHECK(nghttpw_http_res_alloc(&res), "res_alloc");
	CHECK(nghttpw_http_res_set_status(res, 201), "res_set_status");
	CHECK(nghttpw_http_res_add_header(res, "X-Res", "second"), "res_add_header");
	CHECK(nghttpw_http_res_copy_data(res, body2, BODY2_LEN), "res_copy_data");
	CHECK(nghttpw_http_res_alloc(&cres), "res_alloc");
	CHECK(nghttpw_http_res_alloc(&res2), "res_alloc");

	/* The request: written whole, read as head then body. */
	nghttpw_http_conn_write_req(cc, req, ca);
	CHECK(wait_rv(ca, "write_req"), "write_req");
	nghttpw_http_conn_read_req(sc, sreq, pa);
	CHECK(wait_rv(pa, "read_req"), "read_req");
	VERIFY(str_same(nghttpw_http_req_get_method(sreq), "PUT") &&
	        str_same(nghttpw_http_req_get_uri(sreq), "/upload?id=7") &&
	        str_same(nghttpw_http_req_get_header(sreq, "X-Req"), "first") &&
	        str_same(nghttpw_http_req_get_header(sreq, "X-Big"), big_value),
	    "read_req gave a wrong request head");
	http_conn_read_body(sc, sreq, 1u << 20, pa);
	CHECK(wait_rv(pa, "read_body"), "http_conn_read_body");
	nghttpw_http_req_get_data(sreq, &data, &size);
	VERIFY(size == BODY1_LEN && memcmp(data, body1, size) == 0,
	    "read_body gave a wrong body (%zu bytes)", size);

	/* The response: written whole, read as head then raw body. */
	nghttpw_http_conn_write_res(sc, res, pa);
	CHECK(wait_rv(pa, "write_res"), "write_res");
	nghttpw_http_conn_read_res(cc, cres, ca);
	CHECK(wait_rv(ca, "read_res"), "read_res");
	VERIFY(nghttpw_http_res_get_status(cres) == 201 &&
	        str_same(nghttpw_http_res_get_header(cres, "X-Res"), "second") &&
	        str_same(nghttpw_http_res_get_header(cres, "Content-Length"),
	            "5000"),
	    "read_res gave a wrong response head");
	iov = (nghttpw_iov) { rbody, BODY2_LEN };
	CHECK(nghttpw_aio_set_iov(ca, 1, &iov), "set_iov");
	nghttpw_http_conn_read_all(cc, ca);
	CHECK(wait_rv(ca, "read_all"), "read_all");
	VERIFY(nghttpw_aio_count(ca) == BODY2_LEN &&
	        memcmp(rbody, body2, BODY2_LEN) == 0,
	    "read_all gave a wrong body");

	/* Transact, answered by the scripted peer in chunks. */
	nghttpw_http_conn_transact(cc, req2, res2, ta);
	nghttpw_http_conn_read_req(sc, sreq, pa);
	if ((rv = wait_peer(pa, ta, "peer read_req")) != 0) {
		goto tx_failed;
	}
	VERIFY(str_same(nghttpw_http_req_get_uri(sreq), "/chunked"),
	    "the peer read a wrong request");
	iov = (nghttpw_iov) { chunked_res, chunked_res_len };
	if ((rv = nghttpw_aio_set_iov(pa, 1, &iov)) != 0) {
		goto tx_failed;
	}
	nghttpw_http_conn_write_all(sc, pa);
	if ((rv = wait_peer(pa, ta, "peer write_all")) != 0) {
		goto tx_failed;
	}
	CHECK(wait_rv(ta, "transact"), "transact");
	nghttpw_http_res_get_data(res2, &data, &size);
	VERIFY(nghttpw_http_res_get_status(res2) == 200 &&
	        str_same(nghttpw_http_res_get_header(res2, "X-Peer"), "scripted") &&
	        size == chunked_body_len &&
	        memcmp(data, chunked_body, size) == 0,
	    "transact gave a wrong response (status %u, %zu body bytes)",
	    nghttpw_http_res_get_status(res2), size);
	goto out;

tx_failed:
	if (!nghttpw_aio_busy(ta) && nghttpw_aio_result(ta) != 0) {
		/* The transact failed first; the peer gave up. */
		first_failure(nghttpw_aio_result(ta), "transact");
		later_failure(rv, "the peer's step");
	} else {
		first_failure(rv, "the peer's step");
		/* The peer goes away: the transact must end. */
		nghttpw_http_conn_close(sc);
		sc = NULL;
		later_failure(wait_rv(ta, "transact"), "transact");
		nghttpw_aio_wait(pa);
	}
out:
	/* Closing fails whatever is still pending; nothing may then hang. */
	busy[0] = ca != NULL && nghttpw_aio_busy(ca);
	busy[1] = pa != NULL && nghttpw_aio_busy(pa);
	busy[2] = ta != NULL && nghttpw_aio_busy(ta);
	nghttpw_http_conn_close(cc);
	nghttpw_http_conn_close(sc);
	if (busy[0]) {
		later_failure(wait_rv(ca, "client aio after close"), "client aio");
	}
	if (busy[1]) {
		later_failure(wait_rv(pa, "peer aio after close"), "peer aio");
	}
	if (busy[2]) {
		later_failure(wait_rv(ta, "transact after close"), "transact");
	}
	nghttpw_aio_free(ca);
	nghttpw_aio_free(pa);
	nghttpw_aio_free(ta);
	nghttpw_http_req_free(req);
	nghttpw_http_req_free(sreq);
	nghttpw_http_req_free(req2);
	nghttpw_http_res_free(res);
	nghttpw_http_res_free(cres);
	nghttpw_http_res_free(res2);
	nghttpw_url_free(url);
	nghttpw_stream_free(s1);
	nghttpw_stream_free(s2);
}

Test(oom, http_conn_exchange_mem_thread, .timeout = 300)
{
	static const bool tcp = false;

	build_bodies();
	run_loop("conn-mem", OOM_THREAD, scen_conn, (void *) &tcp);
}

Test(oom, http_conn_exchange_mem_any_thread, .timeout = 300)
{
	static const bool tcp = false;

	build_bodies();
	run_loop("conn-mem", OOM_ANY, scen_conn, (void *) &tcp);
}

Test(oom, http_conn_exchange_tcp_thread, .timeout = 300)
{
	static const bool tcp = true;

	build_bodies();
	run_loop("conn-tcp", OOM_THREAD, scen_conn, (void *) &tcp);
}

Test(oom, http_conn_exchange_tcp_any_thread, .timeout = 300)
{
	static const bool tcp = true;

	build_bodies();
	run_loop("conn-tcp", OOM_ANY, scen_conn, (void *) &tcp);
}

Test(oom, http_conn_exchange_tcp_any_thread_from_n_on, .timeout = 300)
{
	static const bool tcp = true;

	build_bodies();
	run_loop_sticky("conn-tcp", OOM_ANY, scen_conn, (void *) &tcp);
}

Test(oom, http_conn_exchange_mem_any_thread_from_n_on, .timeout = 300)
{
	static const bool tcp = false;

	build_bodies();
	run_loop_sticky("conn-mem", OOM_ANY, scen_conn, (void *) &tcp);
}

/* ------------------------------------------ 4. our client and our server */

#ifndef NGHTTPW_SOURCE_DIR
#define NGHTTPW_SOURCE_DIR "."
#endif
#define SERVED_FILE NGHTTPW_SOURCE_DIR "/README.adoc"

static char          static_page[4000];
static char          file_body[1 << 16];
static size_t        file_len;
static unsigned char echo_body[10000];
static const char    page_404[] = "<p>not here</p>";

/* A handler that answers with the body it collected. */
static void
echo_cb(nghttpw_aio *aio)
{
	nghttpw_http_req *req = nghttpw_aio_get_input(aio, 0);
	nghttpw_http_res *res;
	void             *data;
	size_t            size;
	int               rv;

	nghttpw_http_req_get_data(req, &data, &size);
	if ((rv = nghttpw_http_res_alloc(&res)) != 0) {
		nghttpw_aio_finish(aio, rv);
		return;
	}
	if ((rv = nghttpw_http_res_set_header(
	         res, "Content-Type", "application/octet-stream")) != 0 ||
	    (rv = nghttpw_http_res_copy_data(res, data, size)) != 0) {
		nghttpw_http_res_free(res);
		nghttpw_aio_finish(aio, rv);
		return;
	}
	nghttpw_aio_set_output(aio, 0, res);
	nghttpw_aio_finish(aio, 0);
}

enum { BODY_NONE, BODY_ANY, BODY_STATIC, BODY_ECHO, BODY_404, BODY_FILE };

typedef struct srv_req {
	const char *method;
	const char *path;
	bool        body;   /* sends echo_body */
	bool        expect; /* with Expect: 100-continue */
	bool        big;    /* with a head larger than the read buffer */
	uint16_t    status;
	int         expect_body;
	bool        idle; /* after a pause: the server's connection gave its
	                   * buffers back and makes them again (I/O thread) */
} srv_req;

static const srv_req srv_reqs[] = {
	{ "GET", "/static", false, false, false, 200, BODY_STATIC, false },
	/* Over the kept connection, with a head that grows the buffer. */
	{ "GET", "/static", false, false, true, 200, BODY_STATIC, false },
	/* The client composes this one itself (body after 100). */
	{ "POST", "/echo", true, true, false, 200, BODY_ECHO, false },
	{ "PUT", "/echo", true, false, false, 200, BODY_ECHO, false },
	{ "GET", "/missing", false, false, false, 404, BODY_404, false },
	{ "HEAD", "/static", false, false, false, 200, BODY_NONE, false },
	{ "GET", "/redir", false, false, false, 301, BODY_ANY, false },
	{ "GET", "/file", false, false, false, 200, BODY_FILE, false },
	{ "GET", "/static", false, false, false, 200, BODY_STATIC, true },
};

static bool
check_response(const srv_req *r, nghttpw_http_res *res)
{
	void  *data;
	size_t size;

	nghttpw_http_res_get_data(res, &data, &size);
	if (nghttpw_http_res_get_status(res) != r->status) {
		return (false);
	}
	switch (r->expect_body) {
	case BODY_NONE:
		return (size == 0 &&
		    str_same(nghttpw_http_res_get_header(res, "Content-Length"),
		        "4000"));
	case BODY_STATIC:
		return (size == sizeof(static_page) &&
		    memcmp(data, static_page, size) == 0);
	case BODY_ECHO:
		return (size == sizeof(echo_body) &&
		    memcmp(data, echo_body, size) == 0);
	case BODY_404:
		return (size == strlen(page_404) && memcmp(data, page_404, size) == 0);
	case BODY_FILE:
		return (size == file_len && memcmp(data, file_body, size) == 0);
	default:
		return (r->status != 301 ||
		    str_same(nghttpw_http_res_get_header(res, "Location"), "/static"));
	}
}

/* Adds h to the server, which then owns it (else it is freed). */
static int
add_handler(nghttpw_http_server *srv, nghttpw_http_handler *h)
{
	int rv;

	if ((rv = nghttpw_http_server_add_handler(srv, h)) != 0) {
		nghttpw_http_handler_free(h);
	}
	return (rv);
}

static void
scen_server(void *arg)
{
	const oom_scope      *scope = arg;
	nghttpw_url          *surl  = NULL, *curl = NULL;
	nghttpw_http_server  *srv   = NULL;
	nghttpw_http_handler *h     = NULL;
	nghttpw_http_client  *cl    = NULL;
	nghttpw_http_req     *req   = NULL;
	nghttpw_http_res     *res   = NULL;
	nghttpw_aio          *aio   = NULL;
	nghttpw_sockaddr      sa;
	char                  url[64];
	int                   rv;

	CHECK(nghttpw_url_parse(&surl, "http://127.0.0.1:0"), "url_parse");
	CHECK(nghttpw_http_server_hold(&srv, surl), "server_hold");
	CHECK(nghttpw_http_handler_alloc_static(&h, "/static", static_page,
	          sizeof(static_page), "text/plain"),
	    "handler_alloc_static");
	CHECK(add_handler(srv, h), "server_add_handler");
	CHECK(nghttpw_http_handler_alloc(&h, "/echo", echo_cb), "handler_alloc");
	if ((rv = nghttpw_http_handler_set_method(h, NULL)) != 0 ||
	    (rv = nghttpw_http_handler_collect_body(h, true, 1u << 20)) != 0) {
		nghttpw_http_handler_free(h);
		CHECK(rv, "handler_set_method/collect_body");
	}
	CHECK(add_handler(srv, h), "server_add_handler");
	CHECK(nghttpw_http_handler_alloc_redirect(&h, "/redir", 301, "/static"),
	    "handler_alloc_redirect");
	CHECK(add_handler(srv, h), "server_add_handler");
	CHECK(nghttpw_http_handler_alloc_file(&h, "/file", SERVED_FILE),
	    "handler_alloc_file");
	CHECK(add_handler(srv, h), "server_add_handler");
	CHECK(nghttpw_http_server_set_error_page(srv, 404, page_404),
	    "server_set_error_page");
	CHECK(nghttpw_http_server_set_stop_timeout(srv, 1000), "set_stop_timeout");
	CHECK(nghttpw_http_server_start(srv), "server_start");
	CHECK(nghttpw_http_server_get_addr(srv, &sa), "server_get_addr");
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/",
	    (unsigned) ntohs(sa.s_in.sa_port));
	CHECK(nghttpw_url_parse(&curl, url), "url_parse");
	CHECK(nghttpw_http_client_alloc(&cl, curl), "client_alloc");
	CHECK(nghttpw_http_req_alloc(&req, curl), "req_alloc");
	CHECK(nghttpw_http_res_alloc(&res), "res_alloc");
	CHECK((aio = aio_new(&rv)) == NULL ? rv : 0, "aio_alloc");

	for (size_t i = 0; i < sizeof(srv_reqs) / sizeof(srv_reqs[0]); i++) {
		const srv_req *r = &srv_reqs[i];

		if (r->idle && *scope == OOM_ANY) {
			nghttpw_msleep(80); /* past the 50 ms idle linger */
		}
		nghttpw_http_req_reset(req);
		CHECK(nghttpw_http_req_set_method(req, r->method), "req_set_method");
		CHECK(nghttpw_http_req_set_uri(req, r->path), "req_set_uri");
		if (r->body) {
			CHECK(nghttpw_http_req_set_data(req, echo_body, sizeof(echo_body)),
			    "req_set_data");
		}
		if (r->expect) {
			CHECK(nghttpw_http_req_set_header(req, "Expect", "100-continue"),
			    "req_set_header");
		}
		if (r->big) {
			CHECK(nghttpw_http_req_set_header(req, "X-Big", big_value),
			    "req_set_header");
		}
		nghttpw_http_client_transact(cl, req, res, aio);
		rv = wait_rv(aio, "client_transact");
		if (rv != 0) {
			/* The client met the failure (ENOMEM), or the server
			 * did and closed the connection (only when the I/O
			 * threads' allocations fail too). */
			if (*scope == OOM_ANY && oom_fired() &&
			    (rv == NGHTTPW_ECLOSED || rv == NGHTTPW_ECONNRESET)) {
				break;
			}
			first_failure(rv, "client_transact");
			break;
		}
		if (nghttpw_http_res_get_status(res) ==
		        NGHTTPW_HTTP_STATUS_INTERNAL_SERVER_ERROR &&
		    *scope == OOM_ANY && oom_fired()) {
			continue; /* the server met it, in a handler */
		}
		VERIFY(check_response(r, res),
		    "%s %s: status %u (expected %u) or a wrong body", r->method,
		    r->path, nghttpw_http_res_get_status(res), r->status);
	}
out:
	if (aio != NULL) {
		nghttpw_aio_wait(aio);
	}
	nghttpw_aio_free(aio);
	nghttpw_http_client_free(cl);
	nghttpw_http_req_free(req);
	nghttpw_http_res_free(res);
	nghttpw_http_server_release(srv); /* stops it, frees its handlers */
	nghttpw_url_free(curl);
	nghttpw_url_free(surl);
}

static void
server_bodies(void)
{
	int     fd = open(SERVED_FILE, O_RDONLY);
	ssize_t n;

	cr_assert_geq(fd, 0, "cannot open %s", SERVED_FILE);
	n = read(fd, file_body, sizeof(file_body));
	close(fd);
	cr_assert(n > 0 && (size_t) n < sizeof(file_body));
	file_len = (size_t) n;
	build_bodies();
	memset(static_page, 'x', sizeof(static_page));
	fill_pattern(echo_body, sizeof(echo_body), 5);
}

Test(oom, client_and_server_thread, .timeout = 600)
{
	static const oom_scope scope = OOM_THREAD;

	server_bodies();
	run_loop("server", OOM_THREAD, scen_server, (void *) &scope);
}

Test(oom, client_and_server_any_thread, .timeout = 600)
{
	static const oom_scope scope = OOM_ANY;

	server_bodies();
	run_loop("server", OOM_ANY, scen_server, (void *) &scope);
}

Test(oom, client_and_server_any_thread_from_n_on, .timeout = 600)
{
	static const oom_scope scope = OOM_ANY;

	server_bodies();
	run_loop_sticky("server", OOM_ANY, scen_server, (void *) &scope);
}
