/*
 * bulk: 1 GiB over loopback TCP, read by a plain blocking reader.
 *
 *   bulk nghttpw        one nghttpw_http_conn_write_all of the whole GiB
 *                       (4096 iovs of 256 KiB) on a TCP stream dialed with
 *                       nghttpw (one poller thread)
 *   bulk raw            the same iovs through non-blocking sendmsg()
 *                       (IOV_MAX at a time) on a plain socket with
 *                       TCP_NODELAY, as nghttpw's TCP stream sets it,
 *                       waiting in epoll (edge-triggered) when the socket is
 *                       full: what a plain program does at best, the ceiling
 *   bulk sendfile FILE  the whole FILE through non-blocking sendfile(2) on
 *                       such a socket, waiting in epoll the same way: the
 *                       ceiling of a server sending a file
 *   bulk get PORT PATH  the reader alone, as an HTTP client: GET PATH from
 *                       127.0.0.1:PORT on a new connection, the body read
 *                       whole (Content-Length), the 200 checked
 *
 * In the first three the reader is a thread of this process that accepts on
 * a plain socket.  The reader read()s 256 KiB at a time.  Prints the rate
 * in GiB/s (2^30 bytes) from the first write (or the request) to the last
 * byte read.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
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
static uint64_t want = TOTAL; /* bytes the reader waits for */
static uint64_t got;
static double   t_end;

static double
now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* Reads fd until want bytes (counting those already in got) or EOF. */
static void
drain(int fd)
{
	char *buf = malloc(CHUNK);
	while (got < want) {
		ssize_t n = read(fd, buf, CHUNK);
		if (n <= 0) {
			break;
		}
		got += (uint64_t) n;
	}
	t_end = now_s();
	free(buf);
}

static void *
reader(void *arg)
{
	int fd = accept(lfd, NULL, NULL);
	(void) arg;
	drain(fd);
	close(fd);
	return NULL;
}

/* A plain socket connected to sa, non-blocking, TCP_NODELAY, in the
 * edge-triggered epoll set *ep for writability. */
