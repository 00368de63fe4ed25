/*
 * ws_soak_server: the server of the WebSocket soak (tools/soak/ws-run), a
 * ws:// listener on nghttpw's public API with short keep-alive timers, so
 * that a soak of minutes sees many pings and idle closes.
 *
 *   ws_soak_server [-P PING_MS] [-I IDLE_MS] [-t THREADS] [-u PATH]
 *
 * Listens on ws://127.0.0.1:0PATH (PATH default /ws) with
 * NGHTTPW_OPT_WS_PING_INTERVAL PING_MS (default 5000) and
 * NGHTTPW_OPT_WS_IDLE_TIMEOUT IDLE_MS (default 20000) set on the listener;
 * echoes every message, with its type, one at a time per connection,
 * always keeping a receive pending otherwise (so that pongs are read and
 * the idle timer sees them).  Prints "port=N" once it listens, then
 * every 10 s a line "heap t=SECONDS in_use_kB=N open=N" on standard
 * error: the bytes malloc has handed out and not had back (mallinfo2),
 * which tells a leak (it grows) from fragmentation (RSS grows, it does
 * not).  On SIGINT or SIGTERM closes everything, prints its counts
 * (accepted=, echoed=, ended=, open_at_stop=) and exits 0.
 *
 * nghttpw-serve --ws-echo has the library's defaults (ping after 150 s,
 * close after 300 s), too long for a soak of ten minutes, and no option
 * to change them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <malloc.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <nghttpw/nghttpw.h>
#include <nghttpw/ws.h>

#define PROG "ws_soak_server"
#define MSG_MAX 4096 /* the soak's messages are at most 2000 bytes */
#define HEAP_EVERY_S 10

/* One connection: its aio receives a message into buf, then sends it
 * back, in turn.  The list and the flags are under mtx. */
typedef struct conn {
	struct conn    *next, *prev;
	nghttpw_stream *s;
	nghttpw_aio    *aio;
	unsigned        flags;
	bool            sending;
	uint8_t         buf[MSG_MAX];
} conn;

static pthread_mutex_t          mtx = PTHREAD_MUTEX_INITIALIZER;
static conn                     conns = { .next = &conns, .prev = &conns };
static bool                     stopping;
static nghttpw_stream_listener *listener;
static nghttpw_aio             *accept_aio;
static uint64_t                 n_accepted, n_echoed, n_ended;

static void
recv_next(conn *c)
{
	nghttpw_iov iov = { c->buf, sizeof(c->buf) };

	c->sending = false;
	nghttpw_aio_set_iov(c->aio, 1, &iov);
	nghttpw_ws_recv_msg(c->s, &c->flags, c->aio);
}

static void
conn_cb(void *arg)
{
	conn *c  = arg;
	int   rv = nghttpw_aio_result(c->aio);

	pthread_mutex_lock(&mtx);
	if (stopping) {
		/* main stops and frees it */
	} else if (rv != 0) {
		/* Closed by the peer or by the idle timer, or failed. */
		c->prev->next = c->next;
		c->next->prev = c->prev;
		n_ended++;
		nghttpw_aio_reap(c->aio); /* from its own callback */
		nghttpw_stream_free(c->s);
		free(c);
	} else if (!c->sending) {
		nghttpw_iov iov = { c->buf, nghttpw_aio_count(c->aio) };
		nghttpw_aio_set_iov(c->aio, 1, &iov);
		c->sending = true;
		nghttpw_ws_send_msg(c->s, c->flags, c->aio);
	} else {
		n_echoed++;
		recv_next(c);
	}
	pthread_mutex_unlock(&mtx);
}

static void
accept_cb(void *arg)
{
	int   rv = nghttpw_aio_result(accept_aio);
	conn *c;

	(void) arg;
	if (rv != 0) {
		if (rv != NGHTTPW_ECLOSED) {
			/* Out of files, say: say so and go on accepting. */
			fprintf(stderr, PROG ": accept: %s\n", nghttpw_strerror(rv));
			nghttpw_stream_listener_accept(listener, accept_aio);
		}
		return;
	}
	nghttpw_stream *s = nghttpw_aio_get_output(accept_aio, 0);
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    nghttpw_aio_alloc(&c->aio, conn_cb, c) != 0) {
		fprintf(stderr, PROG ": out of memory\n");
		exit(1);
	}
	c->s = s;
	pthread_mutex_lock(&mtx);
	n_accepted++;
	c->prev          = conns.prev;
	c->next          = &conns;
	conns.prev->next = c;
	conns.prev       = c;
	recv_next(c);
	if (!stopping) {
		nghttpw_stream_listener_accept(listener, accept_aio);
	}
	pthread_mutex_unlock(&mtx);
}

