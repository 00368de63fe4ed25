/* Hostile input against the HTTP server over real loopback sockets.
 *
 * The clients here are plain BSD sockets (not nghttpw streams), so that
 * they can send exact bytes, stall, never read, or open a thousand
 * connections without the library under test on both ends.  Every case
 * states its outcome: the status code, and whether the server closes the
 * connection after it.  A connection that stays open must still serve a
 * following valid request, and after every case a fresh well-formed
 * client must be served.
 *
 * Cases already in http_server_test.c are not repeated here: a field line
 * without a colon, no Host, a relative target, HTTP/2.0 (505),
 * "Transfer-Encoding: gzip" (501), unknown Expect, a 9000-byte target
 * (414), 9 x 8 KB and 150 fields (431), bodies over a collect limit by
 * Content-Length and by chunks (413), a "zz" chunk size to a collecting
 * handler (400), a slow head at 300 ms (408) and an idle keep-alive close.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "nghttpw/http.h"

#define T_TIMEOUT 60
#define IDLE_MS 2000     /* the server's idle timeout in these tests */
#define HEAD_MS 1000     /* the server's request-head timeout */
#define COLLECT_MAX 64   /* the echo handler's body limit */
#define BIG_SIZE (8u * 1024u * 1024u)
#define MAX_TARGET 8192  /* http_server.c MAX_TARGET_LEN */
#define MAX_HEAD (64u * 1024u)
#define MAX_FIELDS 100u
#define IO_MS 3000       /* bound on any one wait for the server */
#define SERVE_MS 2000    /* a well-formed client must be served within */

static const char valid_req[] = "GET /static HTTP/1.1\r\nHost: x\r\n\r\n";

/* ------------------------------------------------------------- time */

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
	}
}

/* ----------------------------------------------------------- server */

static nghttpw_http_server *srv;
static int                  srv_port;
static char                *big_body;

/* Answers "<method> <n>:<body>" with the collected body. */
static void
echo_cb(nghttpw_aio *aio)
{
	nghttpw_http_req *req = nghttpw_aio_get_input(aio, 0);
	nghttpw_http_res *res;
	void             *body;
	size_t            size;
	char              text[COLLECT_MAX + 64];
	int               n;

	nghttpw_http_req_get_data(req, &body, &size);
	n = snprintf(text, sizeof(text), "%s %zu:", nghttpw_http_req_get_method(req),
	    size);
	if (size > 0 && size <= COLLECT_MAX) {
		memcpy(text + n, body, size);
		n += (int) size;
	}
	if (nghttpw_http_res_alloc(&res) != 0) {
		nghttpw_aio_finish(aio, NGHTTPW_ENOMEM);
		return;
	}
	nghttpw_http_res_copy_data(res, text, (size_t) n);
	nghttpw_aio_set_output(aio, 0, res);
	nghttpw_aio_finish(aio, 0);
}

/* A server on 127.0.0.1:0 with /static ("hello"), /big (BIG_SIZE bytes,
 * both GET only) and /echo (any method, collects up to COLLECT_MAX). */
static void
server_up(nghttpw_duration idle_ms, nghttpw_duration head_ms)
{
	nghttpw_http_handler *h;
	nghttpw_url          *url;
	nghttpw_sockaddr      sa;

	cr_assert_eq(nghttpw_url_parse(&url, "http://127.0.0.1:0"), 0);
	cr_assert_eq(nghttpw_http_server_hold(&srv, url), 0);
	nghttpw_url_free(url);
	cr_assert_eq(nghttpw_http_handler_alloc_static(
	                 &h, "/static", "hello", 5, "text/plain"),
	    0);
	cr_assert_eq(nghttpw_http_server_add_handler(srv, h), 0);
	big_body = malloc(BIG_SIZE);
	cr_assert_not_null(big_body);
	memset(big_body, 'B', BIG_SIZE);
	cr_assert_eq(nghttpw_http_handler_alloc_static(
	                 &h, "/big", big_body, BIG_SIZE, "application/octet-stream"),
	    0);
	cr_assert_eq(nghttpw_http_server_add_handler(srv, h), 0);
	cr_assert_eq(nghttpw_http_handler_alloc(&h, "/echo", echo_cb), 0);
	cr_assert_eq(nghttpw_http_handler_set_method(h, NULL), 0);
	cr_assert_eq(nghttpw_http_handler_collect_body(h, true, COLLECT_MAX), 0);
	cr_assert_eq(nghttpw_http_server_add_handler(srv, h), 0);
	cr_assert_eq(nghttpw_http_server_set_idle_timeout(srv, idle_ms), 0);
	cr_assert_eq(nghttpw_http_server_set_request_timeout(srv, head_ms), 0);
	cr_assert_eq(nghttpw_http_server_set_stop_timeout(srv, 500), 0);
	cr_assert_eq(nghttpw_http_server_start(srv), 0);
	cr_assert_eq(nghttpw_http_server_get_addr(srv, &sa), 0);
	srv_port = ntohs(sa.s_in.sa_port);
}

static void
server_down(void)
{
	nghttpw_http_server_release(srv);
	srv = NULL;
	free(big_body);
	big_body = NULL;
}

static void
setup(void)
{
	server_up(IDLE_MS, HEAD_MS);
}

static void
teardown(void)
{
	server_down();
}

/* ----------------------------------------------------------- client */

typedef struct {
	int    fd;
	char  *buf;
	size_t len;
	size_t cap;
} peer;

typedef struct {
	int    status;
	bool   close; /* "Connection: close" */
	char   head[1024];
	char   body[256]; /* the start of it, NUL-terminated */
	size_t body_len;
} reply;

/* A connected socket; rcvbuf > 0 shrinks its receive buffer first. */
static int
dial_port(int port, int rcvbuf)
{
	struct sockaddr_in sa;
	int                fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int                one = 1;

	cr_assert_geq(fd, 0, "socket: %s", strerror(errno));
	if (rcvbuf > 0) {
		(void) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	}
	(void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family      = AF_INET;
	sa.sin_port        = htons((uint16_t) port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(connect(fd, (struct sockaddr *) &sa, sizeof(sa)), 0,
	    "connect: %s", strerror(errno));
	return (fd);
}

static void
peer_open(peer *p)
{
	p->fd  = dial_port(srv_port, 0);
	p->len = 0;
	p->cap = 4096;
	p->buf = malloc(p->cap);
	cr_assert_not_null(p->buf);
}

static void
peer_close(peer *p)
{
	if (p->fd >= 0) {
		close(p->fd);
	}
	p->fd = -1;
	free(p->buf);
	p->buf = NULL;
}

/* Sends everything; false when the server closed first (which some cases
 * allow: it may answer before reading what is still coming). */
static bool
put(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		struct pollfd pf = { fd, POLLOUT, 0 };
		ssize_t       n;

		if (poll(&pf, 1, IO_MS) <= 0) {
			return (false);
		}
		n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
			continue;
		}
		if (n <= 0) {
			return (false);
		}
		p += n;
		len -= (size_t) n;
	}
	return (true);
}

