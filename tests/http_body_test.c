/* nghttpw_http_conn_read_body over real loopback sockets: every framing
 * of RFC 9112 6.3 that a peer may send (the peer here writes exact bytes,
 * hostile ones included), trailers, bodies of 50 MiB read in small pieces
 * with bounded memory, a peer that vanishes mid-body, transact held to
 * the same rules, and the aio contract (FIFO with the other reads, cancel,
 * timeout and close racing the reads, run many times).  Uploads from curl
 * are in http_body_upload_test.c. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "nghttpw/http.h"
#include "support/pairs.h"

#define PIECE 7 /* a small read size that splits everything */

/* ------------------------------------------------------------ helpers */

static nghttpw_aio *
new_aio(void)
{
	nghttpw_aio *aio;

	cr_assert_eq(nghttpw_aio_alloc(&aio, NULL, NULL), 0);
	nghttpw_aio_set_timeout(aio, 10000);
	return (aio);
}

/* A client connection and the raw peer playing the server. */
typedef struct {
	nghttpw_http_conn *conn;
	nghttpw_stream    *peer;
	nghttpw_http_req  *req;
	nghttpw_http_res  *res;
	nghttpw_aio       *aio;
} pair;

static void
pair_open(pair *p)
{
	nghttpw_stream *s;

	memset(p, 0, sizeof(*p));
	cr_assert_eq(tcp_pair("127.0.0.1", &s, &p->peer), 0);
	cr_assert_eq(nghttpw_http_conn_alloc(&p->conn, s), 0);
	cr_assert_eq(nghttpw_http_req_alloc(&p->req, NULL), 0);
	cr_assert_eq(nghttpw_http_res_alloc(&p->res), 0);
	p->aio = new_aio();
}

static void
pair_close(pair *p)
{
	nghttpw_http_conn_close(p->conn);
	nghttpw_stream_free(p->peer);
	nghttpw_http_req_free(p->req);
	nghttpw_http_res_free(p->res);
	nghttpw_aio_free(p->aio);
}

static void
peer_send(pair *p, const char *bytes)
{
	cr_assert_eq(send_all(p->peer, bytes, strlen(bytes), NULL), 0);
}

/* Sends a request with method (so that the connection knows a HEAD's) and
 * lets the peer take it. */
static void
send_request(pair *p, const char *method)
{
	char buf[256];

	cr_assert_eq(nghttpw_http_req_set_method(p->req, method), 0);
	cr_assert_eq(nghttpw_http_req_set_header(p->req, "Host", "x"), 0);
	nghttpw_http_conn_write_req(p->conn, p->req, p->aio);
	nghttpw_aio_wait(p->aio);
	cr_assert_eq(nghttpw_aio_result(p->aio), 0);
	cr_assert_lt(nghttpw_aio_count(p->aio), sizeof(buf));
	cr_assert_eq(recv_all(p->peer, buf, nghttpw_aio_count(p->aio), NULL), 0);
}

static int
read_res(pair *p)
{
	nghttpw_http_conn_read_res(p->conn, p->res, p->aio);
	nghttpw_aio_wait(p->aio);
	return (nghttpw_aio_result(p->aio));
}

/* Reads the body in pieces of at most piece bytes (two iov entries, to
 * exercise the scatter) until count 0 or an error; the bytes in *out
 * (NUL-ended), their number in *len.  Returns the error or 0. */
static int
read_body(nghttpw_http_conn *c, size_t piece, char **out, size_t *len)
{
	nghttpw_aio *aio = new_aio();
	char        *buf = malloc(piece);
	size_t       cap = 64;
	int          rv;

	*out = malloc(cap);
	*len = 0;
	for (;;) {
		nghttpw_iov iov[2] = { { buf, piece / 2 }, { buf + piece / 2,
			                                       piece - piece / 2 } };
		size_t      n;
		nghttpw_aio_set_iov(aio, piece / 2 > 0 ? 2 : 1,
		    piece / 2 > 0 ? iov : &iov[1]);
		nghttpw_http_conn_read_body(c, aio);
		nghttpw_aio_wait(aio);
		if ((rv = nghttpw_aio_result(aio)) != 0 ||
		    (n = nghttpw_aio_count(aio)) == 0) {
			break;
		}
		cr_assert_leq(n, piece);
		while (*len + n + 1 > cap) {
			cap *= 2;
		}
		*out = realloc(*out, cap);
		memcpy(*out + *len, buf, n);
		*len += n;
	}
	(*out)[*len] = '\0';
	free(buf);
	nghttpw_aio_free(aio);
	return (rv);
}

/* One response case: the request's method, what the peer sends (and
 * whether it then closes), what reading the head and the body give. */
