/* The HTTP connection: exact bytes on the wire for what we write, parsing
 * of what the peer writes (split, pipelined, hostile), bodies in transact,
 * and the async contract (cancel, timeout, close, never inline; queued
 * operations are in http_conn_queue_test.c). */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http/http_conn.h"
#include "http/http_msg.h"
#include "nghttpw/http.h"
#include "support/pairs.h"

/* A connection on one end of a TCP pair; the test plays the peer with the
 * raw stream at the other end. */
static void
conn_pair(nghttpw_http_conn **conn, nghttpw_stream **peer)
{
	nghttpw_stream *s;

	cr_assert_eq(tcp_pair("127.0.0.1", &s, peer), 0);
	cr_assert_eq(nghttpw_http_conn_alloc(conn, s), 0);
}

static void
peer_send(nghttpw_stream *peer, const char *text)
{
	cr_assert_eq(send_all(peer, text, strlen(text), NULL), 0);
}

/* Reads exactly len bytes from the peer side. */
static char *
peer_recv(nghttpw_stream *peer, size_t len)
{
	char *buf = calloc(1, len + 1);
	cr_assert_eq(recv_all(peer, buf, len, NULL), 0);
	return (buf);
}

/* Reads what the peer receives up to and including the blank line. */
static char *
peer_recv_head(nghttpw_stream *peer)
{
	size_t cap = 8192, len = 0;
	char  *buf = calloc(1, cap);

	while (len < 4 || memcmp(buf + len - 4, "\r\n\r\n", 4) != 0) {
		cr_assert_lt(len, cap - 1);
		cr_assert_eq(recv_all(peer, buf + len, 1, NULL), 0);
		len++;
	}
	return (buf);
}

typedef struct {
	nghttpw_aio *aio;
} op;

static nghttpw_aio *
new_aio(nghttpw_duration timeout)
{
	nghttpw_aio *aio;
	cr_assert_eq(nghttpw_aio_alloc(&aio, NULL, NULL), 0);
	nghttpw_aio_set_timeout(aio, timeout);
	return (aio);
}

static int
wait_result(nghttpw_aio *aio)
{
	nghttpw_aio_wait(aio);
	return (nghttpw_aio_result(aio));
}

Test(http_conn, write_req_exact_bytes_with_content_length)
{
	nghttpw_http_conn *c;
	nghttpw_stream    *peer;
	nghttpw_http_req  *req;
	nghttpw_url       *url;
	nghttpw_aio       *aio = new_aio(5000);
	const char *expect = "POST /submit?x=1 HTTP/1.1\r\n"
	                     "Host: example.test:8080\r\n"
	                     "X-Test: yes\r\n"
	                     "Content-Length: 5\r\n"
	                     "\r\n"
	                     "hello";
	char *got;

	conn_pair(&c, &peer);
	cr_assert_eq(nghttpw_url_parse(&url, "http://example.test:8080/submit?x=1"), 0);
	cr_assert_eq(nghttpw_http_req_alloc(&req, url), 0);
	nghttpw_http_req_set_method(req, "POST");
	nghttpw_http_req_add_header(req, "X-Test", "yes");
	nghttpw_http_req_set_data(req, "hello", 5);
	nghttpw_http_req_del_header(req, "Content-Length"); /* we add it back */
	nghttpw_http_conn_write_req(c, req, aio);
	cr_assert_eq(wait_result(aio), 0);
	cr_assert_eq(nghttpw_aio_count(aio), strlen(expect));
	got = peer_recv(peer, strlen(expect));
	cr_assert_str_eq(got, expect);
	free(got);
	nghttpw_aio_free(aio);
	nghttpw_http_req_free(req);
	nghttpw_url_free(url);
	nghttpw_http_conn_close(c);
	nghttpw_stream_free(peer);
}

Test(http_conn, write_res_chunked_and_must_close)
{
	nghttpw_http_conn *c;
	nghttpw_stream    *peer;
	nghttpw_http_res  *res;
	nghttpw_aio       *aio = new_aio(5000);
	const char *expect = "HTTP/1.1 200 OK\r\n"
	                     "Transfer-Encoding: chunked\r\n"
	                     "Connection: close\r\n"
	                     "\r\n"
	                     "b\r\nhello world\r\n0\r\n\r\n";
	char *got;

	conn_pair(&c, &peer);
	nghttpw_http_res_alloc(&res);
	nghttpw_http_res_set_header(res, "Transfer-Encoding", "chunked");
	nghttpw_http_res_set_header(res, "Connection", "close");
	nghttpw_http_res_copy_data(res, "hello world", 11);
	nghttpw_http_res_del_header(res, "Content-Length");
	cr_assert(!nghttpw_http_conn_must_close(c));
	nghttpw_http_conn_write_res(c, res, aio);
	cr_assert_eq(wait_result(aio), 0);
	got = peer_recv(peer, strlen(expect));
	cr_assert_str_eq(got, expect);
	cr_assert(nghttpw_http_conn_must_close(c));
	free(got);
	nghttpw_aio_free(aio);
	nghttpw_http_res_free(res);
	nghttpw_http_conn_close(c);
	nghttpw_stream_free(peer);
}

/* As in nng, a response the application writes keeps the framing it
 * chose.  With neither a length nor chunks, its body is what the
 * application sends after it, until it closes (RFC 9112 6.3), and the
 * connection is marked to close; an empty body that was set is stated. */
