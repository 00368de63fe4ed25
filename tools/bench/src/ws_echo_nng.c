/*
 * ws_echo_nng: the nng 1.5 peer of tools/bench/ws.  A ws:// stream
 * listener; each connection reads with nng_stream_recv and sends what it
 * got back with nng_stream_send, one at a time.  nng's ws stream reads
 * whole frames before it hands any byte over, and a receive takes what has
 * arrived, so with one message in flight a receive into room for the
 * largest message gets that message whole, and the send sends it back as
 * one message (binary: nng's stream sends nothing else).
 *
 *   ws_echo_nng PORT THREADS
 *
 * nng 1.5 has no run-time thread setting: THREADS is ignored (the driver
 * pins the process to 1 or 2 CPUs).  Prints "ready", runs until killed.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <nng/nng.h>

#define MAX_MSG (4u << 20) /* as for every peer */

typedef struct {
	nng_stream *s;
	nng_aio    *rx, *tx;
	/* Room for the largest message, as address space: pages come only
	 * when a large message is written (see ws_echo_nghttpw.c). */
	uint8_t *buf;
	size_t   len, sent; /* of the message being sent back */
} echo_conn;

static nng_stream_listener *listener;
static nng_aio             *accept_aio;

static void
conn_free(echo_conn *c)
{
	/* From a callback of c's own: nng_aio_free would wait for it. */
	nng_stream_close(c->s);
	nng_aio_reap(c->rx);
	nng_aio_reap(c->tx);
	nng_stream_free(c->s);
	munmap(c->buf, MAX_MSG);
	free(c);
}

static void
start_recv(echo_conn *c)
{
	nng_iov iov = { .iov_buf = c->buf, .iov_len = MAX_MSG };

	nng_aio_set_iov(c->rx, 1, &iov);
	nng_stream_recv(c->s, c->rx);
}

static void
send_rest(echo_conn *c)
{
	nng_iov iov = { .iov_buf = c->buf + c->sent, .iov_len = c->len - c->sent };

	nng_aio_set_iov(c->tx, 1, &iov);
	nng_stream_send(c->s, c->tx);
}

static void
rx_cb(void *arg)
{
	echo_conn *c = arg;

	if (nng_aio_result(c->rx) != 0) {
		conn_free(c);
		return;
	}
	c->len  = nng_aio_count(c->rx);
	c->sent = 0;
	send_rest(c);
}

/* A stream send of nng 1.5 sends one frame of at most
 * NNG_OPT_WS_SENDMAXFRAME bytes and may complete short: the rest goes in
 * sends of its own (which the frame limit below makes rare). */
static void
tx_cb(void *arg)
{
	echo_conn *c = arg;

	if (nng_aio_result(c->tx) != 0) {
		conn_free(c);
		return;
	}
	c->sent += nng_aio_count(c->tx);
	if (c->sent < c->len) {
		send_rest(c);
	} else {
		start_recv(c);
	}
}

static void
accept_cb(void *arg)
{
	echo_conn *c;

	(void) arg;
	if (nng_aio_result(accept_aio) == NNG_ECLOSED) {
		return;
	}
	if (nng_aio_result(accept_aio) == 0) {
		if ((c = calloc(1, sizeof(*c))) == NULL ||
		    (c->buf = mmap(NULL, MAX_MSG, PROT_READ | PROT_WRITE,
		         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)) == MAP_FAILED ||
		    nng_aio_alloc(&c->rx, rx_cb, c) != 0 ||
		    nng_aio_alloc(&c->tx, tx_cb, c) != 0) {
			fprintf(stderr, "ws_echo_nng: out of memory\n");
			exit(1);
		}
		c->s = nng_aio_get_output(accept_aio, 0);
		start_recv(c);
	}
	nng_stream_listener_accept(listener, accept_aio);
}

static void
die(const char *what, int rv)
{
	fprintf(stderr, "ws_echo_nng: %s: %s\n", what, nng_strerror(rv));
	exit(1);
}

int
main(int argc, char **argv)
{
	char url[64];
	int  rv;

	if (argc != 3) {
		fprintf(stderr, "usage: ws_echo_nng PORT THREADS\n");
		return 2;
	}
	snprintf(url, sizeof(url), "ws://127.0.0.1:%s/", argv[1]);
	if ((rv = nng_stream_listener_alloc(&listener, url)) != 0) {
		die("listener", rv);
	}
	if ((rv = nng_stream_listener_set_size(listener, NNG_OPT_RECVMAXSZ, MAX_MSG)) != 0 ||
	    (rv = nng_stream_listener_set_size(listener, NNG_OPT_WS_RECVMAXFRAME, MAX_MSG)) != 0 ||
	    (rv = nng_stream_listener_set_size(listener, NNG_OPT_WS_SENDMAXFRAME, MAX_MSG)) != 0) {
		die("options", rv);
	}
	if ((rv = nng_aio_alloc(&accept_aio, accept_cb, NULL)) != 0 ||
	    (rv = nng_stream_listener_listen(listener)) != 0) {
		die("listen", rv);
	}
	nng_stream_listener_accept(listener, accept_aio);
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		pause();
	}
}
