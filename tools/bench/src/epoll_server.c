/*
 * epoll_server: the ceiling for the server benchmarks.  A hand-written
 * epoll loop that answers every request head ("\r\n\r\n") with a canned
 * "Hello, World!" response, pipelined answers gathered into one write.
 * It parses nothing, allocates nothing per request and makes the fewest
 * syscalls a keep-alive server can (one read, one write per request), so
 * what it reaches is what the kernel's loopback TCP path allows on this
 * machine; no real HTTP server can go faster.
 *
 *   epoll_server PORT THREADS
 *
 * THREADS loops, each with its own SO_REUSEPORT listener.  Runs until
 * killed.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static const char response[] = "HTTP/1.1 200 OK\r\n"
                               "Content-Type: text/plain\r\n"
                               "Content-Length: 13\r\n"
                               "\r\n"
                               "Hello, World!";
#define RESPONSE_LEN (sizeof(response) - 1)
#define MAX_PIPELINE 64

static int  port;
static char answers[MAX_PIPELINE * RESPONSE_LEN]; /* filled before the loops start */

/* Per connection: bytes of a request head seen so far, kept only to find
 * a "\r\n\r\n" split across reads. */
typedef struct {
	int      fd;
	unsigned tail; /* how many of "\r\n\r\n" the last read ended in */
} conn;

/* Counts the request heads that end in buf, carrying a partial
 * terminator over from the previous read. */
static unsigned
count_heads(conn *c, const char *buf, size_t n)
{
	static const char end[] = "\r\n\r\n";
	unsigned          heads = 0;

	for (size_t i = 0; i < n; i++) {
		if (buf[i] == end[c->tail]) {
			if (++c->tail == 4) {
				heads++;
				c->tail = 0;
			}
		} else {
			c->tail = buf[i] == '\r' ? 1 : 0;
		}
	}
	return heads;
}

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
		perror("epoll_server: listen");
		exit(1);
	}
	return fd;
}

static void
serve(conn *c)
{
	char buf[16384];

	for (;;) {
		ssize_t  n = read(c->fd, buf, sizeof(buf));
		unsigned heads;

		if (n < 0 && errno == EAGAIN) {
			return;
		}
		if (n <= 0) {
			close(c->fd);
			free(c);
			return;
		}
		heads = count_heads(c, buf, (size_t) n);
		while (heads > 0) {
			unsigned k = heads < MAX_PIPELINE ? heads : MAX_PIPELINE;
			/* Loopback takes a small answer whole; a short write is a
			 * dead peer as far as a benchmark is concerned. */
			if (write(c->fd, answers, k * RESPONSE_LEN) != (ssize_t) (k * RESPONSE_LEN)) {
				close(c->fd);
				free(c);
				return;
			}
			heads -= k;
		}
		if ((size_t) n < sizeof(buf)) {
			return; /* drained: edge-triggered, wait for the next edge */
		}
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
				serve(c);
				continue;
			}
			int fd;
			while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
				int one = 1;
				setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
				if ((c = calloc(1, sizeof(*c))) == NULL) {
					close(fd);
					continue;
				}
				c->fd = fd;
				struct epoll_event cev = { .events = EPOLLIN | EPOLLET, .data.ptr = c };
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
		fprintf(stderr, "usage: epoll_server PORT THREADS\n");
		return 2;
	}
	port    = atoi(argv[1]);
	threads = (unsigned) strtoul(argv[2], NULL, 10);
	for (unsigned i = 0; i < MAX_PIPELINE; i++) {
		memcpy(answers + i * RESPONSE_LEN, response, RESPONSE_LEN);
	}
	for (unsigned i = 1; i < threads; i++) {
		pthread_create(&t, NULL, loop_main, NULL);
	}
	loop_main(NULL);
	return 0;
}
