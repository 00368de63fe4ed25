/* nghttpw-serve's buffered access log (see access_log.h).
 *
 * Each thread that logs has a buffer of its own, registered once in a
 * list.  Its lock is taken by that thread for every line and by
 * access_log_flush() once a second, so it is in practice never
 * contended.  Buffers are written out under a second lock, out_mtx,
 * so that lines stay whole even where write() may interleave (a pipe,
 * past PIPE_BUF bytes).  The lines of one connection come from one I/O
 * thread, hence one buffer: they keep their order.
 *
 * Lock order: list_mtx, then a buffer's mtx, then out_mtx. */
#include "access_log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* What a buffer holds at least: room for a usual line when lines are
 * written one by one. */
#define LINE_ROOM 2048

typedef struct log_buf {
	pthread_mutex_t mtx; /* data and len */
	struct log_buf *next;
	size_t          len;
	/* The rest is the owning thread's alone: the date of the second
	 * last seen, and the text of the last peer address. */
	time_t   date_sec;
	size_t   date_len;
	char     date[40];
	uint16_t peer_family;
	uint8_t  peer_addr[16];
	size_t   host_len;
	char     host[INET6_ADDRSTRLEN];
	char     data[]; /* buf_cap bytes */
} log_buf;

static int             log_fd = -1;
static size_t          log_limit; /* a buffer is written once this full */
static size_t          buf_cap;
static log_buf        *bufs;
static pthread_mutex_t list_mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t out_mtx  = PTHREAD_MUTEX_INITIALIZER;

static _Thread_local log_buf *my_buf;

void
access_log_open(int fd, size_t buffer)
{
	log_fd    = fd;
	log_limit = buffer;
	buf_cap   = buffer > LINE_ROOM ? buffer : LINE_ROOM;
}

/* All of p, waiting when fd is non-blocking and full.  On an error
 * (EPIPE: the reader is gone) the text is dropped: there is no one to
 * tell. */
static void
write_all(const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(log_fd, p, n);
		if (w >= 0) {
			p += w;
			n -= (size_t) w;
		} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
			struct pollfd pfd = { log_fd, POLLOUT, 0 };
			(void) poll(&pfd, 1, -1);
		} else if (errno != EINTR) {
			return;
		}
	}
}

static void
write_out(const char *p, size_t n)
{
	pthread_mutex_lock(&out_mtx);
	write_all(p, n);
	pthread_mutex_unlock(&out_mtx);
}

/* b's mtx held. */
static void
buf_write_locked(log_buf *b)
{
	if (b->len > 0) {
		write_out(b->data, b->len);
		b->len = 0;
	}
}

/* The calling thread's buffer, made and listed on its first line; NULL
 * when out of memory. */
static log_buf *
buf_get(void)
{
	log_buf *b = my_buf;

	if (b != NULL) {
		return b;
	}
	if ((b = malloc(sizeof(*b) + buf_cap)) == NULL) {
		return NULL;
	}
	pthread_mutex_init(&b->mtx, NULL);
	b->len         = 0;
	b->date_sec    = (time_t) -1;
	b->date_len    = 0;
	b->peer_family = 0;
	b->host_len    = 0;
	pthread_mutex_lock(&list_mtx);
	b->next = bufs;
	bufs    = b;
	pthread_mutex_unlock(&list_mtx);
	my_buf = b;
	return b;
}

/* The local time as in "07/Dec/2026:09:15:02 +0000", formatted once a
 * second. */
static void
buf_date(log_buf *b)
{
	time_t    now = time(NULL);
	struct tm tm;

	if (now == b->date_sec) {
		return;
	}
	b->date_sec = now;
	b->date_len = 0;
	if (localtime_r(&now, &tm) != NULL) {
		b->date_len = strftime(b->date, sizeof(b->date), "%d/%b/%Y:%H:%M:%S %z", &tm);
	}
	if (b->date_len == 0) {
		b->date[0]  = '-';
		b->date_len = 1;
	}
}

/* The client's address as text, kept for the next line: a keep-alive
 * connection sends many. */
static void
buf_host(log_buf *b, const nghttpw_sockaddr *peer)
{
	uint16_t    family = peer != NULL ? peer->s_family : 0;
	const void *addr   = NULL;
	size_t      alen   = 0;
	int         af     = 0;

	if (family == NGHTTPW_AF_INET) {
		addr = &peer->s_in.sa_addr;
		alen = sizeof(peer->s_in.sa_addr);
		af   = AF_INET;
	} else if (family == NGHTTPW_AF_INET6) {
		addr = peer->s_in6.sa_addr;
		alen = sizeof(peer->s_in6.sa_addr);
		af   = AF_INET6;
	}
	if (b->host_len > 0 && family == b->peer_family &&
	    (alen == 0 || memcmp(addr, b->peer_addr, alen) == 0)) {
		return;
	}
	b->peer_family = family;
	if (alen > 0) {
		memcpy(b->peer_addr, addr, alen);
	}
	if (af == 0 || inet_ntop(af, addr, b->host, sizeof(b->host)) == NULL) {
		strcpy(b->host, "-");
	}
	b->host_len = strlen(b->host);
}