static bool
put_str(peer *p, const char *s)
{
	return (put(p->fd, s, strlen(s)));
}

enum { FILL_TIMEOUT = -1, FILL_RESET = -2 };

/* Receives more within ms: the byte count, 0 at the end of the stream,
 * FILL_TIMEOUT or FILL_RESET. */
static int
fill(peer *p, int ms)
{
	struct pollfd pf = { p->fd, POLLIN, 0 };
	ssize_t       n;

	if (p->len == p->cap) {
		p->cap *= 2;
		p->buf = realloc(p->buf, p->cap);
		cr_assert_not_null(p->buf);
	}
	for (;;) {
		int rv = poll(&pf, 1, ms);
		if (rv < 0 && errno == EINTR) {
			continue;
		}
		if (rv <= 0) {
			return (FILL_TIMEOUT);
		}
		n = recv(p->fd, p->buf + p->len, p->cap - p->len, 0);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0) {
			return (FILL_RESET);
		}
		p->len += (size_t) n;
		return ((int) n);
	}
}

static char *
find(char *hay, size_t len, const char *needle)
{
	size_t nl = strlen(needle);

	for (size_t i = 0; i + nl <= len; i++) {
		if (memcmp(hay + i, needle, nl) == 0) {
			return (hay + i);
		}
	}
	return (NULL);
}

/* The value of a field in a NUL-terminated head, copied to out. */
static bool
field(const char *head, const char *name, char *out, size_t outlen)
{
	size_t      nl = strlen(name);
	const char *p  = strstr(head, "\r\n");

	while (p != NULL && p[2] != '\r' && p[2] != '\0') {
		p += 2;
		if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			const char *v = p + nl + 1;
			size_t      vl;
			while (*v == ' ') {
				v++;
			}
			vl = strcspn(v, "\r");
			if (vl >= outlen) {
				vl = outlen - 1;
			}
			memcpy(out, v, vl);
			out[vl] = '\0';
			return (true);
		}
		p = strstr(p, "\r\n");
	}
	return (false);
}

/* Reads one whole response (the server always frames its answers with
 * Content-Length) within IO_MS.  0, or FILL_TIMEOUT / FILL_RESET / 1 (the
 * stream ended first). */
static int
get_reply(peer *p, reply *r, bool head_only)
{
	long long deadline = now_ms() + IO_MS;
	char     *end;
	size_t    head_len, want;
	char      v[64];
	int       rv;

	memset(r, 0, sizeof(*r));
	while ((end = find(p->buf, p->len, "\r\n\r\n")) == NULL) {
		long long left = deadline - now_ms();
		if (left <= 0) {
			return (FILL_TIMEOUT);
		}
		if ((rv = fill(p, (int) left)) <= 0) {
			return (rv == 0 ? 1 : rv);
		}
	}
	head_len = (size_t) (end - p->buf) + 4;
	cr_assert_lt(head_len, sizeof(r->head), "response head too long");
	memcpy(r->head, p->buf, head_len);
	r->head[head_len] = '\0';
	cr_assert_eq(sscanf(r->head, "HTTP/1.1 %d ", &r->status), 1,
	    "bad status line: %s", r->head);
	r->close = field(r->head, "Connection", v, sizeof(v)) &&
	    strcasecmp(v, "close") == 0;
	want = 0;
	if (!head_only && r->status >= 200 && r->status != 204 &&
	    r->status != 304) {
		cr_assert(field(r->head, "Content-Length", v, sizeof(v)),
		    "no Content-Length: %s", r->head);
		want = strtoul(v, NULL, 10);
	}
	while (p->len < head_len + want) {
		long long left = deadline - now_ms();
		if (left <= 0) {
			return (FILL_TIMEOUT);
		}
		if ((rv = fill(p, (int) left)) <= 0) {
			return (rv == 0 ? 1 : rv);
		}
	}
	r->body_len = want;
	memcpy(r->body, p->buf + head_len,
	    want < sizeof(r->body) - 1 ? want : sizeof(r->body) - 1);
	memmove(p->buf, p->buf + head_len + want, p->len - head_len - want);
	p->len -= head_len + want;
	return (0);
}

/* Whether the stream ends (EOF or reset, nothing more received) within
 * ms. */
static bool
ends_within(peer *p, int ms)
{
	long long deadline = now_ms() + ms;

	while (p->len == 0) {
		long long left = deadline - now_ms();
		int       rv;
		if (left <= 0) {
			return (false);
		}
		rv = fill(p, (int) left);
		if (rv == 0 || rv == FILL_RESET) {
			return (true);
		}
		if (rv == FILL_TIMEOUT) {
			return (false);
		}
	}
	return (false); /* more bytes came */
}

/* A valid request on p is answered 200 "hello". */
static void
still_serves(peer *p, const char *what)
{
	reply r;

	cr_assert(put_str(p, valid_req), "%s: the connection was closed", what);
	cr_assert_eq(get_reply(p, &r, false), 0, "%s: no answer to a valid request "
	                                          "on the same connection", what);
	cr_assert_eq(r.status, 200, "%s: then %s", what, r.head);
	cr_assert_str_eq(r.body, "hello", "%s", what);
}

/* A fresh well-formed client is answered 200 within ms; returns the time
 * it took. */
static long long
fresh_client_served(int ms)
{
	long long start = now_ms();
	peer      p;
	reply     r;

	peer_open(&p);
	cr_assert(put_str(&p, valid_req));
	cr_assert_eq(get_reply(&p, &r, false), 0, "a well-formed client was not "
	                                          "answered");
	cr_assert_eq(r.status, 200, "%s", r.head);
	cr_assert_str_eq(r.body, "hello");
	peer_close(&p);
	cr_assert_leq(now_ms() - start, ms, "a well-formed client waited %lld ms",
	    now_ms() - start);
	return (now_ms() - start);
}

/* ------------------------------------------------------- case tables */

typedef struct {
	const char *name;
	const char *req;
	size_t      len;
	int         status;
	bool        close; /* else a valid request follows on the same conn */
} hcase;

#define CASE(name, bytes, status, close) \
	{ name, bytes, sizeof(bytes) - 1, status, close }
#define CLOSE true
#define KEEP false

static void
run_case(const hcase *c)
{
	peer  p;
	reply r;
	int   rv;

	peer_open(&p);
	(void) put(p.fd, c->req, c->len); /* the server may close first */
	rv = get_reply(&p, &r, false);
	cr_assert_eq(rv, 0, "%s: no response (%d)", c->name, rv);
	cr_assert_eq(r.status, c->status, "%s: got %d, want %d\n%s", c->name,
	    r.status, c->status, r.head);
	if (c->close) {
		cr_assert(r.close, "%s: no \"Connection: close\"\n%s", c->name, r.head);
		cr_assert(ends_within(&p, IO_MS), "%s: %d answered, but the "
		                                   "connection stayed open",
		    c->name, r.status);
	} else {
		cr_assert(!r.close, "%s: closes, should stay\n%s", c->name, r.head);
		still_serves(&p, c->name);
	}
	peer_close(&p);
	fresh_client_served(SERVE_MS);
}

