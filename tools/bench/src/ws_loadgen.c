/*
 * ws_loadgen: the one WebSocket load generator for every echo server of
 * tools/bench/ws.  Plain sockets and epoll; it makes the handshake itself
 * (random Sec-WebSocket-Key, Sec-WebSocket-Accept checked), masks every
 * frame with a fresh key as a client must, and parses the server's frames.
 *
 *   ws_loadgen run  PORT [-c CONNS] [-t THREADS] [-d SECONDS] [-s SIZE]
 *                        [-w WINDOW] [-r | -z]
 *   ws_loadgen idle PORT COUNT
 *
 * run: CONNS connections spread over THREADS epoll loops; each keeps
 * WINDOW binary messages of SIZE bytes in flight and sends the next one
 * when the echo of the oldest has come back (counted in bytes, so a
 * server may echo in other message boundaries).  After 1 s of warm-up it
 * counts for SECONDS and prints one line:
 *
 *   MSGS_PER_S MB_PER_S WIRE_OUT_PER_MSG WIRE_IN_PER_MSG ERRORS
 *
 * (MB of echoed payload, 10^6 bytes; wire bytes are those written to and
 * read from the sockets after the handshakes, frame headers included.)
 * -r: raw TCP, no handshake and no framing (the ceiling).  -z: offer
 * permessage-deflate and send a repetitive JSON text message of about
 * 1.5 KB instead (compressed once, without context takeover, so every
 * send is the same bytes; the server's answers are inflated and checked);
 * exits 3 when the server does not agree to deflate.
 *
 * idle: COUNT connections, each through the handshake, held open and
 * silent; prints "ready N" and waits until its standard input closes.
 * Source addresses rotate over 127.0.0.2-127.0.0.9 so that ports do not
 * run short.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <zlib.h>

#include "ws_proto.h"

#define RXBUF (256 * 1024)
#define VERIFY_MAX 4096 /* every echo up to this size is compared */

static struct {
	int      port;
	int      conns, threads, seconds, window;
	size_t   size;
	bool     raw, deflate;
	uint8_t *payload; /* what a message carries (plain) */
	uint8_t *zpayload; /* deflate: the compressed message */
	size_t   zlen;
} opt = { .conns = 1, .threads = 1, .seconds = 5, .window = 1, .size = 64 };

static atomic_bool stop;

struct counters {
	_Atomic uint64_t bytes;    /* echoed payload received (plain) */
	_Atomic uint64_t wire_out; /* bytes written after the handshake */
	_Atomic uint64_t wire_in;
	_Atomic uint64_t errors;
};

struct conn {
	int              fd;
	struct ws_rx     rx;
	uint8_t         *tx; /* the frame being written */
	size_t           tx_len, tx_off;
	uint64_t         sent, recvd; /* payload bytes, plain */
	uint64_t         key_state;
	struct counters *ct;
	/* deflate: the message being put together, and the inflater */
	struct ws_deflate_params dp;
	z_stream                 inf;
	uint8_t                 *msg, *plain;
	size_t                   msg_len, msg_cap;
	bool                     msg_z;
};

struct loop {
	pthread_t       thr;
	int             ep;
	struct conn   **cs;
	int             n;
	struct counters ct;
	uint8_t        *rxbuf;
};

static void
die(const char *what)
{
	perror(what);
	exit(1);
}

/* ------------------------------------------------------------ the message */

/* A repetitive JSON document of about 1.5 KB, the same every time. */
static void
make_json(void)
{
	static const char *st[] = { "ok", "warn", "ok", "ok" };
	size_t             cap = 4096, n = 0;
	char              *s = malloc(cap);

	n += (size_t) snprintf(s + n, cap - n, "{\"type\":\"readings\",\"items\":[");
	for (int i = 0; i < 14; i++) {
		n += (size_t) snprintf(s + n, cap - n,
		    "%s{\"id\":%d,\"sensor\":\"sensor-%02d\",\"temp\":%d.%d,"
		    "\"unit\":\"C\",\"status\":\"%s\",\"tags\":[\"roof\",\"north\"]}",
		    i ? "," : "", 1000 + i, i, 20 + i % 3, i % 10, st[i % 4]);
	}
	n += (size_t) snprintf(s + n, cap - n, "]}");
	opt.payload = (uint8_t *) s;
	opt.size    = n;
}