typedef struct {
	const char *name;
	const char *method;
	const char *wire;
	bool        peer_closes;
	int         head_rv;
	int         body_rv;
	const char *body;
	bool        must_close;
} res_case;

static void
run_res_case(const res_case *k)
{
	pair   p;
	char  *body;
	size_t len;
	int    rv;

	pair_open(&p);
	send_request(&p, k->method);
	peer_send(&p, k->wire);
	if (k->peer_closes) {
		nghttpw_stream_close(p.peer);
	}
	rv = read_res(&p);
	cr_assert_eq(rv, k->head_rv, "%s: head: %s", k->name, nghttpw_strerror(rv));
	if (rv == 0) {
		rv = read_body(p.conn, PIECE, &body, &len);
		cr_assert_eq(rv, k->body_rv, "%s: body: %s", k->name,
		    nghttpw_strerror(rv));
		if (k->body != NULL) {
			cr_assert_str_eq(body, k->body, "%s", k->name);
		}
		cr_assert_eq(nghttpw_http_conn_must_close(p.conn), k->must_close,
		    "%s: must_close", k->name);
		free(body);
	}
	pair_close(&p);
}

#define RES(...) ((res_case) { __VA_ARGS__ })

/* ------------------------------------------------------ response framing */

Test(http_body, response_framings_per_rfc9112_6_3)
{
	static const res_case cases[] = {
		{ "content-length", "GET",
		    "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello world",
		    false, 0, 0, "hello world", false },
		{ "empty content-length", "GET",
		    "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", false, 0, 0,
		    "", false },
		{ "chunked with extensions", "GET",
		    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		    "5;a=b\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
		    false, 0, 0, "hello world", false },
		{ "until close", "GET", "HTTP/1.1 200 OK\r\n\r\nto the end", true,
		    0, 0, "to the end", true },
		/* chunked not last: read until the close, undecoded. */
		{ "chunked, x-other", "GET",
		    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, x-other\r\n\r\n"
		    "5\r\nhello\r\n0\r\n\r\n",
		    true, 0, 0, "5\r\nhello\r\n0\r\n\r\n", true },
		{ "chunked then gzip fields", "GET",
		    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
		    "Transfer-Encoding: gzip\r\n\r\nraw",
		    true, 0, 0, "raw", true },
		/* Two fields combined: "chunked" then an empty one. */
		{ "chunked then empty field", "GET",
		    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
		    "Transfer-Encoding: \r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		    false, 0, 0, "hello", false },
		{ "gzip then chunked fields", "GET",
		    "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n"
		    "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
		    false, 0, 0, "abc", false },
		/* Both framings: Transfer-Encoding wins, no reuse. */
		{ "content-length and chunked", "GET",
		    "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n"
		    "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
		    false, 0, 0, "abc", true },
		{ "chunked and content-length", "GET",
		    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
		    "Content-Length: 1\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
		    false, 0, 0, "abc", true },
		{ "content-length and gzip", "GET",
		    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
		    "Transfer-Encoding: gzip\r\n\r\nabcdef",
		    true, 0, 0, "abcdef", true },
		/* No body, whatever the fields say. */
		{ "HEAD", "HEAD",
		    "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n", false, 0, 0,
		    "", false },
		{ "HEAD chunked", "HEAD",
		    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", false,
		    0, 0, "", false },
		{ "204", "GET",
		    "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", false,
		    0, 0, "", false },
		{ "304", "GET",
		    "HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n",
		    false, 0, 0, "", false },
		/* Malformed chunks. */
		{ "bare CR after chunk size", "GET",
		    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		    "5\rX\r\nhello\r\n0\r\n\r\n",
		    false, 0, NGHTTPW_EPROTO, NULL, true },
		{ "bare LF after chunk size", "GET",
		    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		    "5\nhello\r\n0\r\n\r\n",
		    false, 0, NGHTTPW_EPROTO, NULL, true },
		{ "no CRLF after chunk data", "GET",
		    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		    "5\r\nhelloXX0\r\n\r\n",
		    false, 0, NGHTTPW_EPROTO, NULL, true },
		{ "chunk size not hex", "GET",
		    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		    "zz\r\nhello\r\n0\r\n\r\n",
		    false, 0, NGHTTPW_EPROTO, NULL, true },
		{ "chunk size overflows", "GET",
		    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		    "10000000000000000\r\n",
		    false, 0, NGHTTPW_EPROTO, NULL, true },
		{ "bare CR in a trailer", "GET",
		    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		    "1\r\na\r\n0\r\nX: 1\rY\r\n\r\n",
		    false, 0, NGHTTPW_EPROTO, NULL, true },
		/* Refused heads. */
		{ "chunked twice", "GET",
		    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n"
		    "0\r\n\r\n",
		    false, NGHTTPW_EPROTO, 0, NULL, false },
		{ "status 099", "GET",
		    "HTTP/1.1 099 Early\r\nContent-Length: 0\r\n\r\n", false,
		    NGHTTPW_EPROTO, 0, NULL, false },
		{ "status 600", "GET",
		    "HTTP/1.1 600 Late\r\nContent-Length: 0\r\n\r\n", false,
		    NGHTTPW_EPROTO, 0, NULL, false },
		{ "status 1000", "GET",
		    "HTTP/1.1 1000 Late\r\nContent-Length: 0\r\n\r\n", false,
		    NGHTTPW_EPROTO, 0, NULL, false },
		{ "bare CR in the status line", "GET",
		    "HTTP/1.1 200 OK\rX\nContent-Length: 0\r\n\r\n", false,
		    NGHTTPW_EPROTO, 0, NULL, false },
		/* Cut short: as read_all when the peer leaves. */
		{ "content-length cut short", "GET",
		    "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", true, 0,
		    NGHTTPW_ECLOSED, NULL, true },
		{ "chunk cut short", "GET",
		    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		    "a\r\nabc",
		    true, 0, NGHTTPW_ECLOSED, NULL, true },
		{ "no last chunk", "GET",
		    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		    "3\r\nabc\r\n",
		    true, 0, NGHTTPW_ECLOSED, NULL, true },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		run_res_case(&cases[i]);
	}
}

/* What was read before the peer vanished is delivered first. */
Test(http_body, a_peer_vanishing_mid_body_gives_the_bytes_then_eclosed)
{
	pair        p;
	char        buf[64];
	nghttpw_iov iov = { buf, sizeof(buf) };

	pair_open(&p);
	send_request(&p, "GET");
	peer_send(&p, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
	cr_assert_eq(read_res(&p), 0);
	nghttpw_aio_set_iov(p.aio, 1, &iov);
	nghttpw_http_conn_read_body(p.conn, p.aio);
	nghttpw_aio_wait(p.aio);
	cr_assert_eq(nghttpw_aio_result(p.aio), 0);
	cr_assert_eq(nghttpw_aio_count(p.aio), 3);
	cr_assert_eq(memcmp(buf, "abc", 3), 0);
	nghttpw_stream_close(p.peer);
	nghttpw_http_conn_read_body(p.conn, p.aio);
	nghttpw_aio_wait(p.aio);
	cr_assert_eq(nghttpw_aio_result(p.aio), NGHTTPW_ECLOSED);
	cr_assert_eq(nghttpw_aio_count(p.aio), 0);
	pair_close(&p);
}

Test(http_body, trailers_are_kept_apart_from_the_header_fields)
{
	pair   p;
	char  *body;
	size_t len;

	pair_open(&p);
	send_request(&p, "GET");
	peer_send(&p, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
	              "X-Head: h\r\n\r\n"
	              "5\r\nhello\r\n0\r\nX-Sum: 1 \r\nContent-Length: 99\r\n"
	              "x-sum: 2\r\n\r\n"
	              "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
	cr_assert_eq(read_res(&p), 0);
	cr_assert_null(nghttpw_http_res_get_trailer(p.res, "X-Sum"));
	cr_assert_eq(read_body(p.conn, PIECE, &body, &len), 0);
	cr_assert_str_eq(body, "hello");
	free(body);
	cr_assert_str_eq(nghttpw_http_res_get_trailer(p.res, "x-SUM"), "1, 2");
	cr_assert_str_eq(
	    nghttpw_http_res_get_trailer(p.res, "Content-Length"), "99");
	cr_assert_null(nghttpw_http_res_get_header(p.res, "X-Sum"));
	cr_assert_null(nghttpw_http_res_get_header(p.res, "Content-Length"));
	cr_assert_null(nghttpw_http_res_get_trailer(p.res, "X-Head"));
	cr_assert_null(nghttpw_http_res_get_trailer(NULL, "X-Sum"));
	cr_assert_null(nghttpw_http_res_get_trailer(p.res, NULL));
	cr_assert(!nghttpw_http_conn_must_close(p.conn));
	/* A trailer Content-Length did not reframe: the next response. */
	send_request(&p, "GET");
	cr_assert_eq(read_res(&p), 0);
	cr_assert_null(nghttpw_http_res_get_trailer(p.res, "X-Sum"));
	cr_assert_eq(read_body(p.conn, PIECE, &body, &len), 0);
	cr_assert_str_eq(body, "ok");
	free(body);
	pair_close(&p);
}

Test(http_body, trailers_over_the_head_limits_are_refused)
{
	pair   p;
	char   wire[2048];
	char  *body;
	size_t len;

	pair_open(&p);
	cr_assert_eq(nghttpw_http_conn_set_max_header_size(p.conn, 256), 0);
	send_request(&p, "GET");
	snprintf(wire, sizeof(wire),
	    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "1\r\na\r\n0\r\nX-Big: %0300d\r\n\r\n",
	    0);
	peer_send(&p, wire);
	cr_assert_eq(read_res(&p), 0);
	cr_assert_eq(read_body(p.conn, PIECE, &body, &len), NGHTTPW_EMSGSIZE);
	cr_assert(nghttpw_http_conn_must_close(p.conn));
	free(body);
	pair_close(&p);
}

/* A 1xx answer has no body: the real one follows. */
Test(http_body, interim_responses_have_no_body)
{
	pair   p;
	char  *body;
	size_t len;

	pair_open(&p);
	send_request(&p, "HEAD");
	peer_send(&p, "HTTP/1.1 100 Continue\r\n\r\n"
	              "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
	              "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"
	              "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
	cr_assert_eq(read_res(&p), 0);
	cr_assert_eq(nghttpw_http_res_get_status(p.res), 100);
	cr_assert_eq(read_body(p.conn, PIECE, &body, &len), 0);
	cr_assert_eq(len, 0);
	free(body);
	cr_assert_eq(read_res(&p), 0);
	cr_assert_eq(nghttpw_http_res_get_status(p.res), 103);
	cr_assert_eq(read_body(p.conn, PIECE, &body, &len), 0);
	cr_assert_eq(len, 0);
	free(body);
	/* The answer to the HEAD: no body despite its Content-Length. */
	cr_assert_eq(read_res(&p), 0);
	cr_assert_eq(read_body(p.conn, PIECE, &body, &len), 0);
	cr_assert_eq(len, 0);
	free(body);
	send_request(&p, "GET");
	cr_assert_eq(read_res(&p), 0);
	cr_assert_eq(read_body(p.conn, PIECE, &body, &len), 0);
	cr_assert_str_eq(body, "ok");
	free(body);
	pair_close(&p);
}

/* ------------------------------------------------------- request framing */

/* A server-side connection reads what the peer sends as requests. */
static void
server_read(const char *wire, int head_rv, int body_rv, const char *expect)
{
	pair   p;
	char  *body;
	size_t len;
	int    rv;

	pair_open(&p);
	peer_send(&p, wire);
	nghttpw_http_conn_read_req(p.conn, p.req, p.aio);
	nghttpw_aio_wait(p.aio);
	rv = nghttpw_aio_result(p.aio);
	cr_assert_eq(rv, head_rv, "%s: head: %s", wire, nghttpw_strerror(rv));
	if (rv == 0) {
		rv = read_body(p.conn, PIECE, &body, &len);
		cr_assert_eq(rv, body_rv, "%s: %s", wire, nghttpw_strerror(rv));
		if (expect != NULL) {
			cr_assert_str_eq(body, expect);
		}
		free(body);
	}
	pair_close(&p);
}

Test(http_body, request_framings)
{
	server_read("GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\n", 0, 0,
	    "");
	server_read("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n"
	            "abcGET",
	    0, 0, "abc");
	server_read("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
	            "\r\n3\r\nabc\r\n2\r\nde\r\n0\r\nT: 1\r\n\r\nGET",
	    0, 0, "abcde");
	/* Refused: both framings, chunked not last, chunked twice, an
	 * unknown coding (501 at a server), malformed chunks. */
	server_read("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
	            "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
	    NGHTTPW_EPROTO, 0, NULL);
	server_read("POST / HTTP/1.1\r\nHost: x\r\n"
	            "Transfer-Encoding: chunked, gzip\r\n\r\n",
	    NGHTTPW_EPROTO, 0, NULL);
	server_read("POST / HTTP/1.1\r\nHost: x\r\n"
	            "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
	    NGHTTPW_EPROTO, 0, NULL);
	server_read("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
	    NGHTTPW_ENOTSUP, 0, NULL);
	server_read("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
	            "\r\n3\rabc\r\n0\r\n\r\n",
	    0, NGHTTPW_EPROTO, NULL);
	/* Strict lines and targets (llhttp's strict mode). */
	server_read("GET / HTTP/1.1\rX\nHost: x\r\n\r\n", NGHTTPW_EPROTO, 0,
	    NULL);
	server_read("GET /caf\xc3\xa9 HTTP/1.1\r\nHost: x\r\n\r\n",
	    NGHTTPW_EPROTO, 0, NULL);
	server_read("GET /caf%C3%A9 HTTP/1.1\r\nHost: x\r\n\r\n", 0, 0, "");
}

/* A chunked request sent a byte at a time: every line, the trailer
 * field included, split across receives. */
typedef struct {
	nghttpw_stream *peer;
	const char     *wire;
} trickle_arg;

static void *
trickle(void *arg)
{
	trickle_arg *t = arg;

	for (const char *c = t->wire; *c != '\0'; c++) {
		cr_assert_eq(send_all(t->peer, c, 1, NULL), 0);
		usleep(200);
	}
	return (NULL);
}

Test(http_body, a_request_trickled_a_byte_at_a_time)
{
	pair        p;
	pthread_t   th;
	char       *body;
	size_t      len;
	trickle_arg t;

	pair_open(&p);
	t.peer = p.peer;
	t.wire = "PUT /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
	         "4;x=y\r\nwiki\r\n5\r\npedia\r\n0\r\n"
	         "X-Check: a trailer of some length\r\n\r\n";
	cr_assert_eq(pthread_create(&th, NULL, trickle, &t), 0);
	nghttpw_http_conn_read_req(p.conn, p.req, p.aio);
	nghttpw_aio_wait(p.aio);
	cr_assert_eq(nghttpw_aio_result(p.aio), 0);
	cr_assert_eq(read_body(p.conn, 3, &body, &len), 0);
	pthread_join(th, NULL);
	cr_assert_str_eq(body, "wikipedia");
	cr_assert_str_eq(nghttpw_http_req_get_trailer(p.req, "X-Check"),
	    "a trailer of some length");
	free(body);
	pair_close(&p);
}

/* ---------------------------------------------------------- the contract */

Test(http_body, misuse_is_refused)
{
	pair        p;
	char        buf[8];
	nghttpw_iov iov = { buf, sizeof(buf) };

	pair_open(&p);
	/* No head read yet. */
	nghttpw_aio_set_iov(p.aio, 1, &iov);
	nghttpw_http_conn_read_body(p.conn, p.aio);
	nghttpw_aio_wait(p.aio);
	cr_assert_eq(nghttpw_aio_result(p.aio), NGHTTPW_ESTATE);
	/* An empty vector. */
	nghttpw_aio_set_iov(p.aio, 0, NULL);
	nghttpw_http_conn_read_body(p.conn, p.aio);
	nghttpw_aio_wait(p.aio);
	cr_assert_eq(nghttpw_aio_result(p.aio), NGHTTPW_EINVAL);
	nghttpw_aio_set_iov(p.aio, 1, &iov);
	nghttpw_http_conn_read_body(NULL, p.aio);
	nghttpw_aio_wait(p.aio);
	cr_assert_eq(nghttpw_aio_result(p.aio), NGHTTPW_EINVAL);
	/* A raw read took the body around the parser. */
	send_request(&p, "GET");
	peer_send(&p, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nabcd");
	cr_assert_eq(read_res(&p), 0);
	iov.iov_len = 2;
	nghttpw_aio_set_iov(p.aio, 1, &iov);
	nghttpw_http_conn_read_all(p.conn, p.aio);
	nghttpw_aio_wait(p.aio);
	cr_assert_eq(nghttpw_aio_result(p.aio), 0);
	nghttpw_http_conn_read_body(p.conn, p.aio);
	nghttpw_aio_wait(p.aio);
	cr_assert_eq(nghttpw_aio_result(p.aio), NGHTTPW_ESTATE);
	pair_close(&p);
}

/* Reads queue behind each other: the head and three pieces asked for at
 * once, all from bytes already buffered, complete in order (the bytes
 * tell), and no callback runs inside the call that started it. */
static _Thread_local bool in_call;
static atomic_int         inline_calls;

static void
note_inline(void *arg)
{
	(void) arg;
	if (in_call) {
		atomic_fetch_add(&inline_calls, 1);
	}
}

Test(http_body, reads_are_fifo_and_never_complete_inside_the_call)
{
	pair         p;
	nghttpw_aio *aio[4];
	char         buf[3][4];
	nghttpw_iov  iov[3];

	pair_open(&p);
	send_request(&p, "GET");
	/* Everything is buffered before the reads start. */
	peer_send(&p, "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nabcdefgh");
	usleep(20000);
	for (int i = 0; i < 4; i++) {
		cr_assert_eq(nghttpw_aio_alloc(&aio[i], note_inline, NULL), 0);
	}
	for (int i = 0; i < 3; i++) {
		iov[i].iov_buf = buf[i];
		iov[i].iov_len = 4;
		nghttpw_aio_set_iov(aio[i + 1], 1, &iov[i]);
	}
	in_call = true;
	nghttpw_http_conn_read_res(p.conn, p.res, aio[0]);
	for (int i = 1; i < 4; i++) {
		nghttpw_http_conn_read_body(p.conn, aio[i]);
	}
	in_call = false;
	for (int i = 0; i < 4; i++) {
		nghttpw_aio_wait(aio[i]);
		cr_assert_eq(nghttpw_aio_result(aio[i]), 0);
	}
	cr_assert_eq(atomic_load(&inline_calls), 0);
	cr_assert_eq(nghttpw_aio_count(aio[1]), 4);
	cr_assert_eq(memcmp(buf[0], "abcd", 4), 0);
	cr_assert_eq(nghttpw_aio_count(aio[2]), 4);
	cr_assert_eq(memcmp(buf[1], "efgh", 4), 0);
	cr_assert_eq(nghttpw_aio_count(aio[3]), 0);
	for (int i = 0; i < 4; i++) {
		nghttpw_aio_free(aio[i]);
	}
	pair_close(&p);
}

typedef struct {
	nghttpw_stream *peer;
	uint64_t        size;
	bool            chunked;
	useconds_t      pause; /* between sends, for the race test */
	bool            failed;
} body_sender;

/* Sends size bytes of the pattern, raw or in chunks of varied sizes
 * (with the last chunk), from a small buffer. */
static void *
send_body(void *arg)
{
	body_sender  *s = arg;
	unsigned char buf[20000];
	uint64_t      off = 0;
	size_t        step = 1;

	while (off < s->size) {
		size_t n = (size_t) (s->size - off < 9000 ? s->size - off : 9000);
		size_t head = 0;
		n = n > step ? step : n;
		step = step * 7 % 8999 + 1;
		if (s->chunked) {
			head = (size_t) sprintf((char *) buf, "%zx\r\n", n);
		}
		for (size_t i = 0; i < n; i++) {
			buf[head + i] = pattern_byte(off + i);
		}
		if (s->chunked) {
			memcpy(buf + head + n, "\r\n", 2);
			n += 2;
		}
		if (send_all(s->peer, buf, head + n, NULL) != 0) {
			s->failed = true;
			return (NULL);
		}
		off += s->chunked ? n - 2 : n;
		if (s->pause > 0) {
			usleep(s->pause);
		}
	}
	if (s->chunked && send_all(s->peer, "0\r\n\r\n", 5, NULL) != 0) {
		s->failed = true;
	}
	return (NULL);
}

static long
max_rss_kib(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (ru.ru_maxrss);
}

/* 50 MiB read in pieces of the given size, checked byte by byte, with no
 * growth of the process beyond a few MiB (the connection's read buffer,
 * at most the head limit). */
static void
large_body(bool chunked, size_t piece)
{
	const uint64_t size = 50u << 20;
	pair           p;
	pthread_t      th;
	body_sender    s = { 0 };
	unsigned char *buf = malloc(piece);
	nghttpw_iov    iov = { buf, piece };
	uint64_t       got = 0;
	size_t         most = 0;
	long           rss0;

	pair_open(&p);
	send_request(&p, "GET");
	peer_send(&p, chunked ? "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	                      : "HTTP/1.1 200 OK\r\nContent-Length: 52428800\r\n\r\n");
	cr_assert_eq(read_res(&p), 0);
	s.peer    = p.peer;
	s.size    = size;
	s.chunked = chunked;
	cr_assert_eq(pthread_create(&th, NULL, send_body, &s), 0);
	rss0 = max_rss_kib();
	nghttpw_aio_set_iov(p.aio, 1, &iov);
	for (;;) {
		size_t n;
		nghttpw_http_conn_read_body(p.conn, p.aio);
		nghttpw_aio_wait(p.aio);
		cr_assert_eq(nghttpw_aio_result(p.aio), 0);
		if ((n = nghttpw_aio_count(p.aio)) == 0) {
			break;
		}
		most = n > most ? n : most;
		for (size_t i = 0; i < n; i++) {
			if (buf[i] != pattern_byte(got + i)) {
				cr_assert_fail("byte %llu differs",
				    (unsigned long long) (got + i));
			}
		}
		got += n;
	}
	pthread_join(th, NULL);
	cr_assert(!s.failed);
	cr_assert_eq(got, size);
	cr_assert_lt(max_rss_kib() - rss0, 8 * 1024, "grew by %ld KiB",
	    max_rss_kib() - rss0);
	cr_assert(!nghttpw_http_conn_must_close(p.conn));
	/* A large buffer gets large pieces, not one receive buffer's
	 * initial 4 KiB at a time. */
	cr_assert(piece < 16384 || most > 16384, "at most %zu bytes a read", most);
	free(buf);
	pair_close(&p);
}

Test(http_body, fifty_mib_by_content_length_in_small_pieces, .timeout = 60)
{
	large_body(false, 1000);
}

Test(http_body, fifty_mib_chunked_in_small_pieces, .timeout = 60)
{
	large_body(true, 1000);
}

Test(http_body, fifty_mib_in_large_pieces, .timeout = 60)
{
	large_body(false, 1 << 20);
}

/* Cancel, timeout and close race the reads of a trickled body, many
 * times: the bytes delivered are always the body's, in order, none lost
 * or doubled by a cancel or timeout; a close ends it with ECLOSED. */
Test(http_body, cancel_timeout_and_close_race_the_reads, .timeout = 90)
{
	unsigned interrupted = 0, closes = 0;

	for (unsigned round = 0; round < 150; round++) {
		const uint64_t size = 20000;
		pair           p;
		pthread_t      th;
		body_sender    s = { 0 };
		unsigned char  buf[300];
		nghttpw_iov    iov = { buf, sizeof(buf) };
		uint64_t       got = 0;
		unsigned       step = 0;
		bool           closed = false;

		pair_open(&p);
		send_request(&p, "GET");
		peer_send(&p, round % 2 ? "HTTP/1.1 200 OK\r\nTransfer-Encoding: "
		                          "chunked\r\n\r\n"
		                        : "HTTP/1.1 200 OK\r\nContent-Length: 20000\r\n"
		                          "\r\n");
		cr_assert_eq(read_res(&p), 0);
		s.peer    = p.peer;
		s.size    = size;
		s.chunked = round % 2;
		/* A slow sender in the rounds that close, so that the close
		 * finds a read waiting. */
		s.pause   = round % 10 == 9 ? 3000 : 100;
		cr_assert_eq(pthread_create(&th, NULL, send_body, &s), 0);
		nghttpw_aio_set_iov(p.aio, 1, &iov);
		for (;;) {
			int    rv;
			size_t n;
			step++;
			nghttpw_aio_set_timeout(p.aio, step % 5 == 1 ? 1 : 10000);
			nghttpw_http_conn_read_body(p.conn, p.aio);
			if (step % 5 == 2) {
				nghttpw_aio_cancel(p.aio);
			} else if (step % 7 == 3) {
				usleep(step % 300);
				nghttpw_aio_abort(p.aio, NGHTTPW_ECANCELED);
			} else if (round % 10 == 9 && step == 13) {
				usleep(round % 200);
				nghttpw_http_conn_close(p.conn);
				p.conn = NULL;
				closed = true;
			}
			nghttpw_aio_wait(p.aio);
			rv = nghttpw_aio_result(p.aio);
			n  = nghttpw_aio_count(p.aio);
			cr_assert(rv == 0 || rv == NGHTTPW_ECANCELED ||
			        rv == NGHTTPW_ETIMEDOUT || (closed && rv == NGHTTPW_ECLOSED),
			    "round %u step %u: %s", round, step, nghttpw_strerror(rv));
			if (rv != 0) {
				cr_assert_eq(n, 0);
				interrupted += rv != NGHTTPW_ECLOSED;
				closes += rv == NGHTTPW_ECLOSED;
				if (closed) {
					break;
				}
				continue;
			}
			if (n == 0) {
				break;
			}
			for (size_t i = 0; i < n; i++) {
				cr_assert_eq(buf[i], pattern_byte(got + i),
				    "round %u: byte %llu", round,
				    (unsigned long long) (got + i));
			}
			got += n;
			if (closed) {
				break; /* the connection is gone */
			}
		}
		if (!closed) {
			cr_assert_eq(got, size, "round %u", round);
		}
		nghttpw_stream_close(p.peer); /* a sender still going stops */
		pthread_join(th, NULL);
		pair_close(&p);
	}
	/* The races did happen: reads cut short while waiting. */
	cr_assert_gt(interrupted, 100, "%u", interrupted);
	cr_assert_gt(closes, 0, "%u", closes);
}

/* ------------------------------------------- the same rules in transact */

typedef struct {
	pair       *p;
	const char *wire;
} answer_arg;

/* The peer takes the request (a GET with no body), then answers. */
static void *
answer(void *arg)
{
	answer_arg *a = arg;
	char        c;
	char        tail[4] = { 0 };

	while (memcmp(tail, "\r\n\r\n", 4) != 0) {
		if (recv_all(a->p->peer, &c, 1, NULL) != 0) {
			return (NULL);
		}
		memmove(tail, tail + 1, 3);
		tail[3] = c;
	}
	send_all(a->p->peer, a->wire, strlen(a->wire), NULL);
	nghttpw_stream_close(a->p->peer);
	return (NULL);
}

static int
transact(pair *p, const char *wire)
{
	pthread_t  th;
	answer_arg a = { p, wire };

	cr_assert_eq(nghttpw_http_req_set_header(p->req, "Host", "x"), 0);
	cr_assert_eq(pthread_create(&th, NULL, answer, &a), 0);
	nghttpw_http_conn_transact(p->conn, p->req, p->res, p->aio);
	nghttpw_aio_wait(p->aio);
	pthread_join(th, NULL);
	return (nghttpw_aio_result(p->aio));
}

static void
expect_body(nghttpw_http_res *res, const char *body)
{
	void  *data;
	size_t size;

	nghttpw_http_res_get_data(res, &data, &size);
	cr_assert_eq(size, strlen(body));
	cr_assert_eq(memcmp(data, body, size), 0);
}

Test(http_body, transact_frames_bodies_by_the_same_rules)
{
	pair p;

	pair_open(&p);
	cr_assert_eq(transact(&p, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
	                          "Content-Length: 1\r\n\r\n3\r\nabc\r\n0\r\n"
	                          "X-Sum: 9\r\n\r\n"),
	    0);
	expect_body(p.res, "abc");
	cr_assert_str_eq(nghttpw_http_res_get_trailer(p.res, "X-Sum"), "9");
	cr_assert_null(nghttpw_http_res_get_header(p.res, "X-Sum"));
	cr_assert(nghttpw_http_conn_must_close(p.conn));
	pair_close(&p);

	pair_open(&p);
	cr_assert_eq(transact(&p, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, "
	                          "x-other\r\n\r\n3\r\nabc\r\n0\r\n\r\n"),
	    0);
	expect_body(p.res, "3\r\nabc\r\n0\r\n\r\n");
	pair_close(&p);

	pair_open(&p);
	cr_assert_eq(transact(&p, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
	                          "\r\n3\rXabc\r\n0\r\n\r\n"),
	    NGHTTPW_EPROTO);
	pair_close(&p);

	pair_open(&p);
	cr_assert_eq(transact(&p, "HTTP/1.1 099 Early\r\n\r\n"), NGHTTPW_EPROTO);
	pair_close(&p);
}

/* ------------------------------------------------------------ raw heads */

static void
expect_raw_head(nghttpw_http_res *res, const char *want)
{
	void  *head;
	size_t len;

	nghttpw_http_res_get_raw_head(res, &head, &len);
	if (want == NULL) {
		cr_assert_null(head);
		cr_assert_eq(len, 0);
		return;
	}
	cr_assert_eq(len, strlen(want), "%zu bytes, want %zu", len, strlen(want));
	cr_assert_eq(memcmp(head, want, len), 0);
}

/* A head arriving in pieces, one after a body, one after an interim
 * answer skipped by transact: each kept byte for byte, only when asked,
 * while the parsed fields are combined and trimmed. */
Test(http_body, raw_heads_are_kept_as_they_came_when_asked)
{
	const char *first  = "HTTP/1.1 200 OK\r\nX-Dup: 1\r\nx-dup:  2 \t\r\n"
	                     "Content-Length: 2\r\n\r\n";
	const char *second = "HTTP/1.1 404 Not Here\r\nContent-Length: 0\r\n\r\n";
	char       *body;
	size_t      len;
	pair        p;

	pair_open(&p);
	expect_raw_head(p.res, NULL);
	nghttpw_http_res_keep_raw_head(p.res, true);
	send_request(&p, "GET");
	send_request(&p, "GET");
	send_request(&p, "GET");
	nghttpw_http_conn_read_res(p.conn, p.res, p.aio);
	peer_send(&p, "HTTP/1.1 200 OK\r\nX-Dup: 1\r\nx-d");
	usleep(20000);
	peer_send(&p, "up:  2 \t\r\nContent-Length: 2\r\n\r\nok");
	nghttpw_aio_wait(p.aio);
	cr_assert_eq(nghttpw_aio_result(p.aio), 0);
	expect_raw_head(p.res, first);
	cr_assert_str_eq(nghttpw_http_res_get_header(p.res, "X-Dup"), "1, 2");
	cr_assert_eq(read_body(p.conn, PIECE, &body, &len), 0);
	cr_assert_str_eq(body, "ok");
	free(body);

	peer_send(&p, second);
	cr_assert_eq(read_res(&p), 0);
	expect_raw_head(p.res, second);

	/* Off: the copy goes at once, and the next head is not kept. */
	nghttpw_http_res_keep_raw_head(p.res, false);
	expect_raw_head(p.res, NULL);
	peer_send(&p, second);
	cr_assert_eq(read_res(&p), 0);
	expect_raw_head(p.res, NULL);
	pair_close(&p);

	/* transact skips the 100: what is kept is the final head. */
	pair_open(&p);
	nghttpw_http_res_keep_raw_head(p.res, true);
	cr_assert_eq(transact(&p, "HTTP/1.1 100 Continue\r\n\r\n"
	                          "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
	    0);
	expect_raw_head(p.res, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n");
	nghttpw_http_res_reset(p.res);
	expect_raw_head(p.res, NULL);
	pair_close(&p);

	nghttpw_http_res_keep_raw_head(NULL, true);
	expect_raw_head(NULL, NULL);
	nghttpw_http_res_get_raw_head(NULL, NULL, NULL);
}
