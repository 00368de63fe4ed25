/* A server behind load balancers and proxies: the client's address, from
 * a PROXY protocol header (version 1 or 2, split across reads, with TLV
 * fields) or from the Forwarded and X-Forwarded-* fields of a proxy the
 * server trusts, is what handlers (nghttpw_http_conn_get_client_addr,
 * nghttpw_http_conn_get_addr) and the log see, for every request on the
 * connection.  A connection without a valid header, when one is required,
 * is closed unanswered; a header sent to a server not told to expect one
 * gets 400; forwarding fields from anyone untrusted change nothing.  Over
 * real loopback sockets, from two source addresses (127.0.0.1 and
 * 127.0.0.2). */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http/http_server_conn.h"
#include "nghttpw/http.h"
#include "support/raw_tcp.h"

static pthread_mutex_t log_mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t  log_cv  = PTHREAD_COND_INITIALIZER;
static char            logged[128];
static unsigned        nlogged;

/* "client scheme" as the handler sees them. */
static void
client_cb(nghttpw_aio *aio)
{
	nghttpw_http_req  *req  = nghttpw_aio_get_input(aio, 0);
	nghttpw_http_conn *conn = nghttpw_aio_get_input(aio, 2);
	nghttpw_http_res  *res;
	nghttpw_sockaddr   sa;
	const char        *scheme;
	char               text[160], addr[128];
	int                rv;

	if ((rv = nghttpw_http_conn_get_client_addr(conn, req, &sa)) != 0 ||
	    (rv = nghttpw_http_conn_get_client_scheme(conn, req, &scheme)) != 0) {
		nghttpw_aio_finish(aio, rv);
		return;
	}
	snprintf(text, sizeof(text), "%s %s",
	    nghttpw_str_sockaddr(&sa, addr, sizeof(addr)), scheme);
	if ((rv = nghttpw_http_res_alloc(&res)) != 0 ||
	    (rv = nghttpw_http_res_copy_data(res, text, strlen(text))) != 0) {
		nghttpw_aio_finish(aio, rv);
		return;
	}
	nghttpw_aio_set_output(aio, 0, res);
	nghttpw_aio_finish(aio, 0);
}

static void
log_cb(void *arg, nghttpw_http_req *req, nghttpw_http_res *res,
    const nghttpw_sockaddr *peer, uint64_t body_bytes)
{
	(void) arg;
	(void) req;
	(void) res;
	(void) body_bytes;
	pthread_mutex_lock(&log_mtx);
	nghttpw_str_sockaddr(peer, logged, sizeof(logged));
	nlogged++;
	pthread_cond_broadcast(&log_cv);
	pthread_mutex_unlock(&log_mtx);
}

/* Waits (5 s at most) for the log line of the answer just read: the log
 * is written once the answer is sent, which the client may see first.
 * Returns with log_mtx held. */
static void
await_log(unsigned before)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 5;
	pthread_mutex_lock(&log_mtx);
	while (nlogged == before &&
	    pthread_cond_timedwait(&log_cv, &log_mtx, &until) == 0) {
	}
	cr_assert_gt(nlogged, before, "no log line");
}

static nghttpw_http_server *
server(const char *trusted, bool proxy_protocol, int *port)
{
	nghttpw_url          *url;
	nghttpw_http_server  *s;
	nghttpw_http_handler *h;
	nghttpw_sockaddr      sa;

	cr_assert_eq(nghttpw_url_parse(&url, "http://127.0.0.1:0/"), 0);
	cr_assert_eq(nghttpw_http_server_hold(&s, url), 0);
	nghttpw_url_free(url);
	cr_assert_eq(nghttpw_http_handler_alloc(&h, "/", client_cb), 0);
	cr_assert_eq(nghttpw_http_server_add_handler(s, h), 0);
	cr_assert_eq(nghttpw_http_server_set_log(s, log_cb, NULL), 0);
	cr_assert_eq(nghttpw_http_server_set_trusted_proxies(s, trusted), 0);
	cr_assert_eq(nghttpw_http_server_set_proxy_protocol(s, proxy_protocol), 0);
	cr_assert_eq(nghttpw_http_server_start(s), 0);
	cr_assert_eq(nghttpw_http_server_get_addr(s, &sa), 0);
	*port = ntohs(sa.s_in.sa_port);
	return (s);
}

