/*
 * lbload: the load generator of tools/lb/run.  It counts the fate of
 * every request it sends through a load balancer, exactly.
 *
 *   lbload --port PORT --body FILE [--host ADDR] [--source ADDR]
 *          [--path PATH] [--conns N] [--rate R] [--seconds S]
 *          [--reuse N] [--timeout MS] [--retries N]
 *
 * CONNS keep-alive connections (default 8), bound to the source address
 * (default 127.0.0.2) so that the servers behind the balancer can tell
 * our address from the balancer's, each send `GET PATH` one at a time,
 * paced so that all together send about RATE requests a second (default
 * 500), for SECONDS (default 60).  A connection is closed by us after
 * REUSE answers (default 20) and opened again, so that an L4 balancer,
 * which ties a connection to one server, spreads new connections over
 * the servers that are up.
 *
 * A request is ok when it is answered 200 with exactly the bytes of FILE
 * as its body.  A request whose connection closes before a single byte
 * of its answer came is sent again on a new connection, at most RETRIES
 * times (default 2): GET is idempotent, and RFC 9112 (9.3.1) lets a
 * client retry it then, as browsers and curl do with a kept-alive
 * connection the server has just closed.  Each such resend is counted
 * as a retry.  Anything else fails the request: another status, another
 * body, an answer cut short, no whole answer within TIMEOUT ms (default
 * 5000), a connection to the balancer refused, or the retries spent.
 *
 * Prints one line on standard output:
 *   requests=N ok=N failed=N retried=N connections=N max_ms=N
 * and one line on standard error for each failure and each retry (the
 * first 50 of each), with the milliseconds since the start.  Exits 0
 * when no request failed, 1 when one did, 2 on bad arguments.
 *
 * It is built on plain sockets and epoll rather than on nghttpw's client,
 * so that the library under test cannot hide a failure from the count.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PROG "lbload"
#define MAX_CONNS 1024
#define MAX_BODY (1u << 20)
#define MAX_HEAD 16384
#define MAX_EVENT_LINES 50

typedef enum {
	C_IDLE,       /* no request; the next is due at next_ns */
	C_CONNECTING, /* a request waits for its connection */
	C_WAITING,    /* the request is sent; its answer is awaited */
} conn_state;

typedef struct {
	int        fd;        /* -1 when closed */
	conn_state state;
	int        answered;  /* answers on this socket */
	int        attempt;   /* sends of the current request, minus one */
	uint64_t   next_ns;   /* when the next request is due */
	uint64_t   sent_ns;   /* when the current request was first sent */
	char      *buf;       /* the answer so far */
	size_t     len;
} conn;

struct options {
	const char *host, *source, *path, *body_file;
	int         port, conns, reuse, retries;
	double      rate, seconds;
	int         timeout_ms;
};

static struct options opt = {
	.host    = "127.0.0.1",
	.source  = "127.0.0.2",
	.path    = "/",
	.port    = 0,
	.conns   = 8,
	.reuse   = 20,
	.retries = 2,
	.rate    = 500,
	.seconds = 60,
	.timeout_ms = 5000,
};

static char    *body;
static size_t   body_len;
static char     request[1024];
static size_t   request_len;
static uint64_t start_ns;
static int      ep;

static unsigned long long n_requests, n_ok, n_failed, n_retried, n_connections;
static uint64_t           max_ns;
static int                failure_lines, retry_lines;

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec);
}

static unsigned long long
since_start_ms(void)
{
	return ((now_ns() - start_ns) / 1000000u);
}

static void
usage(FILE *f)
{
	fputs("usage: " PROG " --port PORT --body FILE [--host ADDR] "
	      "[--source ADDR] [--path PATH]\n"
	      "       [--conns N] [--rate R] [--seconds S] [--reuse N] "
	      "[--timeout MS] [--retries N]\n",
	    f);
}

static void
bad_usage(const char *what, const char *arg)
{
	fprintf(stderr, PROG ": %s '%s'\n", what, arg);
	usage(stderr);
	exit(2);
}

static long
number(const char *arg, long lo, long hi)
{
	char *end;
	long  v = strtol(arg, &end, 10);

	if (*arg == '\0' || *end != '\0' || v < lo || v > hi) {
		bad_usage("not a number in range:", arg);
	}
	return (v);
}

