/*
 * nghttpw-demo: a loopback echo through nghttpw's public stream API.
 *
 * A listener is started on tcp://127.0.0.1:0 (the kernel picks the port),
 * a dialer connects to it, the client sends a message and the server side
 * sends every byte back.  The echo must match what was sent, byte for byte.
 *
 * Everything is done in the synchronous style: each aio has no callback,
 * an operation is started and then waited for with nghttpw_aio_wait().
 * Only include/nghttpw/nghttpw.h is used; no internal header.
 */
#define _POSIX_C_SOURCE 200809L

#include <nghttpw/nghttpw.h>

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEMO_NAME "nghttpw-demo"
#define DEMO_URL "tcp://127.0.0.1:0"
#define DEMO_TIMEOUT_MS 5000
#define DEMO_CHUNK 16384
#define DEMO_DEFAULT_SIZE 65536
#define DEMO_MAX_SIZE (64UL * 1024 * 1024)

struct demo {
	nghttpw_stream_listener *listener;
	nghttpw_stream_dialer   *dialer;
	nghttpw_stream          *client;
	nghttpw_stream          *server;
	nghttpw_aio             *client_aio;
	nghttpw_aio             *server_aio;
	unsigned char           *msg;  /* what the client sends */
	unsigned char           *echo; /* what the client gets back */
	unsigned char           *buf;  /* the server's buffer */
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: " DEMO_NAME " [--size BYTES] [--help]\n"
	    "\n"
	    "Listens on " DEMO_URL " (a port the kernel picks), dials it,\n"
	    "sends BYTES bytes (default %d) from the client, echoes them back\n"
	    "from the server in chunks of up to %d bytes, and checks that the\n"
	    "echo is byte-exact.  Prints the port, the byte count and the\n"
	    "round-trip time in microseconds.  Exits 0 on success, 1 on any\n"
	    "failure (with a one-line reason on stderr), 2 on a usage error.\n"
	    "\n"
	    "  -n, --size BYTES  message size, 1 to %lu (default %d)\n"
	    "  -h, --help        print this and exit\n",
	    DEMO_DEFAULT_SIZE, DEMO_CHUNK, DEMO_MAX_SIZE, DEMO_DEFAULT_SIZE);
}

static uint64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u);
}

static int
fail(const char *what, int rv)
{
	fprintf(stderr, DEMO_NAME ": %s: %s\n", what, nghttpw_strerror(rv));
	return (rv);
}

/* Waits for the operation started on aio and returns its result. */
static int
wait_result(nghttpw_aio *aio)
{
	nghttpw_aio_wait(aio);
	return (nghttpw_aio_result(aio));
}

/* Sends or receives exactly len bytes, one partial transfer at a time. */
static int
transfer(nghttpw_stream *s, nghttpw_aio *aio, unsigned char *buf, size_t len,
    bool sending, const char *what)
{
	size_t done = 0;

	while (done < len) {
		nghttpw_iov iov;
		size_t      n;
		int         rv;

		iov.iov_buf = buf + done;
		iov.iov_len = len - done;
		if ((rv = nghttpw_aio_set_iov(aio, 1, &iov)) != 0) {
			return (fail(what, rv));
		}
		nghttpw_aio_set_timeout(aio, DEMO_TIMEOUT_MS);
		if (sending) {
			nghttpw_stream_send(s, aio);
		} else {
			nghttpw_stream_recv(s, aio);
		}
		if ((rv = wait_result(aio)) != 0) {
			return (fail(what, rv));
		}
		n = nghttpw_aio_count(aio);
		if (n == 0 || n > len - done) {
			fprintf(stderr,
			    DEMO_NAME ": %s: moved %zu bytes where 1 to %zu "
			              "were asked for\n",
			    what, n, len - done);
			return (NGHTTPW_EPROTO);
		}
		done += n;
	}
	return (0);
}

static int
parse_size(const char *arg, size_t *sizep)
{
	char         *end;
	unsigned long v;

	if (arg == NULL || *arg < '0' || *arg > '9') {
		return (-1);
	}
	errno = 0;
	v     = strtoul(arg, &end, 10);
	if (errno != 0 || *end != '\0' || v < 1 || v > DEMO_MAX_SIZE) {
		return (-1);
	}
	*sizep = (size_t) v;
	return (0);
}

static void
cleanup(struct demo *d)
{
	/* Nothing may be pending on an aio once the objects go away. */
	if (d->client_aio != NULL) {
		nghttpw_aio_stop(d->client_aio);
	}
	if (d->server_aio != NULL) {
		nghttpw_aio_stop(d->server_aio);
		/* An accept that completed after a failed dial. */
		if (d->server == NULL && nghttpw_aio_result(d->server_aio) == 0) {
			d->server = nghttpw_aio_get_output(d->server_aio, 0);
		}
	}
	if (d->client != NULL) {
		nghttpw_stream_close(d->client);
		nghttpw_stream_free(d->client);
	}
	if (d->server != NULL) {
		nghttpw_stream_close(d->server);
		nghttpw_stream_free(d->server);
	}
	if (d->dialer != NULL) {
		nghttpw_stream_dialer_close(d->dialer);
		nghttpw_stream_dialer_free(d->dialer);
	}
	if (d->listener != NULL) {
		nghttpw_stream_listener_close(d->listener);
		nghttpw_stream_listener_free(d->listener);
	}
	if (d->client_aio != NULL) {
		nghttpw_aio_free(d->client_aio);
	}
	if (d->server_aio != NULL) {
		nghttpw_aio_free(d->server_aio);
	}
	free(d->msg);
	free(d->echo);
	free(d->buf);
	memset(d, 0, sizeof(*d));
}

