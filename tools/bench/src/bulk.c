/*
 * bulk: 1 GiB over loopback TCP, written from many iovs, read by a plain
 * blocking reader thread, both ends in this process.
 *
 *   bulk nghttpw   one nghttpw_http_conn_write_all of the whole GiB
 *                  (4096 iovs of 256 KiB) on a TCP stream dialed with
 *                  nghttpw (one poller thread)
 *   bulk raw       the same iovs through non-blocking sendmsg() (IOV_MAX
 *                  at a time) on a plain socket with TCP_NODELAY, as
 *                  nghttpw's TCP stream sets it, waiting in epoll
 *                  (edge-triggered) when the socket is full: what a plain
 *                  program does at best, the ceiling
 *
 * The reader accepts on a plain socket and read()s 256 KiB at a time until
 * EOF.  Prints the rate in MB/s (10^6 bytes) from the first write to the
 * last byte read.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <nghttpw/http.h>
#include <nghttpw/nghttpw.h>

#define CHUNK (256u * 1024u)
#define NIOV 4096u
#define TOTAL ((uint64_t) CHUNK * NIOV) /* 1 GiB */

static int      lfd;
static uint64_t got;
static double   t_end;

static double
now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static void *
reader(void *arg)
{
	char *buf = malloc(CHUNK);
	int   fd  = accept(lfd, NULL, NULL);
	(void) arg;
	for (;;) {
		ssize_t n = read(fd, buf, CHUNK);
		if (n <= 0) {
			break;
		}
		got += (uint64_t) n;
		if (got >= TOTAL) {
			break;
		}
	}
	t_end = now_s();
	close(fd);
	free(buf);
	return NULL;
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sa;
	socklen_t          slen = sizeof(sa);
	pthread_t          thr;
	char              *chunk;
	double             t0;
	bool               raw;

	if (argc != 2 || (strcmp(argv[1], "raw") != 0 && strcmp(argv[1], "nghttpw") != 0)) {
		fprintf(stderr, "usage: bulk raw|nghttpw\n");
		return 2;
	}
	raw   = strcmp(argv[1], "raw") == 0;
	chunk = malloc(CHUNK);
	memset(chunk, 'x', CHUNK);

	memset(&sa, 0, sizeof(sa));
	sa.sin_family      = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd                = socket(AF_INET, SOCK_STREAM, 0);
	if (bind(lfd, (void *) &sa, sizeof(sa)) != 0 || listen(lfd, 1) != 0 ||
	    getsockname(lfd, (void *) &sa, &slen) != 0) {
		perror("bulk: listen");
		return 1;
	}
	pthread_create(&thr, NULL, reader, NULL);

	if (raw) {
		struct iovec      *iov = malloc(NIOV * sizeof(*iov));
		int                fd  = socket(AF_INET, SOCK_STREAM, 0);
		int                ep  = epoll_create1(0);
		int                one = 1;
		struct epoll_event ev  = { .events = EPOLLOUT | EPOLLET };
		unsigned           i   = 0;
		for (unsigned k = 0; k < NIOV; k++) {
			iov[k].iov_base = chunk;
			iov[k].iov_len  = CHUNK;
		}
		if (connect(fd, (void *) &sa, sizeof(sa)) != 0) {
			perror("bulk: connect");
			return 1;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
		epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
		t0 = now_s();
		while (i < NIOV) {
			struct msghdr msg = { .msg_iov = iov + i };
			ssize_t       n;
			msg.msg_iovlen = NIOV - i < IOV_MAX ? NIOV - i : IOV_MAX;
			if ((n = sendmsg(fd, &msg, MSG_NOSIGNAL)) < 0) {
				if (errno == EAGAIN) {
					epoll_wait(ep, &ev, 1, -1);
					continue;
				}
				if (errno == EINTR) {
					continue;
				}
				perror("bulk: sendmsg");
				return 1;
			}
			/* Skip what was written; the iov array is ours. */
			while (n > 0) {
				if ((size_t) n >= iov[i].iov_len) {
					n -= (ssize_t) iov[i].iov_len;
					i++;
				} else {
					iov[i].iov_base = (char *) iov[i].iov_base + n;
					iov[i].iov_len -= (size_t) n;
					n = 0;
				}
			}
		}
		pthread_join(thr, NULL);
		close(ep);
		close(fd);
	} else {
		nghttpw_stream_dialer *d;
		nghttpw_stream        *s;
		nghttpw_http_conn     *conn;
		nghttpw_aio           *aio;
		nghttpw_iov           *iov = malloc(NIOV * sizeof(*iov));
		char                   url[64];
		int                    rv;

		nghttpw_init_set_parameter(NGHTTPW_INIT_NUM_POLLER_THREADS, 1);
		snprintf(url, sizeof(url), "tcp://127.0.0.1:%u", ntohs(sa.sin_port));
		if ((rv = nghttpw_stream_dialer_alloc(&d, url)) != 0 ||
		    (rv = nghttpw_aio_alloc(&aio, NULL, NULL)) != 0) {
			fprintf(stderr, "bulk: %s\n", nghttpw_strerror(rv));
			return 1;
		}
		nghttpw_stream_dialer_dial(d, aio);
		nghttpw_aio_wait(aio);
		if ((rv = nghttpw_aio_result(aio)) != 0) {
			fprintf(stderr, "bulk: dial: %s\n", nghttpw_strerror(rv));
			return 1;
		}
		s = nghttpw_aio_get_output(aio, 0);
		if ((rv = nghttpw_http_conn_alloc(&conn, s)) != 0) {
			fprintf(stderr, "bulk: conn: %s\n", nghttpw_strerror(rv));
			return 1;
		}
		for (unsigned k = 0; k < NIOV; k++) {
			iov[k].iov_buf = chunk;
			iov[k].iov_len = CHUNK;
		}
		if ((rv = nghttpw_aio_set_iov(aio, NIOV, iov)) != 0) {
			fprintf(stderr, "bulk: set_iov: %s\n", nghttpw_strerror(rv));
			return 1;
		}
		t0 = now_s();
		nghttpw_http_conn_write_all(conn, aio);
		nghttpw_aio_wait(aio);
		if ((rv = nghttpw_aio_result(aio)) != 0 ||
		    nghttpw_aio_count(aio) != TOTAL) {
			fprintf(stderr, "bulk: write_all: %s (%zu bytes)\n",
			    nghttpw_strerror(rv), nghttpw_aio_count(aio));
			return 1;
		}
		pthread_join(thr, NULL);
		nghttpw_http_conn_close(conn);
		nghttpw_aio_free(aio);
		nghttpw_stream_dialer_free(d);
		nghttpw_fini();
	}
	if (got != TOTAL) {
		fprintf(stderr, "bulk: read %llu bytes\n", (unsigned long long) got);
		return 1;
	}
	printf("%.0f\n", (double) TOTAL / (t_end - t0) / 1e6);
	return 0;
}
