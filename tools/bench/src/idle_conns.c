/*
 * idle_conns: opens COUNT keep-alive connections to 127.0.0.1:PORT, makes
 * one GET / on each (so that each has served a request, as a real
 * keep-alive connection has), then holds them all open and idle.
 *
 *   idle_conns PORT COUNT
 *
 * One source address has about 28,000 ephemeral ports (Linux's default
 * range), so connections are spread over the source addresses 127.0.0.2,
 * 127.0.0.3, ... PER_SOURCE at a time.  The caller raises the open-file
 * limit: this process holds COUNT sockets, the server as many.
 *
 * Prints "ready N" (N: connections that got their answer) and then waits
 * until its standard input is closed or it is killed.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define PER_SOURCE 20000

static const char request[] = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

/* Reads one response head and its (Content-Length) body; 0 when done. */
static int
one_exchange(int fd)
{
	char   buf[4096];
	size_t len = 0;

	if (write(fd, request, sizeof(request) - 1) != (ssize_t) sizeof(request) - 1) {
		return -1;
	}
	for (;;) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);
		char   *end;
		if (n <= 0) {
			return -1;
		}
		len += (size_t) n;
		buf[len] = '\0';
		if ((end = strstr(buf, "\r\n\r\n")) != NULL) {
			char  *cl   = strcasestr(buf, "content-length:");
			size_t want = (size_t) (end - buf) + 4;
			if (cl != NULL && cl < end) {
				want += strtoul(cl + 15, NULL, 10);
			}
			if (len >= want) {
				return 0;
			}
		}
		if (len >= sizeof(buf) - 1) {
			return -1;
		}
	}
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sa;
	struct timeval     tv = { 5, 0 };
	int                count, ok = 0;
	char               c;

	if (argc != 3) {
		fprintf(stderr, "usage: idle_conns PORT COUNT\n");
		return 2;
	}
	count = atoi(argv[2]);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family      = AF_INET;
	sa.sin_port        = htons((uint16_t) atoi(argv[1]));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (int i = 0; i < count; i++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd < 0) {
			perror("idle_conns: socket");
			break;
		}
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		if (count > PER_SOURCE) {
			struct sockaddr_in src = { 0 };
			int                one = 1;
			src.sin_family      = AF_INET;
			src.sin_addr.s_addr = htonl(0x7f000002u + (uint32_t) (i / PER_SOURCE));
			/* The port is chosen at connect, per destination. */
			setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
			if (bind(fd, (void *) &src, sizeof(src)) != 0) {
				perror("idle_conns: bind");
				close(fd);
				break;
			}
		}
		if (connect(fd, (void *) &sa, sizeof(sa)) != 0 || one_exchange(fd) != 0) {
			fprintf(stderr, "idle_conns: connection %d failed: %s\n", i,
			    strerror(errno));
			close(fd);
			break;
		}
		ok++;
	}
	printf("ready %d\n", ok);
	fflush(stdout);
	while (read(0, &c, 1) > 0) {
	}
	return 0;
}
