/*
 * ws_echo_nghttpw: the nghttpw WebSocket echo server of tools/bench/ws.
 * A ws:// listener on the public API; every connection receives whole
 * messages with nghttpw_ws_recv_msg and sends each back, with its type,
 * with nghttpw_ws_send_msg, one at a time.
 *
 *   ws_echo_nghttpw PORT THREADS [deflate]
 *
 * THREADS: nghttpw's I/O threads.  deflate: permessage-deflate on (exits 3
 * when this nghttpw has no NGHTTPW_OPT_WS_DEFLATE).  Prints "ready" and
 * runs until SIGINT/SIGTERM.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <nghttpw/nghttpw.h>
#include <nghttpw/ws.h>

/* Messages of up to 4 MiB, so that the 1 MiB ones of the throughput test
 * fit with room to spare. */
#define MAX_MSG (4u << 20)
/* Small messages land here, inside the connection's own allocation. */
#define INLINE_BYTES 256

typedef struct {
	nghttpw_stream *s;
	nghttpw_aio    *rx, *tx;
	unsigned        flags;
	/* nghttpw_ws_recv_msg wants room for the largest message up front.
	 * That room is address space from mmap: the kernel gives it pages
	 * only when a large message is written into it, so an idle
	 * connection costs what the library keeps for it, not 4 MiB. */
	uint8_t *big;
	uint8_t  small[INLINE_BYTES];
} echo_conn;

static nghttpw_stream_listener *listener;
static nghttpw_aio             *accept_aio;

static void
conn_free(echo_conn *c)
{
	/* From one of its own callbacks: the library frees the aios later. */
	nghttpw_aio_reap(c->rx);
	nghttpw_aio_reap(c->tx);
	nghttpw_stream_free(c->s);
	munmap(c->big, MAX_MSG - INLINE_BYTES);
	free(c);
}

static void
start_recv(echo_conn *c)
{
	nghttpw_iov iov[2] = { { c->small, INLINE_BYTES },
		{ c->big, MAX_MSG - INLINE_BYTES } };

	nghttpw_aio_set_iov(c->rx, 2, iov);
	nghttpw_ws_recv_msg(c->s, &c->flags, c->rx);
}

static void
rx_cb(void *arg)
{
	echo_conn  *c = arg;
	size_t      n = nghttpw_aio_count(c->rx);
	nghttpw_iov iov[2];
	unsigned    niov = 1;

	if (nghttpw_aio_result(c->rx) != 0) {
		conn_free(c);
		return;
	}
	iov[0].iov_buf = c->small;
	iov[0].iov_len = n < INLINE_BYTES ? n : INLINE_BYTES;
	if (n > INLINE_BYTES) {
		iov[1].iov_buf = c->big;
		iov[1].iov_len = n - INLINE_BYTES;
		niov           = 2;
	}
	nghttpw_aio_set_iov(c->tx, niov, iov);
	nghttpw_ws_send_msg(c->s, c->flags, c->tx);
}

static void
tx_cb(void *arg)
{
	echo_conn *c = arg;

	if (nghttpw_aio_result(c->tx) != 0) {
		conn_free(c);
		return;
	}
	start_recv(c);
}

static void
accept_cb(void *arg)
{
	int        rv = nghttpw_aio_result(accept_aio);
	echo_conn *c;

	(void) arg;
	if (rv == NGHTTPW_ECLOSED) {
		return;
	}
	if (rv == 0) {
		nghttpw_stream *s = nghttpw_aio_get_output(accept_aio, 0);
		if ((c = calloc(1, sizeof(*c))) == NULL ||
		    (c->big = mmap(NULL, MAX_MSG - INLINE_BYTES, PROT_READ | PROT_WRITE,
		         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)) == MAP_FAILED ||
		    nghttpw_aio_alloc(&c->rx, rx_cb, c) != 0 ||
		    nghttpw_aio_alloc(&c->tx, tx_cb, c) != 0) {
			fprintf(stderr, "ws_echo_nghttpw: out of memory\n");
			exit(1);
		}
		c->s = s;
		start_recv(c);
	}
	nghttpw_stream_listener_accept(listener, accept_aio);
}

static void
die(const char *what, int rv)
{
	fprintf(stderr, "ws_echo_nghttpw: %s: %s\n", what, nghttpw_strerror(rv));
	exit(1);
}

int
main(int argc, char **argv)
{
	sigset_t sigs;
	char     url[64];
	int      rv, sig;

	if (argc != 3 && !(argc == 4 && strcmp(argv[3], "deflate") == 0)) {
		fprintf(stderr, "usage: ws_echo_nghttpw PORT THREADS [deflate]\n");
		return 2;
	}
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	nghttpw_init_set_parameter(
	    NGHTTPW_INIT_NUM_POLLER_THREADS, strtoull(argv[2], NULL, 10));
	snprintf(url, sizeof(url), "ws://127.0.0.1:%s/", argv[1]);
	if ((rv = nghttpw_stream_listener_alloc(&listener, url)) != 0) {
		die("listener", rv);
	}
	if ((rv = nghttpw_stream_listener_set_size(listener, NGHTTPW_OPT_RECVMAXSZ, MAX_MSG)) != 0 ||
	    (rv = nghttpw_stream_listener_set_size(listener, NGHTTPW_OPT_WS_RECVMAXFRAME, MAX_MSG)) != 0) {
		die("options", rv);
	}
	if (argc == 4) {
#ifdef NGHTTPW_OPT_WS_DEFLATE
		if ((rv = nghttpw_stream_listener_set_bool(listener, NGHTTPW_OPT_WS_DEFLATE, true)) != 0) {
			die("deflate", rv);
		}
#else
		fprintf(stderr, "ws_echo_nghttpw: this nghttpw has no NGHTTPW_OPT_WS_DEFLATE\n");
		return 3;
#endif
	}
	if ((rv = nghttpw_aio_alloc(&accept_aio, accept_cb, NULL)) != 0 ||
	    (rv = nghttpw_stream_listener_listen(listener)) != 0) {
		die("listen", rv);
	}
	nghttpw_stream_listener_accept(listener, accept_aio);
	printf("ready\n");
	fflush(stdout);
	do {
		rv = sigwait(&sigs, &sig);
	} while (rv == EINTR);
	nghttpw_stream_listener_close(listener);
	nghttpw_aio_stop(accept_aio);
	nghttpw_stream_listener_free(listener);
	nghttpw_aio_free(accept_aio);
	return 0;
}