static void
run_cases(const hcase *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		run_case(&cases[i]);
	}
}

#define RUN(cases) run_cases(cases, sizeof(cases) / sizeof(cases[0]))

/* ------------------------------------------------- framing, smuggling */

TestSuite(hostile, .timeout = T_TIMEOUT);

/* Every test but the one with its own server. */
#define SRV .init = setup, .fini = teardown

Test(hostile, conflicting_lengths_are_refused_and_close, SRV)
{
	static const hcase cases[] = {
		CASE("CL then TE",
		    "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
		    "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		    400, CLOSE),
		CASE("TE then CL",
		    "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
		    "Content-Length: 5\r\n\r\n0\r\n\r\n",
		    400, CLOSE),
		CASE("two differing CL",
		    "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
		    "Content-Length: 6\r\n\r\nhello!",
		    400, CLOSE),
		/* RFC 9112 6.3 allows taking equal copies as one; llhttp
		 * refuses any second Content-Length, which is also allowed. */
		CASE("two equal CL",
		    "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
		    "Content-Length: 5\r\n\r\nhello",
		    400, CLOSE),
		CASE("CL list 5, 5",
		    "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\n\r\n"
		    "hello",
		    400, CLOSE),
		CASE("CL list 5, 6",
		    "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 6\r\n\r\n"
		    "hello!",
		    400, CLOSE),
		CASE("CL -1", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
		    400, CLOSE),
		CASE("CL +5",
		    "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\nhello",
		    400, CLOSE),
		CASE("CL hex",
		    "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 0x3\r\n\r\nabc",
		    400, CLOSE),
		CASE("CL empty", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: \r\n\r\n",
		    400, CLOSE),
		CASE("CL 3 3",
		    "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3 3\r\n\r\nabc",
		    400, CLOSE),
		CASE("CL overflows 64 bits",
		    "POST /echo HTTP/1.1\r\nHost: x\r\n"
		    "Content-Length: 99999999999999999999999\r\n\r\n",
		    400, CLOSE),
		/* Parsed fine, but over the handler's limit: refused before a
		 * byte of it is read. */
		CASE("CL 2^64-1",
		    "POST /echo HTTP/1.1\r\nHost: x\r\n"
		    "Content-Length: 18446744073709551615\r\n\r\n",
		    413, CLOSE),
		/* Trailing whitespace is OWS, and the length is honoured. */
		CASE("CL with trailing space",
		    "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3 \r\n\r\nabc",
		    200, KEEP),
	};

	RUN(cases);
}

Test(hostile, transfer_codings_other_than_a_final_chunked_are_refused, SRV)
{
	static const hcase cases[] = {
		/* chunked not last: the length is unknowable (RFC 9112 6.3). */
		CASE("TE chunked, identity",
		    "POST /echo HTTP/1.1\r\nHost: x\r\n"
		    "Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
		    400, CLOSE),
		CASE("TE identity, chunked",
		    "POST /echo HTTP/1.1\r\nHost: x\r\n"
		    "Transfer-Encoding: identity, chunked\r\n\r\n0\r\n\r\n",
		    501, CLOSE),
		CASE("TE chunked twice",
		    "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
		    "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		    400, CLOSE),
		CASE("TE gzip then chunked fields",
		    "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n"
		    "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		    501, CLOSE),
		CASE("TE gzip chunked, no comma",
		    "POST /echo HTTP/1.1\r\nHost: x\r\n"
		    "Transfer-Encoding: gzip chunked\r\n\r\n0\r\n\r\n",
		    501, CLOSE),
		CASE("empty TE beside CL",
		    "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: \r\n"
		    "Content-Length: 3\r\n\r\nabc",
		    400, CLOSE),
		CASE("TE xchunked",
		    "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n"
		    "\r\n0\r\n\r\n",
		    501, CLOSE),
		CASE("TE after a tab",
		    "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\tchunked\r\n"
		    "\r\n3\r\nabc\r\n0\r\n\r\n",
		    200, KEEP),
	};

	RUN(cases);
}

Test(hostile, malformed_chunks_are_refused_and_close, SRV)
{
	static const hcase cases[] = {
		/* 72 bits of chunk size. */
		CASE("chunk size ffffffffffffffffff",
		    "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
		    "\r\nffffffffffffffffff\r\nab\r\n0\r\n\r\n",
		    400, CLOSE),
		/* 2^64: one more than fits. */
		CASE("chunk size 10000000000000000",
		    "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
		    "\r\n10000000000000000\r\nab\r\n0\r\n\r\n",
		    400, CLOSE),
		/* 2^64-1 fits, so the body limit stops it once data comes. */
		CASE("chunk size ffffffffffffffff, data over the limit",
		    "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
		    "\r\nffffffffffffffff\r\n"
		    "0123456789012345678901234567890123456789012345678901234567890123"
		    "456789\r\n",
		    413, CLOSE),
		CASE("chunk ext without a name",
		    "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
		    "\r\n2 ;\r\nab\r\n0\r\n\r\n",
		    400, CLOSE),
		CASE("chunk data longer than its size",
		    "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
		    "\r\n2\r\nabX\r\n0\r\n\r\n",
		    400, CLOSE),
		CASE("chunk size line ended by LF",
		    "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
		    "\r\n3\nabc\r\n0\r\n\r\n",
		    400, CLOSE),
		/* A CR must be followed by LF: skipping whatever follows it
		 * would let another parser frame the body differently. */
		CASE("chunk size line with a bare CR",
		    "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
		    "\r\n3\rXabc\r\n0\r\n\r\n",
		    400, CLOSE),
		CASE("chunk data followed by two bytes other than CRLF",
		    "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
		    "\r\n3\r\nabcXX0\r\n\r\n",
		    400, CLOSE),
		CASE("chunked with bare LF throughout",
		    "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
		    "\r\n2\nab\n0\n\n",
		    400, CLOSE),
		/* Chunked GET to a handler that does not collect: the body is
		 * still parsed, and garbage in it ends the stream. */
		CASE("chunk size zz on a GET",
		    "GET /static HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
		    "\r\nzz\r\nab\r\n0\r\n\r\n",
		    400, CLOSE),
	};

	RUN(cases);
}

/* ----------------------------------------------------- line syntax */

Test(hostile, obs_fold_bare_cr_and_bare_lf, SRV)
{
	static const hcase cases[] = {
		/* RFC 9112 5.2: reject obs-fold with 400 (or unfold it). */
		CASE("obs-fold",
		    "GET /static HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n", 400,
		    CLOSE),
		CASE("obs-fold continuing Host",
		    "GET /static HTTP/1.1\r\nHost: x\r\n y\r\n\r\n", 400, CLOSE),
		CASE("bare CR inside a field line",
		    "GET /static HTTP/1.1\r\nHost: x\rX-A: b\r\n\r\n", 400, CLOSE),
		CASE("bare CR ending the request line",
		    "GET /static HTTP/1.1\rHost: x\r\n\r\n", 400, CLOSE),
		/* llhttp 8 refuses a bare LF ending a field line... */
		CASE("bare LF ending a field line",
		    "GET /static HTTP/1.1\r\nHost: x\nX-A: b\r\n\r\n", 400, CLOSE),
		CASE("bare LF everywhere", "GET /static HTTP/1.1\nHost: x\n\n", 400,
		    CLOSE),
		/* ...but takes one ending the request line or the head, which
		 * RFC 9112 2.2 allows ("MAY recognize a single LF"). */
		CASE("bare LF ending the request line",
		    "GET /static HTTP/1.1\nHost: x\r\n\r\n", 200, KEEP),
		CASE("bare LF as the empty line",
		    "GET /static HTTP/1.1\r\nHost: x\r\n\n", 200, KEEP),
		/* RFC 9112 2.2: an empty line before the request line may be
		 * ignored. */
		CASE("CRLF before the request line",
		    "\r\nGET /static HTTP/1.1\r\nHost: x\r\n\r\n", 200, KEEP),
	};

	RUN(cases);
}

Test(hostile, control_bytes_and_bad_field_names, SRV)
{
	static const hcase cases[] = {
		CASE("NUL in a field value",
		    "GET /static HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n", 400, CLOSE),
		CASE("NUL in a field name",
		    "GET /static HTTP/1.1\r\nHost: x\r\nX\0A: ab\r\n\r\n", 400, CLOSE),
		CASE("NUL in the target", "GET /st\0atic HTTP/1.1\r\nHost: x\r\n\r\n",
		    400, CLOSE),
		CASE("SOH in a field value",
		    "GET /static HTTP/1.1\r\nHost: x\r\nX-A: a\001b\r\n\r\n", 400,
		    CLOSE),
		CASE("DEL in the target", "GET /st\177atic HTTP/1.1\r\nHost: x\r\n\r\n",
		    400, CLOSE),
		CASE("TAB in the target", "GET /st\tatic HTTP/1.1\r\nHost: x\r\n\r\n",
		    400, CLOSE),
		/* RFC 9112 5.1: whitespace before the colon MUST get 400. */
		CASE("space before colon (Host)",
		    "GET /static HTTP/1.1\r\nHost : x\r\n\r\n", 400, CLOSE),
		CASE("space before colon",
		    "GET /static HTTP/1.1\r\nHost: x\r\nX-A : b\r\n\r\n", 400, CLOSE),
		CASE("whitespace before the first field",
		    "GET /static HTTP/1.1\r\n Host: x\r\n\r\n", 400, CLOSE),
		CASE("separator in a field name",
		    "GET /static HTTP/1.1\r\nHost: x\r\nX(A): b\r\n\r\n", 400, CLOSE),
		/* obs-text is allowed in values (RFC 9110 5.5). */
		CASE("obs-text in a value",
		    "GET /static HTTP/1.1\r\nHost: x\r\nX-A: caf\351\r\n\r\n", 200,
		    KEEP),
	};

	RUN(cases);
}

Test(hostile, bad_methods_and_versions, SRV)
{
	static const hcase cases[] = {
		CASE("method G@T", "G@T /static HTTP/1.1\r\nHost: x\r\n\r\n", 400, CLOSE),
		CASE("method get", "get /static HTTP/1.1\r\nHost: x\r\n\r\n", 400, CLOSE),
		/* llhttp knows only registered methods. */
		CASE("method FOO", "FOO /static HTTP/1.1\r\nHost: x\r\n\r\n", 400, CLOSE),
		/* RFC 9110 6.2 would have 1.2 read as 1.1; llhttp 8 refuses
		 * any minor version it does not know, which is safe. */
		CASE("HTTP/1.2", "GET /static HTTP/1.2\r\nHost: x\r\n\r\n", 400, CLOSE),
		CASE("HTTP/1", "GET /static HTTP/1\r\nHost: x\r\n\r\n", 400, CLOSE),
		CASE("HTTZ/1.1", "GET /static HTTZ/1.1\r\nHost: x\r\n\r\n", 400, CLOSE),
		CASE("http/1.1", "GET /static http/1.1\r\nHost: x\r\n\r\n", 400, CLOSE),
		CASE("HTTP/1.10", "GET /static HTTP/1.10\r\nHost: x\r\n\r\n", 400, CLOSE),
		CASE("HTTP/0.9", "GET /static HTTP/0.9\r\nHost: x\r\n\r\n", 505, CLOSE),
		/* No version: llhttp reads an HTTP/0.9 simple request. */
		CASE("no version", "GET /static\r\nHost: x\r\n\r\n", 505, CLOSE),
	};

	RUN(cases);
}

Test(hostile, request_target_forms, SRV)
{
	static const hcase cases[] = {
		/* RFC 9112 3.2.2: a server MUST accept the absolute form; its
		 * authority wins over Host. */
		CASE("absolute-form",
		    "GET http://127.0.0.1/static HTTP/1.1\r\nHost: x\r\n\r\n", 200, KEEP),
		CASE("absolute-form, other scheme",
		    "GET ftp://127.0.0.1/static HTTP/1.1\r\nHost: x\r\n\r\n", 400, CLOSE),
		/* No proxying: CONNECT's authority form names no resource. */
		CASE("authority-form CONNECT",
		    "CONNECT host:443 HTTP/1.1\r\nHost: host:443\r\n\r\n", 400, CLOSE),
		/* No handler takes "*", but the exchange stays in step. */
		CASE("asterisk-form OPTIONS",
		    "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", 404, KEEP),
		CASE("dot segments stay inside the tree",
		    "GET /static/../echo HTTP/1.1\r\nHost: x\r\n\r\n", 404, KEEP),
	};

	RUN(cases);
}

/* -------------------------------------------------------- pipelining */

/* Sends bytes at once; expects the statuses in order, then a close (or,
 * with keep, a valid request served on the same connection). */
static void
pipelined(const char *name, const char *bytes, const int *statuses, int n,
    bool close)
{
	peer  p;
	reply r;

	peer_open(&p);
	(void) put_str(&p, bytes);
	for (int i = 0; i < n; i++) {
		cr_assert_eq(get_reply(&p, &r, false), 0, "%s: answer %d missing",
		    name, i + 1);
		cr_assert_eq(r.status, statuses[i], "%s: answer %d: %s", name, i + 1,
		    r.head);
		cr_assert_eq(r.close, close && i == n - 1, "%s: answer %d: %s", name,
		    i + 1, r.head);
	}
	if (close) {
		cr_assert(ends_within(&p, IO_MS), "%s: left open", name);
	} else {
		still_serves(&p, name);
	}
	peer_close(&p);
	fresh_client_served(SERVE_MS);
}

Test(hostile, pipelined_garbage_and_smuggling_shapes, SRV)
{
	pipelined("valid then garbage",
	    "GET /static HTTP/1.1\r\nHost: x\r\n\r\nGARBAGE\r\n\r\n",
	    (int[]) { 200, 400 }, 2, CLOSE);
	pipelined("two valid then garbage",
	    "GET /static HTTP/1.1\r\nHost: x\r\n\r\n"
	    "GET /static HTTP/1.1\r\nHost: x\r\n\r\n\x01\x02\x03\r\n\r\n",
	    (int[]) { 200, 200, 400 }, 3, CLOSE);
	/* A valid body, then the next request: framing is exact. */
	pipelined("chunked body then GET",
	    "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "3\r\nabc\r\n0\r\n\r\nGET /static HTTP/1.1\r\nHost: x\r\n\r\n",
	    (int[]) { 200, 200 }, 2, KEEP);
	/* A Content-Length in the trailer section must not reframe anything
	 * (trailers are dropped). */
	pipelined("Content-Length in a trailer",
	    "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "3\r\nabc\r\n0\r\nContent-Length: 50\r\n\r\n"
	    "GET /static HTTP/1.1\r\nHost: x\r\n\r\n",
	    (int[]) { 200, 200 }, 2, KEEP);
	/* A GET's Content-Length body is skipped as a body, not read as the
	 * next request. */
	pipelined("GET with a body hiding a request",
	    "GET /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 33\r\n\r\n"
	    "GET /static HTTP/1.1\r\nHost: y\r\n\r\n",
	    (int[]) { 200 }, 1, KEEP);
	/* Upgrade is not acted on, and what follows an Upgrade request may
	 * be another protocol: answered, then closed, the bytes after it
	 * never read as a request. */
	pipelined("Upgrade then GET",
	    "GET /static HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n"
	    "Upgrade: websocket\r\n\r\nGET /static HTTP/1.1\r\nHost: x\r\n\r\n",
	    (int[]) { 200 }, 1, CLOSE);
	pipelined("Upgrade with a body then GET",
	    "POST /echo HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n"
	    "Upgrade: h2c\r\nContent-Length: 3\r\n\r\nabc"
	    "GET /static HTTP/1.1\r\nHost: x\r\n\r\n",
	    (int[]) { 200 }, 1, CLOSE);
}

/* ------------------------------------------------------------ limits */

static char *
repeat(char c, size_t n)
{
	char *s = malloc(n + 1);

	cr_assert_not_null(s);
	memset(s, c, n);
	s[n] = '\0';
	return (s);
}

/* A request "GET /<target_len - 1 'a'> HTTP/1.1" with Host and extra
 * (already formatted field lines) appended. */
static hcase
built(const char *name, char **store, size_t target_len, const char *extra,
    int status, bool close)
{
	char  *fill = repeat('a', target_len - 1);
	size_t cap  = target_len + strlen(extra) + 64;

	*store = malloc(cap);
	cr_assert_not_null(*store);
	snprintf(*store, cap, "GET /%s HTTP/1.1\r\nHost: x\r\n%s\r\n", fill, extra);
	free(fill);
	return ((hcase) { name, *store, strlen(*store), status, close });
}

Test(hostile, request_target_length_bounds, SRV)
{
	char *s;
	hcase c;

	/* 8192 is served (404: no such path) ... */
	c = built("target of 8192", &s, MAX_TARGET, "", 404, KEEP);
	run_case(&c);
	free(s);
	/* ... 8193 is not. */
	c = built("target of 8193", &s, MAX_TARGET + 1, "", 414, CLOSE);
	run_case(&c);
	free(s);
	/* Beyond the whole head's limit: 431 comes first. */
	c = built("target of 70000", &s, 70000, "", 431, CLOSE);
	run_case(&c);
	free(s);
}

Test(hostile, header_count_and_size_bounds, SRV)
{
	char  *lines = malloc(MAX_FIELDS * 32);
	char  *s, *v;
	hcase  c;
	size_t n = 0;

	/* Host plus 99 more: exactly the limit. */
	for (unsigned i = 1; i < MAX_FIELDS; i++) {
		n += (size_t) sprintf(lines + n, "X-F%u: v\r\n", i);
	}
	c = built("100 fields", &s, 7, lines, 404, KEEP);
	run_case(&c);
	free(s);
	strcat(lines, "X-Last: v\r\n");
	c = built("101 fields", &s, 7, lines, 431, CLOSE);
	run_case(&c);
	free(s);
	free(lines);

	/* One field making the head a little under and a little over 64 KiB. */
	v     = repeat('v', MAX_HEAD - 600);
	lines = malloc(MAX_HEAD + 64);
	snprintf(lines, MAX_HEAD + 64, "X-Big: %s\r\n", v);
	c = built("head just under 64 KiB", &s, 7, lines, 404, KEEP);
	run_case(&c);
	free(s);
	free(v);
	v = repeat('v', MAX_HEAD + 600);
	free(lines);
	lines = malloc(MAX_HEAD + 700);
	snprintf(lines, MAX_HEAD + 700, "X-Big: %s\r\n", v);
	c = built("head just over 64 KiB", &s, 7, lines, 431, CLOSE);
	run_case(&c);
	free(s);
	free(v);
	free(lines);
}

/* A head that never ends is cut at the limit, not buffered: the answer
 * comes while the client is still sending. */
Test(hostile, endless_head_is_cut_at_the_limit, SRV)
{
	char  *chunk = repeat('h', 16384);
	peer   p;
	reply  r;
	size_t sent = 0;

	peer_open(&p);
	cr_assert(put_str(&p, "GET /static HTTP/1.1\r\nHost: x\r\nX-Endless: "));
	/* At most 1 MiB; the server must stop reading long before. */
	while (sent < 1024 * 1024 && put(p.fd, chunk, 16384)) {
		struct pollfd pf = { p.fd, POLLIN, 0 };
		sent += 16384;
		if (poll(&pf, 1, 10) > 0) {
			break; /* the answer is there */
		}
	}
	cr_assert_lt(sent, 1024 * 1024, "the server kept reading an endless head");
	cr_assert_eq(get_reply(&p, &r, false), 0);
	cr_assert_eq(r.status, 431, "%s", r.head);
	cr_assert(r.close);
	cr_assert(ends_within(&p, IO_MS));
	peer_close(&p);
	free(chunk);
	fresh_client_served(SERVE_MS);
}

Test(hostile, bodies_over_the_collect_limit, SRV)
{
	char        body[COLLECT_MAX + 2];
	char        req[256];
	const hcase at_limit = CASE("body at the limit",
	    "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 64\r\n\r\n"
	    "0123456789012345678901234567890123456789012345678901234567890123",
	    200, KEEP);
	hcase c;

	run_case(&at_limit);
	memset(body, 'b', sizeof(body));
	body[COLLECT_MAX + 1] = '\0';
	snprintf(req, sizeof(req),
	    "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s",
	    COLLECT_MAX + 1, body);
	c = (hcase) { "body one over the limit", req, strlen(req), 413, CLOSE };
	run_case(&c);
	/* The same in one chunk, found while reading it. */
	snprintf(req, sizeof(req),
	    "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "%x\r\n%s\r\n0\r\n\r\n",
	    COLLECT_MAX + 1, body);
	c = (hcase) { "chunk one over the limit", req, strlen(req), 413, CLOSE };
	run_case(&c);
}

/* ------------------------------------------------------- error paths */

/* An error answer (404, 405) to a request whose body follows reads and
 * drops a small body.  When that body is malformed or stalls, the
 * connection must end and others must be served.  (Whether an answer is
 * sent first is drain_failure_still_answers.) */
Test(hostile, broken_body_after_an_error_answer_ends_the_connection, SRV)
{
	static const char *reqs[] = {
		"POST /nowhere HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
		"\r\nzz\r\nab\r\n0\r\n\r\n",
		"POST /static HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
		"\r\nzz\r\nab\r\n0\r\n\r\n",
	};

	for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		peer p;
		int  rv;
		peer_open(&p);
		(void) put_str(&p, reqs[i]);
		/* Whatever comes, the stream must end, and soon. */
		for (int k = 0; k < 100; k++) {
			if ((rv = fill(&p, IO_MS)) <= 0) {
				break;
			}
		}
		cr_assert(rv == 0 || rv == FILL_RESET, "request %zu: left open", i);
		peer_close(&p);
		fresh_client_served(SERVE_MS);
	}
}

/* ------------------------------------------------------- time limits */

/* Slowloris: clients that send their head one byte a second get 408 and
 * a close about HEAD_MS after their first byte, while well-formed clients
 * are served at once. */
Test(hostile, slowloris_gets_408_while_others_are_served, SRV)
{
	enum { N = 20 };
	static const char head[] = "GET /static HTTP/1.1\r\nHost: x\r\n\r\n";
	peer              slow[N];
	long long         t0[N], t_end[N];
	size_t            next[N];
	bool              done[N];
	int               ndone = 0;
	long long         start, last_byte, worst = 0, cut_max = 0;

	for (int i = 0; i < N; i++) {
		peer_open(&slow[i]);
		t0[i] = now_ms();
		cr_assert(put(slow[i].fd, head, 1));
		next[i]  = 1;
		done[i]  = false;
		t_end[i] = 0;
	}
	start     = now_ms();
	last_byte = start;
	/* Bounded: 60 rounds of ~100 ms. */
	for (int round = 0; round < 60 && ndone < N; round++) {
		long long took = fresh_client_served(SERVE_MS);
		if (took > worst) {
			worst = took;
		}
		sleep_ms(100);
		for (int i = 0; i < N; i++) {
			struct pollfd pf = { slow[i].fd, POLLIN, 0 };
			if (done[i]) {
				continue;
			}
			if (poll(&pf, 1, 0) > 0) {
				/* Read up to the end of the stream. */
				int rv;
				while ((rv = fill(&slow[i], IO_MS)) > 0) {
				}
				cr_assert_neq(rv, FILL_TIMEOUT,
				    "slow client %d: answered but not closed", i);
				t_end[i] = now_ms();
				done[i]  = true;
				ndone++;
			}
		}
		if (now_ms() - last_byte >= 1000) {
			last_byte = now_ms();
			for (int i = 0; i < N; i++) {
				if (!done[i] && next[i] < sizeof(head) - 1) {
					(void) put(slow[i].fd, head + next[i], 1);
					next[i]++;
				}
			}
		}
	}
	cr_assert_eq(ndone, N, "only %d of %d slow clients were cut off", ndone, N);
	for (int i = 0; i < N; i++) {
		reply r;
		cr_assert_eq(get_reply(&slow[i], &r, false), 0, "slow client %d", i);
		cr_assert_eq(r.status, 408, "slow client %d: %s", i, r.head);
		cr_assert(r.close);
		cr_assert_geq(t_end[i] - t0[i], HEAD_MS - 100, "cut at %lld ms",
		    t_end[i] - t0[i]);
		cr_assert_leq(t_end[i] - t0[i], HEAD_MS + 2500, "cut at %lld ms",
		    t_end[i] - t0[i]);
		if (t_end[i] - t0[i] > cut_max) {
			cut_max = t_end[i] - t0[i];
		}
		peer_close(&slow[i]);
	}
	cr_log_info("slowloris: %d cut off by %lld ms after their first byte; "
	            "worst well-formed latency meanwhile %lld ms",
	    N, cut_max, worst);
}

/* A body sent one byte a second is cut off after the idle timeout with
 * 408 (the body read has that much time in all). */
Test(hostile, slow_body_gets_408, SRV)
{
	peer      p;
	reply     r;
	long long t0;
	int       sent = 0;

	peer_open(&p);
	cr_assert(put_str(&p, "POST /echo HTTP/1.1\r\nHost: x\r\n"
	                      "Content-Length: 30\r\n\r\n"));
	t0 = now_ms();
	for (int i = 0; i < 10; i++) {
		struct pollfd pf = { p.fd, POLLIN, 0 };
		if (poll(&pf, 1, 1000) > 0) {
			break;
		}
		(void) put(p.fd, "b", 1);
		sent++;
	}
	cr_assert_eq(get_reply(&p, &r, false), 0);
	cr_assert_eq(r.status, 408, "%s", r.head);
	cr_assert(r.close);
	cr_assert(ends_within(&p, IO_MS));
	cr_assert_geq(now_ms() - t0, IDLE_MS - 100);
	cr_assert_leq(now_ms() - t0, IDLE_MS + 2500);
	cr_assert_lt(sent, 30);
	peer_close(&p);
	fresh_client_served(SERVE_MS);
}

/* ---------------------------------------------------------- resources */

static int
fd_count(void)
{
	DIR           *d = opendir("/proc/self/fd");
	struct dirent *e;
	int            n = 0;

	cr_assert_not_null(d, "no /proc/self/fd");
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] != '.') {
			n++;
		}
	}
	closedir(d);
	return (n - 1); /* the directory itself */
}