static int
run(struct demo *d, size_t size)
{
	char     url[64];
	int      port;
	int      rv;
	uint64_t t0, t_connected, t_echoed;
	unsigned rounds = 0;

	d->msg  = malloc(size);
	d->echo = malloc(size);
	d->buf  = malloc(size < DEMO_CHUNK ? size : DEMO_CHUNK);
	if (d->msg == NULL || d->echo == NULL || d->buf == NULL) {
		return (fail("allocating buffers", NGHTTPW_ENOMEM));
	}
	/* A pattern that no off-by-one or reordering leaves unchanged. */
	for (size_t i = 0; i < size; i++) {
		d->msg[i] = (unsigned char) ((i * 131u + (i >> 8) * 7u + 1u) & 0xffu);
	}
	memset(d->echo, 0, size);

	if ((rv = nghttpw_stream_listener_alloc(&d->listener, DEMO_URL)) != 0) {
		return (fail("creating the listener for " DEMO_URL, rv));
	}
	if ((rv = nghttpw_stream_listener_listen(d->listener)) != 0) {
		return (fail("listening on " DEMO_URL, rv));
	}
	rv = nghttpw_stream_listener_get_int(
	    d->listener, NGHTTPW_OPT_TCP_BOUND_PORT, &port);
	if (rv != 0) {
		return (fail("reading the bound port", rv));
	}
	if (port <= 0 || port > 65535) {
		fprintf(stderr, DEMO_NAME ": the bound port %d is not valid\n",
		    port);
		return (NGHTTPW_EINVAL);
	}
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", port);
	printf(DEMO_NAME ": listening on %s\n", url);

	if ((rv = nghttpw_stream_dialer_alloc(&d->dialer, url)) != 0) {
		return (fail("creating the dialer", rv));
	}
	if ((rv = nghttpw_aio_alloc(&d->client_aio, NULL, NULL)) != 0 ||
	    (rv = nghttpw_aio_alloc(&d->server_aio, NULL, NULL)) != 0) {
		return (fail("allocating an aio", rv));
	}
	nghttpw_aio_set_timeout(d->client_aio, DEMO_TIMEOUT_MS);
	nghttpw_aio_set_timeout(d->server_aio, DEMO_TIMEOUT_MS);

	/* The accept waits in the background while the dial goes out. */
	t0 = now_us();
	nghttpw_stream_listener_accept(d->listener, d->server_aio);
	nghttpw_stream_dialer_dial(d->dialer, d->client_aio);
	if ((rv = wait_result(d->client_aio)) != 0) {
		return (fail("dialing", rv));
	}
	d->client = nghttpw_aio_get_output(d->client_aio, 0);
	if ((rv = wait_result(d->server_aio)) != 0) {
		return (fail("accepting", rv));
	}
	d->server   = nghttpw_aio_get_output(d->server_aio, 0);
	t_connected = now_us();
	if (d->client == NULL || d->server == NULL) {
		fprintf(stderr, DEMO_NAME ": dial or accept gave no stream\n");
		return (NGHTTPW_EINTERNAL);
	}
	printf(DEMO_NAME ": connected to port %d in %" PRIu64 " us\n", port,
	    t_connected - t0);

	/* Chunk by chunk, so that no send waits on a full socket buffer. */
	for (size_t off = 0; off < size; off += DEMO_CHUNK) {
		size_t n = size - off < DEMO_CHUNK ? size - off : DEMO_CHUNK;

		if ((rv = transfer(d->client, d->client_aio, d->msg + off, n,
		         true, "client send")) != 0 ||
		    (rv = transfer(d->server, d->server_aio, d->buf, n, false,
		         "server receive")) != 0 ||
		    (rv = transfer(d->server, d->server_aio, d->buf, n, true,
		         "server echo")) != 0 ||
		    (rv = transfer(d->client, d->client_aio, d->echo + off, n,
		         false, "client receive")) != 0) {
			return (rv);
		}
		rounds++;
	}
	t_echoed = now_us();

	if (memcmp(d->msg, d->echo, size) != 0) {
		size_t i = 0;
		while (d->msg[i] == d->echo[i]) {
			i++;
		}
		fprintf(stderr,
		    DEMO_NAME ": the echo differs from the message at byte %zu "
		              "(sent 0x%02x, got 0x%02x)\n",
		    i, d->msg[i], d->echo[i]);
		return (NGHTTPW_EPROTO);
	}
	printf(DEMO_NAME ": sent %zu bytes and got %zu bytes back in %u round "
	                 "trip%s of up to %d bytes\n",
	    size, size, rounds, rounds == 1 ? "" : "s", DEMO_CHUNK);
	printf(DEMO_NAME ": echo is byte-exact; round trips took %" PRIu64
	                 " us (%" PRIu64 " us each on average)\n",
	    t_echoed - t_connected, (t_echoed - t_connected) / rounds);
	return (0);
}

int
main(int argc, char **argv)
{
	struct demo d;
	size_t      size = DEMO_DEFAULT_SIZE;
	int         rv;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return (0);
		}
		if (strcmp(argv[i], "-n") == 0 || strcmp(argv[i], "--size") == 0) {
			if (parse_size(i + 1 < argc ? argv[i + 1] : NULL, &size) !=
			    0) {
				fprintf(stderr,
				    DEMO_NAME ": %s wants a size from 1 to %lu\n",
				    argv[i], DEMO_MAX_SIZE);
				return (2);
			}
			i++;
			continue;
		}
		fprintf(stderr, DEMO_NAME ": unknown argument '%s' (try --help)\n",
		    argv[i]);
		return (2);
	}

	memset(&d, 0, sizeof(d));
	rv = run(&d, size);
	cleanup(&d);
	nghttpw_fini();
	if (rv != 0) {
		return (1);
	}
	printf(DEMO_NAME ": ok\n");
	return (0);
}