/* A connection from source address from (127.0.0.x). */
static int
connect_from(const char *from, int port)
{
	struct sockaddr_in src = { .sin_family = AF_INET };
	struct sockaddr_in dst = { .sin_family = AF_INET };
	struct timeval     tv  = { 10, 0 };
	int                fd  = socket(AF_INET, SOCK_STREAM, 0);

	cr_assert_geq(fd, 0);
	inet_pton(AF_INET, from, &src.sin_addr);
	inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
	dst.sin_port = htons((uint16_t) port);
	cr_assert_eq(bind(fd, (struct sockaddr *) &src, sizeof(src)), 0);
	cr_assert_eq(connect(fd, (struct sockaddr *) &dst, sizeof(dst)), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return (fd);
}

/* Sends GET / with the extra fields (CRLF-ended lines, may be "") after
 * prefix (a PROXY header, or ""); the answer's body in out. */
static void
ask(int fd, const char *prefix, const char *fields, char *out, size_t cap)
{
	char    req[1024], buf[2048];
	size_t  got = 0, len = 0;
	ssize_t n;
	char   *end = NULL;

	snprintf(req, sizeof(req), "%sGET / HTTP/1.1\r\nHost: x\r\n%s\r\n", prefix,
	    fields);
	cr_assert_eq(send(fd, req, strlen(req), MSG_NOSIGNAL), (ssize_t) strlen(req));
	while (end == NULL || got < (size_t) (end + 4 - buf) + len) {
		n = recv(fd, buf + got, sizeof(buf) - 1 - got, 0);
		cr_assert_gt(n, 0, "no answer to %s", fields);
		got += (size_t) n;
		buf[got] = '\0';
		if (end == NULL && (end = strstr(buf, "\r\n\r\n")) != NULL) {
			const char *cl = strcasestr(buf, "Content-Length:");
			cr_assert_not_null(cl);
			len = strtoul(cl + 15, NULL, 10);
		}
	}
	cr_assert_lt(len, cap);
	memcpy(out, end + 4, len);
	out[len] = '\0';
}

static void
send_bytes(int fd, const void *buf, size_t len)
{
	cr_assert_eq(send(fd, buf, len, MSG_NOSIGNAL), (ssize_t) len);
}

/* Reads one response with a Content-Length body: its status, the body
 * in body (NUL-terminated).  0 when the server closed without a byte. */
static int
read_answer(int fd, char *body, size_t cap)
{
	char    buf[2048];
	size_t  got = 0;
	ssize_t n;
	char   *end = NULL;
	int     status = 0;
	size_t  len    = 0;

	while (end == NULL || got < (size_t) (end + 4 - buf) + len) {
		n = recv(fd, buf + got, sizeof(buf) - 1 - got, 0);
		if (n <= 0) {
			cr_assert_eq(got, 0, "cut short: %.*s", (int) got, buf);
			return (0);
		}
		got += (size_t) n;
		buf[got] = '\0';
		if (end == NULL && (end = strstr(buf, "\r\n\r\n")) != NULL) {
			const char *cl = strcasestr(buf, "Content-Length:");
			cr_assert_not_null(cl, "%s", buf);
			len = strtoul(cl + 15, NULL, 10);
			sscanf(buf, "HTTP/1.1 %d", &status);
		}
	}
	cr_assert_lt(len, cap);
	memcpy(body, end + 4, len);
	body[len] = '\0';
	return (status);
}

#define GET "GET / HTTP/1.1\r\nHost: x\r\n\r\n"

static const unsigned char v2_sig[12] = { 0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
	0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a };

/* A version 2 PROXY header for TCP over IPv4 from 192.0.2.7:56324 to
 * 198.51.100.1:443, with an ALPN TLV field; its length. */
static size_t
v2_header(unsigned char *out, bool local)
{
	static const unsigned char body[] = { 192, 0, 2, 7, 198, 51, 100, 1,
		0xdc, 0x04, 0x01, 0xbb, 0x01, 0x00, 0x08, 'h', 't', 't', 'p', '/',
		'1', '.', '1' };

	memcpy(out, v2_sig, 12);
	out[12] = local ? 0x20 : 0x21;
	out[13] = 0x11;
	out[14] = 0;
	out[15] = sizeof(body);
	memcpy(out + 16, body, sizeof(body));
	return (16 + sizeof(body));
}

/* The answer and the log line for one request on a new connection. */
static void
expect_client(int port, const char *from, const char *fields, const char *want,
    const char *want_log)
{
	char     body[256];
	int      fd = connect_from(from, port);
	unsigned before;

	pthread_mutex_lock(&log_mtx);
	before = nlogged;
	pthread_mutex_unlock(&log_mtx);
	ask(fd, "", fields, body, sizeof(body));
	close(fd);
	await_log(before);
	if (want_log == NULL) {
		/* The socket's own address: its port is not known here. */
		cr_expect(strncmp(body, want, strlen(want)) == 0,
		    "from %s with %s: %s", from, fields, body);
		cr_expect(strncmp(logged, want, strlen(want)) == 0, "log: %s", logged);
	} else {
		cr_expect_str_eq(body, want, "from %s with %s", from, fields);
		cr_expect_str_eq(logged, want_log, "log, from %s with %s", from, fields);
	}
	pthread_mutex_unlock(&log_mtx);
}

Test(http_server_proxy, only_trusted_proxies_are_believed)
{
	int                  port;
	nghttpw_http_server *s = server("127.0.0.1, 10.0.0.0/8 ::1", false, &port);

	expect_client(port, "127.0.0.1", "X-Forwarded-For: 203.0.113.9\r\n",
	    "203.0.113.9:0 http", "203.0.113.9:0");
	/* 10.1.2.3 is trusted too, and passed; 6.6.6.6 was written by the
	 * client and is not believed. */
	expect_client(port, "127.0.0.1",
	    "X-Forwarded-For: 6.6.6.6, 198.51.100.1, 10.1.2.3\r\n"
	    "X-Forwarded-Proto: http, https, https\r\n",
	    "198.51.100.1:0 https", "198.51.100.1:0");
	expect_client(port, "127.0.0.1", "X-Forwarded-Proto: https\r\n",
	    "127.0.0.1:", NULL);
	/* Forwarded wins over X-Forwarded-For; its quoted IPv6 with a port. */
	expect_client(port, "127.0.0.1",
	    "X-Forwarded-For: 6.6.6.6\r\n"
	    "Forwarded: for=192.0.2.60;proto=https, for=\"[2001:db8::17]:4711\"\r\n",
	    "[2001:db8::17]:4711 http", "[2001:db8::17]:4711");
	expect_client(port, "127.0.0.1", "Forwarded: for=192.0.2.60;proto=https\r\n",
	    "192.0.2.60:0 https", "192.0.2.60:0");
	/* An unknown hop: the trusted proxy nearest it is all that is known. */
	expect_client(port, "127.0.0.1", "X-Forwarded-For: unknown, 10.0.0.5\r\n",
	    "10.0.0.5:0 http", "10.0.0.5:0");
	/* From an address not trusted, the fields are the client's words. */
	expect_client(port, "127.0.0.2",
	    "X-Forwarded-For: 203.0.113.9\r\nX-Forwarded-Proto: https\r\n"
	    "Forwarded: for=192.0.2.60;proto=https\r\n",
	    "127.0.0.2:", NULL);
	nghttpw_http_server_stop(s);
	nghttpw_http_server_release(s);
}

/* Behind a balancer that sends a PROXY header: the header's address is
 * the peer whose trust decides. */
Test(http_server_proxy, with_the_proxy_protocol)
{
	char                 body[256];
	int                  port, fd;
	nghttpw_http_server *s = server("10.9.9.9", true, &port);

	fd = connect_from("127.0.0.2", port);
	ask(fd, "PROXY TCP4 10.9.9.9 127.0.0.1 5000 80\r\n",
	    "X-Forwarded-For: 203.0.113.9\r\n", body, sizeof(body));
	cr_expect_str_eq(body, "203.0.113.9:0 http");
	/* The next request on the connection: the same peer, new fields. */
	ask(fd, "", "", body, sizeof(body));
	cr_expect_str_eq(body, "10.9.9.9:5000 http");
	close(fd);
	fd = connect_from("127.0.0.2", port);
	ask(fd, "PROXY TCP4 192.0.2.1 127.0.0.1 5000 80\r\n",
	    "X-Forwarded-For: 203.0.113.9\r\n", body, sizeof(body));
	cr_expect_str_eq(body, "192.0.2.1:5000 http");
	close(fd);
	nghttpw_http_server_stop(s);
	nghttpw_http_server_release(s);
}

Test(http_server_proxy, trusted_lists_are_checked)
{
	nghttpw_url         *url;
	nghttpw_http_server *s;
	static const char *const bad[] = { "10.0.0.0/33", "foo", "::1/129",
		"10.0.0.1/", "10.0.0.1/x", "1.2.3.4.5" };

	cr_assert_eq(nghttpw_url_parse(&url, "http://127.0.0.1:0/"), 0);
	cr_assert_eq(nghttpw_http_server_hold(&s, url), 0);
	nghttpw_url_free(url);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_expect_eq(nghttpw_http_server_set_trusted_proxies(s, bad[i]),
		    NGHTTPW_EINVAL, "%s", bad[i]);
	}
	cr_assert_eq(nghttpw_http_server_set_trusted_proxies(NULL, ""), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_http_server_set_trusted_proxies(s, " 0.0.0.0/0 , ::/0 "), 0);
	cr_assert_eq(nghttpw_http_server_set_trusted_proxies(s, ""), 0);
	cr_assert_eq(nghttpw_http_server_set_trusted_proxies(s, NULL), 0);
	nghttpw_http_server_release(s);
}