/* The fd count once the server has closed the connections of clients
 * that left (it does so asynchronously): stable over 100 ms. */
static int
fd_count_stable(void)
{
	int n = fd_count(), m;

	for (int i = 0; i < 50; i++) {
		sleep_ms(100);
		if ((m = fd_count()) == n) {
			break;
		}
		n = m;
	}
	return (n);
}

/* Waits (bounded) until the fd count is at most want; returns it. */
static int
fd_count_settles(int want, int ms)
{
	long long deadline = now_ms() + ms;
	int       n;

	while ((n = fd_count()) > want && now_ms() < deadline) {
		sleep_ms(20);
	}
	return (n);
}

/* A client that asks for a large response and never reads it holds only
 * its own connection: others are served meanwhile, and once it goes, so
 * does its connection on the server. */
Test(hostile, a_client_that_never_reads_does_not_block_others, SRV)
{
	static const char req[] = "GET /big HTTP/1.1\r\nHost: x\r\n\r\n";
	int               base, fd;

	fresh_client_served(SERVE_MS);
	base = fd_count_stable();
	fd   = dial_port(srv_port, 4096);
	/* Several large responses asked for at once, none read. */
	for (int i = 0; i < 4; i++) {
		cr_assert(put(fd, req, sizeof(req) - 1));
	}
	sleep_ms(200); /* the server is now stuck writing to it */
	for (int i = 0; i < 20; i++) {
		fresh_client_served(SERVE_MS);
	}
	/* Past the idle and head timeouts, still others are served. */
	sleep_ms(IDLE_MS + 200);
	for (int i = 0; i < 5; i++) {
		fresh_client_served(SERVE_MS);
	}
	close(fd);
	cr_assert_leq(fd_count_settles(base, 5000), base,
	    "the server kept the connection of a client that left");
	fresh_client_served(SERVE_MS);
}