static char *
put(char *p, const char *s, size_t n)
{
	memcpy(p, s, n);
	return p + n;
}

static char *
put_uint(char *p, uint64_t v)
{
	char   digits[20];
	size_t n = 0;

	do {
		digits[n++] = (char) ('0' + v % 10);
		v /= 10;
	} while (v > 0);
	while (n > 0) {
		*p++ = digits[--n];
	}
	return p;
}

/* The parts of a line that vary, besides host and date. */
typedef struct line_parts {
	const char *method, *uri, *version;
	size_t      mlen, ulen, vlen;
	unsigned    status;
	uint64_t    bytes;
} line_parts;

/* The most a line of b and lp takes. */
static size_t
line_bound(const log_buf *b, const line_parts *lp)
{
	return b->host_len + b->date_len + lp->mlen + lp->ulen + lp->vlen + 64;
}

/*   host - - [date] "method uri version" status bytes
 * with "-" for the request line when there was none and for the byte
 * count when no body was sent.  Returns the end. */
static char *
line_format(char *p, const log_buf *b, const line_parts *lp)
{
	p = put(p, b->host, b->host_len);
	p = put(p, " - - [", 6);
	p = put(p, b->date, b->date_len);
	p = put(p, "] \"", 3);
	if (lp->method != NULL) {
		p    = put(p, lp->method, lp->mlen);
		*p++ = ' ';
		p    = put(p, lp->uri, lp->ulen);
		*p++ = ' ';
		p    = put(p, lp->version, lp->vlen);
	} else {
		*p++ = '-';
	}
	p    = put(p, "\" ", 2);
	p    = put_uint(p, lp->status);
	*p++ = ' ';
	if (lp->bytes > 0) {
		p = put_uint(p, lp->bytes);
	} else {
		*p++ = '-';
	}
	*p++ = '\n';
	return p;
}

/* A line longer than a buffer: after what b holds, on its own. */
static void
line_write_alone(log_buf *b, const line_parts *lp, size_t bound)
{
	char *tmp = malloc(bound);

	buf_write_locked(b);
	if (tmp != NULL) {
		write_out(tmp, (size_t) (line_format(tmp, b, lp) - tmp));
		free(tmp);
	}
}

void
access_log_line(void *arg, nghttpw_http_req *req, nghttpw_http_res *res,
    const nghttpw_sockaddr *peer, uint64_t body_bytes)
{
	log_buf   *b = buf_get();
	line_parts lp;
	size_t     bound;

	(void) arg;
	if (b == NULL) {
		return;
	}
	memset(&lp, 0, sizeof(lp));
	if (req != NULL) {
		lp.method  = nghttpw_http_req_get_method(req);
		lp.uri     = nghttpw_http_req_get_uri(req);
		lp.version = nghttpw_http_req_get_version(req);
		lp.mlen    = strlen(lp.method);
		lp.ulen    = strlen(lp.uri);
		lp.vlen    = strlen(lp.version);
	}
	lp.status = nghttpw_http_res_get_status(res);
	lp.bytes  = body_bytes;
	buf_date(b);
	buf_host(b, peer);
	bound = line_bound(b, &lp);

	pthread_mutex_lock(&b->mtx);
	if (b->len + bound > buf_cap) {
		buf_write_locked(b);
	}
	if (bound > buf_cap) {
		line_write_alone(b, &lp, bound);
	} else {
		b->len = (size_t) (line_format(b->data + b->len, b, &lp) - b->data);
		if (b->len >= log_limit) {
			buf_write_locked(b);
		}
	}
	pthread_mutex_unlock(&b->mtx);
}

void
access_log_flush(void)
{
	log_buf *b;

	pthread_mutex_lock(&list_mtx);
	for (b = bufs; b != NULL; b = b->next) {
		pthread_mutex_lock(&b->mtx);
		buf_write_locked(b);
		pthread_mutex_unlock(&b->mtx);
	}
	pthread_mutex_unlock(&list_mtx);
}

void
access_log_close(void)
{
	log_buf *b;

	access_log_flush();
	pthread_mutex_lock(&list_mtx);
	while ((b = bufs) != NULL) {
		bufs = b->next;
		pthread_mutex_destroy(&b->mtx);
		free(b);
	}
	pthread_mutex_unlock(&list_mtx);
	my_buf = NULL;
}