/* The message compressed as one would with no context takeover: the
 * trailing 00 00 ff ff of the sync flush is not sent (RFC 7692 7.2.1). */
static void
compress_payload(int window_bits)
{
	z_stream z = { 0 };
	uLong    cap;

	/* zlib cannot make raw deflate with a window of 8 bits; 9 is the least */
	if (window_bits < 9) {
		window_bits = 9;
	}
	if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -window_bits, 8,
	        Z_DEFAULT_STRATEGY) != Z_OK) {
		fprintf(stderr, "ws_loadgen: deflateInit2 failed\n");
		exit(1);
	}
	cap          = deflateBound(&z, opt.size) + 16;
	opt.zpayload = malloc(cap);
	z.next_in    = opt.payload;
	z.avail_in   = (uInt) opt.size;
	z.next_out   = opt.zpayload;
	z.avail_out  = (uInt) cap;
	if (deflate(&z, Z_SYNC_FLUSH) != Z_OK || z.avail_in != 0) {
		fprintf(stderr, "ws_loadgen: deflate failed\n");
		exit(1);
	}
	opt.zlen = cap - z.avail_out - 4;
	deflateEnd(&z);
}

/* The next frame into c->tx: plain payload masked with a fresh key. */
static void
next_frame(struct conn *c)
{
	uint32_t       key = ws_next_key(&c->key_state);
	const uint8_t *src = opt.deflate ? opt.zpayload : opt.payload;
	size_t         n   = opt.deflate ? opt.zlen : opt.size;
	size_t         h;

	if (opt.raw) {
		c->tx     = opt.payload; /* shared, never written */
		c->tx_len = opt.size;
	} else {
		h = ws_header(c->tx, opt.deflate ? WS_OP_TEXT : WS_OP_BINARY, true,
		    opt.deflate, n, key);
		ws_mask(c->tx + h, src, n, key);
		c->tx_len = h + n;
	}
	c->tx_off = 0;
	c->sent += opt.size;
}

/* ------------------------------------------------------------ receiving */

static int
fail(struct conn *c, const char *why)
{
	fprintf(stderr, "ws_loadgen: connection %d: %s\n", c->fd, why);
	return -1;
}

/* Compares an echoed piece with what was sent at that offset. */
static int
verify(struct conn *c, const uint8_t *d, size_t n)
{
	while (n > 0) {
		size_t off = (size_t) (c->recvd % opt.size);
		size_t k   = opt.size - off < n ? opt.size - off : n;
		if (memcmp(d, opt.payload + off, k) != 0) {
			return fail(c, "the echo differs from the message sent");
		}
		d += k;
		n -= k;
		c->recvd += k;
	}
	return 0;
}

static int
inflate_msg(struct conn *c)
{
	static const uint8_t tail[4] = { 0, 0, 0xff, 0xff };
	int                  rv;

	if (c->msg_len + 4 > c->msg_cap) {
		c->msg_cap = c->msg_len + 4;
		c->msg     = realloc(c->msg, c->msg_cap);
	}
	memcpy(c->msg + c->msg_len, tail, 4);
	if (c->dp.server_no_context_takeover) {
		inflateReset(&c->inf);
	}
	c->inf.next_in   = c->msg;
	c->inf.avail_in  = (uInt) (c->msg_len + 4);
	c->inf.next_out  = c->plain;
	c->inf.avail_out = (uInt) (opt.size + 1);
	rv               = inflate(&c->inf, Z_SYNC_FLUSH);
	if ((rv != Z_OK && rv != Z_BUF_ERROR) || c->inf.avail_in != 0 ||
	    opt.size + 1 - c->inf.avail_out != opt.size) {
		return fail(c, "a compressed message does not inflate to the one sent");
	}
	return 0;
}

