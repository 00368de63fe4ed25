/*
 * ws_soak: many WebSocket connections held open against a server that
 * pings and closes idle peers (tools/soak/ws_soak_server), on raw sockets
 * and one epoll loop.
 *
 *   ws_soak -p PORT [-a ADDR] [-u PATH] [-c CONNS] [-e ECHO] [-i IDLE]
 *           [-P PING_MS] [-I IDLE_MS] [-m MARGIN_MS] [-E ECHO_MS]
 *           [-s SOURCES] [-T SECONDS] [-v]
 *
 * Opens CONNS connections (default 10000) from SOURCES local addresses
 * 127.0.0.2, 127.0.0.3, ... (default 32, so that no address runs out of
 * ports) to ADDR:PORT (default 127.0.0.1), path PATH (default /ws).  Of
 * them, chosen at random:
 *   - IDLE (default 500) never send anything after the handshake: the
 *     server must close each with 1001 IDLE_MS (default 20000) after it
 *     opened, no later than MARGIN_MS (default 2000) past that; each
 *     closed one answers the close, waits for the server to end the TCP
 *     connection and connects again, silent again;
 *   - ECHO (default 1000) answer pings and send a message every ECHO_MS
 *     (default 8000) on average (1 to 2000 bytes, text or binary, in one
 *     or two frames), each checked against its echo;
 *   - the rest answer pings and send nothing else: they must stay open
 *     and see one ping per PING_MS (default 5000).
 * Once every connection has been opened ("up"), the soak holds them for
 * SECONDS (default 600), then closes them all with 1000 and checks that
 * the server answers each close and ends the connection.
 *
 * Prints key=value lines on standard output: up_at= and end_at= (the wall
 * clock, seconds) when they happen, then the counts (see
 * ws_soak_report.c); with -v, progress every 10 s on standard error.
 * Exits 0 when every check passed, 1 otherwise, 2 on bad arguments.
 *
 * Bounded: a connection's handshake has 10 s, an echo 10 s, a closing
 * handshake 10 s, the ramp-up 120 s; an idle connection not closed by
 * IDLE_MS + MARGIN_MS + 10 s counts as missing and is dropped.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ws_soak.h"

#define HANDSHAKE_MS 10000
#define ECHO_REPLY_MS 10000
#define CLOSE_WAIT_MS 10000
#define RAMP_MAX_MS 120000
#define MISSING_AFTER_MS 10000 /* past the margin: the close never came */
#define MAX_INFLIGHT 200       /* handshakes at once while ramping up */
#define ECHO_MAX 2000
#define TICK_MS 50

soak_opts opt = { "127.0.0.1", "/ws", 0, 10000, 1000, 500, 32, 0, 5000, 20000,
	2000, 8000, 600 };
soak_stats st;
wconn     *conns;
int        connecting;

static int      ep;
static uint64_t rng = 0x9E3779B97F4A7C15ULL;
static uint8_t  rbuf[65536];

static int64_t
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double
wall_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint32_t
rnd(uint32_t below)
{
	return ws_next_key(&rng) % below;
}

void
die(const char *what)
{
	fprintf(stderr, PROG ": %s: %s\n", what, strerror(errno));
	exit(1);
}

/* Ends the socket (the slot stays, in state next). */
static void
drop(wconn *c, state next)
{
	if (c->state == S_CONNECTING || c->state == S_HANDSHAKE) {
		connecting--;
	}
	if (c->fd >= 0) {
		close(c->fd); /* also takes it out of the epoll set */
	}
	c->fd = -1;
	free(c->head);
	free(c->out);
	free(c->echo);
	c->head = NULL;
	c->out = c->echo = NULL;
	c->out_len = c->head_len = 0;
	c->echo_waiting          = false;
	c->state                 = next;
}