static int
raw_connect(const struct sockaddr_in *sa, int *ep)
{
	int                fd  = socket(AF_INET, SOCK_STREAM, 0);
	int                one = 1;
	struct epoll_event ev  = { .events = EPOLLOUT | EPOLLET };

	if (connect(fd, (const void *) sa, sizeof(*sa)) != 0) {
		perror("bulk: connect");
		exit(1);
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	*ep = epoll_create1(0);
	epoll_ctl(*ep, EPOLL_CTL_ADD, fd, &ev);
	return fd;
}

static double
send_raw(const struct sockaddr_in *sa, char *chunk)
{
	struct iovec      *iov = malloc(NIOV * sizeof(*iov));
	struct epoll_event ev;
	unsigned           i = 0;
	int                ep, fd = raw_connect(sa, &ep);
	double             t0;

	for (unsigned k = 0; k < NIOV; k++) {
		iov[k].iov_base = chunk;
		iov[k].iov_len  = CHUNK;
	}
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
			exit(1);
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
	close(ep);
	close(fd);
	free(iov);
	return t0;
}

static double
send_file(const struct sockaddr_in *sa, int file)
{
	struct epoll_event ev;
	off_t              off = 0;
	int                ep, fd = raw_connect(sa, &ep);
	double             t0 = now_s();

	while ((uint64_t) off < want) {
		ssize_t n = sendfile(fd, file, &off, (size_t) (want - (uint64_t) off));
		if (n < 0) {
			if (errno == EAGAIN) {
				epoll_wait(ep, &ev, 1, -1);
				continue;
			}
			if (errno == EINTR) {
				continue;
			}
			perror("bulk: sendfile");
			exit(1);
		}
		if (n == 0) {
			fprintf(stderr, "bulk: the file shrank\n");
			exit(1);
		}
	}
	close(ep);
	close(fd);
	return t0;
}

/* Joins the reader before closing, as a program that waits for its peer
 * would. */
static double
send_nghttpw(const struct sockaddr_in *sa, char *chunk, pthread_t thr)
{
	nghttpw_stream_dialer *d;
	nghttpw_stream        *s;
	nghttpw_http_conn     *conn;
	nghttpw_aio           *aio;
	nghttpw_iov           *iov = malloc(NIOV * sizeof(*iov));
	char                   url[64];
	double                 t0;
	int                    rv;

	nghttpw_init_set_parameter(NGHTTPW_INIT_NUM_POLLER_THREADS, 1);
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%u", ntohs(sa->sin_port));
	if ((rv = nghttpw_stream_dialer_alloc(&d, url)) != 0 ||
	    (rv = nghttpw_aio_alloc(&aio, NULL, NULL)) != 0) {
		fprintf(stderr, "bulk: %s\n", nghttpw_strerror(rv));
		exit(1);
	}
	nghttpw_stream_dialer_dial(d, aio);
	nghttpw_aio_wait(aio);
	if ((rv = nghttpw_aio_result(aio)) != 0) {
		fprintf(stderr, "bulk: dial: %s\n", nghttpw_strerror(rv));
		exit(1);
	}
	s = nghttpw_aio_get_output(aio, 0);
	if ((rv = nghttpw_http_conn_alloc(&conn, s)) != 0) {
		fprintf(stderr, "bulk: conn: %s\n", nghttpw_strerror(rv));
		exit(1);
	}
	for (unsigned k = 0; k < NIOV; k++) {
		iov[k].iov_buf = chunk;
		iov[k].iov_len = CHUNK;
	}
	if ((rv = nghttpw_aio_set_iov(aio, NIOV, iov)) != 0) {
		fprintf(stderr, "bulk: set_iov: %s\n", nghttpw_strerror(rv));
		exit(1);
	}
	t0 = now_s();
	nghttpw_http_conn_write_all(conn, aio);
	nghttpw_aio_wait(aio);
	if ((rv = nghttpw_aio_result(aio)) != 0 || nghttpw_aio_count(aio) != TOTAL) {
		fprintf(stderr, "bulk: write_all: %s (%zu bytes)\n", nghttpw_strerror(rv),
		    nghttpw_aio_count(aio));
		exit(1);
	}
	pthread_join(thr, NULL);
	nghttpw_http_conn_close(conn);
	nghttpw_aio_free(aio);
	nghttpw_stream_dialer_free(d);
	nghttpw_fini();
	free(iov);
	return t0;
}

/* bulk get PORT PATH: the response's head is read, its Content-Length taken
 * as want, and the rest of the body drained. */
static double
get(int port, const char *path)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	char               head[8192], req[512];
	size_t             len = 0;
	char              *end, *cl;
	int                fd = socket(AF_INET, SOCK_STREAM, 0), n;
	double             t0;

	sa.sin_port        = htons((uint16_t) port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", path);
	if (connect(fd, (void *) &sa, sizeof(sa)) != 0) {
		perror("bulk: connect");
		exit(1);
	}
	t0 = now_s();
	if (n < 0 || (size_t) n >= sizeof(req) || write(fd, req, (size_t) n) != n) {
		perror("bulk: request");
		exit(1);
	}
	while ((end = memmem(head, len, "\r\n\r\n", 4)) == NULL) {
		ssize_t r = len < sizeof(head) - 1 ? read(fd, head + len, sizeof(head) - 1 - len) : 0;
		if (r <= 0) {
			fprintf(stderr, "bulk: no response head\n");
			exit(1);
		}
		len += (size_t) r;
	}
	head[len] = '\0';
	if (strncmp(head, "HTTP/1.1 200 ", 13) != 0 ||
	    (cl = strcasestr(head, "\r\ncontent-length:")) == NULL || cl > end) {
		fprintf(stderr, "bulk: not a 200 with a Content-Length: %.*s\n",
		    (int) (end - head), head);
		exit(1);
	}
	want = strtoull(cl + 17, NULL, 10);
	got  = len - (size_t) (end + 4 - head);
	drain(fd);
	close(fd);
	return t0;
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sa;
	socklen_t          slen = sizeof(sa);
	pthread_t          thr;
	char              *chunk = NULL;
	double             t0;
	int                file = -1;

	if (argc == 4 && strcmp(argv[1], "get") == 0) {
		t0 = get(atoi(argv[2]), argv[3]);
		goto done;
	}
	if (!(argc == 2 && (strcmp(argv[1], "raw") == 0 || strcmp(argv[1], "nghttpw") == 0)) &&
	    !(argc == 3 && strcmp(argv[1], "sendfile") == 0)) {
		fprintf(stderr, "usage: bulk raw|nghttpw\n"
		                "       bulk sendfile FILE\n"
		                "       bulk get PORT PATH\n");
		return 2;
	}
	if (argc == 3) {
		struct stat st;
		if ((file = open(argv[2], O_RDONLY)) < 0 || fstat(file, &st) != 0) {
			perror("bulk: the file");
			return 1;
		}
		want = (uint64_t) st.st_size;
	} else {
		chunk = malloc(CHUNK);
		memset(chunk, 'x', CHUNK);
	}

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
	if (strcmp(argv[1], "nghttpw") == 0) {
		t0 = send_nghttpw(&sa, chunk, thr);
	} else {
		t0 = file >= 0 ? send_file(&sa, file) : send_raw(&sa, chunk);
		pthread_join(thr, NULL);
	}
done:
	if (got != want) {
		fprintf(stderr, "bulk: read %llu of %llu bytes\n", (unsigned long long) got,
		    (unsigned long long) want);
		return 1;
	}
	printf("%.2f\n", (double) want / (t_end - t0) / (1u << 30));
	return 0;
}
