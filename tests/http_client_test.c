/* The HTTP client against scripted peers: a loopback listener whose
 * accepted connections a test thread drives with exact bytes.  Checks
 * framing of the response, keep-alive reuse (counting accepted
 * connections), the retry when an idle connection was closed by the
 * server, Expect: 100-continue, redirects returned as they are, timeouts,
 * cancellation and refused connections. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nghttpw/http.h"
#include "support/http_util.h"
#include "support/pairs.h"

/* ------------------------------------------------------ scripted peer */

typedef struct peer peer;

/* Serves the index-th accepted connection (from 0).  The stream is freed
 * by the caller afterwards. */
typedef void (*serve_fn)(peer *p, nghttpw_stream *s, int index);

#define MAX_SEEN 8

struct peer {
	nghttpw_stream_listener *l;
	int                      port;
	char                     url[96];
	pthread_t                thr;
	serve_fn                 serve;
	atomic_int               accepts;
	atomic_int               finished; /* connections served and freed */
	/* What the peer saw, for the test to check afterwards. */
	pthread_mutex_t mtx;
	char           *heads[MAX_SEEN];
	char           *bodies[MAX_SEEN];
	int             nseen;
	size_t          extra[MAX_SEEN]; /* bytes after a request (417) */
};

static void *
peer_thread(void *arg)
{
	peer        *p = arg;
	nghttpw_aio *aio;

	cr_assert_eq(nghttpw_aio_alloc(&aio, NULL, NULL), 0);
	for (;;) {
		nghttpw_stream *s;
		nghttpw_aio_set_timeout(aio, 20000);
		nghttpw_stream_listener_accept(p->l, aio);
		nghttpw_aio_wait(aio);
		if (nghttpw_aio_result(aio) != 0) {
			break; /* the listener was closed */
		}
		s     = nghttpw_aio_get_output(aio, 0);
		int i = atomic_fetch_add(&p->accepts, 1);
		p->serve(p, s, i);
		nghttpw_stream_free(s);
		atomic_fetch_add(&p->finished, 1);
	}
	nghttpw_aio_free(aio);
	return (NULL);
}

static void
peer_start(peer *p, serve_fn serve)
{
	memset(p, 0, sizeof(*p));
	pthread_mutex_init(&p->mtx, NULL);
	p->serve = serve;
	cr_assert_eq(nghttpw_stream_listener_alloc(&p->l, "tcp://127.0.0.1:0"), 0);
	cr_assert_eq(nghttpw_stream_listener_listen(p->l), 0);
	cr_assert_eq(nghttpw_stream_listener_get_int(
	                 p->l, NGHTTPW_OPT_TCP_BOUND_PORT, &p->port),
	    0);
	snprintf(p->url, sizeof(p->url), "http://127.0.0.1:%d/path?q=1", p->port);
	cr_assert_eq(pthread_create(&p->thr, NULL, peer_thread, p), 0);
}

static void
peer_stop(peer *p)
{
	nghttpw_stream_listener_close(p->l);
	pthread_join(p->thr, NULL);
	nghttpw_stream_listener_free(p->l);
	for (int i = 0; i < p->nseen; i++) {
		free(p->heads[i]);
		free(p->bodies[i]);
	}
	pthread_mutex_destroy(&p->mtx);
}

/* Waits (bounded) until n connections have been served completely. */
static void
peer_wait_finished(peer *p, int n)
{
	for (int i = 0; i < 500 && atomic_load(&p->finished) < n; i++) {
		nghttpw_msleep(10);
	}
	cr_assert_geq(atomic_load(&p->finished), n, "peer served %d of %d",
	    atomic_load(&p->finished), n);
}

static void
send_text(nghttpw_stream *s, const char *text)
{
	cr_assert_eq(send_all(s, text, strlen(text), NULL), 0);
}

/* Reads a request head (up to the blank line) and its Content-Length
 * body; records both.  Returns 0, or the error (ECLOSED when the client
 * closed the connection between requests). */
static int
read_request(peer *p, nghttpw_stream *s, char **headp)
{
	size_t      cap = 8192, len = 0;
	char       *head = calloc(1, cap);
	char       *body = NULL;
	const char *cl;
	int         rv;

	while (len < 4 || memcmp(head + len - 4, "\r\n\r\n", 4) != 0) {
		cr_assert_lt(len, cap - 1);
		if ((rv = recv_all(s, head + len, 1, NULL)) != 0) {
			free(head);
			return (rv);
		}
		len++;
	}
	if ((cl = strstr(head, "Content-Length: ")) != NULL &&
	    strstr(head, "Expect: 100-continue") == NULL) {
		size_t n = strtoul(cl + 16, NULL, 10);
		body     = calloc(1, n + 1);
		if (n > 0) {
			cr_assert_eq(recv_all(s, body, n, NULL), 0);
		}
	}
	pthread_mutex_lock(&p->mtx);
	if (p->nseen < MAX_SEEN) {
		p->heads[p->nseen]  = strdup(head);
		p->bodies[p->nseen] = body;
		p->nseen++;
		body = NULL;
	}
	pthread_mutex_unlock(&p->mtx);
	free(body);
	if (headp != NULL) {
		*headp = head;
	} else {
		free(head);
	}
	return (0);
}

/* Reads until the client closes; returns the bytes received. */
static size_t
drain_until_close(nghttpw_stream *s)
{
	char   buf[256];
	size_t total = 0;

	for (;;) {
		nghttpw_iov iov = { buf, sizeof(buf) };
		size_t      n   = 0;
		if (sync_op(nghttpw_stream_recv, s, &iov, 1, 10000, &n) != 0) {
			return (total);
		}
		total += n;
	}
}

/* ---------------------------------------------------- client helpers */

static nghttpw_http_client *
client_for(peer *p)
{
	nghttpw_url         *url;
	nghttpw_http_client *c;

	cr_assert_eq(nghttpw_url_parse(&url, p->url), 0);
	cr_assert_eq(nghttpw_http_client_alloc(&c, url), 0);
	nghttpw_url_free(url);
	return (c);
}

typedef struct {
	nghttpw_http_req *req;
	nghttpw_http_res *res;
	int               rv;
	nghttpw_duration  ms; /* how long the transact took */
} exchange;

/* One transact with a request for uri (Host left to the client). */
static exchange
do_transact(nghttpw_http_client *c, const char *method, const char *uri,
    const char *body, nghttpw_duration timeout)
{
	exchange     x;
	nghttpw_aio *aio;
	nghttpw_time t0;

	cr_assert_eq(nghttpw_aio_alloc(&aio, NULL, NULL), 0);
	nghttpw_aio_set_timeout(aio, timeout);
	cr_assert_eq(nghttpw_http_req_alloc(&x.req, NULL), 0);
	cr_assert_eq(nghttpw_http_res_alloc(&x.res), 0);
	cr_assert_eq(nghttpw_http_req_set_method(x.req, method), 0);
	cr_assert_eq(nghttpw_http_req_set_uri(x.req, uri), 0);
	if (body != NULL) {
		cr_assert_eq(nghttpw_http_req_copy_data(x.req, body, strlen(body)), 0);
	}
	t0 = nghttpw_clock();
	nghttpw_http_client_transact(c, x.req, x.res, aio);
	nghttpw_aio_wait(aio);
	x.ms = (nghttpw_duration) (nghttpw_clock() - t0);
	x.rv = nghttpw_aio_result(aio);
	nghttpw_aio_free(aio);
	return (x);
}