/* A piece of a frame from the server. */
static int
on_payload(void *arg, const struct ws_rx *rx, const uint8_t *d, size_t n, bool end)
{
	struct conn *c = arg;

	if (rx->opcode >= WS_OP_CLOSE) {
		if (rx->opcode == WS_OP_CLOSE) {
			return fail(c, "the server closed");
		}
		return 0; /* pings do not come in a run this short; pongs neither */
	}
	if (!opt.deflate) {
		if (c->recvd < opt.size || opt.size <= VERIFY_MAX) {
			return verify(c, d, n);
		}
		c->recvd += n;
		return 0;
	}
	if (rx->opcode != WS_OP_CONT) {
		c->msg_z   = rx->rsv1;
		c->msg_len = 0;
	}
	if (c->msg_len + n > c->msg_cap) {
		c->msg_cap = (c->msg_len + n) * 2;
		c->msg     = realloc(c->msg, c->msg_cap);
	}
	memcpy(c->msg + c->msg_len, d, n);
	c->msg_len += n;
	if (end && rx->fin) {
		if (c->msg_z) {
			if (inflate_msg(c) != 0) {
				return -1;
			}
			c->recvd += opt.size;
		} else {
			c->recvd += c->msg_len; /* a server may leave one uncompressed */
			if (c->msg_len != opt.size || memcmp(c->msg, opt.payload, opt.size) != 0) {
				return fail(c, "the echo differs from the message sent");
			}
		}
	}
	return 0;
}

/* Writes what can be written; starts new messages while the window has
 * room.  -1 when the connection is dead. */
static int
pump(struct conn *c)
{
	for (;;) {
		if (c->tx_off < c->tx_len) {
			ssize_t n = write(c->fd, c->tx + c->tx_off, c->tx_len - c->tx_off);
			if (n < 0) {
				return errno == EAGAIN ? 0 : fail(c, strerror(errno));
			}
			atomic_fetch_add_explicit(&c->ct->wire_out, (uint64_t) n, memory_order_relaxed);
			c->tx_off += (size_t) n;
			continue;
		}
		if (c->sent - c->recvd + opt.size > (uint64_t) opt.window * opt.size) {
			return 0;
		}
		next_frame(c);
	}
}

static int
on_readable(struct loop *lp, struct conn *c)
{
	for (;;) {
		ssize_t n = read(c->fd, lp->rxbuf, RXBUF);
		if (n < 0 && errno == EAGAIN) {
			return 0;
		}
		if (n <= 0) {
			return fail(c, n == 0 ? "the server closed the connection" : strerror(errno));
		}
		atomic_fetch_add_explicit(&c->ct->wire_in, (uint64_t) n, memory_order_relaxed);
		uint64_t before = c->recvd;
		int      rv;
		if (opt.raw) {
			rv = opt.size <= VERIFY_MAX || c->recvd < opt.size
			    ? verify(c, lp->rxbuf, (size_t) n)
			    : (c->recvd += (uint64_t) n, 0);
		} else {
			rv = ws_rx_feed(&c->rx, lp->rxbuf, (size_t) n, on_payload, c);
		}
		if (rv != 0) {
			return -1;
		}
		if (c->recvd > c->sent) {
			return fail(c, "the server sent back more than it was sent");
		}
		atomic_fetch_add_explicit(&c->ct->bytes, c->recvd - before, memory_order_relaxed);
		if (pump(c) != 0) {
			return -1;
		}
		if ((size_t) n < RXBUF) {
			return 0; /* drained: edge-triggered, wait for the next edge */
		}
	}
}

static void *
loop_main(void *arg)
{
	struct loop       *lp = arg;
	struct epoll_event evs[256];

	for (int i = 0; i < lp->n; i++) {
		if (pump(lp->cs[i]) != 0) {
			atomic_fetch_add(&lp->ct.errors, 1);
		}
	}
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		int n = epoll_wait(lp->ep, evs, 256, 100);
		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			int          rv;
			if (c->fd < 0) {
				continue;
			}
			rv = (evs[i].events & EPOLLIN) ? on_readable(lp, c) : 0;
			if (rv == 0 && (evs[i].events & EPOLLOUT)) {
				rv = pump(c);
			}
			if (rv != 0 || (evs[i].events & (EPOLLERR | EPOLLHUP))) {
				atomic_fetch_add(&lp->ct.errors, 1);
				epoll_ctl(lp->ep, EPOLL_CTL_DEL, c->fd, NULL);
				close(c->fd);
				c->fd = -1;
			}
		}
	}
	return NULL;
}