static void
print_heap(void)
{
	struct mallinfo2 mi = mallinfo2();
	struct timespec  ts;
	uint64_t         open;

	clock_gettime(CLOCK_REALTIME, &ts);
	pthread_mutex_lock(&mtx);
	open = n_accepted - n_ended;
	pthread_mutex_unlock(&mtx);
	fprintf(stderr, "heap t=%lld in_use_kB=%zu open=%llu\n", (long long) ts.tv_sec,
	    mi.uordblks / 1024, (unsigned long long) open);
}

static void
check(const char *what, int rv)
{
	if (rv != 0) {
		fprintf(stderr, PROG ": %s: %s\n", what, nghttpw_strerror(rv));
		exit(1);
	}
}

static long
num(const char *s)
{
	char *end;
	long  v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || v <= 0) {
		fprintf(stderr, "usage: " PROG " [-P PING_MS] [-I IDLE_MS] [-t THREADS] [-u PATH]\n");
		exit(2);
	}
	return v;
}

int
main(int argc, char **argv)
{
	long          ping_ms = 5000, idle_ms = 20000, threads = 0;
	const char   *path = "/ws";
	char          url[256];
	struct rlimit rl;
	sigset_t      sigs;
	int           ch, sig, port, open_at_stop = 0;

	while ((ch = getopt(argc, argv, "P:I:t:u:")) != -1) {
		switch (ch) {
		case 'P': ping_ms = num(optarg); break;
		case 'I': idle_ms = num(optarg); break;
		case 't': threads = num(optarg); break;
		case 'u': path = optarg; break;
		default: num("");
		}
	}
	if (optind != argc || path[0] != '/') {
		num("");
	}
	/* Before any thread exists, so that all inherit the mask. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* One descriptor per connection, and there are thousands. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (threads > 0) {
		nghttpw_init_set_parameter(
		    NGHTTPW_INIT_NUM_POLLER_THREADS, (uint64_t) threads);
	}
	snprintf(url, sizeof(url), "ws://127.0.0.1:0%s", path);
	check("listener", nghttpw_stream_listener_alloc(&listener, url));
	check("ping interval", nghttpw_stream_listener_set_ms(
	                           listener, NGHTTPW_OPT_WS_PING_INTERVAL, ping_ms));
	check("idle timeout", nghttpw_stream_listener_set_ms(
	                          listener, NGHTTPW_OPT_WS_IDLE_TIMEOUT, idle_ms));
	check("message size",
	    nghttpw_stream_listener_set_size(listener, NGHTTPW_OPT_RECVMAXSZ, MSG_MAX));
	check("accept aio", nghttpw_aio_alloc(&accept_aio, accept_cb, NULL));
	check("listen", nghttpw_stream_listener_listen(listener));
	check("bound port",
	    nghttpw_stream_listener_get_int(listener, NGHTTPW_OPT_TCP_BOUND_PORT, &port));
	nghttpw_stream_listener_accept(listener, accept_aio);
	printf("port=%d\n", port);
	fflush(stdout);

	for (;;) {
		struct timespec every = { HEAP_EVERY_S, 0 };
		if ((sig = sigtimedwait(&sigs, NULL, &every)) > 0) {
			break;
		}
		if (errno == EAGAIN) {
			print_heap();
		}
	}

	pthread_mutex_lock(&mtx);
	stopping = true; /* the callbacks leave the list alone now */
	pthread_mutex_unlock(&mtx);
	nghttpw_stream_listener_close(listener);
	nghttpw_aio_stop(accept_aio);
	/* Each stream's close fails its aio; stop waits for the callback. */
	for (conn *c = conns.next, *next; c != &conns; c = next) {
		next = c->next;
		nghttpw_stream_close(c->s);
		nghttpw_aio_stop(c->aio);
		nghttpw_aio_free(c->aio);
		nghttpw_stream_free(c->s);
		free(c);
		open_at_stop++;
	}
	nghttpw_aio_free(accept_aio);
	nghttpw_stream_listener_free(listener);
	printf("accepted=%llu echoed=%llu ended=%llu open_at_stop=%d\n",
	    (unsigned long long) n_accepted, (unsigned long long) n_echoed,
	    (unsigned long long) n_ended, open_at_stop);
	return 0;
}