static void
exchange_free(exchange *x)
{
	nghttpw_http_req_free(x->req);
	nghttpw_http_res_free(x->res);
}

static void
assert_body(nghttpw_http_res *res, const char *expect)
{
	void  *body;
	size_t size;

	nghttpw_http_res_get_data(res, &body, &size);
	cr_assert_eq(size, strlen(expect), "body size %zu, want %zu", size,
	    strlen(expect));
	if (size > 0) {
		cr_assert_arr_eq(body, expect, size);
	}
}

/* Transacts a GET and checks 200 with the given body. */
static void
get_ok(nghttpw_http_client *c, const char *uri, const char *expect)
{
	exchange x = do_transact(c, "GET", uri, NULL, 5000);
	cr_assert_eq(x.rv, 0, "transact: %s", nghttpw_strerror(x.rv));
	cr_assert_eq(nghttpw_http_res_get_status(x.res), 200);
	assert_body(x.res, expect);
	exchange_free(&x);
}

/* -------------------------------------------------------------- scripts */

/* Any number of requests, each answered with "hello" and kept alive. */
static void
serve_keepalive(peer *p, nghttpw_stream *s, int index)
{
	(void) index;
	while (read_request(p, s, NULL) == 0) {
		send_text(s, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
	}
}

Test(http_client, alloc_checks_arguments)
{
	nghttpw_http_client *c;
	nghttpw_url         *url;

	cr_assert_eq(nghttpw_http_client_alloc(NULL, NULL), NGHTTPW_EINVAL);
	/* ws:// is HTTP over TCP too, as in nng (a WebSocket dialer's). */
	cr_assert_eq(nghttpw_url_parse(&url, "ws://127.0.0.1:80/"), 0);
	cr_assert_eq(nghttpw_http_client_alloc(&c, url), 0);
	nghttpw_http_client_free(c);
	cr_assert_eq(nghttpw_http_client_alloc(&c, NULL), NGHTTPW_EINVAL);
	nghttpw_url_free(url);
	cr_assert_eq(nghttpw_url_parse(&url, "tcp://127.0.0.1:80"), 0);
	cr_assert_eq(nghttpw_http_client_alloc(&c, url), NGHTTPW_ENOTSUP);
	nghttpw_url_free(url);

	/* A plain http client has no TLS configuration to give or take. */
	cr_assert_eq(nghttpw_url_parse(&url, "http://127.0.0.1:80/"), 0);
	cr_assert_eq(nghttpw_http_client_alloc(&c, url), 0);
	nghttpw_url_free(url);
	nghttpw_tls_config *cfg = NULL;
	cr_assert_neq(nghttpw_http_client_get_tls(c, &cfg), 0);
	cr_assert_neq(nghttpw_http_client_set_tls(c, NULL), 0);
	cr_assert_eq(nghttpw_http_client_get_tls(NULL, &cfg), NGHTTPW_EINVAL);
	nghttpw_http_client_free(c);
	nghttpw_http_client_free(NULL);
}

Test(http_client, null_arguments_fail_the_aio)
{
	nghttpw_aio      *aio;
	nghttpw_http_req *req;
	nghttpw_http_res *res;

	cr_assert_eq(nghttpw_aio_alloc(&aio, NULL, NULL), 0);
	nghttpw_http_req_alloc(&req, NULL);
	nghttpw_http_res_alloc(&res);
	nghttpw_http_client_transact(NULL, req, res, aio);
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), NGHTTPW_EINVAL);
	nghttpw_http_client_connect(NULL, aio);
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), NGHTTPW_EINVAL);
	nghttpw_http_req_free(req);
	nghttpw_http_res_free(res);
	nghttpw_aio_free(aio);
}

Test(http_client, connect_gives_a_working_connection)
{
	peer                 p;
	nghttpw_http_client *c;
	nghttpw_http_conn   *conn;
	nghttpw_aio         *aio;
	nghttpw_http_req    *req;
	nghttpw_http_res    *res;

	peer_start(&p, serve_keepalive);
	c = client_for(&p);
	cr_assert_eq(nghttpw_aio_alloc(&aio, NULL, NULL), 0);
	nghttpw_aio_set_timeout(aio, 5000);
	nghttpw_http_client_connect(c, aio);
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), 0);
	conn = nghttpw_aio_get_output(aio, 0);
	cr_assert_not_null(conn);

	nghttpw_http_req_alloc(&req, NULL);
	nghttpw_http_req_set_header(req, "Host", "example.test");
	nghttpw_http_res_alloc(&res);
	nghttpw_http_conn_transact(conn, req, res, aio);
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), 0);
	cr_assert_eq(nghttpw_http_res_get_status(res), 200);
	assert_body(res, "hello");
	nghttpw_http_conn_close(conn);
	peer_wait_finished(&p, 1);
	cr_assert_str_eq(p.heads[0], "GET / HTTP/1.1\r\nHost: example.test\r\n\r\n");

	nghttpw_http_req_free(req);
	nghttpw_http_res_free(res);
	nghttpw_aio_free(aio);
	nghttpw_http_client_free(c);
	peer_stop(&p);
}

static void
serve_chunked(peer *p, nghttpw_stream *s, int index)
{
	(void) index;
	if (read_request(p, s, NULL) == 0) {
		send_text(s, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		             "5\r\nhello\r\n7;x=y\r\n, world\r\n0\r\nX-T: 1\r\n\r\n");
		drain_until_close(s);
	}
}

static void
serve_until_close(peer *p, nghttpw_stream *s, int index)
{
	(void) index;
	if (read_request(p, s, NULL) == 0) {
		send_text(s, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n"
		             "everything until the end");
	}
}

Test(http_client, transact_content_length_and_host_from_url)
{
	peer                 p;
	nghttpw_http_client *c;
	char                 host[64];

	peer_start(&p, serve_keepalive);
	c = client_for(&p);
	get_ok(c, "/a", "hello");
	nghttpw_http_client_free(c);
	peer_wait_finished(&p, 1);
	snprintf(host, sizeof(host), "Host: 127.0.0.1:%d\r\n", p.port);
	cr_assert(strncmp(p.heads[0], "GET /a HTTP/1.1\r\n", 17) == 0, "%s",
	    p.heads[0]);
	cr_assert_not_null(strstr(p.heads[0], host), "%s", p.heads[0]);
	peer_stop(&p);
}