static void
parse_args(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "host", required_argument, NULL, 'H' },
		{ "source", required_argument, NULL, 's' },
		{ "port", required_argument, NULL, 'p' },
		{ "path", required_argument, NULL, 'P' },
		{ "body", required_argument, NULL, 'b' },
		{ "conns", required_argument, NULL, 'c' },
		{ "rate", required_argument, NULL, 'r' },
		{ "seconds", required_argument, NULL, 'S' },
		{ "reuse", required_argument, NULL, 'u' },
		{ "timeout", required_argument, NULL, 't' },
		{ "retries", required_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'H': opt.host = optarg; break;
		case 's': opt.source = optarg; break;
		case 'p': opt.port = (int) number(optarg, 1, 65535); break;
		case 'P': opt.path = optarg; break;
		case 'b': opt.body_file = optarg; break;
		case 'c': opt.conns = (int) number(optarg, 1, MAX_CONNS); break;
		case 'r': opt.rate = (double) number(optarg, 1, 1000000); break;
		case 'S': opt.seconds = (double) number(optarg, 1, 86400); break;
		case 'u': opt.reuse = (int) number(optarg, 1, 1000000); break;
		case 't': opt.timeout_ms = (int) number(optarg, 1, 600000); break;
		case 'R': opt.retries = (int) number(optarg, 0, 100); break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); exit(2);
		}
	}
	if (optind != argc) {
		bad_usage("unexpected argument", argv[optind]);
	}
	if (opt.port == 0 || opt.body_file == NULL) {
		usage(stderr);
		exit(2);
	}
	if (opt.path[0] != '/') {
		bad_usage("the path must begin with '/':", opt.path);
	}
}

static void
load_body(void)
{
	FILE *f = fopen(opt.body_file, "rb");

	if (f == NULL || (body = malloc(MAX_BODY + 1)) == NULL) {
		perror(PROG ": the body file");
		exit(2);
	}
	body_len = fread(body, 1, MAX_BODY + 1, f);
	if (ferror(f) || body_len > MAX_BODY) {
		fprintf(stderr, PROG ": %s is unreadable or over 1 MiB\n", opt.body_file);
		exit(2);
	}
	fclose(f);
}

static void
close_conn(conn *c)
{
	if (c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
	}
	c->len      = 0;
	c->answered = 0;
}

/* The request is over: counted, and the connection's next one paced. */
static void
finish(conn *c, bool ok, const char *why)
{
	uint64_t now  = now_ns();
	uint64_t took = now - c->sent_ns;

	if (ok) {
		n_ok++;
	} else {
		n_failed++;
		if (failure_lines++ < MAX_EVENT_LINES) {
			fprintf(stderr, PROG ": %llu ms: a request failed: %s\n",
			    since_start_ms(), why);
		}
	}
	if (took > max_ns) {
		max_ns = took;
	}
	c->state   = C_IDLE;
	c->attempt = 0;
	c->next_ns = c->sent_ns + (uint64_t) (1e9 * opt.conns / opt.rate);
	if (c->next_ns < now) {
		c->next_ns = now;
	}
}

/* A new non-blocking socket from the source address to the balancer;
 * false when the balancer cannot be reached at all. */
static bool
open_conn(conn *c)
{
	struct sockaddr_in src = { .sin_family = AF_INET };
	struct sockaddr_in dst = { .sin_family = AF_INET };
	struct epoll_event ev  = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP };
	int                one = 1;

	dst.sin_port = htons((uint16_t) opt.port);
	if (inet_pton(AF_INET, opt.source, &src.sin_addr) != 1 ||
	    inet_pton(AF_INET, opt.host, &dst.sin_addr) != 1) {
		fprintf(stderr, PROG ": --host and --source are IPv4 addresses\n");
		exit(2);
	}
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || bind(c->fd, (void *) &src, sizeof(src)) != 0) {
		perror(PROG ": socket or bind to the source address");
		exit(1);
	}
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, (void *) &dst, sizeof(dst)) != 0 && errno != EINPROGRESS) {
		close_conn(c);
		return (false);
	}
	ev.data.ptr = c;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
		perror(PROG ": epoll_ctl");
		exit(1);
	}
	n_connections++;
	return (true);
}

/* Sends the request on a connected socket (it is small, and nothing else
 * is queued on the socket, so one send takes it whole); false when the
 * connection turns out to be dead. */
static bool
send_request(conn *c)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP, .data.ptr = c };
	ssize_t            n  = send(c->fd, request, request_len, MSG_NOSIGNAL);

	if (n != (ssize_t) request_len) {
		return (false);
	}
	epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
	c->state = C_WAITING;
	return (true);
}

