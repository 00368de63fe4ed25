/* The client's streaming form (nghttpw_http_client_transact_stream with
 * nghttpw_http_conn_read_body and nghttpw_http_client_release_conn) and
 * the retry of a kept-alive connection the server closed, against raw
 * socket servers on loopback that count their connections and requests:
 * a 100 MiB download in bounded memory, pool reuse only after a body read
 * to its end, no retry for POST or after a response byte, and cancels and
 * timeouts in the head and in the body, many times over. */
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "nghttpw/http.h"
#include "support/pairs.h"

/* ------------------------------------------------------- raw servers */

typedef struct srv srv;

/* Serves the index-th accepted connection (from 0) on fd, which the
 * server closes afterwards. */
typedef void (*script_fn)(srv *s, int fd, int index);

struct srv {
	int         lfd;
	int         port;
	char        url[64];
	pthread_t   thr;
	script_fn   script;
	uint64_t    body_len; /* for the scripts that send a body */
	atomic_bool stop;
	atomic_int  accepts;
	atomic_int  requests; /* request heads read, all connections */
	atomic_int  finished; /* connections served and closed */
};

static void *
srv_thread(void *arg)
{
	srv *s = arg;

	while (!atomic_load(&s->stop)) {
		struct pollfd pfd = { .fd = s->lfd, .events = POLLIN };
		int           fd;
		if (poll(&pfd, 1, 50) <= 0 ||
		    (fd = accept(s->lfd, NULL, NULL)) < 0) {
			continue;
		}
		s->script(s, fd, atomic_fetch_add(&s->accepts, 1));
		close(fd);
		atomic_fetch_add(&s->finished, 1);
	}
	return (NULL);
}

static void
srv_start(srv *s, script_fn script, uint64_t body_len)
{
	memset(s, 0, sizeof(*s));
	s->script   = script;
	s->body_len = body_len;
	cr_assert_geq(s->lfd = raw_tcp_listen(&s->port), 0);
	snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%d/", s->port);
	cr_assert_eq(pthread_create(&s->thr, NULL, srv_thread, s), 0);
}

static void
srv_stop(srv *s)
{
	atomic_store(&s->stop, true);
	pthread_join(s->thr, NULL);
	close(s->lfd);
}

/* Waits (bounded) until n connections have been served and closed. */
static void
srv_wait_finished(srv *s, int n)
{
	for (int i = 0; i < 500 && atomic_load(&s->finished) < n; i++) {
		nghttpw_msleep(10);
	}
	cr_assert_geq(atomic_load(&s->finished), n, "served %d of %d",
	    atomic_load(&s->finished), n);
}

static int
send_text(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			return (-1);
		}
		p += n;
		len -= (size_t) n;
	}
	return (0);
}

static int
send_str(int fd, const char *text)
{
	return (send_text(fd, text, strlen(text)));
}

/* Reads a request head and its Content-Length body (discarded); counts
 * it.  head gets the head (NUL-terminated, truncated to size).  -1 when
 * the client closed the connection first. */
static int
read_request(srv *s, int fd, char *head, size_t size)
{
	char        buf[4096];
	size_t      len = 0;
	const char *cl;

	while (len < 4 || memcmp(buf + len - 4, "\r\n\r\n", 4) != 0) {
		if (len == sizeof(buf) - 1 || recv(fd, buf + len, 1, 0) != 1) {
			return (-1);
		}
		len++;
	}
	buf[len] = '\0';
	atomic_fetch_add(&s->requests, 1);
	if ((cl = strstr(buf, "Content-Length: ")) != NULL) {
		size_t n = strtoul(cl + 16, NULL, 10);
		char   c;
		while (n-- > 0) {
			if (recv(fd, &c, 1, MSG_WAITALL) != 1) {
				return (-1);
			}
		}
	}
	if (head != NULL) {
		size_t n = len < size - 1 ? len : size - 1;
		memcpy(head, buf, n);
		head[n] = '\0';
	}
	return (0);
}

/* Sends len bytes of the shared pattern, from offset 0. */
static int
send_pattern(int fd, uint64_t len)
{
	static _Thread_local unsigned char block[65536];
	uint64_t                           off = 0;

	while (off < len) {
		size_t n = len - off < sizeof(block) ? (size_t) (len - off)
		                                     : sizeof(block);
		for (size_t i = 0; i < n; i++) {
			block[i] = pattern_byte(off + i);
		}
		if (send_text(fd, block, n) != 0) {
			return (-1);
		}
		off += n;
	}
	return (0);
}

/* Waits for the client to close the connection. */
static void
wait_close(int fd)
{
	char c;

	while (recv(fd, &c, 1, 0) > 0) {
	}
}

/* Keep-alive: each GET answered with body_len pattern bytes (framed by
 * Content-Length), each HEAD with the head alone, "/none" with 204. */