Test(http_client, transact_keeps_a_host_it_was_given)
{
	peer                 p;
	nghttpw_http_client *c;
	nghttpw_aio         *aio;
	nghttpw_http_req    *req;
	nghttpw_http_res    *res;

	peer_start(&p, serve_keepalive);
	c = client_for(&p);
	cr_assert_eq(nghttpw_aio_alloc(&aio, NULL, NULL), 0);
	nghttpw_aio_set_timeout(aio, 5000);
	nghttpw_http_req_alloc(&req, NULL);
	nghttpw_http_req_set_header(req, "Host", "virtual.test");
	nghttpw_http_res_alloc(&res);
	nghttpw_http_client_transact(c, req, res, aio);
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), 0);
	nghttpw_http_client_free(c);
	peer_wait_finished(&p, 1);
	cr_assert_str_eq(p.heads[0], "GET / HTTP/1.1\r\nHost: virtual.test\r\n\r\n");
	nghttpw_http_req_free(req);
	nghttpw_http_res_free(res);
	nghttpw_aio_free(aio);
	peer_stop(&p);
}

Test(http_client, transact_chunked)
{
	peer                 p;
	nghttpw_http_client *c;

	peer_start(&p, serve_chunked);
	c = client_for(&p);
	get_ok(c, "/", "hello, world");
	nghttpw_http_client_free(c);
	peer_stop(&p);
}

Test(http_client, transact_close_delimited_then_new_connection)
{
	peer                 p;
	nghttpw_http_client *c;

	peer_start(&p, serve_until_close);
	c = client_for(&p);
	get_ok(c, "/", "everything until the end");
	get_ok(c, "/", "everything until the end");
	cr_assert_eq(atomic_load(&p.accepts), 2);
	nghttpw_http_client_free(c);
	peer_stop(&p);
}

Test(http_client, keep_alive_reuses_one_connection)
{
	peer                 p;
	nghttpw_http_client *c;

	peer_start(&p, serve_keepalive);
	c = client_for(&p);
	for (int i = 0; i < 3; i++) {
		get_ok(c, "/", "hello");
	}
	cr_assert_eq(atomic_load(&p.accepts), 1);
	nghttpw_http_client_free(c);
	/* Freeing the client closed the idle connection. */
	peer_wait_finished(&p, 1);
	cr_assert_eq(p.nseen, 3);
	peer_stop(&p);
}

static void
serve_conn_close(peer *p, nghttpw_stream *s, int index)
{
	(void) index;
	if (read_request(p, s, NULL) == 0) {
		send_text(s, "HTTP/1.1 200 OK\r\nConnection: close\r\n"
		             "Content-Length: 5\r\n\r\nhello");
		/* Keep it open: the client must close it by itself. */
		drain_until_close(s);
	}
}

Test(http_client, no_reuse_after_connection_close)
{
	peer                 p;
	nghttpw_http_client *c;

	peer_start(&p, serve_conn_close);
	c = client_for(&p);
	get_ok(c, "/", "hello");
	get_ok(c, "/", "hello");
	cr_assert_eq(atomic_load(&p.accepts), 2);
	/* Neither connection was kept: both are closed already. */
	peer_wait_finished(&p, 2);
	nghttpw_http_client_free(c);
	peer_stop(&p);
}

Test(http_client, no_reuse_when_the_request_says_close)
{
	peer                 p;
	nghttpw_http_client *c;
	nghttpw_aio         *aio;
	nghttpw_http_req    *req;
	nghttpw_http_res    *res;

	peer_start(&p, serve_keepalive);
	c = client_for(&p);
	cr_assert_eq(nghttpw_aio_alloc(&aio, NULL, NULL), 0);
	nghttpw_aio_set_timeout(aio, 5000);
	nghttpw_http_req_alloc(&req, NULL);
	nghttpw_http_req_set_header(req, "Connection", "close");
	nghttpw_http_res_alloc(&res);
	nghttpw_http_client_transact(c, req, res, aio);
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), 0);
	/* The client closed it: the server sees the end. */
	peer_wait_finished(&p, 1);
	get_ok(c, "/", "hello");
	cr_assert_eq(atomic_load(&p.accepts), 2);
	nghttpw_http_req_free(req);
	nghttpw_http_res_free(res);
	nghttpw_aio_free(aio);
	nghttpw_http_client_free(c);
	peer_stop(&p);
}

/* An HTTP/1.0 answer without keep-alive ends its connection. */
static void
serve_http10(peer *p, nghttpw_stream *s, int index)
{
	(void) index;
	if (read_request(p, s, NULL) == 0) {
		send_text(s, "HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello");
		drain_until_close(s);
	}
}

Test(http_client, http10_response_is_not_reused)
{
	peer                 p;
	nghttpw_http_client *c;

	peer_start(&p, serve_http10);
	c = client_for(&p);
	get_ok(c, "/", "hello");
	get_ok(c, "/", "hello");
	cr_assert_eq(atomic_load(&p.accepts), 2);
	peer_wait_finished(&p, 2);
	nghttpw_http_client_free(c);
	peer_stop(&p);
}