Test(http_conn, write_res_keeps_the_framing_it_is_given)
{
	static const char  body[] = "streamed until the close";
	nghttpw_http_conn *c;
	nghttpw_stream    *peer;
	nghttpw_http_res  *res;
	nghttpw_aio       *aio = new_aio(5000);
	nghttpw_iov        iov = { (void *) body, sizeof(body) - 1 };
	char              *got, buf[64];

	conn_pair(&c, &peer);
	nghttpw_http_res_alloc(&res);
	nghttpw_http_conn_write_res(c, res, aio);
	cr_assert_eq(wait_result(aio), 0);
	cr_assert(nghttpw_http_conn_must_close(c));
	got = peer_recv_head(peer);
	cr_assert_str_eq(got, "HTTP/1.1 200 OK\r\n\r\n");
	free(got);
	nghttpw_aio_set_iov(aio, 1, &iov);
	nghttpw_http_conn_write_all(c, aio);
	cr_assert_eq(wait_result(aio), 0);
	nghttpw_http_conn_close(c);
	cr_assert_eq(recv_all(peer, buf, sizeof(body) - 1, NULL), 0);
	cr_assert_eq(memcmp(buf, body, sizeof(body) - 1), 0);
	cr_assert_eq(recv_all(peer, buf, 1, NULL), NGHTTPW_ECLOSED);
	nghttpw_stream_free(peer);

	conn_pair(&c, &peer);
	nghttpw_http_res_set_status(res, 404);
	cr_assert_eq(nghttpw_http_res_set_data(res, NULL, 0), 0);
	nghttpw_http_conn_write_res(c, res, aio);
	cr_assert_eq(wait_result(aio), 0);
	cr_assert(!nghttpw_http_conn_must_close(c));
	got = peer_recv_head(peer);
	cr_assert_str_eq(got, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
	free(got);
	nghttpw_aio_free(aio);
	nghttpw_http_res_free(res);
	nghttpw_http_conn_close(c);
	nghttpw_stream_free(peer);
}

Test(http_conn, read_req_then_body_then_pipelined_request)
{
	nghttpw_http_conn *c;
	nghttpw_stream    *peer;
	nghttpw_http_req  *req;
	nghttpw_aio       *aio = new_aio(5000);
	char               body[8] = { 0 };
	nghttpw_iov        iov = { body, 7 };

	conn_pair(&c, &peer);
	nghttpw_http_req_alloc(&req, NULL);
	/* Two requests in one write: the second must wait in the buffer. */
	peer_send(peer, "PUT /a/b HTTP/1.1\r\nHost: h\r\nContent-Length: 7\r\n"
	                "X-Many: 1\r\nx-many: 2\r\n\r\npayload"
	                "GET /next HTTP/1.0\r\nHost: h\r\n\r\n");
	nghttpw_http_conn_read_req(c, req, aio);
	cr_assert_eq(wait_result(aio), 0);
	cr_assert_str_eq(nghttpw_http_req_get_method(req), "PUT");
	cr_assert_str_eq(nghttpw_http_req_get_uri(req), "/a/b");
	cr_assert_str_eq(nghttpw_http_req_get_version(req), "HTTP/1.1");
	cr_assert_str_eq(nghttpw_http_req_get_header(req, "content-length"), "7");
	cr_assert_str_eq(nghttpw_http_req_get_header(req, "X-MANY"), "1, 2");
	cr_assert(!nghttpw_http_conn_must_close(c));

	nghttpw_aio_set_iov(aio, 1, &iov);
	nghttpw_http_conn_read_all(c, aio);
	cr_assert_eq(wait_result(aio), 0);
	cr_assert_eq(nghttpw_aio_count(aio), 7);
	cr_assert_str_eq(body, "payload");

	nghttpw_http_conn_read_req(c, req, aio);
	cr_assert_eq(wait_result(aio), 0);
	cr_assert_str_eq(nghttpw_http_req_get_method(req), "GET");
	cr_assert_str_eq(nghttpw_http_req_get_uri(req), "/next");
	cr_assert_null(nghttpw_http_req_get_header(req, "X-Many"), "reset between");
	cr_assert(nghttpw_http_conn_must_close(c), "HTTP/1.0 without keep-alive");
	nghttpw_aio_free(aio);
	nghttpw_http_req_free(req);
	nghttpw_http_conn_close(c);
	nghttpw_stream_free(peer);
}

typedef struct {
	nghttpw_stream *peer;
	const char     *text;
} dribble_arg;

static void *
dribble(void *arg)
{
	dribble_arg *d = arg;
	for (const char *p = d->text; *p != '\0'; p++) {
		send_all(d->peer, p, 1, NULL);
		if ((p - d->text) % 7 == 0) {
			nghttpw_msleep(1);
		}
	}
	return (NULL);
}

/* A response delimited by the close whose body is empty: the close right
 * after the head ends it, with an empty body. */
Test(http_conn, transact_close_delimited_empty_body)
{
	static const char  head[] = "HTTP/1.1 200 OK\r\n\r\n";
	nghttpw_http_conn *c;
	nghttpw_stream    *peer;
	nghttpw_http_req  *req;
	nghttpw_http_res  *res;
	nghttpw_aio       *aio = new_aio(5000);
	void              *body;
	size_t             size = 1;

	conn_pair(&c, &peer);
	nghttpw_http_req_alloc(&req, NULL);
	nghttpw_http_res_alloc(&res);
	nghttpw_http_conn_transact(c, req, res, aio);
	free(peer_recv_head(peer));
	cr_assert_eq(send_all(peer, head, sizeof(head) - 1, NULL), 0);
	nghttpw_stream_free(peer);
	cr_assert_eq(wait_result(aio), 0);
	cr_assert_eq(nghttpw_http_res_get_status(res), 200);
	nghttpw_http_res_get_data(res, &body, &size);
	cr_assert_eq(size, 0);
	cr_assert(nghttpw_http_conn_must_close(c));
	nghttpw_aio_free(aio);
	nghttpw_http_req_free(req);
	nghttpw_http_res_free(res);
	nghttpw_http_conn_close(c);
}

Test(http_conn, read_res_arriving_byte_by_byte)
{
	nghttpw_http_conn *c;
	nghttpw_stream    *peer;
	nghttpw_http_res  *res;
	nghttpw_aio       *aio = new_aio(10000);
	pthread_t          t;
	dribble_arg        d;

	conn_pair(&c, &peer);
	nghttpw_http_res_alloc(&res);
	d = (dribble_arg) { peer, "HTTP/1.1 418 Short And Stout\r\n"
		                      "Server: teapot\r\nContent-Length: 0\r\n\r\n" };
	pthread_create(&t, NULL, dribble, &d);
	nghttpw_http_conn_read_res(c, res, aio);
	cr_assert_eq(wait_result(aio), 0);
	pthread_join(t, NULL);
	cr_assert_eq(nghttpw_http_res_get_status(res), 418);
	cr_assert_str_eq(nghttpw_http_res_get_reason(res), "Short And Stout");
	cr_assert_str_eq(nghttpw_http_res_get_header(res, "server"), "teapot");
	nghttpw_aio_free(aio);
	nghttpw_http_res_free(res);
	nghttpw_http_conn_close(c);
	nghttpw_stream_free(peer);
}

/* Transact against a scripted peer. */
typedef struct {
	nghttpw_stream *peer;
	const char     *reply;
	bool            close_after;
	char           *request_head;
} server_arg;

static void *
scripted_server(void *arg)
{
	server_arg *s    = arg;
	s->request_head  = peer_recv_head(s->peer);
	send_all(s->peer, s->reply, strlen(s->reply), NULL);
	if (s->close_after) {
		nghttpw_stream_close(s->peer);
	}
	return (NULL);
}

static nghttpw_http_res *
transact_with(const char *method, const char *reply, bool close_after,
    int expect_rv, char **request_head)
{
	nghttpw_http_conn *c;
	nghttpw_stream    *peer;
	nghttpw_http_req  *req;
	nghttpw_http_res  *res;
	nghttpw_aio       *aio = new_aio(5000);
	server_arg         s;
	pthread_t          t;
	int                rv;

	conn_pair(&c, &peer);
	nghttpw_http_req_alloc(&req, NULL);
	nghttpw_http_req_set_method(req, method);
	nghttpw_http_res_alloc(&res);
	s = (server_arg) { .peer = peer, .reply = reply, .close_after = close_after };
	pthread_create(&t, NULL, scripted_server, &s);
	nghttpw_http_conn_transact(c, req, res, aio);
	rv = wait_result(aio);
	pthread_join(t, NULL);
	cr_assert_eq(rv, expect_rv, "transact: %s", nghttpw_strerror(rv));
	if (request_head != NULL) {
		*request_head = s.request_head;
	} else {
		free(s.request_head);
	}
	nghttpw_aio_free(aio);
	nghttpw_http_req_free(req);
	nghttpw_http_conn_close(c);
	nghttpw_stream_free(peer);
	return (res);
}

static void
assert_body(nghttpw_http_res *res, const char *expect)
{
	void  *body;
	size_t size;

	nghttpw_http_res_get_data(res, &body, &size);
	cr_assert_eq(size, strlen(expect), "body size %zu", size);
	if (size > 0) {
		cr_assert_arr_eq(body, expect, size);
	}
}

Test(http_conn, transact_content_length)
{
	char             *head;
	nghttpw_http_res *res = transact_with("GET",
	    "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nabcde", false, 0, &head);
	cr_assert_str_eq(head, "GET / HTTP/1.1\r\n\r\n");
	assert_body(res, "abcde");
	free(head);
	nghttpw_http_res_free(res);
}

Test(http_conn, transact_chunked_with_trailer)
{
	nghttpw_http_res *res = transact_with("GET",
	    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "4\r\nWiki\r\n6;ext=1\r\npedia \r\nE\r\nin \r\n\r\nchunks.\r\n"
	    "0\r\nX-Trailer: dropped\r\n\r\n",
	    false, 0, NULL);
	assert_body(res, "Wikipedia in \r\n\r\nchunks.");
	cr_assert_null(nghttpw_http_res_get_header(res, "X-Trailer"));
	nghttpw_http_res_free(res);
}

Test(http_conn, transact_body_until_close)
{
	nghttpw_http_res *res = transact_with("GET",
	    "HTTP/1.1 200 OK\r\n\r\nall of this until the end", true, 0, NULL);
	assert_body(res, "all of this until the end");
	nghttpw_http_res_free(res);
}

Test(http_conn, transact_head_and_204_and_304_have_no_body)
{
	nghttpw_http_res *res;

	res = transact_with("HEAD",
	    "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", false, 0, NULL);
	assert_body(res, "");
	cr_assert_str_eq(nghttpw_http_res_get_header(res, "Content-Length"), "1000");
	nghttpw_http_res_free(res);
	res = transact_with("GET", "HTTP/1.1 204 No Content\r\n\r\n", false, 0, NULL);
	cr_assert_eq(nghttpw_http_res_get_status(res), 204);
	assert_body(res, "");
	nghttpw_http_res_free(res);
	res = transact_with("GET",
	    "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n", false, 0,
	    NULL);
	assert_body(res, "");
	nghttpw_http_res_free(res);
}

Test(http_conn, transact_skips_100_continue)
{
	nghttpw_http_res *res = transact_with("GET",
	    "HTTP/1.1 100 Continue\r\n\r\n"
	    "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok",
	    false, 0, NULL);
	cr_assert_eq(nghttpw_http_res_get_status(res), 201);
	assert_body(res, "ok");
	nghttpw_http_res_free(res);
}

Test(http_conn, transact_truncated_body_is_an_error)
{
	nghttpw_http_res *res = transact_with("GET",
	    "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nshort", true,
	    NGHTTPW_ECLOSED, NULL);
	nghttpw_http_res_free(res);
}

/* Hostile or malformed heads: each is refused with a defined error. */
static void
expect_read_req_error_n(const char *wire, size_t len, int expect)
{
	nghttpw_http_conn *c;
	nghttpw_stream    *peer;
	nghttpw_http_req  *req;
	nghttpw_aio       *aio = new_aio(5000);
	int                rv;

	conn_pair(&c, &peer);
	nghttpw_http_req_alloc(&req, NULL);
	nghttpw_http_conn_set_max_header_size(c, 1024);
	nghttpw_http_conn_set_max_headers(c, 10);
	send_all(peer, wire, len, NULL);
	nghttpw_http_conn_read_req(c, req, aio);
	rv = wait_result(aio);
	cr_assert_eq(rv, expect, "for %.40s...: got %s", wire, nghttpw_strerror(rv));
	nghttpw_aio_free(aio);
	nghttpw_http_req_free(req);
	nghttpw_http_conn_close(c);
	nghttpw_stream_free(peer);
}

static void
expect_read_req_error(const char *wire, int expect)
{
	expect_read_req_error_n(wire, strlen(wire), expect);
}

Test(http_conn, smuggling_shapes_refused)
{
	expect_read_req_error("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n"
	                      "Transfer-Encoding: chunked\r\n\r\n",
	    NGHTTPW_EPROTO);
	expect_read_req_error("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n"
	                      "Content-Length: 4\r\n\r\n",
	    NGHTTPW_EPROTO);
	expect_read_req_error(
	    "GET / HTTP/1.1\r\nHost: h\r\nX-Fold: a\r\n b\r\n\r\n", NGHTTPW_EPROTO);
	expect_read_req_error(
	    "GET / HTTP/1.1\r\nHost: h\rX: y\r\n\r\n", NGHTTPW_EPROTO);
	expect_read_req_error(
	    "GET / HTTP/1.1\r\nHost : h\r\n\r\n", NGHTTPW_EPROTO);
	expect_read_req_error_n(
	    "GET / HTTP/1.1\r\nHo\0st: h\r\n\r\n", 28, NGHTTPW_EPROTO);
	expect_read_req_error("G\x01T / HTTP/1.1\r\n\r\n", NGHTTPW_EPROTO);
	expect_read_req_error("GET / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked, "
	                      "identity\r\n\r\n",
	    NGHTTPW_EPROTO);
}

Test(http_conn, bad_chunk_size_refused_in_transact)
{
	nghttpw_http_res *res = transact_with("GET",
	    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n",
	    false, NGHTTPW_EPROTO, NULL);
	nghttpw_http_res_free(res);
}

Test(http_conn, header_limits_give_emsgsize)
{
	char big[2048];
	char many[1024] = "GET / HTTP/1.1\r\n";

	snprintf(big, sizeof(big), "GET / HTTP/1.1\r\nX-Big: %01500d\r\n\r\n", 0);
	expect_read_req_error(big, NGHTTPW_EMSGSIZE);
	for (int i = 0; i < 12; i++) {
		char line[32];
		snprintf(line, sizeof(line), "X-%d: v\r\n", i);
		strcat(many, line);
	}
	strcat(many, "\r\n");
	expect_read_req_error(many, NGHTTPW_EMSGSIZE);
}

Test(http_conn, body_limit_in_transact)
{
	nghttpw_http_conn *c;
	nghttpw_stream    *peer;
	nghttpw_http_req  *req;
	nghttpw_http_res  *res;
	nghttpw_aio       *aio = new_aio(5000);
	server_arg         s;
	pthread_t          t;

	conn_pair(&c, &peer);
	nghttpw_http_conn_set_max_body(c, 4);
	nghttpw_http_req_alloc(&req, NULL);
	nghttpw_http_res_alloc(&res);
	s = (server_arg) { .peer = peer,
		.reply = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n12345" };
	pthread_create(&t, NULL, scripted_server, &s);
	nghttpw_http_conn_transact(c, req, res, aio);
	cr_assert_eq(wait_result(aio), NGHTTPW_EMSGSIZE);
	pthread_join(t, NULL);
	free(s.request_head);
	nghttpw_aio_free(aio);
	nghttpw_http_req_free(req);
	nghttpw_http_res_free(res);
	nghttpw_http_conn_close(c);
	nghttpw_stream_free(peer);
}

Test(http_conn, peer_vanishes_mid_head)
{
	nghttpw_http_conn *c;
	nghttpw_stream    *peer;
	nghttpw_http_req  *req;
	nghttpw_aio       *aio = new_aio(5000);

	conn_pair(&c, &peer);
	nghttpw_http_req_alloc(&req, NULL);
	peer_send(peer, "GET /half HTTP/1.1\r\nHost: h");
	nghttpw_stream_close(peer);
	nghttpw_http_conn_read_req(c, req, aio);
	cr_assert_eq(wait_result(aio), NGHTTPW_ECLOSED);
	nghttpw_aio_free(aio);
	nghttpw_http_req_free(req);
	nghttpw_http_conn_close(c);
	nghttpw_stream_free(peer);
}

Test(http_conn, write_all_thousand_iovs_byte_exact)
{
	nghttpw_http_conn *c;
	nghttpw_stream    *peer;
	nghttpw_aio       *aio = new_aio(10000);
	nghttpw_iov        iov[1000];
	unsigned char     *src;
	size_t             total = 0, off = 0;
	unsigned           seed  = 3;
	unsigned char     *got;

	for (int i = 0; i < 1000; i++) {
		iov[i].iov_len = (size_t) (rand_r(&seed) % 4000);
		total += iov[i].iov_len;
	}
	src = malloc(total);
	got = malloc(total);
	fill_pattern(src, total, 9);
	for (int i = 0; i < 1000; i++) {
		iov[i].iov_buf = src + off;
		off += iov[i].iov_len;
	}
	conn_pair(&c, &peer);
	nghttpw_aio_set_iov(aio, 1000, iov);
	nghttpw_http_conn_write_all(c, aio);
	/* The peer reads while the write is in flight. */
	cr_assert_eq(recv_all(peer, got, total, NULL), 0);
	cr_assert_eq(wait_result(aio), 0);
	cr_assert_eq(nghttpw_aio_count(aio), total);
	cr_assert_eq(memcmp(src, got, total), 0);
	free(src);
	free(got);
	nghttpw_aio_free(aio);
	nghttpw_http_conn_close(c);
	nghttpw_stream_free(peer);
}

Test(http_conn, write_all_to_vanished_peer_reports_count)
{
	nghttpw_http_conn *c;
	nghttpw_stream    *peer;
	nghttpw_aio       *aio = new_aio(10000);
	size_t             len = 16 << 20;
	char              *big = calloc(1, len);
	nghttpw_iov        iov = { big, len };
	int                rv;

	conn_pair(&c, &peer);
	nghttpw_stream_free(peer);
	nghttpw_aio_set_iov(aio, 1, &iov);
	nghttpw_http_conn_write_all(c, aio);
	rv = wait_result(aio);
	cr_assert(rv == NGHTTPW_ECONNRESET || rv == NGHTTPW_ECLOSED, "got %s",
	    nghttpw_strerror(rv));
	cr_assert_lt(nghttpw_aio_count(aio), len);
	free(big);
	nghttpw_aio_free(aio);
	nghttpw_http_conn_close(c);
}

Test(http_conn, cancel_timeout_and_close_of_pending_reads)
{
	nghttpw_http_conn *c;
	nghttpw_stream    *peer;
	nghttpw_http_req  *req;
	nghttpw_aio       *aio = new_aio(60);
	char               buf[4];
	nghttpw_iov        iov = { buf, 4 };

	conn_pair(&c, &peer);
	nghttpw_http_req_alloc(&req, NULL);
	nghttpw_http_conn_read_req(c, req, aio);
	cr_assert_eq(wait_result(aio), NGHTTPW_ETIMEDOUT);

	nghttpw_aio_set_timeout(aio, 5000);
	nghttpw_aio_set_iov(aio, 1, &iov);
	nghttpw_http_conn_read(c, aio);
	nghttpw_aio_cancel(aio);
	cr_assert_eq(wait_result(aio), NGHTTPW_ECANCELED);

	/* The connection is still good after both. */
	peer_send(peer, "GET / HTTP/1.1\r\n\r\n");
	nghttpw_http_conn_read_req(c, req, aio);
	cr_assert_eq(wait_result(aio), 0);

	nghttpw_http_conn_read(c, aio);
	nghttpw_http_conn_close(c);
	cr_assert_eq(wait_result(aio), NGHTTPW_ECLOSED);
	nghttpw_aio_free(aio);
	nghttpw_http_req_free(req);
	nghttpw_stream_free(peer);
}

typedef struct {
	atomic_int calls;
	atomic_int inline_call;
	pthread_t  starter;
	atomic_int inside;
} probe;

static void
probe_cb(void *arg)
{
	probe *p = arg;
	if (pthread_equal(p->starter, pthread_self()) && atomic_load(&p->inside)) {
		atomic_store(&p->inline_call, 1);
	}
	atomic_fetch_add(&p->calls, 1);
}

Test(http_conn, buffered_pipelined_request_never_calls_back_inline)
{
	nghttpw_http_conn *c;
	nghttpw_stream    *peer;
	nghttpw_http_req  *req;
	nghttpw_aio       *first = new_aio(5000), *aio;
	probe              p = { 0 };

	conn_pair(&c, &peer);
	nghttpw_http_req_alloc(&req, NULL);
	peer_send(peer, "GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n");
	nghttpw_http_conn_read_req(c, req, first);
	cr_assert_eq(wait_result(first), 0);
	/* The second request is already in the connection's buffer. */
	nghttpw_aio_alloc(&aio, probe_cb, &p);
	p.starter = pthread_self();
	atomic_store(&p.inside, 1);
	nghttpw_http_conn_read_req(c, req, aio);
	atomic_store(&p.inside, 0);
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), 0);
	cr_assert_str_eq(nghttpw_http_req_get_uri(req), "/2");
	cr_assert_eq(atomic_load(&p.inline_call), 0);
	cr_assert_eq(atomic_load(&p.calls), 1);
	nghttpw_aio_free(first);
	nghttpw_aio_free(aio);
	nghttpw_http_req_free(req);
	nghttpw_http_conn_close(c);
	nghttpw_stream_free(peer);
}