static void
serve_pattern(srv *s, int fd, int index)
{
	char head[512];
	char line[128];

	(void) index;
	while (read_request(s, fd, head, sizeof(head)) == 0) {
		if (strstr(head, " /none ") != NULL) {
			if (send_str(fd, "HTTP/1.1 204 No Content\r\n\r\n") != 0) {
				return;
			}
			continue;
		}
		snprintf(line, sizeof(line),
		    "HTTP/1.1 200 OK\r\nContent-Length: %llu\r\n\r\n",
		    (unsigned long long) s->body_len);
		if (send_str(fd, line) != 0 ||
		    (strncmp(head, "HEAD ", 5) != 0 &&
		        send_pattern(fd, s->body_len) != 0)) {
			return;
		}
	}
}

/* The same body in chunks of odd sizes, then a trailer. */
static void
serve_chunked(srv *s, int fd, int index)
{
	char     line[64];
	uint64_t off = 0;

	(void) index;
	while (read_request(s, fd, NULL, 0) == 0) {
		if (send_str(fd, "HTTP/1.1 200 OK\r\n"
		                 "Transfer-Encoding: chunked\r\n\r\n") != 0) {
			return;
		}
		for (off = 0; off < s->body_len;) {
			size_t n = 1 + (size_t) (off % 7919);
			if (n > s->body_len - off) {
				n = (size_t) (s->body_len - off);
			}
			unsigned char chunk[8000];
			for (size_t i = 0; i < n; i++) {
				chunk[i] = pattern_byte(off + i);
			}
			snprintf(line, sizeof(line), "%zx\r\n", n);
			if (send_str(fd, line) != 0 || send_text(fd, chunk, n) != 0 ||
			    send_str(fd, "\r\n") != 0) {
				return;
			}
			off += n;
		}
		if (send_str(fd, "0\r\nX-Sum: done\r\n\r\n") != 0) {
			return;
		}
	}
}

/* ------------------------------------------------------------ client */

static nghttpw_http_client *
client_for(srv *s)
{
	nghttpw_url         *url;
	nghttpw_http_client *c;

	cr_assert_eq(nghttpw_url_parse(&url, s->url), 0);
	cr_assert_eq(nghttpw_http_client_alloc(&c, url), 0);
	nghttpw_url_free(url);
	return (c);
}

/* One streamed exchange; *connp gets the lent connection on success. */
static int
stream_exchange(nghttpw_http_client *c, const char *method, const char *uri,
    const char *body, nghttpw_duration timeout, nghttpw_http_res *res,
    nghttpw_http_conn **connp)
{
	nghttpw_http_req *req;
	nghttpw_aio      *aio;
	int               rv;

	*connp = NULL;
	cr_assert_eq(nghttpw_aio_alloc(&aio, NULL, NULL), 0);
	nghttpw_aio_set_timeout(aio, timeout);
	cr_assert_eq(nghttpw_http_req_alloc(&req, NULL), 0);
	cr_assert_eq(nghttpw_http_req_set_method(req, method), 0);
	cr_assert_eq(nghttpw_http_req_set_uri(req, uri), 0);
	if (body != NULL) {
		cr_assert_eq(nghttpw_http_req_copy_data(req, body, strlen(body)), 0);
	}
	nghttpw_http_client_transact_stream(c, req, res, aio);
	nghttpw_aio_wait(aio);
	if ((rv = nghttpw_aio_result(aio)) == 0) {
		*connp = nghttpw_aio_get_output(aio, 0);
		cr_assert_not_null(*connp);
	} else {
		cr_assert_null(nghttpw_aio_get_output(aio, 0));
	}
	nghttpw_aio_free(aio);
	nghttpw_http_req_free(req);
	return (rv);
}

/* One exchange with the buffered form. */
static int
buffered_exchange(nghttpw_http_client *c, const char *method, const char *uri,
    const char *body, nghttpw_http_res *res)
{
	nghttpw_http_req *req;
	nghttpw_aio      *aio;
	int               rv;

	cr_assert_eq(nghttpw_aio_alloc(&aio, NULL, NULL), 0);
	nghttpw_aio_set_timeout(aio, 5000);
	cr_assert_eq(nghttpw_http_req_alloc(&req, NULL), 0);
	cr_assert_eq(nghttpw_http_req_set_method(req, method), 0);
	cr_assert_eq(nghttpw_http_req_set_uri(req, uri), 0);
	if (body != NULL) {
		cr_assert_eq(nghttpw_http_req_copy_data(req, body, strlen(body)), 0);
	}
	nghttpw_http_client_transact(c, req, res, aio);
	nghttpw_aio_wait(aio);
	rv = nghttpw_aio_result(aio);
	nghttpw_aio_free(aio);
	nghttpw_http_req_free(req);
	return (rv);
}