static void
want_write(wconn *c, bool on)
{
	struct epoll_event ev = { .events = EPOLLIN | (on ? EPOLLOUT : 0),
		.data.ptr = c };
	epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Sends bytes in order; what the socket does not take waits for EPOLLOUT. */
static void
send_bytes(wconn *c, const void *p, size_t n)
{
	ssize_t w = 0;

	if (c->out_len == 0) {
		w = write(c->fd, p, n);
		if (w < 0 && errno != EAGAIN) {
			return; /* the read side will see the end */
		}
		if (w < 0) {
			w = 0;
		}
	}
	if ((size_t) w < n) {
		uint8_t *o = realloc(c->out, c->out_len + n - (size_t) w);
		if (o == NULL) {
			die("realloc");
		}
		memcpy(o + c->out_len, (const uint8_t *) p + w, n - (size_t) w);
		c->out = o;
		if (c->out_len == 0) {
			want_write(c, true);
		}
		c->out_len += n - (size_t) w;
	}
}

static void
send_frame(wconn *c, int op, bool fin, const void *p, size_t n)
{
	uint8_t f[WS_FRAME_HDR_MAX + ECHO_MAX];

	send_bytes(c, f, ws_frame(f, op, fin, p, n, ws_next_key(&rng)));
}

static void
send_close(wconn *c, unsigned code)
{
	uint8_t p[2] = { (uint8_t) (code >> 8), (uint8_t) code };
	send_frame(c, WS_OP_CLOSE, true, p, 2);
}

static void
start_connect(wconn *c, int slot)
{
	struct sockaddr_in src = { .sin_family = AF_INET }, dst = src;
	struct epoll_event ev  = { .events = EPOLLOUT | EPOLLIN, .data.ptr = c };
	int                one = 1;

	memset(&c->rx, 0, sizeof(c->rx));
	c->pings = 0;
	c->state = S_CONNECTING;
	c->got_close = false;
	c->deadline  = now_ms() + HANDSHAKE_MS;
	connecting++;
	if ((c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0) {
		die("socket");
	}
	/* The port is picked at connect(), for this destination only. */
	setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
	src.sin_addr.s_addr = htonl(0x7f000002u + (uint32_t) (slot % opt.sources));
	dst.sin_port        = htons((uint16_t) opt.port);
	inet_pton(AF_INET, opt.addr, &dst.sin_addr);
	if (bind(c->fd, (struct sockaddr *) &src, sizeof(src)) != 0) {
		die("bind");
	}
	if (connect(c->fd, (struct sockaddr *) &dst, sizeof(dst)) != 0 &&
	    errno != EINPROGRESS) {
		st.connect_errors++;
		fprintf(stderr, PROG ": connect: %s\n", strerror(errno));
		drop(c, S_FREE);
		return;
	}
	if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
		die("epoll_ctl");
	}
}

/* The connection is up: sends the upgrade request. */
static void
on_connected(wconn *c)
{
	char   req[512];
	size_t n;
	int    err = 0;

	socklen_t len = sizeof(err);
	getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
	n = ws_request(req, sizeof(req), opt.addr, opt.port, opt.path, c->key);
	if (err != 0 || n == 0 || write(c->fd, req, n) != (ssize_t) n) {
		st.connect_errors++;
		fprintf(stderr, PROG ": connect: %s\n", strerror(err ? err : errno));
		drop(c, S_FREE);
		return;
	}
	if ((c->head = malloc(WS_HEAD_MAX)) == NULL) {
		die("malloc");
	}
	c->state = S_HANDSHAKE;
	want_write(c, false);
}

static void
send_echo(wconn *c, int64_t now)
{
	size_t len = 1 + rnd(ECHO_MAX);
	bool   text = rnd(2) == 0;

	if ((c->echo = malloc(len)) == NULL) {
		die("malloc");
	}
	for (size_t i = 0; i < len; i++) {
		c->echo[i] = text ? (uint8_t) (' ' + rnd(95)) : (uint8_t) rnd(256);
	}
	c->echo_len     = len;
	c->echo_got     = 0;
	c->echo_op      = text ? WS_OP_TEXT : WS_OP_BINARY;
	c->echo_waiting = true;
	c->deadline     = now + ECHO_REPLY_MS;
	if (len > 500) { /* two frames: the server must put them together */
		send_frame(c, c->echo_op, false, c->echo, len / 2);
		send_frame(c, WS_OP_CONT, true, c->echo + len / 2, len - len / 2);
	} else {
		send_frame(c, c->echo_op, true, c->echo, len);
	}
	st.echo_sent++;
}

/* The server's close frame. */
static int
on_close(wconn *c, const uint8_t *p, size_t n)
{
	unsigned code = n >= 2 ? (unsigned) p[0] << 8 | p[1] : 1005;
	int64_t  now  = now_ms();

	if (c->state == S_CLOSING) {
		c->got_close = true; /* the answer to ours */
		return 0;
	}
	if (c->state != S_OPEN) {
		return 0;
	}
	if (c->kind == K_IDLE) {
		int64_t late = now - c->t_open - opt.idle_ms;
		st.idle_closes++;
		record_lateness(late);
		st.idle_late += late > opt.margin_ms;
		st.idle_early += late < -EARLY_MS;
		st.idle_wrong_code += code != 1001;
		/* One ping, after PING_MS of silence, and no second one until
		 * something is read again. */
		st.idle_pings_odd += c->pings != (opt.ping_ms < opt.idle_ms ? 1u : 0u);
	} else {
		st.live_closed++;
		fprintf(stderr, PROG ": the server closed a %s connection with %u\n",
		    c->kind == K_ECHO ? "echo" : "live", code);
	}
	send_close(c, code == 1005 ? 1000 : code);
	c->state    = S_CLOSE_WAIT;
	c->deadline = now + CLOSE_WAIT_MS;
	return 0;
}

static int
on_control(void *arg, int op, const uint8_t *p, size_t n)
{
	wconn *c = arg;

	if (op == WS_OP_CLOSE) {
		return on_close(c, p, n);
	}
	if (op != WS_OP_PING || c->state != S_OPEN) {
		return 0; /* pongs are not asked for; late pings do not matter */
	}
	c->pings++;
	if (c->kind == K_ECHO) {
		st.pings_echo++;
	}
	if (c->kind != K_IDLE) {
		send_frame(c, WS_OP_PONG, true, p, n);
		st.pongs_sent++;
	}
	return 0;
}

static int
on_data(void *arg, int op, bool fin, const uint8_t *p, size_t n, bool end)
{
	wconn *c = arg;

	if (c->state != S_OPEN) {
		return 0; /* data after a close is dropped, as RFC 6455 says */
	}
	if (!c->echo_waiting || (c->echo_got == 0 && op != c->echo_op) ||
	    (c->echo_got > 0 && op != WS_OP_CONT) || c->echo_got + n > c->echo_len ||
	    memcmp(c->echo + c->echo_got, p, n) != 0) {
		if (c->echo_waiting) {
			st.echo_bad++;
		} else {
			st.unexpected++;
		}
		fprintf(stderr, PROG ": a message that is not the echo\n");
		return -1;
	}
	c->echo_got += n;
	if (end && fin) {
		if (c->echo_got != c->echo_len) {
			st.echo_bad++;
			return -1;
		}
		st.echo_ok++;
		free(c->echo);
		c->echo         = NULL;
		c->echo_waiting = false;
		c->next_echo    = now_ms() + opt.echo_ms / 2 + rnd((uint32_t) opt.echo_ms);
	}
	return 0;
}

static const ws_rx_fns rx_fns = { on_control, on_data };

/* Frames read; a bad one, or one the callbacks refused (they counted
 * it), ends the connection for good. */
static void
feed(wconn *c, const uint8_t *p, size_t n)
{
	int rv = ws_rx_feed(&c->rx, p, n, &rx_fns, c);

	if (rv == -1) {
		st.bad_frames++;
		fprintf(stderr, PROG ": a frame a server may not send\n");
	}
	if (rv != 0) {
		drop(c, S_DEAD);
	}
}

/* The server ended the connection (or it failed). */
static void
on_eof(wconn *c, int slot, bool running)
{
	int64_t now = now_ms();

	if (c->state == S_CLOSE_WAIT) {
		int64_t took = now - (c->deadline - CLOSE_WAIT_MS);
		if (took > st.eof_max) {
			st.eof_max = took;
		}
		drop(c, S_FREE);
		if (c->kind == K_IDLE && running) {
			start_connect(c, slot); /* silent again */
		} else {
			c->state = S_DEAD;
		}
		return;
	}
	if (c->state == S_CLOSING) {
		if (c->got_close) {
			st.end_clean++;
		} else {
			st.end_unclean++;
		}
	} else if (c->state == S_HANDSHAKE || c->state == S_CONNECTING) {
		st.connect_errors++;
		fprintf(stderr, PROG ": the handshake failed\n");
		drop(c, S_FREE);
		return;
	} else if (c->kind == K_IDLE) {
		st.idle_missing++; /* ended without the 1001 */
	} else {
		st.live_eof++;
	}
	drop(c, S_DEAD);
}

static void
on_readable(wconn *c, int slot, bool running)
{
	ssize_t r;

	if (c->state == S_HANDSHAKE) {
		r = read(c->fd, c->head + c->head_len, WS_HEAD_MAX - c->head_len);
		if (r <= 0) {
			if (r < 0 && errno == EAGAIN) {
				return;
			}
			on_eof(c, slot, running);
			return;
		}
		c->head_len += (size_t) r;
		long hl = ws_answer(c->head, c->head_len, c->key);
		if (hl == 0) {
			return;
		}
		if (hl < 0) {
			const char *eol = memchr(c->head, '\r', c->head_len);
			fprintf(stderr, PROG ": a bad answer to the upgrade: %.*s\n",
			    (int) (eol ? eol - c->head : (long) c->head_len), c->head);
			st.connect_errors++;
			drop(c, S_FREE);
			return;
		}
		connecting--;
		c->state     = S_OPEN;
		c->opened    = true;
		c->t_open    = now_ms();
		c->next_echo = c->t_open + rnd((uint32_t) opt.echo_ms);
		size_t extra = c->head_len - (size_t) hl;
		memcpy(rbuf, c->head + hl, extra);
		free(c->head);
		c->head = NULL;
		if (extra > 0) {
			feed(c, rbuf, extra);
		}
		return;
	}
	r = read(c->fd, rbuf, sizeof(rbuf));
	if (r < 0 && errno == EAGAIN) {
		return;
	}
	if (r <= 0) {
		on_eof(c, slot, running);
	} else {
		feed(c, rbuf, (size_t) r);
	}
}

static void
on_writable(wconn *c)
{
	if (c->state == S_CONNECTING) {
		on_connected(c);
		return;
	}
	ssize_t w = write(c->fd, c->out, c->out_len);
	if (w > 0) {
		memmove(c->out, c->out + w, c->out_len - (size_t) w);
		c->out_len -= (size_t) w;
	}
	if (c->out_len == 0 || (w < 0 && errno != EAGAIN)) {
		c->out_len = 0;
		want_write(c, false);
	}
}

typedef enum { P_RAMP, P_STEADY, P_ENDING } phase;

/* Deadlines, connects and echoes: once every TICK_MS over every slot. */
static void
tick(int64_t now, phase ph)
{
	bool running = ph != P_ENDING;

	for (int i = 0; i < opt.conns; i++) {
		wconn *c = &conns[i];
		switch (c->state) {
		case S_FREE:
			if (running && connecting < MAX_INFLIGHT) {
				start_connect(c, i);
			}
			break;
		case S_CONNECTING:
		case S_HANDSHAKE:
			if (now > c->deadline) {
				st.connect_errors++;
				fprintf(stderr, PROG ": a handshake timed out\n");
				drop(c, running ? S_FREE : S_DEAD);
			}
			break;
		case S_OPEN:
			if (c->kind == K_IDLE &&
			    now > c->t_open + opt.idle_ms + opt.margin_ms + MISSING_AFTER_MS) {
				st.idle_missing++;
				fprintf(stderr, PROG ": an idle connection was never closed\n");
				drop(c, running ? S_FREE : S_DEAD);
			} else if (c->kind == K_ECHO && c->echo_waiting && now > c->deadline) {
				st.echo_timeout++;
				fprintf(stderr, PROG ": an echo did not come back\n");
				drop(c, S_DEAD);
			} else if (c->kind == K_ECHO && !c->echo_waiting && running &&
			    now >= c->next_echo) {
				send_echo(c, now);
			}
			break;
		case S_CLOSE_WAIT:
			if (now > c->deadline) {
				st.eof_slow++;
				fprintf(stderr, PROG ": the server kept a closed connection\n");
				drop(c, c->kind == K_IDLE && running ? S_FREE : S_DEAD);
			}
			break;
		case S_CLOSING:
			if (now > c->deadline) {
				st.end_unclean++;
				drop(c, S_DEAD);
			}
			break;
		case S_DEAD:
			break;
		}
	}
}

/* Closes every open connection with 1000; the rest are let go. */
static void
close_all(int64_t now)
{
	for (int i = 0; i < opt.conns; i++) {
		wconn *c = &conns[i];
		if (c->state == S_OPEN) {
			send_close(c, 1000);
			c->state    = S_CLOSING;
			c->deadline = now + CLOSE_WAIT_MS;
		} else if (c->state != S_CLOSE_WAIT) {
			drop(c, S_DEAD);
		}
	}
}

static bool
any_closing(void)
{
	for (int i = 0; i < opt.conns; i++) {
		if (conns[i].state == S_CLOSING || conns[i].state == S_CLOSE_WAIT) {
			return true;
		}
	}
	return false;
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: " PROG " -p PORT [-a ADDR] [-u PATH] [-c CONNS] [-e ECHO] [-i IDLE]\n"
	    "       [-P PING_MS] [-I IDLE_MS] [-m MARGIN_MS] [-E ECHO_MS] [-s SOURCES]\n"
	    "       [-T SECONDS] [-v]\n");
	exit(2);
}