/* 10,000 idle connections: the server takes them all, still serves
 * others, and when they go its descriptors go too. */
Test(hostile, ten_thousand_idle_connections, .timeout = 120)
{
	enum { WANT = 10000 };
	struct rlimit rl;
	int           n = WANT, base, *fds;
	peer          p;

	/* Two descriptors per connection here (client and server side). */
	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_cur < 2 * WANT + 256) {
		rlim_t want = 2 * WANT + 256;
		if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want) {
			/* Root may raise the hard limit; others keep theirs. */
			struct rlimit up = { want, want };
			if (setrlimit(RLIMIT_NOFILE, &up) == 0) {
				rl = up;
			}
		}
		rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want
		    ? want
		    : rl.rlim_max;
		(void) setrlimit(RLIMIT_NOFILE, &rl);
		cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
		if (rl.rlim_cur < 2 * WANT + 256) {
			n = (int) (rl.rlim_cur - 256) / 2;
			cr_assert_gt(n, 50, "RLIMIT_NOFILE %lu is too low",
			    (unsigned long) rl.rlim_cur);
			cr_log_info("RLIMIT_NOFILE %lu: %d connections, not %d",
			    (unsigned long) rl.rlim_cur, n, WANT);
		}
	}
	/* A long idle timeout: the connections go because they close. */
	server_up(60000, HEAD_MS);
	fresh_client_served(SERVE_MS);
	base = fd_count_stable();
	fds = calloc((size_t) n, sizeof(*fds));
	for (int i = 0; i < n; i++) {
		fds[i] = dial_port(srv_port, 0);
	}
	/* The server has accepted them all: 2n more descriptors. */
	cr_assert_geq(fd_count(), base + n, "client side");
	{
		long long deadline = now_ms() + 10000;
		while (fd_count() < base + 2 * n && now_ms() < deadline) {
			sleep_ms(20);
		}
	}
	cr_assert_geq(fd_count(), base + 2 * n,
	    "the server did not accept all %d: %d descriptors, %d before", n,
	    fd_count(), base);
	fresh_client_served(SERVE_MS);
	/* Some of them are live connections: ask on every 100th. */
	for (int i = 0; i < n; i += 100) {
		reply r;
		p.fd  = fds[i];
		p.len = 0;
		p.cap = 4096;
		p.buf = malloc(p.cap);
		cr_assert(put_str(&p, valid_req));
		cr_assert_eq(get_reply(&p, &r, false), 0, "idle connection %d", i);
		cr_assert_eq(r.status, 200);
		free(p.buf);
	}
	for (int i = 0; i < n; i++) {
		close(fds[i]);
	}
	free(fds);
	cr_assert_leq(fd_count_settles(base, 10000), base,
	    "server descriptors left after the clients closed");
	fresh_client_served(SERVE_MS);
	server_down();
}

