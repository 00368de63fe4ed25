/* nghttpw-serve's buffered access log (see access_log.h).
 *
 * A line goes to one of a few buffers, chosen by the client's address
 * and port, so that the lines of one connection share a buffer and keep
 * their order: a connection is not always logged from one thread (its
 * first answer may be written by the thread that accepted it).  With
 * twice as many buffers as I/O threads, two threads rarely want the same
 * buffer at once, and access_log_flush() takes each lock once a second:
 * the locks are in practice uncontended.  Buffers are written out under
 * a second lock, out_mtx, so that lines stay whole even where write()
 * may interleave (a pipe, past PIPE_BUF bytes).
 *
 * What formatting can keep from one line to the next (the date, to the
 * second, and the last client's address as text) is kept per thread.
 *
 * Lock order: a buffer's mtx, then out_mtx. */
#include "access_log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* What a buffer holds at least: room for a usual line when lines are
 * written one by one. */
#define LINE_ROOM 2048

typedef struct log_buf {
	pthread_mutex_t mtx; /* len and data */
	size_t          len;
	char           *data; /* buf_cap bytes */
} log_buf;

/* A thread's memory of its last line: the date of that second, and the
 * client's address as text (a keep-alive connection sends many). */
typedef struct line_cache {
	time_t   date_sec;
	size_t   date_len;
	char     date[40];
	uint16_t peer_family;
	uint8_t  peer_addr[16];
	size_t   host_len;
	char     host[INET6_ADDRSTRLEN];
} line_cache;

static int             log_fd = -1;
static size_t          log_limit; /* a buffer is written once this full */
static size_t          buf_cap;
static log_buf        *bufs;
static unsigned        nbufs;
static pthread_mutex_t out_mtx = PTHREAD_MUTEX_INITIALIZER;

static _Thread_local line_cache cache = { .date_sec = (time_t) -1 };

