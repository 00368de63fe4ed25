/*
 * loadgen: a small HTTP/1.1 load generator on plain sockets and epoll,
 * one thread, GET / with keep-alive, one request in flight per
 * connection (never pipelined).
 *
 *   loadgen open   PORT CONNS RATE SECONDS
 *     Open loop: requests are scheduled at a constant total RATE (req/s),
 *     round-robin over CONNS connections, independent of the answers.  A
 *     request whose connection is still busy waits for it, and its latency
 *     is measured from its scheduled time, so queueing delay is counted
 *     (no coordinated omission).  The first second is warm-up and not
 *     recorded.  Prints: "p50_us p99_us p999_us max_us done errors rate".
 *     With LOADGEN_DIST=FILE it also writes the latency distribution there,
 *     HDR-style: one line "X latency_us" per quantile 1 - 1/X, X = 10^(k/4)
 *     (0%, 43.8%, ... 90%, ... 99%, ...) while at least one sample lies
 *     beyond it, then "max latency_us".
 *
 *   loadgen closed PORT CONNS COUNT [PAUSE_MS]
 *     Closed loop: CONNS connections send requests back to back until
 *     COUNT answers have come.  Prints: "done seconds req_per_s".  With
 *     PAUSE_MS, each connection first makes one exchange, then all wait
 *     PAUSE_MS before the COUNT start, and after the line is printed the
 *     connections stay open PAUSE_MS more (so that a tracer attached and
 *     detached in the pauses sees the steady state only, not connection
 *     setup and teardown).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define QCAP 65536
#define RBUF 65536

static char   request[1024];
static size_t request_len;

static void
make_request(const char *path)
{
	int n = snprintf(request, sizeof(request),
	    "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: loadgen\r\n\r\n", path);
	if (n < 0 || (size_t) n >= sizeof(request)) {
		fprintf(stderr, "loadgen: LOADGEN_PATH is too long\n");
		exit(2);
	}
	request_len = (size_t) n;
}


typedef struct lconn {
	int       fd;
	int       busy;     /* a request is in flight */
	uint64_t *q;        /* scheduled times of waiting requests (ns) */
	size_t    qh, qt;   /* head, tail (monotonic counters) */
	uint64_t  cur;      /* scheduled time of the one in flight */
	char      rbuf[RBUF];
	size_t    rlen;
} lconn;

static uint64_t
now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t) ts.tv_sec * 1000000000ull + (uint64_t) ts.tv_nsec;
}

