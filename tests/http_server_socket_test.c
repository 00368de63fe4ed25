/* An HTTP server's listening socket for deployments: SO_REUSEPORT, so
 * that other processes may listen on its port too, and a socket handed
 * over (systemd socket activation) instead of one bound from the URL. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nghttpw/http.h"
#include "support/pairs.h"

static void
hello_cb(nghttpw_aio *aio)
{
	nghttpw_http_res *res;

	if (nghttpw_http_res_alloc(&res) != 0 ||
	    nghttpw_http_res_copy_data(res, "hello", 5) != 0) {
		nghttpw_aio_finish(aio, NGHTTPW_ENOMEM);
		return;
	}
	nghttpw_aio_set_output(aio, 0, res);
	nghttpw_aio_finish(aio, 0);
}

static nghttpw_http_server *
hold(const char *url_text)
{
	nghttpw_url          *url;
	nghttpw_http_server  *s;
	nghttpw_http_handler *h;

	cr_assert_eq(nghttpw_url_parse(&url, url_text), 0);
	cr_assert_eq(nghttpw_http_server_hold(&s, url), 0);
	nghttpw_url_free(url);
	cr_assert_eq(nghttpw_http_handler_alloc(&h, "/", hello_cb), 0);
	cr_assert_eq(nghttpw_http_server_add_handler(s, h), 0);
	return (s);
}

static int
server_port(nghttpw_http_server *s)
{
	nghttpw_sockaddr sa;

	cr_assert_eq(nghttpw_http_server_get_addr(s, &sa), 0);
	return (ntohs(sa.s_in.sa_port));
}

/* GET / over a plain socket: true when "hello" came back. */
static bool
says_hello(int port)
{
	char    buf[512];
	size_t  got = 0;
	ssize_t n;
	int     fd = raw_tcp_connect(port);

	cr_assert_geq(fd, 0);
	const char *req = "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	cr_assert_eq(send(fd, req, strlen(req), 0), (ssize_t) strlen(req));
	while (got < sizeof(buf) - 1 &&
	    (n = recv(fd, buf + got, sizeof(buf) - 1 - got, 0)) > 0) {
		got += (size_t) n;
	}
	buf[got] = '\0';
	close(fd);
	return (strstr(buf, "200") != NULL && strstr(buf, "\r\n\r\nhello") != NULL);
}

/* A socket bound to 127.0.0.1 (any port, or port), maybe with
 * SO_REUSEPORT; -1 when bind fails. */
static int
bind_socket(int port, bool reuseport, int *bound)
{
	struct sockaddr_in sa  = { .sin_family = AF_INET };
	socklen_t          len = sizeof(sa);
	int                one = 1;
	int                fd  = socket(AF_INET, SOCK_STREAM, 0);

	cr_assert_geq(fd, 0);
	if (reuseport) {
		cr_assert_eq(setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)), 0);
	}
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port        = htons((uint16_t) port);
	if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) != 0) {
		close(fd);
		return (-1);
	}
	if (bound != NULL) {
		cr_assert_eq(getsockname(fd, (struct sockaddr *) &sa, &len), 0);
		*bound = ntohs(sa.sin_port);
	}
	return (fd);
}

Test(http_server_socket, reuseport_lets_another_socket_share_the_port)
{
	nghttpw_http_server *s = hold("http://127.0.0.1:0/");
	int                  port, fd;

	cr_assert_eq(nghttpw_http_server_set_reuseport(NULL, true), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_http_server_set_reuseport(s, true), 0);
	cr_assert_eq(nghttpw_http_server_start(s), 0);
	cr_assert_eq(nghttpw_http_server_set_reuseport(s, false), NGHTTPW_EBUSY);
	port = server_port(s);
	cr_assert(says_hello(port));
	/* A second process would do the same: bind with SO_REUSEPORT. */
	fd = bind_socket(port, true, NULL);
	cr_assert_geq(fd, 0, "SO_REUSEPORT bind to the server's port failed");
	close(fd);
	cr_assert_lt(bind_socket(port, false, NULL), 0, "bound without the option");
	nghttpw_http_server_stop(s);
	nghttpw_http_server_release(s);
}

Test(http_server_socket, serves_on_a_socket_handed_over)
{
	nghttpw_http_server *s;
	int                  port, fd;

	/* As systemd passes it: bound and listening, the URL's port unused. */
	fd = bind_socket(0, false, &port);
	cr_assert_eq(listen(fd, 16), 0);
	s = hold("http://127.0.0.1:1/");
	cr_assert_eq(nghttpw_http_server_set_listen_fd(s, -1), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_http_server_set_listen_fd(s, fd), 0);
	cr_assert_eq(nghttpw_http_server_start(s), 0);
	cr_assert_eq(server_port(s), port);
	cr_assert(says_hello(port));
	cr_assert_eq(nghttpw_http_server_set_listen_fd(s, fd), NGHTTPW_EBUSY);
	nghttpw_http_server_stop(s);
	nghttpw_http_server_release(s);
}