/* Answers one request, then closes without saying so. */
static void
serve_one_then_close(peer *p, nghttpw_stream *s, int index)
{
	(void) index;
	if (read_request(p, s, NULL) == 0) {
		send_text(s, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
	}
}

Test(http_client, retries_idempotent_request_when_idle_connection_closed)
{
	peer                 p;
	nghttpw_http_client *c;

	peer_start(&p, serve_one_then_close);
	c = client_for(&p);
	get_ok(c, "/first", "hello");
	/* The server has closed the pooled connection. */
	peer_wait_finished(&p, 1);
	get_ok(c, "/second", "hello");
	cr_assert_eq(atomic_load(&p.accepts), 2);
	peer_wait_finished(&p, 2);
	cr_assert_eq(p.nseen, 2);
	cr_assert(strncmp(p.heads[1], "GET /second ", 12) == 0);

	/* PUT and DELETE are idempotent too. */
	peer_wait_finished(&p, 2);
	exchange x = do_transact(c, "DELETE", "/third", NULL, 5000);
	cr_assert_eq(x.rv, 0, "%s", nghttpw_strerror(x.rv));
	exchange_free(&x);
	nghttpw_http_client_free(c);
	peer_stop(&p);
}

Test(http_client, does_not_retry_post_when_idle_connection_closed)
{
	peer                 p;
	nghttpw_http_client *c;
	exchange             x;

	peer_start(&p, serve_one_then_close);
	c = client_for(&p);
	get_ok(c, "/first", "hello");
	peer_wait_finished(&p, 1);
	x = do_transact(c, "POST", "/submit", "data", 5000);
	cr_assert(x.rv == NGHTTPW_ECLOSED || x.rv == NGHTTPW_ECONNRESET,
	    "POST gave %d (%s)", x.rv, nghttpw_strerror(x.rv));
	exchange_free(&x);
	/* No second connection was made for it. */
	nghttpw_msleep(100);
	cr_assert_eq(atomic_load(&p.accepts), 1);
	/* The client is still usable: a new connection is made. */
	get_ok(c, "/again", "hello");
	cr_assert_eq(atomic_load(&p.accepts), 2);
	nghttpw_http_client_free(c);
	peer_stop(&p);
}

/* Answers the first request, then the start of an answer to the second
 * (a part of the head, or the head and part of the body), and closes. */
static const char *cut_answer;

static void
serve_then_cut(peer *p, nghttpw_stream *s, int index)
{
	(void) index;
	if (read_request(p, s, NULL) != 0) {
		return;
	}
	send_text(s, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
	if (read_request(p, s, NULL) != 0) {
		return;
	}
	send_text(s, cut_answer);
}

static void
no_retry_after_partial_answer(const char *answer)
{
	peer                 p;
	nghttpw_http_client *c;
	exchange             x;

	cut_answer = answer;
	peer_start(&p, serve_then_cut);
	c = client_for(&p);
	get_ok(c, "/first", "hello");
	x = do_transact(c, "GET", "/second", NULL, 5000);
	cr_assert(x.rv == NGHTTPW_ECLOSED || x.rv == NGHTTPW_ECONNRESET,
	    "GET gave %d (%s)", x.rv, nghttpw_strerror(x.rv));
	exchange_free(&x);
	/* Part of a response came: the request is not sent again. */
	nghttpw_msleep(100);
	cr_assert_eq(atomic_load(&p.accepts), 1);
	nghttpw_http_client_free(c);
	peer_stop(&p);
}

Test(http_client, no_retry_after_part_of_a_head)
{
	no_retry_after_partial_answer("HTTP/1.1 200 OK\r\nContent-");
}

Test(http_client, no_retry_after_part_of_a_body)
{
	no_retry_after_partial_answer(
	    "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
}

/* Expect: 100-continue answered with 100, then the final response; a
 * second request reuses the connection. */
static void
serve_continue(peer *p, nghttpw_stream *s, int index)
{
	char *head;
	char  body[6] = { 0 };

	(void) index;
	if (read_request(p, s, &head) != 0) {
		return;
	}
	cr_assert_not_null(strstr(head, "Expect: 100-continue\r\n"), "%s", head);
	cr_assert_not_null(strstr(head, "Content-Length: 5\r\n"), "%s", head);
	free(head);
	send_text(s, "HTTP/1.1 100 Continue\r\n\r\n");
	cr_assert_eq(recv_all(s, body, 5, NULL), 0);
	cr_assert_str_eq(body, "hello");
	send_text(s, "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok");
	serve_keepalive(p, s, index);
}

static exchange
expect_transact(nghttpw_http_client *c, const char *method, const char *body)
{
	exchange     x;
	nghttpw_aio *aio;
	nghttpw_time t0;

	cr_assert_eq(nghttpw_aio_alloc(&aio, NULL, NULL), 0);
	nghttpw_aio_set_timeout(aio, 5000);
	nghttpw_http_req_alloc(&x.req, NULL);
	nghttpw_http_res_alloc(&x.res);
	nghttpw_http_req_set_method(x.req, method);
	nghttpw_http_req_set_uri(x.req, "/upload");
	nghttpw_http_req_set_header(x.req, "Expect", "100-continue");
	nghttpw_http_req_copy_data(x.req, body, strlen(body));
	t0 = nghttpw_clock();
	nghttpw_http_client_transact(c, x.req, x.res, aio);
	nghttpw_aio_wait(aio);
	x.ms = (nghttpw_duration) (nghttpw_clock() - t0);
	x.rv = nghttpw_aio_result(aio);
	nghttpw_aio_free(aio);
	return (x);
}

Test(http_client, expect_continue_then_final)
{
	peer                 p;
	nghttpw_http_client *c;
	exchange             x;

	peer_start(&p, serve_continue);
	c = client_for(&p);
	x = expect_transact(c, "PUT", "hello");
	cr_assert_eq(x.rv, 0, "%s", nghttpw_strerror(x.rv));
	cr_assert_eq(nghttpw_http_res_get_status(x.res), 201);
	assert_body(x.res, "ok");
	/* The body went on the 100, not after the one-second wait. */
	cr_assert_lt(x.ms, 900, "took %d ms", (int) x.ms);
	exchange_free(&x);
	get_ok(c, "/", "hello");
	cr_assert_eq(atomic_load(&p.accepts), 1);
	nghttpw_http_client_free(c);
	peer_stop(&p);
}

/* The response body limit is the client's to set, for both kinds of
 * exchange: 5 bytes of "hello" pass a limit of 5 and fail one of 4. */
Test(http_client, max_body_is_settable)
{
	peer                 p;
	nghttpw_http_client *c;
	exchange             x;

	cr_assert_eq(nghttpw_http_client_set_max_body(NULL, 1), NGHTTPW_EINVAL);
	peer_start(&p, serve_continue);
	c = client_for(&p);
	cr_assert_eq(nghttpw_http_client_set_max_body(c, 1), 0);
	x = expect_transact(c, "PUT", "hello");
	cr_assert_eq(x.rv, NGHTTPW_EMSGSIZE, "%s", nghttpw_strerror(x.rv));
	exchange_free(&x);
	nghttpw_http_client_free(c);
	peer_stop(&p);

	peer_start(&p, serve_keepalive);
	c = client_for(&p);
	cr_assert_eq(nghttpw_http_client_set_max_body(c, 4), 0);
	x = do_transact(c, "GET", "/", NULL, 5000);
	cr_assert_eq(x.rv, NGHTTPW_EMSGSIZE, "%s", nghttpw_strerror(x.rv));
	exchange_free(&x);
	cr_assert_eq(nghttpw_http_client_set_max_body(c, 5), 0);
	get_ok(c, "/", "hello");
	nghttpw_http_client_free(c);
	peer_stop(&p);
}

/* 417 at once: the body must never arrive. */
static void
serve_expectation_failed(peer *p, nghttpw_stream *s, int index)
{
	if (read_request(p, s, NULL) != 0) {
		return;
	}
	send_text(s, "HTTP/1.1 417 Expectation Failed\r\nContent-Length: 3\r\n"
	             "\r\nno!");
	p->extra[index] = drain_until_close(s);
}

Test(http_client, expect_answered_417_body_not_sent)
{
	peer                 p;
	nghttpw_http_client *c;
	exchange             x;

	peer_start(&p, serve_expectation_failed);
	c = client_for(&p);
	x = expect_transact(c, "POST", "a body that must not be sent");
	cr_assert_eq(x.rv, 0, "%s", nghttpw_strerror(x.rv));
	cr_assert_eq(nghttpw_http_res_get_status(x.res), 417);
	assert_body(x.res, "no!");
	exchange_free(&x);
	/* The connection is closed rather than reused. */
	peer_wait_finished(&p, 1);
	cr_assert_eq(p.extra[0], 0, "%zu body bytes were sent", p.extra[0]);
	nghttpw_http_client_free(c);
	peer_stop(&p);
}

/* No answer to the head: the client sends the body after a second. */
static void
serve_silent_expect(peer *p, nghttpw_stream *s, int index)
{
	char body[6] = { 0 };

	(void) index;
	if (read_request(p, s, NULL) != 0) {
		return;
	}
	cr_assert_eq(recv_all(s, body, 5, NULL), 0);
	cr_assert_str_eq(body, "hello");
	/* A chunked final response, with a chunk extension and a trailer. */
	send_text(s, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	             "3\r\nabc\r\n2;e=1\r\nde\r\n0\r\nX-Trailer: 1\r\n\r\n");
	serve_keepalive(p, s, index);
}

Test(http_client, expect_without_answer_sends_body_after_a_second)
{
	peer                 p;
	nghttpw_http_client *c;
	exchange             x;

	peer_start(&p, serve_silent_expect);
	c = client_for(&p);
	x = expect_transact(c, "PUT", "hello");
	cr_assert_eq(x.rv, 0, "%s", nghttpw_strerror(x.rv));
	cr_assert_eq(nghttpw_http_res_get_status(x.res), 200);
	assert_body(x.res, "abcde");
	cr_assert_geq(x.ms, 900, "took %d ms", (int) x.ms);
	cr_assert_lt(x.ms, 4000, "took %d ms", (int) x.ms);
	exchange_free(&x);
	get_ok(c, "/", "hello");
	cr_assert_eq(atomic_load(&p.accepts), 1);
	nghttpw_http_client_free(c);
	peer_stop(&p);
}

/* 100, then a final response delimited by the close. */
static void
serve_continue_until_close(peer *p, nghttpw_stream *s, int index)
{
	char body[6] = { 0 };

	(void) index;
	if (read_request(p, s, NULL) != 0) {
		return;
	}
	send_text(s, "HTTP/1.1 100 Continue\r\n\r\n");
	cr_assert_eq(recv_all(s, body, 5, NULL), 0);
	send_text(s, "HTTP/1.1 200 OK\r\n\r\nuntil the close");
}

Test(http_client, expect_continue_then_close_delimited)
{
	peer                 p;
	nghttpw_http_client *c;
	exchange             x;

	peer_start(&p, serve_continue_until_close);
	c = client_for(&p);
	x = expect_transact(c, "POST", "hello");
	cr_assert_eq(x.rv, 0, "%s", nghttpw_strerror(x.rv));
	assert_body(x.res, "until the close");
	exchange_free(&x);
	nghttpw_http_client_free(c);
	peer_stop(&p);
}

static void
serve_redirect(peer *p, nghttpw_stream *s, int index)
{
	(void) index;
	while (read_request(p, s, NULL) == 0) {
		send_text(s, "HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\n"
		             "Content-Length: 9\r\n\r\nmoved on.");
	}
}

Test(http_client, redirect_is_returned_intact)
{
	peer                 p;
	nghttpw_http_client *c;
	exchange             x;

	peer_start(&p, serve_redirect);
	c = client_for(&p);
	x = do_transact(c, "GET", "/old", NULL, 5000);
	cr_assert_eq(x.rv, 0);
	cr_assert_eq(nghttpw_http_res_get_status(x.res), 302);
	cr_assert_str_eq(nghttpw_http_res_get_header(x.res, "Location"), "/elsewhere");
	assert_body(x.res, "moved on.");
	exchange_free(&x);
	nghttpw_http_client_free(c);
	peer_wait_finished(&p, 1);
	cr_assert_eq(p.nseen, 1); /* not followed */
	peer_stop(&p);
}

/* The first connection never answers; later ones do. */
static void
serve_stall_first(peer *p, nghttpw_stream *s, int index)
{
	if (index == 0) {
		if (read_request(p, s, NULL) == 0) {
			drain_until_close(s);
		}
		return;
	}
	serve_keepalive(p, s, index);
}

Test(http_client, timeout_closes_the_connection)
{
	peer                 p;
	nghttpw_http_client *c;
	exchange             x;

	peer_start(&p, serve_stall_first);
	c = client_for(&p);
	x = do_transact(c, "GET", "/slow", NULL, 200);
	cr_assert_eq(x.rv, NGHTTPW_ETIMEDOUT, "%s", nghttpw_strerror(x.rv));
	exchange_free(&x);
	/* The timed-out connection was closed, not pooled. */
	peer_wait_finished(&p, 1);
	get_ok(c, "/", "hello");
	cr_assert_eq(atomic_load(&p.accepts), 2);
	nghttpw_http_client_free(c);
	peer_stop(&p);
}

/* The connect timeout bounds the dial alone: an answer slower than it
 * still comes, bounded by the caller's aio. */
Test(http_client, connect_timeout_leaves_the_exchange_alone)
{
	peer                 p;
	nghttpw_http_client *c;
	exchange             x;
	nghttpw_time         start;

	cr_assert_eq(nghttpw_http_client_set_connect_timeout(NULL, 100),
	    NGHTTPW_EINVAL);
	peer_start(&p, serve_stall_first);
	c = client_for(&p);
	cr_assert_eq(nghttpw_http_client_set_connect_timeout(c, 0), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_http_client_set_connect_timeout(c, -3), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_http_client_set_connect_timeout(
	                 c, NGHTTPW_DURATION_INFINITE), 0);
	cr_assert_eq(nghttpw_http_client_set_connect_timeout(
	                 c, NGHTTPW_DURATION_DEFAULT), 0);
	cr_assert_eq(nghttpw_http_client_set_connect_timeout(c, 100), 0);
	start = nghttpw_clock();
	x     = do_transact(c, "GET", "/slow", NULL, 800);
	cr_assert_eq(x.rv, NGHTTPW_ETIMEDOUT, "%s", nghttpw_strerror(x.rv));
	cr_assert_geq(nghttpw_clock() - start, 700);
	exchange_free(&x);
	peer_wait_finished(&p, 1);
	get_ok(c, "/", "hello"); /* connecting in time still works */
	nghttpw_http_client_free(c);
	peer_stop(&p);
}

Test(http_client, cancel_closes_the_connection)
{
	peer                 p;
	nghttpw_http_client *c;
	nghttpw_aio         *aio;
	nghttpw_http_req    *req;
	nghttpw_http_res    *res;

	peer_start(&p, serve_stall_first);
	c = client_for(&p);
	cr_assert_eq(nghttpw_aio_alloc(&aio, NULL, NULL), 0);
	nghttpw_http_req_alloc(&req, NULL);
	nghttpw_http_res_alloc(&res);
	nghttpw_http_client_transact(c, req, res, aio);
	nghttpw_msleep(100);
	nghttpw_aio_cancel(aio);
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), NGHTTPW_ECANCELED);
	peer_wait_finished(&p, 1);
	get_ok(c, "/", "hello");
	cr_assert_eq(atomic_load(&p.accepts), 2);
	nghttpw_http_req_free(req);
	nghttpw_http_res_free(res);
	nghttpw_aio_free(aio);
	nghttpw_http_client_free(c);
	peer_stop(&p);
}

/* Answers the first request with a field of its own, then reads nothing
 * more until the test lets it go. */
static atomic_bool stop_stalling;

static void
serve_answer_then_stall(peer *p, nghttpw_stream *s, int index)
{
	(void) index;
	if (read_request(p, s, NULL) != 0) {
		return;
	}
	send_text(s, "HTTP/1.1 200 OK\r\nX-Old: yes\r\nContent-Length: 5\r\n\r\nhello");
	while (!atomic_load(&stop_stalling)) {
		nghttpw_msleep(10);
	}
}

/* A response reused for an exchange that fails while its request is
 * still being written keeps nothing of the answer before. */
Test(http_client, failure_before_the_request_is_out_clears_the_response)
{
	enum { BIG = 32 << 20 }; /* more than the socket buffers take */
	peer                 p;
	nghttpw_http_client *c;
	nghttpw_aio         *aio;
	nghttpw_http_req    *req;
	nghttpw_http_res    *res;
	char                *body = calloc(1, BIG);

	atomic_store(&stop_stalling, false);
	peer_start(&p, serve_answer_then_stall);
	c = client_for(&p);
	cr_assert_eq(nghttpw_aio_alloc(&aio, NULL, NULL), 0);
	nghttpw_aio_set_timeout(aio, 5000);
	nghttpw_http_req_alloc(&req, NULL);
	nghttpw_http_res_alloc(&res);
	nghttpw_http_client_transact(c, req, res, aio);
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), 0);
	cr_assert_str_eq(nghttpw_http_res_get_header(res, "X-Old"), "yes");

	nghttpw_http_req_set_method(req, "POST");
	nghttpw_http_req_set_data(req, body, BIG);
	nghttpw_aio_set_timeout(aio, 300);
	nghttpw_http_client_transact(c, req, res, aio);
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), NGHTTPW_ETIMEDOUT, "%s",
	    nghttpw_strerror(nghttpw_aio_result(aio)));
	cr_assert_null(nghttpw_http_res_get_header(res, "X-Old"));
	cr_assert_eq(atomic_load(&p.accepts), 1);

	atomic_store(&stop_stalling, true);
	nghttpw_http_req_free(req);
	nghttpw_http_res_free(res);
	nghttpw_aio_free(aio);
	nghttpw_http_client_free(c);
	peer_stop(&p);
	free(body);
}