/* The same with either form; the lent connection is given back. */
static int
any_exchange(nghttpw_http_client *c, const char *method, const char *uri,
    const char *body, nghttpw_http_res *res, bool stream)
{
	nghttpw_http_conn *conn;
	int                rv;

	if (!stream) {
		return (buffered_exchange(c, method, uri, body, res));
	}
	if ((rv = stream_exchange(c, method, uri, body, 5000, res, &conn)) == 0) {
		nghttpw_http_client_release_conn(c, conn);
	}
	return (rv);
}

static size_t
rss_bytes(void)
{
	FILE         *f = fopen("/proc/self/statm", "r");
	unsigned long size = 0, rss = 0;

	cr_assert_not_null(f);
	cr_assert_eq(fscanf(f, "%lu %lu", &size, &rss), 2);
	fclose(f);
	return ((size_t) rss * (size_t) sysconf(_SC_PAGESIZE));
}

/* Reads the body to its end in pieces of piece bytes, checking every byte
 * against the pattern; *total gets the bytes read.  *peak_rss (if not
 * NULL) gets the largest RSS seen along the way. */
static int
read_pattern_body(nghttpw_http_conn *conn, size_t piece, uint64_t *total,
    size_t *peak_rss)
{
	unsigned char *buf = malloc(piece);
	nghttpw_iov    iov = { buf, piece };
	nghttpw_aio   *aio;
	uint64_t       off = 0;
	int            rv;

	cr_assert_not_null(buf);
	cr_assert_eq(nghttpw_aio_alloc(&aio, NULL, NULL), 0);
	nghttpw_aio_set_timeout(aio, 10000);
	nghttpw_aio_set_iov(aio, 1, &iov);
	for (;;) {
		nghttpw_http_conn_read_body(conn, aio);
		nghttpw_aio_wait(aio);
		size_t n = nghttpw_aio_count(aio);
		if ((rv = nghttpw_aio_result(aio)) != 0 || n == 0) {
			break;
		}
		cr_assert_leq(n, piece);
		for (size_t i = 0; i < n; i++) {
			if (buf[i] != pattern_byte(off + i)) {
				cr_assert_fail("byte %llu differs",
				    (unsigned long long) (off + i));
			}
		}
		off += n;
		if (peak_rss != NULL && (off & ((1u << 22) - 1)) < n) {
			size_t r = rss_bytes(); /* every 4 MiB or so */
			*peak_rss = r > *peak_rss ? r : *peak_rss;
		}
	}
	nghttpw_aio_free(aio);
	free(buf);
	*total = off;
	return (rv);
}

/* Reads a short body to its end into text (NUL-terminated). */
static int
read_text_body(nghttpw_http_conn *conn, char *text, size_t cap)
{
	nghttpw_aio *aio;
	size_t       len = 0;
	int          rv;

	cr_assert_eq(nghttpw_aio_alloc(&aio, NULL, NULL), 0);
	nghttpw_aio_set_timeout(aio, 5000);
	for (;;) {
		nghttpw_iov iov = { text + len, cap - 1 - len };
		cr_assert_gt(iov.iov_len, 0);
		nghttpw_aio_set_iov(aio, 1, &iov);
		nghttpw_http_conn_read_body(conn, aio);
		nghttpw_aio_wait(aio);
		if ((rv = nghttpw_aio_result(aio)) != 0 ||
		    nghttpw_aio_count(aio) == 0) {
			break;
		}
		len += nghttpw_aio_count(aio);
	}
	text[len] = '\0';
	nghttpw_aio_free(aio);
	return (rv);
}

/* ------------------------------------------------------------- tests */

#define MIB (1024u * 1024u)

Test(http_client_stream, download_100mib_in_bounded_memory)
{
	srv                  s;
	nghttpw_http_client *c;
	nghttpw_http_res    *res;
	nghttpw_http_conn   *conn;
	uint64_t             total;
	size_t               rss0, peak;

	srv_start(&s, serve_pattern, 100ull * MIB);
	c = client_for(&s);
	/* Far below the body: the streaming form does not collect it. */
	cr_assert_eq(nghttpw_http_client_set_max_body(c, 1 * MIB), 0);
	cr_assert_eq(nghttpw_http_res_alloc(&res), 0);
	rss0 = peak = rss_bytes();
	cr_assert_eq(stream_exchange(c, "GET", "/big", NULL, 5000, res, &conn), 0);
	cr_assert_eq(nghttpw_http_res_get_status(res), 200);
	cr_assert_eq(read_pattern_body(conn, 64 * 1024, &total, &peak), 0);
	cr_assert_eq(total, 100ull * MIB);
	cr_assert_lt(peak - rss0, 16 * MIB, "RSS grew by %zu bytes", peak - rss0);
	nghttpw_http_client_release_conn(c, conn);

	/* The buffered form refuses it, by the client's limit. */
	cr_assert_eq(
	    buffered_exchange(c, "GET", "/big", NULL, res), NGHTTPW_EMSGSIZE);
	/* Both on the one connection: the streamed one went back to the pool. */
	cr_assert_eq(atomic_load(&s.accepts), 1);

	nghttpw_http_res_free(res);
	nghttpw_http_client_free(c);
	srv_stop(&s);
}