Test(http_server_proxy, version_1_names_the_client_for_every_request)
{
	int                  port, fd;
	char                 body[128];
	nghttpw_http_server *s = server(NULL, true, &port);

	fd = raw_tcp_client(port);
	raw_tcp_send(fd, "PROXY TCP4 192.0.2.7 198.51.100.1 56324 443\r\n" GET);
	cr_assert_eq(read_answer(fd, body, sizeof(body)), 200);
	cr_assert_str_eq(body, "192.0.2.7:56324 http");
	await_log(0);
	cr_assert_str_eq(logged, "192.0.2.7:56324");
	pthread_mutex_unlock(&log_mtx);
	/* Keep-alive: no second header, the same client. */
	raw_tcp_send(fd, GET);
	cr_assert_eq(read_answer(fd, body, sizeof(body)), 200);
	cr_assert_str_eq(body, "192.0.2.7:56324 http");
	/* Idle past the read linger, the connection is parked as its socket
	 * alone and made again by the next request: the client is kept, and
	 * no second header is wanted. */
	usleep(300000);
	pthread_mutex_lock(&s->mtx);
	cr_assert(!list_empty(&s->parked), "not parked");
	pthread_mutex_unlock(&s->mtx);
	raw_tcp_send(fd, GET);
	cr_assert_eq(read_answer(fd, body, sizeof(body)), 200);
	cr_assert_str_eq(body, "192.0.2.7:56324 http");
	close(fd);
	nghttpw_http_server_stop(s);
	nghttpw_http_server_release(s);
}