/* ------------------------------------- found here, fixed in the server
 *
 * The cases below first showed the server doing something else; their
 * comments say what. */

/* Was a bug: when an error answer (404, 405) drains the small body of the
 * request and that body is malformed or stalls, the server closes the
 * connection without writing the answer (http_server.c, SC_DRAIN: only a
 * success or NGHTTPW_EMSGSIZE writes it).  Raw requests:
 *   "POST /nowhere HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
 *   "zz\r\nab\r\n0\r\n\r\n"                       -> closed, no bytes
 *   (the same to POST /static, a GET-only path)   -> closed, no bytes
 *   "POST /nowhere HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc"
 *   then nothing                                   -> closed after the idle
 *                                                     timeout, no bytes
 * Expected: an answer with "Connection: close" before the close (the 404
 * or 405 that was decided, or 400 for the malformed body and 408 for the
 * stall, as when a handler collects the body). */
Test(hostile, drain_failure_still_answers, SRV)
{
	static const struct {
		const char *req;
		int         status[2]; /* either is right */
	} cases[] = {
		{ "POST /nowhere HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
		  "\r\nzz\r\nab\r\n0\r\n\r\n",
		    { 404, 400 } },
		{ "POST /static HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
		  "\r\nzz\r\nab\r\n0\r\n\r\n",
		    { 405, 400 } },
		{ "POST /nowhere HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc",
		    { 404, 408 } },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		peer  p;
		reply r;
		peer_open(&p);
		(void) put_str(&p, cases[i].req);
		cr_assert_eq(get_reply(&p, &r, false), 0, "case %zu: no answer", i);
		cr_assert(r.status == cases[i].status[0] ||
		        r.status == cases[i].status[1],
		    "case %zu: %s", i, r.head);
		cr_assert(r.close);
		cr_assert(ends_within(&p, IO_MS));
		peer_close(&p);
	}
}