Test(http_conn, null_arguments)
{
	nghttpw_http_conn *c;
	nghttpw_aio       *aio = new_aio(1000);

	cr_assert_eq(nghttpw_http_conn_alloc(NULL, NULL), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_http_conn_alloc(&c, NULL), NGHTTPW_EINVAL);
	nghttpw_http_conn_read_req(NULL, NULL, aio);
	cr_assert_eq(wait_result(aio), NGHTTPW_EINVAL);
	nghttpw_http_conn_transact(NULL, NULL, NULL, aio);
	cr_assert_eq(wait_result(aio), NGHTTPW_EINVAL);
	nghttpw_http_conn_close(NULL);
	nghttpw_aio_free(aio);
}

/* Races: reads with tiny timeouts and cancels while requests trickle in;
 * every read completes once and no request is lost or seen twice. */
Test(http_conn, stress_read_req_cancel_timeout, .timeout = 120)
{
	nghttpw_http_conn *c;
	nghttpw_stream    *peer;
	nghttpw_http_req  *req;
	nghttpw_aio       *aio;
	atomic_int         calls = 0;
	unsigned           seed  = 17;
	int                next  = 0, sent = 0;
	/* The callback's argument lives as long as the aio (a compound
	 * literal inside the assertion would end with its statement). */
	probe p = { 0 };

	conn_pair(&c, &peer);
	nghttpw_http_req_alloc(&req, NULL);
	cr_assert_eq(nghttpw_aio_alloc(&aio, (void (*)(void *)) probe_cb, &p), 0);
	for (int i = 0; i < 3000; i++) {
		if (rand_r(&seed) % 2 && sent < 2000) {
			char line[64];
			snprintf(line, sizeof(line), "GET /%d HTTP/1.1\r\n\r\n", sent++);
			peer_send(peer, line);
		}
		nghttpw_aio_set_timeout(aio, (nghttpw_duration) (rand_r(&seed) % 3));
		nghttpw_http_conn_read_req(c, req, aio);
		if (rand_r(&seed) % 3 == 0) {
			nghttpw_aio_cancel(aio);
		}
		nghttpw_aio_wait(aio);
		atomic_fetch_add(&calls, 1);
		int rv = nghttpw_aio_result(aio);
		if (rv == 0) {
			char want[32];
			snprintf(want, sizeof(want), "/%d", next++);
			cr_assert_str_eq(nghttpw_http_req_get_uri(req), want);
		} else {
			cr_assert(rv == NGHTTPW_ECANCELED || rv == NGHTTPW_ETIMEDOUT,
			    "got %s", nghttpw_strerror(rv));
		}
	}
	cr_assert_gt(next, 0);
	nghttpw_aio_free(aio);
	nghttpw_http_req_free(req);
	nghttpw_http_conn_close(c);
	nghttpw_stream_free(peer);
}

