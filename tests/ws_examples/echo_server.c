/*
 * echo_server: a WebSocket echo server on ws://127.0.0.1:PORT/echo.
 *
 * It serves one client at a time, sending every message back as it came
 * (text as text, binary as binary) until the client closes.  With COUNT
 * it exits after that many clients, otherwise it runs until killed.
 *
 * usage: echo_server PORT [COUNT]
 */
#include <stdio.h>
#include <stdlib.h>

#include <nghttpw/nghttpw.h>
#include <nghttpw/ws.h>

/* The largest message echoed: nghttpw_ws_recv_msg needs room for a whole
 * message, and a longer one fails the connection with 1009. */
#define MAX_MSG 65536

static char buf[MAX_MSG];

/* Waits for the operation started on aio; returns its result. */
static int
wait_for(nghttpw_aio *aio)
{
	nghttpw_aio_wait(aio);
	return (nghttpw_aio_result(aio));
}

/* Echoes the messages of one client until it closes. */
static void
serve(nghttpw_stream *s, nghttpw_aio *aio)
{
	for (;;) {
		nghttpw_iov iov = { .iov_buf = buf, .iov_len = sizeof(buf) };
		unsigned    flags;
		size_t      len;
		int         rv;
		int         code = 0;

		nghttpw_aio_set_iov(aio, 1, &iov);
		nghttpw_ws_recv_msg(s, &flags, aio);
		if ((rv = wait_for(aio)) != 0) {
			/* NGHTTPW_ECLOSED once the client has closed. */
			nghttpw_stream_get_int(s, NGHTTPW_OPT_WS_CLOSE_CODE, &code);
			printf("echo_server: client gone: %s, close code %d\n",
			    nghttpw_strerror(rv), code);
			return;
		}
		len = nghttpw_aio_count(aio);
		if (flags & NGHTTPW_WS_TEXT) {
			printf("echo_server: text, %zu bytes: %.*s\n", len,
			    (int) len, buf);
		} else {
			printf("echo_server: binary, %zu bytes\n", len);
		}

		/* The same bytes back, as a message of the same type. */
		iov.iov_len = len;
		nghttpw_aio_set_iov(aio, 1, &iov);
		nghttpw_ws_send_msg(s, flags, aio);
		if ((rv = wait_for(aio)) != 0) {
			printf("echo_server: send: %s\n", nghttpw_strerror(rv));
			return;
		}
	}
}

int
main(int argc, char **argv)
{
	nghttpw_stream_listener *l;
	nghttpw_aio             *aio;
	char                     url[64];
	long                     port  = argc > 1 ? strtol(argv[1], NULL, 10) : 0;
	long                     count = argc > 2 ? strtol(argv[2], NULL, 10) : -1;
	int                      rv;

	if (argc < 2 || argc > 3 || port < 1 || port > 65535 ||
	    (argc == 3 && count < 1)) {
		fprintf(stderr, "usage: echo_server PORT [COUNT]\n");
		return (2);
	}
	snprintf(url, sizeof(url), "ws://127.0.0.1:%ld/echo", port);

	if ((rv = nghttpw_stream_listener_alloc(&l, url)) != 0 ||
	    (rv = nghttpw_stream_listener_listen(l)) != 0) {
		fprintf(stderr, "echo_server: %s: %s\n", url, nghttpw_strerror(rv));
		return (1);
	}
	if ((rv = nghttpw_aio_alloc(&aio, NULL, NULL)) != 0) {
		fprintf(stderr, "echo_server: %s\n", nghttpw_strerror(rv));
		nghttpw_stream_listener_free(l);
		return (1);
	}
	printf("echo_server: listening on %s\n", url);
	fflush(stdout);

	for (long served = 0; count < 0 || served < count; served++) {
		nghttpw_stream *s;

		/* No timeout: wait as long as it takes for a client. */
		nghttpw_aio_set_timeout(aio, NGHTTPW_DURATION_INFINITE);
		nghttpw_stream_listener_accept(l, aio);
		if ((rv = wait_for(aio)) != 0) {
			fprintf(stderr, "echo_server: accept: %s\n",
			    nghttpw_strerror(rv));
			break;
		}
		s = nghttpw_aio_get_output(aio, 0);
		printf("echo_server: client connected\n");

		/* A client that says nothing for 30 s is dropped. */
		nghttpw_aio_set_timeout(aio, 30000);
		serve(s, aio);
		nghttpw_stream_free(s);
		fflush(stdout);
	}

	nghttpw_aio_free(aio);
	nghttpw_stream_listener_free(l);
	nghttpw_fini(); /* optional: ends the library's threads */
	return (rv == 0 ? 0 : 1);
}