static int64_t
num(const char *s, int64_t lo, int64_t hi)
{
	char     *end;
	long long v = strtoll(s, &end, 10);
	if (*s == '\0' || *end != '\0' || v < lo || v > hi) {
		usage();
	}
	return v;
}

static void
parse_args(int argc, char **argv)
{
	int ch;

	while ((ch = getopt(argc, argv, "a:p:u:c:e:i:P:I:m:E:s:T:v")) != -1) {
		switch (ch) {
		case 'a': opt.addr = optarg; break;
		case 'u': opt.path = optarg; break;
		case 'p': opt.port = (int) num(optarg, 1, 65535); break;
		case 'c': opt.conns = (int) num(optarg, 1, 1000000); break;
		case 'e': opt.echo_n = (int) num(optarg, 0, 1000000); break;
		case 'i': opt.idle_n = (int) num(optarg, 0, 1000000); break;
		case 'P': opt.ping_ms = num(optarg, 100, 3600000); break;
		case 'I': opt.idle_ms = num(optarg, 100, 3600000); break;
		case 'm': opt.margin_ms = num(optarg, 0, 3600000); break;
		case 'E': opt.echo_ms = num(optarg, 10, 3600000); break;
		case 's': opt.sources = (int) num(optarg, 1, 250); break;
		case 'T': opt.run_s = num(optarg, 1, 86400); break;
		case 'v': opt.verbose = 1; break;
		default: usage();
		}
	}
	if (optind != argc || opt.port == 0 || opt.echo_n + opt.idle_n > opt.conns) {
		usage();
	}
	struct in_addr a;
	if (inet_pton(AF_INET, opt.addr, &a) != 1) {
		fprintf(stderr, PROG ": -a wants an IPv4 address\n");
		exit(2);
	}
}

