/*
 * tcp_echo: the raw TCP ceiling of the WebSocket benchmarks.  An epoll
 * loop that writes back every byte it reads, with no framing, so that
 * ws_loadgen -r measures what loopback TCP carries on this machine with
 * the same bytes, the same window and the same CPUs as the WebSocket
 * servers.
 *
 *   tcp_echo PORT THREADS
 *
 * THREADS loops, each with its own SO_REUSEPORT listener.  Prints "ready"
 * and runs until killed.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUFSZ (256 * 1024)

static int port;

typedef struct {
	int     fd;
	size_t  off, len; /* bytes of buf still to write back */
	uint8_t buf[BUFSZ];
} conn;

static int
listen_on(void)
{
	struct sockaddr_in sa = { 0 };
	int                one = 1;
	int                fd  = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

	sa.sin_family      = AF_INET;
	sa.sin_port        = htons((uint16_t) port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, (struct sockaddr *) &sa, sizeof(sa)) != 0 || listen(fd, 4096) != 0) {
		perror("tcp_echo: listen");
		exit(1);
	}
	return fd;
}

/* Writes back what is pending, then reads and writes back until the
 * socket has nothing more or cannot take more.  -1: the peer is gone. */
static int
serve(conn *c)
{
	for (;;) {
		while (c->off < c->len) {
			ssize_t n = write(c->fd, c->buf + c->off, c->len - c->off);
			if (n < 0) {
				return errno == EAGAIN ? 0 : -1;
			}
			c->off += (size_t) n;
		}
		ssize_t n = read(c->fd, c->buf, BUFSZ);
		if (n < 0) {
			return errno == EAGAIN ? 0 : -1;
		}
		if (n == 0) {
			return -1;
		}
		c->off = 0;
		c->len = (size_t) n;
	}
}

static void *
loop_main(void *arg)
{
	struct epoll_event evs[256];
	int                lfd = listen_on();
	int                ep  = epoll_create1(0);
	struct epoll_event ev  = { .events = EPOLLIN, .data.ptr = NULL };

	(void) arg;
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	for (;;) {
		int n = epoll_wait(ep, evs, 256, -1);
		for (int i = 0; i < n; i++) {
			conn *c = evs[i].data.ptr;
			if (c != NULL) {
				if (serve(c) != 0) {
					close(c->fd);
					free(c);
				}
				continue;
			}
			int fd;
			while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
				int one = 1;
				setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
				/* Only the header: the buffer is touched when data comes. */
				if ((c = malloc(sizeof(*c))) == NULL) {
					close(fd);
					continue;
				}
				c->fd = fd;
				c->off = c->len = 0;
				struct epoll_event cev = { .events = EPOLLIN | EPOLLOUT | EPOLLET,
					.data.ptr                  = c };
				epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev);
			}
		}
	}
	return NULL;
}

int
main(int argc, char **argv)
{
	unsigned  threads;
	pthread_t t;

	if (argc != 3) {
		fprintf(stderr, "usage: tcp_echo PORT THREADS\n");
		return 2;
	}
	port    = atoi(argv[1]);
	threads = (unsigned) strtoul(argv[2], NULL, 10);
	signal(SIGPIPE, SIG_IGN); /* a client that leaves is no reason to stop */
	for (unsigned i = 1; i < threads; i++) {
		pthread_create(&t, NULL, loop_main, NULL);
	}
	printf("ready\n");
	fflush(stdout);
	loop_main(NULL);
	return 0;
}