Test(http_client_stream, chunked_body_with_trailer_and_reuse)
{
	srv                  s;
	nghttpw_http_client *c;
	nghttpw_http_res    *res;
	nghttpw_http_conn   *conn;
	uint64_t             total;

	srv_start(&s, serve_chunked, 3 * MIB + 12345);
	c = client_for(&s);
	cr_assert_eq(nghttpw_http_res_alloc(&res), 0);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(
		    stream_exchange(c, "GET", "/chunks", NULL, 5000, res, &conn), 0);
		cr_assert_eq(read_pattern_body(conn, 1000 + 3000 * i, &total, NULL), 0);
		cr_assert_eq(total, 3 * MIB + 12345);
		cr_assert_str_eq(nghttpw_http_res_get_trailer(res, "X-Sum"), "done");
		nghttpw_http_client_release_conn(c, conn);
	}
	cr_assert_eq(atomic_load(&s.accepts), 1);
	cr_assert_eq(atomic_load(&s.requests), 3);
	nghttpw_http_res_free(res);
	nghttpw_http_client_free(c);
	srv_stop(&s);
}

Test(http_client_stream, pool_reuse_only_after_the_body_is_read)
{
	srv                  s;
	nghttpw_http_client *c;
	nghttpw_http_res    *res;
	nghttpw_http_conn   *conn;
	uint64_t             total;

	srv_start(&s, serve_pattern, 200000);
	c = client_for(&s);
	cr_assert_eq(nghttpw_http_res_alloc(&res), 0);

	/* Read to its end: reused, by both forms. */
	cr_assert_eq(stream_exchange(c, "GET", "/a", NULL, 5000, res, &conn), 0);
	cr_assert_eq(read_pattern_body(conn, 4096, &total, NULL), 0);
	cr_assert_eq(total, 200000);
	nghttpw_http_client_release_conn(c, conn);
	/* No body to read (HEAD, 204): reused without a read. */
	cr_assert_eq(stream_exchange(c, "HEAD", "/a", NULL, 5000, res, &conn), 0);
	nghttpw_http_client_release_conn(c, conn);
	cr_assert_eq(stream_exchange(c, "GET", "/none", NULL, 5000, res, &conn), 0);
	cr_assert_eq(nghttpw_http_res_get_status(res), 204);
	nghttpw_http_client_release_conn(c, conn);
	cr_assert_eq(atomic_load(&s.accepts), 1);

	/* Given back with the body half read: closed, not reused. */
	cr_assert_eq(stream_exchange(c, "GET", "/b", NULL, 5000, res, &conn), 0);
	nghttpw_http_client_release_conn(c, conn);
	srv_wait_finished(&s, 1);
	cr_assert_eq(stream_exchange(c, "GET", "/c", NULL, 5000, res, &conn), 0);
	cr_assert_eq(atomic_load(&s.accepts), 2);

	/* Closed by the caller instead: nothing left behind, a new one next. */
	nghttpw_http_conn_close(conn);
	srv_wait_finished(&s, 2);
	cr_assert_eq(stream_exchange(c, "GET", "/d", NULL, 5000, res, &conn), 0);
	cr_assert_eq(atomic_load(&s.accepts), 3);

	/* Given back with a read still pending: that read fails, the
	 * connection is closed. */
	unsigned char buf[16];
	nghttpw_iov   iov = { buf, sizeof(buf) };
	nghttpw_aio  *aio;
	cr_assert_eq(nghttpw_aio_alloc(&aio, NULL, NULL), 0);
	nghttpw_aio_set_iov(aio, 1, &iov);
	nghttpw_aio_set_timeout(aio, 5000);
	cr_assert_eq(read_pattern_body(conn, 4096, &total, NULL), 0);
	nghttpw_http_conn_read_body(conn, aio); /* count 0 at the end ... */
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_count(aio), 0);
	/* ... but a raw read after the body is pending when given back. */
	nghttpw_http_conn_read(conn, aio);
	nghttpw_http_client_release_conn(c, conn);
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), NGHTTPW_ECLOSED);
	nghttpw_aio_free(aio);
	srv_wait_finished(&s, 3);
	cr_assert_eq(stream_exchange(c, "GET", "/e", NULL, 5000, res, &conn), 0);
	cr_assert_eq(atomic_load(&s.accepts), 4);
	nghttpw_http_client_release_conn(c, conn);

	/* Given to another client, or to none: closed. */
	nghttpw_http_client *other = client_for(&s);
	cr_assert_eq(stream_exchange(c, "HEAD", "/f", NULL, 5000, res, &conn), 0);
	nghttpw_http_client_release_conn(other, conn);
	srv_wait_finished(&s, 4);
	cr_assert_eq(stream_exchange(c, "HEAD", "/g", NULL, 5000, res, &conn), 0);
	nghttpw_http_client_release_conn(NULL, conn);
	nghttpw_http_client_release_conn(c, NULL);
	srv_wait_finished(&s, 5);
	cr_assert_eq(atomic_load(&s.accepts), 6);

	nghttpw_http_client_free(other);
	nghttpw_http_res_free(res);
	nghttpw_http_client_free(c);
	srv_stop(&s);
}