/* ------------------------------------------------------------ connecting */

/* A blocking connection to the port, from source address 127.0.0.src
 * when src is not 0.  A refusal is tried again: the server's TIME_WAIT
 * from an earlier run can answer a SYN that reuses its port pair. */
static int
dial(int src)
{
	struct sockaddr_in sa = { 0 }, from = { 0 };
	struct timeval     tv = { 10, 0 };
	int                one = 1;

	sa.sin_family        = AF_INET;
	sa.sin_port          = htons((uint16_t) opt.port);
	sa.sin_addr.s_addr   = htonl(INADDR_LOOPBACK);
	from.sin_family      = AF_INET;
	from.sin_addr.s_addr = htonl(0x7f000000u | (uint32_t) src);
	for (int tries = 0; tries < 20; tries++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd < 0) {
			return -1;
		}
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		/* The port is chosen at connect, per destination: more of them. */
		setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
		if ((src == 0 || bind(fd, (struct sockaddr *) &from, sizeof(from)) == 0) &&
		    connect(fd, (struct sockaddr *) &sa, sizeof(sa)) == 0) {
			return fd;
		}
		int e = errno;
		close(fd);
		if (e != ECONNREFUSED) {
			errno = e;
			return -1;
		}
		usleep(50000);
	}
	return -1;
}

static struct conn *
conn_open(int i, struct counters *ct, uint8_t *extra, size_t *extra_len)
{
	struct conn *c = calloc(1, sizeof(*c));
	const char  *offer = opt.deflate ? "permessage-deflate; client_max_window_bits" : NULL;

	*extra_len = 0;
	if (c == NULL || (c->fd = dial(0)) < 0) {
		perror("ws_loadgen: connect");
		exit(1);
	}
	if (!opt.raw &&
	    ws_handshake(c->fd, opt.port, offer, &c->dp, extra, RXBUF, extra_len) != 0) {
		exit(1);
	}
	c->ct = ct;
	if (getrandom(&c->key_state, sizeof(c->key_state), 0) != sizeof(c->key_state) ||
	    c->key_state == 0) {
		c->key_state = 0x9e3779b97f4a7c15ULL + (uint64_t) i;
	}
	if (!opt.raw && (c->tx = malloc(WS_MAX_HEADER + opt.size)) == NULL) {
		die("ws_loadgen: malloc");
	}
	if (opt.deflate) {
		if (!c->dp.on) {
			printf("n/a: the server did not agree to permessage-deflate\n");
			exit(3);
		}
		if (inflateInit2(&c->inf, -15) != Z_OK ||
		    (c->plain = malloc(opt.size + 1)) == NULL) {
			die("ws_loadgen: inflateInit2");
		}
	}
	return c;
}