/* Request and response round trips between two connections, over TCP and
 * over an in-memory stream of the user's own. */
static void
round_trip(bool over_tcp, const char *req_body, const char *res_body)
{
	nghttpw_stream    *a, *b;
	nghttpw_http_conn *client, *server;
	nghttpw_http_req  *req, *got_req;
	nghttpw_http_res  *res, *got_res;
	nghttpw_aio       *aio = new_aio(5000);
	char               buf[256] = { 0 };
	const char        *cl;

	cr_assert_eq(over_tcp ? tcp_pair("127.0.0.1", &a, &b) : mem_pair(&a, &b), 0);
	cr_assert_eq(nghttpw_http_conn_alloc(&client, a), 0);
	cr_assert_eq(nghttpw_http_conn_alloc(&server, b), 0);
	nghttpw_http_req_alloc(&req, NULL);
	nghttpw_http_req_alloc(&got_req, NULL);
	nghttpw_http_res_alloc(&res);
	nghttpw_http_res_alloc(&got_res);

	nghttpw_http_req_set_uri(req, "/echo");
	if (req_body != NULL) {
		nghttpw_http_req_set_method(req, "POST");
		nghttpw_http_req_set_data(req, req_body, strlen(req_body));
	}
	nghttpw_http_conn_write_req(client, req, aio);
	cr_assert_eq(wait_result(aio), 0);
	nghttpw_http_conn_read_req(server, got_req, aio);
	cr_assert_eq(wait_result(aio), 0);
	cr_assert_str_eq(nghttpw_http_req_get_uri(got_req), "/echo");
	cl = nghttpw_http_req_get_header(got_req, "Content-Length");
	if (req_body != NULL) {
		nghttpw_iov iov = { buf, strtoul(cl, NULL, 10) };
		cr_assert_eq(iov.iov_len, strlen(req_body));
		nghttpw_aio_set_iov(aio, 1, &iov);
		nghttpw_http_conn_read_all(server, aio);
		cr_assert_eq(wait_result(aio), 0);
		cr_assert_str_eq(buf, req_body);
	} else {
		cr_assert_null(cl);
	}

	/* An empty body is stated too, to keep the connection. */
	nghttpw_http_res_copy_data(res, res_body != NULL ? res_body : "",
	    res_body != NULL ? strlen(res_body) : 0);
	nghttpw_http_conn_write_res(server, res, aio);
	cr_assert_eq(wait_result(aio), 0);
	nghttpw_http_conn_read_res(client, got_res, aio);
	cr_assert_eq(wait_result(aio), 0);
	cr_assert_eq(nghttpw_http_res_get_status(got_res), 200);
	cl = nghttpw_http_res_get_header(got_res, "Content-Length");
	cr_assert_not_null(cl);
	cr_assert_eq(strtoul(cl, NULL, 10), res_body ? strlen(res_body) : 0);
	if (res_body != NULL) {
		nghttpw_iov iov = { buf, strlen(res_body) };
		memset(buf, 0, sizeof(buf));
		nghttpw_aio_set_iov(aio, 1, &iov);
		nghttpw_http_conn_read_all(client, aio);
		cr_assert_eq(wait_result(aio), 0);
		cr_assert_str_eq(buf, res_body);
	}
	nghttpw_aio_free(aio);
	nghttpw_http_req_free(req);
	nghttpw_http_req_free(got_req);
	nghttpw_http_res_free(res);
	nghttpw_http_res_free(got_res);
	nghttpw_http_conn_close(client);
	nghttpw_http_conn_close(server);
}

Test(http_conn, round_trips_tcp)
{
	round_trip(true, NULL, NULL);
	round_trip(true, "request body", "response body");
	round_trip(true, NULL, "only the response has one");
}

Test(http_conn, round_trips_user_stream)
{
	round_trip(false, NULL, NULL);
	round_trip(false, "request body", "response body");
	round_trip(false, "only the request has one", NULL);
}

Test(http_conn, write_all_single_iov_and_empty_iov)
{
	nghttpw_http_conn *c;
	nghttpw_stream    *peer;
	nghttpw_aio       *aio = new_aio(5000);
	nghttpw_iov        iov = { "one buffer", 10 };
	char              *got;

	conn_pair(&c, &peer);
	nghttpw_http_conn_write_all(c, aio);
	cr_assert_eq(wait_result(aio), NGHTTPW_EINVAL, "no iov at all");
	nghttpw_aio_set_iov(aio, 1, &iov);
	nghttpw_http_conn_write_all(c, aio);
	cr_assert_eq(wait_result(aio), 0);
	cr_assert_eq(nghttpw_aio_count(aio), 10);
	got = peer_recv(peer, 10);
	cr_assert_str_eq(got, "one buffer");
	free(got);
	nghttpw_aio_free(aio);
	nghttpw_http_conn_close(c);
	nghttpw_stream_free(peer);
}