/* Kinds shuffled over the slots, so that each kind is spread over the
 * ramp-up and the source addresses. */
static void
make_conns(void)
{
	if ((conns = calloc((size_t) opt.conns, sizeof(*conns))) == NULL) {
		die("calloc");
	}
	for (int i = 0; i < opt.conns; i++) {
		conns[i].fd   = -1;
		conns[i].kind = i < opt.idle_n ? K_IDLE
		    : i < opt.idle_n + opt.echo_n ? K_ECHO : K_LIVE;
	}
	for (int i = opt.conns - 1; i > 0; i--) {
		int  j            = (int) rnd((uint32_t) i + 1);
		kind k            = conns[i].kind;
		conns[i].kind     = conns[j].kind;
		conns[j].kind     = k;
	}
}

int
main(int argc, char **argv)
{
	struct epoll_event evs[1024];
	struct rlimit      rl;
	phase              ph = P_RAMP;
	int64_t            t0, t_up = 0, t_end = 0, next_tick = 0, next_progress;
	uint64_t           echo_abandoned = 0;
	bool               up             = false;

	parse_args(argc, argv);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < (rlim_t) opt.conns + 64) {
		fprintf(stderr, PROG ": %d connections need more open files than %llu\n",
		    opt.conns, (unsigned long long) rl.rlim_cur);
		return 1;
	}
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0) {
		die("epoll_create1");
	}
	rng ^= (uint64_t) getpid() << 17 ^ (uint64_t) now_ms();
	make_conns();
	printf("conns=%d live=%d echo=%d idle=%d sources=%d ping_ms=%lld idle_ms=%lld "
	       "margin_ms=%lld\n",
	    opt.conns, opt.conns - opt.echo_n - opt.idle_n, opt.echo_n, opt.idle_n,
	    opt.sources, (long long) opt.ping_ms, (long long) opt.idle_ms,
	    (long long) opt.margin_ms);
	t0            = now_ms();
	next_progress = t0 + 10000;
	for (;;) {
		int     n   = epoll_wait(ep, evs, 1024, TICK_MS);
		int64_t now = now_ms();
		for (int i = 0; i < n; i++) {
			wconn *c = evs[i].data.ptr;
			if (c->fd < 0) {
				continue; /* dropped by an earlier event of this batch */
			}
			if (evs[i].events & EPOLLOUT) {
				on_writable(c);
			}
			if (c->fd >= 0 && (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) &&
			    c->state != S_CONNECTING) {
				on_readable(c, (int) (c - conns), ph != P_ENDING);
			}
		}
		if (now < next_tick) {
			continue;
		}
		next_tick = now + TICK_MS;
		tick(now, ph);
		if (opt.verbose && now >= next_progress) {
			progress(ph == P_RAMP ? "ramp" : ph == P_STEADY ? "steady" : "ending",
			    now - (ph == P_RAMP ? t0 : ph == P_STEADY ? t_up : t_end));
			next_progress = now + 10000;
		}
		if (ph == P_RAMP) {
			int opened = 0;
			for (int i = 0; i < opt.conns; i++) {
				opened += conns[i].opened;
			}
			if (opened == opt.conns) {
				up   = true;
				t_up = now;
				ph   = P_STEADY;
				printf("up_at=%.3f ramp_s=%.1f\n", wall_s(), (now - t0) / 1e3);
			} else if (now - t0 > RAMP_MAX_MS) {
				fprintf(stderr, PROG ": only %d of %d up after %d s\n", opened,
				    opt.conns, RAMP_MAX_MS / 1000);
				ph = P_STEADY;
				t_up = now - opt.run_s * 1000;
			}
		} else if (ph == P_STEADY && now - t_up >= opt.run_s * 1000) {
			ph    = P_ENDING;
			t_end = now;
			printf("end_at=%.3f steady_s=%.1f\n", wall_s(), (now - t_up) / 1e3);
			count_live_pings(now);
			for (int i = 0; i < opt.conns; i++) {
				echo_abandoned += conns[i].echo_waiting && conns[i].state == S_OPEN;
			}
			close_all(now);
		} else if (ph == P_ENDING && !any_closing()) {
			break;
		}
	}
	printf("closed_at=%.3f\n", wall_s());
	return report(up, echo_abandoned) ? 0 : 1;
}