Test(http_client, expect_timeout_while_waiting)
{
	peer                 p;
	nghttpw_http_client *c;
	nghttpw_aio         *aio;
	nghttpw_http_req    *req;
	nghttpw_http_res    *res;

	peer_start(&p, serve_stall_first);
	c = client_for(&p);
	cr_assert_eq(nghttpw_aio_alloc(&aio, NULL, NULL), 0);
	nghttpw_aio_set_timeout(aio, 300);
	nghttpw_http_req_alloc(&req, NULL);
	nghttpw_http_res_alloc(&res);
	nghttpw_http_req_set_method(req, "PUT");
	nghttpw_http_req_set_header(req, "Expect", "100-continue");
	nghttpw_http_req_copy_data(req, "hello", 5);
	nghttpw_http_client_transact(c, req, res, aio);
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), NGHTTPW_ETIMEDOUT);
	peer_wait_finished(&p, 1);
	get_ok(c, "/", "hello");
	cr_assert_eq(atomic_load(&p.accepts), 2);
	nghttpw_http_req_free(req);
	nghttpw_http_res_free(res);
	nghttpw_aio_free(aio);
	nghttpw_http_client_free(c);
	peer_stop(&p);
}

Test(http_client, refused_connection)
{
	nghttpw_stream_listener *l;
	nghttpw_http_client     *c;
	nghttpw_url             *url;
	nghttpw_aio             *aio;
	char                     buf[64];
	int                      port;
	exchange                 x;

	/* A port that was just free: nothing listens there now. */
	cr_assert_eq(nghttpw_stream_listener_alloc(&l, "tcp://127.0.0.1:0"), 0);
	cr_assert_eq(nghttpw_stream_listener_listen(l), 0);
	cr_assert_eq(nghttpw_stream_listener_get_int(
	                 l, NGHTTPW_OPT_TCP_BOUND_PORT, &port), 0);
	nghttpw_stream_listener_free(l);
	snprintf(buf, sizeof(buf), "http://127.0.0.1:%d/", port);
	cr_assert_eq(nghttpw_url_parse(&url, buf), 0);
	cr_assert_eq(nghttpw_http_client_alloc(&c, url), 0);
	nghttpw_url_free(url);

	x = do_transact(c, "GET", "/", NULL, 5000);
	cr_assert_eq(x.rv, NGHTTPW_ECONNREFUSED, "%s", nghttpw_strerror(x.rv));
	exchange_free(&x);

	cr_assert_eq(nghttpw_aio_alloc(&aio, NULL, NULL), 0);
	nghttpw_aio_set_timeout(aio, 5000);
	nghttpw_http_client_connect(c, aio);
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), NGHTTPW_ECONNREFUSED);
	cr_assert_null(nghttpw_aio_get_output(aio, 0));
	nghttpw_aio_free(aio);
	nghttpw_http_client_free(c);
}