static int
dial(int port)
{
	struct sockaddr_in sa;
	int                fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family      = AF_INET;
	sa.sin_port        = htons((uint16_t) port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (void *) &sa, sizeof(sa)) != 0) {
		perror("loadgen: connect");
		exit(1);
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static void
send_req(lconn *c)
{
	size_t off = 0;
	while (off < request_len) {
		ssize_t n = write(c->fd, request + off, request_len - off);
		if (n < 0) {
			if (errno == EINTR) {
				continue;
			}
			perror("loadgen: write");
			exit(1);
		}
		off += (size_t) n;
	}
	c->busy = 1;
}

/* Length of the first complete response in buf, 0 if incomplete. */
static size_t
response_len(const char *buf, size_t len)
{
	const char *end = memmem(buf, len, "\r\n\r\n", 4);
	size_t      head, clen = 0;

	if (end == NULL) {
		return 0;
	}
	head = (size_t) (end - buf) + 4;
	for (const char *p = buf; p < end;) {
		const char *eol = memmem(p, (size_t) (end - p) + 2, "\r\n", 2);
		if (eol == NULL) {
			break;
		}
		if ((size_t) (eol - p) > 15 && strncasecmp(p, "content-length:", 15) == 0) {
			clen = strtoul(p + 15, NULL, 10);
		}
		p = eol + 2;
	}
	return (head + clen <= len) ? head + clen : 0;
}

/* One blocking request and response on a fresh connection. */
static void
warm_up(lconn *c)
{
	send_req(c);
	while (response_len(c->rbuf, c->rlen) == 0) {
		ssize_t r = read(c->fd, c->rbuf + c->rlen, RBUF - c->rlen);
		if (r <= 0) {
			fprintf(stderr, "loadgen: warm-up failed\n");
			exit(1);
		}
		c->rlen += (size_t) r;
	}
	c->rlen = 0;
	c->busy = 0;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
	return x < y ? -1 : x > y;
}

/* The distribution of the sorted latencies lat[0..n) for a plot whose x
 * axis is 1 / (1 - quantile) on a log scale, as HdrHistogram draws it. */
static void
write_dist(const char *path, const uint64_t *lat, size_t n)
{
	/* 10^(j/4), so that no libm is needed (tools/bench/static builds this
	 * file with a bare cc). */
	static const double quarter[4] = { 1.0, 1.7782794100389228, 3.1622776601683795,
		5.6234132519034908 };
	FILE  *f      = fopen(path, "w");
	double decade = 1.0;

	if (f == NULL) {
		perror("loadgen: LOADGEN_DIST");
		exit(1);
	}
	for (int k = 0;; k++) {
		double x;
		if (k > 0 && k % 4 == 0) {
			decade *= 10.0;
		}
		x = decade * quarter[k % 4];
		if ((double) n / x < 1.0) {
			break;
		}
		fprintf(f, "%.4g %.1f\n", x, lat[(size_t) ((double) n * (1.0 - 1.0 / x))] / 1e3);
	}
	fprintf(f, "max %.1f\n", lat[n - 1] / 1e3);
	fclose(f);
}

int
main(int argc, char **argv)
{
	int       open_loop, port, nconns, ep;
	double    rate = 0, seconds = 0;
	uint64_t  count = 0, done = 0, errors = 0, t0, tend, twarm, next, period = 0, sched = 0;
	uint64_t *lat    = NULL;
	size_t    nlat   = 0, latcap = 0;
	lconn    *conns;

	if (argc < 5 || argc > 6 ||
	    (strcmp(argv[1], "open") != 0 && strcmp(argv[1], "closed") != 0) ||
	    (strcmp(argv[1], "open") == 0 && argc != 6)) {
		fprintf(stderr, "usage: loadgen open PORT CONNS RATE SECONDS\n"
		                "       loadgen closed PORT CONNS COUNT [PAUSE_MS]\n");
		return 2;
	}
	make_request(getenv("LOADGEN_PATH") != NULL ? getenv("LOADGEN_PATH") : "/");
	open_loop = strcmp(argv[1], "open") == 0;
	port      = atoi(argv[2]);
	nconns    = atoi(argv[3]);
	if (open_loop) {
		rate    = atof(argv[4]);
		seconds = atof(argv[5]);
		period  = (uint64_t) (1e9 / rate);
		latcap  = (size_t) (rate * seconds) + 16;
		lat     = malloc(latcap * sizeof(*lat));
	} else {
		count = strtoull(argv[4], NULL, 10);
	}
	conns = calloc((size_t) nconns, sizeof(*conns));
	ep    = epoll_create1(0);
	for (int i = 0; i < nconns; i++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t) i };
		conns[i].fd = dial(port);
		conns[i].q  = malloc(QCAP * sizeof(uint64_t));
		epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev);
	}
	if (!open_loop && argc == 6) {
		for (int i = 0; i < nconns; i++) {
			warm_up(&conns[i]);
		}
		usleep((useconds_t) atoi(argv[5]) * 1000);
	}
	t0    = now_ns();
	twarm = t0 + 1000000000ull;
	tend  = twarm + (uint64_t) (seconds * 1e9);
	next  = t0;
	if (!open_loop) {
		for (int i = 0; i < nconns && (uint64_t) i < count; i++) {
			send_req(&conns[i]);
		}
	}
	for (;;) {
		struct epoll_event evs[256];
		struct timespec    to, *top = NULL;
		uint64_t           now = now_ns();
		int                n;

		if (open_loop) {
			if (now >= tend) {
				break;
			}
			while (next <= now) {
				lconn *c = &conns[sched % (uint64_t) nconns];
				sched++;
				if (!c->busy) {
					c->cur = next;
					send_req(c);
				} else if (c->qt - c->qh < QCAP) {
					c->q[c->qt++ % QCAP] = next;
				} else {
					errors++; /* hopelessly behind */
				}
				next += period;
			}
			to.tv_sec  = (time_t) ((next - now) / 1000000000ull);
			to.tv_nsec = (long) ((next - now) % 1000000000ull);
			top        = &to;
		} else if (done >= count) {
			break;
		}
		n = epoll_pwait2(ep, evs, 256, top, NULL);
		if (n < 0) {
			if (errno == EINTR) {
				continue;
			}
			perror("loadgen: epoll_pwait2");
			return 1;
		}
		for (int i = 0; i < n; i++) {
			lconn  *c = &conns[evs[i].data.u32];
			ssize_t r = read(c->fd, c->rbuf + c->rlen, RBUF - c->rlen);
			size_t  len;

			if (r <= 0) {
				if (r < 0 && errno == EAGAIN) {
					continue;
				}
				fprintf(stderr, "loadgen: connection %u closed\n", evs[i].data.u32);
				return 1;
			}
			c->rlen += (size_t) r;
			while ((len = response_len(c->rbuf, c->rlen)) > 0) {
				uint64_t t = now_ns();
				if (strncmp(c->rbuf, "HTTP/1.1 200", 12) != 0 &&
				    strncmp(c->rbuf, "HTTP/1.0 200", 12) != 0) {
					errors++;
				}
				memmove(c->rbuf, c->rbuf + len, c->rlen - len);
				c->rlen -= len;
				c->busy = 0;
				done++;
				if (open_loop) {
					if (c->cur >= twarm && nlat < latcap) {
						lat[nlat++] = t - c->cur;
					}
					if (c->qt != c->qh) {
						c->cur = c->q[c->qh++ % QCAP];
						send_req(c);
					}
				} else if (done + (uint64_t) nconns <= count) {
					send_req(c);
				}
			}
		}
	}
	if (open_loop) {
		qsort(lat, nlat, sizeof(*lat), cmp_u64);
		if (nlat == 0) {
			printf("0 0 0 0 0 %llu 0\n", (unsigned long long) errors);
			return 1;
		}
		printf("%.1f %.1f %.1f %.1f %zu %llu %.0f\n", lat[nlat / 2] / 1e3,
		    lat[(size_t) ((double) nlat * 0.99)] / 1e3,
		    lat[(size_t) ((double) nlat * 0.999)] / 1e3, lat[nlat - 1] / 1e3,
		    nlat, (unsigned long long) errors, (double) nlat / seconds);
		if (getenv("LOADGEN_DIST") != NULL) {
			write_dist(getenv("LOADGEN_DIST"), lat, nlat);
		}
	} else {
		double s = (double) (now_ns() - t0) / 1e9;
		printf("%llu %.3f %.0f\n", (unsigned long long) done, s, (double) done / s);
		if (argc == 6) {
			fflush(stdout);
			usleep((useconds_t) atoi(argv[5]) * 1000);
		}
	}
	return 0;
}
