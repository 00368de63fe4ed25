/* The listener settings that shape its socket: SO_REUSEPORT, so that
 * several listeners (of one process or several) share a port and the
 * kernel spreads connections over them; and a socket handed in to adopt
 * (systemd socket activation).  Both only before listening. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nghttpw/nghttpw.h"
#include "support/pairs.h"

static nghttpw_stream_listener *
listener(const char *url, bool reuseport)
{
	nghttpw_stream_listener *l;

	cr_assert_eq(nghttpw_stream_listener_alloc(&l, url), 0);
	cr_assert_eq(nghttpw_stream_listener_set_bool(
	                 l, NGHTTPW_OPT_TCP_REUSEPORT, reuseport), 0);
	return (l);
}

static int
bound_port(nghttpw_stream_listener *l)
{
	int port;

	cr_assert_eq(nghttpw_stream_listener_get_int(
	                 l, NGHTTPW_OPT_TCP_BOUND_PORT, &port), 0);
	return (port);
}

/* Accepts what is waiting within ms; the number of connections taken. */
static int
accept_all(nghttpw_stream_listener *l, nghttpw_duration ms)
{
	nghttpw_aio *aio;
	int          n = 0;

	cr_assert_eq(nghttpw_aio_alloc(&aio, NULL, NULL), 0);
	for (;;) {
		nghttpw_aio_set_timeout(aio, ms);
		nghttpw_stream_listener_accept(l, aio);
		nghttpw_aio_wait(aio);
		if (nghttpw_aio_result(aio) != 0) {
			break;
		}
		nghttpw_stream_free(nghttpw_aio_get_output(aio, 0));
		n++;
	}
	nghttpw_aio_free(aio);
	return (n);
}

Test(tcp_listener_socket, reuseport_shares_a_port)
{
	nghttpw_stream_listener *a, *b, *c;
	char                     url[64];
	int                      fds[64];
	int                      port, na, nb;
	bool                     on;

	a = listener("tcp://127.0.0.1:0", true);
	cr_assert_eq(nghttpw_stream_listener_listen(a), 0);
	port = bound_port(a);
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", port);

	/* Without the option the port is taken, as before. */
	c = listener(url, false);
	cr_assert_eq(nghttpw_stream_listener_listen(c), NGHTTPW_EADDRINUSE);
	nghttpw_stream_listener_free(c);

	b = listener(url, true);
	cr_assert_eq(nghttpw_stream_listener_listen(b), 0);
	cr_assert_eq(bound_port(b), port);
	cr_assert_eq(nghttpw_stream_listener_get_bool(
	                 b, NGHTTPW_OPT_TCP_REUSEPORT, &on), 0);
	cr_assert(on);
	/* The socket is made: too late to change it. */
	cr_assert_eq(nghttpw_stream_listener_set_bool(
	                 b, NGHTTPW_OPT_TCP_REUSEPORT, false), NGHTTPW_ESTATE);

	/* The kernel spreads connections by their addresses: 64 of them
	 * all going one way would be a 1 in 2^63 chance. */
	for (int i = 0; i < 64; i++) {
		cr_assert_geq(fds[i] = raw_tcp_connect(port), 0);
	}
	na = accept_all(a, 200);
	nb = accept_all(b, 200);
	cr_expect_eq(na + nb, 64, "%d + %d accepted", na, nb);
	cr_expect(na > 0 && nb > 0, "%d and %d: not shared", na, nb);
	for (int i = 0; i < 64; i++) {
		close(fds[i]);
	}
	nghttpw_stream_listener_free(a);
	nghttpw_stream_listener_free(b);
}

/* A socket bound (and maybe listening) by someone else, systemd say. */
static int
bound_socket(int type, bool listening, int *port)
{
	struct sockaddr_in sa  = { .sin_family = AF_INET };
	socklen_t          len = sizeof(sa);
	int                fd  = socket(AF_INET, type, 0);

	cr_assert_geq(fd, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
	if (listening) {
		cr_assert_eq(listen(fd, 8), 0);
	}
	cr_assert_eq(getsockname(fd, (struct sockaddr *) &sa, &len), 0);
	*port = ntohs(sa.sin_port);
	return (fd);
}

Test(tcp_listener_socket, adopts_a_socket)
{
	nghttpw_stream_listener *l;
	nghttpw_stream          *s;
	int                      port, fd, v;

	for (int listening = 0; listening < 2; listening++) {
		fd = bound_socket(SOCK_STREAM, listening, &port);
		/* The URL's port is not used: the socket's is. */
		cr_assert_eq(nghttpw_stream_listener_alloc(&l, "tcp://127.0.0.1:1"), 0);
		cr_assert_eq(nghttpw_stream_listener_set_int(
		                 l, NGHTTPW_OPT_TCP_LISTEN_FD, fd), 0);
		cr_assert_eq(nghttpw_stream_listener_get_int(
		                 l, NGHTTPW_OPT_TCP_LISTEN_FD, &v), NGHTTPW_EWRITEONLY);
		cr_assert_eq(nghttpw_stream_listener_listen(l), 0);
		cr_assert_eq(bound_port(l), port);
		cr_assert_eq(tcp_dial(port, &s), 0);
		cr_assert_eq(accept_all(l, 200), 1);
		nghttpw_stream_free(s);
		/* The listener owns it now: closing it frees the port. */
		nghttpw_stream_listener_free(l);
		cr_assert_eq(fcntl(fd, F_GETFD), -1, "fd %d still open", fd);
	}
}

Test(tcp_listener_socket, refuses_what_cannot_be_adopted)
{
	nghttpw_stream_listener *l;
	int                      p[2], port, fd;

	cr_assert_eq(nghttpw_stream_listener_alloc(&l, "tcp://127.0.0.1:0"), 0);
	cr_assert_eq(nghttpw_stream_listener_set_int(
	                 l, NGHTTPW_OPT_TCP_LISTEN_FD, -1), NGHTTPW_EINVAL);
	/* Not a socket. */
	cr_assert_eq(pipe(p), 0);
	cr_assert_eq(nghttpw_stream_listener_set_int(
	                 l, NGHTTPW_OPT_TCP_LISTEN_FD, p[0]), 0);
	cr_assert_eq(nghttpw_stream_listener_listen(l), NGHTTPW_EINVAL);
	nghttpw_stream_listener_free(l);
	cr_assert_neq(fcntl(p[0], F_GETFD), -1, "a refused fd stays the caller's");
	close(p[0]);
	close(p[1]);
	/* A datagram socket. */
	fd = bound_socket(SOCK_DGRAM, false, &port);
	cr_assert_eq(nghttpw_stream_listener_alloc(&l, "tcp://127.0.0.1:0"), 0);
	cr_assert_eq(nghttpw_stream_listener_set_int(
	                 l, NGHTTPW_OPT_TCP_LISTEN_FD, fd), 0);
	cr_assert_eq(nghttpw_stream_listener_listen(l), NGHTTPW_EINVAL);
	nghttpw_stream_listener_free(l);
	close(fd);
}