/* Was a bug: Host is not checked beyond its presence.  RFC 9112 3.2: "A
 * server MUST respond with a 400 (Bad Request) status code to any
 * HTTP/1.1 request message that lacks a Host header field and to any
 * request message that contains more than one Host header field line or
 * a Host header field with an invalid field value."  Today each of these
 * is answered 200 and the connection kept:
 *   "GET /static HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n"
 *   "GET http://127.0.0.1/static HTTP/1.1\r\n\r\n"       (no Host)
 *   "GET /static HTTP/1.1\r\nHost: a b\r\n\r\n"
 *   "GET /static HTTP/1.1\r\nHost: a/b\r\n\r\n"
 * Two Host fields matter most: routing (handler_set_host) takes the first
 * while a proxy in front may have used the last. */
Test(hostile, host_must_be_one_valid_field, SRV)
{
	static const hcase cases[] = {
		CASE("two Host fields",
		    "GET /static HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", 400, CLOSE),
		CASE("absolute-form without Host",
		    "GET http://127.0.0.1/static HTTP/1.1\r\n\r\n", 400, CLOSE),
		CASE("Host with a space", "GET /static HTTP/1.1\r\nHost: a b\r\n\r\n",
		    400, CLOSE),
		CASE("Host with a slash", "GET /static HTTP/1.1\r\nHost: a/b\r\n\r\n",
		    400, CLOSE),
	};

	RUN(cases);
}