/* Several exchanges at once on one client: each gets a connection of its
 * own, and the idle ones are reused afterwards. */
typedef struct {
	nghttpw_aio      *aio;
	nghttpw_http_req *req;
	nghttpw_http_res *res;
} pending;

Test(http_client, concurrent_transacts)
{
	enum { N = 4 };
	peer                 p;
	nghttpw_http_client *c;
	pending              ops[N];

	/* The scripted peer serves one connection at a time, so the
	 * concurrent requests go to the same server one after another:
	 * use a server that answers and closes (no keep-alive). */
	peer_start(&p, serve_conn_close);
	c = client_for(&p);
	for (int i = 0; i < N; i++) {
		cr_assert_eq(nghttpw_aio_alloc(&ops[i].aio, NULL, NULL), 0);
		nghttpw_aio_set_timeout(ops[i].aio, 10000);
		nghttpw_http_req_alloc(&ops[i].req, NULL);
		nghttpw_http_res_alloc(&ops[i].res);
		nghttpw_http_client_transact(c, ops[i].req, ops[i].res, ops[i].aio);
	}
	for (int i = 0; i < N; i++) {
		nghttpw_aio_wait(ops[i].aio);
		cr_assert_eq(nghttpw_aio_result(ops[i].aio), 0, "%d: %s", i,
		    nghttpw_strerror(nghttpw_aio_result(ops[i].aio)));
		assert_body(ops[i].res, "hello");
		nghttpw_aio_free(ops[i].aio);
		nghttpw_http_req_free(ops[i].req);
		nghttpw_http_res_free(ops[i].res);
	}
	cr_assert_eq(atomic_load(&p.accepts), N);
	nghttpw_http_client_free(c);
	peer_stop(&p);
}