Test(http_conn, write_all_times_out_when_peer_never_reads)
{
	nghttpw_http_conn *c;
	nghttpw_stream    *peer;
	nghttpw_aio       *aio = new_aio(200);
	size_t             len = 64 << 20;
	char              *big = calloc(1, len);
	nghttpw_iov        iov = { big, len };

	conn_pair(&c, &peer);
	nghttpw_aio_set_iov(aio, 1, &iov);
	nghttpw_http_conn_write_all(c, aio);
	cr_assert_eq(wait_result(aio), NGHTTPW_ETIMEDOUT);
	cr_assert_gt(nghttpw_aio_count(aio), 0, "socket buffers took nothing?");
	cr_assert_lt(nghttpw_aio_count(aio), len);
	free(big);
	nghttpw_aio_free(aio);
	nghttpw_http_conn_close(c);
	nghttpw_stream_free(peer);
}

Test(http_conn, pending_write_on_closed_conn_gives_eclosed)
{
	nghttpw_http_conn *c;
	nghttpw_stream    *peer;
	nghttpw_aio       *aio = new_aio(5000);
	size_t             len = 64 << 20;
	char              *big = calloc(1, len);
	nghttpw_iov        iov = { big, len };

	conn_pair(&c, &peer);
	nghttpw_aio_set_iov(aio, 1, &iov);
	nghttpw_http_conn_write_all(c, aio);
	nghttpw_msleep(20);
	nghttpw_http_conn_close(c);
	cr_assert_eq(wait_result(aio), NGHTTPW_ECLOSED);
	cr_assert_lt(nghttpw_aio_count(aio), len);
	free(big);
	nghttpw_aio_free(aio);
	nghttpw_stream_free(peer);
}

/* The peer takes part of a large write, then resets: the count is at
 * least what the peer read and short of the total. */
typedef struct {
	nghttpw_stream *peer;
	size_t          want;
	size_t          got;
} partial_reader;

static void *
read_then_reset(void *arg)
{
	partial_reader *p   = arg;
	char           *buf = malloc(p->want);

	recv_all(p->peer, buf, p->want, &p->got);
	free(buf);
	/* Unread data in the socket when it closes makes the kernel reset. */
	nghttpw_stream_free(p->peer);
	return (NULL);
}

Test(http_conn, write_all_to_peer_that_resets_part_way)
{
	nghttpw_http_conn *c;
	nghttpw_stream    *peer;
	nghttpw_aio       *aio = new_aio(10000);
	size_t             len = 64 << 20;
	char              *big = calloc(1, len);
	nghttpw_iov        iov = { big, len };
	partial_reader     p;
	pthread_t          t;
	int                rv;

	conn_pair(&c, &peer);
	p = (partial_reader) { .peer = peer, .want = 1 << 20 };
	pthread_create(&t, NULL, read_then_reset, &p);
	nghttpw_aio_set_iov(aio, 1, &iov);
	nghttpw_http_conn_write_all(c, aio);
	rv = wait_result(aio);
	pthread_join(t, NULL);
	cr_assert(rv == NGHTTPW_ECONNRESET || rv == NGHTTPW_ECLOSED, "got %s",
	    nghttpw_strerror(rv));
	cr_assert_eq(p.got, p.want);
	cr_assert_geq(nghttpw_aio_count(aio), p.got);
	cr_assert_lt(nghttpw_aio_count(aio), len);
	free(big);
	nghttpw_aio_free(aio);
	nghttpw_http_conn_close(c);
}

Test(http_conn, chunked_body_split_byte_by_byte)
{
	nghttpw_http_conn *c;
	nghttpw_stream    *peer;
	nghttpw_http_req  *req;
	nghttpw_http_res  *res;
	nghttpw_aio       *aio = new_aio(10000);
	pthread_t          t;
	dribble_arg        d;
	char              *head;

	conn_pair(&c, &peer);
	nghttpw_http_req_alloc(&req, NULL);
	nghttpw_http_res_alloc(&res);
	nghttpw_http_conn_transact(c, req, res, aio);
	head = peer_recv_head(peer);
	free(head);
	d = (dribble_arg) { peer,
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		"3;name=value\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\n"
		"Expires: never\r\n\r\n" };
	pthread_create(&t, NULL, dribble, &d);
	cr_assert_eq(wait_result(aio), 0);
	pthread_join(t, NULL);
	assert_body(res, "abc0123456789abcdef");
	nghttpw_aio_free(aio);
	nghttpw_http_req_free(req);
	nghttpw_http_res_free(res);
	nghttpw_http_conn_close(c);
	nghttpw_stream_free(peer);
}

/* Server-side helpers: request bodies by length and by chunks, HEAD
 * responses, file bodies and the bounds on request heads. */
static void
read_body_case(const char *wire, size_t max, int expect, const char *body)
{
	nghttpw_http_conn *c;
	nghttpw_stream    *peer;
	nghttpw_http_req  *req;
	nghttpw_aio       *aio = new_aio(5000);
	void              *data;
	size_t             size;

	conn_pair(&c, &peer);
	nghttpw_http_req_alloc(&req, NULL);
	peer_send(peer, wire);
	nghttpw_http_conn_read_req(c, req, aio);
	cr_assert_eq(wait_result(aio), 0);
	http_conn_read_body(c, req, max, aio);
	cr_assert_eq(wait_result(aio), expect, "got %s",
	    nghttpw_strerror(nghttpw_aio_result(aio)));
	if (expect == 0) {
		nghttpw_http_req_get_data(req, &data, &size);
		cr_assert_eq(size, strlen(body));
		if (size > 0) {
			cr_assert_arr_eq(data, body, size);
		}
		/* What follows the body is the next request. */
		peer_send(peer, "GET /after HTTP/1.1\r\n\r\n");
		nghttpw_http_conn_read_req(c, req, aio);
		cr_assert_eq(wait_result(aio), 0);
		cr_assert_str_eq(nghttpw_http_req_get_uri(req), "/after");
	}
	nghttpw_aio_free(aio);
	nghttpw_http_req_free(req);
	nghttpw_http_conn_close(c);
	nghttpw_stream_free(peer);
}

Test(http_conn, read_body_by_length_chunks_and_none)
{
	read_body_case("POST / HTTP/1.1\r\nContent-Length: 4\r\n\r\nbody", 100, 0,
	    "body");
	read_body_case("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
	               "2\r\nch\r\n5\r\nunked\r\n0\r\n\r\n",
	    100, 0, "chunked");
	read_body_case("GET / HTTP/1.1\r\n\r\n", 100, 0, "");
	read_body_case("POST / HTTP/1.1\r\nContent-Length: 40\r\n\r\n", 10,
	    NGHTTPW_EMSGSIZE, NULL);
	read_body_case("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
	               "20\r\n0123456789abcdef0123456789abcdef\r\n0\r\n\r\n",
	    10, NGHTTPW_EMSGSIZE, NULL);
	read_body_case("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
	               "2x\r\nab\r\n0\r\n\r\n",
	    100, NGHTTPW_EPROTO, NULL);
}