/* A fresh connection for the current request: sent when it is up. */
static void
start_attempt(conn *c)
{
	if (c->fd < 0) {
		if (!open_conn(c)) {
			finish(c, false, "the balancer refused the connection");
			return;
		}
		c->state = C_CONNECTING;
		return;
	}
	if (!send_request(c)) {
		/* Closed by the other side while it sat idle: as if it had
		 * closed after the send, the request never reached anyone. */
		close_conn(c);
		start_attempt(c);
	}
}

/* The connection died with no byte of the answer: GET may be sent again
 * on a new one, a bounded number of times. */
static void
connection_lost(conn *c, const char *why)
{
	bool had_bytes = c->len > 0;

	close_conn(c);
	if (had_bytes) {
		finish(c, false, "the answer was cut short");
		return;
	}
	if (c->attempt >= opt.retries) {
		finish(c, false, why);
		return;
	}
	c->attempt++;
	n_retried++;
	if (retry_lines++ < MAX_EVENT_LINES) {
		fprintf(stderr, PROG ": %llu ms: %s before any answer: sent again\n",
		    since_start_ms(), why);
	}
	start_attempt(c);
}

static bool
header_is(const char *line, size_t len, const char *name, const char *value)
{
	size_t n = strlen(name);

	if (len <= n || strncasecmp(line, name, n) != 0 || line[n] != ':') {
		return (false);
	}
	line += n + 1;
	len -= n + 1;
	while (len > 0 && (*line == ' ' || *line == '\t')) {
		line++;
		len--;
	}
	return (value == NULL || (len >= strlen(value) &&
	                             strncasecmp(line, value, strlen(value)) == 0));
}

/* Looks at what has come of the answer: 0 while incomplete, 1 when one
 * whole answer is there (*keep: whether the connection may carry another
 * request), -1 when it can never be a good answer (*why says why). */
static int
parse_answer(conn *c, bool at_eof, bool *keep, const char **why)
{
	const char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
	size_t      head, clen = 0;
	bool        have_clen = false;
	int         status    = 0;

	*keep = true;
	if (end == NULL) {
		*why = c->len > MAX_HEAD ? "an endless head" : "the answer was cut short";
		return (c->len > MAX_HEAD || at_eof ? -1 : 0);
	}
	head = (size_t) (end - c->buf) + 4;
	if (sscanf(c->buf, "HTTP/1.%*1[01] %3d", &status) != 1) {
		*why = "not an HTTP/1.x answer";
		return (-1);
	}
	if (strncmp(c->buf, "HTTP/1.0", 8) == 0) {
		*keep = false;
	}
	for (const char *p = memmem(c->buf, head, "\r\n", 2) + 2; p < end;) {
		const char *eol = memmem(p, (size_t) (end + 2 - p), "\r\n", 2);
		size_t      n   = (size_t) (eol - p);

		if (header_is(p, n, "content-length", NULL)) {
			clen      = strtoul(p + strlen("content-length:"), NULL, 10);
			have_clen = true;
		} else if (header_is(p, n, "transfer-encoding", NULL)) {
			*why = "a chunked answer (the file is sent with its length)";
			return (-1);
		} else if (header_is(p, n, "connection", "close")) {
			*keep = false;
		}
		p = eol + 2;
	}
	if (!have_clen) {
		/* Framed by the close (an error page of a balancer, say). */
		*keep = false;
		if (!at_eof) {
			return (c->len - head > MAX_BODY ? -1 : 0);
		}
		clen = c->len - head;
	}
	if (c->len < head + clen) {
		*why = "the answer was cut short";
		return (at_eof || head + clen > MAX_HEAD + MAX_BODY ? -1 : 0);
	}
	if (c->len > head + clen) {
		*why = "bytes after the answer";
		return (-1);
	}
	if (status != 200) {
		static char msg[64];
		snprintf(msg, sizeof(msg), "answered %d", status);
		*why = msg;
		return (-1);
	}
	if (clen != body_len || memcmp(c->buf + head, body, body_len) != 0) {
		*why = "a body other than the file's";
		return (-1);
	}
	return (1);
}