static int
run(void)
{
	struct loop       *loops = calloc((size_t) opt.threads, sizeof(*loops));
	uint8_t           *extra = malloc(RXBUF);
	uint64_t           b0 = 0, b1 = 0, o0 = 0, o1 = 0, i0 = 0, i1 = 0, errs = 0;
	struct timespec    t0, t1;
	struct epoll_event ev;

	if (opt.deflate) {
		make_json();
	} else if ((opt.payload = malloc(opt.size)) != NULL) {
		for (size_t i = 0; i < opt.size; i++) {
			opt.payload[i] = (uint8_t) (i * 7 + 1);
		}
	}
	for (int t = 0; t < opt.threads; t++) {
		loops[t].ep    = epoll_create1(0);
		loops[t].cs    = calloc((size_t) opt.conns, sizeof(struct conn *));
		loops[t].rxbuf = malloc(RXBUF);
	}
	for (int i = 0; i < opt.conns; i++) {
		struct loop *lp = &loops[i % opt.threads];
		size_t       xn;
		struct conn *c = conn_open(i, &lp->ct, extra, &xn);
		if (opt.deflate && i == 0) {
			compress_payload(c->dp.client_max_window_bits);
			fprintf(stderr, "ws_loadgen: deflate: message %zu bytes, %zu compressed; "
			    "the server agreed to: %s\n", opt.size, opt.zlen, c->dp.agreed);
		}
		if (xn > 0 && ws_rx_feed(&c->rx, extra, xn, on_payload, c) != 0) {
			return 1;
		}
		if (fcntl(c->fd, F_SETFL, O_NONBLOCK) != 0) {
			die("ws_loadgen: fcntl");
		}
		ev.events   = EPOLLIN | EPOLLOUT | EPOLLET;
		ev.data.ptr = c;
		epoll_ctl(lp->ep, EPOLL_CTL_ADD, c->fd, &ev);
		lp->cs[lp->n++] = c;
	}
	for (int t = 0; t < opt.threads; t++) {
		pthread_create(&loops[t].thr, NULL, loop_main, &loops[t]);
	}
	sleep(1); /* warm-up */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int t = 0; t < opt.threads; t++) {
		b0 += atomic_load(&loops[t].ct.bytes);
		o0 += atomic_load(&loops[t].ct.wire_out);
		i0 += atomic_load(&loops[t].ct.wire_in);
	}
	sleep((unsigned) opt.seconds);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	for (int t = 0; t < opt.threads; t++) {
		b1 += atomic_load(&loops[t].ct.bytes);
		o1 += atomic_load(&loops[t].ct.wire_out);
		i1 += atomic_load(&loops[t].ct.wire_in);
	}
	atomic_store(&stop, true);
	for (int t = 0; t < opt.threads; t++) {
		pthread_join(loops[t].thr, NULL);
		errs += atomic_load(&loops[t].ct.errors);
	}
	double secs = (double) (t1.tv_sec - t0.tv_sec) + (double) (t1.tv_nsec - t0.tv_nsec) / 1e9;
	double msgs = (double) (b1 - b0) / (double) opt.size;
	printf("%.0f %.1f %.1f %.1f %llu\n", msgs / secs, (double) (b1 - b0) / secs / 1e6,
	    msgs > 0 ? (double) (o1 - o0) / msgs : 0, msgs > 0 ? (double) (i1 - i0) / msgs : 0,
	    (unsigned long long) errs);
	return errs > 0 ? 1 : 0;
}

static int
idle(int count)
{
	uint8_t extra[4096];
	size_t  xn;
	int     ok = 0;
	char    ch;

	for (int i = 0; i < count; i++) {
		int fd = dial(2 + i % 8);
		if (fd < 0 || ws_handshake(fd, opt.port, NULL, NULL, extra, sizeof(extra), &xn) != 0) {
			fprintf(stderr, "ws_loadgen: idle connection %d failed: %s\n", i, strerror(errno));
			if (fd >= 0) {
				close(fd);
			}
			break;
		}
		ok++;
	}
	printf("ready %d\n", ok);
	fflush(stdout);
	while (read(0, &ch, 1) > 0) {
	}
	return 0;
}

static void
usage(void)
{
	fprintf(stderr, "usage: ws_loadgen run PORT [-c CONNS] [-t THREADS] [-d SECONDS] "
	                "[-s SIZE] [-w WINDOW] [-r | -z]\n"
	                "       ws_loadgen idle PORT COUNT\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	int o;

	if (argc < 3) {
		usage();
	}
	opt.port = atoi(argv[2]);
	if (strcmp(argv[1], "idle") == 0) {
		if (argc != 4) {
			usage();
		}
		return idle(atoi(argv[3]));
	}
	if (strcmp(argv[1], "run") != 0) {
		usage();
	}
	optind = 3;
	while ((o = getopt(argc, argv, "c:t:d:s:w:rz")) != -1) {
		switch (o) {
		case 'c': opt.conns = atoi(optarg); break;
		case 't': opt.threads = atoi(optarg); break;
		case 'd': opt.seconds = atoi(optarg); break;
		case 's': opt.size = strtoul(optarg, NULL, 0); break;
		case 'w': opt.window = atoi(optarg); break;
		case 'r': opt.raw = true; break;
		case 'z': opt.deflate = true; break;
		default: usage();
		}
	}
	if (opt.conns < 1 || opt.threads < 1 || opt.window < 1 || opt.size < 1 ||
	    (opt.raw && opt.deflate)) {
		usage();
	}
	if (opt.threads > opt.conns) {
		opt.threads = opt.conns;
	}
	signal(SIGPIPE, SIG_IGN);
	return run();
}