/* The caller's aio callback may start the next exchange at once. */
typedef struct {
	nghttpw_http_client *c;
	nghttpw_aio         *aio;
	nghttpw_http_req    *req;
	nghttpw_http_res    *res;
	atomic_int           left;
	atomic_int           failures;
	atomic_bool          done;
} chain;

static void
chain_cb(void *arg)
{
	chain *ch = arg;

	if (nghttpw_aio_result(ch->aio) != 0 ||
	    nghttpw_http_res_get_status(ch->res) != 200) {
		atomic_fetch_add(&ch->failures, 1);
	}
	if (atomic_fetch_sub(&ch->left, 1) > 1) {
		nghttpw_http_client_transact(ch->c, ch->req, ch->res, ch->aio);
	} else {
		atomic_store(&ch->done, true);
	}
}

Test(http_client, transact_from_the_callback)
{
	peer  p;
	chain ch = { 0 };

	peer_start(&p, serve_keepalive);
	ch.c = client_for(&p);
	atomic_store(&ch.left, 20);
	cr_assert_eq(nghttpw_aio_alloc(&ch.aio, chain_cb, &ch), 0);
	nghttpw_aio_set_timeout(ch.aio, 5000);
	nghttpw_http_req_alloc(&ch.req, NULL);
	nghttpw_http_res_alloc(&ch.res);
	nghttpw_http_client_transact(ch.c, ch.req, ch.res, ch.aio);
	for (int i = 0; i < 1000 && !atomic_load(&ch.done); i++) {
		nghttpw_msleep(10);
	}
	cr_assert(atomic_load(&ch.done));
	cr_assert_eq(atomic_load(&ch.failures), 0);
	cr_assert_eq(atomic_load(&p.accepts), 1);
	nghttpw_aio_free(ch.aio);
	nghttpw_http_req_free(ch.req);
	nghttpw_http_res_free(ch.res);
	nghttpw_http_client_free(ch.c);
	peer_stop(&p);
}

/* --------------------------------------------- against our own server */

static void
echo_cb(nghttpw_aio *aio)
{
	nghttpw_http_req *req = nghttpw_aio_get_input(aio, 0);
	nghttpw_http_res *res;
	void             *body;
	size_t            size;
	int               rv;

	nghttpw_http_req_get_data(req, &body, &size);
	if ((rv = nghttpw_http_res_alloc(&res)) != 0) {
		nghttpw_aio_finish(aio, rv);
		return;
	}
	if ((rv = nghttpw_http_res_copy_data(res, body, size)) != 0) {
		nghttpw_http_res_free(res);
		nghttpw_aio_finish(aio, rv);
		return;
	}
	nghttpw_aio_set_output(aio, 0, res);
	nghttpw_aio_finish(aio, 0);
}

typedef struct {
	nghttpw_http_server *s;
	nghttpw_http_client *c;
} e2e;

static void
e2e_start(e2e *t)
{
	nghttpw_url          *url;
	nghttpw_http_handler *h;
	nghttpw_sockaddr      sa;
	char                  buf[64];

	cr_assert_eq(nghttpw_url_parse(&url, "http://127.0.0.1:0/"), 0);
	cr_assert_eq(nghttpw_http_server_hold(&t->s, url), 0);
	nghttpw_url_free(url);
	cr_assert_eq(nghttpw_http_handler_alloc_static(
	                 &h, "/hello", "hi there", 8, "text/plain"), 0);
	cr_assert_eq(nghttpw_http_server_add_handler(t->s, h), 0);
	cr_assert_eq(nghttpw_http_handler_alloc(&h, "/echo", echo_cb), 0);
	cr_assert_eq(nghttpw_http_handler_set_method(h, "POST"), 0);
	cr_assert_eq(nghttpw_http_handler_collect_body(h, true, 1 << 20), 0);
	cr_assert_eq(nghttpw_http_server_add_handler(t->s, h), 0);
	cr_assert_eq(nghttpw_http_server_start(t->s), 0);
	cr_assert_eq(nghttpw_http_server_get_addr(t->s, &sa), 0);
	cr_assert_eq(sa.s_family, NGHTTPW_AF_INET);
	snprintf(buf, sizeof(buf), "http://127.0.0.1:%u/", ntohs(sa.s_in.sa_port));
	cr_assert_eq(nghttpw_url_parse(&url, buf), 0);
	cr_assert_eq(nghttpw_http_client_alloc(&t->c, url), 0);
	nghttpw_url_free(url);
}

static void
e2e_stop(e2e *t)
{
	nghttpw_http_client_free(t->c);
	nghttpw_http_server_stop(t->s);
	nghttpw_http_server_release(t->s);
}

Test(http_client, e2e_get_with_keep_alive_and_404)
{
	e2e      t;
	exchange x;

	e2e_start(&t);
	for (int i = 0; i < 3; i++) {
		x = do_transact(t.c, "GET", "/hello", NULL, 5000);
		cr_assert_eq(x.rv, 0, "%s", nghttpw_strerror(x.rv));
		cr_assert_eq(nghttpw_http_res_get_status(x.res), 200);
		cr_assert_str_eq(
		    nghttpw_http_res_get_header(x.res, "Content-Type"), "text/plain");
		assert_body(x.res, "hi there");
		exchange_free(&x);
	}
	x = do_transact(t.c, "GET", "/missing", NULL, 5000);
	cr_assert_eq(x.rv, 0, "%s", nghttpw_strerror(x.rv));
	cr_assert_eq(nghttpw_http_res_get_status(x.res), 404);
	exchange_free(&x);
	x = do_transact(t.c, "HEAD", "/hello", NULL, 5000);
	cr_assert_eq(x.rv, 0, "%s", nghttpw_strerror(x.rv));
	cr_assert_eq(nghttpw_http_res_get_status(x.res), 200);
	assert_body(x.res, "");
	exchange_free(&x);
	e2e_stop(&t);
}

Test(http_client, e2e_post_with_expect_continue)
{
	e2e          t;
	nghttpw_aio *aio;
	exchange     x;
	size_t       size = 100000;
	char        *body = malloc(size);
	void        *got;
	size_t       got_size;
	nghttpw_time t0;

	e2e_start(&t);
	fill_pattern(body, size, 3);
	cr_assert_eq(nghttpw_aio_alloc(&aio, NULL, NULL), 0);
	nghttpw_aio_set_timeout(aio, 5000);
	nghttpw_http_req_alloc(&x.req, NULL);
	nghttpw_http_res_alloc(&x.res);
	nghttpw_http_req_set_method(x.req, "POST");
	nghttpw_http_req_set_uri(x.req, "/echo");
	nghttpw_http_req_set_header(x.req, "Expect", "100-continue");
	nghttpw_http_req_set_data(x.req, body, size);
	t0 = nghttpw_clock();
	nghttpw_http_client_transact(t.c, x.req, x.res, aio);
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), 0, "%s",
	    nghttpw_strerror(nghttpw_aio_result(aio)));
	/* Our server answers 100 at once: no one-second wait. */
	cr_assert_lt(nghttpw_clock() - t0, 900);
	cr_assert_eq(nghttpw_http_res_get_status(x.res), 200);
	nghttpw_http_res_get_data(x.res, &got, &got_size);
	cr_assert_eq(got_size, size);
	cr_assert(memcmp(got, body, size) == 0);
	exchange_free(&x);

	/* And without Expect, on the kept connection. */
	x = do_transact(t.c, "POST", "/echo", "plain", 5000);
	cr_assert_eq(x.rv, 0, "%s", nghttpw_strerror(x.rv));
	assert_body(x.res, "plain");
	exchange_free(&x);
	nghttpw_aio_free(aio);
	free(body);
	e2e_stop(&t);
}