int
access_log_open(int fd, size_t buffer, unsigned threads)
{
	unsigned n = threads > 0 ? 2 * threads : 2;

	log_fd    = fd;
	log_limit = buffer;
	buf_cap   = buffer > LINE_ROOM ? buffer : LINE_ROOM;
	if ((bufs = calloc(n, sizeof(*bufs))) == NULL) {
		return NGHTTPW_ENOMEM;
	}
	nbufs = n;
	for (unsigned i = 0; i < nbufs; i++) {
		if ((bufs[i].data = malloc(buf_cap)) == NULL) {
			access_log_close();
			return NGHTTPW_ENOMEM;
		}
		pthread_mutex_init(&bufs[i].mtx, NULL);
	}
	return 0;
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

/* The local time as in "07/Dec/2026:09:15:02 +0000", formatted once a
 * second. */
static void
cache_date(line_cache *c)
{
	time_t    now = time(NULL);
	struct tm tm;

	if (now == c->date_sec) {
		return;
	}
	c->date_sec = now;
	c->date_len = 0;
	if (localtime_r(&now, &tm) != NULL) {
		c->date_len = strftime(c->date, sizeof(c->date), "%d/%b/%Y:%H:%M:%S %z", &tm);
	}
	if (c->date_len == 0) {
		c->date[0]  = '-';
		c->date_len = 1;
	}
}

/* The buffer of the client's lines, by its address and port; and its
 * address as text in c. */
static log_buf *
peer_buffer(line_cache *c, const nghttpw_sockaddr *peer)
{
	uint16_t    family = peer != NULL ? peer->s_family : 0;
	const void *addr   = NULL;
	size_t      alen   = 0;
	int         af     = 0;
	uint32_t    key    = 0;

	if (family == NGHTTPW_AF_INET) {
		addr = &peer->s_in.sa_addr;
		alen = sizeof(peer->s_in.sa_addr);
		af   = AF_INET;
		key  = peer->s_in.sa_addr ^ peer->s_in.sa_port;
	} else if (family == NGHTTPW_AF_INET6) {
		addr = peer->s_in6.sa_addr;
		alen = sizeof(peer->s_in6.sa_addr);
		af   = AF_INET6;
		memcpy(&key, peer->s_in6.sa_addr + 12, sizeof(key));
		key ^= peer->s_in6.sa_port;
	}
	if (c->host_len == 0 || family != c->peer_family ||
	    (alen > 0 && memcmp(addr, c->peer_addr, alen) != 0)) {
		c->peer_family = family;
		if (alen > 0) {
			memcpy(c->peer_addr, addr, alen);
		}
		if (af == 0 || inet_ntop(af, addr, c->host, sizeof(c->host)) == NULL) {
			strcpy(c->host, "-");
		}
		c->host_len = strlen(c->host);
	}
	/* Fibonacci hashing spreads ports that follow each other. */
	return &bufs[(uint32_t) (key * 2654435769u) % nbufs];
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

/* The most a line of c and lp takes. */
static size_t
line_bound(const line_cache *c, const line_parts *lp)
{
	return c->host_len + c->date_len + lp->mlen + lp->ulen + lp->vlen + 64;
}

/*   host - - [date] "method uri version" status bytes
 * with "-" for the request line when there was none and for the byte
 * count when no body was sent.  Returns the end. */
static char *
line_format(char *p, const line_cache *c, const line_parts *lp)
{
	p = put(p, c->host, c->host_len);
	p = put(p, " - - [", 6);
	p = put(p, c->date, c->date_len);
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
line_write_alone(log_buf *b, const line_cache *c, const line_parts *lp, size_t bound)
{
	char *tmp = malloc(bound);

	buf_write_locked(b);
	if (tmp != NULL) {
		write_out(tmp, (size_t) (line_format(tmp, c, lp) - tmp));
		free(tmp);
	}
}

static const char *
or_dash(const char *s)
{
	return s != NULL ? s : "-";
}

void
access_log_line(void *arg, nghttpw_http_req *req, nghttpw_http_res *res,
    const nghttpw_sockaddr *peer, uint64_t body_bytes)
{
	line_cache *c = &cache;
	log_buf    *b;
	line_parts  lp;
	size_t      bound;

	(void) arg;
	memset(&lp, 0, sizeof(lp));
	if (req != NULL) {
		lp.method  = or_dash(nghttpw_http_req_get_method(req));
		lp.uri     = or_dash(nghttpw_http_req_get_uri(req));
		lp.version = or_dash(nghttpw_http_req_get_version(req));
		lp.mlen    = strlen(lp.method);
		lp.ulen    = strlen(lp.uri);
		lp.vlen    = strlen(lp.version);
	}
	lp.status = nghttpw_http_res_get_status(res);
	lp.bytes  = body_bytes;
	cache_date(c);
	b     = peer_buffer(c, peer);
	bound = line_bound(c, &lp);

	pthread_mutex_lock(&b->mtx);
	if (b->len + bound > buf_cap) {
		buf_write_locked(b);
	}
	if (bound > buf_cap) {
		line_write_alone(b, c, &lp, bound);
	} else {
		b->len = (size_t) (line_format(b->data + b->len, c, &lp) - b->data);
		if (b->len >= log_limit) {
			buf_write_locked(b);
		}
	}
	pthread_mutex_unlock(&b->mtx);
}

void
access_log_flush(void)
{
	for (unsigned i = 0; i < nbufs && bufs[i].data != NULL; i++) {
		pthread_mutex_lock(&bufs[i].mtx);
		buf_write_locked(&bufs[i]);
		pthread_mutex_unlock(&bufs[i].mtx);
	}
}

void
access_log_close(void)
{
	access_log_flush();
	for (unsigned i = 0; i < nbufs && bufs[i].data != NULL; i++) {
		pthread_mutex_destroy(&bufs[i].mtx);
		free(bufs[i].data);
	}
	free(bufs);
	bufs  = NULL;
	nbufs = 0;
}