/* Answers the first request on each connection with "hello", then
 * closes without saying so. */
static void
serve_one_then_close(srv *s, int fd, int index)
{
	(void) index;
	if (read_request(s, fd, NULL, 0) == 0) {
		send_str(fd, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
	}
}

/* The same, but the close resets the connection (SO_LINGER 0): the
 * client's next write on it fails rather than its read. */
static void
serve_one_then_reset(srv *s, int fd, int index)
{
	struct linger lg = { 1, 0 };

	serve_one_then_close(s, fd, index);
	cr_assert_eq(setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
}

static void
get_hello(nghttpw_http_client *c, const char *method, bool stream)
{
	nghttpw_http_res  *res;
	nghttpw_http_conn *conn;

	cr_assert_eq(nghttpw_http_res_alloc(&res), 0);
	if (stream) {
		int rv = stream_exchange(c, method, "/", NULL, 5000, res, &conn);
		cr_assert_eq(rv, 0, "%s: %s", method, nghttpw_strerror(rv));
		char text[16];
		cr_assert_eq(read_text_body(conn, text, sizeof(text)), 0);
		cr_assert_str_eq(text, "hello");
		nghttpw_http_client_release_conn(c, conn);
	} else {
		int rv = buffered_exchange(c, method, "/", NULL, res);
		cr_assert_eq(rv, 0, "%s: %s", method, nghttpw_strerror(rv));
	}
	cr_assert_eq(nghttpw_http_res_get_status(res), 200);
	nghttpw_http_res_free(res);
}

static void
retries_once_when_idle_connection_closed(bool stream, script_fn script)
{
	srv                  s;
	nghttpw_http_client *c;

	srv_start(&s, script, 0);
	c = client_for(&s);
	get_hello(c, "GET", stream);
	/* The server has closed the pooled connection. */
	srv_wait_finished(&s, 1);
	get_hello(c, "GET", stream);
	cr_assert_eq(atomic_load(&s.accepts), 2);
	cr_assert_eq(atomic_load(&s.requests), 2, "the dead one saw none");
	srv_wait_finished(&s, 2);
	get_hello(c, "PUT", stream);
	srv_wait_finished(&s, 3);
	get_hello(c, "DELETE", stream);
	cr_assert_eq(atomic_load(&s.accepts), 4);
	nghttpw_http_client_free(c);
	srv_stop(&s);
}

Test(http_client_stream, retries_idempotent_request_on_dead_idle_connection)
{
	retries_once_when_idle_connection_closed(true, serve_one_then_close);
	retries_once_when_idle_connection_closed(true, serve_one_then_reset);
}

Test(http_client_stream, buffered_form_retries_too)
{
	retries_once_when_idle_connection_closed(false, serve_one_then_close);
	retries_once_when_idle_connection_closed(false, serve_one_then_reset);
}

static void
post_is_not_resent(bool stream)
{
	srv                  s;
	nghttpw_http_client *c;
	nghttpw_http_res    *res;
	int                  rv;

	srv_start(&s, serve_one_then_close, 0);
	c = client_for(&s);
	get_hello(c, "GET", true);
	srv_wait_finished(&s, 1);
	cr_assert_eq(nghttpw_http_res_alloc(&res), 0);
	rv = any_exchange(c, "POST", "/form", "a=1", res, stream);
	cr_assert(rv == NGHTTPW_ECLOSED || rv == NGHTTPW_ECONNRESET,
	    "POST gave %d (%s)", rv, nghttpw_strerror(rv));
	nghttpw_msleep(100);
	cr_assert_eq(atomic_load(&s.accepts), 1, "the POST was sent again");
	cr_assert_eq(atomic_load(&s.requests), 1);
	/* The client goes on, on a new connection. */
	get_hello(c, "GET", stream);
	cr_assert_eq(atomic_load(&s.accepts), 2);
	nghttpw_http_res_free(res);
	nghttpw_http_client_free(c);
	srv_stop(&s);
}

Test(http_client_stream, post_on_dead_idle_connection_fails_unsent_again)
{
	post_is_not_resent(true);
}

Test(http_client_stream, buffered_post_on_dead_idle_connection_fails)
{
	post_is_not_resent(false);
}

/* Answers the first request, then begins an answer to the second (the
 * text for this test) and closes. */
static const char *cut_answer;

static void
serve_then_cut(srv *s, int fd, int index)
{
	(void) index;
	if (read_request(s, fd, NULL, 0) != 0 ||
	    send_str(fd, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello") !=
	        0 ||
	    read_request(s, fd, NULL, 0) != 0) {
		return;
	}
	send_str(fd, cut_answer);
}

static void
no_retry_after(const char *answer, bool stream)
{
	srv                  s;
	nghttpw_http_client *c;
	nghttpw_http_res    *res;
	int                  rv;

	cut_answer = answer;
	srv_start(&s, serve_then_cut, 0);
	c = client_for(&s);
	get_hello(c, "GET", stream);
	cr_assert_eq(nghttpw_http_res_alloc(&res), 0);
	rv = any_exchange(c, "GET", "/second", NULL, res, stream);
	cr_assert(rv == NGHTTPW_ECLOSED || rv == NGHTTPW_ECONNRESET,
	    "%s gave %d (%s)", answer, rv, nghttpw_strerror(rv));
	nghttpw_msleep(100);
	cr_assert_eq(atomic_load(&s.accepts), 1, "%s: sent again", answer);
	cr_assert_eq(atomic_load(&s.requests), 2);
	nghttpw_http_res_free(res);
	nghttpw_http_client_free(c);
	srv_stop(&s);
}

Test(http_client_stream, no_retry_after_a_response_byte)
{
	no_retry_after("H", true);
	no_retry_after("HTTP/1.1 200 OK\r\nContent-", true);
	no_retry_after("HTTP/1.1 100 Continue\r\n\r\n", true);
	no_retry_after("HTTP/1.1 200 OK\r\nContent-", false);
	no_retry_after("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 2", false);
}

Test(http_client_stream, body_cut_short_fails_the_read_not_the_head)
{
	srv                  s;
	nghttpw_http_client *c;
	nghttpw_http_res    *res;
	nghttpw_http_conn   *conn;
	char                 text[64];

	cut_answer = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc";
	srv_start(&s, serve_then_cut, 0);
	c = client_for(&s);
	get_hello(c, "GET", true);
	cr_assert_eq(nghttpw_http_res_alloc(&res), 0);
	cr_assert_eq(stream_exchange(c, "GET", "/second", NULL, 5000, res, &conn), 0);
	cr_assert_eq(read_text_body(conn, text, sizeof(text)), NGHTTPW_ECLOSED);
	nghttpw_http_client_release_conn(c, conn);
	nghttpw_msleep(100);
	cr_assert_eq(atomic_load(&s.accepts), 1);
	cr_assert_eq(atomic_load(&s.requests), 2);
	nghttpw_http_res_free(res);
	nghttpw_http_client_free(c);
	srv_stop(&s);
}

Test(http_client_stream, expect_continue_streams_the_answer)
{
	srv                  s;
	nghttpw_http_client *c;
	nghttpw_http_req    *req;
	nghttpw_http_res    *res;
	nghttpw_aio         *aio;
	nghttpw_http_conn   *conn;
	uint64_t             total;

	srv_start(&s, serve_pattern, 300000);
	c = client_for(&s);
	cr_assert_eq(nghttpw_http_req_alloc(&req, NULL), 0);
	cr_assert_eq(nghttpw_http_res_alloc(&res), 0);
	cr_assert_eq(nghttpw_aio_alloc(&aio, NULL, NULL), 0);
	cr_assert_eq(nghttpw_http_req_set_method(req, "PUT"), 0);
	cr_assert_eq(nghttpw_http_req_set_header(req, "Expect", "100-continue"), 0);
	cr_assert_eq(nghttpw_http_req_copy_data(req, "data", 4), 0);
	for (int i = 0; i < 2; i++) {
		/* The server sends no 100: the body goes after a second. */
		nghttpw_aio_set_timeout(aio, 5000);
		nghttpw_http_client_transact_stream(c, req, res, aio);
		nghttpw_aio_wait(aio);
		cr_assert_eq(nghttpw_aio_result(aio), 0);
		conn = nghttpw_aio_get_output(aio, 0);
		cr_assert_eq(read_pattern_body(conn, 10000, &total, NULL), 0);
		cr_assert_eq(total, 300000);
		nghttpw_http_client_release_conn(c, conn);
	}
	cr_assert_eq(atomic_load(&s.accepts), 1);
	nghttpw_aio_free(aio);
	nghttpw_http_req_free(req);
	nghttpw_http_res_free(res);
	nghttpw_http_client_free(c);
	srv_stop(&s);
}

/* Reads requests and answers none: the client times out in the head. */
static void
serve_silent(srv *s, int fd, int index)
{
	(void) index;
	if (read_request(s, fd, NULL, 0) == 0) {
		wait_close(fd);
	}
}

/* Sends a head and the first 1000 bytes of a longer body, then nothing. */
static void
serve_stall_body(srv *s, int fd, int index)
{
	(void) index;
	if (read_request(s, fd, NULL, 0) == 0 &&
	    send_str(fd, "HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n") ==
	        0 &&
	    send_pattern(fd, 1000) == 0) {
		wait_close(fd);
	}
}

/* Ends op with a cancel after a short while or with a short timeout, by
 * turns. */
static void
cancel_or_time_out(nghttpw_aio *aio, int i)
{
	if (i % 2 == 0) {
		nghttpw_msleep(i % 5);
		nghttpw_aio_cancel(aio);
	}
	nghttpw_aio_wait(aio);
}

Test(http_client_stream, cancel_and_timeout_in_the_head_many_times)
{
	srv                  s;
	nghttpw_http_client *c;
	nghttpw_http_req    *req;
	nghttpw_http_res    *res;
	nghttpw_aio         *aio;
	int                  n = 60;

	srv_start(&s, serve_silent, 0);
	c = client_for(&s);
	cr_assert_eq(nghttpw_http_req_alloc(&req, NULL), 0);
	cr_assert_eq(nghttpw_http_res_alloc(&res), 0);
	cr_assert_eq(nghttpw_aio_alloc(&aio, NULL, NULL), 0);
	for (int i = 0; i < n; i++) {
		nghttpw_aio_set_timeout(aio, i % 2 == 0 ? 5000 : 1 + i % 7);
		nghttpw_http_client_transact_stream(c, req, res, aio);
		cancel_or_time_out(aio, i);
		int rv = nghttpw_aio_result(aio);
		cr_assert(rv == NGHTTPW_ECANCELED || rv == NGHTTPW_ETIMEDOUT,
		    "round %d: %s", i, nghttpw_strerror(rv));
		cr_assert_null(nghttpw_aio_get_output(aio, 0));
	}
	/* Every connection was closed (the server saw each end). */
	srv_wait_finished(&s, atomic_load(&s.accepts));
	nghttpw_aio_free(aio);
	nghttpw_http_req_free(req);
	nghttpw_http_res_free(res);
	nghttpw_http_client_free(c);
	srv_stop(&s);
}

Test(http_client_stream, cancel_and_timeout_in_the_body_many_times)
{
	srv                  s;
	nghttpw_http_client *c;
	nghttpw_http_res    *res;
	nghttpw_http_conn   *conn;
	nghttpw_aio         *aio;
	unsigned char        buf[4096];
	nghttpw_iov          iov = { buf, sizeof(buf) };
	int                  n   = 60;

	srv_start(&s, serve_stall_body, 0);
	c = client_for(&s);
	cr_assert_eq(nghttpw_http_res_alloc(&res), 0);
	cr_assert_eq(nghttpw_aio_alloc(&aio, NULL, NULL), 0);
	nghttpw_aio_set_iov(aio, 1, &iov);
	for (int i = 0; i < n; i++) {
		size_t got = 0;
		cr_assert_eq(stream_exchange(c, "GET", "/", NULL, 5000, res, &conn), 0);
		/* The 1000 bytes that came, then a read that waits. */
		while (got < 1000) {
			nghttpw_aio_set_timeout(aio, 5000);
			nghttpw_http_conn_read_body(conn, aio);
			nghttpw_aio_wait(aio);
			cr_assert_eq(nghttpw_aio_result(aio), 0);
			got += nghttpw_aio_count(aio);
		}
		cr_assert_eq(got, 1000);
		nghttpw_aio_set_timeout(aio, i % 2 == 0 ? 5000 : 1 + i % 7);
		nghttpw_http_conn_read_body(conn, aio);
		cancel_or_time_out(aio, i);
		int rv = nghttpw_aio_result(aio);
		cr_assert(rv == NGHTTPW_ECANCELED || rv == NGHTTPW_ETIMEDOUT,
		    "round %d: %s", i, nghttpw_strerror(rv));
		/* Not at its end: given back (or closed) it is not reused. */
		if (i % 3 == 0) {
			nghttpw_http_conn_close(conn);
		} else {
			nghttpw_http_client_release_conn(c, conn);
		}
		srv_wait_finished(&s, i + 1);
	}
	cr_assert_eq(atomic_load(&s.accepts), n);
	nghttpw_aio_free(aio);
	nghttpw_http_res_free(res);
	nghttpw_http_client_free(c);
	srv_stop(&s);
}

/* A head that comes just as the caller cancels: either outcome is
 * whole (a connection with the head, or an error and none). */
static void
serve_prompt(srv *s, int fd, int index)
{
	(void) index;
	while (read_request(s, fd, NULL, 0) == 0) {
		if (send_str(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok") !=
		    0) {
			return;
		}
	}
}

Test(http_client_stream, cancel_racing_the_head_many_times)
{
	srv                  s;
	nghttpw_http_client *c;
	nghttpw_http_req    *req;
	nghttpw_http_res    *res;
	nghttpw_aio         *aio;
	int                  ok = 0;

	srv_start(&s, serve_prompt, 0);
	c = client_for(&s);
	cr_assert_eq(nghttpw_http_req_alloc(&req, NULL), 0);
	cr_assert_eq(nghttpw_http_res_alloc(&res), 0);
	cr_assert_eq(nghttpw_aio_alloc(&aio, NULL, NULL), 0);
	for (int i = 0; i < 200; i++) {
		nghttpw_aio_set_timeout(aio, 5000);
		nghttpw_http_client_transact_stream(c, req, res, aio);
		if (i % 4 != 0) {
			/* From at once to about when the head comes. */
			struct timespec ts = { 0, (long) (i % 40) * 5000 };
			nanosleep(&ts, NULL);
			nghttpw_aio_cancel(aio);
		}
		nghttpw_aio_wait(aio);
		int                rv   = nghttpw_aio_result(aio);
		nghttpw_http_conn *conn = nghttpw_aio_get_output(aio, 0);
		if (rv == 0) {
			char text[8];
			cr_assert_not_null(conn);
			cr_assert_eq(read_text_body(conn, text, sizeof(text)), 0);
			cr_assert_str_eq(text, "ok");
			nghttpw_http_client_release_conn(c, conn);
			ok++;
		} else {
			cr_assert_eq(rv, NGHTTPW_ECANCELED, "%s", nghttpw_strerror(rv));
			cr_assert_null(conn);
		}
	}
	cr_assert_geq(ok, 50);
	nghttpw_aio_free(aio);
	nghttpw_http_req_free(req);
	nghttpw_http_res_free(res);
	nghttpw_http_client_free(c);
	srv_stop(&s);
}

/* ---------------------------------------------------------------- TLS */

#ifdef NGHTTPW_HAVE_TLS
#include <arpa/inet.h>

#include "nghttpw/tls.h"
#include "support/http_util.h"
#include "support/tls_certs.h"

static nghttpw_tls_config *
client_tls_config(void)
{
	nghttpw_tls_config *cfg;

	cr_assert_eq(nghttpw_tls_config_alloc(&cfg, NGHTTPW_TLS_MODE_CLIENT), 0);
	cr_assert_eq(
	    nghttpw_tls_config_ca_chain(cfg, tls_test_certs_get()->ca_cert, NULL),
	    0);
	cr_assert_eq(nghttpw_tls_config_server_name(cfg, "localhost"), 0);
	return (cfg);
}

/* A streamed exchange over TLS: the local port of its connection, after
 * its body ("over tls") was read; the connection is in *connp. */
static int
tls_stream_port(nghttpw_http_client *c, nghttpw_http_res *res,
    nghttpw_http_conn **connp)
{
	nghttpw_sockaddr sa;
	char             text[16];

	cr_assert_eq(stream_exchange(c, "GET", "/secret", NULL, 5000, res, connp), 0);
	cr_assert_eq(read_text_body(*connp, text, sizeof(text)), 0);
	cr_assert_str_eq(text, "over tls");
	cr_assert_eq(nghttpw_http_conn_get_addr(*connp, NGHTTPW_OPT_LOCADDR, &sa), 0);
	return (ntohs(sa.s_in.sa_port));
}

Test(http_client_stream, a_connection_lent_before_new_tls_settings_is_not_reused)
{
	nghttpw_http_server *s;
	nghttpw_http_client *c;
	nghttpw_http_res    *res;
	nghttpw_http_conn   *conn;
	nghttpw_tls_config  *cfg;
	nghttpw_url         *url;
	char                 buf[64];
	int                  port, first;

	s = https_test_server("over tls", &port);
	snprintf(buf, sizeof(buf), "https://127.0.0.1:%d/", port);
	cr_assert_eq(nghttpw_url_parse(&url, buf), 0);
	cr_assert_eq(nghttpw_http_client_alloc(&c, url), 0);
	nghttpw_url_free(url);
	cfg = client_tls_config();
	cr_assert_eq(nghttpw_http_client_set_tls(c, cfg), 0);
	cr_assert_eq(nghttpw_http_res_alloc(&res), 0);

	first = tls_stream_port(c, res, &conn);
	nghttpw_http_client_release_conn(c, conn);
	/* Reused while the settings stay ... */
	cr_assert_eq(tls_stream_port(c, res, &conn), first);
	/* ... but not once they changed while it was lent. */
	cr_assert_eq(nghttpw_http_client_set_tls(c, cfg), 0);
	nghttpw_http_client_release_conn(c, conn);
	cr_assert_neq(tls_stream_port(c, res, &conn), first);
	nghttpw_http_client_release_conn(c, conn);

	nghttpw_tls_config_free(cfg);
	nghttpw_http_res_free(res);
	nghttpw_http_client_free(c);
	nghttpw_http_server_stop(s);
	nghttpw_http_server_release(s);
}
#endif