Test(http_conn, write_res_head_sends_no_body)
{
	nghttpw_http_conn *c;
	nghttpw_stream    *peer;
	nghttpw_http_res  *res;
	nghttpw_aio       *aio = new_aio(5000);
	char              *got;
	char               extra;
	nghttpw_iov        iov = { &extra, 1 };

	conn_pair(&c, &peer);
	nghttpw_http_res_alloc(&res);
	nghttpw_http_res_copy_data(res, "0123456789", 10);
	nghttpw_http_conn_write_res_head(c, res, aio);
	cr_assert_eq(wait_result(aio), 0);
	got = peer_recv_head(peer);
	cr_assert_str_eq(got, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n");
	cr_assert_eq(sync_op(nghttpw_stream_recv, peer, &iov, 1, 100, NULL),
	    NGHTTPW_ETIMEDOUT, "a body followed the head");
	free(got);
	nghttpw_aio_free(aio);
	nghttpw_http_res_free(res);
	nghttpw_http_conn_close(c);
	nghttpw_stream_free(peer);
}

static void
file_body_case(bool over_tcp)
{
	nghttpw_stream    *a, *b;
	nghttpw_http_conn *c;
	nghttpw_http_res  *res;
	nghttpw_aio       *aio = new_aio(10000);
	char               path[] = "/tmp/nghttpw-file-XXXXXX";
	int                fd = mkstemp(path);
	size_t             len = 3 << 20, off = 12345, part = len - off - 100;
	unsigned char     *data = malloc(len), *got = malloc(part);
	char              *head;
	char               expect[64];

	fill_pattern(data, len, 5);
	cr_assert_eq(write(fd, data, len), (ssize_t) len);
	unlink(path);
	cr_assert_eq(over_tcp ? tcp_pair("127.0.0.1", &a, &b) : mem_pair(&a, &b), 0);
	cr_assert_eq(nghttpw_http_conn_alloc(&c, a), 0);
	nghttpw_http_res_alloc(&res);
	cr_assert_eq(nhw_http_res_set_file(res, fd, off, part), 0);
	nghttpw_http_conn_write_res(c, res, aio);
	head = peer_recv_head(b);
	snprintf(expect, sizeof(expect),
	    "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n", part);
	cr_assert_str_eq(head, expect);
	cr_assert_eq(recv_all(b, got, part, NULL), 0);
	cr_assert_eq(wait_result(aio), 0);
	cr_assert_eq(memcmp(got, data + off, part), 0, "file bytes differ");
	cr_assert_eq(nghttpw_aio_count(aio), strlen(expect) + part);
	free(head);
	free(data);
	free(got);
	nghttpw_aio_free(aio);
	nghttpw_http_res_free(res); /* closes fd */
	nghttpw_http_conn_close(c);
	nghttpw_stream_free(b);
}

Test(http_conn, file_body_with_sendfile_over_tcp) { file_body_case(true); }
Test(http_conn, file_body_read_and_sent_over_user_stream)
{
	file_body_case(false);
}

Test(http_conn, request_head_bounds)
{
	nghttpw_http_conn *c;
	nghttpw_stream    *peer;
	nghttpw_http_req  *req;
	nghttpw_aio       *aio = new_aio(5000);
	nghttpw_time       start;

	conn_pair(&c, &peer);
	nghttpw_http_req_alloc(&req, NULL);
	http_conn_set_read_timeouts(c, 100, 300);
	/* Idle: nothing at all arrives. */
	start = nghttpw_clock();
	nghttpw_http_conn_read_req(c, req, aio);
	cr_assert_eq(wait_result(aio), NGHTTPW_ETIMEDOUT);
	cr_assert_lt(nghttpw_clock() - start, 280);
	cr_assert(!http_conn_head_started(c));
	/* Slow: the head starts but never ends, though bytes keep coming
	 * faster than the idle bound. */
	start = nghttpw_clock();
	nghttpw_http_conn_read_req(c, req, aio);
	peer_send(peer, "GET /");
	for (int i = 0; i < 8 && nghttpw_aio_busy(aio); i++) {
		peer_send(peer, "a");
		nghttpw_msleep(60);
	}
	cr_assert_eq(wait_result(aio), NGHTTPW_ETIMEDOUT);
	cr_assert_geq(nghttpw_clock() - start, 300);
	cr_assert_lt(nghttpw_clock() - start, 800);
	cr_assert(http_conn_head_started(c));
	nghttpw_aio_free(aio);
	nghttpw_http_req_free(req);
	nghttpw_http_conn_close(c);
	nghttpw_stream_free(peer);
}

/* A request head awaited past the read buffer's linger: the idle bound
 * still counts from the start of the wait, and a head that comes later
 * (in pieces, two pipelined) is read whole -- over TCP, which waits for
 * readability without a buffer, and over a user's stream, which waits in
 * a few inline bytes. */
static void
check_request_after_idle(bool tcp)
{
	nghttpw_http_conn *c;
	nghttpw_stream    *s, *peer;
	nghttpw_http_req  *req;
	nghttpw_aio       *aio = new_aio(5000);
	nghttpw_time       start;

	cr_assert_eq(tcp ? tcp_pair("127.0.0.1", &s, &peer) : mem_pair(&s, &peer), 0);
	cr_assert_eq(nghttpw_http_conn_alloc(&c, s), 0);
	nghttpw_http_req_alloc(&req, NULL);
	http_conn_set_read_timeouts(c, 300, 1000);
	start = nghttpw_clock();
	nghttpw_http_conn_read_req(c, req, aio);
	cr_assert_eq(wait_result(aio), NGHTTPW_ETIMEDOUT);
	cr_assert_geq(nghttpw_clock() - start, 290);
	cr_assert_lt(nghttpw_clock() - start, 600);
	cr_assert(!http_conn_head_started(c));

	nghttpw_http_conn_read_req(c, req, aio);
	nghttpw_msleep(120);
	peer_send(peer, "GET /first-request-longer-than-sixteen");
	nghttpw_msleep(20);
	peer_send(peer, " HTTP/1.1\r\nHost: h\r\n\r\nGET /second HTTP/1.1\r\n");
	cr_assert_eq(wait_result(aio), 0);
	cr_assert_str_eq(nghttpw_http_req_get_uri(req),
	    "/first-request-longer-than-sixteen");
	cr_assert_gt(http_conn_buffered(c), 0);
	nghttpw_http_conn_read_req(c, req, aio);
	nghttpw_msleep(120);
	peer_send(peer, "Host: h\r\n\r\n");
	cr_assert_eq(wait_result(aio), 0);
	cr_assert_str_eq(nghttpw_http_req_get_uri(req), "/second");
	cr_assert_str_eq(nghttpw_http_req_get_header(req, "Host"), "h");
	cr_assert_eq(http_conn_buffered(c), 0);
	nghttpw_aio_free(aio);
	nghttpw_http_req_free(req);
	nghttpw_http_conn_close(c);
	nghttpw_stream_free(peer);
}

Test(http_conn, request_after_the_idle_buffer_is_released)
{
	check_request_after_idle(true);
}

Test(http_conn, request_after_the_idle_buffer_is_released_user_stream)
{
	check_request_after_idle(false);
}

/* Raw reads after a request (as after a hijack) are bounded by the
 * caller's aio only: not by the short linger the head read waited with. */
Test(http_conn, raw_read_after_a_waited_head_keeps_its_own_timeout)
{
	nghttpw_http_conn *c;
	nghttpw_stream    *peer;
	nghttpw_http_req  *req;
	nghttpw_aio       *aio = new_aio(5000);
	char               buf[8];
	nghttpw_iov        iov = { buf, sizeof(buf) };

	conn_pair(&c, &peer);
	nghttpw_http_req_alloc(&req, NULL);
	nghttpw_http_conn_read_req(c, req, aio);
	nghttpw_msleep(20); /* the head read is waiting */
	peer_send(peer, "GET /ws HTTP/1.1\r\nHost: h\r\n\r\n");
	cr_assert_eq(wait_result(aio), 0);

	nghttpw_aio_set_iov(aio, 1, &iov);
	nghttpw_http_conn_read(c, aio);
	nghttpw_msleep(300);
	peer_send(peer, "hello");
	cr_assert_eq(wait_result(aio), 0, "%s",
	    nghttpw_strerror(nghttpw_aio_result(aio)));
	cr_assert_eq(nghttpw_aio_count(aio), 5);
	nghttpw_aio_free(aio);
	nghttpw_http_req_free(req);
	nghttpw_http_conn_close(c);
	nghttpw_stream_free(peer);
}

Test(http_conn, unknown_transfer_coding_in_request_is_enotsup)
{
	expect_read_req_error(
	    "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", NGHTTPW_ENOTSUP);
	expect_read_req_error(
	    "POST / HTTP/1.1\r\nTransfer-Encoding: identity\r\n\r\n", NGHTTPW_ENOTSUP);
}

Test(http_conn, partial_head_survives_a_timed_out_read)
{
	nghttpw_http_conn *c;
	nghttpw_stream    *peer;
	nghttpw_http_req  *req;
	nghttpw_aio       *aio = new_aio(80);

	conn_pair(&c, &peer);
	nghttpw_http_req_alloc(&req, NULL);
	peer_send(peer, "GET /whole-path HTTP/1.1\r\nHost: h");
	nghttpw_http_conn_read_req(c, req, aio);
	cr_assert_eq(wait_result(aio), NGHTTPW_ETIMEDOUT);
	peer_send(peer, "\r\n\r\n");
	nghttpw_aio_set_timeout(aio, 5000);
	nghttpw_http_conn_read_req(c, req, aio);
	cr_assert_eq(wait_result(aio), 0);
	cr_assert_str_eq(nghttpw_http_req_get_uri(req), "/whole-path");
	cr_assert_str_eq(nghttpw_http_req_get_header(req, "Host"), "h");
	nghttpw_aio_free(aio);
	nghttpw_http_req_free(req);
	nghttpw_http_conn_close(c);
	nghttpw_stream_free(peer);
}

Test(http_conn, framing_rules_on_write)
{
	nghttpw_http_conn *c;
	nghttpw_stream    *peer;
	nghttpw_http_res  *res;
	nghttpw_aio       *aio = new_aio(5000);
	char              *got;
	char               extra;
	nghttpw_iov        iov = { &extra, 1 };

	conn_pair(&c, &peer);
	nghttpw_http_res_alloc(&res);
	/* A 204 never carries a body, whatever the message holds. */
	nghttpw_http_res_set_status(res, 204);
	nghttpw_http_res_set_data(res, "ignored", 7);
	nghttpw_http_res_del_header(res, "Content-Length");
	nghttpw_http_conn_write_res(c, res, aio);
	cr_assert_eq(wait_result(aio), 0);
	got = peer_recv_head(peer);
	cr_assert_str_eq(got, "HTTP/1.1 204 No Content\r\n\r\n");
	free(got);
	cr_assert_eq(sync_op(nghttpw_stream_recv, peer, &iov, 1, 100, NULL),
	    NGHTTPW_ETIMEDOUT, "a body followed a 204");
	/* Chunked wins over a length that set_data added. */
	nghttpw_http_res_reset(res);
	nghttpw_http_res_set_data(res, "abc", 3);
	nghttpw_http_res_set_header(res, "Transfer-Encoding", "chunked");
	nghttpw_http_conn_write_res(c, res, aio);
	cr_assert_eq(wait_result(aio), 0);
	got = peer_recv_head(peer);
	cr_assert_str_eq(got, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
	free(got);
	got = peer_recv(peer, 13);
	cr_assert_str_eq(got, "3\r\nabc\r\n0\r\n\r\n");
	free(got);
	nghttpw_aio_free(aio);
	nghttpw_http_res_free(res);
	nghttpw_http_conn_close(c);
	nghttpw_stream_free(peer);
}

/* Closing a connection while a transact is at any stage: the transact
 * ends (never hangs), and nothing is used after it is freed. */
static void *
answer_slowly(void *arg)
{
	server_arg *s = arg;
	char        buf[256];
	nghttpw_iov iov = { buf, sizeof(buf) };

	(void) sync_op(nghttpw_stream_recv, s->peer, &iov, 1, 2000, NULL);
	(void) send_all(s->peer, s->reply, strlen(s->reply), NULL);
	return (NULL);
}

Test(http_conn, stress_close_during_transact, .timeout = 120)
{
	unsigned seed = 23;

	for (int i = 0; i < 300; i++) {
		nghttpw_http_conn *c;
		nghttpw_stream    *peer;
		nghttpw_http_req  *req;
		nghttpw_http_res  *res;
		nghttpw_aio       *aio = new_aio(5000);
		server_arg         s;
		pthread_t          t;
		int                rv;

		conn_pair(&c, &peer);
		nghttpw_http_req_alloc(&req, NULL);
		nghttpw_http_res_alloc(&res);
		s = (server_arg) { .peer  = peer,
			.reply = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" };
		pthread_create(&t, NULL, answer_slowly, &s);
		nghttpw_http_conn_transact(c, req, res, aio);
		if (rand_r(&seed) % 2) {
			nghttpw_msleep((nghttpw_duration) (rand_r(&seed) % 2));
		}
		nghttpw_http_conn_close(c);
		rv = wait_result(aio);
		cr_assert(rv == 0 || rv == NGHTTPW_ECLOSED, "got %s",
		    nghttpw_strerror(rv));
		pthread_join(t, NULL);
		nghttpw_aio_free(aio);
		nghttpw_http_req_free(req);
		nghttpw_http_res_free(res);
		nghttpw_stream_free(peer);
	}
}

/* Response bodies after read_res, for a client that reads heads itself. */
static void
read_res_body_case(const char *wire, bool close_after, int expect,
    const char *body)
{
	nghttpw_http_conn *c;
	nghttpw_stream    *peer;
	nghttpw_http_res  *res;
	nghttpw_aio       *aio = new_aio(5000);

	conn_pair(&c, &peer);
	nghttpw_http_res_alloc(&res);
	peer_send(peer, wire);
	if (close_after) {
		nghttpw_stream_close(peer);
	}
	nghttpw_http_conn_read_res(c, res, aio);
	cr_assert_eq(wait_result(aio), 0);
	http_conn_read_res_body(c, res, 1000, aio);
	cr_assert_eq(wait_result(aio), expect, "got %s",
	    nghttpw_strerror(nghttpw_aio_result(aio)));
	if (expect == 0) {
		assert_body(res, body);
	}
	nghttpw_aio_free(aio);
	nghttpw_http_res_free(res);
	nghttpw_http_conn_close(c);
	nghttpw_stream_free(peer);
}

Test(http_conn, read_res_body_all_framings)
{
	read_res_body_case("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc", false,
	    0, "abc");
	read_res_body_case("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	                   "1\r\nx\r\n2\r\nyz\r\n0\r\nT: 1\r\n\r\n",
	    false, 0, "xyz");
	read_res_body_case("HTTP/1.1 200 OK\r\n\r\nuntil close", true, 0,
	    "until close");
	read_res_body_case("HTTP/1.1 204 No Content\r\n\r\n", false, 0, "");
	read_res_body_case("HTTP/1.1 200 OK\r\nContent-Length: 2000\r\n\r\n", false,
	    NGHTTPW_EMSGSIZE, NULL);
	read_res_body_case("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort", true,
	    NGHTTPW_ECLOSED, NULL);
}

/* Regressions from fuzzing. */

Test(http_conn, connect_body_is_never_read_as_a_next_request)
{
	nghttpw_http_conn *c;
	nghttpw_stream    *peer;
	nghttpw_http_req  *req;
	nghttpw_aio       *aio = new_aio(5000);

	conn_pair(&c, &peer);
	nghttpw_http_req_alloc(&req, NULL);
	peer_send(peer, "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n"
	                "Content-Length: 27\r\n\r\nGET /admin HTTP/1.1\r\n\r\n");
	nghttpw_http_conn_read_req(c, req, aio);
	cr_assert_eq(wait_result(aio), 0);
	cr_assert_str_eq(nghttpw_http_req_get_method(req), "CONNECT");
	/* What follows a CONNECT is a tunnel: the connection must end. */
	cr_assert(nghttpw_http_conn_must_close(c));
	nghttpw_aio_free(aio);
	nghttpw_http_req_free(req);
	nghttpw_http_conn_close(c);
	nghttpw_stream_free(peer);
}

Test(http_conn, retry_after_oversized_head_does_not_parse_from_its_middle)
{
	nghttpw_http_conn *c;
	nghttpw_stream    *peer;
	nghttpw_http_req  *req;
	nghttpw_aio       *aio = new_aio(5000);
	const char        *wire = "GET / HTTP/1.1\r\nX: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	                          " GET /x HTTP/1.1\r\n\r\n";
	const size_t       pieces[] = { 17, 11, 5, 17, 19 };
	size_t             off = 0;
	int                rv;

	conn_pair(&c, &peer);
	nghttpw_http_req_alloc(&req, NULL);
	nghttpw_http_conn_set_max_header_size(c, 64);
	nghttpw_http_conn_read_req(c, req, aio);
	for (size_t i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
		cr_assert_eq(send_all(peer, wire + off, pieces[i], NULL), 0);
		off += pieces[i];
		nghttpw_msleep(20);
	}
	cr_assert_eq(wait_result(aio), NGHTTPW_EMSGSIZE);
	nghttpw_aio_set_timeout(aio, 200);
	nghttpw_http_conn_read_req(c, req, aio);
	rv = wait_result(aio);
	cr_assert_neq(rv, 0, "a request was read out of the middle of a header: %s",
	    nghttpw_http_req_get_uri(req));
	nghttpw_aio_free(aio);
	nghttpw_http_req_free(req);
	nghttpw_http_conn_close(c);
	nghttpw_stream_free(peer);
}

Test(http_conn, empty_transfer_encoding_is_refused)
{
	expect_read_req_error("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n"
	                      "Content-Length: 3\r\n\r\nabcGET /next HTTP/1.1\r\n\r\n",
	    NGHTTPW_EPROTO);
	nghttpw_http_res *res = transact_with("GET",
	    "HTTP/1.1 200 OK\r\nTransfer-Encoding: \r\nContent-Length: 2\r\n\r\nok",
	    false, NGHTTPW_EPROTO, NULL);
	nghttpw_http_res_free(res);
}

/* ------------------------------------------------ batched answers */

static nghttpw_http_res *
text_res(const char *text)
{
	nghttpw_http_res *res;

	cr_assert_eq(nghttpw_http_res_alloc(&res), 0);
	cr_assert_eq(nghttpw_http_res_copy_data(res, text, strlen(text)), 0);
	return (res);
}

/* Whether the peer receives nothing within ms. */
static bool
peer_quiet(nghttpw_stream *peer, nghttpw_duration ms)
{
	char        byte;
	nghttpw_iov iov = { &byte, 1 };

	return (sync_op(nghttpw_stream_recv, peer, &iov, 1, ms, NULL) ==
	    NGHTTPW_ETIMEDOUT);
}

static void
peer_expect_answer(nghttpw_stream *peer, const char *body)
{
	char *head = peer_recv_head(peer);
	char *got  = peer_recv(peer, strlen(body));

	cr_assert(strncmp(head, "HTTP/1.1 200 ", 13) == 0, "%s", head);
	cr_assert_str_eq(got, body);
	free(head);
	free(got);
}

/* Answers to pipelined requests wait while the next request is buffered,
 * and leave together before a read has to wait for the network. */
Test(http_conn, batched_answers_leave_before_a_read_waits)
{
	nghttpw_http_conn *c;
	nghttpw_stream    *peer;
	nghttpw_http_req  *req;
	nghttpw_http_res  *one = text_res("one"), *two = text_res("two");
	nghttpw_http_res  *three = text_res("three");
	nghttpw_aio       *aio   = new_aio(5000);
	nghttpw_aio       *rd    = new_aio(5000);

	conn_pair(&c, &peer);
	nghttpw_http_req_alloc(&req, NULL);
	peer_send(peer, "GET /1 HTTP/1.1\r\nHost: h\r\n\r\n"
	                "GET /2 HTTP/1.1\r\nHost: h\r\n\r\n");
	nghttpw_http_conn_read_req(c, req, rd);
	cr_assert_eq(wait_result(rd), 0);
	http_conn_write_res_batched(c, one, false, aio);
	cr_assert_eq(wait_result(aio), 0);
	cr_assert_gt(nghttpw_aio_count(aio), 3, "the bytes queued");
	cr_assert(peer_quiet(peer, 100), "sent while a request was buffered");

	/* The second request comes from the buffer; its answer joins the
	 * first. */
	nghttpw_http_conn_read_req(c, req, rd);
	cr_assert_eq(wait_result(rd), 0);
	cr_assert_str_eq(nghttpw_http_req_get_uri(req), "/2");
	http_conn_write_res_batched(c, two, true, aio);
	cr_assert_eq(wait_result(aio), 0);
	cr_assert(peer_quiet(peer, 50));

	/* The next read needs the network: both go first. */
	nghttpw_http_conn_read_req(c, req, rd);
	peer_expect_answer(peer, "one");
	free(peer_recv_head(peer)); /* two: its head only */
	peer_send(peer, "GET /3 HTTP/1.1\r\nHost: h\r\n\r\n");
	cr_assert_eq(wait_result(rd), 0);
	cr_assert_str_eq(nghttpw_http_req_get_uri(req), "/3");

	/* Nothing buffered, nothing queued: written at once. */
	http_conn_write_res_batched(c, three, false, aio);
	cr_assert_eq(wait_result(aio), 0);
	peer_expect_answer(peer, "three");
	http_conn_flush(c, aio);
	cr_assert_eq(wait_result(aio), 0);

	nghttpw_aio_free(aio);
	nghttpw_aio_free(rd);
	nghttpw_http_res_free(one);
	nghttpw_http_res_free(two);
	nghttpw_http_res_free(three);
	nghttpw_http_req_free(req);
	nghttpw_http_conn_close(c);
	nghttpw_stream_free(peer);
}

/* What never waits in the batch: an answer that closes the connection,
 * and (once queued answers are flushed ahead of it) any plain write. */
Test(http_conn, closing_answer_and_plain_writes_flush_the_batch)
{
	nghttpw_http_conn *c;
	nghttpw_stream    *peer;
	nghttpw_http_req  *req;
	nghttpw_http_res  *one = text_res("one"), *two = text_res("two");
	nghttpw_aio       *aio = new_aio(5000);
	nghttpw_iov        iov = { "raw", 3 };
	char              *got;

	conn_pair(&c, &peer);
	nghttpw_http_req_alloc(&req, NULL);
	peer_send(peer, "GET /1 HTTP/1.1\r\nHost: h\r\n\r\n"
	                "GET /2 HTTP/1.1\r\nHost: h\r\n\r\n"
	                "GET /3 HTTP/1.1\r\nHost: h\r\n\r\n");
	nghttpw_http_conn_read_req(c, req, aio);
	cr_assert_eq(wait_result(aio), 0);
	http_conn_write_res_batched(c, one, false, aio);
	cr_assert_eq(wait_result(aio), 0);
	cr_assert(peer_quiet(peer, 50));
	/* A raw write goes after the queue. */
	nghttpw_aio_set_iov(aio, 1, &iov);
	nghttpw_http_conn_write_all(c, aio);
	cr_assert_eq(wait_result(aio), 0);
	cr_assert_eq(nghttpw_aio_count(aio), 3);
	peer_expect_answer(peer, "one");
	got = peer_recv(peer, 3);
	cr_assert_str_eq(got, "raw");
	free(got);

	nghttpw_http_conn_read_req(c, req, aio);
	cr_assert_eq(wait_result(aio), 0);
	http_conn_write_res_batched(c, one, false, aio);
	cr_assert_eq(wait_result(aio), 0);
	cr_assert_eq(nghttpw_http_res_set_header(two, "Connection", "close"), 0);
	http_conn_write_res_batched(c, two, false, aio);
	cr_assert_eq(wait_result(aio), 0);
	cr_assert(nghttpw_http_conn_must_close(c));
	peer_expect_answer(peer, "one");
	peer_expect_answer(peer, "two");

	nghttpw_aio_free(aio);
	nghttpw_http_res_free(one);
	nghttpw_http_res_free(two);
	nghttpw_http_req_free(req);
	nghttpw_http_conn_close(c);
	nghttpw_stream_free(peer);
}

/* A stream whose sends fail once told to, over a TCP one. */
static atomic_bool sends_fail;

static void
fs_free(void *arg)
{
	nghttpw_stream_free(arg);
}

static void
fs_close(void *arg)
{
	nghttpw_stream_close(arg);
}

static void
fs_stop(void *arg)
{
	nghttpw_stream_stop(arg);
}

static void
fs_send(void *arg, nghttpw_aio *aio)
{
	if (!atomic_load(&sends_fail)) {
		nghttpw_stream_send(arg, aio);
	} else if (nghttpw_aio_begin(aio)) {
		nghttpw_aio_finish(aio, NGHTTPW_ECONNRESET);
	}
}

static void
fs_recv(void *arg, nghttpw_aio *aio)
{
	nghttpw_stream_recv(arg, aio);
}

static const nghttpw_stream_ops failing_ops = {
	.s_free  = fs_free,
	.s_close = fs_close,
	.s_stop  = fs_stop,
	.s_send  = fs_send,
	.s_recv  = fs_recv,
};

/* A flush that fails loses answers the peer is owed: the read waiting
 * for it fails, and the connection is done. */
Test(http_conn, failed_flush_fails_the_read_and_the_connection)
{
	nghttpw_http_conn *c;
	nghttpw_stream    *s, *failing, *peer;
	nghttpw_http_req  *req;
	nghttpw_http_res  *one = text_res("one");
	nghttpw_aio       *aio = new_aio(5000);

	cr_assert_eq(tcp_pair("127.0.0.1", &s, &peer), 0);
	cr_assert_eq(nghttpw_stream_alloc(&failing, &failing_ops, s), 0);
	cr_assert_eq(nghttpw_http_conn_alloc(&c, failing), 0);
	atomic_store(&sends_fail, false);
	nghttpw_http_req_alloc(&req, NULL);
	peer_send(peer, "GET /1 HTTP/1.1\r\nHost: h\r\n\r\n"
	                "GET /2 HTTP/1.1\r\nHost: h\r\n\r\nGET /3");
	nghttpw_http_conn_read_req(c, req, aio);
	cr_assert_eq(wait_result(aio), 0);
	http_conn_write_res_batched(c, one, false, aio);
	cr_assert_eq(wait_result(aio), 0);
	nghttpw_http_conn_read_req(c, req, aio);
	cr_assert_eq(wait_result(aio), 0);
	http_conn_write_res_batched(c, one, false, aio);
	cr_assert_eq(wait_result(aio), 0);
	atomic_store(&sends_fail, true);
	/* Incomplete third head: the read must flush, and that fails. */
	nghttpw_http_conn_read_req(c, req, aio);
	cr_assert_eq(wait_result(aio), NGHTTPW_ECLOSED);
	cr_assert(nghttpw_http_conn_must_close(c));
	nghttpw_http_conn_write_res(c, one, aio);
	cr_assert_neq(wait_result(aio), 0);

	nghttpw_aio_free(aio);
	nghttpw_http_res_free(one);
	nghttpw_http_req_free(req);
	nghttpw_http_conn_close(c);
	nghttpw_stream_free(peer);
}

/* Closing a connection while the caller stops its pending read: the stop
 * may take the connection's cancel just as the close finishes the read,
 * and the connection must outlive that cancel (it is freed on the reaper
 * after a barrier). */
Test(http_conn, close_races_with_a_stopped_read, .timeout = 120)
{
	for (int i = 0; i < 300; i++) {
		nghttpw_stream    *a, *b;
		nghttpw_http_conn *conn;
		nghttpw_aio       *aio;
		char               buf[16];
		nghttpw_iov        iov = { buf, sizeof(buf) };

		cr_assert_eq(tcp_pair("127.0.0.1", &a, &b), 0);
		cr_assert_eq(nghttpw_http_conn_alloc(&conn, a), 0);
		cr_assert_eq(nghttpw_aio_alloc(&aio, NULL, NULL), 0);
		nghttpw_aio_set_iov(aio, 1, &iov);
		nghttpw_http_conn_read(conn, aio);
		nghttpw_http_conn_close(conn);
		nghttpw_aio_stop(aio);
		nghttpw_aio_free(aio);
		nghttpw_stream_free(b);
	}
}