static void
on_readable(conn *c)
{
	const char *why = NULL;
	bool        keep, eof = false;
	int         r;

	for (;;) {
		ssize_t n = recv(c->fd, c->buf + c->len, MAX_HEAD + MAX_BODY - c->len, 0);

		if (n > 0) {
			c->len += (size_t) n;
			c->buf[c->len] = '\0'; /* for sscanf on the status line */
			if (c->len == MAX_HEAD + MAX_BODY) {
				break;
			}
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			break;
		}
		if (c->len == 0) {
			connection_lost(c, n == 0 ? "closed" : strerror(errno));
			return;
		}
		eof = true;
		break;
	}
	if (c->len == 0) {
		return;
	}
	if ((r = parse_answer(c, eof, &keep, &why)) == 0) {
		return;
	}
	if (r < 0) {
		close_conn(c);
		finish(c, false, why);
		return;
	}
	c->len = 0;
	c->answered++;
	if (!keep || eof || c->answered >= opt.reuse) {
		close_conn(c);
	}
	finish(c, true, NULL);
}

static void
on_event(conn *c, uint32_t events)
{
	int       err = 0;
	socklen_t len = sizeof(err);

	if (c->state == C_CONNECTING) {
		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
		if (err != 0 || (events & (EPOLLERR | EPOLLHUP))) {
			close_conn(c);
			finish(c, false, "the balancer refused the connection");
		} else if (events & EPOLLOUT) {
			if (!send_request(c)) {
				connection_lost(c, "closed at once");
			}
		}
		return;
	}
	if (c->state == C_WAITING) {
		on_readable(c);
		return;
	}
	/* Idle and kept alive, and the other side closed it (or sent what
	 * no request asked for): a new connection for the next request. */
	close_conn(c);
}

/* Sends the requests that are due, fails those past their time, and
 * tells how long the loop may sleep. */
static int
tick(conn *conns, bool sending)
{
	uint64_t now  = now_ns();
	uint64_t wait = 10000000u;
	uint64_t limit = (uint64_t) opt.timeout_ms * 1000000u;

	for (int i = 0; i < opt.conns; i++) {
		conn *c = &conns[i];

		if (c->state == C_IDLE && sending) {
			if (c->next_ns <= now) {
				n_requests++;
				c->attempt = 0;
				c->sent_ns = now;
				start_attempt(c);
			} else if (c->next_ns - now < wait) {
				wait = c->next_ns - now;
			}
		} else if (c->state != C_IDLE && now - c->sent_ns > limit) {
			close_conn(c);
			finish(c, false, "no whole answer in time");
		}
	}
	return ((int) (wait / 1000000u) + 1);
}

static bool
any_busy(const conn *conns)
{
	for (int i = 0; i < opt.conns; i++) {
		if (conns[i].state != C_IDLE) {
			return (true);
		}
	}
	return (false);
}

int
main(int argc, char **argv)
{
	conn    *conns;
	uint64_t end_ns;
	int      n;

	parse_args(argc, argv);
	load_body();
	n = snprintf(request, sizeof(request),
	    "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUser-Agent: " PROG "\r\n\r\n",
	    opt.path, opt.host, opt.port);
	if (n < 0 || (size_t) n >= sizeof(request)) {
		bad_usage("the path is too long:", opt.path);
	}
	request_len = (size_t) n;
	signal(SIGPIPE, SIG_IGN);
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
	    (conns = calloc((size_t) opt.conns, sizeof(*conns))) == NULL) {
		perror(PROG);
		return (1);
	}
	start_ns = now_ns();
	end_ns   = start_ns + (uint64_t) (opt.seconds * 1e9);
	for (int i = 0; i < opt.conns; i++) {
		conns[i].fd = -1;
		/* Spread over the first period, not all at once. */
		conns[i].next_ns = start_ns + (uint64_t) (1e9 * i / opt.rate);
		if ((conns[i].buf = malloc(MAX_HEAD + MAX_BODY + 1)) == NULL) {
			perror(PROG);
			return (1);
		}
	}
	for (;;) {
		struct epoll_event evs[64];
		bool               sending = now_ns() < end_ns;

		if (!sending && !any_busy(conns)) {
			break;
		}
		n = epoll_wait(ep, evs, 64, tick(conns, sending));
		if (n < 0 && errno != EINTR) {
			perror(PROG ": epoll_wait");
			return (1);
		}
		for (int i = 0; i < n; i++) {
			on_event(evs[i].data.ptr, evs[i].events);
		}
	}
	printf("requests=%llu ok=%llu failed=%llu retried=%llu connections=%llu "
	       "max_ms=%llu\n",
	    n_requests, n_ok, n_failed, n_retried, n_connections,
	    (unsigned long long) (max_ns / 1000000u));
	return (n_failed == 0 ? 0 : 1);
}