/* Host's bytes are those of RFC 3986's uri-host and port: letters,
 * digits and "-._~!$&'()*+;=:%[]".  Any other printable byte gets 400 and
 * the close; each is tried inside a name, "a?b". */
Test(hostile, host_bytes_are_rfc3986s, SRV)
{
	static const char punct[] = "-._~!$&'()*+;=:%[]";

	for (int ch = 0x21; ch < 0x7f; ch++) {
		bool  ok = (ch >= '0' && ch <= '9') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= 'a' && ch <= 'z') || strchr(punct, ch) != NULL;
		char  name[32], req[64];
		hcase c = { name, req, 0, ok ? 200 : 400, !ok };

		(void) snprintf(name, sizeof(name), "Host \"a%cb\"", ch);
		c.len = (size_t) snprintf(req, sizeof(req),
		    "GET /static HTTP/1.1\r\nHost: a%cb\r\n\r\n", ch);
		run_case(&c);
	}
}

/* Was a bug: the asterisk form is taken with any method.  RFC 9112
 * 3.2.4: it is only for a server-wide OPTIONS.  Today
 *   "GET * HTTP/1.1\r\nHost: x\r\n\r\n"  -> 404, kept open
 * Expected: 400 (a target that is not valid for the method). */
Test(hostile, asterisk_form_only_with_options, SRV)
{
	static const hcase cases[] = {
		CASE("GET *", "GET * HTTP/1.1\r\nHost: x\r\n\r\n", 400, CLOSE),
		CASE("POST *",
		    "POST * HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 400,
		    CLOSE),
	};

	RUN(cases);
}

/* Was a bug: an HTTP/1.0 request with Transfer-Encoding keeps a
 * keep-alive connection open.  RFC 9112 6.1: "A server or client that
 * receives an HTTP/1.0 message containing a Transfer-Encoding header
 * field MUST treat the message as if the framing is faulty, even if a
 * Content-Length is present, and close the connection after processing
 * the message" (an HTTP/1.0 intermediary may have framed it otherwise).
 * Today
 *   "POST /echo HTTP/1.0\r\nConnection: keep-alive\r\n"
 *   "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
 *   "GET /static HTTP/1.1\r\nHost: x\r\n\r\n"
 * gets two 200s and the connection stays.  Expected: the first answered
 * (or refused with 400) with "Connection: close", then the close. */
Test(hostile, http10_transfer_encoding_closes, SRV)
{
	peer  p;
	reply r;

	peer_open(&p);
	(void) put_str(&p, "POST /echo HTTP/1.0\r\nConnection: keep-alive\r\n"
	                   "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
	                   "GET /static HTTP/1.1\r\nHost: x\r\n\r\n");
	cr_assert_eq(get_reply(&p, &r, false), 0);
	cr_assert(r.status == 200 || r.status == 400, "%s", r.head);
	cr_assert(r.close, "%s", r.head);
	cr_assert(ends_within(&p, IO_MS));
	peer_close(&p);
}

/* Was a gap: a response write had no time bound, so a client that asks
 * for a large body and never reads held its connection, and its server
 * side, for as long as it liked (the slow-read attack; many such clients
 * exhaust descriptors).  Raw request, on a socket with a 4 KiB receive
 * buffer that is never read:
 *   "GET /big HTTP/1.1\r\nHost: x\r\n\r\n"   (an 8 MiB static body)
 * Now a write that makes no progress for the idle timeout fails and the
 * connection is closed. */
Test(hostile, stalled_reader_is_dropped, SRV)
{
	static const char req[] = "GET /big HTTP/1.1\r\nHost: x\r\n\r\n";
	int               base, fd;

	fresh_client_served(SERVE_MS);
	base = fd_count_stable();
	fd   = dial_port(srv_port, 4096);
	cr_assert(put(fd, req, sizeof(req) - 1));
	sleep_ms(200);
	cr_assert_eq(fd_count(), base + 2, "client and server side");
	/* The server side goes once the write has stalled for the idle
	 * timeout (with some slack). */
	cr_assert_leq(fd_count_settles(base + 1, IDLE_MS + 3000), base + 1,
	    "the server still holds a connection that has read nothing for "
	    "%d ms",
	    IDLE_MS + 3000);
	close(fd);
}

/* A client that pipelines many small requests and never reads: the
 * answers batched for it stall like any write and it is dropped, while
 * others are served meanwhile. */
Test(hostile, pipelining_client_that_never_reads_is_dropped, SRV)
{
	enum { COUNT = 20000 };
	size_t len = sizeof(valid_req) - 1;
	char  *all = malloc(COUNT * len);
	int    base, fd;

	for (int i = 0; i < COUNT; i++) {
		memcpy(all + (size_t) i * len, valid_req, len);
	}
	fresh_client_served(SERVE_MS);
	base = fd_count_stable();
	fd   = dial_port(srv_port, 4096);
	/* The server stops reading once its answers stall, so not all of
	 * it may go. */
	(void) put(fd, all, COUNT * len);
	for (int i = 0; i < 5; i++) {
		fresh_client_served(SERVE_MS);
	}
	cr_assert_leq(fd_count_settles(base + 1, IDLE_MS + 3000), base + 1,
	    "the server still holds a pipelining client that reads nothing");
	close(fd);
	free(all);
	fresh_client_served(SERVE_MS);
}

/* A client that pipelines and resets at once: the batched answers fail
 * to go, the connection is closed and nothing is left behind. */
Test(hostile, pipelining_client_that_resets_leaves_nothing, SRV)
{
	enum { COUNT = 500 };
	size_t        len = sizeof(valid_req) - 1;
	char         *all = malloc(COUNT * len);
	struct linger lg  = { 1, 0 };
	int           base;

	for (int i = 0; i < COUNT; i++) {
		memcpy(all + (size_t) i * len, valid_req, len);
	}
	fresh_client_served(SERVE_MS);
	base = fd_count_stable();
	for (int round = 0; round < 20; round++) {
		int fd = dial_port(srv_port, 0);
		cr_assert(put(fd, all, COUNT * len));
		if (round % 2 == 1) {
			sleep_ms(2); /* let some answers be under way */
		}
		(void) setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(fd);
	}
	cr_assert_leq(fd_count_settles(base, 5000), base,
	    "the server kept connections of clients that reset");
	free(all);
	fresh_client_served(SERVE_MS);
}