Test(http_client, e2e_concurrent_exchanges)
{
	enum { N = 8 };
	e2e     t;
	pending ops[N];

	e2e_start(&t);
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < N; i++) {
			cr_assert_eq(nghttpw_aio_alloc(&ops[i].aio, NULL, NULL), 0);
			nghttpw_aio_set_timeout(ops[i].aio, 10000);
			nghttpw_http_req_alloc(&ops[i].req, NULL);
			nghttpw_http_req_set_uri(ops[i].req, "/hello");
			nghttpw_http_res_alloc(&ops[i].res);
			nghttpw_http_client_transact(
			    t.c, ops[i].req, ops[i].res, ops[i].aio);
		}
		for (int i = 0; i < N; i++) {
			nghttpw_aio_wait(ops[i].aio);
			cr_assert_eq(nghttpw_aio_result(ops[i].aio), 0, "%s",
			    nghttpw_strerror(nghttpw_aio_result(ops[i].aio)));
			assert_body(ops[i].res, "hi there");
			nghttpw_aio_free(ops[i].aio);
			nghttpw_http_req_free(ops[i].req);
			nghttpw_http_res_free(ops[i].res);
		}
	}
	e2e_stop(&t);
}

/* ---------------------------------------------------------------- TLS */

#ifdef NGHTTPW_HAVE_TLS
#include "nghttpw/tls.h"
#include "support/tls_certs.h"

/* Our server over TLS with the test CA's localhost certificate. */
static nghttpw_http_server *
tls_server_start(int *portp)
{
	return (https_test_server("over tls", portp));
}

static nghttpw_http_client *
tls_client(int port)
{
	nghttpw_http_client *c;
	nghttpw_url         *url;
	char                 buf[64];

	snprintf(buf, sizeof(buf), "https://127.0.0.1:%d/", port);
	cr_assert_eq(nghttpw_url_parse(&url, buf), 0);
	cr_assert_eq(nghttpw_http_client_alloc(&c, url), 0);
	nghttpw_url_free(url);
	return (c);
}

Test(http_client, https_with_the_right_ca)
{
	const tls_test_certs *certs = tls_test_certs_get();
	nghttpw_http_server  *s;
	nghttpw_http_client  *c;
	nghttpw_tls_config   *cfg, *got = NULL;
	exchange              x;
	int                   port;

	s = tls_server_start(&port);
	c = tls_client(port);
	cr_assert_eq(nghttpw_tls_config_alloc(&cfg, NGHTTPW_TLS_MODE_CLIENT), 0);
	cr_assert_eq(nghttpw_tls_config_ca_chain(cfg, certs->ca_cert, NULL), 0);
	cr_assert_eq(nghttpw_tls_config_server_name(cfg, "localhost"), 0);
	cr_assert_eq(
	    nghttpw_tls_config_auth_mode(cfg, NGHTTPW_TLS_AUTH_MODE_REQUIRED), 0);
	cr_assert_eq(nghttpw_http_client_set_tls(c, cfg), 0);
	cr_assert_eq(nghttpw_http_client_get_tls(c, &got), 0);
	cr_assert_eq(got, cfg);
	nghttpw_tls_config_free(cfg); /* the client holds its own */
	for (int i = 0; i < 2; i++) {
		x = do_transact(c, "GET", "/secret", NULL, 5000);
		cr_assert_eq(x.rv, 0, "%s", nghttpw_strerror(x.rv));
		cr_assert_eq(nghttpw_http_res_get_status(x.res), 200);
		assert_body(x.res, "over tls");
		exchange_free(&x);
	}
	/* A server configuration is refused. */
	cr_assert_eq(nghttpw_tls_config_alloc(&cfg, NGHTTPW_TLS_MODE_SERVER), 0);
	cr_assert_eq(nghttpw_http_client_set_tls(c, cfg), NGHTTPW_EINVAL);
	nghttpw_tls_config_free(cfg);
	nghttpw_http_client_free(c);
	nghttpw_http_server_stop(s);
	nghttpw_http_server_release(s);
}

Test(http_client, https_untrusted_server_fails)
{
	nghttpw_http_server *s;
	nghttpw_http_client *c;
	nghttpw_tls_config  *cfg;
	exchange             x;
	int                  port;

	s = tls_server_start(&port);
	c = tls_client(port);
	/* A CA that did not sign the server's certificate. */
	cr_assert_eq(nghttpw_tls_config_alloc(&cfg, NGHTTPW_TLS_MODE_CLIENT), 0);
	cr_assert_eq(nghttpw_tls_config_ca_chain(
	                 cfg, tls_test_certs_get()->other_ca_cert, NULL), 0);
	cr_assert_eq(nghttpw_tls_config_server_name(cfg, "localhost"), 0);
	cr_assert_eq(
	    nghttpw_tls_config_auth_mode(cfg, NGHTTPW_TLS_AUTH_MODE_REQUIRED), 0);
	cr_assert_eq(nghttpw_http_client_set_tls(c, cfg), 0);
	nghttpw_tls_config_free(cfg);
	x = do_transact(c, "GET", "/secret", NULL, 5000);
	cr_assert(x.rv == NGHTTPW_EPEERAUTH || x.rv == NGHTTPW_ECRYPTO, "%d: %s",
	    x.rv, nghttpw_strerror(x.rv));
	exchange_free(&x);
	nghttpw_http_client_free(c);
	nghttpw_http_server_stop(s);
	nghttpw_http_server_release(s);
}
/* A server that takes the TCP connection and never answers the TLS
 * handshake: the connect timeout ends the dial long before the aio's. */
Test(http_client, connect_timeout_bounds_the_tls_handshake)
{
	nghttpw_http_client *c;
	exchange             x;
	nghttpw_time         start;
	int                  port;
	int                  lfd = raw_tcp_listen(&port);

	cr_assert_geq(lfd, 0);
	c = tls_client(port);
	cr_assert_eq(nghttpw_http_client_set_connect_timeout(c, 200), 0);
	start = nghttpw_clock();
	x     = do_transact(c, "GET", "/", NULL, 10000);
	cr_assert_eq(x.rv, NGHTTPW_ETIMEDOUT, "%s", nghttpw_strerror(x.rv));
	cr_assert_lt(nghttpw_clock() - start, 3000);
	exchange_free(&x);
	nghttpw_http_client_free(c);
	close(lfd);
}
#endif