Test(http_server_proxy, version_2_split_across_reads)
{
	unsigned char hdr[64];
	size_t        n;
	int           port, fd;
	char          body[128];
	nghttpw_http_server *s = server(NULL, true, &port);

	n  = v2_header(hdr, false);
	fd = raw_tcp_client(port);
	send_bytes(fd, hdr, 7); /* inside the signature */
	usleep(30000);
	send_bytes(fd, hdr + 7, 10); /* inside the length */
	usleep(30000);
	send_bytes(fd, hdr + 17, n - 17);
	usleep(30000);
	raw_tcp_send(fd, GET);
	cr_assert_eq(read_answer(fd, body, sizeof(body)), 200);
	cr_assert_str_eq(body, "192.0.2.7:56324 http");
	close(fd);

	/* LOCAL (a balancer's own health check): the socket's address. */
	n  = v2_header(hdr, true);
	fd = raw_tcp_client(port);
	send_bytes(fd, hdr, n);
	raw_tcp_send(fd, GET);
	cr_assert_eq(read_answer(fd, body, sizeof(body)), 200);
	cr_assert(strncmp(body, "127.0.0.1:", 10) == 0, "%s", body);
	close(fd);
	nghttpw_http_server_stop(s);
	nghttpw_http_server_release(s);
}

Test(http_server_proxy, no_valid_header_is_closed_unanswered)
{
	static const char *const bad[] = {
		GET,
		"PROXY TCP4 192.0.2.7 198.51.100.1 56324\r\n" GET,
		"PROXY TCP4 999.0.2.7 198.51.100.1 56324 443\r\n" GET,
		"\r\n\r\n\x00\r\nQUIT\n\x31\x11\x00\x0c" "123456789012" GET,
	};
	int                  port, fd;
	char                 body[128];
	nghttpw_http_server *s = server(NULL, true, &port);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		fd = raw_tcp_client(port);
		size_t len = i == 3 ? 12 + 4 + 12 + strlen(GET) : strlen(bad[i]);
		send_bytes(fd, bad[i], len);
		cr_assert_eq(read_answer(fd, body, sizeof(body)), 0, "case %zu", i);
		close(fd);
	}
	nghttpw_http_server_stop(s);
	nghttpw_http_server_release(s);
}

Test(http_server_proxy, a_header_not_expected_is_a_bad_request)
{
	unsigned char hdr[64];
	size_t        n;
	int           port, fd;
	char          body[256];
	nghttpw_http_server *s = server(NULL, false, &port);

	fd = raw_tcp_client(port);
	raw_tcp_send(fd, "PROXY TCP4 192.0.2.7 198.51.100.1 56324 443\r\n" GET);
	cr_assert_eq(read_answer(fd, body, sizeof(body)), 400);
	close(fd);
	n  = v2_header(hdr, false);
	fd = raw_tcp_client(port);
	send_bytes(fd, hdr, n);
	raw_tcp_send(fd, GET);
	cr_assert_eq(read_answer(fd, body, sizeof(body)), 400);
	close(fd);
	/* And a plain request is served with the socket's address. */
	fd = raw_tcp_client(port);
	raw_tcp_send(fd, GET);
	cr_assert_eq(read_answer(fd, body, sizeof(body)), 200);
	cr_assert(strncmp(body, "127.0.0.1:", 10) == 0, "%s", body);
	close(fd);
	nghttpw_http_server_stop(s);
	nghttpw_http_server_release(s);
}
