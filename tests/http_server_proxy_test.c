/* A server behind a load balancer that speaks the PROXY protocol: the
 * client's address, from a version 1 or 2 header (split across reads, with
 * TLV fields), is what handlers, nghttpw_http_conn_get_addr and the log
 * see, for every request on the connection; a connection without a valid
 * header is closed unanswered; a header sent to a server not told to
 * expect one gets 400.  Over real loopback sockets. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nghttpw/http.h"
#include "support/raw_tcp.h"

static pthread_mutex_t log_mtx = PTHREAD_MUTEX_INITIALIZER;
static char            logged[128];

/* Answers with the client's address as the connection gives it. */
static void
whoami_cb(nghttpw_aio *aio)
{
	nghttpw_http_conn *conn = nghttpw_aio_get_input(aio, 2);
	nghttpw_http_res  *res;
	nghttpw_sockaddr   sa;
	char               text[128];
	int                rv;

	if ((rv = nghttpw_http_conn_get_addr(conn, NGHTTPW_OPT_REMADDR, &sa)) != 0) {
		nghttpw_aio_finish(aio, rv);
		return;
	}
	nghttpw_str_sockaddr(&sa, text, sizeof(text));
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
	pthread_mutex_unlock(&log_mtx);
}

static nghttpw_http_server *
server(bool proxy, int *port)
{
	nghttpw_url          *url;
	nghttpw_http_server  *s;
	nghttpw_http_handler *h;
	nghttpw_sockaddr      sa;

	cr_assert_eq(nghttpw_url_parse(&url, "http://127.0.0.1:0/"), 0);
	cr_assert_eq(nghttpw_http_server_hold(&s, url), 0);
	nghttpw_url_free(url);
	cr_assert_eq(nghttpw_http_handler_alloc(&h, "/", whoami_cb), 0);
	cr_assert_eq(nghttpw_http_server_add_handler(s, h), 0);
	cr_assert_eq(nghttpw_http_server_set_log(s, log_cb, NULL), 0);
	cr_assert_eq(nghttpw_http_server_set_proxy_protocol(s, proxy), 0);
	cr_assert_eq(nghttpw_http_server_start(s), 0);
	cr_assert_eq(nghttpw_http_server_set_proxy_protocol(s, !proxy), NGHTTPW_EBUSY);
	cr_assert_eq(nghttpw_http_server_get_addr(s, &sa), 0);
	*port = ntohs(sa.s_in.sa_port);
	return (s);
}

static void
server_done(nghttpw_http_server *s)
{
	nghttpw_http_server_stop(s);
	nghttpw_http_server_release(s);
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

Test(http_server_proxy, version_1_names_the_client_for_every_request)
{
	int                  port, fd;
	char                 body[128];
	nghttpw_http_server *s = server(true, &port);

	fd = raw_tcp_client(port);
	raw_tcp_send(fd, "PROXY TCP4 192.0.2.7 198.51.100.1 56324 443\r\n" GET);
	cr_assert_eq(read_answer(fd, body, sizeof(body)), 200);
	cr_assert_str_eq(body, "192.0.2.7:56324");
	/* The log line is written once the answer is sent, which the client
	 * may see first. */
	bool seen = false;
	for (int i = 0; i < 500 && !seen; i++) {
		pthread_mutex_lock(&log_mtx);
		seen = strcmp(logged, "192.0.2.7:56324") == 0;
		pthread_mutex_unlock(&log_mtx);
		usleep(seen ? 0 : 10000);
	}
	cr_assert(seen, "logged %s", logged);
	/* Keep-alive: no second header, the same client. */
	raw_tcp_send(fd, GET);
	cr_assert_eq(read_answer(fd, body, sizeof(body)), 200);
	cr_assert_str_eq(body, "192.0.2.7:56324");
	close(fd);
	server_done(s);
}

Test(http_server_proxy, version_2_split_across_reads)
{
	unsigned char hdr[64];
	size_t        n;
	int           port, fd;
	char          body[128];
	nghttpw_http_server *s = server(true, &port);

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
	cr_assert_str_eq(body, "192.0.2.7:56324");
	close(fd);

	/* LOCAL (a balancer's own health check): the socket's address. */
	n  = v2_header(hdr, true);
	fd = raw_tcp_client(port);
	send_bytes(fd, hdr, n);
	raw_tcp_send(fd, GET);
	cr_assert_eq(read_answer(fd, body, sizeof(body)), 200);
	cr_assert(strncmp(body, "127.0.0.1:", 10) == 0, "%s", body);
	close(fd);
	server_done(s);
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
	nghttpw_http_server *s = server(true, &port);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		fd = raw_tcp_client(port);
		size_t len = i == 3 ? 12 + 4 + 12 + strlen(GET) : strlen(bad[i]);
		send_bytes(fd, bad[i], len);
		cr_assert_eq(read_answer(fd, body, sizeof(body)), 0, "case %zu", i);
		close(fd);
	}
	server_done(s);
}

Test(http_server_proxy, a_header_not_expected_is_a_bad_request)
{
	unsigned char hdr[64];
	size_t        n;
	int           port, fd;
	char          body[256];
	nghttpw_http_server *s = server(false, &port);

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
	server_done(s);
}
